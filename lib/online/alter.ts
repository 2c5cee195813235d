/** ALTER TABLE on a table that existed before: each subcommand in its online form, the rest as written. */
import { isSafeTypeChange, rewriteReason } from '../lint/columns.js';
import { alterCommands, as, columnConstraints, columnType, names, tableKey, type Node } from '../lint/tree.js';
import { batchesText } from './batch-size.js';
import { batches, constraintUsingIndex, inPlaceIfMentioned, notValidThenValidate, renameColumn, renameConstraint, setNotNull, transactionStep } from './forms.js';
import { columnReferences, columnsNamed } from './column-refs.js';
import { expandContract, REBUILT } from './expand.js';
import { chooseConstraintName } from './names.js';
import type { Planned, StatementEnv } from './statement-env.js';
import { helperName, mentionedNames, splitAlter, textBetween, qualified, quoteIdent, type CommandText } from './text.js';
import type { OnlineStep } from './types.js';

type Form = OnlineStep[] | { refuse: string } | null;

export function planAlterTable(env: StatementEnv): Planned {
  const cmds = alterCommands(env.stmt.node);
  const forms = cmds.map((cmd) => planCommand(env, cmd));
  const refusal = forms.find((f): f is { refuse: string } => f !== null && 'refuse' in f);
  if (refusal) return refusal;
  if (forms.every((f) => f === null)) return null;
  const split = splitAlter(env.lib, env.stmt.sql, env.at(env.stmt.node['relation']['location']), cmds.length);
  if (!split) return { refuse: 'sqlmig could not split this ALTER TABLE into its subcommands; write each change as a statement of its own' };
  return { steps: rebuild(env, cmds, forms, split) };
}

/** Forms are first decided per command (to refuse early), then built with the command's text. */
function rebuild(env: StatementEnv, cmds: Node[], forms: Form[], split: { head: string; commands: CommandText[] }): OnlineStep[] {
  const mentions = split.commands.map((c) => ({ mentioned: mentionedNames(env.lib, c.text) }));
  return cmds.flatMap((cmd, i) => {
    const text = split.commands[i]!;
    if (forms[i] === null) return [transactionStep(`as written: ${split.head} ${text.text}`, env.table, [`${split.head} ${text.text}`])];
    return buildCommand(env, cmd, split.head, text).map((s) => inPlaceIfMentioned(s, mentions.slice(i + 1)));
  });
}

/** Does this subcommand need an online form (then [] as a marker), none (null), or is it refused? */
function planCommand(env: StatementEnv, cmd: Node): Form {
  const constraint = as(cmd['def'], 'Constraint');
  switch (cmd['subtype']) {
    case 'AT_AddConstraint':
      if (!constraint || constraint['skip_validation']) return null;
      if (constraint['contype'] === 'CONSTR_FOREIGN' || constraint['contype'] === 'CONSTR_CHECK') return [];
      if (constraint['contype'] === 'CONSTR_UNIQUE' || constraint['contype'] === 'CONSTR_PRIMARY') {
        if (constraint['indexname']) return null; // already USING INDEX
        if (constraint['including'] || constraint['options'] || constraint['indexspace']) return { refuse: 'a UNIQUE or PRIMARY KEY with INCLUDE, WITH (…) or USING INDEX TABLESPACE has no online form yet: build the index with CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX' };
        return [];
      }
      if (constraint['contype'] === 'CONSTR_EXCLUSION') return { refuse: 'an EXCLUSION constraint builds its index under ACCESS EXCLUSIVE and has no online form' };
      return null;
    case 'AT_SetNotNull': return provedNotNull(env, cmd['name']) ? null : [];
    case 'AT_AddColumn': return planAddColumn(env, as(cmd['def'], 'ColumnDef')!);
    case 'AT_AlterColumnType': {
      const def = as(cmd['def'], 'ColumnDef') ?? {};
      const from = env.known.tables.get(env.table)?.columns.get(cmd['name']) ?? null;
      const to = columnType(def['typeName']);
      if (from && to && !def['raw_default'] && isSafeTypeChange(from, to)) return null;
      const why = typeChangeRefusal(env, cmd, def);
      return why ? { refuse: why } : [];
    }
    case 'AT_SetTableSpace': case 'AT_SetLogged': case 'AT_SetUnLogged':
      return { refuse: 'this rewrites the table under ACCESS EXCLUSIVE and has no online form' };
    default: return null;
  }
}

function provedNotNull(env: StatementEnv, column: string): boolean {
  const known = env.known.tables.get(env.table);
  return Boolean(known?.notNull.has(column) || [...(known?.checks.values() ?? [])].some((c) => c.column === column && c.validated));
}

