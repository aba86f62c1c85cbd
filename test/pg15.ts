/**
 * `npm run test:pg15`: the whole jest suite against Debian's PostgreSQL 15
 * (package postgresql-15), in a throw-away cluster, so both supported major
 * versions are proven. The embedded server covers PostgreSQL 18.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './helpers/test-database.ts';

const BIN = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';
if (!existsSync(path.join(BIN, 'initdb'))) {
  console.error(`PostgreSQL 15 not found in ${BIN}: install Debian's postgresql-15 (apt-get install postgresql-15).`);
  process.exit(1);
}

const PORT = await freePort();
const isRoot = process.getuid?.() === 0;
const dir = path.join(os.tmpdir(), `penguinmails-pg15-${process.pid}`);
const password = randomBytes(12).toString('hex');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'pw'), password + '\n', { mode: 0o644 });

function asPostgres(cmd: string, args: string[]) {
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} failed with ${r.status}`);
}

if (isRoot) {
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
}
const data = path.join(dir, 'data');
asPostgres(path.join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', `--pwfile=${path.join(dir, 'pw')}`, '-A', 'scram-sha-256', '--encoding=UTF8', '--locale=C']);
asPostgres(path.join(BIN, 'pg_ctl'), [
  '-D', data, '-l', path.join(dir, 'log'), '-w',
  '-o', `-p ${PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c max_connections=200`,
  'start',
]);

let code = 1;
try {
  const jest = spawn(process.execPath, ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: {
      ...process.env,
      TEST_DATABASE_URL: `postgres://penguinmails_owner:${password}@127.0.0.1:${PORT}/penguinmails_test`,
      TEST_ROOT_DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:${PORT}/postgres`,
    },
  });
  code = await new Promise<number>((resolve) => jest.on('exit', (c) => resolve(c ?? 1)));
} finally {
  asPostgres(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', 'stop']);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
