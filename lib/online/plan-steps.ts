/** Plan the pending migrations that run online, in order, against the live catalog; refuse before anything runs. */
import type { Db } from '../db/index.js';
import { Refused } from '../errors.js';
import { applyStatement } from '../lint/known.js';
import { parseText } from '../lint/parse.js';
import { loadParser } from '../migrations/sql.js';
import type { PreparedStep } from '../runner/execute.js';
import { readLiveFacts, type LiveFacts } from './facts.js';
import { planOnline } from './planner.js';
import { wantsOnline } from './wants.js';
import type { OnlinePlan, OnlineRefusal, PlannerOptions } from './types.js';

/** For each step, its online plan, or null when it runs as the runner runs it (online off, or `-- sqlmig:offline`). */
export type OnlinePlans = (OnlinePlan | null)[];


export async function planSteps(db: Db, steps: readonly PreparedStep[], online: boolean, options: PlannerOptions): Promise<{ plans: OnlinePlans; facts: LiveFacts | null }> {
  if (!steps.some((s) => wantsOnline(s, online))) return { plans: steps.map(() => null), facts: null };
  const lib = await loadParser();
  const facts = await readLiveFacts(db);
  const refusals: OnlineRefusal[] = [];
  const plans = steps.map((step): OnlinePlan | null => {
    const id = `${step.versionText}_${step.name}`;
    const statements = parseText(lib, step.script.text).statements ?? [];
    if (!wantsOnline(step, online)) {
      for (const s of statements) applyStatement(facts.known, s.kind, s.node, { migration: id, fresh: true });
      return null;
    }
    const { plan, refusals: found } = planOnline({
      lib, migration: id, path: step.script.path, statements, transactional: step.script.transactional, known: facts.known, facts: facts.tables, options,
    });
    refusals.push(...found);
    return plan;
  });
  if (refusals.length) throw new Refused(refusalMessage(refusals));
  return { plans, facts };
}

function refusalMessage(refusals: OnlineRefusal[]): string {
  const lines = refusals.map((r) => `${r.path}:${r.line}:${r.col}: ${r.statement}\n  ${r.why}.`);
  return `refusing to migrate online, nothing was run: ${refusals.length === 1 ? 'a statement has' : `${refusals.length} statements have`} no online form and would block:\n${lines.join('\n')}\n` +
    'Choices: put `-- sqlmig:offline` at the top of the file to run it as written (it blocks while it works; run it when traffic allows), ' +
    'or rewrite it the way `sqlmig lint` recommends.';
}
