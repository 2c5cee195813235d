/** Where the CLI writes: stdout for results, stderr for diagnostics; JSON mode keeps stdout to one document. */
import kleur from 'kleur';
import type { StepEvent } from '../runner/execute.js';
import type { RowsProgress } from '../runner/context.js';
import { formatStepEvent } from '../report/text.js';
import { maskUrl } from '../db/url.js';

export interface OutputFlags { json?: boolean; quiet?: boolean; verbose?: boolean; color?: boolean }

const SLOW_MS = 2000;
/** Runs of this many migrations or fewer need no counter. */
const COUNTER_FROM = 5;

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  private progressTimer: NodeJS.Timeout | null = null;
  private progressShown = false;

  constructor(flags: OutputFlags, private readonly stdout = process.stdout, private readonly stderr = process.stderr) {
    this.json = Boolean(flags.json);
    this.quiet = Boolean(flags.quiet);
    this.verbose = Boolean(flags.verbose) && !this.quiet;
    // FORCE_COLOR (CI logs that render colour) turns it on off a terminal; --no-color and NO_COLOR still win.
    const forced = process.env['FORCE_COLOR'] !== undefined && !['0', 'false'].includes(process.env['FORCE_COLOR']);
    kleur.enabled = flags.color !== false && !process.env['NO_COLOR'] && (Boolean(stdout.isTTY) || forced) && !this.json;
  }

  /** The command's result: text on stdout, or the JSON document. */
  result(text: string, data: unknown): void {
    if (this.json) this.stdout.write(JSON.stringify(data, jsonValue, 2) + '\n');
    else if (!this.quiet && text) this.stdout.write(text + '\n');
  }

  /** A line about progress; in JSON mode it goes to stderr so stdout stays one document. */
  progress(line: string): void {
    if (this.quiet) return;
    this.clearProgress();
    (this.json ? this.stderr : this.stdout).write(line + '\n');
  }

  info(line: string): void {
    if (this.quiet) return;
    this.clearProgress();
    this.stderr.write(maskUrl(line) + '\n');
  }

  /**
   * A batched online pass: on a terminal, one line rewritten in place (`rows of ~total`); in logs, a
   * line per 100,000 rows with --verbose only, so a long backfill does not flood them.
   */
  onRows = (p: RowsProgress): void => {
    if (this.quiet) return;
    const of = p.of ? ` of ~${p.of.toLocaleString('en')} (${Math.min(100, Math.floor((100 * p.rows) / p.of))}%)` : '';
    const line = `${p.migration}: ${p.step}: ${p.rows.toLocaleString('en')} rows${of}`;
    if (this.stderr.isTTY) {
      this.stopTimer();
      this.stderr.write(`\r\x1b[2K${kleur.dim(line.slice(0, (this.stderr.columns || 120) - 1))}`);
      this.progressShown = true;
    } else if (this.verbose && Math.floor(p.rows / 100_000) !== Math.floor(this.lastRows / 100_000)) {
      this.debug(line);
    }
    this.lastRows = p.rows;
  };
  private lastRows = 0;

  debug(line: string): void {
    if (this.verbose) this.stderr.write(kleur.dim(maskUrl(line)) + '\n');
  }

  error(code: number, message: string): void {
    this.clearProgress();
    const masked = maskUrl(message);
    if (this.json) this.stdout.write(JSON.stringify({ error: { code, message: masked } }, null, 2) + '\n');
    this.stderr.write(`${kleur.red('error:')} ${masked}\n`);
  }

  onStep = (event: StepEvent): void => {
    this.stopTimer();
    if (event.type === 'start') {
      if (!this.quiet && this.stderr.isTTY) this.watchSlowStep(event);
      return;
    }
    const line = formatStepEvent(event);
    if (line) this.progress(this.counter(event) + line);
  };

  /** On a terminal, a run of more than a handful of migrations numbers each line: `[ 7/40] applied …`. */
  private counter(event: StepEvent): string {
    const p = event.position;
    if (!p || p.of <= COUNTER_FROM || this.json || !this.stdout.isTTY) return '';
    const width = String(p.of).length;
    return kleur.dim(`[${String(p.n).padStart(width)}/${p.of}] `);
  }

  /** On a terminal, a migration that runs for a while says it is still running. */
  private watchSlowStep(event: Extract<StepEvent, { type: 'start' }>): void {
    const started = Date.now();
    const first = event.step.script.statements?.[0]?.sql.split('\n')[0]?.slice(0, 60) ?? '';
    const id = `${event.step.versionText}_${event.step.name}`;
    this.progressTimer = setTimeout(function tick(this: Output) {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      this.stderr.write(`\r\x1b[2K${kleur.yellow('running')}  ${id}  ${seconds}s  ${kleur.dim(first)}`);
      this.progressShown = true;
      this.progressTimer = setTimeout(tick.bind(this), 1000);
    }.bind(this), SLOW_MS);
  }

  private stopTimer(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = null;
    this.clearProgress();
  }

  private clearProgress(): void {
    if (this.progressShown) this.stderr.write('\r\x1b[2K');
    this.progressShown = false;
  }
}

function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
