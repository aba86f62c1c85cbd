/**
 * Figure 6 — Sends: a campaign started through the API (startCampaign) to a
 * list of leads, delivered by the product's worker (its own process, our
 * configuration) through ten inboxes to a local SMTP sink, every message
 * rendered and DKIM-signed: emails per second from the start until the last
 * one arrived, and the CPU it took, split between the worker and PostgreSQL
 * (from /proc: the worker process, and the server with all its backends).
 * Anchor: the same kind of message handed to the product's own SMTP function
 * (src/sending/smtp.ts: a connection per message, DKIM) from as many
 * concurrent senders, with no database at all; and, for reference, one
 * pooled nodemailer connection per sender.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { DKIM_SIGNED_HEADERS, sendSmtp, type OutgoingMail } from '../../src/sending/smtp.ts';
import { createSmtpPool } from '../../src/sending/smtp-pool.ts';
import { startChild } from '../lib/child.ts';
import { cpuSecondsOf } from '../lib/proc.ts';
import { benchFile, type BenchContext } from '../lib/context.ts';
import { graphql } from '../lib/http-load.ts';
import { describeProfile, sampleActivity, type ActivityProfile } from '../lib/activity.ts';
import { cpuMeasurements, describeSplit, watchCpu, withoutSampler, type CpuSplit } from '../lib/cpu.ts';
import { profileNested, type NestedStatement } from '../lib/nested-profile.ts';
import { compare, type FigureResult, type Measurement } from '../lib/report.ts';
import { createScratchTenant, removeScratchTenant, type Queryable, type ScratchTenant } from '../lib/scratch-tenant.ts';
import { startSmtpSink, type SmtpSink } from '../lib/smtp-sink.ts';
import { closedLoop } from '../lib/stats.ts';

const INBOXES = 10;
const HTML = `<p>Hi {{ lead.first_name | default: "there" }},</p>
<p>I noticed <strong>{{ lead.company }}</strong> is growing its team. We help companies like yours book more meetings
without more headcount: <a href="https://penguinmails.example/case-study">a two-minute case study</a>.</p>
<p>Worth a 15-minute call next week?</p><p>{{ sender.first_name }}</p>`;

interface Sender {
  domain: string;
  domainId: string;
  privateKeyPem: string;
  dkimRecord: string;
  inboxes: Array<{ id: string; email: string }>;
}

export async function createSender(owner: Queryable, tenantId: string, sinkPort: number, secretsKey: string): Promise<Sender> {
  const domain = `send-${Date.now().toString(36)}.bench.example`;
  const { rows: [row] } = await owner.query<{ id: string }>(
    `insert into app_public.domains (tenant_id, domain, dkim_selector, verification_status, verified_at)
     values ($1, $2, 'pm', 'verified', now()) returning id`,
    [tenantId, domain],
  );
  // The key the deliverability subsystem would have generated; its own job for this domain is not needed.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const spki = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  await owner.query(
    `insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key)
     values ($1, $2, 'pm', $3, $4)
     on conflict (tenant_id, domain_id, selector) do update set private_key_encrypted = excluded.private_key_encrypted, public_key = excluded.public_key`,
    [tenantId, row!.id, makeSecretBox(secretsKey).encrypt(pem), spki],
  );
  await owner.query(`select graphile_worker.remove_job('generate_dkim_key:' || $1 || ':pm')`, [row!.id]);
  const inboxes: Sender['inboxes'] = [];
  for (let i = 0; i < INBOXES; i++) {
    const email = `sender${i + 1}@${domain}`;
    const { rows: [inbox] } = await owner.query<{ id: string }>(
      `insert into app_public.email_accounts (tenant_id, domain_id, email, from_name, provider, smtp_settings, daily_limit, timezone, warmup_enabled)
       values ($1, $2, $3, $4, 'smtp', $5::jsonb, 10000, 'UTC', false) returning id`,
      [tenantId, row!.id, email, `Sam ${i + 1}`, JSON.stringify({ host: '127.0.0.1', port: sinkPort, secure: false, require_tls: false })],
    );
    inboxes.push({ id: inbox!.id, email });
  }
  return { domain, domainId: row!.id, privateKeyPem: pem, dkimRecord: `v=DKIM1; k=rsa; p=${spki}`, inboxes };
}

/** A draft campaign: one email step, any day and hour, no gaps, all inboxes, a static list of `count` leads. */
export async function createCampaign(owner: Queryable, tenantId: string, sender: Sender, count: number): Promise<string> {
  const { rows: [template] } = await owner.query<{ id: string }>(
    `insert into app_public.templates (tenant_id, name, subject, content) values ($1, 'Bench intro', 'An idea for {{ lead.company }}', $2) returning id`,
    [tenantId, HTML],
  );
  const { rows: [campaign] } = await owner.query<{ id: string }>(
    `insert into app_public.campaigns (tenant_id, name, timezone, use_lead_timezone, send_days, send_window_start, send_window_end,
       min_gap_seconds, max_gap_seconds, track_opens, track_clicks, include_unsubscribe_link, from_name)
     values ($1, 'Bench sends', 'UTC', false, '{1,2,3,4,5,6,7}', '00:00', '23:59:59', 0, 0, true, true, true, 'Sam')
     returning id`,
    [tenantId],
  );
  await owner.query(
    `insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id) values ($1, $2, 1, 'email', $3)`,
    [tenantId, campaign!.id, template!.id],
  );
  await owner.query(
    `insert into app_public.campaign_email_accounts (tenant_id, campaign_id, email_account_id) select $1, $2, unnest($3::uuid[])`,
    [tenantId, campaign!.id, sender.inboxes.map((i) => i.id)],
  );
  const { rows: [list] } = await owner.query<{ id: string }>(
    `insert into app_public.contact_lists (tenant_id, name) values ($1, 'Bench send list') returning id`,
    [tenantId],
  );
  await owner.query(
    `with l as (
       insert into app_public.leads (tenant_id, email, first_name, last_name, company, timezone)
       select $1, 'lead' || g || '@recipients' || (g % 50) || '.bench.example', 'Ada' || g, 'Lovelace', 'Company ' || (g % 300), 'UTC'
       from generate_series(1, $3) g
       returning id)
     insert into app_public.contact_list_members (tenant_id, list_id, lead_id) select $1, $2, id from l`,
    [tenantId, list!.id, count],
  );
  await owner.query(
    `insert into app_public.campaign_targets (tenant_id, campaign_id, contact_list_id) values ($1, $2, $3)`,
    [tenantId, campaign!.id, list!.id],
  );
  return campaign!.id;
}

