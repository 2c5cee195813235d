import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticHistory, type HistoryOptions } from '../scripts/fixtures/history.js';
import { closeAdmin, freshDb, freshPglite, runCli, writeMigrations } from './support/helpers.js';

after(closeAdmin);

/** The failure seen on a real history: a default kept its row across RENAME VALUE, then pg_trgm came and went. */
const renamedValue = {
  '001_site.up.sql': `create type registration_mode_enum as enum ('closed', 'require_application', 'open');
create table local_site (id int primary key, name text not null, registration_mode registration_mode_enum not null default 'require_application');`,
  '001_site.down.sql': 'drop table local_site;\ndrop type registration_mode_enum;',
  '002_rename.up.sql': "alter type registration_mode_enum rename value 'require_application' to 'RequireApplication';",
  '002_rename.down.sql': "alter type registration_mode_enum rename value 'RequireApplication' to 'require_application';",
  '003_trgm.up.sql': 'create extension pg_trgm;\ncreate index local_site_name_trgm on local_site using gin (name gin_trgm_ops);',
  '003_trgm.down.sql': 'drop index local_site_name_trgm;\ndrop extension pg_trgm;',
};

function assertAllRoundTrip(r: { code: number; stdout: string; stderr: string }): void {
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /FAILED|registration_mode default/);
  assert.match(r.stdout, /verify ok: 3 migrations, 3 round-trip, 0 failed/);
}

test('a default whose enum value was renamed, then pg_trgm created and dropped: the down round-trips (server)', async (t) => {
  const db = await freshDb(t);
  const { dir } = writeMigrations(t, renamedValue);
  assertAllRoundTrip(await runCli(['verify', '--dir', dir, '--url', db.url]));
});

test('a default whose enum value was renamed, then pg_trgm created and dropped: the down round-trips (PGlite)', async (t) => {
  const { dir, root } = writeMigrations(t, renamedValue);
  assertAllRoundTrip(await runCli(['verify', '--dir', dir, '--url', await freshPglite(root)]));
});

function historyFiles(options: HistoryOptions): Record<string, string> {
  const files: Record<string, string> = {};
  syntheticHistory(options).forEach((m, i) => {
    const version = String(i + 1).padStart(3, '0');
    files[`${version}_${m.name}.up.sql`] = m.up;
    if (m.down !== null) files[`${version}_${m.name}.down.sql`] = m.down;
  });
  return files;
}

/** What verify found, without the times. */
function findings(stdout: string): unknown[] {
  const result = JSON.parse(stdout) as { findings: Record<string, unknown>[] };
  return result.findings.map(({ version, name, status, reason, differences, notes, error }) => ({ version, name, status, reason, differences, notes, error }));
}

async function cachedAndUncached(url: () => Promise<string>, dir: string): Promise<{ cached: unknown[]; uncached: unknown[] }> {
  const cached = await runCli(['verify', '--json', '--dir', dir, '--url', await url()]);
  const uncached = await runCli(['verify', '--json', '--dir', dir, '--url', await url()], { env: { SQLMIG_VERIFY_CACHE: 'off' } });
  assert.ok(cached.stdout, cached.stderr);
  assert.ok(uncached.stdout, uncached.stderr);
  return { cached: findings(cached.stdout), uncached: findings(uncached.stdout) };
}

const histories: [string, HistoryOptions][] = [
  ['the synthetic history', { count: 40 }],
  ['the synthetic history with views that fold now()', { count: 40, foldedNow: true }],
  ['the synthetic history with renames of what definitions name, a search_path and pg_trgm dropped', { count: 25, renames: true }],
];

for (const [what, options] of histories) {
  test(`cached and uncached verify give the same findings and notes: ${what} (server)`, async (t) => {
    const { dir } = writeMigrations(t, historyFiles(options));
    const { cached, uncached } = await cachedAndUncached(async () => (await freshDb(t)).url, dir);
    assert.deepEqual(cached, uncached);
    if (options.renames) assert.deepEqual(cached.filter((f) => !['round-trips', 'skipped'].includes((f as { status: string }).status)), [], 'every down is correct');
  });
}

test('cached and uncached verify give the same findings and notes: the history with renames (PGlite)', async (t) => {
  const { dir, root } = writeMigrations(t, historyFiles({ count: 25, renames: true }));
  const { cached, uncached } = await cachedAndUncached(() => freshPglite(root), dir);
  assert.deepEqual(cached, uncached);
  assert.deepEqual(cached.filter((f) => !['round-trips', 'skipped'].includes((f as { status: string }).status)), [], 'every down is correct');
});
