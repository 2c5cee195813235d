import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchSizer, batchesText, TARGET_MS } from '../lib/online/batch-size.js';

test('with --batch-size every batch takes exactly that many rows, however long batches take', () => {
  const sizer = batchSizer({ max: 500, timeBoxed: false });
  for (const ms of [1, 5000, 20]) {
    assert.equal(sizer.size, 500);
    sizer.done(500, ms);
  }
  assert.equal(batchesText({ batchSize: 500 }), 'batches of 500');
});

test('without it, batches are sized by time: at most twice or half the last one, never above the maximum or below 100 rows', () => {
  const sizer = batchSizer({ max: 10_000, timeBoxed: true });
  const sizes: number[] = [];
  const take = (ms: number) => { sizes.push(sizer.size); sizer.done(sizer.size, ms); };
  take(20); // 1000 rows in 20 ms: 5,000 would fit, at most twice
  take(TARGET_MS); // 2000 in the target time: stays
  take(400); // slow (a loaded server): 500 would fit, at least half
  take(TARGET_MS * 1.25); // 1000 in 125 ms: 800 fit
  for (let i = 0; i < 8; i++) take(1); // fast: doubles up to the maximum
  assert.deepEqual(sizes, [1000, 2000, 2000, 1000, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000, 10_000]);
  const slow = batchSizer({ max: 10_000, timeBoxed: true });
  for (let i = 0; i < 10; i++) slow.done(slow.size, 10_000);
  assert.equal(slow.size, 100);
  assert.equal(batchesText({ batchSize: 10_000, batchTimeBoxed: true }), `batches of up to 10000 (~${TARGET_MS} ms each)`);
});

test('the last, short batch says nothing of the speed; a maximum below the first size is kept', () => {
  const sizer = batchSizer({ max: 10_000, timeBoxed: true });
  sizer.done(37, 5000);
  assert.equal(sizer.size, 1000);
  assert.equal(batchSizer({ max: 300, timeBoxed: true }).size, 300);
  const small = batchSizer({ max: 50, timeBoxed: true });
  small.done(50, 10_000);
  assert.equal(small.size, 50);
});
