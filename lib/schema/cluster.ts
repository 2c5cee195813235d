/**
 * Roles and tablespaces belong to the whole server, not to a database: a migration's `CREATE ROLE` run
 * by verify in a scratch database stays on the server after the scratch database is gone, and the
 * real `up` then fails with "role … already exists". verify notes what exists before it runs anything
 * and drops what appeared since. Only what a migration names is dropped, so a role someone else
 * creates on the server meanwhile is left alone.
 */
import type { Db } from '../db/index.js';

export interface ClusterObjects {
  /** name → oid */
  roles: Map<string, string>;
  tablespaces: Map<string, string>;
}

export async function readClusterObjects(db: Db): Promise<ClusterObjects> {
  const rows = await db.query<{ kind: string; name: string; oid: string }>(
    `select 'role' as kind, rolname::text as name, oid::text as oid from pg_roles
     union all select 'tablespace', spcname::text, oid::text from pg_tablespace`,
  );
  const pick = (kind: string) => new Map(rows.filter((r) => r.kind === kind).map((r) => [r.name, r.oid]));
  return { roles: pick('role'), tablespaces: pick('tablespace') };
}

/** What is new since `before` (a name now on another oid counts) and is named in one of the migrations' texts. */
export function createdSince(before: ClusterObjects, after: ClusterObjects, texts: readonly string[]): ClusterObjects {
  const named = (name: string) => {
    const word = new RegExp(`(^|[^a-z0-9_$])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9_$])`, 'i');
    return texts.some((t) => word.test(t));
  };
  const fresh = (was: Map<string, string>, now: Map<string, string>) =>
    new Map([...now].filter(([name, oid]) => was.get(name) !== oid && named(name)));
  return { roles: fresh(before.roles, after.roles), tablespaces: fresh(before.tablespaces, after.tablespaces) };
}

export function isEmpty(objects: ClusterObjects): boolean {
  return objects.roles.size === 0 && objects.tablespaces.size === 0;
}

/**
 * In a database where the roles may own objects or hold privileges (the scratch one): hand what they
 * own to the current user and revoke what they were granted, there and on shared objects, so that
 * DROP ROLE can succeed. Returns a problem per role that could not be cleared.
 */
export async function releaseRoles(db: Db, roles: Iterable<string>): Promise<string[]> {
  const problems: string[] = [];
  for (const role of roles) {
    const quoted = quoteRole(role);
    await db.exec(`reassign owned by ${quoted} to current_user; drop owned by ${quoted}`)
      .catch((e: unknown) => { problems.push(`role ${role}: ${(e as Error).message}`); });
  }
  return problems;
}

/** DROP what was created; returns a sentence per object that could not be dropped. */
export async function dropClusterObjects(db: Db, objects: ClusterObjects): Promise<string[]> {
  const problems: string[] = [];
  for (const name of objects.tablespaces.keys()) {
    await db.exec(`drop tablespace if exists ${quoteRole(name)}`).catch((e: unknown) => { problems.push(`tablespace ${name}: ${(e as Error).message}`); });
  }
  for (const name of objects.roles.keys()) {
    await db.exec(`drop role if exists ${quoteRole(name)}`).catch((e: unknown) => { problems.push(`role ${name}: ${(e as Error).message}`); });
  }
  return problems;
}

function quoteRole(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
