/**
 * Figure 10 — Webhooks: events delivered per second by the product's worker
 * (its own process, WORKER_CONCURRENCY = --concurrency) to a local HTTP
 * receiver, with 32 subscriptions (one per campaign, so 32 deliveries can be
 * in flight: a subscription's own deliveries go out one at a time, in order),
 * and what a subscribed `email.sent` event adds to each sent email.
 *
 * The events are made the way sending makes them: one statement inserts the
 * `sent` email_events rows of already-sent messages, and the trigger
 * (functions/270-webhooks.sql) records the webhook event, its delivery and
 * its job in that transaction. The same insert with the subscriptions
 * disabled is the baseline, so "added CPU per sent email" is what the
 * subscription costs: the trigger's writes, the worker's jobs, the signing,
 * the POST and the recording of each attempt.
 *
 * Anchor: the same signed POSTs (src/webhooks/post.ts and signing.ts, the
 * worker's own functions) from 32 concurrent senders in the benchmark
 * process, with no database at all.
 *
 * The receiver checks every signature with its own HMAC code and counts each
 * webhook-id once; a bad signature fails the figure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { makeSecretBox } from '../../src/crypto/secrets.ts';
import { makeOutboundGuard } from '../../src/net/outbound-guard.ts';
import { delivered, postWebhook } from '../../src/webhooks/post.ts';
import { newWebhookSecret, webhookHeaders } from '../../src/webhooks/signing.ts';
import { startChild } from '../lib/child.ts';
import { benchFile, type BenchContext } from '../lib/context.ts';
import { describeProfile, sampleActivity } from '../lib/activity.ts';
import { perOp, watchCpu, withoutSampler } from '../lib/cpu.ts';
import { compare, type FigureResult, type Measurement } from '../lib/report.ts';
import { createScratchTenant, removeScratchTenant } from '../lib/scratch-tenant.ts';
import { closedLoop } from '../lib/stats.ts';

const SUBSCRIPTIONS = 32;

interface Receiver {
  url: string;
  /** Distinct webhook-ids received, with the arrival time of the first. */
  seen: Map<string, number>;
  duplicates: number;
  badSignatures: number;
  waitFor(count: number, deadline: number): Promise<number>;
  close(): Promise<void>;
}

