/**
 * Crash recovery, end to end, against real processes: a throw-away
 * PostgreSQL cluster of its own (so it can be stopped), worker processes
 * (test/sending/support/worker-process.ts: startWorker, with its liveness and
 * supervision), and an SMTP server on 127.0.0.1 that drops some connections
 * on purpose. A campaign of 600 leads over three inboxes goes out while:
 *
 * - every worker process is killed (SIGKILL) between the final "." of a
 *   message and the server's "250" (a host crash), and new ones start;
 * - one worker process is killed at an arbitrary moment, and replaced;
 * - the database stops immediately (SIGQUIT to the postmaster, what
 *   `pg_ctl stop -m immediate` sends) while messages wait for their "250",
 *   and is started again;
 * - the server drops the connection of some messages at DATA (before the
 *   message) and of others after storing the message (before answering).
 *
 * Each kill and the stop happen while no worker is between committing a
 * hand-over mark and writing its final "." (the marks are held back by a
 * table lock until every committed one has reached the server): that
 * instant is the one ambiguity the engine cannot close (docs/sending.md),
 * and a kill landing in it would make this test flaky. Workers are killed
 * waiting for that lock (before their "."), waiting for a "250" (after it),
 * and anywhere else.
 *
 * Then, lead by lead: every lead has exactly one message, received once and
 * recorded sent; or received once and recorded sent, unconfirmed; or not
 * received and recorded not sent with a reason. No Message-ID arrives twice.
 * The campaign completes with no manual step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { secretsKeyOf } from '../../src/config.ts';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { freePort } from '../../src/db/embedded.ts';
import { rebuildDatabase } from '../../src/db/migrate.ts';
import { createPool, sql, type ConnectionPool } from '../../src/db/pg.ts';
import { testEnv, uniqueEmail } from '../helpers/api.ts';
import { eventually } from '../helpers/smtp.ts';
import { createCampaign, createSender, type World } from '../sending/support/world.ts';

const LEADS = 600;
/** Leads whose first transfer the server drops at DATA, before the message, and after storing it. */
const DROP_AT_DATA = (i: number) => i % 50 === 17;
const DROP_AFTER_DATA = (i: number) => i % 50 === 7;

interface Received {
  messageId: string;
  to: string;
}

let db: Database;
let owner: ConnectionPool;
let server: SMTPServer;
let smtpPort = 0;
const received: Received[] = [];
const workers = new Set<ChildProcess>();
let onStored: ((to: string) => Promise<void>) | null = null;
const dropped = new Set<string>();
const leadIndex = new Map<string, number>();

/**
 * Runs `fn` while new hand-over marks wait for a lock, once every message with
 * a committed mark that is still being sent has reached the server.
 */
async function withMarksHeld<T>(fn: () => Promise<T>): Promise<T> {
  const blocker = new pg.Client({ connectionString: db.urls.owner });
  blocker.on('error', () => undefined);
  await blocker.connect();
  try {
    await blocker.query('begin');
    await blocker.query('lock table app_private.message_handovers in exclusive mode');
    await eventually(async () => {
      const { rows } = await blocker.query<{ rfc_message_id: string }>(`
        select m.rfc_message_id from app_private.message_handovers h
        join app_public.messages m on m.tenant_id = h.tenant_id and m.id = h.message_id and m.send_attempts = h.attempt
        where m.status = 'sending'`);
      const ids = new Set(received.map((r) => r.messageId));
      return rows.every((r) => ids.has(r.rfc_message_id));
    }, 30_000, 10);
    return await fn();
  } finally {
    await blocker.query('rollback').catch(() => undefined);
    await blocker.end().catch(() => undefined);
  }
}

