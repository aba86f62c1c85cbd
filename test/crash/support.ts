/**
 * The pieces of the crash test (test/crash/campaign.test.ts) and the crash
 * soak (scripts/crash-soak.ts, `npm run soak:crash`): a throw-away embedded
 * PostgreSQL cluster (so it can be stopped), an SMTP server on 127.0.0.1 that
 * drops some connections on purpose and may delay its "250", worker
 * processes (test/sending/support/worker-process.ts) started and killed with
 * SIGKILL, the settle loop and the lead-by-lead reconciliation.
 *
 * Not a test file (jest runs *.test.ts only).
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
import { testEnv } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { createCampaign, createSender, type World } from '../sending/support/world.ts';
import { createOwnedTenant } from '../helpers/tenants.ts';

export { eventually, sql };

// --- the database ------------------------------------------------------------

export interface CrashDatabase {
  db: Database;
  /** Owner connections (3), for arranging, watching and reconciling. */
  owner: ConnectionPool;
  close(): Promise<void>;
}

/**
 * A throw-away embedded cluster of its own, built from every migration. Its
 * server is started again after it dies (db.cluster.pid(), db.cluster.starts()):
 * SIGQUIT to the postmaster is `pg_ctl stop -m immediate`.
 */
export async function openCrashDatabase(databaseName: string): Promise<CrashDatabase> {
  const db = await openDatabase(testEnv(), {
    databaseName,
    ephemeral: { dataDir: mkdtempSync(path.join(os.tmpdir(), 'penguinmails-crash-pg-')), port: await freePort() },
  });
  await rebuildDatabase(db.urls);
  const owner = createPool({ connectionString: db.urls.owner, bigIntMode: 'string', poolSize: 3 });
  return {
    db,
    owner,
    async close() {
      await owner.dispose();
      await db.close();
    },
  };
}

// --- the SMTP server ---------------------------------------------------------

export interface Received {
  messageId: string;
  to: string;
  /** Date.now() when the message was stored. */
  at: number;
}

export interface CrashSmtpOptions {
  /** Recipients whose first transfer is dropped at DATA (the socket destroyed before the message is read). */
  dropAtData?: (to: string) => boolean;
  /** Recipients whose first transfer is dropped after the message is stored (before the answer). */
  dropAfterData?: (to: string) => boolean;
  /** Milliseconds to wait before answering "250" (after storing the message and onStored). */
  acceptDelayMs?: () => number;
}

export interface CrashSmtpServer {
  port: number;
  /** Every message received in full (stored), in order. A transfer cut before its final "." is not here. */
  received: Received[];
  /** Recipients whose first transfer was dropped. */
  dropped: Set<string>;
  drops: { atData: number; afterData: number };
  /** Runs after a message is stored and before it is answered (e.g. to hold the answer, or kill the sender there). */
  onStored: ((to: string) => Promise<void>) | null;
  close(): Promise<void>;
}

export async function startCrashSmtpServer(options: CrashSmtpOptions = {}): Promise<CrashSmtpServer> {
  const received: Received[] = [];
  const dropped = new Set<string>();
  const drops = { atData: 0, afterData: 0 };
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const to = session.envelope.rcptTo[0]!.address;
      const drop = () => {
        for (const c of server.connections) if (c.id === session.id) c._socket.destroy();
      };
      if (options.dropAtData?.(to) && !dropped.has(to)) {
        dropped.add(to);
        drops.atData++;
        stream.on('data', () => undefined);
        return drop();
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const parsed = await PostalMime.parse(Buffer.concat(chunks));
        received.push({ messageId: (parsed.messageId ?? '').replace(/^<|>$/g, ''), to, at: Date.now() });
        if (options.dropAfterData?.(to) && !dropped.has(to)) {
          dropped.add(to);
          drops.afterData++;
          return drop();
        }
        if (smtp.onStored) await smtp.onStored(to);
        if (options.acceptDelayMs) await new Promise((r) => setTimeout(r, options.acceptDelayMs!()));
        callback();
      });
    },
  });
  // Workers are killed mid-conversation on purpose: their connections end in
  // resets (ECONNRESET), which the server reports as errors.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const smtp: CrashSmtpServer = {
    port: (server.server.address() as { port: number }).port,
    received,
    dropped,
    drops,
    onStored: null,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return smtp;
}

