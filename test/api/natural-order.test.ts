/**
 * Connections asked for without orderBy come back in their rows' natural
 * order (plugins/natural-order.ts), not in the order of their random
 * primary keys: steps by position, custom fields by key. The rows below get
 * ids that sort against that order, so primary-key order would fail every
 * assertion.
 */
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { ownedTenant, type Member } from './fixtures.ts';
import { sql } from '../../src/db/pg.ts';

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

test('custom field definitions come back by key, pages included', async () => {
  for (const [i, key] of ['charlie', 'bravo', 'alpha'].entries()) {
    await t.owner.query(sql`
      insert into app_public.custom_field_definitions (tenant_id, id, key, label)
      values (${org.tenantId}, ${idSorting(i)}, ${key}, ${key})`);
  }
  const first = await t.ok(`{ customFieldDefinitions(first: 2) { nodes { key } pageInfo { endCursor } } }`, {}, org.token);
  expect(first.customFieldDefinitions.nodes.map((n: { key: string }) => n.key)).toEqual(['alpha', 'bravo']);
  const rest = await t.ok(`query($after: Cursor) { customFieldDefinitions(first: 2, after: $after) { nodes { key } } }`, { after: first.customFieldDefinitions.pageInfo.endCursor }, org.token);
  expect(rest.customFieldDefinitions.nodes.map((n: { key: string }) => n.key)).toEqual(['charlie']);
});