async function startWorkerProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['test/sending/support/worker-process.ts'], {
    env: { ...process.env, NODE_OPTIONS: '', PM_CHILD_DATABASE_URL: db.urls.owner, PM_CHILD_PUBLIC_URL: 'http://127.0.0.1:9', PM_CHILD_CONCURRENCY: '2' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  workers.add(child);
  child.once('exit', () => workers.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`a worker process exited early (${code}): ${output}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  // Its sessions are cancelled within a second (client_connection_check_interval): none of its statements
  // waiting for a lock commits after its death, whatever the test releases next.
  await eventually(async () => {
    const [row] = await owner.query(sql`select count(*)::int as n from pg_stat_activity where application_name = ${`penguinmails-worker:${child.pid}`}`);
    return row.n === 0;
  }, 30_000, 20);
}

beforeAll(async () => {
  const env = testEnv();
  db = await openDatabase(env, {
    databaseName: 'penguinmails_crash',
    ephemeral: { dataDir: mkdtempSync(path.join(os.tmpdir(), 'penguinmails-crash-pg-')), port: await freePort() },
  });
  await rebuildDatabase(db.urls);
  owner = createPool({ connectionString: db.urls.owner, bigIntMode: 'string', poolSize: 3 });

  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const to = session.envelope.rcptTo[0]!.address;
      const i = leadIndex.get(to) ?? -1;
      const drop = () => {
        for (const c of server.connections) if (c.id === session.id) c._socket.destroy();
      };
      if (DROP_AT_DATA(i) && !dropped.has(to)) {
        dropped.add(to);
        stream.on('data', () => undefined);
        return drop();
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const parsed = await PostalMime.parse(Buffer.concat(chunks));
        received.push({ messageId: (parsed.messageId ?? '').replace(/^<|>$/g, ''), to });
        if (DROP_AFTER_DATA(i) && !dropped.has(to)) {
          dropped.add(to);
          return drop();
        }
        if (onStored) await onStored(to);
        callback();
      });
    },
  });
  // Workers are killed mid-conversation on purpose: their connections end in
  // resets (ECONNRESET), which the server reports as errors.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  smtpPort = (server.server.address() as { port: number }).port;
}, 120_000);

afterAll(async () => {
  for (const child of [...workers]) await kill(child);
  await owner?.dispose();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db?.close();
}, 60_000);

test('kills, a database restart and dropped connections: every lead once, none twice, none lost unexplained', async () => {
  const started = Date.now();
  const env = testEnv();
  // Just enough of a test world for the arranging helpers (owner access, the secrets box, the SMTP port).
  const w = { t: { owner }, box: makeSecretBox(secretsKeyOf(env)), smtp: { port: smtpPort } } as unknown as World;
  const email = uniqueEmail('crash');
  const [user] = await owner.query(sql`select id from app_private.create_user(${email}, 'irrelevant password 1', 'Crash owner', true)`);
  const [tenant] = await owner.query(sql`select id from app_private.create_tenant('Crash Org', ${user.id}, 'pro')`);
  const sender = await createSender(w, tenant.id, [{ dailyLimit: 1000 }, { dailyLimit: 1000 }, { dailyLimit: 1000 }]);
  const { campaignId, leads } = await createCampaign(w, tenant.id, {
    inboxIds: sender.inboxes.map((i) => i.id),
    steps: [{ type: 'email' }],
    leads: Array.from({ length: LEADS }, () => ({})),
  });
  leads.forEach((l, i) => leadIndex.set(l.email, i));

  for (let i = 0; i < 3; i++) await startWorkerProcess();
  const figures: string[] = [];

  // 1. After 40 messages: every worker dies between the final "." of a message and its "250".
  const allKilled = new Promise<void>((resolve) => {
    onStored = async () => {
      if (received.length < 40) return;
      onStored = null;
      await withMarksHeld(() => Promise.all([...workers].map(kill)));
      resolve();
    };
  });
  await owner.query(sql`select app_private.begin_campaign(${tenant.id}, ${campaignId})`);
  await allKilled;
  const killedAt = Date.now();
  const receivedAtKill = received.length;
  const deadPools = (await owner.query(sql`select distinct locked_by from graphile_worker._private_jobs where locked_by is not null`)).map((r) => r.locked_by as string);
  const replacements = Promise.all([0, 1, 2].map(() => startWorkerProcess()));
  // Their jobs go back to the queue within 30 s, freed by the new workers' liveness sweep.
  await eventually(async () => {
    const [row] = await owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where locked_by = any (${deadPools}::text[])`);
    return row.n === 0;
  }, 60_000, 50);
  const releasedMs = Date.now() - killedAt;
  await replacements;
  await eventually(async () => received.length > receivedAtKill, 60_000, 10);
  figures.push(`all 3 workers killed after a final dot (${receivedAtKill} received): their jobs (${deadPools.length} pools) freed after ${releasedMs} ms, sending again after ${Date.now() - killedAt} ms`);
  expect(releasedMs).toBeLessThan(30_000);

  // 2. Soon after: one worker killed at an arbitrary moment, and replaced.
  await eventually(async () => received.length >= receivedAtKill + 15, 60_000, 5);
  await withMarksHeld(() => kill([...workers][0]!));
  figures.push(`1 worker killed at an arbitrary moment (${received.length} received)`);
  const replacement = startWorkerProcess();

  // 3. Soon after: the database stops immediately and starts again (the cluster restarts its server)
  //    while messages wait for their "250": held from here, so that however fast this machine sends,
  //    leads are left to send once the database is back.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const receivedAtHold = received.length;
  onStored = () => held;
  await eventually(async () => received.length > receivedAtHold, 60_000, 5);
  const starts = db.cluster!.starts();
  await withMarksHeld(async () => process.kill(db.cluster!.pid()!, 'SIGQUIT'));
  const receivedAtStop = received.length;
  await eventually(async () => db.cluster!.starts() > starts, 60_000, 10);
  onStored = null;
  release();
  const backAt = Date.now();
  const receivedWhenBack = received.length;
  expect(receivedWhenBack).toBeLessThan(LEADS);
  await eventually(async () => received.length > receivedWhenBack, 60_000, 10);
  const resumeMs = Date.now() - backAt;
  figures.push(`database stopped immediately (${receivedAtStop} received): next email ${resumeMs} ms after it accepted connections again`);
  expect(resumeMs).toBeLessThan(10_000);
  await replacement;

  // Everything settles with no manual step; retries after a dropped connection (5 min backoff) are brought forward.
  await eventually(async () => settled().catch(() => false), 150_000, 200).catch(async (error: unknown) => {
    const stuck = await owner.query(sql`select status, count(*)::int as n from app_public.messages where campaign_id = ${campaignId} group by status`);
    throw new Error(`${(error as Error).message}; messages: ${JSON.stringify(stuck)}`);
  });
  async function settled() {
    // (Errors: the pool's connections from before the restart may fail once.)
    const [state] = await owner.query(sql`
      select c.status,
             count(*) filter (where m.status = 'queued' and m.scheduled_for > app_private.engine_now())::int as waiting
      from app_public.campaigns c left join app_public.messages m on m.tenant_id = c.tenant_id and m.campaign_id = c.id
      where c.id = ${campaignId} group by c.status`);
    if (state.waiting > 0) await owner.query(sql`select app_private.advance_engine_clock('6 minutes')`);
    return state.status === 'completed';
  }

  // Lead by lead.
  const rows = await owner.query(sql`
    select m.lead_id, m.status, m.rfc_message_id, m.error_message, m.send_attempts,
           coalesce(bool_or((ev.metadata->>'unconfirmed')::boolean), false) as unconfirmed
    from app_public.messages m left join app_public.email_events ev on ev.tenant_id = m.tenant_id and ev.message_id = m.id and ev.event_type = 'sent'
    where m.campaign_id = ${campaignId} and m.direction = 'outbound'
    group by m.lead_id, m.status, m.rfc_message_id, m.error_message, m.send_attempts`);
  const byMessageId = new Map<string, number>();
  for (const r of received) byMessageId.set(r.messageId, (byMessageId.get(r.messageId) ?? 0) + 1);
  const tally = { sentOnce: 0, unconfirmedOnce: 0, unconfirmedInWindow: [] as string[], notSentWithReason: 0, duplicates: 0, unexplained: [] as string[] };
  expect(new Set(rows.map((r) => r.lead_id)).size).toBe(LEADS);
  expect(rows).toHaveLength(LEADS);
  for (const r of rows) {
    const copies = byMessageId.get(r.rfc_message_id) ?? 0;
    if (copies > 1) tally.duplicates++;
    if (r.status === 'sent' && !r.unconfirmed && copies === 1) tally.sentOnce++;
    else if (r.status === 'sent' && r.unconfirmed && copies === 1) tally.unconfirmedOnce++;
    else if (r.status !== 'sent' && copies === 0 && r.error_message) tally.notSentWithReason++;
    // The one window docs/sending.md names: the hand-over mark committed, and the worker (or the database) was gone
    // before the "." reached the server. Recorded unconfirmed with the reason, never sent twice.
    else if (r.status === 'sent' && r.unconfirmed && copies === 0 && r.error_message) tally.unconfirmedInWindow.push(r.rfc_message_id);
    else tally.unexplained.push(`${r.rfc_message_id}: ${r.status}${r.unconfirmed ? ' (unconfirmed)' : ''}, received ${copies}×, ${r.error_message ?? 'no reason'}`);
  }
  const elapsed = Date.now() - started;
  figures.push(
    `${LEADS} leads: ${tally.sentOnce} received once + sent, ${tally.unconfirmedOnce} received once + unconfirmed, ` +
      `${tally.notSentWithReason} not received + not sent with a reason, ${tally.unconfirmedInWindow.length} not received + unconfirmed (the mark-to-dot window), ` +
      `${tally.duplicates} duplicates, ${tally.unexplained.length} unexplained; ` +
      `${received.length} transfers received; ${elapsed} ms`,
  );
  process.stderr.write(`\n[crash] ${figures.join('\n[crash] ')}\n`);
  expect(tally.duplicates).toBe(0);
  expect(tally.unexplained).toEqual([]);
  // At most one message in that window per worker slot a disruption interrupted: 3 workers × 2 killed together,
  // 1 worker × 2 killed alone, and at most 4 workers × 2 when the database stopped.
  expect(tally.unconfirmedInWindow.length).toBeLessThanOrEqual(16);
  expect(received).toHaveLength(new Set(received.map((r) => r.messageId)).size);
  // The connections dropped after the message (and the message killed after its dot) are the unconfirmed ones.
  expect(tally.unconfirmedOnce).toBeGreaterThanOrEqual(LEADS / 50);
  expect(await owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where locked_by is not null`)).toEqual([{ n: 0 }]);
}, 240_000);
