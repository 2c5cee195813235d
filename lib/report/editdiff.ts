/** The unified diff of an edited applied migration: what was applied against what the file says now. */
import type { Db } from '../db/index.js';
import { readAppliedText, type HistoryTable } from '../runner/history.js';
import type { MigrationStatus } from '../runner/plan.js';

export async function editedDiff(db: Db, table: HistoryTable, status: MigrationStatus, path: string): Promise<string> {
  const { createTwoFilesPatch } = await import('diff');
  const { upSql } = await readAppliedText(db, table, status.version);
  return createTwoFilesPatch(`${path} (applied ${status.applied!.appliedAt.toISOString()})`, `${path} (now)`, upSql, status.file!.upSql, '', '', { context: 3 })
    .split('\n').slice(1).join('\n').trimEnd(); // drop the "====" banner line
}
