/**
 * A campaign completes when its last enrollments finish in concurrent
 * transactions: each of them sees the other still active (write skew), and a
 * "none left" test in each would queue the completion check in neither. The
 * housekeeping pass that would catch it later is not scheduled here (empty
 * crontab), so only the completion trigger can complete the campaign.
 */
import { campaignCompletes, campaignOf, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, startWorld, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld({ worker: false });
}, 60_000);
afterAll(() => w?.close());

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

test('the last two enrollments finishing in concurrent transactions complete the campaign', async () => {
  const tenant = await createTenant(w, 'completion-race');
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email' }],
    leads: [{}, {}],
  });
  expect((await lifecycle(w, tenant.token, 'start', campaignId)).error).toBeNull();
  const [first, second] = await enrollmentsOf(w, campaignId);
  expect([first?.status, second?.status]).toEqual(['active', 'active']);

  const finish = (id: string) => sql`
    update app_public.campaign_enrollments set status = 'cancelled', stop_reason = 'Stopped by the test.', next_run_at = null, completed_at = now()
    where tenant_id = ${tenant.tenantId} and id = ${id}`;
  // A finishes the first (its trigger sees the second active), then B
  // finishes the second (its trigger sees the first active, A being
  // uncommitted), then both commit. Should B ever wait on A (a lock A's
  // transaction holds), A commits after a second instead of waiting for B.
  const aUpdated = deferred();
  const bUpdated = deferred();
  const a = w.t.owner.tx(async (tx) => {
    await tx.query(finish(first!.id));
    aUpdated.resolve();
    await Promise.race([bUpdated.promise, new Promise((r) => setTimeout(r, 1_000))]);
  });
  await aUpdated.promise;
  await w.t.owner.tx(async (tx) => {
    await tx.query(finish(second!.id));
    bUpdated.resolve();
  });
  await a;

  expect((await enrollmentsOf(w, campaignId)).map((e) => e.status)).toEqual(['cancelled', 'cancelled']);
  expect((await campaignOf(w, campaignId)).status).toBe('sending');
  await w.startWorker();
  await campaignCompletes(w, campaignId, 20_000);
}, 60_000);
