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

export interface ClusterChanges {
  /** New since `before` (a name now on another oid counts) and named in one of the migrations: verify's to drop. */
  created: ClusterObjects;
  /** New, but no migration names them: someone else's, left alone and mentioned. */
  unnamed: string[];
}

export function changesSince(before: ClusterObjects, after: ClusterObjects, texts: readonly string[]): ClusterChanges {
  const named = (name: string) => {
    const word = new RegExp(`(^|[^a-z0-9_$])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-z0-9_$])`, 'i');
    return texts.some((t) => word.test(t));
  };
  const unnamed: string[] = [];
  const fresh = (kind: string, was: Map<string, string>, now: Map<string, string>) => new Map([...now].filter(([name, oid]) => {
    if (was.get(name) === oid) return false;
    if (named(name)) return true;
    unnamed.push(`${kind} ${name}`);
    return false;
  }));
  return { created: { roles: fresh('role', before.roles, after.roles), tablespaces: fresh('tablespace', before.tablespaces, after.tablespaces) }, unnamed };
}

/** A notice for what appeared on the server during the run but no migration names. */
export function unnamedNotice(unnamed: string[]): string[] {
  return unnamed.length ? [`${unnamed.join(', ')} appeared on the server while verify ran, but no migration names ${unnamed.length === 1 ? 'it' : 'them'}: left in place (drop ${unnamed.length === 1 ? 'it' : 'them'} before \`up\` if the migrations created ${unnamed.length === 1 ? 'it' : 'them'})`] : [];
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
      .catch((e: unknown) => { problems.push(`could not hand over what role ${role} owns in the scratch database: ${(e as Error).message}`); });
  }
  return problems;
}

/** DROP what was created; returns a sentence per object that could not be dropped. */
export async function dropClusterObjects(db: Db, objects: ClusterObjects): Promise<string[]> {
  const problems: string[] = [];
  for (const name of objects.tablespaces.keys()) {
    await db.exec(`drop tablespace if exists ${quoteRole(name)}`).catch((e: unknown) => { problems.push(cannotDrop('tablespace', name, e)); });
  }
  for (const name of objects.roles.keys()) {
    await db.exec(`drop role if exists ${quoteRole(name)}`).catch((e: unknown) => { problems.push(cannotDrop('role', name, e)); });
  }
  return problems;
}

function cannotDrop(kind: string, name: string, error: unknown): string {
  return `could not drop ${kind} ${name}, which the migrations created during verify: ${(error as Error).message}; drop it before \`up\` creates it again`;
}

function quoteRole(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
