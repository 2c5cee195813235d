/**
 * A blocking finding (RuleInfo.harm) is an error: the statement stops traffic to a table that existed
 * before the migration for as long as the table is big. A live database that shows the table small
 * (below `lintSmallTable`) makes it a warning, and the message says so; a table lint cannot size is big.
 */
import { DEFAULT_SMALL_TABLE, type Finding, type RuleInfo, type SmallTable, type TableSize } from './types.js';

export interface LevelPolicy {
  smallTable: SmallTable;
  /** The up hook: blocking findings stay warnings, its own --lint mode decides what blocks. */
  blockingAsWarnings?: boolean;
}

export const DEFAULT_LEVELS: LevelPolicy = { smallTable: DEFAULT_SMALL_TABLE };

export function isSmall(size: TableSize, small: SmallTable): boolean {
  return size.rows >= 0 && size.rows < small.rows && size.bytes < small.bytes;
}

/** The finding with its level for this policy (and the reason in its message when the size lowered it). */
export function leveled(f: Finding, info: RuleInfo, policy: LevelPolicy): Finding {
  if (!info.harm) return f;
  if (policy.blockingAsWarnings) return { ...f, level: 'warning' };
  if (!f.size || !isSmall(f.size, policy.smallTable)) return f;
  return { ...f, level: 'warning', message: `${f.message} (a warning: the table is below lintSmallTable, ${describeSmall(policy.smallTable)})` };
}

export function describeSmall(small: SmallTable): string {
  return `${small.rows.toLocaleString('en-US')} rows and ${formatBytes(small.bytes)}`;
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}
