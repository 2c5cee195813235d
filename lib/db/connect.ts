import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Target } from './url.js';
import type { ConnectOptions, Db } from './index.js';

export interface OpenOptions extends ConnectOptions {
  lockTimeoutMs: number;
  /** The operation only reads: an embedded folder that does not exist yet is read as an empty database, and nothing is created. */
  readOnly?: boolean;
}

/** Open the target; each adapter's driver is imported only when it is used. */
export async function openDb(target: Target, options: OpenOptions): Promise<Db> {
  if (target.kind === 'pglite') {
    const { connectPglite } = await import('./pglite.js');
    if (target.path && options.readOnly && !existsSync(join(target.path, 'PG_VERSION'))) {
      // status, --dry-run and the like on a folder that is not created yet: an empty database in memory answers.
      return { ...(await connectPglite(null, options)), display: target.url };
    }
    return connectPglite(target.path, options);
  }
  const { connectServer } = await import('./server.js');
  return connectServer(target.url, options);
}
