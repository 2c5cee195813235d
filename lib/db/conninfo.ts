/**
 * URL + environment → connection settings, by libpq's conventions: what the URL gives wins, then the PG*
 * variables, then the defaults (a Unix socket in the usual folder, port 5432, the OS user, the password file).
 * Pure: files are read through `ClientFiles`, so tests give literals. The same settings feed postgres.js
 * (driverOptions) and pg_dump (libpqEnvironment), so both reach the same server as the same user.
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { pgpassLookup, pgpassRefusal } from './pgpass.js';
import { parseConnectionUri, type UriParts } from './uri.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface Endpoint {
  /** Host name, IP address, or socket folder. */
  host: string;
  port: number;
  /** `<folder>/.s.PGSQL.<port>` when the host is a folder. */
  socket?: string;
}

export interface ConnInfo {
  endpoints: Endpoint[];
  /** hostaddr: connect to these addresses, keep `host` for certificates and the password file. */
  hostaddrs: string[];
  user: string;
  password?: string;
  /** Where the password came from, for hints: 'the URL', 'PGPASSWORD' or the password file's path. */
  passwordFrom?: string;
  database: string;
  sslmode: SslMode;
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  applicationName: string;
  /** libpq's `options` (e.g. `-c search_path=app`), sent as the startup parameter of that name. */
  options?: string;
  connectTimeoutS: number;
  targetSessionAttrs?: string;
  /** Query parameters that are not libpq's: server settings sent at startup (search_path=…). */
  settings: Record<string, string>;
  /** Said to the user, not fatal (an ignored password file). */
  warnings: string[];
}

/** What the client machine knows: its user, home, and files. */
export interface ClientFiles {
  platform: string;
  osUser: string;
  home: string | null;
  /** APPDATA on Windows (the password file lives under it). */
  appData?: string;
  /** A file's text and mode, or null when it does not exist. */
  read(path: string): { text: string; isFile: boolean; mode: number } | null;
  exists(path: string): boolean;
}

type Env = Record<string, string | undefined>;

/** Where libpq builds look for the server's socket when no host is given. */
export const DEFAULT_SOCKET_DIRS = ['/var/run/postgresql', '/run/postgresql', '/tmp'];
const DEFAULT_CONNECT_TIMEOUT_S = 10;

/** Keywords libpq knows that change nothing for sqlmig's connections. */
const HARMLESS = new Set([
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'sslcompression', 'sslsni',
  'gsslib', 'krbsrvname', 'load_balance_hosts', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'sslnegotiation',
]);
/** Keywords whose promise sqlmig cannot keep: refused rather than silently weakened. */
const UNSUPPORTED = new Set([
  'service', 'replication', 'require_auth', 'requirepeer', 'channel_binding', 'gssencmode', 'gssdelegation', 'sslcrl', 'sslcrldir',
  'sslpassword', 'sslcertmode', 'client_encoding',
]);

export function resolveConnection(url: string, env: Env, files: ClientFiles, flag = '--url'): ConnInfo {
  const parts = parseConnectionUri(url, flag);
  const params = paramsOf(parts, flag);
  const pick = (key: string, envName: string) => params.get(key) || env[envName] || undefined;
  const hostList = listOf(params.get('host') || (parts.hosts.length ? parts.hosts.join(',') : '') || env['PGHOST']);
  const portList = listOf(params.get('port') || (parts.ports.length ? parts.ports.join(',') : '') || env['PGPORT']);
  const endpoints = endpointsOf(hostList, portList, files, flag);
  const user = params.get('user') || parts.user || env['PGUSER'] || files.osUser;
  const database = params.get('dbname') || parts.database || env['PGDATABASE'] || user;
  const sslrootcert = pick('sslrootcert', 'PGSSLROOTCERT');
  const info: ConnInfo = {
    endpoints,
    hostaddrs: listOf(pick('hostaddr', 'PGHOSTADDR')),
    user,
    database,
    sslmode: sslModeOf(params.get('sslmode') || env['PGSSLMODE'] || (env['PGREQUIRESSL']?.startsWith('1') ? 'require' : undefined) ||
      (sslrootcert === 'system' ? 'verify-full' : 'prefer'), params.has('sslmode') ? `${flag} sslmode` : 'PGSSLMODE'),
    sslrootcert,
    sslcert: pick('sslcert', 'PGSSLCERT'),
    sslkey: pick('sslkey', 'PGSSLKEY'),
    applicationName: pick('application_name', 'PGAPPNAME') || params.get('fallback_application_name') || 'sqlmig',
    options: pick('options', 'PGOPTIONS'),
    connectTimeoutS: timeoutOf(pick('connect_timeout', 'PGCONNECT_TIMEOUT'), flag),
    targetSessionAttrs: sessionAttrsOf(pick('target_session_attrs', 'PGTARGETSESSIONATTRS'), flag),
    settings: Object.fromEntries([...params].filter(([k]) => !LIBPQ_KEYS.has(k))),
    warnings: [],
  };
  if (info.hostaddrs.length && info.hostaddrs.length !== endpoints.length) {
    throw new UsageError(`${flag}: hostaddr lists ${info.hostaddrs.length} addresses for ${endpoints.length} hosts`);
  }
  const password = params.get('password') || parts.password;
  if (password) Object.assign(info, { password, passwordFrom: 'the URL' });
  else if (env['PGPASSWORD']) Object.assign(info, { password: env['PGPASSWORD'], passwordFrom: 'PGPASSWORD' });
  else lookUpPassword(info, pick('passfile', 'PGPASSFILE') ?? defaultPassfile(files), files);
  return info;
}

