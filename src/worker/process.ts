/**
 * A worker-only process (src/cli/worker.ts): checks that the database is the
 * one this code expects, runs the worker, and serves /metrics and /healthz on
 * METRICS_PORT when set.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { Env } from '../config.ts';
import { migrationStatus } from '../db/status.ts';
import { loggerFor } from '../log/logger.ts';
import { makeSystemMailer } from '../mail/system-mailer.ts';
import { makeMetricsHandler } from '../metrics/endpoint.ts';
import { UserFacingError } from '../user-facing-error.ts';
import { startWorker } from './runner.ts';

export interface WorkerProcess {
  log: ReturnType<typeof loggerFor>;
  /** Where /metrics is served, when METRICS_PORT is set. */
  metricsUrl?: string;
  stop(): Promise<void>;
}

export async function startWorkerProcess(env: Env, databaseUrl: string, outboxDir: string): Promise<WorkerProcess> {
  const log = loggerFor('worker');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'penguinmails-worker-metrics' });
  pool.on('error', (e) => log.error({ err: { message: e.message } }, 'idle database connection error'));
  try {
    const status = await migrationStatus(pool);
    if (!status.ready) throw new UserFacingError(`the database is not ready (${status.reason}): run npm run db:migrate, or start the API, first.`);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const publicUrl = env.PUBLIC_URL ?? `http://${env.HOST}:${env.PORT}`;
  if (!env.PUBLIC_URL) log.warn({ publicUrl }, `PUBLIC_URL is not set: tracking and unsubscribe links in sent mail point at ${publicUrl}`);
  const systemMailer = makeSystemMailer({ smtpUrl: env.SYSTEM_SMTP_URL, from: env.MAIL_FROM, outboxDir, log });
  const worker = await startWorker(databaseUrl, { env, systemMailer, sending: { publicUrl } });

  let server: Server | undefined;
  let metricsUrl: string | undefined;
  if (env.METRICS_PORT !== undefined) {
    const metrics = makeMetricsHandler({ ownerPool: pool, pools: { worker_metrics: pool }, token: env.METRICS_TOKEN, staleJobMinutes: env.METRICS_STALE_JOB_MINUTES });
    server = createServer((req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (req.method === 'GET' && pathname === '/metrics') {
        metrics(req, res).catch((error: Error) => {
          log.error({ err: { message: error.message } }, 'metrics failed');
          if (!res.headersSent) res.writeHead(500).end();
        });
      } else if (req.method === 'GET' && pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: `Nothing at ${req.method} ${pathname}: this worker serves GET /metrics and /healthz.`, extensions: { code: 'NOT_FOUND' } }] }));
      }
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(env.METRICS_PORT, env.HOST, () => resolve());
    }).catch(async (error: NodeJS.ErrnoException) => {
      await worker.stop();
      systemMailer.close();
      await pool.end();
      throw error.code === 'EADDRINUSE' ? new UserFacingError(`port ${env.METRICS_PORT} (METRICS_PORT) on ${env.HOST} is already in use.`) : error;
    });
    metricsUrl = `http://${env.HOST}:${(server.address() as AddressInfo).port}/metrics`;
  }
  log.info({ concurrency: env.WORKER_CONCURRENCY, metricsUrl }, `Worker running (concurrency ${env.WORKER_CONCURRENCY})${metricsUrl ? `; metrics at ${metricsUrl}` : ''}`);
  return {
    log,
    metricsUrl,
    async stop() {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await worker.stop();
      systemMailer.close();
      await pool.end();
    },
  };
}
