import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../lib/config.js';
import { adminUrl, closeAdmin } from './support/helpers.js';
import { differences, runCases, runTraceCases, score, traceScore } from './support/lint-cases.js';

after(closeAdmin);

test('the labelled set (test/fixtures/lint): every case gives exactly its expected findings, rule, level and line', async () => {
  const results = await runCases();
  assert.ok(results.length >= 60, `${results.length} cases`);
  assert.deepEqual(differences(results), []);
  const s = score(results);
  assert.equal(s.levelPrecision, 1);
  assert.equal(s.levelRecall, 1);
});

test('the labelled set with --trace (temporary databases on the test server): what the trace adds beyond the labels is only what is true there', async () => {
  const url = await adminUrl();
  const results = await runTraceCases({ options: { dir: process.cwd() }, target: parseTarget(url, '--url'), table: { schema: 'public', table: 'sqlmig_history' }, lockTimeoutMs: 60_000 });
  const beyond = differences(results).map((d) => d.replace(/ \(.*$/, ''));
  assert.deepEqual(beyond, [
    '04_fk_without_not_valid.sql: unexpected trace-lock warning 2', // the foreign key's SHARE ROW EXCLUSIVE on users, the referenced table
    '28_enum_value_used_same_transaction.sql: unexpected trace-failed error 3', // PostgreSQL refuses the new value before COMMIT
    '32_backfill_other_table.sql: unexpected trace-lock-held warning 2', // orders stays locked while users is backfilled
    '36_do_block_dynamic.sql: unexpected trace-rewrite warning 2', // what the DO block's EXECUTE really does
    '40_default_unknown_function.sql: unexpected trace-failed error 2', // make_ref() exists nowhere: the case is lint's unknown function
  ], 'no lock of an instant statement (add column, a widening, NOT VALID, SET NOT NULL after a validated check)');
  const t = traceScore(results);
  assert.ok(t.precision >= 0.9, `trace precision ${t.precision}`);
  assert.ok(t.recall >= 0.9, `trace recall ${t.recall}`);
});
