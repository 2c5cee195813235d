/**
 * verify on several scratch databases at once: the migrations are cut into consecutive parts, and a
 * part after the first starts on a database where the migrations before it were applied the way `up`
 * applies them. A one-database run reaches that same schema there only if every migration before the
 * cut round-trips inside a transaction that is then rolled back (both files transactional, or no down):
 * a cut is made only after such migrations. The databases share one server, so the migrations must not
 * touch what a server shares between databases (roles, tablespaces, databases, server settings), nor
 * run code whose statements cannot be seen (DO, CALL): a single file that may do so keeps the whole run
 * on one database. Pure: the statements come in, the cuts go out.
 */

export interface FileFacts {
  /** As messages name it. */
  path: string;
  transactional: boolean;
  /** null: the parser could not read the file, so what it does is unknown. */
  statements: readonly { kind: string; sql: string }[] | null;
}

export interface MigrationFacts {
  up: FileFacts;
  /** null: irreversible (verify only applies it). */
  down: FileFacts | null;
}

/** Fewer migrations than this in a part cost more in the extra database and replay than they save. */
export const MIN_PART = 20;

/** A replay (a plain up, no snapshots) of a migration, against one round trip of it (measured: about 1/10). */
const REPLAY_COST = 0.1;

const SHARED_KINDS = new Set([
  'CreateRoleStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'DropRoleStmt', 'GrantRoleStmt', 'ReassignOwnedStmt', 'DropOwnedStmt',
  'CreateTableSpaceStmt', 'DropTableSpaceStmt', 'AlterTableSpaceOptionsStmt',
  'CreatedbStmt', 'DropdbStmt', 'AlterDatabaseStmt', 'AlterDatabaseSetStmt', 'AlterDatabaseRefreshCollStmt', 'AlterSystemStmt',
  'CreateSubscriptionStmt', 'AlterSubscriptionStmt', 'DropSubscriptionStmt',
  'DoStmt', 'CallStmt', 'LoadStmt',
]);
/** Statements that touch a shared object only when they name one (GRANT … ON DATABASE, COMMENT ON ROLE, …). */
const MAYBE_SHARED_KINDS = new Set(['GrantStmt', 'CommentStmt', 'SecLabelStmt', 'AlterOwnerStmt']);
const NAMES_SHARED = /\b(database|tablespace|role|user|group)\b/i;

/** Why the run must stay on one database ("001_roles.up.sql: CreateRole"), or null. */
export function sharedReason(migrations: readonly MigrationFacts[]): string | null {
  for (const file of migrations.flatMap((m) => (m.down ? [m.up, m.down] : [m.up]))) {
    if (file.statements === null) return `${file.path}: the parser cannot read it, so what it touches is unknown`;
    const shared = file.statements.find((s) => SHARED_KINDS.has(s.kind) || (MAYBE_SHARED_KINDS.has(s.kind) && NAMES_SHARED.test(s.sql)));
    if (shared) return `${file.path}: ${SAYS[shared.kind] ?? 'it may change what all databases of the server share'}`;
  }
  return null;
}

const SAYS: Record<string, string> = { DoStmt: 'a DO block, whose statements cannot be seen', CallStmt: 'a CALL, whose statements cannot be seen', LoadStmt: 'a LOAD' };

export interface Parts {
  /** Where each part starts: [0] is one part. */
  starts: number[];
  /** Why there is one part where `jobs` allowed more, when the migrations (not their number) decided it. */
  why: string | null;
}

/**
 * Where each part starts (the first is 0), for at most `jobs` parts of at least MIN_PART migrations,
 * cut so that each part takes about as long: a later part also replays the migrations before it.
 */
export function partStarts(migrations: readonly MigrationFacts[], jobs: number): Parts {
  const n = migrations.length;
  const parts = Math.min(Math.floor(jobs), Math.floor(n / MIN_PART));
  if (parts <= 1) return { starts: [0], why: null };
  const shared = sharedReason(migrations);
  if (shared) return { starts: [0], why: shared };
  const firstNotRolledBack = migrations.findIndex((m) => !m.up.transactional || (m.down !== null && !m.down.transactional));
  const lastCut = firstNotRolledBack === -1 ? n : firstNotRolledBack;
  const starts = [0];
  for (const cut of balancedCuts(n, parts)) {
    const at = Math.min(cut, lastCut);
    if (at - starts.at(-1)! >= MIN_PART && n - at >= MIN_PART) starts.push(at);
  }
  const blocker = firstNotRolledBack === -1 ? null : migrations[firstNotRolledBack]!;
  const why = starts.length === 1 && blocker ? `${(blocker.up.transactional ? blocker.down! : blocker.up).path} runs without a transaction, so the schema after it cannot be had by replaying` : null;
  return { starts, why };
}

/**
 * Cuts s_1 < … < s_{k-1} that make the parts' costs as even as they can be: part j replays the s_j
 * migrations before it (REPLAY_COST each) and round-trips the rest, where a round trip costs more the
 * bigger the schema is by then (its snapshots read all of it: measured, the last migration of a long
 * history takes about twice as long as the first). The smallest cost C that k parts can keep to is
 * found by bisection; each part is then filled greedily up to C.
 */
function balancedCuts(n: number, parts: number): number[] {
  const trip = (i: number) => 1 + i / n;
  const fill = (limit: number): number[] | null => {
    const cuts: number[] = [];
    let start = 0;
    for (let j = 0; j < parts; j++) {
      let cost = REPLAY_COST * start;
      let end = start;
      while (end < n && cost + trip(end) <= limit) cost += trip(end++);
      if (j < parts - 1) cuts.push(end);
      else if (end < n) return null;
      start = end;
    }
    return cuts;
  };
  let [low, high] = [0, 2 * n];
  for (let i = 0; i < 40; i++) {
    const mid = (low + high) / 2;
    if (fill(mid)) high = mid;
    else low = mid;
  }
  return fill(high)!;
}
