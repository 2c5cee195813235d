import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MigrationFile } from '../lib/migrations/files.js';
import { parseFilename } from '../lib/migrations/files.js';
import type { AppliedMigration } from '../lib/runner/history.js';
import { planDown, planUp, reconcile, upRefusals } from '../lib/runner/plan.js';
import { readDirectives } from '../lib/migrations/directives.js';
import { parseDuration } from '../lib/duration.js';
import { maskUrl } from '../lib/db/url.js';

const file = (v: number, name: string, checksum = `c${v}`): MigrationFile => ({
  version: BigInt(v), versionText: String(v).padStart(3, '0'), name, id: `${v}_${name}`, upFile: `${String(v).padStart(3, '0')}_${name}.up.sql`,
  downFile: null, upSql: '', downSql: null, checksum, directives: { noTransaction: false, downNoTransaction: false, online: false, offline: false, lintIgnores: [], problems: [] },
});
const row = (v: number, name: string, checksum = `c${v}`): AppliedMigration => ({
  version: BigInt(v), name, checksum, appliedAt: new Date(0), appliedBy: 'u', durationMs: 1, transactional: true, stamped: false,
});

test('reconcile gives each migration one state', () => {
  const s = reconcile([file(1, 'a'), file(2, 'b', 'changed'), file(3, 'c'), file(5, 'e')], [row(1, 'a'), row(2, 'b'), row(4, 'd')]);
  assert.deepEqual(s.map((x) => [x.versionText, x.state]), [['001', 'applied'], ['002', 'edited'], ['003', 'out-of-order'], ['004', 'missing'], ['005', 'pending']]);
});

test('up refuses edited, missing and out-of-order, each naming the next command', () => {
  const s = reconcile([file(1, 'a', 'x'), file(2, 'b')], [row(1, 'a'), row(3, 'c')]);
  const messages = upRefusals(s, [], false).map((r) => r.message).join('\n');
  assert.match(messages, /sqlmig repair 001/);
  assert.match(messages, /sqlmig forget 003/);
  assert.match(messages, /--allow-out-of-order/);
  assert.equal(upRefusals(s, [], true).filter((r) => r.kind === 'out-of-order').length, 0);
});

test('planUp honours --to and --step; planDown takes the newest first', () => {
  const s = reconcile([file(1, 'a'), file(2, 'b'), file(3, 'c'), file(4, 'd')], [row(1, 'a')]);
  assert.deepEqual(planUp(s).map((x) => x.status.name), ['b', 'c', 'd']);
  assert.deepEqual(planUp(s, { to: 3n }).map((x) => x.status.name), ['b', 'c']);
  assert.deepEqual(planUp(s, { step: 1 }).map((x) => x.status.name), ['b']);
  const all = reconcile([file(1, 'a'), file(2, 'b'), file(3, 'c')], [row(1, 'a'), row(2, 'b'), row(3, 'c')]);
  assert.deepEqual(planDown(all, { count: 2 }).map((x) => x.status.name), ['c', 'b']);
  assert.deepEqual(planDown(all, { to: 1n }).map((x) => x.status.name), ['c', 'b']);
  assert.deepEqual(planDown(all, { all: true }).map((x) => x.status.name), ['c', 'b', 'a']);
});

test('file names: digits, lowercase name, direction; big timestamps are fine', () => {
  assert.deepEqual(parseFilename('20250210120000_add_x.up.sql'), { version: 20250210120000n, versionText: '20250210120000', name: 'add_x', direction: 'up' });
  assert.equal(parseFilename('001_Add.up.sql'), null);
  assert.equal(parseFilename('001_add.sql'), null);
  assert.equal(parseFilename('_add.up.sql'), null);
});

test('directives: no-transaction in the leading block, unknown ones are problems', () => {
  assert.equal(readDirectives('-- header\n-- sqlmig:no-transaction\ncreate index concurrently i on t (x);', 'f').noTransaction, true);
  assert.match(readDirectives('select 1;\n-- sqlmig:no-transaction\n', 'f').problems[0]!, /must be in the comment block at the top/);
  assert.match(readDirectives('-- sqlmig:notx\n', 'f').problems[0]!, /unknown directive/);
  assert.deepEqual(readDirectives('-- sqlmig:lint-ignore require-concurrent-index-creation table is tiny\ncreate index i on t (x);', 'f').lintIgnores,
    [{ line: 1, rule: 'require-concurrent-index-creation', reason: 'table is tiny' }]);
});

test('durations and masking', () => {
  assert.equal(parseDuration('500ms', 'x'), 500);
  assert.equal(parseDuration('10s', 'x'), 10_000);
  assert.equal(parseDuration('2m', 'x'), 120_000);
  assert.equal(parseDuration('3', 'x'), 3000);
  assert.equal(maskUrl('url postgres://app:s3cr3t@db:5432/prod here'), 'url postgres://app:***@db:5432/prod here');
});
