/**
 * ALTER COLUMN … TYPE that rewrites, as expand/contract: a shadow column of the new type (with the
 * column's default) kept current by a trigger, the existing rows converted in batches through the cast
 * or the USING expression, then on the shadow: NOT NULL, the column's indexes (CONCURRENTLY), unique
 * and primary key indexes, CHECK and FOREIGN KEY constraints (NOT VALID, then VALIDATE); and last one
 * short swap that only changes the catalog (drop the old column and the trigger, rename the shadow and
 * what was built on it to the old names, attach the unique and primary keys to their indexes). The
 * column moves to the end of the table: a note, not a difference.
 */
import type { loadParser } from '../migrations/sql.js';
import { constraintOnShadow, deferrability, indexOnShadow } from './column-refs.js';
import { atEnd, concurrentIndex, notValidThenValidate, setNotNull, batches, transactionStep } from './forms.js';
import { helperName, qualified, quoteIdent } from './text.js';
import type { ColumnUse, OnlineStep } from './types.js';

type Parser = Awaited<ReturnType<typeof loadParser>>;

export interface TypeChange {
  lib: Parser;
  table: string;
  column: string;
  /** The new type as the file wrote it (with COLLATE, if any). */
  type: string;
  key: { column: string; type: string };
  notNull: boolean;
  /** "batches of 10000" (batch-size.ts). */
  batches: string;
  /** The new value from a row: in the batch UPDATE (the table's columns) and in the trigger (NEW's), and the columns it reads. */
  convert: { batch: string; trigger: string; reads: string[] };
  /** What uses the column and is rebuilt on the shadow (kinds the planner did not refuse). */
  uses: readonly ColumnUse[];
}

/** Kinds of use the expand/contract form rebuilds; any other is refused by the planner. */
export const REBUILT: ReadonlySet<ColumnUse['kind']> = new Set(['index', 'check', 'unique', 'primary key', 'foreign key', 'default', 'sequence']);

