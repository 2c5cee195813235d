/**
 * Squawk's rules that ours do not cover, from its native binary (shipped in the platform's
 * @squawk-cli/* package; ~10 ms a run, against ~130 ms through its JS shim). One run for all files,
 * `--reporter json`. Rules that ours do better (they know earlier migrations and the file's
 * transaction mode) and style-only rules are left out: see SQUAWK_LEFT_OUT.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { as, qualifiedKey, tableKey, type Node } from './tree.js';
import type { LintStatement, RuleEnv, RuleInfo } from './types.js';

export interface SquawkRule extends RuleInfo {
  /** Squawk's rule names that map to this rule. */
  squawk: string[];
  /** Our same-migration exemption, which Squawk does not know. */
  applies?(stmt: LintStatement, env: RuleEnv): boolean;
}

const squawkRule = (info: Omit<SquawkRule, 'source'>): SquawkRule => ({ ...info, source: 'squawk' });

export const SQUAWK_RULES: SquawkRule[] = [
  squawkRule({
    id: 'drop-index-not-concurrently', squawk: ['require-concurrent-index-deletion'], level: 'warning',
    why: 'DROP INDEX takes an ACCESS EXCLUSIVE lock on the index\'s table: reads and writes wait for it, and it waits for every running query on the table.',
    recipe: 'Use DROP INDEX CONCURRENTLY IF EXISTS in a migration of its own whose first line is `-- sqlmig:no-transaction`.',
    applies: (stmt, env) => stmt.kind !== 'DropStmt' ||
      ((stmt.node['objects'] as Node[] | undefined) ?? []).some((o) => env.indexExisted(qualifiedKey(as(o, 'List')?.['items']))),
  }),
  squawkRule({
    id: 'detach-partition-not-concurrently', squawk: ['require-concurrent-partition-detach'], level: 'warning',
    why: 'DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table: reads and writes to every partition wait.',
    recipe: 'Use ALTER TABLE … DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+) in a migration whose first line is `-- sqlmig:no-transaction`.',
    applies: (stmt, env) => stmt.kind !== 'AlterTableStmt' || env.existed(tableKey(stmt.node['relation'])),
  }),
  squawkRule({
    id: 'domain-constraint', squawk: ['ban-alter-domain-with-add-constraint'], level: 'warning',
    why: 'A constraint added to a domain is checked against every column of every table that uses the domain, under locks that block writes, and cannot be added NOT VALID on older servers.',
    recipe: 'Put the constraint on the table column instead (ADD CONSTRAINT … CHECK (…) NOT VALID, then VALIDATE CONSTRAINT).',
  }),
  squawkRule({
    id: 'drop-database', squawk: ['ban-drop-database'], level: 'error',
    why: 'DROP DATABASE deletes every table and row in it, and cannot run inside a migration\'s transaction anyway.',
    recipe: 'Drop databases by hand, never from a migration.',
  }),
  squawkRule({
    id: 'identifier-too-long', squawk: ['identifier-too-long'], level: 'warning',
    why: 'PostgreSQL silently truncates names longer than 63 bytes: two long names can collide, and a later migration that uses the full name does not find the object.',
    recipe: 'Use a name of at most 63 bytes.',
  }),
];

/** Squawk's rules we do not run, and why: ours cover them better, or they are about style. */
export const SQUAWK_LEFT_OUT: Record<string, string> = {
  'require-concurrent-index-creation': 'index-not-concurrently (ours knows tables created in the same migration)',
  'ban-concurrent-index-creation-in-transaction': 'concurrently-in-transaction (ours knows whether the file runs in a transaction)',
  'transaction-nesting': 'transaction-control', 'ban-uncommitted-transaction': 'transaction-control',
  'adding-required-field': 'add-column-required', 'adding-field-with-default': 'add-column-rewrite',
  'changing-column-type': 'alter-column-type (ours knows the old type from earlier migrations: varchar widening is safe)',
  'adding-not-nullable-field': 'set-not-null (ours sees a validated CHECK (col IS NOT NULL) from earlier migrations)',
  'constraint-missing-not-valid': 'constraint-not-valid', 'adding-foreign-key-constraint': 'constraint-not-valid',
  'disallowed-unique-constraint': 'unique-without-index', 'adding-serial-primary-key-field': 'unique-without-index',
  'ban-drop-table': 'drop-table', 'ban-drop-column': 'drop-column', 'ban-truncate-cascade': 'truncate',
  'renaming-table': 'rename-table', 'renaming-column': 'rename-column',
  'require-concurrent-reindex': 'reindex-not-concurrently', 'prefer-repack': 'vacuum-full and cluster',
  'require-timeout-settings': 'lock-timeout (ours knows --ddl-lock-timeout and the database\'s setting)', 'require-lock-timeout': 'lock-timeout',
  'ban-create-domain-with-constraint': 'a new domain locks nothing: only adding a constraint to a domain in use scans (domain-constraint)',
  'require-statement-timeout': 'style: a statement timeout is a choice per migration, not a hazard',
  'ban-drop-not-null': 'style', 'prefer-robust-stmts': 'style', 'prefer-bigint-over-int': 'style', 'prefer-bigint-over-smallint': 'style',
  'prefer-identity': 'style', 'prefer-text-field': 'style', 'prefer-timestamptz': 'style', 'ban-char-field': 'style',
  'require-enum-value-ordering': 'style', 'require-table-schema': 'style', 'syntax-error': 'ours reports syntax errors from the PostgreSQL parser',
};

