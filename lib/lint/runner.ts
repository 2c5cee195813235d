/**
 * Apply the rules to migration files: replay the earlier migrations into a model of the schema, then
 * lint each file statement by statement (each rule sees the schema as it was before the statement),
 * add Squawk's findings, and drop what a `-- sqlmig:lint-ignore` silences.
 */
import { loadParser, type ParseTree } from '../migrations/sql.js';
import { DO_BLOCK, doBlockBody } from './do-blocks.js';
import { readIgnores, type Ignore } from './ignores.js';
import { applyStatement, existedBefore, indexExistedBefore, type KnownSchema } from './known.js';
import { lineByteOffset, parseText, type ParsedStatement } from './parse.js';
import { RULES_BY_ID, STATIC_RULES } from './rules.js';
import { runSquawk, type SquawkHit, type SquawkResult } from './squawk.js';
import { sessionAfter, type Session } from './session.js';
import { tableName } from './tree.js';
import { DEFAULT_LEVELS, formatBytes, leveled, type LevelPolicy } from './levels.js';
import type { Finding, Hit, RuleEnv, RuleInfo, TableSize } from './types.js';

export interface LintSource {
  /** As printed in findings: "sql/004_calories_to_bigint.up.sql". */
  path: string;
  /** Absolute path on disk (for Squawk), or null. */
  file: string | null;
  /** The migration, e.g. "004_calories_to_bigint": tables it creates are new within it. */
  id: string;
  text: string;
  transactional: boolean;
  /** The parser's tree of `text` when the caller already parsed it (up): lint then does not parse it again. */
  tree?: ParseTree;
}

/** An earlier migration: only its effect on the schema is used. `fresh`: the live database has not run it. */
export interface Replay { id: string; text: string; fresh: boolean }

/** In order: earlier migrations to replay (their effect on the schema only) and files to lint. */
/** One migration in the order lint walks them; `lint: false` ones are only replayed (or applied, for --trace). */
export interface Planned { source: LintSource; lint: boolean }

export type LintStep = { replay: Replay } | { lint: LintSource };

export interface LintInput {
  steps: LintStep[];
  /** The live database's catalog, or an empty schema; it is updated as files are replayed and linted. */
  schema: KnownSchema;
  /** The files have not run on the live database: tables they create will be empty there. */
  fresh: boolean;
  /** A lock_timeout is in force for every file (--ddl-lock-timeout or the database's setting). */
  lockTimeout: boolean;
  /** The live server's TimeZone and server_version_num, when there is one. */
  timeZone?: string | null;
  serverVersion?: number | null;
  /** Size estimates from the live database, by table. */
  sizes: Map<string, TableSize>;
  /** Run Squawk's rules too; or its run, started earlier (runSquawk on these files' paths). */
  squawk: boolean | Promise<SquawkResult>;
  /** Keep each file's parsed statements in the output (for --trace). */
  keepStatements?: boolean;
  /** How blocking findings are leveled (default: errors unless below 10,000 rows and 10 MB). */
  levels?: LevelPolicy;
}

/** A linted file; `statements` only with keepStatements (null also when the parser rejected it). */
export interface LintedFile { source: LintSource; statements: ParsedStatement[] | null; ignores: Ignore[] }

export interface LintOutput {
  findings: Finding[];
  files: LintedFile[];
  squawk: { ran: boolean; reason?: string };
}

export async function lintSources(input: LintInput): Promise<LintOutput> {
  const sources = input.steps.flatMap((s) => ('lint' in s ? [s.lint] : []));
  // Squawk's process starts first, so it works while the parser's WebAssembly compiles.
  const squawk: Promise<SquawkResult> = typeof input.squawk !== 'boolean' ? input.squawk
    : input.squawk ? runSquawk(sources.flatMap((f) => (f.file ? [f.file] : [])))
    : Promise.resolve({ ran: false, reason: 'turned off', hits: [] });
  const lib = await loadParser();
  let hitsByFile: Map<string, SquawkHit[]> | null = null;
  let squawkResult: SquawkResult | null = null;
  const findings: Finding[] = [];
  const files: LintedFile[] = [];
  // One file at a time, its parse tree dropped after it: thousands of trees at once would cost memory for nothing.
  for (const step of input.steps) {
    if ('replay' in step) {
      const { id, text, fresh } = step.replay;
      for (const s of parseText(lib, text).statements ?? []) applyStatement(input.schema, s.kind, s.node, { migration: id, fresh });
      continue;
    }
    const source = step.lint;
    const parsed = parseText(lib, source.text, source.tree);
    if (!hitsByFile) { // Squawk ran in its own process while the earlier migrations were replayed and this file parsed
      squawkResult = await squawk;
      hitsByFile = new Map();
      for (const hit of squawkResult.hits) hitsByFile.set(hit.file, [...(hitsByFile.get(hit.file) ?? []), hit]);
    }
    const linted = lintFile(lib, source, parsed, input, hitsByFile.get(source.file ?? '') ?? []);
    findings.push(...linted.findings);
    files.push(input.keepStatements ? linted.file : { ...linted.file, statements: null });
  }
  squawkResult ??= await squawk;
  return { findings, files, squawk: squawkResult.ran ? { ran: true } : { ran: false, reason: squawkResult.reason } };
}

