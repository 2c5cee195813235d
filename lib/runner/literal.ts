/**
 * Values written into SQL text, for queries sent without parameters. The `postgres` driver sends a query
 * with parameters as Parse/Describe first and waits for the server's answer before it sends anything
 * else: one more round trip per migration, and the rest of the pipeline stalls behind it. A query with
 * its values inline goes as one simple-protocol message, in the same pipeline as the migration.
 */

/** A value as SQL: text is dollar-quoted, so no setting of the session (standard_conforming_strings, …) changes its meaning. */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return dollarQuote(value);
  throw new TypeError(`cannot write ${typeof value} as an SQL literal`);
}

export function dollarQuote(text: string): string {
  let tag = '$sqlmig$';
  for (let n = 1; text.includes(tag); n++) tag = `$sqlmig${n}$`;
  return `${tag}${text}${tag}`;
}
