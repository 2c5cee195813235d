/** URL + environment → connection settings, the password file and masking: pure functions over literals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConnection, type ClientFiles } from '../lib/db/conninfo.js';
import { driverOptions, driverSsl, libpqEnvironment } from '../lib/db/driveroptions.js';
import { pgpassLookup, pgpassRefusal } from '../lib/db/pgpass.js';
import { connectionKey, formatConnectionUri, parseConnectionUri, withDatabase } from '../lib/db/uri.js';
import { SqlmigError } from '../lib/errors.js';
import { maskUrl, passwordOf } from '../lib/db/url.js';

/** A client machine given as literals: files by path, with their mode. */
function machine(fileMap: Record<string, { text?: string; mode?: number; dir?: boolean }> = {}, sockets: string[] = []): ClientFiles {
  return {
    platform: 'linux',
    osUser: 'osuser',
    home: '/home/me',
    read: (path) => {
      const f = fileMap[path];
      return f ? { text: f.text ?? '', isFile: !f.dir, mode: f.mode ?? 0o100600 } : null;
    },
    exists: (path) => sockets.includes(path) || path in fileMap,
  };
}

const usage = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof SqlmigError && e.exitCode === 2 && pattern.test(e.message));

test('URI parts are read as libpq reads them, except that the user information ends at the last @', () => {
  assert.deepEqual(parseConnectionUri('postgres://u:Hun@ter2@host:6543/db?sslmode=require'), {
    user: 'u', password: 'Hun@ter2', hosts: ['host'], ports: ['6543'], database: 'db', params: [['sslmode', 'require']],
  });
  assert.deepEqual(parseConnectionUri('postgresql://[::1]:5433/db').hosts, ['::1']);
  assert.deepEqual(parseConnectionUri('postgres://u@%2Fvar%2Frun%2Fpostgresql/db').hosts, ['/var/run/postgresql']);
  assert.deepEqual(parseConnectionUri('postgres://u@/db?host=/tmp').params, [['host', '/tmp']]);
  assert.deepEqual(parseConnectionUri('postgres:///db').hosts, []);
  assert.deepEqual(parseConnectionUri('postgres://h1,h2:5433/db'), { hosts: ['h1', 'h2'], ports: ['', '5433'], database: 'db', params: [] });
  // libpq decodes %XX and nothing else: a "+" stays a "+".
  assert.equal(parseConnectionUri('postgres://u:a%2Bb+c%40d@h/db').password, 'a+b+c@d');
  assert.equal(parseConnectionUri('postgres://u:%E2%82%AC@h/db').password, '€');
});

