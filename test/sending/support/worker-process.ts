/**
 * A worker in its own process, for the crash test: it runs the campaign
 * engine against the database in PM_CHILD_DATABASE_URL and is killed with
 * SIGKILL while it talks SMTP (test/sending/exactly-once.test.ts,
 * test/crash/campaign.test.ts). Prints "ready" once it takes jobs.
 */
import os from 'node:os';
import path from 'node:path';
import { readEnv } from '../../../src/config.ts';
import { makeSystemMailer } from '../../../src/mail/system-mailer.ts';
import { startWorker } from '../../../src/worker/runner.ts';

const connectionString = process.env.PM_CHILD_DATABASE_URL;
const publicUrl = process.env.PM_CHILD_PUBLIC_URL;
if (!connectionString || !publicUrl) throw new Error('PM_CHILD_DATABASE_URL and PM_CHILD_PUBLIC_URL are required');

// The SMTP peer listens on loopback, which the outbound guard refuses unless allowed (as testEnv does).
const env = readEnv({ NODE_ENV: 'test', LOG_LEVEL: 'error', PM_DATA_DIR: process.env.PM_DATA_DIR ?? '.data', OUTBOUND_ALLOW_PRIVATE: '127.0.0.1/32,::1/128' });
const systemMailer = makeSystemMailer({ from: env.MAIL_FROM, outboxDir: path.join(os.tmpdir(), 'pm-sending-outbox') });
await startWorker(connectionString, { env, systemMailer, sending: { publicUrl, smtp: { timeoutMs: 5_000 } } }, {
  pollInterval: 100,
  crontab: '',
  concurrency: Number(process.env.PM_CHILD_CONCURRENCY ?? 1),
});
process.stdout.write('ready\n');
