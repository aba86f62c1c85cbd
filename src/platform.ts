/**
 * The whole platform in one process: database (embedded by default),
 * migrations, the GraphQL API and the worker. Used by `npm start`.
 */
import { sandboxEnabled, type Env } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { reachableDataDir } from './db/embedded.ts';
import { migrateDatabase } from './db/migrate.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import { makeSystemMailer } from './mail/system-mailer.ts';
import { startApiServer, type ApiServer } from './server/http.ts';
import { platformRoutes } from './server/platform-routes.ts';
import { startWorker, type WorkerHandle } from './worker/runner.ts';
import path from 'node:path';
import { loggerFor } from './log/logger.ts';
import { dnsResolverFromEnv } from './dns/resolver.ts';
import { outboundGuardFromEnv } from './net/outbound-guard.ts';
import { startSandbox, type Sandbox } from './sandbox/sandbox.ts';

const log = loggerFor('platform');

/** A connection string without its password, for messages. */
function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export interface Platform {
  db: Database;
  api: ApiServer;
  worker?: WorkerHandle;
  /** The development sandbox (src/sandbox/), when it runs. */
  sandbox?: Sandbox;
  stop(): Promise<void>;
}

/** startPlatform was asked to stop (its signal) before it finished; what it had started is stopped. */
export class StartAborted extends Error {}

export async function startPlatform(env: Env, { signal }: { signal?: AbortSignal } = {}): Promise<Platform> {
  log.info(
    env.DATABASE_URL
      ? `Connecting to PostgreSQL at ${redactedUrl(env.DATABASE_URL)} (DATABASE_URL)…`
      : `Starting the embedded PostgreSQL (data folder ${reachableDataDir(path.join(env.PM_DATA_DIR, 'postgres'))}, port ${env.PM_EMBEDDED_PG_PORT})…`,
  );
  const db = await openDatabase(env);
  let api: ApiServer | undefined;
  let worker: WorkerHandle | undefined;
  let sandbox: Sandbox | undefined;
  // Between steps: a stop asked for during start-up undoes what started, the database last.
  const checkpoint = () => {
    if (signal?.aborted) throw new StartAborted(String((signal.reason as Error | undefined)?.message ?? 'stopped during start-up'));
  };
  try {
    checkpoint();
    await migrateDatabase(db.urls, { quiet: true });
    checkpoint();
    log.info({ database: db.urls.databaseName }, `Database ${db.urls.databaseName} ready: migrations, functions/ and policies/ applied`);
    if (sandboxEnabled(env)) {
      sandbox = await startSandbox(env, db.urls.owner);
      checkpoint();
    }
    // With the sandbox, the API and the worker let exactly the catcher's address through the outbound guard.
    const runEnv = sandbox?.allowCatcher(env) ?? env;
    api = await startApiServer({
      env: runEnv,
      urls: db.urls,
      jwtSecret: env.JWT_SECRET ?? loadDevSecrets(env.PM_DATA_DIR).jwtSecret,
      routes: (server) => [...platformRoutes(env, server), ...(sandbox?.routes() ?? [])],
    });
    log.info({ url: `${api.url}/graphql` }, `API listening on ${api.url}/graphql`);
    if (env.GRAPHIQL ?? env.NODE_ENV !== 'production') log.info({ url: `${api.url}/graphiql` }, `Ruru (GraphQL IDE) at ${api.url}/graphiql`);
    log.info({ url: `${api.url}/metrics` }, `Metrics at ${api.url}/metrics${env.METRICS_TOKEN ? ' (bearer METRICS_TOKEN)' : ''}`);
    if (sandbox) {
      const { catcher, dns } = sandbox.info;
      log.info({ smtp: `${catcher.host}:${catcher.port}`, url: `${api.url}/sandbox` },
        `Sandbox (development only): mail catcher on SMTP ${catcher.host}:${catcher.port} (point an inbox's smtpSettings there); caught mail and system emails at ${api.url}/sandbox`);
      log.info({ dns }, `Sandbox DNS on ${dns} publishes every domain's records; domain checks ask it instead of the Internet's DNS`);
    }
    if (env.WORKER) {
      const systemMailer = makeSystemMailer({
        smtpUrl: env.SYSTEM_SMTP_URL,
        from: env.MAIL_FROM,
        outboxDir: path.join(env.PM_DATA_DIR, 'outbox'),
        onWritten: sandbox?.catchOutboxFile,
      });
      checkpoint();
      // Tracking links in campaign mail point at PUBLIC_URL, else at this API server;
      // invitation and reset links at APP_URL, else PUBLIC_URL, else this server.
      worker = await startWorker(db.urls.owner, {
        env: runEnv,
        systemMailer,
        appUrl: env.APP_URL ?? env.PUBLIC_URL ?? api.url,
        sending: { publicUrl: env.PUBLIC_URL ?? api.url },
        // Domain checks ask the sandbox DNS; inbox host names still resolve through DNS_SERVERS (else the system's).
        ...(sandbox ? { dns: sandbox.resolver, outbound: outboundGuardFromEnv(runEnv, dnsResolverFromEnv(env)) } : {}),
      });
      log.info({ concurrency: env.WORKER_CONCURRENCY }, `Worker running (concurrency ${env.WORKER_CONCURRENCY})`);
      log.info(
        { systemEmail: systemMailer.destination },
        env.SYSTEM_SMTP_URL
          ? `System emails (invitations, password resets) go through ${systemMailer.destination}`
          : `System emails (invitations, password resets) go to ${systemMailer.destination}/*.eml (set SYSTEM_SMTP_URL to send them)`,
      );
    } else {
      log.info('Worker off (WORKER=false): run `npm run worker` against this database to process jobs');
    }
    checkpoint();
  } catch (error) {
    await worker?.stop();
    await api?.close();
    await sandbox?.close();
    await db.close();
    throw error;
  }
  log.info({ url: api.url }, `PenguinMails is up on ${api.url} (Ctrl-C stops it)`);
  return {
    db,
    api,
    worker,
    sandbox,
    async stop() {
      // Stop taking requests and jobs first; in-flight ones finish.
      await Promise.all([api.close(), worker?.stop()]);
      await sandbox?.close();
      await db.close();
    },
  };
}
