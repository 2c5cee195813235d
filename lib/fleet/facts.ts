/** Pure: what one target's command result says, as the fleet report's cells and JSON fields. */
import type { CurrentResult, StatusResult } from '../commands/inspect.js';
import type { ValidateResult } from '../commands/integrity.js';
import type { MigrateResult } from '../commands/migrate.js';
import type { VerifyResult } from '../commands/verify.js';
import type { StepResult } from '../runner/execute.js';
import type { TargetFacts } from './report.js';

/** The commands a fleet runs, and the columns each shows next to the target. */
export const FLEET_COLUMNS: Record<string, string[]> = {
  up: ['before → after', 'applied'],
  down: ['before → after', 'reverted'],
  status: ['current', 'pending', 'edited', 'missing'],
  current: ['current'],
  validate: ['problems'],
  verify: ['problems'],
  drift: ['drift'],
};

export interface FactsInput {
  command: string;
  /** The command's result, when it returned one. */
  data?: unknown;
  /** up/down: the version before, and (down) after. */
  before?: CurrentResult | null;
  after?: CurrentResult | null;
  /** A failed up/down: the steps that completed before the failure. */
  completed?: StepResult[];
}

export function targetFacts(input: FactsInput): TargetFacts {
  switch (input.command) {
    case 'up':
    case 'down': return migrateFacts(input);
    case 'status': return statusFacts(input.data as StatusResult | undefined);
    case 'current': {
      const r = input.data as CurrentResult | undefined;
      return r ? { cells: { current: r.text }, line: r.text, json: { current: r.current, result: r } } : NONE;
    }
    case 'validate': {
      const r = input.data as ValidateResult | undefined;
      if (!r) return NONE;
      const problems = r.ok ? 'no problem' : plural(r.problems.length, 'problem');
      return { cells: { problems }, line: problems, json: { result: r } };
    }
    case 'verify': {
      const r = input.data as VerifyResult | undefined;
      if (!r) return NONE;
      const failed = r.findings.filter((f) => f.status === 'failed' || f.status === 'not-run').length;
      const problems = failed ? `${plural(failed, 'migration')} not reverted cleanly` : 'every down round-trips';
      return { cells: { problems }, line: problems, json: { result: r } };
    }
    case 'drift': {
      const r = input.data as { drift: boolean; differences: unknown[] } | undefined;
      if (!r) return NONE;
      const drift = r.drift ? plural(r.differences.length, 'difference') : 'no drift';
      return { cells: { drift }, line: drift, json: { result: r } };
    }
    default: return { cells: {}, line: '', json: input.data === undefined ? {} : { result: input.data } };
  }
}

function migrateFacts(input: FactsInput): TargetFacts {
  if (input.before === undefined || input.before === null) return NONE;
  const result = input.data as MigrateResult | undefined;
  const up = input.command === 'up';
  const done = result ? (up ? result.applied : result.reverted) : input.completed ?? [];
  const before = input.before.current;
  const after = up ? (done.at(-1)?.version ?? before) : input.after ? input.after.current : null;
  const version = `${before ?? '(none)'} → ${input.after === null && !up ? '?' : after ?? '(none)'}`;
  const verb = up ? 'applied' : 'reverted';
  const count = result?.dryRun ? `would ${up ? 'apply' : 'revert'} ${result.dryRun.length}` : String(done.length);
  return {
    cells: { 'before → after': version, [verb]: count },
    line: `${version}  ${result?.dryRun ? count : `${count} ${verb}`}`,
    json: { before, after, [up ? 'applied' : 'reverted']: done.length, ...(result ? { result } : {}) },
  };
}

function statusFacts(r: StatusResult | undefined): TargetFacts {
  if (!r) return NONE;
  const edited = r.migrations.filter((m) => m.state === 'edited').map((m) => m.version);
  const missing = r.migrations.filter((m) => m.state === 'missing').map((m) => m.version);
  const cells = { current: r.current ?? '(none)', pending: String(r.pending), edited: edited.join(',') || '-', missing: missing.join(',') || '-' };
  const line = [`current ${cells.current}`, `${r.pending} pending`, ...(edited.length ? [`edited ${cells.edited}`] : []), ...(missing.length ? [`missing ${cells.missing}`] : [])];
  return {
    cells,
    line: line.join('  '),
    json: { current: r.current, head: r.head, pending: r.pending, edited, missing, result: r },
  };
}

const NONE: TargetFacts = { cells: {}, line: '', json: {} };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
