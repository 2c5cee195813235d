/** sqlmig's own package.json. */
import { existsSync, readFileSync } from 'node:fs';

/**
 * The nearest package.json above this module: sqlmig's, whether it runs from the sources (lib/),
 * compiled (dist/lib/) or bundled (dist/cli/), in a clone or installed in node_modules.
 */
export function ownPackageJson(): { version: string; dependencies: Record<string, string> } {
  for (let folder = new URL('./', import.meta.url); ; folder = new URL('../', folder)) {
    const file = new URL('package.json', folder);
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof ownPackageJson>;
    if (folder.pathname === '/') throw new Error(`sqlmig: no package.json above ${import.meta.url}`);
  }
}