export function expandContract(c: TypeChange): OnlineStep[] {
  const { table, column } = c;
  const t = qualified(table);
  const schemaName = table.split('.')[0]!;
  const schema = quoteIdent(schemaName);
  const col = quoteIdent(column);
  const shadowName = helperName('col', column);
  const shadow = quoteIdent(shadowName);
  const fn = `${schema}.${quoteIdent(helperName('fn', table.split('.').slice(1).join('.'), column))}`;
  const trigger = quoteIdent(helperName('tg', column));
  const undo = [`drop trigger if exists ${trigger} on ${t}`, `drop function if exists ${fn}()`, `alter table ${t} drop column if exists ${shadow}`];
  const withUndo = (s: OnlineStep): OnlineStep => ({ ...s, undo: [...s.undo, ...undo] });
  const byKind = (kind: ColumnUse['kind']) => c.uses.filter((u) => u.kind === kind);
  const fallback = byKind('default')[0];
  const tag = dollarTag(c.convert.trigger);
  const steps: OnlineStep[] = [
    transactionStep(`add shadow column ${shadowName} ${c.type}${fallback ? ' with the default of ' + column : ''}, kept current by trigger ${trigger.replace(/"/g, '')} on every insert${c.convert.reads.length ? ` and every update of ${c.convert.reads.join(', ')}` : ''}`, table, [
      `alter table ${t} add column ${shadow} ${c.type}`,
      ...(fallback ? [`alter table ${t} alter column ${shadow} set default ${fallback.definition}`] : []),
      // Assignment (not an explicit cast), as ALTER COLUMN … TYPE converts: a value too long for varchar(n) is an error, not cut.
      `create function ${fn}() returns trigger language plpgsql as ${tag} begin new.${shadow} := ${c.convert.trigger}; return new; end ${tag}`,
      `create trigger ${trigger} before insert${c.convert.reads.length ? ` or update of ${c.convert.reads.map(quoteIdent).join(', ')}` : ''} on ${t} for each row execute function ${fn}()`,
    ], { undo }),
    // The batch sets only the shadow, so the trigger (UPDATE OF the columns read) does not fire for it.
    batches(`convert ${column} of the existing rows into ${shadowName} in ${c.batches} by ${c.key.column}`, table, c.key,
      `update ${t} set ${shadow} = ${c.convert.batch} where ${quoteIdent(c.key.column)} in (select ${quoteIdent(c.key.column)} from batch)`, 'ROW EXCLUSIVE', { undo }),
  ];
  if (c.notNull) steps.push(...setNotNull(table, shadowName).map(withUndo));
  const renames: string[] = [];
  for (const index of byKind('index')) {
    const tmp = helperName('ix', index.name);
    const built = indexOnShadow(c.lib, index.definition, column, shadowName, tmp);
    steps.push(...concurrentIndex(table, schemaName, tmp, built.statement).map(withUndo));
    renames.push(`alter index ${schema}.${quoteIdent(tmp)} rename to ${quoteIdent(index.name)}`);
    if (built.namesColumn) renames.push(renameIndexColumn(schema, index.name, shadow, col));
  }
  for (const key of [...byKind('primary key'), ...byKind('unique')]) {
    const tmp = helperName('ux', key.name);
    const built = indexOnShadow(c.lib, key.definition, column, shadowName, tmp);
    steps.push(...concurrentIndex(table, schemaName, tmp, built.statement).map(withUndo));
    renames.push(`alter table ${t} add constraint ${quoteIdent(key.name)} ${key.kind} using index ${quoteIdent(tmp)}${deferrability(c.lib, key.constraint ?? '')}`);
    if (built.namesColumn) renames.push(renameIndexColumn(schema, key.name, shadow, col));
  }
  for (const constraint of [...byKind('check'), ...byKind('foreign key')]) {
    const tmp = helperName(constraint.kind === 'check' ? 'ck' : 'fk', constraint.name);
    const rebuilt = constraintOnShadow(c.lib, constraint.definition, column, shadowName);
    const head = `alter table ${t}`;
    if (rebuilt.notValid) {
      // NOT VALID on the column, NOT VALID on the shadow: added (instant), never validated, as ALTER COLUMN … TYPE keeps it.
      steps.push(withUndo(transactionStep(`add constraint ${tmp} on ${shadowName} NOT VALID, as ${constraint.name} is`, table, [`${head} add constraint ${quoteIdent(tmp)} ${rebuilt.definition}`], {
        lock: constraint.kind === 'foreign key' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE', undo: [`${head} drop constraint if exists ${quoteIdent(tmp)}`],
      })));
    } else {
      steps.push(...notValidThenValidate(table, head, tmp, `add constraint ${quoteIdent(tmp)} ${rebuilt.definition} not valid`, constraint.kind === 'foreign key').map(withUndo));
    }
    renames.push(`alter table ${t} rename constraint ${quoteIdent(tmp)} to ${quoteIdent(constraint.name)}`);
  }
  const sequences = byKind('sequence').map((s) => `alter sequence ${s.name} owned by ${t}.${shadow}`);
  const moved = [...byKind('index'), ...byKind('primary key'), ...byKind('unique'), ...byKind('check'), ...byKind('foreign key')].map((u) => u.name);
  // At the end with the history row: a run killed before the swap leaves the old column as it was and
  // only sqlmig_tmp_… beside it, never a converted column without its history row (a retry would convert it again).
  steps.push(atEnd(`swap (catalog only, no scan): drop ${column} and the trigger, rename ${shadowName} to ${column}${moved.length ? ` and what was built on it to ${moved.join(', ')}` : ''} (the column moves to the end of the table; at the end, with the history row)`, table, [
    `drop trigger ${trigger} on ${t}`, `drop function ${fn}()`, ...sequences, `alter table ${t} drop column ${col}`, `alter table ${t} rename column ${shadow} to ${col}`, ...renames,
  ], [column, ...moved]));
  return steps;
}

/** An index's own column keeps the name of the table column it was built on; renaming the table's column does not rename it. */
function renameIndexColumn(schema: string, index: string, from: string, to: string): string {
  return `alter table ${schema}.${quoteIdent(index)} rename column ${from} to ${to}`;
}

/** A dollar-quote tag the body does not contain. */
function dollarTag(body: string): string {
  let tag = '$sqlmig$';
  for (let i = 1; body.includes(tag); i++) tag = `$sqlmig${i}$`;
  return tag;
}
