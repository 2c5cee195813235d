/** What `npm publish` would ship: only the entry point, the compiled library, the README, the LICENSE and package.json. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

test('npm pack holds only bin, dist, README.md, LICENSE and package.json; the LICENSE is the one package.json names', async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, maxBuffer: 16 * 1024 * 1024 }, (error, out) => (error ? reject(error) : resolve(out)));
  });
  const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
  const outside = files.filter((f) => !/^(bin\/|dist\/lib\/|dist\/cli\/)/.test(f) && !['README.md', 'LICENSE', 'package.json'].includes(f));
  assert.deepEqual(outside, []);
  for (const needed of ['bin/sqlmig', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/cli/main.js', 'LICENSE', 'README.md']) assert.ok(files.includes(needed), needed);
  const pkg = JSON.parse(readFileSync(`${repo}/package.json`, 'utf8'));
  assert.equal(pkg.license, 'MIT');
  assert.match(readFileSync(`${repo}/LICENSE`, 'utf8'), /^MIT License\n/);
  assert.ok(pkg.keywords.includes('postgresql'));
});

test('nothing of sqlmig runs at install time: the build runs on pack/publish (prepack) and in a clone\'s npm install (dependencies)', () => {
  const { scripts } = JSON.parse(readFileSync(`${repo}/package.json`, 'utf8'));
  // What npm counts as install scripts of a package installed from a tarball or git (and warns about).
  for (const installTime of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(scripts[installTime], undefined, installTime);
  assert.equal(scripts.build, 'tsc -p tsconfig.json && node scripts/bundle-cli.mjs');
  assert.equal(scripts.prepack, 'npm run build');
  assert.equal(scripts.dependencies, 'npm run build');
});

test('without dist/, bin/sqlmig says to run npm run build and exits 2 instead of a module-not-found stack', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'sqlmig-nodist-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'bin'));
  copyFileSync(`${repo}/bin/sqlmig`, join(root, 'bin/sqlmig'));
  copyFileSync(`${repo}/package.json`, join(root, 'package.json'));
  const ran = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(root, 'bin/sqlmig'), 'status'], { cwd: root }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
  });
  assert.equal(ran.code, 2);
  assert.equal(ran.stdout, '');
  assert.equal(ran.stderr, 'sqlmig: its compiled JavaScript (dist/) is missing. In a clone of sqlmig run `npm run build` ' +
    '(`npm install` does when it changes node_modules); in your project, reinstall sqlmig.\n');
});
