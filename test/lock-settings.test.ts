import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lockSettingsSql, stepDeadlockTimeoutMs } from '../lib/online/lock-settings.js';

test('a locking step sets lock_timeout, and deadlock_timeout only where the role may: 100 ms, or half a shorter lock_timeout', () => {
  assert.equal(lockSettingsSql(1000), "set local lock_timeout = '1000ms'");
  assert.equal(lockSettingsSql(1000, true), "set local lock_timeout = '1000ms'; set local deadlock_timeout = '100ms'");
  assert.equal(lockSettingsSql(120.4, true), "set local lock_timeout = '120ms'; set local deadlock_timeout = '60ms'");
  assert.deepEqual([0, 1, 3, 150, 200, 60_000].map(stepDeadlockTimeoutMs), [1, 1, 2, 75, 100, 100]);
});