function planAddColumn(env: StatementEnv, def: Node): Form {
  // The functions' volatility from the catalog and the earlier migrations, as lint reads it: unknown means volatile.
  const reason = rewriteReason(def, { schema: env.known });
  if (!reason) {
    if (columnConstraints(def).some((c) => c['contype'] === 'CONSTR_UNIQUE' || c['contype'] === 'CONSTR_PRIMARY')) {
      return { refuse: 'a UNIQUE or PRIMARY KEY on the added column builds its index under ACCESS EXCLUSIVE: add the column, then add the constraint in a statement of its own (which runs online)' };
    }
    return null;
  }
  if (!reason.startsWith('a volatile default')) return { refuse: `adding ${reason} rewrites the table under ACCESS EXCLUSIVE; it has no online form yet: add a plain column, backfill it, then set its default` };
  const other = columnConstraints(def).find((c) => !['CONSTR_DEFAULT', 'CONSTR_NOTNULL', 'CONSTR_NULL'].includes(c['contype']));
  if (other) return { refuse: 'an added column with a volatile default and other constraints (CHECK, REFERENCES, …) has no online form: add it with its default and NOT NULL only, then add the constraints in statements of their own' };
  if (env.facts.primaryKey.length !== 1) return { refuse: `adding ${reason} needs a batched backfill, which walks a one-column primary key; the table has ${env.facts.primaryKey.length ? 'a primary key of several columns' : 'none'}` };
  return [];
}

function buildCommand(env: StatementEnv, cmd: Node, head: string, text: CommandText): OnlineStep[] {
  const constraint = as(cmd['def'], 'Constraint');
  if (cmd['subtype'] === 'AT_SetNotNull') return setNotNull(env.table, cmd['name']);
  if (cmd['subtype'] === 'AT_AddColumn') return addColumnVolatile(env, as(cmd['def'], 'ColumnDef')!, head, text);
  if (cmd['subtype'] === 'AT_AlterColumnType') {
    const def = as(cmd['def'], 'ColumnDef')!;
    const conversion = typeConversion(env, cmd['name'], def, text);
    if ('refuse' in conversion) throw new Error(conversion.refuse); // decided in planCommand
    return expandContract({
      lib: env.lib, table: env.table, column: cmd['name'], type: conversion.type, key: env.facts.primaryKey[0]!, notNull: provedNotNull(env, cmd['name']),
      batches: batchesText(env.options), convert: conversion, uses: env.facts.uses?.get(cmd['name']) ?? [],
    });
  }
  const c = constraint!;
  const name = (c['conname'] as string | undefined) ?? chooseConstraintName(env.table, c);
  if (c['contype'] === 'CONSTR_FOREIGN' || c['contype'] === 'CONSTR_CHECK') {
    // Added and validated under a helper name, renamed at the end: a run killed in between leaves only sqlmig_tmp_….
    const helper = helperName(c['contype'] === 'CONSTR_FOREIGN' ? 'fk' : 'ck', name);
    const definition = constraintBody(env, c, text);
    return [
      ...notValidThenValidate(env.table, head, helper, `add constraint ${quoteIdent(helper)} ${definition} not valid`, c['contype'] === 'CONSTR_FOREIGN'),
      renameConstraint(env.table, helper, name, columnsNamed(c)),
    ];
  }
  const keys = names(c['keys']);
  const kind = c['contype'] === 'CONSTR_PRIMARY' ? 'primary key' : 'unique';
  const suffix = `${c['deferrable'] ? ' deferrable' : ''}${c['initdeferred'] ? ' initially deferred' : ''}`;
  const body = `(${keys.map(quoteIdent).join(', ')})${c['nulls_not_distinct'] ? ' nulls not distinct' : ''}`;
  const notNulls = kind === 'primary key' ? keys.filter((k) => !provedNotNull(env, k)).flatMap((k) => setNotNull(env.table, k)) : [];
  return [...notNulls, ...constraintUsingIndex(env.table, name, kind, body, suffix, keys)];
}

/** A constraint's text from its kind on (FOREIGN KEY …, CHECK (…)): without `CONSTRAINT name`. */
function constraintBody(env: StatementEnv, c: Node, text: CommandText): string {
  const body = textBetween(env.stmt.sql, env.at(c['location']), text.end);
  if (!c['conname']) return body;
  const tokens = env.lib.scanSync(body).tokens.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
  // CONSTRAINT, the name, then the kind.
  return Buffer.from(body, 'utf8').subarray(tokens[2]!.start).toString('utf8');
}

