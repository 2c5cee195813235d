/**
 * ALTER COLUMN … TYPE that rewrites, as expand/contract: a shadow column of the new type kept current
 * by a trigger, the existing rows converted in batches, then one short swap (drop the old column and
 * the trigger, rename the shadow). The column moves to the end of the table: a note, not a difference.
 */
import { batches, setNotNull, transactionStep } from './forms.js';
import { helperName, qualified, quoteIdent } from './text.js';
import type { OnlineStep } from './types.js';

export function expandContract(table: string, column: string, type: string, key: { column: string; type: string }, notNull: boolean, batchSize: number): OnlineStep[] {
  const t = qualified(table);
  const schema = quoteIdent(table.split('.')[0]!);
  const col = quoteIdent(column);
  const shadowName = helperName('col', column);
  const shadow = quoteIdent(shadowName);
  const fn = `${schema}.${quoteIdent(helperName('fn', table.split('.').slice(1).join('.'), column))}`;
  const trigger = quoteIdent(helperName('tg', column));
  const undo = [`drop trigger if exists ${trigger} on ${t}`, `drop function if exists ${fn}()`, `alter table ${t} drop column if exists ${shadow}`];
  const steps: OnlineStep[] = [
    transactionStep(`add shadow column ${shadowName} ${type}, kept current by trigger ${trigger.replace(/"/g, '')} on every insert and update`, table, [
      `alter table ${t} add column ${shadow} ${type}`,
      `create function ${fn}() returns trigger language plpgsql as $sqlmig$ begin new.${shadow} := new.${col}::${type}; return new; end $sqlmig$`,
      `create trigger ${trigger} before insert or update on ${t} for each row execute function ${fn}()`,
    ], { undo }),
    batches(`convert ${column} of the existing rows into ${shadowName} in batches of ${batchSize} by ${key.column}`, table, key,
      `update ${t} set ${shadow} = ${col}::${type} where ${quoteIdent(key.column)} in (select ${quoteIdent(key.column)} from batch)`, 'ROW EXCLUSIVE', { undo }),
  ];
  if (notNull) steps.push(...setNotNull(table, shadowName).map((s) => ({ ...s, undo: [...s.undo, ...undo] })));
  steps.push(transactionStep(`swap: drop ${column} and the trigger, rename ${shadowName} to ${column} (the column moves to the end of the table)`, table, [
    `drop trigger ${trigger} on ${t}`, `drop function ${fn}()`, `alter table ${t} drop column ${col}`, `alter table ${t} rename column ${shadow} to ${col}`,
  ], { undo }));
  return steps;
}
