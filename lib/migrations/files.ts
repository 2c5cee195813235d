import { readdirSync, readFileSync, readlinkSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { checksum, normalizeText } from './checksum.js';
import { readDirectives, type Directives } from './directives.js';
import { Refused } from '../errors.js';

export type Direction = 'up' | 'down';

/** A migration as found on disk. */
export interface MigrationFile {
  version: bigint;
  /** The digits as written in the file name, e.g. "001". */
  versionText: string;
  name: string;
  /** "001_ai_hub" */
  id: string;
  upFile: string;
  downFile: string | null;
  upSql: string;
  downSql: string | null;
  checksum: string;
  directives: Directives;
}

export interface FileProblem {
  kind: 'bad-name' | 'orphan-down' | 'conflict' | 'directive' | 'not-a-file' | 'unreadable';
  files: string[];
  message: string;
}

export interface MigrationSet {
  dir: string;
  migrations: MigrationFile[];
  problems: FileProblem[];
}

const MIGRATION_NAME = /^(\d+)_([a-z0-9][a-z0-9_]*)\.(up|down)\.sql$/;
const MAX_VERSION = 2n ** 63n - 1n;

interface ParsedName { version: bigint; versionText: string; name: string; direction: 'up' | 'down' }

export function parseFilename(file: string): ParsedName | null {
  const match = MIGRATION_NAME.exec(file);
  if (!match) return null;
  const version = BigInt(match[1]!);
  if (version > MAX_VERSION) return null;
  return { version, versionText: match[1]!, name: match[2]!, direction: match[3] as 'up' | 'down' };
}

/** Why a `.sql` file's name is not a migration's, and the name it may have meant (other tools' names come close). */
function badName(file: string): string {
  const expected = 'not a migration name; expected NNN_name.up.sql or NNN_name.down.sql (name is lowercase a-z, 0-9 and _)';
  const loose = /^(\d+)[_.-]?(.*?)[._](up|down)\.sql$/i.exec(file);
  if (!loose) return expected;
  const [, digits, rest, direction] = loose as unknown as [string, string, string, string];
  if (BigInt(digits) > MAX_VERSION) {
    return `its version ${digits} is larger than the largest sqlmig stores (${MAX_VERSION}, a bigint): give it a smaller number, keeping the order of the others`;
  }
  const name = rest.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const meant = `${digits}_${name || 'migration'}.${direction.toLowerCase()}.sql`;
  return meant === file ? expected : `${expected}; rename it ${meant}`;
}

/**
 * Blank lines and `--` comments only, such as a "-- nothing to undo" down: seen without the parser,
 * for display (a down like this does nothing; the parser decides what runs).
 */
export function isCommentsOnly(text: string): boolean {
  return text.split('\n').every((line) => /^\s*(?:--.*)?$/.test(line));
}

export function compareVersions(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** List the folder, pair up/down files, read and checksum them. Problems are collected, not thrown. */
export async function discoverMigrations(dir: string): Promise<MigrationSet> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Refused(`migrations folder ${dir} does not exist; create it or pass --dir (sqlmig create "first migration" makes it)`);
    }
    throw new Refused(`cannot read migrations folder ${dir}: ${(error as Error).message}`);
  }
  const problems: FileProblem[] = [];
  const ups = new Map<string, ParsedName & { file: string }>();
  const downs = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.name.endsWith('.sql')) continue;
    const parsed = parseFilename(entry.name);
    const notFile = notAFile(dir, entry, parsed !== null);
    if (notFile === 'ignore') continue;
    if (notFile) {
      problems.push({ kind: 'not-a-file', files: [entry.name], message: notFile });
      continue;
    }
    if (!parsed) {
      problems.push({ kind: 'bad-name', files: [entry.name], message: `${join(dir, entry.name)}: ${badName(entry.name)}` });
      continue;
    }
    const key = `${parsed.versionText}_${parsed.name}`;
    if (parsed.direction === 'up') ups.set(key, { ...parsed, file: entry.name });
    else downs.set(key, entry.name);
  }
  for (const [key, file] of downs) {
    if (!ups.has(key)) {
      problems.push({
        kind: 'orphan-down',
        files: [file],
        message: `${join(dir, file)}: a .down.sql without its .up.sql; add ${key}.up.sql or remove the file`,
      });
    }
  }
  // Synchronous reads: for thousands of small files they are several times faster than fs/promises.
  const migrations: MigrationFile[] = [];
  for (const [key, up] of ups) {
    const migration = readMigration(dir, key, up, downs.get(key) ?? null, problems);
    if (migration) migrations.push(migration);
  }
  migrations.sort((a, b) => compareVersions(a.version, b.version) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const m of migrations) {
    for (const message of m.directives.problems) {
      problems.push({ kind: 'directive', files: [m.upFile], message });
    }
  }
  problems.push(...findConflicts(dir, migrations));
  return { dir, migrations, problems };
}

