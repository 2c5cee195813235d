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
      up: file(naming.dir, `${id}.up.sql`, pair.up, header),
      down: file(naming.dir, `${id}.down.sql`, pair.down, [`${id}: undo ${id}.up.sql (written by \`sqlmig diff\`).`]),
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

function file(dir: string, name: string, draft: DraftFile, header: string[]): GeneratedFile {
  const lines = [...(draft.noTransaction ? ['-- sqlmig:no-transaction'] : []), ...header.map((h) => `-- ${h}`), ''];
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
