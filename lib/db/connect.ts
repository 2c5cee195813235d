import type { Target } from '../url.js';
import type { ConnectOptions, Db } from './index.js';

export interface OpenOptions extends ConnectOptions {
  lockTimeoutMs: number;
}

/** Open the target; each adapter's driver is imported only when it is used. */
export async function openDb(target: Target, options: OpenOptions): Promise<Db> {
  if (target.kind === 'pglite') {
    const { connectPglite } = await import('./pglite.js');
    return connectPglite(target.path, options);
  }
  const { connectServer } = await import('./server.js');
  return connectServer(target.url, options);
}