const BY_SQUAWK_NAME = new Map(SQUAWK_RULES.flatMap((r) => r.squawk.map((name) => [name, r] as const)));

/** One Squawk finding mapped to ours: 0-based line, byte column within the line. */
export interface SquawkHit { file: string; line: number; byteColumn: number; rule: SquawkRule; message: string }

export type SquawkResult = { ran: true; hits: SquawkHit[] } | { ran: false; reason: string; hits: [] };

/** The native binary: $SQLMIG_SQUAWK_BIN (empty: none), else the platform package that squawk-cli depends on. */
export function squawkBinary(): string | null {
  const given = process.env['SQLMIG_SQUAWK_BIN'];
  if (given !== undefined) return given || null;
  const pkg = `@squawk-cli/${process.platform}-${process.arch}/bin/squawk${process.platform === 'win32' ? '.exe' : ''}`;
  const require = createRequire(import.meta.url);
  for (const from of [() => require.resolve('squawk-cli/package.json'), () => import.meta.url]) {
    try {
      return createRequire(from()).resolve(pkg);
    } catch { /* try the next place */ }
  }
  return null;
}

/**
 * `background`: one thread (Squawk parallelizes over files), for a run that works while sqlmig parses the
 * same files: with all cores it would take the one sqlmig's parse runs on, and save no time.
 */
export async function runSquawk(paths: string[], options: { background?: boolean } = {}): Promise<SquawkResult> {
  const binary = squawkBinary();
  if (!binary) {
    const why = process.env['SQLMIG_SQUAWK_BIN'] === '' ? 'turned off: SQLMIG_SQUAWK_BIN is empty' : `no Squawk binary for ${process.platform}-${process.arch}`;
    return { ran: false, reason: why, hits: [] };
  }
  if (paths.length === 0) return { ran: true, hits: [] };
  // Squawk skips the rules we leave out (a third of the work on small files); a binary that does not know one of their names gets a plain run.
  const excluded = Object.keys(SQUAWK_LEFT_OUT).filter((name) => name !== 'syntax-error').join(',');
  const env = options.background ? { ...process.env, RAYON_NUM_THREADS: '1' } : process.env;
  const report = await squawkReport(binary, ['--reporter', 'json', `--exclude=${excluded}`, ...paths], env)
    .catch(() => squawkReport(binary, ['--reporter', 'json', ...paths], env))
    .catch((error: Error) => error);
  if (report instanceof Error) return { ran: false, reason: `Squawk did not run (${report.message})`, hits: [] };
  const hits = report.flatMap((f): SquawkHit[] => {
    const rule = BY_SQUAWK_NAME.get(f.rule_name);
    return rule ? [{ file: f.file, line: f.line, byteColumn: f.column, rule, message: f.message }] : [];
  });
  return { ran: true, hits };
}

interface SquawkJson { file: string; line: number; column: number; rule_name: string; message: string }

/** Squawk's JSON report (it exits 1 when it found something, so the exit code says nothing). */
function squawkReport(binary: string, args: string[], env: NodeJS.ProcessEnv): Promise<SquawkJson[]> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { maxBuffer: 256 * 1024 * 1024, windowsHide: true, env }, (error, stdout, stderr) => {
      try {
        const report = JSON.parse(stdout || 'null') as unknown;
        if (Array.isArray(report)) return resolve(report as SquawkJson[]);
      } catch { /* said below */ }
      const why = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT' ? `${binary} not found` : (stderr.trim().split('\n')[0] || (error?.message ?? 'no JSON report'));
      reject(new Error(why));
    });
  });
}