const LIBPQ_KEYS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey',
  'application_name', 'fallback_application_name', 'options', 'connect_timeout', 'target_session_attrs', 'ssl', 'requiressl',
  ...HARMLESS, ...UNSUPPORTED,
]);

/** Query parameters, a later one winning; JDBC's ssl=true and the old requiressl as libpq reads them. */
function paramsOf(parts: UriParts, flag: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of parts.params) {
    if (UNSUPPORTED.has(key) && !(key === 'client_encoding' && /^(utf-?8|unicode)$/i.test(value))) {
      throw new UsageError(`${flag}: the connection parameter ${key} is not supported by sqlmig; remove it (or run pg_dump/psql for that connection)`);
    }
    if (key === 'ssl') params.set('sslmode', value === 'true' ? 'require' : value === 'false' ? 'disable' : value);
    else if (key === 'requiressl') params.set('sslmode', value.startsWith('1') ? 'require' : 'prefer');
    else params.set(key, value);
  }
  return params;
}

function listOf(text: string | undefined): string[] {
  return text ? text.split(',').map((s) => s.trim()) : [];
}

function endpointsOf(hosts: string[], ports: string[], files: ClientFiles, flag: string): Endpoint[] {
  if (ports.length > 1 && ports.length !== Math.max(hosts.length, 1)) {
    throw new UsageError(`${flag}: ${ports.length} ports for ${Math.max(hosts.length, 1)} hosts; give one port, or one per host`);
  }
  const portOf = (i: number) => {
    const text = (ports.length === 1 ? ports[0] : ports[i]) || '5432';
    const port = Number(text);
    if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`${flag}: port "${text}" is not a port number (1-65535)`);
    return port;
  };
  const list = (hosts.length ? hosts : ['']).map((host, i): Endpoint => {
    const port = portOf(i);
    if (host === '') return defaultEndpoint(port, files);
    return isSocketFolder(host) ? { host, port, socket: socketPath(host, port) } : { host, port };
  });
  if (list.length > 1 && list.some((e) => e.socket)) {
    throw new UsageError(`${flag}: a socket folder cannot be combined with other hosts; give one host`);
  }
  return list;
}

/** No host: like libpq, the server's socket in the usual folder; localhost over TCP where there is none. */
function defaultEndpoint(port: number, files: ClientFiles): Endpoint {
  if (files.platform !== 'win32') {
    for (const dir of DEFAULT_SOCKET_DIRS) {
      const socket = socketPath(dir, port);
      if (files.exists(socket)) return { host: dir, port, socket };
    }
  }
  return { host: 'localhost', port };
}

export function isSocketFolder(host: string): boolean {
  return host.startsWith('/');
}

function socketPath(dir: string, port: number): string {
  return `${dir.replace(/\/+$/, '')}/.s.PGSQL.${port}`;
}

function sslModeOf(text: string, source: string): SslMode {
  if ((SSL_MODES as readonly string[]).includes(text)) return text as SslMode;
  throw new UsageError(`${source}: "${text}" is not an sslmode; use one of ${SSL_MODES.join(', ')}`);
}

const SESSION_ATTRS = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'];

function sessionAttrsOf(text: string | undefined, flag: string): string | undefined {
  if (text === undefined || SESSION_ATTRS.includes(text)) return text;
  throw new UsageError(`${flag}: target_session_attrs "${text}" is not one of ${SESSION_ATTRS.join(', ')}`);
}

function timeoutOf(text: string | undefined, flag: string): number {
  if (text === undefined) return DEFAULT_CONNECT_TIMEOUT_S;
  const seconds = Number(text.trim());
  if (!Number.isInteger(seconds) || seconds < 0) throw new UsageError(`${flag}: connect_timeout "${text}" is not a whole number of seconds`);
  // libpq: 0 waits forever, and anything under 2 s means 2 s.
  return seconds === 0 ? 0 : Math.max(seconds, 2);
}

function defaultPassfile(files: ClientFiles): string | undefined {
  if (files.platform === 'win32') return files.appData ? join(files.appData, 'postgresql', 'pgpass.conf') : undefined;
  return files.home ? join(files.home, '.pgpass') : undefined;
}

function lookUpPassword(info: ConnInfo, file: string | undefined, files: ClientFiles): void {
  if (!file) return;
  const found = files.read(file);
  if (!found) return;
  const refusal = pgpassRefusal(file, found, files.platform);
  if (refusal) {
    info.warnings.push(refusal);
    return;
  }
  for (const [i, endpoint] of info.endpoints.entries()) {
    const password = pgpassLookup(found.text, {
      host: pgpassHost(endpoint, info.hostaddrs[i]), port: String(endpoint.port), database: info.database, user: info.user,
    });
    if (password) {
      Object.assign(info, { password, passwordFrom: file });
      return;
    }
  }
}

/** libpq matches "localhost" for a connection through the default socket folder, else the host as given. */
function pgpassHost(endpoint: Endpoint, hostaddr: string | undefined): string {
  if (endpoint.socket && DEFAULT_SOCKET_DIRS.includes(endpoint.host.replace(/\/+$/, ''))) return 'localhost';
  return endpoint.host || hostaddr || 'localhost';
}
