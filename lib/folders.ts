/**
 * Creating a folder and its missing parents without Node's recursive mkdir, which never returns on
 * some file systems: under /proc, mkdir answers ENOENT although the parent exists, and Node 20 retries
 * forever at 100% CPU. Walk up to the first folder that exists, check that it is a writable folder,
 * then create each missing level on its own.
 */
import { accessSync, constants, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The folder cannot be used; `reason` says why in words, for the caller's message. */
export class FolderUnusable extends Error {
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`${path}: ${reason}`, options);
    this.path = path;
    this.reason = reason;
  }
}

/** Make sure `path` is a folder this process can write in, creating what is missing (each level with `mode`). */
export function ensureFolder(path: string, mode = 0o777): void {
  const target = resolve(path);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    const stats = statOrNull(existing);
    if (stats) {
      if (!stats.isDirectory()) throw new FolderUnusable(target, `${existing} is a file, not a folder`);
      break;
    }
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) throw new FolderUnusable(target, 'no part of this path exists');
    existing = parent;
  }
  requireWritable(target, existing, missing.length > 0);
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && statOrNull(folder)?.isDirectory()) continue; // made by another process meanwhile
      throw new FolderUnusable(target, `cannot create ${folder}: ${describe(error, dirname(folder))}`, { cause: error });
    }
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null; // ENOTDIR: a parent is a file, found on the way up
    throw new FolderUnusable(path, describe(error, path), { cause: error });
  }
}

function requireWritable(target: string, folder: string, creating: boolean): void {
  try {
    accessSync(folder, constants.W_OK | constants.X_OK);
  } catch (error) {
    const what = creating ? `cannot create folders in ${folder}` : `cannot write in ${folder}`;
    throw new FolderUnusable(target, `${what}: ${describe(error, folder)}`, { cause: error });
  }
}

function describe(error: unknown, parent: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES': case 'EPERM': return `permission denied (${code})`;
    case 'EROFS': return `read-only file system (${code})`;
    case 'ENOSPC': return `no space left on the device (${code})`;
    // The parent exists (checked on the way up), yet mkdir says it does not: /proc, /sys and the like.
    case 'ENOENT': return `the file system of ${parent} does not allow new folders (${code})`;
    default: return (error as Error).message;
  }
}
