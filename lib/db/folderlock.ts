/**
 * An exclusive lock on an embedded database folder. PGlite's advisory locks stay inside one process,
 * and two processes that open the same folder silently lose writes, so every run holds this file lock.
 */
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockTimeout } from '../errors.js';
import { ensureFolder } from '../folders.js';

export interface FolderLock {
  path: string;
  release(): Promise<void>;
}

interface Holder { pid: number; host: string; since: string }

const POLL_MS = 100;

export async function acquireFolderLock(folder: string, timeoutMs: number): Promise<FolderLock> {
  const path = `${resolve(folder)}.lock`;
  ensureFolder(dirname(path));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryCreate(path)) return { path, release: async () => removeIfOurs(path) };
    const holder = readHolder(path);
    if (holder && isStale(holder)) {
      removeIfUnchanged(path, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder ? `pid ${holder.pid} on ${holder.host}, since ${holder.since}` : 'another process';
      throw new LockTimeout(`the embedded database ${folder} is in use by ${who}; waited ${timeoutMs} ms (--lock-timeout). If that process is gone, delete ${path}.`);
    }
    await sleep(POLL_MS);
  }
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  const holder: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  writeSync(fd, JSON.stringify(holder) + '\n');
  closeSync(fd);
  return true;
}

function readHolder(path: string): Holder | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    return null; // being written or just removed: look again
  }
}

/** A holder on this host whose process is gone (killed with -9, crashed) left a stale lock. */
function isStale(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function removeIfUnchanged(path: string, stale: Holder): void {
  const now = readHolder(path);
  if (now && now.pid === stale.pid && now.since === stale.since) {
    try { unlinkSync(path); } catch { /* someone else took it over first */ }
  }
}

function removeIfOurs(path: string): void {
  const holder = readHolder(path);
  if (holder && holder.pid === process.pid) {
    try { unlinkSync(path); } catch { /* already gone */ }
  }
}
