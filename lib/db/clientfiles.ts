/** This machine as conninfo.ts sees it: the OS user, the home folder, and files read on demand. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import type { ClientFiles } from './conninfo.js';

export function clientFiles(env: Record<string, string | undefined> = process.env): ClientFiles {
  return {
    platform: process.platform,
    osUser: osUser(env),
    home: env['HOME'] || safe(() => homedir()) || null,
    appData: env['APPDATA'],
    read(path) {
      try {
        const stat = statSync(path);
        return { text: stat.isFile() ? readFileSync(path, 'utf8') : '', isFile: stat.isFile(), mode: stat.mode };
      } catch {
        return null; // missing or unreadable: as libpq, act as if it were not there
      }
    },
    exists: (path) => existsSync(path),
  };
}

function osUser(env: Record<string, string | undefined>): string {
  return safe(() => userInfo().username) || env['USER'] || env['USERNAME'] || 'postgres';
}

function safe(fn: () => string): string | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
