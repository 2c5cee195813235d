/**
 * The password file (~/.pgpass, PGPASSFILE), by libpq's rules: lines `hostname:port:database:username:password`,
 * `*` matches anything in the first four fields, `\:` and `\\` escape, lines starting with `#` are comments,
 * the first matching line wins. Pure: the caller reads the file.
 */

export interface PgpassKey { host: string; port: string; database: string; user: string }

/** What libpq checks before it reads the file: a plain file, no group or world access (Unix). */
export function pgpassRefusal(file: string, stat: { isFile: boolean; mode: number }, platform: string): string | null {
  if (platform === 'win32') return null;
  if (!stat.isFile) return `password file "${file}" is not a plain file; it was ignored`;
  if (stat.mode & 0o077) return `password file "${file}" has group or world access; permissions should be u=rw (0600) or less; it was ignored`;
  return null;
}

/** The password of the first line that matches, or undefined. */
export function pgpassLookup(text: string, key: PgpassKey): string | undefined {
  if (!key.database || !key.user) return undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line || line.startsWith('#')) continue;
    let rest: string | null = line;
    for (const wanted of [key.host, key.port, key.database, key.user]) {
      rest = matchField(rest, wanted);
      if (rest === null) break;
    }
    if (rest !== null) return unescapePassword(rest);
  }
  return undefined;
}

/** The rest of the line after a field that matches `wanted` and its `:`, or null (libpq's pwdfMatchesString). */
function matchField(line: string, wanted: string): string | null {
  if (line.startsWith('*:')) return line.slice(2);
  let i = 0;
  let j = 0;
  while (i < line.length) {
    let escaped = false;
    if (line[i] === '\\' && i + 1 < line.length) {
      i++;
      escaped = true;
    }
    if (line[i] === ':' && !escaped && j === wanted.length) return line.slice(i + 1);
    if (j === wanted.length || line[i] !== wanted[j]) return null;
    i++;
    j++;
  }
  return null;
}

/** The password field ends at an unescaped `:`; a backslash keeps the next character. */
function unescapePassword(field: string): string {
  let out = '';
  for (let i = 0; i < field.length && field[i] !== ':'; i++) {
    if (field[i] === '\\' && i + 1 < field.length) i++;
    out += field[i];
  }
  return out;
}