async function verifySamples(sink: SmtpSink, sender: Sender): Promise<number> {
  let passed = 0;
  for (const raw of sink.samples) {
    const result = await dkimVerify(raw, {
      resolver: async (name: string, type: string) => {
        if (type === 'TXT' && name === `pm._domainkey.${sender.domain}`) return [[sender.dkimRecord]];
        throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
      },
    } as Parameters<typeof dkimVerify>[1]);
    if (result.results[0]?.status.result === 'pass') passed++;
  }
  return passed;
}

function anchorMail(sender: Sender, n: number, unsubscribeBase: string): OutgoingMail {
  const inbox = sender.inboxes[n % sender.inboxes.length]!;
  return {
    fromName: 'Sam', fromAddress: inbox.email, to: `anchor${n}@recipients.bench.example`, replyTo: null,
    subject: `An idea for Company ${n % 300}`,
    html: HTML.replace(/\{\{[^}]+\}\}/g, 'Ada') + `<img src="${unsubscribeBase}/t/o/x${n}" width="1" height="1" alt="">`,
    text: 'Hi Ada, I noticed Company is growing its team. Worth a 15-minute call next week? Sam',
    messageId: `${crypto.randomUUID()}@${sender.domain}`, inReplyTo: null, unsubscribeUrl: `${unsubscribeBase}/u/x${n}`,
    dkim: { domainName: sender.domain, keySelector: 'pm', privateKey: sender.privateKeyPem },
  };
}

interface EngineRun {
  engine: Measurement;
  cpu: CpuSplit;
  arrived: number;
  profile: ActivityProfile;
}

