/**
 * libpq's connection URI, read as libpq reads it (postgresql://[user[:password]@][host][:port][,…][/dbname][?key=value&…]),
 * with one difference: the user information ends at the last `@` before the host, so an unencoded `@` in a
 * password belongs to the password (libpq would take the rest as the host name and fail). Pure: no I/O.
 */
import { UsageError } from '../errors.js';

export interface UriParts {
  user?: string;
  password?: string;
  /** Host names, IP addresses (IPv6 without brackets) or socket folders, as decoded; '' for "not given". */
  hosts: string[];
  /** Port texts as given, one per host or one for all; '' for "not given". */
  ports: string[];
  database?: string;
  /** Query parameters in order, decoded; a later one wins. */
  params: [string, string][];
}

const PREFIX = /^postgres(?:ql)?:\/\//i;

export function isConnectionUri(text: string): boolean {
  return PREFIX.test(text);
}

/** Split a URI into its parts; throws UsageError naming the part (never echoing a password). */
export function parseConnectionUri(uri: string, flag = '--url'): UriParts {
  const prefix = PREFIX.exec(uri);
  if (!prefix) throw new UsageError(`${flag}: expected postgres://… or postgresql://…`);
  const rest = uri.slice(prefix[0].length);
  const authorityEnd = firstOf(rest, '/?', 0);
  const authority = rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  const parts: UriParts = { hosts: [], ports: [], params: [] };
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
    if (user) parts.user = decode(user, flag, 'the user name');
    if (colon !== -1 && colon < userinfo.length - 1) parts.password = decode(userinfo.slice(colon + 1), flag, 'the password');
  }
  parseHosts(authority.slice(at + 1), parts, flag);
  let tail = rest.slice(authorityEnd);
  if (tail.startsWith('/')) {
    const queryAt = tail.indexOf('?');
    const db = tail.slice(1, queryAt === -1 ? undefined : queryAt);
    if (db) parts.database = decode(db, flag, 'the database name');
    tail = queryAt === -1 ? '' : tail.slice(queryAt);
  }
  if (tail.startsWith('?')) parts.params = parseQuery(tail.slice(1), flag);
  return parts;
}

function parseHosts(netlocs: string, parts: UriParts, flag: string): void {
  for (const netloc of netlocs.split(',')) {
    let host: string;
    let port: string;
    if (netloc.startsWith('[')) {
      const close = netloc.indexOf(']');
      if (close === -1) throw new UsageError(`${flag}: an IPv6 address opened with "[" has no closing "]"`);
      if (close === 1) throw new UsageError(`${flag}: an IPv6 address in brackets may not be empty`);
      host = netloc.slice(1, close);
      const after = netloc.slice(close + 1);
      if (after && !after.startsWith(':')) throw new UsageError(`${flag}: expected ":port" or "/" after the IPv6 address [${host}]`);
      port = after.slice(1);
    } else {
      const colon = netloc.indexOf(':');
      host = decode(colon === -1 ? netloc : netloc.slice(0, colon), flag, 'the host');
      port = colon === -1 ? '' : netloc.slice(colon + 1);
    }
    if (port && !/^\d+$/.test(port)) {
      throw new UsageError(`${flag}: the port after the host is not a number. A password holding "/", "?" or "#" must be ` +
        'percent-encoded (%2F, %3F, %23), as must a "%" (%25).');
    }
    parts.hosts.push(host);
    parts.ports.push(port);
  }
  if (parts.hosts.every((h) => h === '')) parts.hosts = [];
  if (parts.ports.every((p) => p === '')) parts.ports = [];
}

function parseQuery(query: string, flag: string): [string, string][] {
  const params: [string, string][] = [];
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq === -1) throw new UsageError(`${flag}: query parameter "${decode(pair, flag, 'a query parameter')}" has no "=value"`);
    const key = decode(pair.slice(0, eq), flag, 'a query parameter name');
    params.push([key, decode(pair.slice(eq + 1), flag, `the value of ${key}`)]);
  }
  return params;
}

function firstOf(text: string, chars: string, from: number): number {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i]!)) return i;
  return text.length;
}

/** libpq's percent-decoding: `%` must be followed by two hex digits, %00 is refused; bytes are read as UTF-8. */
export function decode(text: string, flag: string, what: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '%') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9a-f]{2}$/i.test(hex)) {
      throw new UsageError(`${flag}: ${what} holds a "%" that is not followed by two hex digits; percent-encode a literal % as %25`);
    }
    if (hex === '00') throw new UsageError(`${flag}: ${what} holds %00, which a connection string cannot carry`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new UsageError(`${flag}: ${what} is not valid UTF-8 once percent-decoded`);
  }
}

/** Encode for any URI part: everything but unreserved characters. */
export function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The URI for these parts; socket folders go to ?host= so the text stays readable. */
export function formatConnectionUri(parts: UriParts): string {
  const userinfo = parts.user !== undefined || parts.password !== undefined
    ? `${encode(parts.user ?? '')}${parts.password !== undefined ? `:${encode(parts.password)}` : ''}@`
    : '';
  const params = [...parts.params];
  const sockets = parts.hosts.some((h) => h.startsWith('/'));
  let netloc = '';
  if (sockets) {
    params.unshift(['host', parts.hosts.join(',')], ...(parts.ports.length ? [['port', parts.ports.join(',')] as [string, string]] : []));
  } else {
    netloc = parts.hosts.map((h, i) => {
      const host = h.includes(':') ? `[${h}]` : encode(h);
      const port = parts.ports.length === 1 ? parts.ports[0] : parts.ports[i];
      return port ? `${host}:${port}` : host;
    }).join(',');
  }
  const database = parts.database !== undefined ? `/${encode(parts.database)}` : params.length ? '/' : '';
  const query = params.length ? `?${params.map(([k, v]) => `${encode(k)}=${encode(v).replace(/%2F/g, '/')}`).join('&')}` : '';
  return `postgres://${userinfo}${netloc}${database}${query}`;
}

/** The same URL naming another database on the same server (verify's temporary database). */
export function withDatabase(url: string, database: string): string {
  const parts = parseConnectionUri(url);
  return formatConnectionUri({ ...parts, database, params: parts.params.filter(([k]) => k !== 'dbname') });
}

/** Server and database a URL points at, for "is this the same database?" (no password, no files read). */
export function connectionKey(url: string, env: Record<string, string | undefined>): string {
  const parts = parseConnectionUri(url);
  const params = new Map(parts.params);
  const host = (params.get('host') || parts.hosts.join(',') || env['PGHOST'] || 'localhost').toLowerCase().replace(/^localhost$/, '127.0.0.1');
  const port = params.get('port') || parts.ports.join(',') || env['PGPORT'] || '5432';
  const user = params.get('user') || parts.user || env['PGUSER'] || '';
  return `${host}:${port}/${params.get('dbname') || parts.database || env['PGDATABASE'] || user}`;
}
