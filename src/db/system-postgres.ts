/**
 * Throw-away clusters of Debian's PostgreSQL 15 (package postgresql-15): the
 * second server version the suite runs on, and the nodes of the Citus cluster
 * (src/db/citus-cluster.ts). As root, the server runs as the `postgres` user.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const PG15_BIN = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';

const isRoot = () => process.getuid?.() === 0;

export interface SystemNodeOptions {
  /** A folder of its own (created, owned by `postgres` when root, removed on stop). */
  dir: string;
  port: number;
  superuserPassword: string;
  /** Extra server settings, e.g. { shared_preload_libraries: 'citus' }. */
  settings?: Record<string, string>;
}

export interface SystemNode {
  port: number;
  dir: string;
  superuserUrl(database?: string): string;
  /** Stops the server (fast, or immediate to simulate a crash) and, unless kept, removes its folder. */
  stop(options?: { mode?: 'fast' | 'immediate'; keep?: boolean }): void;
  /** Starts the server again on the same folder and port (after stop({ keep: true })). */
  start(): void;
}

function asPostgres(cmd: string, args: string[]): void {
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed with ${r.status}: ${r.stderr || r.stdout}`);
}

function ownByPostgres(dir: string): void {
  if (!isRoot()) return;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
}

export function assertPg15Installed(): void {
  if (!existsSync(path.join(PG15_BIN, 'initdb'))) {
    throw new Error(`PostgreSQL 15 not found in ${PG15_BIN}: install Debian's postgresql-15 (apt-get install postgresql-15).`);
  }
}

/** initdb + pg_ctl start on 127.0.0.1 with scram-sha-256 and test-speed durability settings. */
export function startSystemNode(options: SystemNodeOptions): SystemNode {
  assertPg15Installed();
  const { dir, port, superuserPassword } = options;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  ownByPostgres(dir);
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, superuserPassword + '\n', { mode: 0o644 });
  const data = path.join(dir, 'data');
  asPostgres(path.join(PG15_BIN, 'initdb'), ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '--encoding=UTF8', '--locale=C']);
  rmSync(pwfile);
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '300',
    ...options.settings,
  };
  const flags = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  const start = () => asPostgres(path.join(PG15_BIN, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', flags, 'start']);
  start();
  return {
    port,
    dir,
    superuserUrl: (database = 'postgres') => `postgres://postgres:${encodeURIComponent(superuserPassword)}@127.0.0.1:${port}/${database}`,
    start,
    stop({ mode = 'fast', keep = false } = {}) {
      try {
        asPostgres(path.join(PG15_BIN, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop']);
      } finally {
        if (!keep) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
