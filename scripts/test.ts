/**
 * `npm test`: start one throwaway PostgreSQL and one PGlite template for the whole run, run every
 * test file with node:test (through tsx), then stop the server. Test files create their own databases.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../test/support/server.js';
import { createPgliteTemplate } from '../test/support/pglite.js';

const server = await startTestServer();
const templateRoot = mkdtempSync(join(tmpdir(), 'sqlmig-pglite-template-'));
const template = join(templateRoot, 'db');
await createPgliteTemplate(template);
process.stderr.write(`test database: ${server.how}; PGlite template ready\n`);

// The slowest files start first, so that two at a time finish together instead of one long file
// running alone at the end (measured on the whole suite; order only, every file runs).
const SLOW_FIRST = ['backup', 'diff', 'online-safety', 'online-typechange', 'file-rules', 'examples', 'diff-fixed-point', 'verify', 'config',
  'online-kill', 'online', 'diff-lint', 'lint-cases', 'fleet', 'pgbouncer', 'pglite-template', 'newcomer-details', 'schemafile-pgdump'];
const rank = (f: string) => { const i = SLOW_FIRST.indexOf(f.replace(/\.test\.ts$/, '')); return i < 0 ? SLOW_FIRST.length : i; };
const only = process.argv.slice(2);
const files = only.length ? only : readdirSync('test').filter((f) => f.endsWith('.test.ts')).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((f) => join('test', f));
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: { ...process.env, SQLMIG_TEST_DATABASE_URL: server.adminUrl, SQLMIG_TEST_PGLITE_TEMPLATE: template },
});
const stop = async (code: number) => {
  await server.stop();
  rmSync(templateRoot, { recursive: true, force: true });
  process.exit(code);
};
process.on('SIGINT', () => child.kill('SIGINT'));
child.on('exit', (code, signal) => void stop(code ?? (signal ? 1 : 0)));
