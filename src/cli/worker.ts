/**
 * `npm run worker`: graphile-worker alone, against DATABASE_URL, for running
 * more workers next to one API (`WORKER=false npm start`). It does not
 * migrate: it refuses to start until the database is at the migrations and
 * functions/policies of this checkout (run `npm run db:migrate`, or start the
 * API, first). Stops cleanly on SIGINT/SIGTERM (jobs in flight finish).
 */
import path from 'node:path';
import { readEnv } from '../config.ts';
import { exitWithError, helpOnRequest, UserFacingError } from './usage.ts';

helpOnRequest(`
Usage: npm run worker [-- --help]

Runs the background jobs (sending, IMAP polling, DNS checks, billing, imports)
without the API, against an existing, migrated database. Start one API with
WORKER=false npm start and as many of these as you need; they share the work
through the database.

Environment:
  DATABASE_URL         the owner role's connection string (required)
  WORKER_CONCURRENCY   jobs run at once by this process (default 4)
  PUBLIC_URL           base of tracking and unsubscribe links in sent mail:
                       the API's public address (default http://HOST:PORT)
  TRACKING_CNAME_TARGET the host custom tracking domains must be a CNAME to
                       (default: the host of PUBLIC_URL)
  SYSTEM_SMTP_URL      where invitations and password resets are sent
                       (default: .eml files in PM_DATA_DIR/outbox)
  APP_URL              the client app the links in those emails open
  PM_SECRETS_KEY       the key inbox passwords and DKIM keys are sealed with
                       (the same as the API's)
  METRICS_PORT         serve GET /metrics (and /healthz) on this port
  METRICS_TOKEN        require "Authorization: Bearer <token>" on /metrics
  LOG_LEVEL            debug | info | warn | error | silent (default info)
`);

const program = 'npm run worker';
try {
  const env = readEnv();
  if (!env.DATABASE_URL) {
    throw new UserFacingError('set DATABASE_URL to the database the API uses (postgres://penguinmails_owner:…@host/penguinmails); the worker does not start a database of its own.');
  }
  process.env.GRAPHILE_ENV ??= env.NODE_ENV === 'production' ? 'production' : 'development';
  const { startWorkerProcess } = await import('../worker/process.ts');
  const running = await startWorkerProcess(env, env.DATABASE_URL, path.join(env.PM_DATA_DIR, 'outbox'));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.log.info({ signal }, `${signal}: stopping the worker (jobs in flight finish)…`);
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => exitWithError(error, program),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (error) {
  exitWithError(error, program);
}
