import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differences, runCases, score } from './support/lint-cases.js';

test('the labelled set (test/fixtures/lint): every case gives exactly its expected findings, rule, level and line', async () => {
  const results = await runCases();
  assert.ok(results.length >= 60, `${results.length} cases`);
  assert.deepEqual(differences(results), []);
  const s = score(results);
  assert.equal(s.levelPrecision, 1);
  assert.equal(s.levelRecall, 1);
});