/** An HTTP receiver verifying Standard Webhooks signatures with its own code (not src/webhooks/signing.ts). */
async function startReceiver(secret: string): Promise<Receiver> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const seen = new Map<string, number>();
  const state = { duplicates: 0, badSignatures: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      const expected = createHmac('sha256', key).update(`${id}.${req.headers['webhook-timestamp']}.${Buffer.concat(chunks).toString('utf8')}`).digest();
      const valid = String(req.headers['webhook-signature'] ?? '').split(' ').some((part) => {
        const sig = Buffer.from(part.replace(/^v1,/, ''), 'base64');
        return sig.length === expected.length && timingSafeEqual(sig, expected);
      });
      if (!valid) state.badSignatures++;
      else if (seen.has(id)) state.duplicates++;
      else seen.set(id, performance.now());
      res.writeHead(valid ? 204 : 400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    get duplicates() { return state.duplicates; },
    get badSignatures() { return state.badSignatures; },
    async waitFor(count, deadline) {
      while (seen.size < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return seen.size;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** 32 campaigns, one lead, and `perCampaign` sent messages per campaign in each of two sets (baseline, product). */
async function createSentMessages(owner: pg.Pool, tenantId: string, perCampaign: number): Promise<string[]> {
  const { rows: campaigns } = await owner.query<{ id: string }>(
    `insert into app_public.campaigns (tenant_id, name) select $1, 'Bench webhooks ' || g from generate_series(1, $2) g returning id`,
    [tenantId, SUBSCRIPTIONS],
  );
  const { rows: [lead] } = await owner.query<{ id: string }>(
    `insert into app_public.leads (tenant_id, email, first_name) values ($1, 'hook-lead@recipients.bench.example', 'Ada') returning id`,
    [tenantId],
  );
  await owner.query(
    `insert into app_public.messages (tenant_id, direction, status, campaign_id, lead_id, from_email, to_email, subject, rfc_message_id, sent_at)
     select $1, 'outbound', 'sent', c, $2, 'sam@hooks.bench.example', 'hook-lead@recipients.bench.example', 'An idea for Company ' || g,
            gen_random_uuid() || '@hooks.bench.example', now()
     from unnest($3::uuid[]) c, generate_series(1, $4 * 2) g`,
    [tenantId, lead!.id, campaigns.map((c) => c.id), perCampaign],
  );
  return campaigns.map((c) => c.id);
}

/**
 * Inserts the `sent` event of `perCampaign` messages of every campaign that
 * has none yet, in one statement (committed); returns the CPU PostgreSQL
 * spent meanwhile is measured by the caller.
 */
async function insertSentEvents(owner: pg.Pool, tenantId: string, perCampaign: number): Promise<number> {
  const { rowCount } = await owner.query(
    `insert into app_public.email_events (tenant_id, message_id, campaign_id, lead_id, event_type)
     select m.tenant_id, m.id, m.campaign_id, m.lead_id, 'sent'
     from (select m.*, row_number() over (partition by m.campaign_id order by m.id) as n
           from app_public.messages m
           where m.tenant_id = $1
             and not exists (select 1 from app_public.email_events e where e.tenant_id = m.tenant_id and e.message_id = m.id)) m
     where m.n <= $2`,
    [tenantId, perCampaign],
  );
  return rowCount ?? 0;
}

export async function webhooks(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  const { durationSec, concurrency } = ctx.options;
  const perCampaign = Math.max(50, Math.round(10 * durationSec));
  const events = perCampaign * SUBSCRIPTIONS;
  const owner = new pg.Pool({ connectionString: ctx.db.urls.owner, max: 3 });
  const secret = newWebhookSecret();
  const receiver = await startReceiver(secret);
  const tenant = await createScratchTenant(owner, 'webhooks');
  const notes: string[] = [];
  const worker = await startChild<Record<string, never>>(benchFile('servers/product-worker.ts'), ctx.childEnv({
    BENCH_CHILD_CONFIG: JSON.stringify({ publicUrl: receiver.url }),
    // Plain http to the loopback receiver: production mode would require https.
    NODE_ENV: 'development',
    OUTBOUND_ALLOW_PRIVATE: '127.0.0.1/32',
    WORKER_CONCURRENCY: String(concurrency),
  }));
  try {
    const campaigns = await createSentMessages(owner, tenant.tenantId, perCampaign);
    const sealed = makeSecretBox(ctx.db.secretsKey).encrypt(secret);
    await owner.query(
      `with s as (
         insert into app_public.webhook_subscriptions (tenant_id, url, event_types, campaign_id, enabled, disabled_at, created_by)
         select $1, $2 || '/hooks/' || ord, '{email.sent}', c, false, now(), $3 from unnest($4::uuid[]) with ordinality as t(c, ord)
         returning tenant_id, id)
       insert into app_private.webhook_secrets (tenant_id, subscription_id, secret_encrypted) select tenant_id, id, $5 from s`,
      [tenant.tenantId, receiver.url, tenant.userId, campaigns, sealed],
    );

    // Baseline: the same insert with every subscription disabled (no webhook work at all).
    const baselineCpu = await watchCpu(owner, worker);
    const baselineRows = await insertSentEvents(owner, tenant.tenantId, perCampaign);
    const baseline = baselineCpu();

    await owner.query(`update app_public.webhook_subscriptions set enabled = true where tenant_id = $1`, [tenant.tenantId]);
    ctx.log(`  ${events.toLocaleString('en-US')} email.sent events to ${SUBSCRIPTIONS} subscriptions (worker pid ${worker.pid}, concurrency ${concurrency})`);
    const cpuSince = await watchCpu(owner, worker);
    const sampler = sampleActivity(ctx.monitorUrl);
    const t0 = performance.now();
    const inserted = await insertSentEvents(owner, tenant.tenantId, perCampaign);
    const arrived = await receiver.waitFor(inserted, t0 + Math.max(60_000, 8_000 * durationSec));
    const seconds = ((Math.max(...receiver.seen.values()) || performance.now()) - t0) / 1000;
    const cpuWithSampler = cpuSince();
    const profile = await sampler.stop();
    const cpu = withoutSampler(cpuWithSampler, profile);
    notes.push(`Database profile during the deliveries: ${describeProfile(profile)}`);
    if (receiver.badSignatures > 0) throw new Error(`${receiver.badSignatures} deliveries carried a signature the receiver could not verify.`);
    if (arrived < inserted) notes.push(`Only ${arrived} of ${inserted} events arrived within the time limit; the rate counts those.`);
    const { rows: statuses } = await owner.query<{ status: string; n: string }>(
      `select status, count(*) as n from app_public.webhook_deliveries where tenant_id = $1 group by status order by 1`, [tenant.tenantId],
    );
    notes.push(`Deliveries after the run: ${statuses.map((r) => `${r.n} ${r.status}`).join(', ')}; ${receiver.duplicates} duplicate webhook-ids received; every signature verified by the receiver's own HMAC.`);
    ctx.log(`  ${arrived} events in ${seconds.toFixed(1)} s`);

    const product: Measurement = {
      label: `email.sent events → worker → HTTP receiver (${SUBSCRIPTIONS} subscriptions, concurrency ${concurrency}, signed)`, side: 'product',
      value: Math.round((arrived / seconds) * 10) / 10, unit: 'events/s',
      detail: `${arrived} events in ${seconds.toFixed(1)} s from the committed insert to the last arrival`,
    };
    const addedDb = cpu.database - baseline.database * (inserted / Math.max(1, baselineRows));
    const cpuRows: Measurement[] = [
      { label: 'added CPU per sent email with a subscription: worker process', side: 'info', value: perOp(cpu.server, arrived), unit: 'ms' },
      { label: 'added CPU per sent email with a subscription: PostgreSQL (all backends)', side: 'info', value: perOp(addedDb, arrived), unit: 'ms',
        detail: `${perOp(cpu.database, arrived)} ms with the subscription minus ${perOp(baseline.database, baselineRows)} ms for the same insert without` },
    ];

    // Anchor: the worker's own POST and signing, 32 concurrent senders, no database.
    const guard = makeOutboundGuard({ allowPrivate: ['127.0.0.1'] });
    const body = JSON.stringify({ type: 'email.sent', timestamp: new Date().toISOString(), data: { message_id: crypto.randomUUID(), to: 'hook-lead@recipients.bench.example', subject: 'An idea for Company 1' } });
    const direct = await closedLoop({
      concurrency: SUBSCRIPTIONS, durationMs: Math.min(durationSec, 5) * 1000, warmupMs: 500,
      op: async (client) => {
        const headers = webhookHeaders([secret], crypto.randomUUID(), Math.floor(Date.now() / 1000), body);
        const outcome = await postWebhook(`${receiver.url}/hooks/${client}`, headers, body, { guard, timeoutMs: 10_000, allowHttp: true });
        if (!delivered(outcome)) throw new Error(`receiver answered ${JSON.stringify(outcome)}`);
      },
    });
    const anchor: Measurement = { label: `postWebhook + signing ×${SUBSCRIPTIONS} concurrent (no database)`, side: 'anchor', value: Math.round(direct.perSecond * 10) / 10, unit: 'events/s' };
    return {
      measurements: [product, anchor, ...cpuRows],
      comparisons: [
        compare('events/s: worker deliveries vs bare signed POSTs (no database)', product, anchor, 'value', (_, r) => `the worker reaches ×${r} of the bare posting rate`),
      ],
      notes,
      profiles: { webhooks: profile },
    };
  } finally {
    await ctx.stopChild('worker (webhook deliveries)', worker);
    await owner.query(`delete from app_public.webhook_subscriptions where tenant_id = $1`, [tenant.tenantId]).catch(() => undefined);
    await owner.query(`delete from app_public.webhook_events where tenant_id = $1`, [tenant.tenantId]).catch(() => undefined);
    const problem = await removeScratchTenant(owner, tenant);
    if (problem) ctx.log(`  ${problem}`);
    await receiver.close();
    await owner.end();
  }
}