// --- the campaign ------------------------------------------------------------

export interface CrashCampaign {
  tenantId: string;
  campaignId: string;
  leads: Array<{ id: string; email: string }>;
}

/**
 * A tenant with a verified sending domain, `inboxes` inboxes sending through
 * the SMTP server on `smtpPort`, and a draft campaign of one email step to
 * `leads` new leads (all days and hours; `settings` as createCampaign takes them).
 */
export async function arrangeCampaign(
  owner: ConnectionPool,
  smtpPort: number,
  spec: { label: string; leads: number; inboxes: number; dailyLimit: number; settings?: Record<string, unknown> },
): Promise<CrashCampaign> {
  // Just enough of a test world for the arranging helpers (owner access, the secrets box, the SMTP port).
  const w = { t: { owner }, box: makeSecretBox(secretsKeyOf(testEnv())), smtp: { port: smtpPort } } as unknown as World;
  const tenant = await createOwnedTenant(owner, spec.label, { tenantName: 'Crash Org', ownerName: 'Crash owner' });
  const sender = await createSender(w, tenant.tenantId, Array.from({ length: spec.inboxes }, () => ({ dailyLimit: spec.dailyLimit })));
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: sender.inboxes.map((i) => i.id),
    steps: [{ type: 'email' }],
    leads: Array.from({ length: spec.leads }, () => ({})),
    ...(spec.settings ? { settings: spec.settings } : {}),
  });
  return { tenantId: tenant.tenantId, campaignId, leads };
}

export async function beginCampaign(owner: ConnectionPool, campaign: CrashCampaign): Promise<void> {
  await owner.query(sql`select app_private.begin_campaign(${campaign.tenantId}, ${campaign.campaignId})`);
}

// --- worker processes --------------------------------------------------------

export interface WorkerFleet {
  /** The worker processes still running. */
  live: Set<ChildProcess>;
  /** Starts a worker process (concurrency `concurrency`); resolves once it takes jobs. */
  start(): Promise<ChildProcess>;
  /** SIGKILL; resolves once it exited and the database cancelled its sessions. */
  kill(child: ChildProcess): Promise<void>;
  killAll(): Promise<void>;
  /** Processes that exited without being killed here: pid, exit code or signal, and the last line of error output. */
  unexpectedExits: string[];
}

/**
 * Worker processes of concurrency `concurrency` on the database at `ownerUrl`
 * (their error output is passed through). `onUnexpectedExit` is told about a
 * process that exited without being killed here, once it is running.
 */
export function workerFleet(ownerUrl: string, owner: ConnectionPool, concurrency = 2, onUnexpectedExit?: (what: string) => void): WorkerFleet {
  const live = new Set<ChildProcess>();
  const killed = new WeakSet<ChildProcess>();
  const unexpectedExits: string[] = [];
  const fleet: WorkerFleet = {
    live,
    unexpectedExits,
    async start() {
      const child = spawn(process.execPath, ['test/sending/support/worker-process.ts'], {
        env: { ...process.env, NODE_OPTIONS: '', PM_CHILD_DATABASE_URL: ownerUrl, PM_CHILD_PUBLIC_URL: 'http://127.0.0.1:9', PM_CHILD_CONCURRENCY: String(concurrency) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      live.add(child);
      let errors = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        process.stderr.write(chunk);
        errors = (errors + chunk.toString()).slice(-4_000);
      });
      let running = false;
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (killed.has(child) || !running) return;
        const error = errors.split('\n').find((l) => /^\w*Error\b/.test(l.trim())) ?? errors.trim().split('\n').at(-1) ?? '';
        const what = `worker ${child.pid} exited on its own (${signal ?? `code ${code}`}): ${error.trim()}`;
        unexpectedExits.push(what);
        onUnexpectedExit?.(what);
      });
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('ready\n')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`a worker process exited early (${code}): ${output}`)));
      });
      running = true;
      return child;
    },
    async kill(child) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killed.add(child);
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      // Its sessions are cancelled within a second (client_connection_check_interval): none of its statements
      // waiting for a lock commits after its death, whatever the caller releases next.
      // (A failing query, on a connection from before a database restart, is asked again.)
      const gone = async () => {
        const [row] = await owner.query(sql`select count(*)::int as n from pg_stat_activity where application_name = ${`penguinmails-worker:${child.pid}`}`);
        return row.n === 0;
      };
      await eventually(() => gone().catch(() => false), 30_000, 20);
    },
    async killAll() {
      for (const child of [...live]) await fleet.kill(child);
    },
  };
  return fleet;
}