/** ADD COLUMN … DEFAULT volatile(): add it plain, set the default for new rows, backfill old rows in batches, then NOT NULL the safe way. */
function addColumnVolatile(env: StatementEnv, def: Node, head: string, text: CommandText): OnlineStep[] {
  const constraints = columnConstraints(def).sort((a, b) => a['location'] - b['location']);
  const column = def['colname'] as string;
  const start = env.at(def['location']);
  const firstConstraint = env.at(constraints[0]!['location']);
  const columnSpec = textBetween(env.stmt.sql, start, firstConstraint);
  const index = constraints.findIndex((c) => c['contype'] === 'CONSTR_DEFAULT');
  const next = constraints[index + 1];
  const defaultText = textBetween(env.stmt.sql, env.at(constraints[index]!['location']), next ? env.at(next['location']) : text.end).replace(/^default\s+/i, '');
  const t = qualified(env.table);
  // Added under a helper name and renamed at the end: a run killed in between leaves only sqlmig_tmp_….
  const helper = helperName('col', column);
  const col = quoteIdent(helper);
  const specTokens = env.lib.scanSync(columnSpec).tokens;
  const typeText = Buffer.from(columnSpec, 'utf8').subarray(specTokens[1]!.start).toString('utf8');
  const key = env.facts.primaryKey[0]!;
  const dropColumn = `alter table ${t} drop column if exists ${col}`;
  const steps: OnlineStep[] = [
    transactionStep(`add column ${helper} without a default (instant), then set its default for new rows`, env.table,
      [`${head} add column ${col} ${typeText}`, `alter table ${t} alter column ${col} set default ${defaultText}`], { undo: [dropColumn] }),
    batches(`fill ${helper} of the existing rows in ${batchesText(env.options)} by ${key.column}`, env.table, key,
      `update ${t} set ${col} = default where ${quoteIdent(key.column)} in (select ${quoteIdent(key.column)} from batch) and ${col} is null`, 'ROW EXCLUSIVE', { undo: [dropColumn] }),
  ];
  if (constraints.some((c) => c['contype'] === 'CONSTR_NOTNULL')) steps.push(...setNotNull(env.table, helper).map((s) => ({ ...s, undo: [...s.undo, dropColumn] })));
  steps.push(renameColumn(env.table, helper, column));
  return steps;
}

/** The expand/contract form needs a one-column primary key to walk, and rebuilds only what REBUILT names on the shadow. */
function typeChangeRefusal(env: StatementEnv, cmd: Node, def: Node): string | null {
  const column = cmd['name'] as string;
  const base = 'this type change rewrites the table and its indexes under ACCESS EXCLUSIVE; its online form (a shadow column kept current by a trigger, a batched backfill, a short swap)';
  if (env.facts.primaryKey.length !== 1) return `${base} walks a one-column primary key, and the table has ${env.facts.primaryKey.length ? 'one of several columns' : 'none'}`;
  if (env.facts.partitioned) return `${base} is not built for a partitioned table (the shadow column, trigger and indexes would be per partition)`;
  const uses = env.facts.uses?.get(column) ?? [];
  const referenced = uses.filter((u) => u.kind === 'referenced');
  if (referenced.length) {
    return `${base} cannot move the foreign key${referenced.length > 1 ? 's' : ''} that reference${referenced.length > 1 ? '' : 's'} ${column} (${referenced.map((u) => `${u.name} of ${u.definition}`).join(', ')}) onto the new column: change the referencing columns and this one offline together, or drop the foreign keys, change the type online, and add them back (online: NOT VALID, then VALIDATE)`;
  }
  const views = uses.filter((u) => u.kind === 'view');
  if (views.length) return `${base} cannot change a column that views use (${[...new Set(views.map((u) => u.name))].join(', ')}), and neither can the plain statement (PostgreSQL refuses it): drop the views, change the type, and create them again`;
  const other = uses.filter((u) => !REBUILT.has(u.kind) && u.kind !== 'view');
  if (other.length) return `${base} does not rebuild ${other.map((u) => u.name).join(', ')}, which use${other.length > 1 ? '' : 's'} ${column}: drop ${other.length > 1 ? 'them' : 'it'}, change the type online, then recreate ${other.length > 1 ? 'them' : 'it'}, or run the file offline`;
  const builtHere = env.earlier.find((s) => buildsOnColumn(s, env.table, column));
  if (builtHere) {
    return `${base} rebuilds on the new column what existed before this migration, and line ${builtHere.line} (${builtHere.sql.split('\n')[0]!.trim()}) builds something on ${column} earlier in the same migration: ` +
      'put that statement after the type change (it is then built on the new column), or in a later migration';
  }
  const conversion = typeConversion(env, column, def, null);
  return 'refuse' in conversion ? `${base} ${conversion.refuse}` : null;
}

