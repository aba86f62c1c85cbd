/**
 * A sending test world: a private database with the API server on it, a real
 * SMTP server on 127.0.0.1, and the worker running the campaign engine
 * against both. Helpers arrange tenants, senders (verified domain with a
 * DKIM key, inboxes pointing at the test SMTP server) and campaigns as the
 * owner, like the other subsystems would (the deliverability engineer's real
 * flow verifies domains and generates keys); tests act through the API where
 * a tenant would.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import type { SMTPServerOptions } from 'smtp-server';
import { secretsKeyOf, type Env } from '../../../src/config.ts';
import { makeSecretBox, type SecretBox } from '../../../src/crypto/secrets.ts';
import { makeSystemMailer } from '../../../src/mail/system-mailer.ts';
import type { SmtpOptions } from '../../../src/sending/smtp.ts';
import { startWorker, type WorkerHandle } from '../../../src/worker/runner.ts';
import { startTestApi, testEnv, type TestApi } from '../../helpers/api.ts';
import { startSmtpServer, type ReceivedMail, type SmtpServerHooks, type TestSmtpServer } from '../../helpers/smtp.ts';
import { uniqueEmail, uniqueDomain } from '../../helpers/unique.ts';
import { createOwnedTenant } from '../../helpers/tenants.ts';
import { sql } from '../../../src/db/pg.ts';
import { eventually } from '../../helpers/eventually.ts';



export interface World {
  t: TestApi;
  smtp: TestSmtpServer;
  worker: WorkerHandle | null;
  env: Env;
  box: SecretBox;
  /** Base URL of tracking links in sent mail (the API server, as in production without PUBLIC_URL). */
  publicUrl: string;
  startWorker(): Promise<WorkerHandle>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface WorldOptions {
  smtp?: Partial<SMTPServerOptions>;
  smtpHooks?: SmtpServerHooks;
  smtpClient?: SmtpOptions;
  worker?: boolean;
  /** Worker concurrency (1 makes the order of jobs, and so rotation picks, deterministic). */
  concurrency?: number;
  /** Extra HTTP routes on the API server (e.g. the tracking endpoints). */
  routes?: Parameters<typeof startTestApi>[1];
  /** Platform emails (notifications to admins) go to the test SMTP server instead of an outbox folder. */
  systemMailViaSmtp?: boolean;
  /** The API server runs in this process (its logs and metrics are this process's): startTestApi's inProcess. */
  apiInProcess?: boolean;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const smtp = await startSmtpServer(options.smtp, options.smtpHooks);
  const t = await startTestApi({}, options.routes, undefined, { inProcess: options.apiInProcess });
  const env = testEnv({ LOG_LEVEL: 'error' });
  const box = makeSecretBox(secretsKeyOf(env));
  const systemMailer = makeSystemMailer({
    from: env.MAIL_FROM,
    outboxDir: path.join(os.tmpdir(), 'pm-sending-outbox'),
    smtpUrl: options.systemMailViaSmtp ? smtp.url : undefined,
  });
  const world: World = {
    t,
    smtp,
    worker: null,
    env,
    box,
    publicUrl: t.url,
    async startWorker() {
      world.worker = await startWorker(
        t.urls.owner,
        { env, systemMailer, sending: { publicUrl: t.url, smtp: { timeoutMs: 5_000, ...options.smtpClient } } },
        { pollInterval: 100, crontab: '', concurrency: options.concurrency ?? 4 },
      );
      return world.worker;
    },
    async stopWorker() {
      await world.worker?.stop();
      world.worker = null;
    },
    async close() {
      await world.stopWorker();
      await t.close();
      // The mailer's pooled connection first: the SMTP server's close waits for its clients to leave.
      systemMailer.close();
      await smtp.close();
    },
  };
  if (options.worker !== false) await world.startWorker();
  return world;
}

// --- tenants -------------------------------------------------------------

export interface TestTenant {
  tenantId: string;
  userId: string;
  token: string;
}

