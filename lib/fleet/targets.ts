/**
 * Where a fleet's databases come from: a targets file (`name=URL` or `URL` per line, `#` comments) or the
 * config's `targets` list. `${ENV_VAR}` in a URL is replaced from the environment, so no password needs to
 * sit in a file. Every problem is a usage error naming its line, found before any database is touched.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parseTarget } from '../config.js';
import { connectionKey, parseConnectionUri } from '../db/uri.js';
import { UsageError } from '../errors.js';
import { maskUrl, type Target } from '../db/url.js';

export interface FleetTarget {
  /** Unique within the fleet: given (`name=URL`) or taken from the URL (host/database). */
  name: string;
  target: Target;
  /** The URL with its password masked: safe to print. */
  display: string;
  /** --schemas: the schema that holds this tenant's tables and history table. */
  schema?: string;
  /** Where it was declared, for messages: `fleet.txt:3`. */
  source: string;
}

type Env = Record<string, string | undefined>;

interface Entry { name?: string; url: string; source: string }

const NAME = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The targets of a file; relative pglite: folders are relative to the file. */
export function readTargetsFile(file: string, env: Env = process.env): FleetTarget[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--targets ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const entries: Entry[] = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const source = `${file}:${i + 1}`;
    const named = NAME.exec(line);
    if (named) entries.push({ name: named[1]!, url: named[2]!.trim(), source });
    else entries.push({ url: line, source });
  });
  if (entries.length === 0) throw new UsageError(`--targets ${file}: no target in it; write one name=URL (or URL) per line`);
  return buildTargets(entries, env, dirname(resolve(file)));
}

/** The config's `targets`: a list of { name, url }; relative pglite: folders are relative to the package.json. */
export function configTargets(list: unknown, configFile: string, env: Env = process.env): FleetTarget[] {
  const where = `${configFile} "sqlmig".targets`;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`${where}: expected a list of { "name": …, "url": … }`);
  const entries = list.map((item: unknown, i): Entry => {
    const source = `${where}[${i}]`;
    const entry = (typeof item === 'string' ? { url: item } : item) as { name?: unknown; url?: unknown } | null;
    if (!entry || typeof entry.url !== 'string') throw new UsageError(`${source}: expected { "name": …, "url": … } with a url`);
    if (entry.name !== undefined && (typeof entry.name !== 'string' || !NAME.test(`${entry.name}=`))) {
      throw new UsageError(`${source}: name ${JSON.stringify(entry.name)} must be letters, digits, ".", "_" or "-"`);
    }
    return { name: entry.name as string | undefined, url: entry.url, source };
  });
  return buildTargets(entries, env, dirname(configFile));
}

function buildTargets(entries: Entry[], env: Env, base: string): FleetTarget[] {
  const seen = new Map<string, string>();
  return entries.map((entry) => {
    const url = relativeTo(base, expandEnv(entry.url, entry.source, env));
    if (url === '') throw new UsageError(`${entry.source}: no URL after the name`);
    const target = parseTarget(url, entry.source);
    const name = entry.name ?? nameFromUrl(target);
    const first = seen.get(name);
    if (first) {
      throw new UsageError(`${entry.source}: the name "${name}" is already used at ${first}; names must be unique` +
        `${entry.name ? '' : ' (a line without a name is named after its host and database: give it one with name=URL)'}`);
    }
    seen.set(name, entry.source);
    return { name, target, display: maskUrl(target.url), source: entry.source };
  });
}

export function expandEnv(text: string, source: string, env: Env): string {
  return text.replace(ENV_REF, (_all, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new UsageError(`${source}: \${${name}} is not set (or empty) in the environment`);
    return value;
  });
}

function relativeTo(base: string, url: string): string {
  if (!url.startsWith('pglite:') || url === 'pglite:memory') return url;
  const path = url.slice('pglite:'.length);
  return path && !isAbsolute(path) ? `pglite:${join(base, path)}` : url;
}

/** host/database (with the port when one is given), or the embedded folder's name. */
function nameFromUrl(target: Target): string {
  if (target.kind === 'pglite') return target.path ? basename(target.path) : 'memory';
  const parts = parseConnectionUri(target.url);
  const params = new Map(parts.params);
  const host = params.get('host') ?? (parts.hosts.join(',') || 'localhost');
  const port = params.get('port') ?? parts.ports.filter(Boolean).join(',');
  const database = params.get('dbname') ?? parts.database ?? params.get('user') ?? parts.user ?? '';
  return `${host.startsWith('/') ? 'local' : host}${port ? `:${port}` : ''}/${database}`;
}

/** `--only a,b`: keep those targets, in fleet order; an unknown name is a usage error. */
export function selectTargets(targets: FleetTarget[], only: string | undefined): FleetTarget[] {
  if (only === undefined) return targets;
  const wanted = only.split(',').map((n) => n.trim()).filter(Boolean);
  if (wanted.length === 0) throw new UsageError('--only: give target names, separated by commas');
  const known = new Set(targets.map((t) => t.name));
  const unknown = wanted.filter((n) => !known.has(n));
  if (unknown.length) throw new UsageError(`--only: no target named ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${[...known].join(', ')}`);
  return targets.filter((t) => wanted.includes(t.name));
}

/** verify checks the files on a scratch database of the target's server: one target per server answers for all. */
export function onePerServer(targets: FleetTarget[], env: Env = process.env): FleetTarget[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const server = t.target.kind === 'pglite' ? 'pglite:' : connectionKey(t.target.url, env).replace(/\/[^/]*$/, '');
    if (seen.has(server)) return false;
    seen.add(server);
    return true;
  });
}