/** An index, constraint, trigger, statistics object or policy on `table` that names `column`, made by an earlier statement of the migration. */
function buildsOnColumn(s: { kind: string; node: Node }, table: string, column: string): boolean {
  const on = (relation: unknown) => relation !== undefined && tableKey(relation as Node) === table;
  switch (s.kind) {
    case 'IndexStmt': return on(s.node['relation']) && namesColumn(s.node, column);
    case 'CreatePolicyStmt': return on(s.node['table']) && namesColumn(s.node, column);
    case 'CreateTrigStmt': return on(s.node['relation']) && (names(s.node['columns']).includes(column) || namesColumn(s.node['whenClause'], column));
    case 'CreateStatsStmt': return namesColumn(s.node['exprs'], column) && ((s.node['relations'] as Node[] | undefined) ?? []).some((r) => on(as(r, 'RangeVar')));
    case 'AlterTableStmt':
      return on(s.node['relation']) && alterCommands(s.node).some((c) => c['subtype'] === 'AT_AddConstraint' && namesColumn(c['def'], column));
    default: return false;
  }
}

/** Does the tree name the column: an index key, a column reference, or a constraint's column list? */
function namesColumn(tree: unknown, column: string): boolean {
  if (!tree || typeof tree !== 'object') return false;
  const node = tree as Node;
  if (as(node, 'IndexElem')?.['name'] === column) return true;
  const ref = as(node, 'ColumnRef');
  if (ref) return as((ref['fields'] as Node[]).at(-1), 'String')?.['sval'] === column;
  const constraint = as(node, 'Constraint');
  if (constraint && ['keys', 'fk_attrs', 'including'].some((k) => names(constraint[k]).includes(column))) return true;
  if (as(node, 'RangeVar')) return false;
  return Object.values(node).some((value) => namesColumn(value, column));
}

/**
 * The new type's text and the conversion of a row: the USING expression with each column reference
 * pointed at the table's column (batch) and at NEW's (trigger), by the parse tree; without USING,
 * the column itself (converted by assignment, as ALTER COLUMN … TYPE does).
 */
function typeConversion(env: StatementEnv, column: string, def: Node, text: CommandText | null): { type: string; batch: string; trigger: string; reads: string[] } | { refuse: string } {
  const sql = env.stmt.sql;
  const typeAt = env.at(def['typeName']['location']);
  let end = text?.end ?? Buffer.byteLength(sql);
  const real = env.lib.scanSync(sql).tokens.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT' && t.start >= typeAt && t.start < end);
  const using = def['raw_default'] ? real.find((t) => t.text.toLowerCase() === 'using') : undefined;
  if (def['raw_default'] && !using) return { refuse: 'could not find the USING expression of this statement' };
  // Up to the last token before USING (or the command's end): a comment after it is not part of the type or the expression.
  const lastBefore = (at: number) => real.filter((t) => t.start < at).at(-1)!.end;
  const type = textBetween(sql, typeAt, lastBefore(using ? using.start : end));
  end = lastBefore(end);
  if (!using) return { type, batch: quoteIdent(column), trigger: `new.${quoteIdent(column)}`, reads: [column] };
  const columns = env.known.tables.get(env.table)?.columns;
  const refs = columnReferences(env.lib, sql, def['raw_default'], env.at);
  const bad = refs.find((r) => r.column === null || (columns && !columns.has(r.column)));
  if (bad) return { refuse: `converts only through USING expressions that name columns of the table; this one uses ${Buffer.from(sql).subarray(bad.start, bad.end).toString()} (a whole row or *), which it cannot point at the row being converted` };
  const from = using.end;
  const expr = (point: (c: string) => string) => textBetween(
    [...refs].sort((a, b) => b.start - a.start).reduce((acc, r) => Buffer.concat([acc.subarray(0, r.start - from), Buffer.from(point(r.column!)), acc.subarray(r.end - from)]), Buffer.from(sql).subarray(from, end)).toString(), 0);
  return { type, batch: `(${expr((c) => quoteIdent(c))})`, trigger: `(${expr((c) => `new.${quoteIdent(c)}`)})`, reads: [...new Set(refs.map((r) => r.column!))].sort() };
}