/**
 * Why a `*.sql` entry is not a migration file that can be read (a message), 'ignore' for a folder whose
 * name is not a migration name, or null for a regular file. Symbolic links are followed.
 */
function notAFile(dir: string, entry: Dirent, migrationName: boolean): string | 'ignore' | null {
  const path = join(dir, entry.name);
  if (entry.isFile()) return null;
  if (entry.isSymbolicLink()) {
    let target: ReturnType<typeof statSync>;
    try {
      target = statSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const to = linkTarget(path);
      if (code === 'ENOENT') return `${path}: a symbolic link to ${to}, which does not exist; fix the link or remove it`;
      if (code === 'ELOOP') return `${path}: a symbolic link that loops (${to}); point it at the real file or remove it`;
      return `${path}: cannot follow the symbolic link to ${to}: ${(error as Error).message}`;
    }
    if (target.isFile()) return null;
    if (target.isDirectory()) return migrationName ? `${path}: a symbolic link to a folder (${linkTarget(path)}), not a migration file; link the file itself, or rename it` : 'ignore';
    return `${path}: a symbolic link to something that is not a regular file (${linkTarget(path)}); a migration must be a file`;
  }
  if (entry.isDirectory()) return migrationName ? `${path}: a folder named like a migration; a migration is a file: move its SQL into a file of that name, or rename the folder` : 'ignore';
  return `${path}: not a regular file (a pipe, socket or device); a migration must be a file`;
}

function linkTarget(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
}

/** A migration's files read and checked; null when its up file cannot be read (the problem says why). */
function readMigration(dir: string, id: string, up: ParsedName & { file: string }, downFile: string | null, problems: FileProblem[]): MigrationFile | null {
  const upSql = readMigrationText(dir, up.file, problems);
  if (upSql === null) return null;
  const downSql = downFile ? readMigrationText(dir, downFile, problems) : null;
  const directives = readDirectives(upSql, up.file);
  if (downSql !== null) {
    const downDirectives = readDirectives(downSql, downFile!);
    directives.problems.push(...downDirectives.problems);
    directives.downNoTransaction = downDirectives.noTransaction;
  }
  return {
    version: up.version, versionText: up.versionText, name: up.name, id,
    upFile: up.file, downFile, upSql, downSql, checksum: checksum(upSql), directives,
  };
}

/** The normalized text of a migration file, or null with a problem saying what is wrong and what to do. */
function readMigrationText(dir: string, file: string, problems: FileProblem[]): string | null {
  const path = join(dir, file);
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === 'EACCES' || code === 'EPERM'
      ? `${path}: cannot read it (permission denied); make it readable for the user running sqlmig, e.g. chmod a+r ${path}`
      : `${path}: cannot read it: ${(error as Error).message}`;
    problems.push({ kind: 'unreadable', files: [file], message });
    return null;
  }
  if (isUtf16OrBinary(raw)) {
    problems.push({ kind: 'unreadable', files: [file], message: `${path}: file is UTF-16 (or binary); save it as UTF-8` });
    return null;
  }
  return normalizeText(raw.toString('utf8'));
}

/** A UTF-16 byte order mark, or any NUL byte (UTF-16 without BOM, binary): never UTF-8 SQL. */
function isUtf16OrBinary(raw: Buffer): boolean {
  const bom = raw.length >= 2 && ((raw[0] === 0xff && raw[1] === 0xfe) || (raw[0] === 0xfe && raw[1] === 0xff));
  return bom || raw.includes(0);
}

function findConflicts(dir: string, sorted: MigrationFile[]): FileProblem[] {
  const problems: FileProblem[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j]!.version === sorted[i]!.version) j++;
    if (j - i > 1) {
      const files = sorted.slice(i, j).map((m) => m.upFile);
      problems.push({
        kind: 'conflict',
        files,
        message: `version conflict in ${dir}: ${files.join(' and ')} share version ${sorted[i]!.version}; run \`sqlmig renumber\` to move the unapplied one to the next free version`,
      });
    }
    i = j;
  }
  return problems;
}
