/**
 * How `--help` reads: a command's own flags first, then the global ones, then the fleet ones, then
 * examples. And what a mistyped flag says: the flag it most likely meant, as typed on a command line.
 */
import type { Argv } from 'yargs';

export const GLOBAL_OPTIONS = [
  'url', 'dir', 'config', 'schema', 'table', 'json', 'color', 'quiet', 'verbose', 'lock-timeout', 'statement-timeout',
  'ddl-lock-timeout', 'backup-dir', 'help', 'version',
];
export const FLEET_OPTIONS = ['targets', 'schemas', 'parallel', 'fail-fast', 'canary', 'only', 'yes-all-targets'];
const SHORT: Record<string, string> = { q: 'quiet', v: 'verbose', h: 'help', V: 'version' };

/** Flags each command added, filled as its builder runs (only the command being run builds). */
const ownOptions = new Map<string, string[]>();

/** Groups the global and fleet flags; call once on the top-level parser, after they are defined. */
export function groupGlobalOptions(cli: Argv): Argv {
  return cli.group(GLOBAL_OPTIONS, 'Global options:').group(FLEET_OPTIONS, 'Fleet options (with --targets or --schemas):');
}

/** At least one example per command: [command line, what it does]. */
const EXAMPLES: Record<string, [string, string][]> = {
  up: [['sqlmig up', 'apply every pending migration'], ['sqlmig up --dry-run', 'print the SQL that would run'], ['sqlmig up --to 012 --backup', 'back up, then apply up to 012']],
  down: [['sqlmig down', 'revert the newest applied migration'], ['sqlmig down 3', 'revert the newest three'], ['sqlmig down --to 005 --dry-run', 'print what reverting above 005 would run']],
  redo: [['sqlmig redo', 'revert and re-apply the newest migration while writing it']],
  status: [['sqlmig status', 'every migration and whether it is applied'], ['sqlmig status --check', 'exit 7 in CI when something is pending']],
  current: [['sqlmig current', 'e.g. 009_daily_calories_view (head)']],
  history: [['sqlmig history --json', 'applied migrations as JSON']],
  create: [['sqlmig create "add timezone to user"', 'two files to fill in'], ['sqlmig create "add timezone" --up "ALTER TABLE users ADD timezone text"', 'the up file filled in']],
  validate: [['sqlmig validate', 'check files against the database (exit 3 on a problem)']],
  repair: [['sqlmig repair 004', 'accept the edited file of applied migration 004']],
  stamp: [['sqlmig stamp 009', 'record 001–009 as applied on a database that already has them']],
  forget: [['sqlmig forget 010', 'drop the history row of 010 without running anything']],
  renumber: [['sqlmig renumber --dry-run', 'show how conflicting versions would be renamed']],
  backup: [['sqlmig backup', 'pg_dump into ./backups'], ['sqlmig backup --out before.dump', 'pg_dump into a file of your choosing']],
  restore: [['sqlmig restore backups/fitbud-….dump --force', 'put the database back as it was in the backup']],
  verify: [['sqlmig verify', 'apply, revert, re-apply each migration on a scratch database']],
  'dump-schema': [['sqlmig dump-schema --out schema.sql', 'write the migrated schema for review']],
  lint: [['sqlmig lint', 'lint the pending migrations'], ['sqlmig lint --all --trace', 'every migration, with the locks a trial run takes']],
  diff: [['sqlmig diff', 'write the migration pair that makes the database look like schema.sql'], ['sqlmig diff --check', 'exit 3 in CI when schema.sql and the migrations disagree']],
  drift: [['sqlmig drift', 'exit 3 when the database was changed outside migrations']],
  completion: [['sqlmig completion >> ~/.bashrc', 'tab completion in bash (zsh: >> ~/.zshrc)']],
};

/**
 * Every command's help the same way, without touching the commands' builders: their own flags
 * (whatever they add) first, under "Options:", then the global and fleet groups, then examples.
 */
export function groupCommandHelp(cli: Argv): Argv {
  const command = cli.command.bind(cli) as (...args: unknown[]) => Argv;
  (cli as unknown as { command: unknown }).command = (spec: unknown, description: unknown, builder?: unknown, ...rest: unknown[]) => {
    const name = String(spec).split(' ')[0]!;
    const built = (y: Argv) => {
      const made = typeof builder === 'function' ? ((builder as (y: Argv) => Argv | void)(y) ?? y) : builder ? y.options(builder as Record<string, never>) : y;
      const positionals = [...String(spec).matchAll(/[<[]([\w-]+)/g)].map((m) => m[1]!);
      return withHelp(made, name, positionals, EXAMPLES[name] ?? []);
    };
    command(spec, description, built, ...rest);
    return cli;
  };
  return cli;
}

function withHelp(y: Argv, command: string, positionals: string[], examples: [string, string][]): Argv {
  const options = (y as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }).getOptions();
  const shared = new Set([...GLOBAL_OPTIONS, ...FLEET_OPTIONS, '$0', '_', ...positionals, ...Object.values(options.alias).flat()]);
  const own = Object.keys(options.key).filter((k) => !shared.has(k));
  ownOptions.set(command, own);
  for (const [line, what] of examples) y = y.example(line, what);
  return own.length ? y.group(own, 'Options:') : y;
}

/**
 * yargs' "Unknown argument: dryrun" as a user would want it: the flag as typed, the flag it most
 * likely meant, and where the list is; an extra positional is named as such.
 */
export function unknownArgumentMessage(message: string, argv: readonly string[]): string {
  const command = argv.find((a) => !a.startsWith('-')) ?? '';
  const known = [...(ownOptions.get(command) ?? []), ...GLOBAL_OPTIONS, ...(ownOptions.has(command) ? FLEET_OPTIONS : [])];
  const unknown: string[] = [];
  for (const arg of argv) {
    if (arg === '--') break;
    if (!arg.startsWith('-') || /^-\d/.test(arg)) continue;
    const typed = arg.split('=')[0]!;
    if (!typed.startsWith('--')) {
      if ([...typed.slice(1)].every((c) => SHORT[c])) continue;
      unknown.push(typed);
      continue;
    }
    const name = typed.slice(2).replace(/^no-/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!known.includes(name)) unknown.push(typed);
  }
  if (!unknown.length) {
    const extra = message.replace(/^Unknown arguments?:\s*/, '');
    return `unexpected argument${extra.includes(',') ? 's' : ''} ${extra} (sqlmig ${ownOptions.has(command) ? `${command} ` : ''}--help shows what it takes)`;
  }
  const parts = unknown.map((typed) => {
    const guess = closest(typed.replace(/^-+/, '').replace(/^no-/, ''), known);
    return guess ? `unknown flag ${typed}: did you mean --${guess}?` : `unknown flag ${typed}`;
  });
  return `${parts.join('; ')} (sqlmig ${ownOptions.has(command) ? `${command} ` : ''}--help lists the flags)`;
}

/** The known flag nearest to the typed one, if it is near enough to be a typo. */
function closest(typed: string, known: string[]): string | null {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = distance(plain(typed), plain(name));
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(plain(best).length / 3)) ? best : null;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}
