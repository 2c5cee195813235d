/**
 * A new embedded database starts from a cached copy of an empty one. Creating it from scratch runs
 * initdb in WASM (3–8 s, ~850 MB peak); loading the cached tarball takes under a second and ~390 MB.
 * The cache is made once per machine and PGlite version, in $XDG_CACHE_HOME/sqlmig (or ~/.cache/sqlmig).
 * It only ever saves time: a cache that cannot be read or written is ignored.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { ensureFolder } from '../folders.js';
import { ownPackageJson } from '../package-json.js';

function templateFile(): string | null {
  const base = process.env['XDG_CACHE_HOME'] || (homedir() ? join(homedir(), '.cache') : null);
  if (!base) return null;
  const pkg = ownPackageJson();
  const version = (pkg.dependencies['@electric-sql/pglite'] ?? 'unknown').replace(/[^0-9a-z.]/gi, '');
  return join(base, 'sqlmig', `pglite-${version}-empty.tar.gz`);
}

export function readTemplate(): Blob | undefined {
  try {
    const file = templateFile();
    return file && existsSync(file) ? new Blob([readFileSync(file)]) : undefined;
  } catch {
    return undefined;
  }
}

/** Save a just-created, still empty database as the template for the next ones. */
export async function saveTemplate(pg: PGlite): Promise<void> {
  let file: string | null;
  try {
    file = templateFile();
  } catch {
    return;
  }
  if (!file) return;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const tarball = await pg.dumpDataDir('gzip');
    ensureFolder(join(file, '..'));
    await writeFile(tmp, Buffer.from(await tarball.arrayBuffer()));
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true });
  }
}

export async function forgetTemplate(): Promise<void> {
  const file = (() => { try { return templateFile(); } catch { return null; } })();
  if (file) await rm(file, { force: true }).catch(() => {});
}