test('a bad URI is a usage error naming the part and the fix, never the password', () => {
  usage(() => parseConnectionUri('postgres://u:50%off@host/db'), /the password holds a "%" .* %25/);
  usage(() => parseConnectionUri('postgres://u:50%off@host/db'), /^(?!.*50%off)/s);
  usage(() => parseConnectionUri('postgres://u@h/d%zzb'), /the database name .*%25/);
  usage(() => parseConnectionUri('postgres://u:a%00@h/db'), /%00/);
  usage(() => parseConnectionUri('postgres://u:a%ff@h/db'), /not valid UTF-8/);
  usage(() => parseConnectionUri('postgres://u:pa/ss@h/db'), /percent-encoded \(%2F/);
  usage(() => parseConnectionUri('postgres://u:pa/ss@h/db'), /^(?!.*pa\/ss)/s);
  usage(() => parseConnectionUri('postgres://[::1/db'), /no closing "\]"/);
  usage(() => parseConnectionUri('postgres://h/db?sslmode'), /has no "=value"/);
});

test('formatting gives back a URI that reads the same', () => {
  for (const uri of ['postgres://u:p%40ss@h:5433/db?sslmode=require', 'postgres://u@[::1]:5432/db', 'postgres://u@/db?host=/var/run/postgresql&port=5433']) {
    const parts = parseConnectionUri(uri);
    assert.deepEqual(parseConnectionUri(formatConnectionUri(parts)), parts.hosts[0]?.startsWith('/')
      ? { ...parts, params: [['host', '/var/run/postgresql'], ['port', '5433']] } : parts);
  }
  assert.equal(withDatabase('postgres://u:p@h:5433/db?sslmode=require', 'scratch_1'), 'postgres://u:p@h:5433/scratch_1?sslmode=require');
  assert.equal(withDatabase('postgres://u@/db?host=/tmp', 'x'), 'postgres://u@/x?host=/tmp');
});

test('the URL wins, then the PG* variables, then the defaults', () => {
  const env = { PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser', PGPASSWORD: 'envpw', PGDATABASE: 'envdb', PGSSLMODE: 'disable', PGAPPNAME: 'app' };
  const fromUrl = resolveConnection('postgres://u:p@h:5433/db?sslmode=require', env, machine());
  assert.deepEqual([fromUrl.endpoints, fromUrl.user, fromUrl.password, fromUrl.passwordFrom, fromUrl.database, fromUrl.sslmode],
    [[{ host: 'h', port: 5433 }], 'u', 'p', 'the URL', 'db', 'require']);
  const fromEnv = resolveConnection('postgres://', env, machine());
  assert.deepEqual([fromEnv.endpoints, fromEnv.user, fromEnv.password, fromEnv.passwordFrom, fromEnv.database, fromEnv.sslmode, fromEnv.applicationName],
    [[{ host: 'envhost', port: 6000 }], 'envuser', 'envpw', 'PGPASSWORD', 'envdb', 'disable', 'app']);
  const defaults = resolveConnection('postgres://', {}, machine());
  assert.deepEqual([defaults.endpoints, defaults.user, defaults.password, defaults.database, defaults.sslmode, defaults.applicationName, defaults.connectTimeoutS],
    [[{ host: 'localhost', port: 5432 }], 'osuser', undefined, 'osuser', 'prefer', 'sqlmig', 10]);
});

test('query parameters: host, port, password, sslmode and libpq keywords; the rest are server settings', () => {
  const info = resolveConnection('postgres://u@/db?host=/run/pg&port=5433&password=a+b&ssl=true&search_path=app&options=-c%20x%3Dy&connect_timeout=1', {}, machine());
  assert.deepEqual(info.endpoints, [{ host: '/run/pg', port: 5433, socket: '/run/pg/.s.PGSQL.5433' }]);
  assert.equal(info.password, 'a+b');
  assert.equal(info.sslmode, 'require');
  assert.equal(info.options, '-c x=y');
  assert.equal(info.connectTimeoutS, 2, 'libpq waits at least 2 s');
  assert.deepEqual(info.settings, { search_path: 'app' }, 'the password is never a server setting');
  usage(() => resolveConnection('postgres://h/db?sslmode=sometimes', {}, machine()), /"sometimes" is not an sslmode/);
  usage(() => resolveConnection('postgres://h/db', { PGSSLMODE: 'on' }, machine()), /PGSSLMODE: "on"/);
  usage(() => resolveConnection('postgres://h/db?channel_binding=require', {}, machine()), /channel_binding is not supported/);
  usage(() => resolveConnection('postgres://h:99999/db', {}, machine()), /port "99999"/);
  usage(() => resolveConnection('postgres://h/db?target_session_attrs=fast', {}, machine()), /target_session_attrs "fast"/);
  assert.equal(resolveConnection('postgres://h/db?sslrootcert=system', {}, machine()).sslmode, 'verify-full', 'as libpq: system roots imply verify-full');
});

test('no host: the server socket in the usual folder when there is one, else localhost', () => {
  assert.deepEqual(resolveConnection('postgres:///db', {}, machine({}, ['/var/run/postgresql/.s.PGSQL.5432'])).endpoints,
    [{ host: '/var/run/postgresql', port: 5432, socket: '/var/run/postgresql/.s.PGSQL.5432' }]);
  assert.deepEqual(resolveConnection('postgres:///db', { PGPORT: '5433' }, machine({}, ['/tmp/.s.PGSQL.5433'])).endpoints,
    [{ host: '/tmp', port: 5433, socket: '/tmp/.s.PGSQL.5433' }]);
  assert.deepEqual(resolveConnection('postgres:///db', {}, machine()).endpoints, [{ host: 'localhost', port: 5432 }]);
  assert.deepEqual(resolveConnection('postgres:///db', { PGHOST: '/sock/' }, machine()).endpoints, [{ host: '/sock/', port: 5432, socket: '/sock/.s.PGSQL.5432' }]);
});

test('the password file: fields, wildcards, escapes, comments, first match wins', () => {
  const text = [
    '# hostname:port:database:username:password',
    'db.example.com:5432:app:alice:first',
    'db.example.com:5432:app:alice:second',
    '*:*:reports:bob:w\\:ith\\\\colon',
    'h\\:x:5432:*:*:escaped-host',
    'localhost:5432:*:carol:local',
    '',
  ].join('\r\n');
  const key = (host: string, database: string, user: string, port = '5432') => ({ host, port, database, user });
  assert.equal(pgpassLookup(text, key('db.example.com', 'app', 'alice')), 'first');
  assert.equal(pgpassLookup(text, key('db.example.com', 'app', 'alice', '5433')), undefined);
  assert.equal(pgpassLookup(text, key('anywhere', 'reports', 'bob', '1')), 'w:ith\\colon');
  assert.equal(pgpassLookup(text, key('h:x', 'any', 'any')), 'escaped-host');
  assert.equal(pgpassLookup(text, key('localhost', 'x', 'carol')), 'local');
  assert.equal(pgpassLookup(text, key('#', 'x', 'y')), undefined);
  assert.equal(pgpassLookup('*:*:*:*:pw:extra', key('a', 'b', 'c')), 'pw', 'the password ends at an unescaped colon');
  assert.equal(pgpassRefusal('/f', { isFile: true, mode: 0o100644 }, 'linux'), 'password file "/f" has group or world access; permissions should be u=rw (0600) or less; it was ignored');
  assert.equal(pgpassRefusal('/f', { isFile: false, mode: 0o40700 }, 'linux'), 'password file "/f" is not a plain file; it was ignored');
  assert.equal(pgpassRefusal('/f', { isFile: true, mode: 0o100600 }, 'linux'), null);
  assert.equal(pgpassRefusal('/f', { isFile: true, mode: 0o100644 }, 'win32'), null);
});

test('the password file is read when nothing else gives a password, by libpq\'s host rules', () => {
  const pgpass = 'localhost:5432:app:alice:on-default-socket\n/tmp/custom:5432:app:alice:on-custom-socket\ndb:5432:app:alice:on-db\n';
  const files = machine({ '/home/me/.pgpass': { text: pgpass }, '/elsewhere': { text: '*:*:*:*:from-passfile' } });
  const found = (url: string, env: Record<string, string> = {}) => {
    const info = resolveConnection(url, env, files);
    return [info.password, info.passwordFrom];
  };
  assert.deepEqual(found('postgres://alice@db/app'), ['on-db', '/home/me/.pgpass']);
  assert.deepEqual(found('postgres://alice@/app?host=/var/run/postgresql'), ['on-default-socket', '/home/me/.pgpass']);
  assert.deepEqual(found('postgres://alice@/app?host=/tmp/custom'), ['on-custom-socket', '/home/me/.pgpass']);
  assert.deepEqual(found('postgres://alice@localhost/app'), ['on-default-socket', '/home/me/.pgpass']);
  assert.deepEqual(found('postgres://alice@other/app'), [undefined, undefined]);
  assert.deepEqual(found('postgres://alice:given@db/app'), ['given', 'the URL']);
  assert.deepEqual(found('postgres://alice@db/app', { PGPASSWORD: 'env' }), ['env', 'PGPASSWORD']);
  assert.deepEqual(found('postgres://alice@db/app', { PGPASSFILE: '/elsewhere' }), ['from-passfile', '/elsewhere']);
  assert.deepEqual(found('postgres://alice@db/app?passfile=/elsewhere'), ['from-passfile', '/elsewhere']);
  const open = resolveConnection('postgres://alice@db/app', {}, machine({ '/home/me/.pgpass': { text: pgpass, mode: 0o100640 } }));
  assert.equal(open.password, undefined);
  assert.match(open.warnings.join('\n'), /"\/home\/me\/\.pgpass" has group or world access/);
});

test('postgres.js options: sockets, IPv6 lists, SSL modes', () => {
  const files = machine({ '/ca.pem': { text: 'CA' }, '/home/me/.postgresql/root.crt': { text: 'HOME-CA' } });
  const socket = driverOptions(resolveConnection('postgres://u:p@/db?host=/run/pg&sslmode=require', {}, files), files);
  assert.deepEqual(socket, { host: ['/run/pg'], port: [5432], path: '/run/pg/.s.PGSQL.5432', user: 'u', pass: 'p', database: 'db', ssl: false, connect_timeout: 10, connection: { application_name: 'sqlmig' } });
  const v6 = driverOptions(resolveConnection('postgres://u@[::1]:5433/db', {}, machine()), machine());
  assert.deepEqual([v6.host, v6.port, v6.ssl], [['::1'], [5433], 'prefer']);
  const ssl = (mode: string, extra = '') => driverSsl(resolveConnection(`postgres://h/db?sslmode=${mode}${extra}`, {}, machine()), machine());
  assert.equal(ssl('disable'), false);
  assert.equal(ssl('allow'), false);
  assert.equal(ssl('prefer'), 'prefer');
  assert.equal(ssl('require'), 'require');
  usage(() => ssl('verify-ca'), /root certificate file "\/home\/me\/\.postgresql\/root\.crt" does not exist/);
  const full = driverSsl(resolveConnection('postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem', {}, files), files);
  assert.ok(typeof full === 'object' && full.rejectUnauthorized === true && full.ca === 'CA' && full.servername === 'h');
  const ca = driverSsl(resolveConnection('postgres://h/db?sslmode=verify-ca&sslrootcert=/ca.pem', {}, files), files);
  assert.ok(typeof ca === 'object' && ca.rejectUnauthorized === true && ca.checkServerIdentity!('h', {} as never) === undefined);
  const requireWithRoot = driverSsl(resolveConnection('postgres://h/db?sslmode=require', {}, files), files);
  assert.ok(typeof requireWithRoot === 'object' && requireWithRoot.ca === 'HOME-CA', 'libpq: require with a root certificate verifies it');
  const system = driverSsl(resolveConnection('postgres://h/db?sslrootcert=system', {}, files), files);
  assert.ok(typeof system === 'object' && system.rejectUnauthorized === true && system.ca === undefined);
});

test('pg_dump gets the same connection through PG* variables, the password among them', () => {
  const info = resolveConnection('postgres://u:s%40cret@/db?host=/run/pg&port=5433&sslmode=disable', {}, machine());
  const env = libpqEnvironment(info, { PATH: '/bin', PGSERVICE: 'other', PGPASSFILE: '/x', PGHOSTADDR: '10.0.0.1' });
  assert.deepEqual(env, {
    PATH: '/bin', PGHOST: '/run/pg', PGPORT: '5433', PGUSER: 'u', PGPASSWORD: 's@cret', PGDATABASE: 'db', PGSSLMODE: 'disable',
    PGAPPNAME: 'sqlmig', PGCONNECT_TIMEOUT: '10',
  });
  assert.equal(libpqEnvironment(resolveConnection('postgres://u@[::1]/db', {}, machine()), {}).PGHOST, '::1');
});

test('the key of "the same database" carries no password', () => {
  assert.equal(connectionKey('postgres://u:secret@localhost/db', {}), '127.0.0.1:5432/db');
  assert.equal(connectionKey('postgres://u@/db?host=/tmp&port=5433', {}), '/tmp:5433/db');
});

test('every password form is masked', () => {
  const cases: [string, string][] = [
    ['postgres://u:Hun@ter2@host/db', 'postgres://u:***@host/db'],
    ['at postgres://u:Hun@ter2@host/db: refused', 'at postgres://u:***@host/db: refused'],
    ['postgres://u@h/db?sslmode=require&password=s3cret&x=1', 'postgres://u@h/db?sslmode=require&password=***&x=1'],
    ['postgres://u@h/db?sslpassword=k', 'postgres://u@h/db?sslpassword=***'],
    ['postgres://u:a/b@host/db', 'postgres://u:***@host/db'],
    ['postgres://u:my secret@host/db', 'postgres://u:***@host/db'],
    ['postgres://u:50%off@host/db', 'postgres://u:***@host/db'],
    ['postgres://host:5432/db and pglite:/x', 'postgres://host:5432/db and pglite:/x'],
    ['postgres://u@/db?host=/tmp', 'postgres://u@/db?host=/tmp'],
  ];
  for (const [text, masked] of cases) assert.equal(maskUrl(text), masked, text);
  assert.equal(passwordOf('postgres://u@h/db?password=q%26'), 'q&');
  assert.equal(passwordOf('postgres://u:Hun@ter2@h/db'), 'Hun@ter2');
});