/** Starts the product worker, starts the campaign through the API, waits for the mail; CPU from /proc around it. */
async function runEngine(
  ctx: BenchContext,
  { owner, sink, campaignId, token, count, apiUrl, notes, tenantId }:
    { owner: pg.Pool; sink: SmtpSink; campaignId: string; token: string; count: number; apiUrl: string; notes: string[]; tenantId: string },
): Promise<EngineRun> {
  const worker = await startChild<Record<string, never>>(benchFile('servers/product-worker.ts'), ctx.childEnv({
    BENCH_CHILD_CONFIG: JSON.stringify({ publicUrl: apiUrl }),
    OUTBOUND_ALLOW_PRIVATE: '127.0.0.1/32', // the SMTP sink listens on loopback
  }));
  try {
    const cpuSince = await watchCpu(owner, worker);
    const sampler = sampleActivity(ctx.monitorUrl);
    ctx.log(`  starting a campaign to ${count.toLocaleString('en-US')} leads through ${INBOXES} inboxes (worker pid ${worker.pid}, concurrency ${ctx.db.env.WORKER_CONCURRENCY})`);
    const t0 = performance.now();
    await graphql(apiUrl, token, { query: `mutation($id: UUID!) { startCampaign(input: { campaignId: $id }) { result { status } } }`, variables: { id: campaignId } });
    const arrived = await sink.waitFor(count, t0 + Math.max(60_000, 8_000 * ctx.options.durationSec));
    const seconds = ((sink.arrivals.at(-1) ?? performance.now()) - t0) / 1000;
    const cpuWithSampler = cpuSince();
    const profile = await sampler.stop();
    const cpu = withoutSampler(cpuWithSampler, profile);
    if (arrived < count) notes.push(`Only ${arrived} of ${count} emails arrived within the time limit; the rate counts those.`);
    const { rows } = await owner.query<{ status: string; n: string }>(
      `select status, count(*) as n from app_public.messages where tenant_id = $1 and campaign_id = $2 group by status order by 1`,
      [tenantId, campaignId],
    );
    notes.push(`Messages after the run: ${rows.map((r) => `${r.n} ${r.status}`).join(', ')}.`);
    ctx.log(`  ${arrived} emails in ${seconds.toFixed(1)} s`);
    return {
      engine: {
        label: `campaign → worker → SMTP sink (${INBOXES} inboxes, DKIM)`, side: 'product',
        value: Math.round((arrived / seconds) * 10) / 10, unit: 'emails/s',
        detail: `${arrived} emails in ${seconds.toFixed(1)} s from startCampaign to the last arrival`,
      },
      cpu,
      arrived,
      profile,
    };
  } finally {
    await ctx.stopChild('worker (campaign sends)', worker);
  }
}

/**
 * One enrollment's turn, statement by statement as the worker sends them
 * (workers/campaign-step.ts, src/sending/deliver.ts), with the SMTP talk left
 * out: book, envelope and render context, lock and claim, hand-over mark,
 * delivery, unlock, and the turn that ends the one-step sequence.
 */
async function takeTurn(client: pg.ClientBase, tenantId: string, enrollmentId: string): Promise<void> {
  const { rows: [next] } = await client.query<{ action: string; message_id: string }>(
    `select r.* from app_private.run_enrollment($1, $2) r, set_config('synchronous_commit', 'off', true)`, [tenantId, enrollmentId]);
  if (next?.action !== 'send') throw new Error(`enrollment ${enrollmentId}: ${next?.action ?? 'nothing'} instead of a send`);
  const args = [tenantId, next.message_id];
  await client.query(`select e.*, app_hidden.render_context($1, e.step_id, e.lead_id) from app_private.delivery_envelope($1, $2) e`, args);
  await client.query(`select case when pg_try_advisory_lock(app_private.send_lock_key($2)) then app_private.claim_message($1, $2, 'Subject', 'Body') end,
                             set_config('synchronous_commit', 'off', true)`, args);
  await client.query('select app_private.mark_handed_over($1, $2)', args);
  await client.query(`select app_private.record_delivery($1, $2, '250 2.0.0 OK'), set_config('synchronous_commit', 'off', true)`, args);
  await client.query('select pg_advisory_unlock(app_private.send_lock_key($1))', [next.message_id]);
  await client.query(`select r.* from app_private.run_enrollment($1, $2) r, set_config('synchronous_commit', 'off', true)`, [tenantId, enrollmentId]);
}

/**
 * A scratch campaign of `count` leads started through start_campaign as its
 * member would; its enrollments, oldest first. Runs inside the caller's
 * transaction (a superuser's session: it takes the member role for the start).
 */
async function startedCampaign(client: pg.ClientBase, ctx: BenchContext, label: string, count: number): Promise<{ tenant: ScratchTenant; enrollments: string[] }> {
  const tenant = await createScratchTenant(client, label);
  const sender = await createSender(client, tenant.tenantId, 2525, ctx.db.secretsKey);
  const campaignId = await createCampaign(client, tenant.tenantId, sender, count);
  await client.query(`select app_hidden.enter_request($1, $2), set_config('role', 'penguinmails_member', true)`, [tenant.userId, tenant.tenantId]);
  await client.query('select app_public.start_campaign($1)', [campaignId]);
  await client.query('reset role');
  const { rows } = await client.query<{ id: string }>(`select id from app_public.campaign_enrollments where tenant_id = $1 order by id`, [tenant.tenantId]);
  return { tenant, enrollments: rows.map((r) => r.id) };
}

