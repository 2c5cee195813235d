/** PGlite folders for tests: initdb in WASM takes seconds, so one template is made and copied per test. */
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function createPgliteTemplate(dir: string): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = new PGlite(dir);
  await pg.waitReady;
  await pg.close();
}

let localTemplate: Promise<string> | undefined;

async function template(): Promise<string> {
  const given = process.env['SQLMIG_TEST_PGLITE_TEMPLATE'];
  if (given && existsSync(join(given, 'PG_VERSION'))) return given;
  localTemplate ??= (async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sqlmig-pglite-template-')), 'db');
    await createPgliteTemplate(dir);
    return dir;
  })();
  return localTemplate;
}

/** A new, empty PGlite folder (copied from the template) inside `parent`. */
export async function copyPgliteTemplate(parent: string): Promise<string> {
  const dir = join(parent, 'pglite-db');
  cpSync(await template(), dir, { recursive: true });
  return dir;
}
