/**
 * The GraphQL API reading from a Citus cluster (npm run test:citus): a signed
 * token's tenant reaches the shards through PostGraphile's transaction, and
 * the reads a client makes (a filtered, ordered leads page; the current
 * tenant; a campaign with its steps and their templates) return that
 * tenant's rows and no other's. Rows are set up with triggers off, committed
 * (see cluster.test.ts); the API only reads.
 */
import pg from 'pg';
import { startTestApi, type TestApi } from '../helpers/api.ts';
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
  const admin = new pg.Client({ connectionString: process.env.TEST_ROOT_DATABASE_URL });
  await admin.connect();
  for (const [key, value] of Object.entries(AUTO_EXPLAIN)) await admin.query(`alter role penguinmails_authenticator set ${key} = '${value}'`);
  await admin.end();
  t = await startTestApi();
  root = new pg.Client({ connectionString: withDatabase(t.urls.root!, t.urls.databaseName) });
  await root.connect();
});
afterAll(async () => {
  await root?.query(`alter role penguinmails_authenticator reset all`);
  await root?.end();
  await t?.close();
});

/** The coordinator's log entries (auto_explain) for statements whose text matches. */
async function loggedPlans(match: RegExp): Promise<string[]> {
  const { rows: [{ log }] } = await root.query(`select pg_read_file(current_setting('data_directory') || '/../log') as log`);
  return (log as string).split(/\n(?=\S)/).filter((entry) => entry.includes('Query Text:') && match.test(entry));
}

interface Seeded {
  tenantId: string;
  token: string;
  leadEmails: string[];
  campaignId: string;
}

/** A tenant with an owner, three leads and a two-step campaign, committed with triggers off. */
async function seed(label: string): Promise<Seeded> {
  await root.query('begin');
  await root.query('set local session_replication_role = replica');
  const { rows: [row] } = await root.query(
    `
    with u as (insert into app_public.users (email) values ($1) returning id, email),
    tn as (insert into app_public.tenants (name) values ($2) returning id),
    m as (insert into app_public.tenant_users (tenant_id, user_id, roles, email) select tn.id, u.id, '{owner}', u.email from tn, u returning 1),
    l as (
      insert into app_public.leads (tenant_id, email, first_name, status)
      select tn.id, format('%s-%s@example.com', $2::text, n), format('Lead %s', n), case when n = 3 then 'unsubscribed' else 'active' end
      from tn, generate_series(1, 3) n returning 1
    ),
    tp as (insert into app_public.templates (tenant_id, name, subject) select tn.id, 'Intro', 'Hello' from tn returning id, tenant_id),
    c as (insert into app_public.campaigns (tenant_id, name) select tn.id, $2 from tn returning id, tenant_id),
    s as (
      insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id)
      select c.tenant_id, c.id, n, 'email', tp.id from c, tp, generate_series(1, 2) n returning 1
    )
    select (select id from u) as user_id, (select id from tn) as tenant_id, (select id from c) as campaign_id,
      (select count(*) from l) + (select count(*) from s) + (select count(*) from m) as written
    `,
    [`${label}-${process.pid}@citus.example`, label],
  );
  await root.query('commit');
  const token = await t.api.tokens.sign({
    role: 'member',
    user_id: row.user_id,
    tenant_id: row.tenant_id,
    expires_at: new Date(Date.now() + 3600_000),
  });
  return { tenantId: row.tenant_id, token, campaignId: row.campaign_id, leadEmails: [1, 2, 3].map((n) => `${label}-${n}@example.com`) };
}

test('a member reads their tenant through the API on the cluster, and only theirs', async () => {
  const a = await seed('apia');
  const b = await seed('apib');

  const page = await t.ok(
    `{ leads(first: 2, orderBy: EMAIL_ASC, filter: { status: { equalTo: "active" } }) { totalCount nodes { email firstName } } }`,
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
