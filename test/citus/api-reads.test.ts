/**
 * The GraphQL API on a Citus cluster (npm run test:citus): a signed token's
 * tenant reaches the shards through PostGraphile's transaction; the reads a
 * client makes (a filtered, ordered leads page; the current tenant; a
 * campaign with its steps and their templates) return that tenant's rows and
 * no other's, each statement as one task on one shard (read from the
 * coordinator's auto_explain log). Writes: api-writes.test.ts.
 */
import pg from 'pg';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { seedTenant } from './fixtures.ts';
import { citusWorkerRootUrls, withDatabase } from '../helpers/test-database.ts';

if (citusWorkerRootUrls().length === 0) throw new Error('test/citus/ runs on a Citus cluster: npm run test:citus');

let t: TestApi;
let root: pg.Client;
// The API's connections log the plan of every statement they run
// (auto_explain), so the test can read how Citus executed the SQL the API sent.
const AUTO_EXPLAIN = {
  session_preload_libraries: 'auto_explain',
  'auto_explain.log_min_duration': '0',
  'auto_explain.log_level': 'log',
};
beforeAll(async () => {
  // On this test's database only: other suites share the cluster (and its roles) at the same time.
  t = await startTestApi({}, undefined, async (urls) => {
    const admin = new pg.Client({ connectionString: withDatabase(urls.root!, urls.databaseName) });
    await admin.connect();
    for (const [key, value] of Object.entries(AUTO_EXPLAIN)) {
      await admin.query(`alter role penguinmails_authenticator in database ${urls.databaseName} set ${key} = '${value}'`);
    }
    await admin.end();
  });
  root = new pg.Client({ connectionString: withDatabase(t.urls.root!, t.urls.databaseName) });
  await root.connect();
});
afterAll(async () => {
  await root?.end();
  await t?.close();
});

/** The coordinator's log entries (auto_explain) for statements whose text matches. */
async function loggedPlans(match: RegExp): Promise<string[]> {
  const { rows: [{ log }] } = await root.query(`select pg_read_file(current_setting('data_directory') || '/../log') as log`);
  return (log as string).split(/\n(?=\S)/).filter((entry) => entry.includes('Query Text:') && match.test(entry));
}

test('a member reads their tenant through the API on the cluster, and only theirs', async () => {
  const a = await seedTenant(root, t, 'apia');
  const b = await seedTenant(root, t, 'apib');

  const page = await t.ok(
    `{ leads(first: 2, orderBy: EMAIL_ASC, filter: { status: { equalTo: ACTIVE } }) { totalCount nodes { email firstName } } }`,
    {},
    a.token,
  );
  expect(page.leads).toEqual({ totalCount: 2, nodes: [{ email: a.leadEmails[0], firstName: 'Lead 1' }, { email: a.leadEmails[1], firstName: 'Lead 2' }] });

  const tenant = await t.ok(`{ currentTenant { rowId name } }`, {}, a.token);
  expect(tenant.currentTenant).toEqual({ rowId: a.tenantId, name: 'apia' });

  const nested = await t.ok(
    `query($id: UUID!) { campaign(rowId: $id) { name campaignSequenceSteps(orderBy: STEP_ORDER_ASC) { nodes { stepOrder template { name subject } } } } }`,
    { id: a.campaignId },
    a.token,
  );
  expect(nested.campaign).toEqual({
    name: 'apia',
    campaignSequenceSteps: { nodes: [1, 2].map((stepOrder) => ({ stepOrder, template: { name: 'Intro', subject: 'Hello' } })) },
  });

  // Tenant B's campaign, looked up by id with A's token: nothing.
  expect((await t.ok(`query($id: UUID!) { campaign(rowId: $id) { name } }`, { id: b.campaignId }, a.token)).campaign).toBeNull();
  // B sees B.
  expect((await t.ok(`{ leads { totalCount } }`, {}, b.token)).leads.totalCount).toBe(3);

  // Every statement the API sent for those reads ran as one task on one shard.
  const plans = await loggedPlans(/app_public"?\."?(leads|campaigns|campaign_sequence_steps|tenants)\b/);
  expect(plans.length).toBeGreaterThanOrEqual(5);
  for (const plan of plans) expect([plan, /Task Count: 1\b/.test(plan)]).toEqual([plan, true]);
});

