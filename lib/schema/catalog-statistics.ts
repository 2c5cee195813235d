/**
 * The planner's statistics of a scratch database's catalogs. A new database copies them from its
 * template, whose catalogs hold only what initdb made, so as verify fills it the planner goes on
 * believing that no user object exists and, for the snapshot query, loops over whole catalogs once per
 * row (measured on the synthetic 203-migration history: 10.5 ms a snapshot with the template's
 * statistics, 7.0 ms after ANALYZE of the catalogs). A database's owner may ANALYZE its catalogs, so this
 * runs only on scratch databases verify made itself, each time the schema has doubled: a few times a run.
 * Statistics change plans, never rows; SQLMIG_VERIFY_CACHE=off leaves them as created, to compare.
 */
import type { Db } from '../db/index.js';

const CATALOGS = [
  'pg_class', 'pg_attribute', 'pg_attrdef', 'pg_constraint', 'pg_index', 'pg_trigger', 'pg_depend', 'pg_description',
  'pg_proc', 'pg_type', 'pg_namespace', 'pg_rewrite', 'pg_sequence', 'pg_inherits', 'pg_policy', 'pg_enum',
].map((name) => `pg_catalog.${name}`).join(', ');

/** Below this many objects every plan is fast enough. */
const FIRST = 32;

export class CatalogStatistics {
  private db: Db | null = null;
  private analyzedAt = 0;

  /** After a round trip on `db`: ANALYZE its catalogs if the schema (`size`: roundtrip.ts's schemaSize) has doubled since the last time (or since the database was new). */
  async keepUp(db: Db, size: number): Promise<void> {
    if (process.env['SQLMIG_VERIFY_CACHE'] === 'off') return;
    if (db !== this.db) [this.db, this.analyzedAt] = [db, 0];
    if (size < FIRST || size < 2 * this.analyzedAt) return;
    await db.exec(`analyze ${CATALOGS}`);
    this.analyzedAt = size;
  }
}
