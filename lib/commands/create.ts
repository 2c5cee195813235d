/** create: the next pair of files to fill in. */
import { rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Context } from '../runner/context.js';
import { discoverMigrations, type MigrationFile } from '../migrations/files.js';
import { UsageError } from '../errors.js';
import { ensureFolder, FolderUnusable } from '../folders.js';

export interface CreateResult { version: string; name: string; up: string; down: string }

/** SQL to put in the new files instead of the fill-in comments: a one-line migration is one command. */
export interface CreateOptions { up?: string | undefined; down?: string | undefined }

export async function slugify(description: string): Promise<string> {
  const { slugify: transliterate } = await import('transliteration');
  const slug = transliterate(description, { lowercase: true, separator: '_', allowedChars: 'a-zA-Z0-9' })
    .replace(/[^a-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_+|_+$/g, '')
    .slice(0, 60).replace(/_+$/, '');
  return slug || 'migration';
}

/**
 * The description as it goes into the file's comment header: one line, so a newline (or a carriage
 * return, which also ends a SQL comment) in it can never become live SQL or a directive.
 */
export function oneLine(description: string): string {
  return description.replace(/[\p{Cc}\p{Zl}\p{Zp}\s]+/gu, ' ').trim();
}

/** The version after the newest, as wide as the existing ones (3 digits when there are none). */
export function nextVersion(migrations: readonly MigrationFile[], after = 1n): string {
  const newest = migrations.reduce((max, m) => (m.version > max ? m.version : max), 0n);
  const width = migrations.reduce((w, m) => Math.max(w, m.versionText.length), 0) || 3;
  return (newest + after).toString().padStart(width, '0');
}

export async function create(ctx: Context, description: string, options: CreateOptions = {}): Promise<CreateResult> {
  if (!oneLine(description)) throw new UsageError('create: say what the migration does, e.g. sqlmig create "add timezone to user" (with --up "SQL" [--down "SQL"] the files are written filled in)');
  if (options.down !== undefined && options.up === undefined) throw new UsageError('create: --down needs --up (the change it undoes)');
  if (options.up !== undefined && !options.up.trim()) throw new UsageError('create: --up is empty; give the SQL, e.g. --up "ALTER TABLE users ADD COLUMN timezone text"');
  const dir = ctx.options.dir;
  try {
    ensureFolder(dir);
  } catch (error) {
    if (!(error instanceof FolderUnusable)) throw error;
    throw new UsageError(`create: cannot use the migrations folder ${dir}: ${error.reason}. Choose another with --dir.`, { cause: error });
  }
  const { migrations } = await discoverMigrations(dir);
  const version = nextVersion(migrations);
  const name = await slugify(description);
  const base = `${version}_${name}`;
  const up = join(dir, `${base}.up.sql`);
  const down = join(dir, `${base}.down.sql`);
  const upText = options.up === undefined
    ? `-- ${base}: ${oneLine(description)}\n-- Write the change here. sqlmig refuses to run this file while it holds only comments.\n`
    : `-- ${base}: ${oneLine(description)}\n${statementText(options.up)}`;
  const downText = options.down === undefined
    ? `-- ${base}: undo ${base}.up.sql\n-- Write the statements that restore the schema as it was. Left with comments only, this down does nothing\n-- (reverting only deletes the history row); delete this file if the change cannot be undone.\n`
    : `-- ${base}: undo ${base}.up.sql\n${statementText(options.down)}`;
  await writeFile(up, upText, { flag: 'wx' });
  try {
    await writeFile(down, downText, { flag: 'wx' });
  } catch (error) {
    await rm(up, { force: true }); // both files or neither
    throw error;
  }
  const show = (p: string) => relative(process.cwd(), p) || p;
  return { version, name, up: show(up), down: show(down) };
}

/** The SQL as given, ending in a semicolon and a newline (the parser checks it when the migration runs). */
function statementText(sql: string): string {
  const text = sql.trim();
  return `${text}${text.endsWith(';') ? '' : ';'}\n`;
}
