/**
 * Child process: the product's worker (src/worker/runner.ts startWorker,
 * our configuration and task list) as the platform starts it, with the
 * campaign engine's tracking links pointing at the benchmark's API server.
 * The crontab is left out: the figures measure the work they queue, not the
 * periodic sweeps over a thousand seeded tenants.
 *
 * Configuration: BENCH_CHILD_CONFIG = {"publicUrl": "http://…"} plus the usual
 * environment (DATABASE_URL, PM_SECRETS_KEY, …), set by the benchmark.
 */
import os from 'node:os';
import path from 'node:path';
import { readEnv } from '../../src/config.ts';
import { makeSystemMailer } from '../../src/mail/system-mailer.ts';
import { startWorker } from '../../src/worker/runner.ts';
import { failStart, serveParent } from '../lib/child.ts';

try {
  const config = JSON.parse(process.env.BENCH_CHILD_CONFIG ?? '{}') as { publicUrl: string };
  const env = readEnv(process.env);
  if (!env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const systemMailer = makeSystemMailer({ smtpUrl: env.SYSTEM_SMTP_URL, from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'penguinmails-bench-outbox') });
  const worker = await startWorker(env.DATABASE_URL, { env, systemMailer, sending: { publicUrl: config.publicUrl } }, { crontab: '' });
  serveParent(
    {
      stop: async () => {
        await worker.stop();
        systemMailer.close();
        setImmediate(() => process.exit(0));
      },
    },
    {},
  );
} catch (error) {
  failStart(error);
}
