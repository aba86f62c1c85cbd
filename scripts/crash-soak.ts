/**
 * `npm run soak:crash` (node scripts/crash-soak.ts [--leads 1000] [--inboxes 10]
 * [--kills 10] [--restarts 5] [--gap 1-3]): the delivery guarantee
 * (docs/sending.md) measured under crashes at random moments.
 *
 * A throw-away embedded cluster, an SMTP server on 127.0.0.1 that answers
 * "250" after a random 0–200 ms and drops ~4% of first transfers (2% at DATA,
 * before the message; 2% after storing it, before answering), three worker
 * processes (concurrency 2). During the campaign, at spread-out moments
 * (received-email counts, then a random pause), in a random order: `--kills`
 * SIGKILLs of a random live worker, each replaced at once, and `--restarts`
 * immediate database stops (SIGQUIT to the postmaster). Unlike the crash test,
 * hand-over marks are not held: a kill may land between a mark's commit and
 * its final ".", which the report counts apart. Disruptions run one at a
 * time; each is measured before the next: after a kill, the time until the
 * dead worker's locked jobs are released; after a stop, the time from the
 * database accepting connections again to the next email received.
 *
 * Then the campaign runs out (its messages due with no disruption left), the
 * retries waiting on a backoff are brought forward with the engine clock (the
 * one intervention, as in the test), and every lead is reconciled with what
 * the server received. Prints a markdown report on stdout (progress on
 * stderr); exits 1 when a message was received twice, a lead under two
 * Message-IDs, or anything is unexplained.
 */
import { parseArgs } from 'node:util';
import { gitRevision } from '../bench/lib/revision.ts';
import {
  arrangeCampaign, beginCampaign, eventsOf, eventually, openCrashDatabase, reconcile, settle, sql, startCrashSmtpServer, workerFleet,
  type CrashDatabase, type CrashSmtpServer, type WorkerFleet,
} from '../test/crash/support.ts';

const USAGE = 'usage: node scripts/crash-soak.ts [--leads 1000] [--inboxes 10] [--kills 10] [--restarts 5] [--gap 1-3]';
const WORKERS = 3;
const CONCURRENCY = 2;
/** Leads whose first transfer the server drops at DATA (before the message) and after storing it: 2% each. */
const DROP_AT_DATA = (i: number) => i % 50 === 17;
const DROP_AFTER_DATA = (i: number) => i % 50 === 7;
const MAX_ACCEPT_DELAY_MS = 200;
/** Waiting for the campaign to run out gives up after this long without any change; settling after this long. */
const STALL_MS = 120_000;
const SETTLE_MS = 150_000;

const OPTIONS = {
  leads: { type: 'string', default: '1000' },
  inboxes: { type: 'string', default: '10' },
  kills: { type: 'string', default: '10' },
  restarts: { type: 'string', default: '5' },
  gap: { type: 'string', default: '1-3' },
  help: { type: 'boolean', default: false },
} as const;
const { values: args } = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
})();

if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const count = (name: string, value: string, min: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
};
const LEADS = count('leads', args.leads!, 50);
const INBOXES = count('inboxes', args.inboxes!, 1);
const KILLS = count('kills', args.kills!, 0);
const RESTARTS = count('restarts', args.restarts!, 0);
const gapMatch = /^(\d+)(?:-(\d+))?$/.exec(args.gap!);
if (!gapMatch || Number(gapMatch[2] ?? gapMatch[1]) < Number(gapMatch[1])) {
  process.stderr.write(`--gap is seconds between an inbox's messages, "min-max" or one number\n${USAGE}\n`);
  process.exit(2);
}
const GAP = { min: Number(gapMatch[1]), max: Number(gapMatch[2] ?? gapMatch[1]) };

