/**
 * Connections asked for without orderBy come back in their rows' natural
 * order (plugins/natural-order.ts), not in the order of their random
 * primary keys: steps by position, leads and messages by time. The rows
 * below get ids that sort against that order, so primary-key order would
 * fail every assertion.
 */
import { sql, startTestApi, type TestApi } from '../helpers/api.ts';
import { ownedTenant, type Member } from './fixtures.ts';

let t: TestApi;
let org: Member;

beforeAll(async () => {
  t = await startTestApi();
  org = await ownedTenant(t, 'order', 'pro');
});
afterAll(() => t?.close());

/** An id that sorts before (n small) or after (n large) every random one. */
const idSorting = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;

test("a campaign's steps come back by position, at the top level and under the campaign; orderBy still wins", async () => {
  const { createCampaign } = await t.ok(`mutation { createCampaign(input: { campaign: { name: "Ordered" } }) { campaign { rowId } } }`, {}, org.token);
  const campaignId = createCampaign.campaign.rowId as string;
  // Created in the order 4, 3, 1, 2 with ids that sort 1 < 2 < 3 < 4 backwards.
  for (const position of [4, 3, 1, 2]) {
    await t.owner.query(sql`
      insert into app_public.campaign_sequence_steps (tenant_id, id, campaign_id, step_order, step_type, wait_duration_hours)
      values (${org.tenantId}, ${idSorting(0xffff - position)}, ${campaignId}, ${position}, 'wait', 24)`);
  }
  const data = await t.ok(
    `query($id: UUID!) {
      campaignSequenceSteps { nodes { stepOrder } }
      campaign(rowId: $id) { campaignSequenceSteps { nodes { stepOrder } } }
      reversed: campaignSequenceSteps(orderBy: STEP_ORDER_DESC) { nodes { stepOrder } }
      byKey: campaignSequenceSteps(orderBy: PRIMARY_KEY_ASC) { nodes { stepOrder } }
    }`,
    { id: campaignId },
    org.token,
  );
  const positions = (c: { nodes: Array<{ stepOrder: number }> }) => c.nodes.map((n) => n.stepOrder);
  expect(positions(data.campaignSequenceSteps)).toEqual([1, 2, 3, 4]);
  expect(positions(data.campaign.campaignSequenceSteps)).toEqual([1, 2, 3, 4]);
  expect(positions(data.reversed)).toEqual([4, 3, 2, 1]);
  expect(positions(data.byKey)).toEqual([4, 3, 2, 1]);
});

test('leads come back oldest first, pages included', async () => {
  for (const [i, minutesAgo] of [30, 20, 10].entries()) {
    await t.owner.query(sql`
      insert into app_public.leads (tenant_id, id, email, created)
      values (${org.tenantId}, ${idSorting(0xffff - i)}, ${`lead${i}@order.example`}, now() - make_interval(mins => ${minutesAgo}))`);
  }
  const first = await t.ok(`{ leads(first: 2) { nodes { email } pageInfo { endCursor } } }`, {}, org.token);
  expect(first.leads.nodes.map((n: { email: string }) => n.email)).toEqual(['lead0@order.example', 'lead1@order.example']);
  const rest = await t.ok(`query($after: Cursor) { leads(first: 2, after: $after) { nodes { email } } }`, { after: first.leads.pageInfo.endCursor }, org.token);
  expect(rest.leads.nodes.map((n: { email: string }) => n.email)).toEqual(['lead2@order.example']);
});
