/**
 * Which statements leave state in the session past the end of their transaction (and which clear it),
 * read from the parse tree: behind a transaction pooler that state would stay on a shared server connection.
 */

/** Session state that outlives a transaction. */
export type SessionObject = 'prepared statement' | 'LISTEN channel' | 'WITH HOLD cursor' | 'temporary relation';

/** What a statement leaves in the session, or clears of it (null names: all of that kind). */
export type SessionEffect = { leaves: SessionObject; name: string } | { clears: SessionObject; names: string[] | null };

type Relation = { relname?: string; schemaname?: string; relpersistence?: string };

/** The parse-tree fields read here (libpg-query's JSON). */
export interface SessionNode {
  name?: string; isall?: boolean; conditionname?: string; portalname?: string; options?: number; target?: string; removeType?: string;
  relation?: Relation; view?: Relation; sequence?: Relation; oncommit?: string;
  into?: { rel?: Relation; onCommit?: string }; intoClause?: { rel?: Relation; onCommit?: string };
  objects?: { List?: { items?: { String?: { sval?: string } }[] } }[];
}

const CURSOR_OPT_HOLD = 0x20;
const isTemp = (rel: Relation | undefined) => rel?.relpersistence === 't' || rel?.schemaname === 'pg_temp';

export function sessionEffect(kind: string, n: SessionNode): SessionEffect | undefined {
  switch (kind) {
    case 'PrepareStmt': return { leaves: 'prepared statement', name: n.name ?? '' };
    case 'DeallocateStmt': return { clears: 'prepared statement', names: n.isall || !n.name ? null : [n.name] };
    case 'ListenStmt': return { leaves: 'LISTEN channel', name: n.conditionname ?? '' };
    case 'UnlistenStmt': return { clears: 'LISTEN channel', names: n.conditionname ? [n.conditionname] : null };
    case 'DeclareCursorStmt': return (n.options ?? 0) & CURSOR_OPT_HOLD ? { leaves: 'WITH HOLD cursor', name: n.portalname ?? '' } : undefined;
    case 'ClosePortalStmt': return { clears: 'WITH HOLD cursor', names: n.portalname ? [n.portalname] : null };
    case 'DiscardStmt': return n.target === 'DISCARD_TEMP' || n.target === 'DISCARD_ALL' ? { clears: 'temporary relation', names: null } : undefined;
    case 'DropStmt':
      if (!['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_SEQUENCE', 'OBJECT_MATVIEW'].includes(n.removeType ?? '')) return undefined;
      return { clears: 'temporary relation', names: (n.objects ?? []).map((o) => o.List?.items?.at(-1)?.String?.sval ?? '') };
    case 'CreateStmt': return isTemp(n.relation) && n.oncommit !== 'ONCOMMIT_DROP' ? { leaves: 'temporary relation', name: n.relation!.relname ?? '' } : undefined;
    case 'CreateTableAsStmt': case 'SelectStmt': {
      const into = n.into ?? n.intoClause;
      return isTemp(into?.rel) && into!.onCommit !== 'ONCOMMIT_DROP' ? { leaves: 'temporary relation', name: into!.rel!.relname ?? '' } : undefined;
    }
    case 'ViewStmt': return isTemp(n.view) ? { leaves: 'temporary relation', name: n.view!.relname ?? '' } : undefined;
    case 'CreateSeqStmt': return isTemp(n.sequence) ? { leaves: 'temporary relation', name: n.sequence!.relname ?? '' } : undefined;
    default: return undefined;
  }
}
