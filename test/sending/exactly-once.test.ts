/**
 * Exactly-once in effect. A worker in its own process is killed (SIGKILL)
 * after the SMTP server has received the message and before the worker could
 * record the answer; its job is freed by the surviving worker's liveness
 * sweep (no manual step) and retried, which finds the message "sending" with
 * nobody holding its send lock and a hand-over mark, records it as sent
 * (unconfirmed) instead of sending it again, and the sequence goes on. Killed
 * before the final "." instead (no mark), the message goes out once on the
 * retry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { eventually, waitBudget } from '../helpers/eventually.ts';
import { advanceClock, createCampaign, createSender, createTenant, enrollmentsOf, header, lifecycle, messagesOf, startWorld, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
let child: ChildProcess | null = null;
let killOnAccept = false;

async function killChild(): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  w = await startWorld({
    worker: false,
    smtpHooks: {
      // The message is stored; the sending process dies before it can read "250".
      async beforeAccept() {
        if (killOnAccept) {
          killOnAccept = false;
          await killChild();
        }
      },
    },
  });
});
afterAll(async () => {
  await killChild();
  await w.close();
});

async function startChildWorker(): Promise<void> {
  child = spawn(process.execPath, ['test/sending/support/worker-process.ts'], {
    env: { ...process.env, NODE_OPTIONS: '', PM_CHILD_DATABASE_URL: w.t.urls.owner, PM_CHILD_PUBLIC_URL: w.publicUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child!.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    child!.once('exit', (code) => reject(new Error(`the worker process exited early (${code}): ${output}`)));
  });
}

test('a worker killed between the SMTP accept and the database update: the retry does not send again', async () => {
  const tenant = await createTenant(w, 'crash');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: 'First' }, { type: 'wait', hours: 1 }, { type: 'email', subject: 'Second' }],
    leads: [{}],
  });
  const lead = leads[0]!;

  await startChildWorker();
  killOnAccept = true;
  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  await w.smtp.waitFor((m) => m.to.includes(lead.email));
  await once(child!, 'exit');
  expect(child!.signalCode).toBe('SIGKILL');

  // The database still says "sending": the worker never recorded the answer.
  const [inFlight] = await messagesOf(w, campaignId);
  expect(inFlight).toMatchObject({ status: 'sending', send_attempts: 1 });
  const locked = await w.t.owner.query(sql`select distinct locked_by from graphile_worker._private_jobs where locked_by is not null`);
  expect(locked).toHaveLength(1);
  const [handover] = await w.t.owner.query(sql`select attempt from app_private.message_handovers where message_id = ${inFlight.id}`);
  expect(handover).toEqual({ attempt: 1 });

  // The surviving worker frees the dead one's job (graphile-worker alone would wait four hours).
  const killedAt = Date.now();
  await w.startWorker();
  const [resolved] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'sent' && rows;
  }, 60_000);
  expect(Date.now() - killedAt).toBeLessThan(waitBudget(30_000));
  expect(resolved.error_message).toBe(
    'Delivery not confirmed: the worker stopped after handing this message to the SMTP server and before the server answered. It was not sent again, because a duplicate is worse than a missing confirmation.',
  );
  // Only messages in flight keep a mark.
  expect(await w.t.owner.query(sql`select attempt from app_private.message_handovers where message_id = ${resolved.id}`)).toEqual([]);
  const [sentEvent] = await w.t.owner.query(sql`select metadata from app_public.email_events where message_id = ${resolved.id} and event_type = 'sent'`);
  expect(sentEvent.metadata).toMatchObject({ unconfirmed: true, attempt: 1 });
  await eventually(async () => (await enrollmentsOf(w, campaignId))[0].current_step_order === 3);
  expect(w.smtp.messages.filter((m) => m.to.includes(lead.email))).toHaveLength(1);

  // The sequence goes on, threaded to the message that did go out.
  await advanceClock(w, '1 hour');
  const second = await w.smtp.waitFor((m) => m.to.includes(lead.email) && m.parsed.subject === 'Second');
  expect(header(second, 'in-reply-to')).toBe(`<${resolved.rfc_message_id}>`);
  expect(w.smtp.messages.filter((m) => m.to.includes(lead.email)).map((m) => m.parsed.subject)).toEqual(['First', 'Second']);
});

test('a worker killed before the final dot: the server discards the message and the retry sends it once', async () => {
  await w.stopWorker();
  const tenant = await createTenant(w, 'before-dot');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, { inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}] });
  const lead = leads[0]!;
  const receivedBefore = w.smtp.messages.length;

  await startChildWorker();
  // Hold the hand-over mark back: the child has sent the whole message except the final "." and waits on this lock.
  await w.t.owner.tx(async (blocker) => {
    await blocker.query(sql`lock table app_private.message_handovers in exclusive mode`);
    expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
    await eventually(async () => {
      const [waiting] = await w.t.owner.query(sql`
        select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%mark_handed_over%'`);
      return waiting.n === 1;
    }, 30_000);
    await killChild();
    // The dead worker's waiting statement is cancelled (client_connection_check_interval), so no mark is written for it.
    await eventually(async () => {
      const [waiting] = await w.t.owner.query(sql`select count(*)::int as n from pg_stat_activity where query like '%mark_handed_over%' and pid <> pg_backend_pid()`);
      return waiting.n === 0;
    }, 30_000);
  });
  const [inFlight] = await messagesOf(w, campaignId);
  expect(inFlight).toMatchObject({ status: 'sending', send_attempts: 1 });

  await w.startWorker();
  const [sent] = await eventually(async () => {
    const rows = await messagesOf(w, campaignId);
    return rows[0]?.status === 'sent' && rows;
  }, 60_000);
  expect(sent).toMatchObject({ send_attempts: 2, error_message: null });
  const events = await w.t.owner.query(sql`select event_type, metadata from app_public.email_events where message_id = ${sent.id} order by created, id`);
  expect(events.map((e) => e.event_type)).toEqual(['deferred', 'sent']);
  expect(events[0].metadata).toMatchObject({ interrupted: true, attempt: 1 });
  expect(events[1].metadata.unconfirmed).toBeUndefined();
  // Received once: the first transfer never got its final "." and was discarded.
  expect(w.smtp.messages.slice(receivedBefore).filter((m) => m.to.includes(lead.email))).toHaveLength(1);
});

test('while a worker holds the send lock, another run of the same enrollment leaves the message alone', async () => {
  await w.stopWorker();
  const tenant = await createTenant(w, 'busy');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId } = await createCampaign(w, tenant.tenantId, { inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{}] });
  await lifecycle(w, tenant.token, 'start', campaignId);
  const [enrollment] = await enrollmentsOf(w, campaignId);
  const [first] = await w.t.owner.query(sql`select * from app_private.run_enrollment(${tenant.tenantId}, ${enrollment.id})`);
  expect(first.action).toBe('send');
  // A worker claims it and is talking SMTP (it holds the lock on its own connection).
  await w.t.owner.task(async (worker) => {
    await worker.query(sql`select pg_advisory_lock(app_private.send_lock_key(${first.message_id}))`);
    await worker.query(sql`select app_private.claim_message(${tenant.tenantId}, ${first.message_id}, 'Subject', 'Body')`);
    const [again] = await w.t.owner.query(sql`select * from app_private.run_enrollment(${tenant.tenantId}, ${enrollment.id})`);
    expect(again).toMatchObject({ action: 'busy', message_id: first.message_id });
    const [message] = await messagesOf(w, campaignId);
    expect(message.status).toBe('sending');
    await worker.query(sql`select app_private.record_delivery(${tenant.tenantId}, ${first.message_id}, '250 OK')`);
    await worker.query(sql`select pg_advisory_unlock(app_private.send_lock_key(${first.message_id}))`);
  });
  const [done] = await w.t.owner.query(sql`select * from app_private.run_enrollment(${tenant.tenantId}, ${enrollment.id})`);
  expect(done.action).toBe('done');
  const [{ events }] = await w.t.owner.query(sql`select array_agg(event_type) as events from app_public.email_events where message_id = ${first.message_id}`);
  expect(events).toEqual(['sent']);
});
