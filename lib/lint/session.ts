/**
 * The session settings a file changes as it runs, statement by statement: lock_timeout (SET, SET LOCAL,
 * RESET, or `select set_config('lock_timeout', …)`) and TimeZone (SET timezone / SET TIME ZONE).
 */
import type { ParsedStatement } from './parse.js';
import { as, names, type Node } from './tree.js';

export interface Session {
  /** A lock_timeout is in force. */
  lockTimeout: boolean;
  /** The session's TimeZone, when known. */
  timeZone: string | null;
}

/** The settings after this statement; `start` is what the session had before the file (RESET goes back to it). */
export function sessionAfter(stmt: ParsedStatement, current: Session, start: Session): Session {
  if (stmt.kind === 'VariableSetStmt') {
    const name = String(stmt.node['name'] ?? '').toLowerCase();
    const value = stmt.node['kind'] === 'VAR_SET_VALUE' ? constant(stmt.node['args']?.[0]) : null;
    const reset = stmt.node['kind'] !== 'VAR_SET_VALUE';
    if (name === 'lock_timeout') return { ...current, lockTimeout: reset ? start.lockTimeout : nonZero(value) };
    if (name === 'timezone') return { ...current, timeZone: reset ? start.timeZone : value };
    return current;
  }
  if (stmt.kind === 'SelectStmt') {
    let next = current;
    for (const call of setConfigCalls(stmt.node)) {
      const [setting, value] = call;
      if (setting === 'lock_timeout') next = { ...next, lockTimeout: nonZero(value) };
      if (setting === 'timezone') next = { ...next, timeZone: value };
    }
    return next;
  }
  return current;
}

/** `set_config('name', 'value', …)` calls in a SELECT's target list, with constant arguments. */
function setConfigCalls(select: Node): [string, string | null][] {
  return ((select['targetList'] as Node[] | undefined) ?? []).flatMap((t) => {
    const call = as(as(t, 'ResTarget')?.['val'], 'FuncCall');
    if (!call || names(call['funcname']).at(-1)?.toLowerCase() !== 'set_config') return [];
    const [setting, value] = ((call['args'] as Node[] | undefined) ?? []).map(constant);
    return setting ? [[setting.toLowerCase(), value ?? null] as [string, string | null]] : [];
  });
}

function constant(node: unknown): string | null {
  const c = as(node, 'A_Const');
  if (!c) return null;
  if (c['sval']) return String(c['sval']['sval']);
  if (c['ival']) return String(c['ival']['ival'] ?? 0);
  if (c['fval']) return String(c['fval']['fval']);
  return c['isnull'] ? null : '0';
}

function nonZero(value: string | null): boolean {
  return value !== null && Number.parseFloat(value) !== 0 && !Number.isNaN(Number.parseFloat(value));
}

/** Zones whose offset is always 0: timestamp ↔ timestamptz needs no rewrite there (PostgreSQL 12+). */
const UTC_ZONES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'zulu', 'etc/zulu', 'uct', 'etc/uct', 'universal', 'etc/universal', 'greenwich', 'etc/greenwich', 'gmt0', 'etc/gmt0', 'gmt+0', 'gmt-0', 'etc/gmt+0', 'etc/gmt-0', 'z', '0', '+00', '+00:00']);

export function isUtc(zone: string | null): boolean {
  return zone !== null && UTC_ZONES.has(zone.trim().toLowerCase());
}
