/**
 * What every figure gets: the database, the options, the data set and its
 * subjects (the largest tenant, its owner, its largest campaign), a member
 * token for that owner with the exact settings the API derives from it, the
 * shared API child process, a record of each child's peak memory, and (for
 * --citus) the same context on a Citus cluster.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { makeTokenService } from '../../src/auth/jwt.ts';
import { signNewSession } from '../../src/auth/sessions.ts';
import { pgSettingsFor } from '../../src/server/context.ts';
import type { DatasetInfo } from '../generate/dataset.ts';
import { startChild, type ChildHandle } from './child.ts';
import { startCitusBench, type CitusBench } from './citus.ts';
import type { BenchDatabase } from './database.ts';
import type { BenchOptions } from './options.ts';
import type { PgSettings } from './sql.ts';

export interface ProcessPeak {
  pid: number;
  /** RSS right after start-up, kB. */
  startKb: number;
  /** VmHWM just before it stopped, kB. */
  peakKb: number;
}

export interface ApiChild extends ChildHandle<{ url: string }> {
  url: string;
}

export interface BenchContext {
  db: BenchDatabase;
  options: BenchOptions;
  dataset: DatasetInfo;
  /** A member token for the largest tenant's owner. */
  token: string;
  /** The settings the API applies for that token (role, user, tenant, statement timeout). */
  memberSettings: PgSettings;
  /** A token and the API's settings for any member of any tenant. */
  session(userId: string, tenantId: string): Promise<{ token: string; settings: PgSettings }>;
  /** The API server child process, started on first use and shared by the figures. */
  api(): Promise<ApiChild>;
  /** Resident memory of every server child process, by label, recorded when it stops. */
  peaks: Map<string, ProcessPeak>;
  /**
   * The same data set on a throw-away Citus cluster, with a context (and an
   * API server) of its own: started, laid out and loaded on first use,
   * removed by close().
   */
  citus(): Promise<CitusContext>;
  /** Stops a server child process and records its memory under `label`. */
  stopChild(label: string, child: ChildHandle<unknown>): Promise<void>;
  /**
   * Where to watch the database from: a superuser connection to the benchmark
   * database when there is one (it sees every session's statements in
   * pg_stat_activity), else the owner's (which sees its own sessions only).
   */
  monitorUrl: string;
  /** Environment for child processes that run product code. */
  childEnv(extra?: Record<string, string>): Record<string, string>;
  log(line: string): void;
  close(): Promise<void>;
}

export interface CitusContext {
  ctx: BenchContext;
  cluster: CitusBench;
}

export const benchFile = (relative: string) => fileURLToPath(new URL(`../${relative}`, import.meta.url));

export async function makeContext(db: BenchDatabase, options: BenchOptions, dataset: DatasetInfo, log: (line: string) => void): Promise<BenchContext> {
  const { env } = db;
  const tokens = makeTokenService({ secret: db.jwtSecret, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE });
  const session = async (userId: string, tenantId: string) => {
    const owner = new pg.Client({ connectionString: db.urls.owner });
    await owner.connect();
    const token = await signNewSession(owner, tokens, { role: 'member', user_id: userId, tenant_id: tenantId, expires_at: new Date(Date.now() + 6 * 3_600_000) })
      .finally(() => owner.end());
    const settings = await pgSettingsFor({ headers: { authorization: `Bearer ${token}` } }, { tokens, statementTimeoutMs: env.STATEMENT_TIMEOUT_MS });
    return { token, settings };
  };
  const { token, settings: memberSettings } = await session(dataset.subjects.ownerId, dataset.subjects.tenantId);
  const peaks = new Map<string, ProcessPeak>();
  const stopChild = async (label: string, child: ChildHandle<unknown>) => {
    const peak = await child.stop();
    if (peak) peaks.set(label, { pid: child.pid, startKb: child.startMemory?.rssKb ?? NaN, peakKb: peak.peakKb });
  };

  const childEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    // Production mode: no GraphiQL, no introspection, masked errors.
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: db.urls.owner,
    // The API's start-up would also work without it (src/db/migrate.ts derives a root URL); pass the real one.
    ...(db.urls.root ? { ROOT_DATABASE_URL: db.urls.root } : {}),
    AUTHENTICATOR_PASSWORD: db.urls.authenticatorPassword,
    JWT_SECRET: db.jwtSecret,
    PM_SECRETS_KEY: db.secretsKey,
    PM_DATA_DIR: env.PM_DATA_DIR,
    LOG_LEVEL: 'warn',
    ...extra,
  });

  let api: Promise<ApiChild> | undefined;
  const startApi = async (): Promise<ApiChild> => {
    const child = await startChild<{ url: string }>(benchFile('servers/api-server.ts'), childEnv());
    log(`  API server: child process ${child.pid} at ${child.ready.url}`);
    return { ...child, url: child.ready.url };
  };

  let citus: Promise<CitusContext> | undefined;
  const startCitus = async (): Promise<CitusContext> => {
    const cluster = await startCitusBench(db, dataset, log);
    try {
      return { ctx: await makeContext(cluster.db, options, cluster.dataset, log), cluster };
    } catch (error) {
      await cluster.db.close();
      throw error;
    }
  };

  const monitor = db.urls.root ? new URL(db.urls.root) : null;
  if (monitor) monitor.pathname = `/${db.urls.databaseName}`;

  return {
    db,
    options,
    monitorUrl: monitor?.toString() ?? db.urls.owner,
    dataset,
    token,
    memberSettings,
    session,
    peaks,
    stopChild,
    childEnv,
    log,
    api: () => (api ??= startApi()),
    citus: () => (citus ??= startCitus()),
    async close() {
      try {
        if (api) {
          const child = await api;
          api = undefined;
          await stopChild('API server', child);
        }
      } finally {
        // The cluster's nodes are server processes of their own: they go whatever else failed.
        const started = await citus?.catch(() => undefined);
        citus = undefined;
        if (started) await started.ctx.close().finally(() => started.cluster.db.close());
      }
    },
  };
}