/**
 * One email's way through the engine's SQL, profiled: in a rolled-back
 * transaction, a small campaign is started and its enrollments take their
 * turns; the last one (warm plans) is reported statement by statement.
 * Needs a superuser (auto_explain).
 */
async function profileEngineSql(ctx: BenchContext): Promise<NestedStatement[] | null> {
  if (ctx.monitorUrl === ctx.db.urls.owner) return null;
  let tenantId = '';
  let enrollments: string[] = [];
  return profileNested(ctx.monitorUrl, async (client, pass) => {
    if (pass === 1) ({ tenant: { tenantId }, enrollments } = await startedCampaign(client, ctx, 'profile', 20));
    await takeTurn(client, tenantId, enrollments[pass - 1]!);
  }, { passes: 6, top: 10 });
}

/**
 * The CPU the engine's SQL takes per email on its own: one session takes
 * every enrollment's turn of a scratch campaign in sequence, each statement
 * committed, with no worker, job queue, SMTP or concurrent sessions; the
 * backend's CPU from /proc. Separates the cost of our SQL from what the
 * figure's run adds around it; the scratch tenant is removed through the
 * figure's owner pool. Needs a superuser (the member role for start_campaign)
 * and a server on this machine.
 */
async function engineSqlAlone(ctx: BenchContext, owner: pg.Pool, count: number): Promise<{ cpuMs: number; emails: number } | null> {
  if (ctx.monitorUrl === ctx.db.urls.owner) return null;
  const client = new pg.Client({ connectionString: ctx.monitorUrl, application_name: 'penguinmails-bench-engine-sql' });
  await client.connect();
  let tenant: ScratchTenant | null = null;
  try {
    await client.query('begin');
    const started = await startedCampaign(client, ctx, 'engine-sql', count);
    await client.query('commit');
    tenant = started.tenant;
    const { rows: [{ pid }] } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    // Warm the session's plans first, as a worker's long-lived connection has them.
    const warm = Math.min(20, Math.floor(count / 5));
    for (const id of started.enrollments.slice(0, warm)) await takeTurn(client, tenant.tenantId, id);
    const before = cpuSecondsOf(pid);
    for (const id of started.enrollments.slice(warm)) await takeTurn(client, tenant.tenantId, id);
    const seconds = cpuSecondsOf(pid) - before;
    if (!Number.isFinite(seconds)) return null;
    const emails = started.enrollments.length - warm;
    return { cpuMs: Math.round(((seconds * 1000) / emails) * 100) / 100, emails };
  } finally {
    await client.end();
    const problem = tenant && (await removeScratchTenant(owner, tenant));
    if (problem) ctx.log(`  ${problem}`);
  }
}