const progress = (line: string) => process.stderr.write(`[soak] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = (n: number) => Math.floor(Math.random() * n);
const fmt = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);
const stat = (xs: number[]) => xs.length === 0 ? '—'
  : `min ${fmt(Math.min(...xs))}, median ${fmt([...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!)}, max ${fmt(Math.max(...xs))}`;
/** A poll that treats a failing query (the database is restarting) as "not yet". */
const until = <T>(fn: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs: number) =>
  eventually(() => fn().catch(() => false as const), timeoutMs, everyMs);

interface KillFigure { n: number; receivedAt: number; pid: number; pools: number; lockedJobs: number; releasedMs: number | null }
interface RestartFigure { n: number; receivedAt: number; sending: number; downMs: number; nextEmailMs: number | null; workersExited: number }

const startedAt = new Date();
const revision = gitRevision();
let crash: CrashDatabase | undefined;
let smtp: CrashSmtpServer | undefined;
let fleet: WorkerFleet | undefined;
let exitCode = 0;

let cleaning: Promise<void> | null = null;
/** Kills the worker processes, closes the SMTP server and stops (and deletes) the throw-away cluster. */
const cleanUp = () => (cleaning ??= (async () => {
  await fleet?.killAll().catch(() => undefined);
  await smtp?.close().catch(() => undefined);
  await crash?.close().catch(() => undefined);
})());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  exitCode = await soak();
} catch (error) {
  process.stderr.write(`[soak] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  exitCode = 2;
} finally {
  await cleanUp();
}
process.exit(exitCode);

async function soak(): Promise<number> {
  const t0 = Date.now();
  progress(`revision ${revision}; ${LEADS} leads, ${INBOXES} inboxes, ${KILLS} kills, ${RESTARTS} database stops`);
  crash = await openCrashDatabase('penguinmails_soak');
  const { db, owner } = crash;
  const leadIndex = new Map<string, number>();
  smtp = await startCrashSmtpServer({
    dropAtData: (to) => DROP_AT_DATA(leadIndex.get(to) ?? -1),
    dropAfterData: (to) => DROP_AFTER_DATA(leadIndex.get(to) ?? -1),
    acceptDelayMs: () => Math.random() * MAX_ACCEPT_DELAY_MS,
  });
  const { received } = smtp;
  // A worker process that exits on its own is reported, and replaced as a process supervisor would (once it can start).
  const restartsOnOwn: Array<Promise<unknown>> = [];
  fleet = workerFleet(db.urls.owner, owner, CONCURRENCY, (what) => {
    progress(what);
    restartsOnOwn.push(until(async () => Boolean(await fleet!.start()), 5 * 60_000, 1_000));
  });
  const campaign = await arrangeCampaign(owner, smtp.port, {
    label: 'soak', leads: LEADS, inboxes: INBOXES, dailyLimit: LEADS * 2,
    settings: { min_gap_seconds: GAP.min, max_gap_seconds: GAP.max },
  });
  campaign.leads.forEach((l, i) => leadIndex.set(l.email, i));
  for (let i = 0; i < WORKERS; i++) await fleet.start();
  progress(`arranged in ${Date.now() - t0} ms; campaign ${campaign.campaignId}`);

  // The disruptions in a random order, at received counts spread from 3% to 80% of the leads.
  const plan: Array<'kill' | 'restart'> = [...Array<'kill'>(KILLS).fill('kill'), ...Array<'restart'>(RESTARTS).fill('restart')];
  for (let i = plan.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }
  const thresholds = plan.map((_, k) => Math.round(LEADS * (0.03 + (plan.length > 1 ? (0.77 * k) / (plan.length - 1) : 0))));
  const kills: KillFigure[] = [];
  const restarts: RestartFigure[] = [];
  const afterLastEmail: string[] = [];

  const begun = Date.now();
  await beginCampaign(owner, campaign);
  for (const [k, what] of plan.entries()) {
    await until(async () => received.length >= thresholds[k]!, 30 * 60_000, 20);
    if (received.length >= LEADS) afterLastEmail.push(what === 'kill' ? `kill ${kills.length + 1}` : `database stop ${restarts.length + 1}`);
    if (what === 'kill') kills.push(await killOne(kills.length + 1));
    else restarts.push(await restartDatabase(restarts.length + 1));
  }
  const disruptedMs = Date.now() - begun;
  await Promise.all(restartsOnOwn);

  // The campaign runs out: nothing due any more but the retries waiting on a backoff (5 min and more).
  progress(`disruptions done (${received.length} received); waiting for the messages due`);
  // Stalled: no message changed state and nothing was received for STALL_MS; the report then says so and lists them.
  const stalls: string[] = [];
  let lastState = '';
  let lastChange = Date.now();
  await until(async () => {
    const [row] = await owner.query(sql`
      select count(*) filter (where status = 'sending')::int as sending,
             count(*) filter (where status = 'queued' and scheduled_for <= app_private.engine_now() + interval '1 minute')::int as due,
             count(*) filter (where status = 'sent')::int as sent
      from app_public.messages where campaign_id = ${campaign.campaignId}`);
    const state = `${row.sending}/${row.due}/${row.sent}/${received.length}`;
    if (state !== lastState) [lastState, lastChange] = [state, Date.now()];
    if (Date.now() - lastChange > STALL_MS) {
      stalls.push(`nothing moved for ${fmt(STALL_MS)} while ${row.sending} messages were sending and ${row.due} queued ones due (no clock advance)`);
      return true;
    }
    return row.sending === 0 && row.due === 0;
  }, 60 * 60_000, 500);
  const drainedMs = Date.now() - begun;
  const receivedBeforeSettle = received.length;
  progress(`drained (${received.length} received)${stalls.length ? `; ${stalls.at(-1)}` : ''}; settling`);
  let clockAdvances = 0;
  await settle(owner, campaign.campaignId, SETTLE_MS).then(
    (r) => (clockAdvances = r.clockAdvances),
    (error: Error) => stalls.push(`the campaign did not complete within ${fmt(SETTLE_MS)} of settling: ${error.message}`),
  );
  const settledMs = Date.now() - begun;
  progress(stalls.length ? `stalled: ${stalls.join('; ')}` : `campaign completed (${received.length} received)`);

  // Lead by lead.
  const tally = await reconcile(owner, campaign.campaignId, received);
  const notSent = await owner.query(sql`
    select status, error_message, count(*)::int as n from app_public.messages
    where campaign_id = ${campaign.campaignId} and direction = 'outbound' and status <> 'sent'
    group by status, error_message order by n desc`);
  const windowReasons = await owner.query(sql`
    select error_message, count(*)::int as n from app_public.messages
    where campaign_id = ${campaign.campaignId} and rfc_message_id = any (${tally.unconfirmedInWindow}::text[])
    group by error_message order by n desc`);
  const lockedLeft = (await owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where locked_by is not null`))[0].n as number;
  const leadIds = new Set(campaign.leads.map((l) => l.id));
  const [{ n: leadsWithMessages }] = await owner.query(sql`
    select count(distinct lead_id)::int as n from app_public.messages where campaign_id = ${campaign.campaignId} and direction = 'outbound'`);

  const unexplained: string[] = tally.unexplained.map((m) =>
    `lead ${m.leadId} <${m.email}>: message ${m.messageId}, status ${m.status}${m.unconfirmed ? ' (unconfirmed)' : ''}, ` +
      `received ${m.copies}×, send_attempts ${m.sendAttempts}, error_message ${JSON.stringify(m.errorMessage)}`);
  for (const s of tally.strays) unexplained.push(`received Message-ID ${s.messageId} for <${s.to}>, which is none of the campaign's messages`);
  if (tally.messages !== leadsWithMessages || leadsWithMessages !== leadIds.size) {
    unexplained.push(`${leadIds.size} leads, ${leadsWithMessages} with a message, ${tally.messages} messages (expected one each)`);
  }
  const duplicateIds = [...tally.duplicateMessages.map((m) => m.messageId), ...tally.leadsUnderTwoIds.flatMap((l) => l.messageIds)];
  const toExplain = [...new Set([...tally.unexplained.map((m) => m.messageId), ...duplicateIds])];
  const events = await eventsOf(owner, campaign.campaignId, toExplain);
  // Where the messages that did not reconcile stand: their hand-over marks, their enrollment's job and who holds it.
  const standing = toExplain.length === 0 ? [] : await owner.query(sql`
    select m.rfc_message_id, m.status, m.updated, h.attempt as mark_attempt, h.handed_over,
           j.key as job, j.run_at, j.attempts as job_attempts, j.locked_by, j.locked_at, p.pid as locked_by_pid, p.last_seen as pool_last_seen
    from app_public.messages m
    left join app_private.message_handovers h on h.tenant_id = m.tenant_id and h.message_id = m.id
    left join graphile_worker._private_jobs j on j.key = 'campaign_step:' || m.enrollment_id
    left join app_private.worker_pools p on p.pool_id = j.locked_by
    where m.campaign_id = ${campaign.campaignId} and m.rfc_message_id = any (${toExplain}::text[])`);
  const livePids = new Set([...fleet!.live].map((c) => c.pid));

  // The report.
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  const duplicates = tally.duplicates + tally.leadsUnderTwoIds.length;
  line(`## Crash soak, ${startedAt.toISOString()}`);
  line();
  line(`Revision \`${revision.replace('+changes', '')}\`${revision.endsWith('+changes') ? ' with uncommitted changes in the working tree' : ' (clean working tree)'}; ` +
    `\`node scripts/crash-soak.ts --leads ${LEADS} --inboxes ${INBOXES} --kills ${KILLS} --restarts ${RESTARTS} --gap ${args.gap}\`.`);
  line();
  line(`Scenario: ${LEADS} leads, one email step, ${INBOXES} inboxes (daily limit ${LEADS * 2}, ${GAP.max === 0 ? 'no gap' : `${GAP.min}–${GAP.max} s random gap`} between an inbox's messages); ` +
    `${WORKERS} worker processes × concurrency ${CONCURRENCY}; a local SMTP server answering "250" after a random 0–${MAX_ACCEPT_DELAY_MS} ms, ` +
    `dropping the first transfer of ${smtp.drops.atData} leads at DATA (before the message) and of ${smtp.drops.afterData} after storing it (before the answer). ` +
    `During the campaign, in a random order at spread-out moments: ${kills.length} SIGKILLs of a random live worker (each replaced at once; hand-over marks not held), ` +
    `${restarts.length} immediate database stops (SIGQUIT to the postmaster, as \`pg_ctl stop -m immediate\`; the embedded cluster restarts it).` +
    (afterLastEmail.length ? ` After the last email: ${afterLastEmail.join(', ')}.` : ''));
  line();
  line(`No manual step, except one: once nothing was due any more (${receivedBeforeSettle} transfers received), the engine clock was advanced ` +
    `${clockAdvances} × 6 minutes (\`app_private.advance_engine_clock\`, as the crash test does) to bring the retries' 5-minute (and longer) backoffs forward.`);
  line();
  line('| lead by lead | leads |');
  line('| --- | ---: |');
  line(`| received once + recorded sent | ${tally.sentOnce} |`);
  line(`| received once + recorded sent, unconfirmed | ${tally.unconfirmedOnce} |`);
  line(`| not received + recorded not sent, with a reason | ${tally.notSentWithReason} |`);
  line(`| not received + recorded sent, unconfirmed (the mark-to-dot window) | ${tally.unconfirmedInWindow.length} |`);
  line(`| unexplained | ${tally.unexplained.length} |`);
  line(`| **leads** | **${tally.leads}** |`);
  line();
  line(`Transfers received: ${received.length} (${new Set(received.map((r) => r.messageId)).size} distinct Message-IDs). ` +
    `Duplicates: ${duplicates} (${tally.duplicates} Message-IDs received more than once, ${tally.leadsUnderTwoIds.length} leads received under two Message-IDs). ` +
    `Received Message-IDs that are none of the campaign's: ${tally.strays.length}. Jobs still locked at the end: ${lockedLeft}.`);
  if (notSent.length) {
    line();
    line('Not sent: ' + notSent.map((r) => `${r.n} ${r.status} (${JSON.stringify(r.error_message)})`).join('; ') + '.');
  }
  if (windowReasons.length) {
    line();
    line('Mark-to-dot window: ' + windowReasons.map((r) => `${r.n} × ${JSON.stringify(r.error_message)}`).join('; ') + '.');
  }
  line();
  line(`### Kills (SIGKILL of a random worker): locked jobs released after ${stat(kills.flatMap((k) => (k.releasedMs === null || k.lockedJobs === 0 ? [] : [k.releasedMs])))} (kills that found locked jobs)`);
  line();
  line('| # | at (emails received) | worker pid | its pools | its locked jobs | released after | < 30 s |');
  line('| ---: | ---: | ---: | ---: | ---: | ---: | :---: |');
  for (const k of kills) {
    line(`| ${k.n} | ${k.receivedAt} | ${k.pid} | ${k.pools} | ${k.lockedJobs} | ${k.lockedJobs === 0 ? 'none locked' : fmt(k.releasedMs)} | ${k.lockedJobs === 0 ? '—' : k.releasedMs !== null && k.releasedMs < 30_000 ? 'yes' : '**no**'} |`);
  }
  line();
  line(`### Immediate database stops: next email after ${stat(restarts.flatMap((r) => (r.nextEmailMs === null ? [] : [r.nextEmailMs])))}`);
  line();
  line('| # | at (emails received) | messages sending shortly before | down (SIGQUIT → accepting connections) | accepting connections → next email received | worker processes that exited on their own meanwhile |');
  line('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of restarts) line(`| ${r.n} | ${r.receivedAt} | ${r.sending} | ${fmt(r.downMs)} | ${r.nextEmailMs === null ? 'none within 60 s' : fmt(r.nextEmailMs)} | ${r.workersExited} |`);
  line();
  line(`Wall time: ${fmt(Date.now() - t0)} in all (arranging ${fmt(begun - t0)}; campaign start → last disruption done ${fmt(disruptedMs)}, ` +
    `→ nothing due ${fmt(drainedMs)}, → completed ${fmt(settledMs)}).`);
  line();
  line(fleet!.unexpectedExits.length
    ? `Worker processes that exited on their own (each replaced, as a supervisor would): ${fleet!.unexpectedExits.length}: ${fleet!.unexpectedExits.join('; ')}.`
    : 'No worker process exited on its own.');
  if (stalls.length) {
    line();
    line(`**Stalled:** ${stalls.join('; ')}.`);
  }
  if (unexplained.length || duplicates) {
    line();
    line('### Did not reconcile');
    line();
    for (const u of unexplained) line(`- ${u}`);
    for (const m of tally.duplicateMessages) line(`- duplicate: lead ${m.leadId} <${m.email}>, message ${m.messageId} received ${m.copies}×, status ${m.status}${m.unconfirmed ? ' (unconfirmed)' : ''}, send_attempts ${m.sendAttempts}, error_message ${JSON.stringify(m.errorMessage)}`);
    for (const l of tally.leadsUnderTwoIds) line(`- duplicate: <${l.email}> received ${l.messageIds.join(', ')}`);
    line();
    line('Their events:');
    line();
    if (!events.length) line('- none');
    for (const e of events) line(`- ${e.rfc_message_id} ${new Date(e.created).toISOString()} ${e.event_type} ${JSON.stringify(e.metadata)}`);
    line();
    line('Where they stand (hand-over mark of the current attempt, the enrollment\'s job and the worker process holding it):');
    line();
    for (const r of standing) {
      line(`- ${r.rfc_message_id}: ${r.status} since ${new Date(r.updated).toISOString()}; ` +
        (r.mark_attempt ? `marked handed over (attempt ${r.mark_attempt}) at ${new Date(r.handed_over).toISOString()}` : 'no hand-over mark') + '; ' +
        (r.job ? `job ${r.job} (run_at ${new Date(r.run_at).toISOString()}, attempts ${r.job_attempts}) ` +
          (r.locked_by ? `locked by ${r.locked_by} at ${new Date(r.locked_at).toISOString()}, ` +
            (r.locked_by_pid ? `a pool of worker ${r.locked_by_pid} (${livePids.has(r.locked_by_pid) ? 'alive' : 'dead'}, last seen ${new Date(r.pool_last_seen).toISOString()})` : 'a pool not registered') : 'not locked')
          : 'no job'));
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return duplicates > 0 || unexplained.length > 0 ? 1 : 0;

  /**
   * A random moment while work is under way (with a gap between messages the
   * workers are mostly idle, and a kill or stop then tests nothing): once
   * `busy` finds some, after a random pause of 0–150 ms. Gives up waiting
   * after 60 s (the campaign may be over).
   */
  async function whileBusy<T>(busy: () => Promise<T | null>): Promise<T | null> {
    const found = await until(async () => busy(), 60_000, 20).catch(() => null);
    await sleep(random(151));
    return found;
  }

  async function killOne(n: number): Promise<KillFigure> {
    // A random live worker among those running jobs (any live one if none is).
    const livePids = () => [...fleet!.live].map((c) => c.pid!);
    const pick = await whileBusy(async () => {
      const rows = await owner.query(sql`
        select distinct p.pid from app_private.worker_pools p join graphile_worker._private_jobs j on j.locked_by = p.pool_id
        where p.pid = any (${livePids()}::int[])`);
      return rows.length ? (rows[random(rows.length)].pid as number) : null;
    });
    const live = [...fleet!.live];
    const child = live.find((c) => c.pid === pick) ?? live[random(live.length)]!;
    const pid = child.pid!;
    const receivedAt = received.length;
    const pools = (await owner.query(sql`select pool_id from app_private.worker_pools where pid = ${pid}`)).map((r) => r.pool_id as string);
    const [{ n: lockedJobs }] = await owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where locked_by = any (${pools}::text[])`);
    const killedAt = Date.now();
    const killed = fleet!.kill(child);
    const replacement = killed.then(() => fleet!.start());
    let releasedMs: number | null = null;
    await until(async () => {
      const [row] = await owner.query(sql`select count(*)::int as n from graphile_worker._private_jobs where locked_by = any (${pools}::text[])`);
      return row.n === 0;
    }, 120_000, 50).then(() => (releasedMs = Date.now() - killedAt), () => undefined);
    await replacement;
    progress(`kill ${n}/${KILLS}: worker ${pid} at ${receivedAt} received (${pools.length} pools, ${lockedJobs} locked jobs): released after ${fmt(releasedMs)}`);
    return { n, receivedAt, pid, pools: pools.length, lockedJobs, releasedMs };
  }

  async function restartDatabase(n: number): Promise<RestartFigure> {
    // While messages are being handed to the server.
    const sending = (await whileBusy(async () => {
      const [row] = await owner.query(sql`select count(*)::int as n from app_public.messages where campaign_id = ${campaign.campaignId} and status = 'sending'`);
      return row.n > 0 ? (row.n as number) : null;
    })) ?? 0;
    const receivedAt = received.length;
    const exitedBefore = fleet!.unexpectedExits.length;
    const starts = db.cluster!.starts();
    const stoppedAt = Date.now();
    process.kill(db.cluster!.pid()!, 'SIGQUIT');
    await eventually(async () => db.cluster!.starts() > starts, 120_000, 10);
    const backAt = Date.now();
    let nextEmailMs: number | null = null;
    await eventually(async () => received.some((r) => r.at >= backAt), 60_000, 10).then(
      () => (nextEmailMs = received.find((r) => r.at >= backAt)!.at - backAt),
      () => undefined,
    );
    const workersExited = fleet!.unexpectedExits.length - exitedBefore;
    progress(`database stop ${n}/${RESTARTS} at ${receivedAt} received (${sending} messages sending shortly before): down ${fmt(backAt - stoppedAt)}, next email ${fmt(nextEmailMs)} after; ${workersExited} workers exited on their own`);
    return { n, receivedAt, sending, downMs: backAt - stoppedAt, nextEmailMs, workersExited };
  }
}
