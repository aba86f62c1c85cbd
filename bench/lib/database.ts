/**
 * The benchmark's database: its own embedded PostgreSQL cluster (data in
 * .data/bench, port 54359 unless PM_BENCH_DATA_DIR / PM_BENCH_PG_PORT say
 * otherwise), or the server named by DATABASE_URL. The schema is built the
 * way the test template is (test/helpers/test-database.ts): graphile-migrate
 * reset (roles, committed migrations), migrations/current, the declarative
 * folders and graphile-worker's schema, so the benchmark measures the
 * product as it stands in the working tree.
 */
import pg from 'pg';
import { readEnv, type Env } from '../../src/config.ts';
import { openDatabase, type DatabaseUrls } from '../../src/db/database.ts';
import { rebuildDatabase } from '../../src/db/migrate.ts';
import { loadDevSecrets } from '../../src/dev-secrets.ts';

export interface BenchDatabase {
  urls: DatabaseUrls;
  embedded: boolean;
  /** Environment for the servers the benchmark starts (API, worker). */
  env: Env;
  jwtSecret: string;
  secretsKey: string;
  close(): Promise<void>;
}

export const BENCH_DATABASE = 'penguinmails_bench';

export async function openBenchDatabase(): Promise<BenchDatabase> {
  const env = readEnv({
    ...process.env,
    PM_DATA_DIR: process.env.PM_BENCH_DATA_DIR ?? '.data/bench',
    PM_EMBEDDED_PG_PORT: process.env.PM_BENCH_PG_PORT ?? '54359',
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
  });
  const db = await openDatabase(env, { databaseName: BENCH_DATABASE });
  const dev = loadDevSecrets(env.PM_DATA_DIR);
  return {
    urls: db.urls,
    embedded: db.embedded,
    env,
    jwtSecret: env.JWT_SECRET ?? dev.jwtSecret,
    secretsKey: env.PM_SECRETS_KEY ?? dev.secretsKey,
    close: () => db.close(),
  };
}

/**
 * Drops and rebuilds the database from the migrations. Refuses a database
 * whose name does not say "bench", so DATABASE_URL pointing at real data
 * cannot be wiped by accident. `fresh`: the database exists and is empty (a
 * Citus database, created on every node first), migrate it rather than reset it.
 */
export async function rebuildSchema(urls: DatabaseUrls, { fresh = false } = {}): Promise<void> {
  if (!/bench/i.test(urls.databaseName)) {
    throw new Error(
      `Refusing to rebuild database "${urls.databaseName}": the benchmark drops and recreates its database, ` +
        'so its name must contain "bench" (e.g. DATABASE_URL=postgres://…/penguinmails_bench), or use --skip-generate to reuse it as it is.',
    );
  }
  if (!urls.root) {
    throw new Error('Rebuilding the benchmark database needs a superuser connection: set ROOT_DATABASE_URL along with DATABASE_URL.');
  }
  await rebuildDatabase(urls, { fresh });
}

/** Server settings the benchmark records (and, on its own cluster, sets for bulk loading). */
export const RECORDED_SETTINGS = [
  'server_version', 'shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_connections', 'max_wal_size',
  'checkpoint_timeout', 'fsync', 'synchronous_commit', 'jit', 'effective_cache_size', 'random_page_cost',
] as const;

/**
 * On a server the benchmark owns (its embedded cluster, each node of the
 * --citus cluster): a larger WAL budget so the bulk load is not
 * one checkpoint after another. Changed with ALTER SYSTEM and a reload (no
 * restart); everything else stays at the embedded server's settings.
 */
export async function tuneEmbeddedCluster(rootUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: rootUrl });
  await client.connect();
  try {
    await client.query(`alter system set max_wal_size = '8GB'`);
    await client.query(`alter system set checkpoint_timeout = '15min'`);
    await client.query(`alter system set maintenance_work_mem = '512MB'`);
    await client.query(`select pg_reload_conf()`);
  } finally {
    await client.end();
  }
}

export async function readSettings(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from unnest($1::text[]) as name`,
      [RECORDED_SETTINGS],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } finally {
    await client.end();
  }
}