export async function sends(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const { durationSec } = ctx.options;
  const count = Math.max(500, Math.round(200 * durationSec));
  const concurrency = ctx.db.env.WORKER_CONCURRENCY;
  const api = await ctx.api();
  const owner = new pg.Pool({ connectionString: ctx.db.urls.owner, max: 3 });
  const sink = await startSmtpSink();
  const tenant = await createScratchTenant(owner, 'sender');
  const notes: string[] = [];
  try {
    const sender = await createSender(owner, tenant.tenantId, sink.port, ctx.db.secretsKey);
    const campaignId = await createCampaign(owner, tenant.tenantId, sender, count);
    const { token } = await ctx.session(tenant.userId, tenant.tenantId);

    const { engine, cpu, arrived, profile } = await runEngine(ctx, { owner, sink, campaignId, token, count, apiUrl: api.url, notes, tenantId: tenant.tenantId });
    const passed = await verifySamples(sink, sender);
    if (passed !== sink.samples.length || passed === 0) {
      throw new Error(`DKIM: ${passed} of ${sink.samples.length} sampled messages carry a valid signature.`);
    }
    notes.push(`DKIM verified (mailauth, the domain's published key) on ${passed} sampled messages.`);

    const cpuRows = cpuMeasurements(cpu, arrived, { server: 'worker process', per: 'email', benchmark: 'SMTP sink (benchmark process)' });
    notes.push(`CPU split: ${describeSplit(cpu, `${arrived} emails`)}`);
    notes.push(`Database profile during the run: ${describeProfile(profile)}`);
    const nested = await profileEngineSql(ctx);
    const alone = await engineSqlAlone(ctx, owner, 300);
    const aloneRows: Measurement[] = alone
      ? [{ label: "CPU per email: the engine's SQL alone, one session (PostgreSQL backend)", side: 'info', value: alone.cpuMs, unit: 'ms',
           detail: `${alone.emails} emails taken in sequence by one connection, no worker, job queue or SMTP` }]
      : [];
    if (nested) {
      notes.push(`Inside the engine's SQL for one email (auto_explain, warm): ${nested.slice(0, 5).map((n) => `${n.ms.toFixed(1)} ms ${n.statement.slice(0, 80)}`).join(' | ')} (nested.engine).`);
    }

    // Anchors: the same kind of message through our own sendSmtp, no database: with a
    // reused connection per sender as the engine does (the anchor), and with a connection per message.
    const anchorCount = { n: 0 };
    const sink127 = { host: '127.0.0.1', port: sink.port, secure: false, require_tls: false };
    const loopbackGuard = makeOutboundGuard({ allowPrivate: ['127.0.0.1'] });
    const sendDirect = async (pool?: ReturnType<typeof createSmtpPool>) => {
      const outcome = await sendSmtp(sink127, null, anchorMail(sender, anchorCount.n++, api.url), { outbound: loopbackGuard }, pool);
      if (outcome.kind !== 'accepted') throw new Error(`SMTP sink answered ${JSON.stringify(outcome)}`);
    };
    const pools = Array.from({ length: concurrency }, () => createSmtpPool());
    const reused = await closedLoop({
      concurrency, durationMs: Math.min(durationSec, 5) * 1000, warmupMs: 500,
      op: (client) => sendDirect(pools[client]),
    }).finally(() => pools.forEach((p) => p.close()));
    const direct = await closedLoop({
      concurrency, durationMs: Math.min(durationSec, 5) * 1000, warmupMs: 500,
      op: () => sendDirect(),
    });
    const transports = Array.from({ length: concurrency }, () => nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, pool: true, maxConnections: 1, maxMessages: Infinity, logger: false }));
    const pooled = await closedLoop({
      concurrency, durationMs: Math.min(durationSec, 5) * 1000, warmupMs: 500,
      op: async (client) => {
        const mail = anchorMail(sender, anchorCount.n++, api.url);
        await transports[client]!.sendMail({
          from: { name: mail.fromName ?? '', address: mail.fromAddress }, to: mail.to, subject: mail.subject, html: mail.html, text: mail.text,
          messageId: `<${mail.messageId}>`,
          dkim: { ...mail.dkim, headerFieldNames: DKIM_SIGNED_HEADERS.join(':') },
        });
      },
    }).finally(() => transports.forEach((t) => t.close()));
    const rate = (x: { perSecond: number }) => Math.round(x.perSecond * 10) / 10;
    const anchor: Measurement = { label: `sendSmtp, a reused connection per sender ×${concurrency} (DKIM, no database)`, side: 'anchor', value: rate(reused), unit: 'emails/s' };
    const directRow: Measurement = { label: `sendSmtp, a connection per message ×${concurrency} (DKIM, no database)`, side: 'info', value: rate(direct), unit: 'emails/s' };
    const pooledRow: Measurement = { label: `nodemailer, pooled connection ×${concurrency} (DKIM, no database)`, side: 'info', value: rate(pooled), unit: 'emails/s' };
    return {
      measurements: [engine, anchor, directRow, pooledRow, ...cpuRows, ...aloneRows],
      comparisons: [
        compare('emails/s: engine vs sendSmtp with reused connections (no database)', engine, anchor, 'value', (_, r) => `the engine reaches ×${r} of the bare sending rate`),
        compare('emails/s: sendSmtp, a connection per message vs reused', directRow, anchor, 'value', (x) => `a connection per message costs ×${x}`),
        compare('emails/s: sendSmtp reused vs bare nodemailer pool', anchor, pooledRow, 'value', (_, r) => `×${r} of nodemailer's own pool`),
      ],
      notes,
      profiles: { engine: profile },
      ...(nested ? { nested: { engine: nested } } : {}),
    };
  } finally {
    const problem = await removeScratchTenant(owner, tenant);
    if (problem) ctx.log(`  ${problem}`);
    await sink.close();
    await owner.end();
  }
}
