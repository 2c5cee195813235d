/** Turn a PostgreSQL error into file:line:column, the statement with a caret, and message/detail/hint. */
import { locate } from './sql.js';
import type { Script } from './script.js';

interface PgErrorFields { message?: string; code?: string; position?: string | number; detail?: string; hint?: string; where?: string }

export function describeSqlError(script: Script, statementIndex: number | null, error: unknown): string {
  const e = error as PgErrorFields;
  const statement = statementIndex === null ? null : script.statements?.[statementIndex] ?? null;
  const base = statement?.offset ?? 0;
  const position = e.position === undefined || e.position === '' ? null : Number(e.position);
  const offset = position !== null && Number.isFinite(position) ? base + position - 1 : base;
  const { line, column } = locate(script.text, offset);
  const lines = [`${script.path}:${line}:${column}: ${e.message ?? String(error)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`];
  lines.push(...caret(script.text, line, column, statement ? statement.line + statement.sql.split('\n').length - 1 : line));
  if (e.detail) lines.push(`  DETAIL: ${e.detail}`);
  if (e.hint) lines.push(`  HINT: ${e.hint}`);
  if (e.where) lines.push(`  CONTEXT: ${e.where.split('\n')[0]}`);
  return lines.join('\n');
}

/** The failing line with a caret under the column, plus a little of the statement around it. */
function caret(text: string, line: number, column: number, lastLine: number): string[] {
  const all = text.split('\n');
  const first = Math.max(1, line - 2);
  const last = Math.min(all.length, Math.max(line, Math.min(lastLine, line + 1)));
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    out.push(`  ${String(n).padStart(width)} | ${all[n - 1]}`);
    if (n === line) out.push(`  ${' '.repeat(width)} | ${' '.repeat(Math.max(0, column - 1))}^`);
  }
  return out;
}