/**
 * Runs `fn` while new hand-over marks wait for a lock, once every message with
 * a committed mark that is still being sent has reached the server: a kill
 * then never lands between a mark's commit and its final "." (the one
 * ambiguity the engine cannot close, docs/sending.md).
 */
export async function withMarksHeld<T>(ownerUrl: string, received: Received[], fn: () => Promise<T>): Promise<T> {
  const blocker = new pg.Client({ connectionString: ownerUrl });
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

// --- settling ----------------------------------------------------------------

/**
 * Waits for the campaign to complete with no manual step, except that retries
 * waiting on a backoff (5 min after a dropped connection) are brought forward:
 * whenever a queued message is due later, the engine clock moves on 6 minutes
 * (app_private.advance_engine_clock). Returns how often it did.
 */
export async function settle(owner: ConnectionPool, campaignId: string, timeoutMs: number): Promise<{ clockAdvances: number }> {
  let clockAdvances = 0;
  const settled = async () => {
    // (Errors: the pool's connections from before a database restart may fail once.)
    const [state] = await owner.query(sql`
      select c.status,
             count(*) filter (where m.status = 'queued' and m.scheduled_for > app_private.engine_now())::int as waiting
      from app_public.campaigns c left join app_public.messages m on m.tenant_id = c.tenant_id and m.campaign_id = c.id
      where c.id = ${campaignId} group by c.status`);
    if (state.waiting > 0) {
      await owner.query(sql`select app_private.advance_engine_clock('6 minutes')`);
      clockAdvances++;
    }
    return state.status === 'completed';
  };
  await eventually(async () => settled().catch(() => false), timeoutMs, 200).catch(async (error: unknown) => {
    const stuck = await owner.query(sql`select status, count(*)::int as n from app_public.messages where campaign_id = ${campaignId} group by status`);
    throw new Error(`${(error as Error).message}; messages: ${JSON.stringify(stuck)}`);
  });
  return { clockAdvances };
}

// --- reconciliation ----------------------------------------------------------

export interface MessageRecord {
  leadId: string;
  email: string;
  messageId: string;
  status: string;
  unconfirmed: boolean;
  errorMessage: string | null;
  sendAttempts: number;
  /** Transfers of this Message-ID the server received. */
  copies: number;
}

export interface Reconciliation {
  /** The campaign's outbound messages, and the distinct leads they are for. */
  messages: number;
  leads: number;
  /** Received once and recorded sent. */
  sentOnce: number;
  /** Received once and recorded sent, unconfirmed. */
  unconfirmedOnce: number;
  /** Not received and recorded not sent, with a reason. */
  notSentWithReason: number;
  /** Not received and recorded sent, unconfirmed, with the reason: the mark-to-dot window (docs/sending.md). Their Message-IDs. */
  unconfirmedInWindow: string[];
  /** Messages whose Message-ID the server received more than once. */
  duplicates: number;
  duplicateMessages: MessageRecord[];
  /** Leads whose address received more than one distinct Message-ID. */
  leadsUnderTwoIds: Array<{ email: string; messageIds: string[] }>;
  /** Transfers received whose Message-ID is none of the campaign's messages. */
  strays: Received[];
  /** Messages in none of the states above. */
  unexplained: MessageRecord[];
}

/** Lead by lead: what the server received against what the database recorded. */
export async function reconcile(owner: ConnectionPool, campaignId: string, received: Received[]): Promise<Reconciliation> {
  const rows = await owner.query(sql`
    select m.lead_id, l.email, m.status, m.rfc_message_id, m.error_message, m.send_attempts,
           coalesce(bool_or((ev.metadata->>'unconfirmed')::boolean), false) as unconfirmed
    from app_public.messages m
    join app_public.leads l on l.tenant_id = m.tenant_id and l.id = m.lead_id
    left join app_public.email_events ev on ev.tenant_id = m.tenant_id and ev.message_id = m.id and ev.event_type = 'sent'
    where m.campaign_id = ${campaignId} and m.direction = 'outbound'
    group by m.lead_id, l.email, m.status, m.rfc_message_id, m.error_message, m.send_attempts`);
  const byMessageId = new Map<string, number>();
  for (const r of received) byMessageId.set(r.messageId, (byMessageId.get(r.messageId) ?? 0) + 1);
  const tally: Reconciliation = {
    messages: rows.length,
    leads: new Set(rows.map((r) => r.lead_id)).size,
    sentOnce: 0,
    unconfirmedOnce: 0,
    notSentWithReason: 0,
    unconfirmedInWindow: [],
    duplicates: 0,
    duplicateMessages: [],
    leadsUnderTwoIds: [],
    strays: [],
    unexplained: [],
  };
  for (const r of rows) {
    const copies = byMessageId.get(r.rfc_message_id) ?? 0;
    const record: MessageRecord = {
      leadId: r.lead_id, email: r.email, messageId: r.rfc_message_id, status: r.status, unconfirmed: r.unconfirmed,
      errorMessage: r.error_message, sendAttempts: Number(r.send_attempts), copies,
    };
    if (copies > 1) {
      tally.duplicates++;
      tally.duplicateMessages.push(record);
    }
    if (r.status === 'sent' && !r.unconfirmed && copies === 1) tally.sentOnce++;
    else if (r.status === 'sent' && r.unconfirmed && copies === 1) tally.unconfirmedOnce++;
    else if (r.status !== 'sent' && copies === 0 && r.error_message) tally.notSentWithReason++;
    // The one window docs/sending.md names: the hand-over mark committed, and the worker (or the database) was gone
    // before the "." reached the server. Recorded unconfirmed with the reason, never sent twice.
    else if (r.status === 'sent' && r.unconfirmed && copies === 0 && r.error_message) tally.unconfirmedInWindow.push(r.rfc_message_id);
    else tally.unexplained.push(record);
  }
  const known = new Set(rows.map((r) => r.rfc_message_id as string));
  tally.strays = received.filter((r) => !known.has(r.messageId));
  const idsByAddress = new Map<string, Set<string>>();
  for (const r of received) {
    const ids = idsByAddress.get(r.to) ?? new Set<string>();
    ids.add(r.messageId);
    idsByAddress.set(r.to, ids);
  }
  for (const [email, ids] of idsByAddress) if (ids.size > 1) tally.leadsUnderTwoIds.push({ email, messageIds: [...ids] });
  return tally;
}

/** The messages' events, oldest first, for a report on leads that did not reconcile. */
export async function eventsOf(owner: ConnectionPool, campaignId: string, messageIds: string[]) {
  if (messageIds.length === 0) return [];
  return owner.query(sql`
    select m.rfc_message_id, ev.event_type, ev.created, ev.metadata
    from app_public.messages m join app_public.email_events ev on ev.tenant_id = m.tenant_id and ev.message_id = m.id
    where m.campaign_id = ${campaignId} and m.rfc_message_id = any (${messageIds}::text[])
    order by m.rfc_message_id, ev.id`);
}
