/**
 * Schema differences told from where they were found. compareSnapshots speaks as verify does
 * ("left behind", "missing"); drift and `diff --check` say which side holds what: "index x exists
 * only in the database", "column users.status type varchar(30) in the database, varchar(20) from
 * the migrations". Pure.
 */
import { isNote, show, type SchemaDifference } from './compare.js';

export interface Sides {
  /** What holds `after`, e.g. "in the database". */
  after: string;
  /** What made `before`, e.g. "from the migrations". */
  before: string;
  /** "exists only in the database" */
  onlyAfter: string;
  /** "is missing from the database (the migrations make it)" */
  onlyBefore: string;
}

export function restate(d: SchemaDifference, sides: Sides): string {
  if (d.kind === 'extra') return `${d.message.replace(/ left behind$/, '')} ${sides.onlyAfter}`;
  if (d.kind === 'missing') return `${d.message.replace(/ missing$/, '')} ${sides.onlyBefore}`;
  if (d.kind === 'changed') {
    const cut = d.message.lastIndexOf(', was ');
    if (cut > 0) return `${d.message.slice(0, cut)} ${sides.after}, ${d.message.slice(cut + ', was '.length)} ${sides.before}`;
  }
  return d.message;
}

/** What names a change best: a table or a column says more than the sequence of its serial column. */
const NAMING = ['table', 'column', 'view', 'materialized view', 'enum', 'function', 'procedure', 'index'];

/** A short description of the change, for the migration's name: "add column users.timezone". */
export function describeChange(differences: SchemaDifference[]): string {
  const real = differences.filter((d) => !isNote(d));
  const rank = (d: SchemaDifference) => (NAMING.includes(d.objectType) ? NAMING.indexOf(d.objectType) : NAMING.length);
  const first = [...real].sort((a, b) => rank(a) - rank(b))[0];
  if (!first) return 'schema change';
  const verb = first.kind === 'extra' ? 'add' : first.kind === 'missing' ? 'drop' : 'change';
  return `${verb} ${first.objectType} ${show(first.object)}`;
}
