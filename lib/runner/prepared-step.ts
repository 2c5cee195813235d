import type { Direction } from '../migrations/files.js';
import type { Script } from '../migrations/script.js';
import type { NewHistoryRow } from './history.js';

/** A step ready to run: its SQL read and checked. */
export interface PreparedStep {
  direction: Direction;
  version: bigint;
  versionText: string;
  name: string;
  script: Script;
  /** up: the row to record. */
  record?: NewHistoryRow;
  /** down: the file is gone and the SQL stored at apply time is used. */
  fromStoredSql?: boolean;
}