/** A tenant on the given plan with an owner, and a signed session for that owner. */
export async function createTenant(w: World, label: string, plan = 'pro', roles = ['owner']): Promise<TestTenant> {
  const { tenantId, userId } = await createOwnedTenant(w.t.owner, label, { plan });
  const token = await w.t.session({ role: 'member', user_id: userId, tenant_id: tenantId, expires_at: new Date(Date.now() + 3_600_000) });
  if (roles.join() !== 'owner') {
    const other = await addMember(w, tenantId, `${label}-${roles.join('-')}`, roles);
    return { tenantId, userId: other.userId, token: other.token };
  }
  return { tenantId, userId, token };
}

export async function addMember(w: World, tenantId: string, label: string, roles: string[]): Promise<TestTenant> {
  const email = uniqueEmail(label);
  const [user] = await w.t.owner.query(sql`select id from app_private.create_user(${email}, 'irrelevant password 1', ${label}, true)`);
  await w.t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenantId}, ${user.id}, ${roles}, ${email})`);
  const token = await w.t.session({ role: 'member', user_id: user.id, tenant_id: tenantId, expires_at: new Date(Date.now() + 3_600_000) });
  return { tenantId, userId: user.id, token };
}

// --- senders -------------------------------------------------------------

export interface InboxSpec {
  local?: string;
  dailyLimit?: number;
  timezone?: string;
  username?: string;
  password?: string;
  secure?: boolean;
  requireTls?: boolean;
  port?: number;
  fromName?: string;
}

export interface Sender {
  domainId: string;
  domain: string;
  selector: string;
  /** The DNS TXT value publishing the DKIM public key. */
  dkimRecord: string;
  inboxes: Array<{ id: string; email: string }>;
}

/** A verified domain with a DKIM key, and inboxes sending through the test SMTP server. */
export async function createSender(w: World, tenantId: string, inboxes: InboxSpec[] = [{}]): Promise<Sender> {
  const domain = uniqueDomain('s');
  const selector = 'pm';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const spki = (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
  // One transaction, so the key is in place before the worker sees the domain:
  // its generate_dkim_key job (queued by the insert when no stocked key is
  // left) then finds the record complete and does nothing. Run apart, the job
  // locks the domain and then the key, this helper the key and then the domain
  // (the key's trigger), and the two can deadlock.
  const row = await w.t.owner.tx(async (db) => {
    const [inserted] = await db.query(sql`
      insert into app_public.domains (tenant_id, domain, dkim_selector, verification_status, verified_at)
      values (${tenantId}, ${domain}, ${selector}, 'verified', now()) returning id
    `);
    await db.query(sql`
      insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key)
      values (${tenantId}, ${inserted.id}, ${selector}, ${w.box.encrypt(pem)}, ${spki})
      on conflict (tenant_id, domain_id, selector) do update
        set private_key_encrypted = excluded.private_key_encrypted, public_key = excluded.public_key
    `);
    return inserted;
  });
  const created: Sender['inboxes'] = [];
  for (const [i, spec] of inboxes.entries()) {
    const email = `${spec.local ?? `inbox${i + 1}`}@${domain}`;
    const settings = {
      host: '127.0.0.1',
      port: spec.port ?? w.smtp.port,
      secure: spec.secure ?? false,
      require_tls: spec.requireTls ?? false,
      ...(spec.username ? { username: spec.username } : {}),
    };
    const [inbox] = await w.t.owner.query(sql`
      insert into app_public.email_accounts (tenant_id, domain_id, email, from_name, provider, smtp_settings, daily_limit, timezone, warmup_enabled)
      values (${tenantId}, ${row.id}, ${email}, ${spec.fromName ?? `Sam ${i + 1}`}, 'smtp', ${JSON.stringify(settings)}::jsonb,
              ${spec.dailyLimit ?? 100}, ${spec.timezone ?? 'UTC'}, false)
      returning id
    `);
    if (spec.password) {
      await w.t.owner.query(sql`
        insert into app_private.email_account_credentials (tenant_id, email_account_id, smtp_password_encrypted)
        values (${tenantId}, ${inbox.id}, ${w.box.encrypt(spec.password)})
      `);
    }
    created.push({ id: inbox.id, email });
  }
  return { domainId: row.id, domain, selector, dkimRecord: `v=DKIM1; k=rsa; p=${spki}`, inboxes: created };
}

// --- campaigns -----------------------------------------------------------

export type StepSpec =
  | {
      type: 'email';
      subject?: string | null;
      html?: string;
      text?: string | null;
      variables?: unknown[];
      subjectOverride?: string;
      inboxId?: string;
      /** A/B variants: their own subject and/or body (html, text). */
      variants?: Array<{ label: string; subject?: string | null; html?: string; text?: string; weight?: number }>;
      /** The step's A/B winner rule (columns ab_*; defaults: automatic, by replies, 100 sends per variant, no deadline). */
      ab?: { auto?: boolean; metric?: 'reply' | 'click' | 'open'; minSends?: number; decideAfter?: string };
    }
  | { type: 'wait'; hours?: number; until?: string }
  | { type: 'condition'; condition: string; value?: string };

export interface LeadSpec {
  email?: string;
  first_name?: string | null;
  company?: string | null;
  timezone?: string | null;
  status?: string;
  custom?: Record<string, unknown>;
}

export interface CampaignSpec {
  name?: string;
  inboxIds: string[];
  steps: StepSpec[];
  leads?: LeadSpec[];
  settings?: Record<string, unknown>;
}

export interface TestCampaign {
  campaignId: string;
  stepIds: string[];
  leads: Array<{ id: string; email: string }>;
}

let nameCounter = 0;

/** Inserts a draft campaign (all days, all hours, no gap unless settings say otherwise) with its steps, templates, inboxes and leads. */
export async function createCampaign(w: World, tenantId: string, spec: CampaignSpec): Promise<TestCampaign> {
  const db = w.t.owner;
  const settings = {
    send_days: [1, 2, 3, 4, 5, 6, 7],
    send_window_start: '00:00',
    send_window_end: '23:59:59',
    min_gap_seconds: 0,
    max_gap_seconds: 0,
    timezone: 'UTC',
    use_lead_timezone: true,
    ...spec.settings,
  };
  const [campaign] = await db.query(sql`
    insert into app_public.campaigns (tenant_id, name, timezone, use_lead_timezone, send_days, send_window_start, send_window_end,
      min_gap_seconds, max_gap_seconds, daily_limit, track_opens, track_clicks, include_unsubscribe_link, from_name, scheduled_for, stop_on_reply)
    values (${tenantId}, ${spec.name ?? `Campaign ${++nameCounter}`}, ${settings.timezone}, ${settings.use_lead_timezone},
      ${settings.send_days}::smallint[], ${settings.send_window_start}::time, ${settings.send_window_end}::time,
      ${settings.min_gap_seconds}, ${settings.max_gap_seconds}, ${(settings as Record<string, unknown>).daily_limit ?? null},
      ${(settings as Record<string, unknown>).track_opens ?? true}, ${(settings as Record<string, unknown>).track_clicks ?? true},
      ${(settings as Record<string, unknown>).include_unsubscribe_link ?? true}, ${(settings as Record<string, unknown>).from_name ?? null},
      ${(settings as Record<string, unknown>).scheduled_for ?? null}, ${(settings as Record<string, unknown>).stop_on_reply ?? true})
    returning id
  `);
  for (const inboxId of spec.inboxIds) {
    await db.query(sql`insert into app_public.campaign_email_accounts (tenant_id, campaign_id, email_account_id) values (${tenantId}, ${campaign.id}, ${inboxId})`);
  }
  const stepIds: string[] = [];
  for (const [i, step] of spec.steps.entries()) {
    let templateId: string | null = null;
    if (step.type === 'email') {
      const [template] = await db.query(sql`
        insert into app_public.templates (tenant_id, name, subject, content, text_content, variables)
        values (${tenantId}, ${`T ${campaign.id.slice(0, 8)} ${i + 1}`}, ${step.subject === undefined ? `Step ${i + 1} for {{ lead.company }}` : step.subject},
                ${step.html ?? `<p>Hello {{ lead.first_name }}, this is step ${i + 1}.</p>`}, ${step.text ?? null}, ${JSON.stringify(step.variables ?? [])}::jsonb)
        returning id
      `);
      templateId = template.id;
    }
    const [row] = await db.query(sql`
      insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id, subject_override,
        email_account_id, wait_duration_hours, wait_until, condition_type, condition_value)
      values (${tenantId}, ${campaign.id}, ${i + 1}, ${step.type}, ${templateId},
        ${step.type === 'email' ? (step.subjectOverride ?? null) : null},
        ${step.type === 'email' ? (step.inboxId ?? null) : null},
        ${step.type === 'wait' ? (step.until ? null : (step.hours ?? 24)) : null},
        ${step.type === 'wait' ? (step.until ?? null) : null}::timestamptz,
        ${step.type === 'condition' ? step.condition : null}, ${step.type === 'condition' ? (step.value ?? null) : null})
      returning id
    `);
    stepIds.push(row.id);
    if (step.type === 'email') {
      for (const v of step.variants ?? []) {
        await db.query(sql`
          insert into app_public.campaign_step_variants (tenant_id, step_id, label, subject, body_html, body_text, weight)
          values (${tenantId}, ${row.id}, ${v.label}, ${v.subject ?? null}, ${v.html ?? null}, ${v.text ?? null}, ${v.weight ?? 1})
        `);
      }
      if (step.ab) {
        await db.query(sql`
          update app_public.campaign_sequence_steps
          set ab_auto_winner = ${step.ab.auto ?? true}, ab_winner_metric = ${step.ab.metric ?? 'reply'},
              ab_min_sends_per_variant = ${step.ab.minSends ?? 100}, ab_decide_after = ${step.ab.decideAfter ?? null}::interval
          where tenant_id = ${tenantId} and id = ${row.id}
        `);
      }
    }
  }
  const leads = await addLeads(w, tenantId, campaign.id, spec.leads ?? [{}]);
  return { campaignId: campaign.id, stepIds, leads };
}

let leadCounter = 0;

/** Inserts leads and targets them directly at the campaign. */
export async function addLeads(w: World, tenantId: string, campaignId: string, specs: LeadSpec[]): Promise<Array<{ id: string; email: string }>> {
  const leads: Array<{ id: string; email: string }> = [];
  for (const spec of specs) {
    const email = spec.email ?? `lead${++leadCounter}-${randomBytes(4).toString('hex')}@recipient.example`;
    const [lead] = await w.t.owner.query(sql`
      insert into app_public.leads (tenant_id, email, first_name, company, timezone, status, custom_fields)
      values (${tenantId}, ${email}, ${spec.first_name === undefined ? 'Ada' : spec.first_name}, ${spec.company === undefined ? 'Initech' : spec.company},
              ${spec.timezone ?? null}, ${spec.status ?? 'active'}, ${JSON.stringify(spec.custom ?? {})}::jsonb)
      returning id
    `);
    await w.t.owner.query(sql`insert into app_public.campaign_targets (tenant_id, campaign_id, lead_id) values (${tenantId}, ${campaignId}, ${lead.id})`);
    leads.push({ id: lead.id, email });
  }
  return leads;
}

// --- the API --------------------------------------------------------------

const CAMPAIGN_FIELDS = 'rowId status pausedBy pauseReason startedAt completedAt';

export async function lifecycle(w: World, token: string, verb: 'start' | 'pause' | 'resume' | 'cancel', campaignId: string) {
  const field = `${verb}Campaign`;
  const result = await w.t.gql(`mutation($id: UUID!) { ${field}(input: { campaignId: $id }) { result { ${CAMPAIGN_FIELDS} } } }`, { id: campaignId }, token);
  return { campaign: result.data?.[field]?.result ?? null, error: result.errors?.[0] ?? null };
}

// --- the clock ------------------------------------------------------------

/** Sets the engine clock (and moves pending engine jobs with it). */
export async function setClock(w: World, at: Date | string): Promise<Date> {
  const [row] = await w.t.owner.query(sql`select app_private.set_engine_clock(${at}::timestamptz) as now`);
  return row.now;
}

/**
 * Moves the engine clock on. A running engine job may be about to queue its
 * next run from an engine time it read from the old clock, so the move waits
 * (up to 10 s) until none runs.
 */
export async function advanceClock(w: World, by: string): Promise<Date> {
  await eventually(async () => {
    const [{ running }] = await w.t.owner.query(sql`
      select count(*)::int as running from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where j.locked_at is not null and t.identifier = any (app_private.engine_task_identifiers())`);
    return running === 0;
  }, 10_000).catch(() => undefined);
  const [row] = await w.t.owner.query(sql`select app_private.advance_engine_clock(${by}::interval) as now`);
  return row.now;
}

/** The coming Monday (UTC) at the given hour: inside the message partitions (they reach three months ahead). */
export async function nextMonday(w: World, hour: number): Promise<Date> {
  const [row] = await w.t.owner.query(sql`select date_trunc('week', now() at time zone 'UTC') + interval '7 days' + make_interval(hours => ${hour}) as at`);
  return new Date(`${(row.at as Date).toISOString().slice(0, 19)}Z`);
}

// --- reading state --------------------------------------------------------

export async function messagesOf(w: World, campaignId: string) {
  return w.t.owner.query(sql`
    select m.id, m.status, m.lead_id, m.to_email::text as to_email, m.from_email::text as from_email, m.email_account_id, m.step_id, m.variant_id,
           m.subject, m.scheduled_for, m.send_attempts, m.rfc_message_id, m.in_reply_to, m.error_message, m.smtp_response, s.step_order
    from app_public.messages m left join app_public.campaign_sequence_steps s on s.tenant_id = m.tenant_id and s.id = m.step_id
    where m.campaign_id = ${campaignId} and m.direction = 'outbound'
    order by m.id
  `);
}

export async function enrollmentsOf(w: World, campaignId: string) {
  return w.t.owner.query(sql`
    select e.id, e.lead_id, e.status, e.current_step_order, e.next_run_at, e.stop_reason, e.email_account_id, e.steps_completed
    from app_public.campaign_enrollments e where e.campaign_id = ${campaignId} order by e.enrolled_at, e.id
  `);
}

export async function campaignOf(w: World, campaignId: string) {
  const [row] = await w.t.owner.query(sql`select status, paused_by, pause_reason, started_at, completed_at from app_public.campaigns where id = ${campaignId}`);
  return row;
}

/**
 * Waits until the campaign is completed. On timeout the error carries the
 * campaign, its enrollments, messages and pending jobs, so a failure in CI
 * says where the engine stopped.
 */
export async function campaignCompletes(w: World, campaignId: string, timeoutMs = 30_000): Promise<void> {
  try {
    await eventually(async () => (await campaignOf(w, campaignId)).status === 'completed', timeoutMs);
  } catch (error) {
    const jobs = await w.t.owner.query(sql`
      select t.identifier as task_identifier, j.run_at, j.attempts, j.last_error, j.locked_at, j.key
      from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where j.payload::text like ${`%${campaignId}%`} or t.identifier = 'campaign_step'`);
    const state = {
      campaign: await campaignOf(w, campaignId),
      engineNow: (await w.t.owner.query(sql`select app_private.engine_now() as now`))[0].now,
      enrollments: await enrollmentsOf(w, campaignId),
      messages: (await messagesOf(w, campaignId)).map(({ id, status, scheduled_for, send_attempts, error_message, smtp_response }) => ({
        id, status, scheduled_for, send_attempts, error_message, smtp_response,
      })),
      jobs,
    };
    throw new Error(`${(error as Error).message}: campaign ${campaignId} not completed\n${JSON.stringify(state, null, 1)}`);
  }
}

// --- mail -------------------------------------------------------------------

export function header(mail: ReceivedMail, name: string): string | undefined {
  return mail.parsed.headers.find((h) => h.key === name.toLowerCase())?.value;
}

/** Verifies the DKIM signature of a received message against the sender's published key (resolver injected). */
export async function verifyDkim(mail: ReceivedMail, sender: Sender) {
  const result = await dkimVerify(mail.raw, {
    resolver: async (name: string, type: string) => {
      if (type === 'TXT' && name === `${sender.selector}._domainkey.${sender.domain}`) return [[sender.dkimRecord]];
      throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    },
  } as Parameters<typeof dkimVerify>[1]);
  const signature = result.results[0];
  return {
    result: signature?.status.result,
    signingDomain: signature?.signingDomain,
    selector: signature?.selector,
    signedHeaders: (signature?.signingHeaders?.keys ?? '').split(':').map((h) => h.trim().toLowerCase()),
  };
}