type Located = Finding & { statement: number };

function lintFile(lib: Awaited<ReturnType<typeof loadParser>>, source: LintSource, parsed: ReturnType<typeof parseText>, input: LintInput, squawkHits: SquawkHit[]): { findings: Finding[]; file: LintedFile } {
  if (!parsed.statements) {
    const { line, col, message } = parsed.syntaxError;
    return { findings: [finding(RULES_BY_ID.get('syntax-error')!, { message }, source.path, line, col)], file: { source, statements: null, ignores: [] } };
  }
  const statements = parsed.statements;
  const position = parsed.position;
  const { ignores, problems } = readIgnores(source.text, statements.map((s) => s.line));
  const schema = input.schema;
  const located: Located[] = [];
  const start: Session = { lockTimeout: input.lockTimeout, timeZone: input.timeZone ?? null };
  let session = start;
  const earlierKinds = new Set<string>();
  statements.forEach((stmt, index) => {
    const env: RuleEnv = {
      schema, transactional: source.transactional, lockTimeout: session.lockTimeout,
      // Sliced only for the few rules that look back: every statement copying all before it is quadratic in a big file.
      get earlier() { return statements.slice(0, index); },
      earlierKinds,
      timeZone: session.timeZone, serverVersion: input.serverVersion ?? null,
      existed: (t) => existedBefore(schema, t, source.id),
      columnIsNew: (t, c) => schema.tables.get(t)?.addedIn.get(c) === source.id,
      indexExisted: (i) => indexExistedBefore(schema, i, source.id),
      name: (t) => tableLabel(t, input.sizes.get(t)),
    };
    const add = (info: RuleInfo, hit: Hit, at: { line: number; col: number }) => located.push({
      ...leveled(finding(info, hit, source.path, at.line, at.col, input.sizes.get(hit.table ?? '')), info, input.levels ?? DEFAULT_LEVELS), statement: index,
    });
    for (const rule of STATIC_RULES) {
      for (const hit of rule.check(stmt, env)) add(rule, hit, position(hit.location ?? stmt.location));
    }
    if (stmt.kind === 'DoStmt') {
      const body = doBlockBody(lib, stmt);
      if (body.opaque) add(DO_BLOCK, { message: `${body.opaque}: lint cannot see what it runs` }, position(stmt.location));
      for (const inner of body.statements) {
        for (const rule of STATIC_RULES) {
          for (const hit of rule.check(inner, env)) add(rule, { ...hit, message: `in the DO block: ${hit.message}` }, position(stmt.location));
        }
        applyStatement(schema, inner.kind, inner.node, { migration: source.id, fresh: input.fresh });
      }
    }
    const end = statements[index + 1]?.location ?? Infinity;
    for (const hit of squawkHits) {
      const offset = lineByteOffset(source.text, hit.line, hit.byteColumn);
      if (offset < (index === 0 ? -Infinity : stmt.location) || offset >= end) continue;
      if (hit.rule.applies && !hit.rule.applies(stmt, env)) continue;
      add(hit.rule, { message: hit.message }, position(offset));
    }
    applyStatement(schema, stmt.kind, stmt.node, { migration: source.id, fresh: input.fresh });
    session = sessionAfter(stmt, session, start);
    earlierKinds.add(stmt.kind);
  });
  const silenced = new Set(ignores.map((i) => `${i.statement}:${i.rule}`));
  let timeoutSaid = false;
  const kept = located.filter((f) => {
    if (silenced.has(`${f.statement}:${f.rule}`)) return false;
    if (f.rule !== 'lock-timeout') return true;
    const first = !timeoutSaid;
    timeoutSaid = true; // one lock-timeout finding per file: the fix is one line at its top
    return first;
  });
  const findings = [
    ...problems.map((p) => finding(RULES_BY_ID.get(p.rule)!, { message: p.message }, source.path, p.line, 1)),
    ...kept.map(({ statement: _statement, ...f }) => f),
  ].sort((a, b) => a.line - b.line || a.col - b.col);
  return { findings, file: { source, statements, ignores } };
}

export function finding(info: RuleInfo, hit: Hit, file: string, line: number, col: number, size?: TableSize): Finding {
  return {
    file, line, col, rule: info.id, level: info.level, message: hit.message, why: info.why, recipe: info.recipe, source: info.source,
    ...(hit.table ? { table: hit.table } : {}), ...(size ? { size } : {}),
  };
}

/** "calorie_entries (~12M rows, 2.1 GB)" when a live database gave its size. */
export function tableLabel(key: string, size?: TableSize): string {
  if (!size) return tableName(key);
  const parts = [size.rows >= 0 ? `~${compact(size.rows)} rows` : null, formatBytes(size.bytes)].filter(Boolean);
  return `${tableName(key)} (${parts.join(', ')})`;
}

function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1).replace(/\.0$/, '')}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1).replace(/\.0$/, '')}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1).replace(/\.0$/, '')}k`;
  return String(Math.round(n));
}
