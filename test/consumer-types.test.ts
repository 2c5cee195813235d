/**
 * The package as a TypeScript consumer gets it: packed, installed from the tarball into an empty project,
 * and a consumer compiled against the published .d.ts — first with `--strict` alone and no @types/node,
 * then with exactOptionalPropertyTypes and skipLibCheck off (what `tsc --init` asks for), @types/node present.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

interface Ran { code: number; stdout: string; stderr: string }
function run(command: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let root = '';
let project = '';
let install: Ran;
/** Set when the registry could not be reached for the tarball's dependencies: every test then skips, saying so. */
let offline: string | null = null;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'sqlmig-consumer-'));
  // dist/ is what `npm run build` made before the tests; --ignore-scripts packs exactly that.
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], repo);
  assert.equal(pack.code, 0, pack.stderr);
  const tarball = join(root, JSON.parse(pack.stdout)[0].filename);
  project = join(root, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project);
  if (install.code !== 0 && /\b(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT)\b/.test(install.stderr)) {
    offline = `the npm registry is out of reach for the tarball's dependencies: ${install.stderr.split('\n')[0]}`;
  } else {
    assert.equal(install.code, 0, install.stderr);
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

test('installing the tarball into an empty project runs no script of sqlmig\'s and npm warns of none', (t) => {
  if (offline) return t.skip(offline);
  assert.doesNotMatch(install.stdout + install.stderr, /install.scripts|prepare|sqlmig@/i);
  assert.ok(existsSync(join(project, 'node_modules/sqlmig/dist/lib/index.d.ts')));
  assert.ok(!existsSync(join(project, 'node_modules/sqlmig/lib')), 'the sources stay out of the package');
});

/** Uses the API as a consumer would, optional fields given values that may be undefined (as from an env lookup). */
const CONSUMER = `import { createMigrator, Interrupted, SqlmigError, type MigratorOptions, type MigrateResult, type StatusResult, type UpOptions, type Migrator } from 'sqlmig';

declare const fromEnv: string | undefined;
const options: MigratorOptions = { url: fromEnv, dir: 'sql', schema: fromEnv, lockTimeoutMs: undefined };
const migrator: Migrator = createMigrator(options);
const upOptions: UpOptions = { to: fromEnv, dryRun: true };
const result: MigrateResult = await migrator.up(upOptions);
const status: StatusResult = await migrator.status();
const names: string[] = [...result.applied.map((step) => step.name), ...status.migrations.map((m) => m.version)];
try {
  await migrator.down({ count: 1, to: fromEnv });
  await migrator.diff({ schemaFile: fromEnv, name: fromEnv });
} catch (error) {
  if (error instanceof Interrupted) names.push(error.signal);
  if (error instanceof SqlmigError) names.push(String(error.exitCode));
}
export { names };
`;

function writeProject(name: string, compilerOptions: Record<string, unknown>, files: Record<string, string>): string {
  const dir = join(project, name);
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'NodeNext', strict: true, noEmit: true, ...compilerOptions },
    files: Object.keys(files),
  }));
  return dir;
}

test('the installed tarball type-checks a --strict consumer (module NodeNext) without @types/node', async (t) => {
  if (offline) return t.skip(offline);
  const dir = writeProject('strict', { types: [] }, { 'consumer.ts': CONSUMER });
  const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir);
  assert.equal(checked.stdout + checked.stderr, '');
  assert.equal(checked.code, 0);

  // The check has teeth: the package's own types are what it checks against, not `any`.
  const wrong = writeProject('strict-wrong', { types: [] }, { 'consumer.ts': `import { createMigrator } from 'sqlmig';\nawait createMigrator({ dir: 'sql' }).up({ step: 'two' });\n` });
  const refused = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], wrong);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stdout, /consumer\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number/);
});

test('with exactOptionalPropertyTypes and skipLibCheck off, the consumer and the README\'s library example type-check', async (t) => {
  if (offline) return t.skip(offline);
  // The README's example reads process.env, so this project has @types/node, as a Node project does.
  mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(repo, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'));
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const example = /^## Library\n+```ts\n([\s\S]*?)```/m.exec(readme)?.[1];
  assert.ok(example, 'the README has a ```ts block right under "## Library"');
  const dir = writeProject('exact', { exactOptionalPropertyTypes: true, skipLibCheck: false, types: ['node'] }, {
    'consumer.ts': CONSUMER,
    'readme-example.ts': `${example}export {};\n`,
  });
  const checked = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir);
  assert.equal(checked.stdout + checked.stderr, '');
  assert.equal(checked.code, 0);
});
