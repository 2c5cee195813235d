/**
 * Resolved connection settings (conninfo.ts) in the two forms that use them: postgres.js options, and the
 * PG* environment of pg_dump / pg_restore (the password travels there, never on a command line). Pure.
 */
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { ClientFiles, ConnInfo } from './conninfo.js';

/** postgres.js's `ssl`: off, its own modes, or TLS options for verification and client certificates. */
export type DriverSsl = false | 'prefer' | 'require' | ConnectionOptions;

export interface DriverOptions {
  host: string[];
  port: number[];
  path?: string;
  user: string;
  pass?: string;
  database: string;
  ssl: DriverSsl;
  connect_timeout: number;
  target_session_attrs?: string;
  /** Startup parameters: application_name, options, and server settings from the URL. */
  connection: Record<string, string>;
}

export function driverOptions(info: ConnInfo, files: ClientFiles, sslOverride?: DriverSsl): DriverOptions {
  const socket = info.endpoints[0]?.socket;
  const hosts = info.hostaddrs.length ? info.hostaddrs : info.endpoints.map((e) => e.host);
  return {
    host: hosts,
    port: info.endpoints.map((e) => e.port),
    ...(socket ? { path: socket } : {}),
    user: info.user,
    ...(info.password !== undefined ? { pass: info.password } : {}),
    database: info.database,
    // libpq never uses SSL on a Unix socket.
    ssl: socket ? false : sslOverride ?? driverSsl(info, files),
    connect_timeout: info.connectTimeoutS,
    ...(info.targetSessionAttrs && info.targetSessionAttrs !== 'any' ? { target_session_attrs: info.targetSessionAttrs } : {}),
    connection: { ...info.settings, application_name: info.applicationName, ...(info.options ? { options: info.options } : {}) },
  };
}

/** libpq's sslmode in postgres.js terms; `allow` starts without SSL (the caller retries with it when refused). */
export function driverSsl(info: ConnInfo, files: ClientFiles, mode = info.sslmode): DriverSsl {
  if (mode === 'disable' || mode === 'allow') return false;
  if (mode === 'prefer') return 'prefer';
  const dir = files.home ? join(files.home, '.postgresql') : null;
  const rootFile = info.sslrootcert ?? (dir ? join(dir, 'root.crt') : undefined);
  const root = rootFile && rootFile !== 'system' ? files.read(rootFile) : null;
  // libpq: with a root certificate file present, require verifies the chain like verify-ca.
  const verify = mode === 'require' ? (root ? 'verify-ca' : null) : mode;
  if (verify && rootFile !== 'system' && !root) {
    throw new UsageError(`sslmode=${mode}: root certificate file "${rootFile ?? '~/.postgresql/root.crt'}" does not exist. ` +
      'Give one with sslrootcert=FILE (or PGSSLROOTCERT), use sslrootcert=system for the system\'s trusted roots, or use sslmode=require.');
  }
  const tls: ConnectionOptions = { rejectUnauthorized: Boolean(verify), ...clientCertificate(info, files, dir) };
  if (root) tls.ca = root.text;
  const host = info.endpoints[0]?.host ?? 'localhost';
  if (verify === 'verify-full') {
    tls.servername = /^[\d.]+$|:/.test(host) ? undefined : host;
    tls.checkServerIdentity = (_name, cert) => checkServerIdentity(host, cert);
  } else if (verify === 'verify-ca') {
    tls.checkServerIdentity = () => undefined;
  }
  return Object.keys(tls).length === 1 && !verify ? 'require' : tls;
}

/** sslcert/sslkey, else ~/.postgresql/postgresql.crt and .key when they exist (libpq's defaults). */
function clientCertificate(info: ConnInfo, files: ClientFiles, dir: string | null): ConnectionOptions {
  const certFile = info.sslcert ?? (dir ? join(dir, 'postgresql.crt') : undefined);
  const cert = certFile ? files.read(certFile) : null;
  if (!cert) {
    if (info.sslcert) throw new UsageError(`sslcert: certificate file "${info.sslcert}" does not exist`);
    return {};
  }
  const keyFile = info.sslkey ?? (dir ? join(dir, 'postgresql.key') : certFile!.replace(/\.crt$/, '.key'));
  const key = files.read(keyFile);
  if (!key) throw new UsageError(`certificate present, but not private key file "${keyFile}"`);
  if (files.platform !== 'win32' && (!key.isFile || key.mode & 0o077)) {
    throw new UsageError(`private key file "${keyFile}" has group or world access; permissions should be u=rw (0600) or less`);
  }
  return { cert: cert.text, key: key.text };
}

/** The PG* variables that make pg_dump connect where postgres.js does; the base's own PG* settings are replaced. */
export function libpqEnvironment(info: ConnInfo, base: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && !/^PG/.test(key)) env[key] = value;
  }
  const set = (key: string, value: string | undefined) => { if (value) env[key] = value; };
  set('PGHOST', info.endpoints.map((e) => e.host).join(','));
  set('PGHOSTADDR', info.hostaddrs.join(','));
  set('PGPORT', info.endpoints.map((e) => e.port).join(','));
  set('PGUSER', info.user);
  set('PGPASSWORD', info.password);
  set('PGDATABASE', info.database);
  set('PGSSLMODE', info.sslmode);
  set('PGSSLROOTCERT', info.sslrootcert);
  set('PGSSLCERT', info.sslcert);
  set('PGSSLKEY', info.sslkey);
  set('PGOPTIONS', info.options);
  set('PGTARGETSESSIONATTRS', info.targetSessionAttrs);
  set('PGAPPNAME', info.applicationName);
  set('PGCONNECT_TIMEOUT', String(info.connectTimeoutS));
  for (const key of ['PGTZ', 'PGDATESTYLE', 'PGCLIENTENCODING']) set(key, base[key]);
  return env;
}
