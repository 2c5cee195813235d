/** Does a pending file run in its online form: --online (or config) unless `-- sqlmig:offline`, or `-- sqlmig:online`. */
import { readDirectives } from '../migrations/directives.js';
import type { PreparedStep } from '../runner/execute.js';

export function wantsOnline(step: PreparedStep, online: boolean): boolean {
  const directives = readDirectives(step.script.text, step.script.path);
  if (directives.offline) return false;
  return online || directives.online;
}
