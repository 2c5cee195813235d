/**
 * lint's rules on every file diff writes, the way `sqlmig lint` would read them once written: the
 * migrations before them replayed (their tables may hold rows), then the up files, then the down
 * files (newest first, after the ups). The proof runs on empty scratch tables, so a statement that
 * fails on a table with rows (`ADD COLUMN … NOT NULL` without a default) would pass it: each
 * such finding gets a comment above its statement saying what to change, and is returned
 * so that diff names it on stderr and in --json.
 */
import { emptySchema } from '../lint/known.js';
import { lintSources, type LintSource, type LintStep } from '../lint/runner.js';
import type { Finding } from '../lint/types.js';
import type { PreparedStep } from '../runner/execute.js';
import type { Draft, DraftFile } from './generate.js';
import { nameMigrations, type GeneratedFile, type GeneratedMigration, type Naming } from './migration-files.js';

export interface LintedDraft {
  migrations: GeneratedMigration[];
  /** Every finding on the written files, with their final positions. */
  findings: Finding[];
  /** The ones whose statement fails on a table that has rows: each has a comment above its statement. */
  unsafe: Finding[];
}

/**
 * The rules whose statements fail on a table that has rows, and what to do instead (said in the comment
 * above the statement). Data loss (drop-table, drop-column) is already marked destructive by diff.
 */
const FIXES: Record<string, (schemaFile: string) => string> = {
  'add-column-required': (schemaFile) =>
    `give the column a DEFAULT in ${schemaFile} (then run sqlmig diff again), or add it nullable here, backfill it, and SET NOT NULL in a later migration`,
};

export async function lintDraft(draft: Draft, naming: Naming, earlier: readonly PreparedStep[]): Promise<LintedDraft> {
  const first = await lintFiles(nameMigrations(draft, naming), earlier);
  const unsafe = first.filter(failsWithRows);
  if (unsafe.length === 0) return { migrations: nameMigrations(draft, naming), findings: first, unsafe };
  // Comment the statements, render again, and lint again for the positions in the files as written.
  const located = drafted(draft, nameMigrations(draft, naming));
  for (const f of unsafe) {
    const at = located.get(f.file);
    const statement = at?.lines.filter((l) => l.start <= f.line).at(-1);
    if (!at || !statement) continue;
    const fix = FIXES[f.rule]?.(naming.schemaFile) ?? f.recipe;
    const said = [`unsafe on a table that has rows (the proof ran on empty tables): ${f.message}.`, `To fix: ${fix}.`];
    const comments = at.file.statements[statement.index]!.comments;
    if (!comments.includes(said[0]!)) comments.push(...said);
  }
  const migrations = nameMigrations(draft, naming);
  const findings = await lintFiles(migrations, earlier);
  return { migrations, findings, unsafe: findings.filter(failsWithRows) };
}

const failsWithRows = (f: Finding) => f.rule in FIXES;

async function lintFiles(migrations: GeneratedMigration[], earlier: readonly PreparedStep[]): Promise<Finding[]> {
  const source = (m: GeneratedMigration, file: GeneratedFile, id: string): LintSource => ({ path: file.path, file: null, id, text: file.sql, transactional: !file.noTransaction });
  const steps: LintStep[] = [
    ...earlier.map((s) => ({ replay: { id: `${s.versionText}_${s.name}`, text: s.script.text, fresh: false } })),
    ...migrations.map((m) => ({ lint: source(m, m.up, `${m.version}_${m.name}`) })),
    // A down runs on tables its up may have filled: they count as existing.
    ...[...migrations].reverse().map((m) => ({ lint: source(m, m.down, `${m.version}_${m.name} (down)`) })),
  ];
  // lock_timeout is the runner's setting (--ddl-lock-timeout), not the written file's; Squawk reads files on disk, and these are not written yet.
  const { findings } = await lintSources({ steps, schema: emptySchema(), fresh: false, lockTimeout: true, sizes: new Map(), squawk: false });
  return findings;
}

/** Each rendered file's draft, and the first line of each of its statements there. */
function drafted(draft: Draft, migrations: GeneratedMigration[]): Map<string, { file: DraftFile; lines: { index: number; start: number }[] }> {
  const pairs = [draft.main, draft.online].filter((p) => p !== null);
  const out = new Map<string, { file: DraftFile; lines: { index: number; start: number }[] }>();
  migrations.forEach((m, i) => {
    const pair = pairs[i];
    if (!pair) return;
    for (const direction of ['up', 'down'] as const) {
      const file = pair[direction];
      const text = m[direction].sql;
      let from = 0;
      const lines = file.statements.map((s, index) => {
        const at = text.indexOf(`${s.sql};`, from);
        from = at + s.sql.length;
        return { index, start: text.slice(0, at).split('\n').length };
      });
      out.set(m[direction].path, { file, lines });
    }
  });
  return out;
}
