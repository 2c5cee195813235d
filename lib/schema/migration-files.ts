/**
 * A draft as migration files: `NNN_slug.up.sql` + `.down.sql` with the next version, and the
 * online follow-up (indexes built CONCURRENTLY, constraints validated) as the version after it.
 * Pure: names and text only; writing them is the command's job.
 */
import { join, relative } from 'node:path';
import type { Draft, DraftFile, DraftPair } from './generate.js';

export interface GeneratedFile {
  /** Where it goes, as the user would type it. */
  path: string;
  /** The absolute path. */
  absolute: string;
  sql: string;
  noTransaction: boolean;
}

export interface GeneratedMigration {
  version: string;
  name: string;
  up: GeneratedFile;
  down: GeneratedFile;
  /** The follow-up that builds indexes and validates constraints outside a transaction. */
  online: boolean;
}

export interface Naming {
  dir: string;
  /** Versions to use, in order: the next free one first. */
  versions: string[];
  slug: string;
  /** The schema file as shown, for the header. */
  schemaFile: string;
  /**
   * `SET lock_timeout` at the top of a file that changes existing objects ('5s'), so what diff writes
   * passes sqlmig's own lint without a session-wide --ddl-lock-timeout; null leaves it out.
   */
  lockTimeout?: string | null;
}

export function nameMigrations(draft: Draft, naming: Naming): GeneratedMigration[] {
  const pairs: { pair: DraftPair; online: boolean }[] = [];
  if (draft.main) pairs.push({ pair: draft.main, online: false });
  if (draft.online) pairs.push({ pair: draft.online, online: true });
  const ids = pairs.map((p, i) => `${naming.versions[i]}_${p.online && draft.main ? `${naming.slug}_concurrently` : naming.slug}`);
  return pairs.map(({ pair, online }, i) => {
    const id = ids[i]!;
    const header = online ? onlineHeader(id, draft.main ? ids[0]! : null, naming.schemaFile) : mainHeader(id, naming.schemaFile);
    return {
      version: naming.versions[i]!,
      name: id.slice(naming.versions[i]!.length + 1),
      up: file(naming.dir, `${id}.up.sql`, pair.up, header, naming.lockTimeout ?? null),
      down: file(naming.dir, `${id}.down.sql`, pair.down, [`${id}: undo ${id}.up.sql (written by \`sqlmig diff\`).`], naming.lockTimeout ?? null),
      online,
    };
  });
}

function mainHeader(id: string, schemaFile: string): string[] {
  return [
    `${id}: written by \`sqlmig diff\` from ${schemaFile}.`,
    `Proved before it was written: on a scratch database it turns the schema of the migrations before it into`,
    `${schemaFile}, and ${id}.down.sql turns it back. Review it like any migration.`,
  ];
}

function onlineHeader(id: string, after: string | null, schemaFile: string): string[] {
  return [
    `${id}: written by \`sqlmig diff\` from ${schemaFile}${after ? `, to run after ${after}` : ''}.`,
    `It builds indexes CONCURRENTLY${after ? ` and validates the constraints ${after} added NOT VALID` : ''}, one statement at a time`,
    'outside a transaction, so writes to the tables go on while it runs.',
  ];
}

/**
 * Statements that only make new objects wait for no one; any other (ALTER, DROP, CREATE INDEX on a table,
 * a trigger, a comment) may queue behind queries on a table that already exists.
 */
const MAKES_NEW = /^\s*CREATE\s+(OR\s+REPLACE\s+)?(TABLE|SCHEMA|TYPE|DOMAIN|SEQUENCE|FUNCTION|PROCEDURE|EXTENSION|COLLATION)\b/i;

function file(dir: string, name: string, draft: DraftFile, header: string[], lockTimeout: string | null): GeneratedFile {
  const timeout = lockTimeout && !draft.noTransaction && draft.statements.some((s) => !MAKES_NEW.test(s.sql)) ? lockTimeout : null;
  const said = timeout ? [
    `It starts with SET lock_timeout = '${timeout}': on a busy table it fails fast instead of making every query queue`,
    'behind it (retry it then). Change it with "diffLockTimeout" in the config ("off": leave it out).',
  ] : [];
  const lines = [...(draft.noTransaction ? ['-- sqlmig:no-transaction'] : []), ...[...header, ...said].map((h) => `-- ${h}`), ''];
  if (timeout) lines.push(`SET lock_timeout = '${timeout}';`, '');
  const statements = draft.statements.map((s) => [...s.comments.map((c) => `-- ${c}`), `${s.sql};`].join('\n'));
  const absolute = join(dir, name);
  const shown = relative(process.cwd(), absolute);
  return {
    path: shown && !shown.startsWith('..') ? shown : absolute,
    absolute,
    sql: `${lines.join('\n')}\n${statements.join('\n\n')}\n`,
    noTransaction: draft.noTransaction,
  };
}
