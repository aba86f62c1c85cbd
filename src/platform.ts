/**
 * The whole platform in one process: database (embedded by default),
 * migrations, the GraphQL API and the worker. Used by `npm start`.
 */
import { secretsKeyOf, type Env } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrateDatabase } from './db/migrate.ts';
import { loadDevSecrets } from './dev-secrets.ts';
import { makeSystemMailer } from './mail/system-mailer.ts';
import { leadImportRoutes } from './import/upload-route.ts';
import { startApiServer, type ApiServer } from './server/http.ts';
import { trackingRoutes } from './tracking/routes.ts';
import { stripeWebhookRoutes } from './billing/stripe-webhook.ts';
import { makeTrackingTokens, trackingKeyFrom } from './tracking/tokens.ts';
import { startWorker, type WorkerHandle } from './worker/runner.ts';
import path from 'node:path';
import { loggerFor } from './log/logger.ts';

const log = loggerFor('platform');

export interface Platform {
  db: Database;
  api: ApiServer;
  worker?: WorkerHandle;
  stop(): Promise<void>;
}

export async function startPlatform(env: Env): Promise<Platform> {
  const db = await openDatabase(env);
  let api: ApiServer | undefined;
  let worker: WorkerHandle | undefined;
  try {
    await migrateDatabase(db.urls, { quiet: true });
    api = await startApiServer({
      env,
      urls: db.urls,
      jwtSecret: env.JWT_SECRET ?? loadDevSecrets(env.PM_DATA_DIR).jwtSecret,
      routes: (server) => [
        ...trackingRoutes({ pool: server.ownerPool, tokens: makeTrackingTokens(trackingKeyFrom(secretsKeyOf(env))), trustProxy: env.TRUST_PROXY }),
        ...leadImportRoutes({
          pool: server.pool,
          tokens: server.tokens,
          dataDir: env.PM_DATA_DIR,
          maxBytes: env.IMPORT_MAX_BYTES,
          statementTimeoutMs: env.STATEMENT_TIMEOUT_MS,
        }),
        ...stripeWebhookRoutes({ pool: server.ownerPool, secret: env.STRIPE_WEBHOOK_SECRET }),
      ],
    });
    if (env.WORKER) {
      const systemMailer = makeSystemMailer({
        smtpUrl: env.SYSTEM_SMTP_URL,
        from: env.MAIL_FROM,
        outboxDir: path.join(env.PM_DATA_DIR, 'outbox'),
      });
      // Tracking links in campaign mail point at PUBLIC_URL, else at this API server.
      worker = await startWorker(db.urls.owner, { env, systemMailer, sending: { publicUrl: env.PUBLIC_URL ?? api.url } });
    }
  } catch (error) {
    await worker?.stop();
    await api?.close();
    await db.close();
    throw error;
  }
  log.info({ url: `${api.url}/graphql`, embedded: db.embedded, database: db.urls.databaseName, worker: Boolean(worker) }, `PenguinMails API on ${api.url}/graphql (${db.embedded ? 'embedded' : 'external'} PostgreSQL, database ${db.urls.databaseName})${worker ? ', worker running' : ''}`);
  return {
    db,
    api,
    worker,
    async stop() {
      // Stop taking requests and jobs first; in-flight ones finish.
      await Promise.all([api.close(), worker?.stop()]);
      await db.close();
    },
  };
}
