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

const only = process.argv.slice(2);
const files = only.length ? only : readdirSync('test').filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f));
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=3', ...files], {
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
