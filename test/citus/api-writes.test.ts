/**
 * Writing through the GraphQL API on a Citus cluster (npm run test:citus):
 * createLead inserts into the shard of the token's tenant (Citus routes an
 * insert by its tenant_id, one shard per row), the triggers run on that
 * shard's node against the tenant's other shards there (the contacts gauge,
 * up on insert and down on delete), and a refused duplicate reads as the
 * table's own constraint.
 */
import pg from 'pg';
import { startTestApi, type TestApi } from '../helpers/api.ts';
import { citusWorkerRootUrls, withDatabase } from '../helpers/test-database.ts';
import { seedTenant } from './fixtures.ts';

if (citusWorkerRootUrls().length === 0) throw new Error('test/citus/ runs on a Citus cluster: npm run test:citus');

let t: TestApi;
let root: pg.Client;
beforeAll(async () => {
  t = await startTestApi();
  root = new pg.Client({ connectionString: withDatabase(t.urls.root!, t.urls.databaseName) });
  await root.connect();
});
afterAll(async () => {
  await root?.end();
  await t?.close();
});

test('a member writes through the API on the cluster: createLead lands in the shard of its tenant, whose node runs its triggers (the plan gauge counts it)', async () => {
  const a = await seedTenant(root, t, 'apiw');
  const created = await t.ok(
    `mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { email firstName status } } }`,
    { input: { lead: { email: 'written@citus.example', firstName: 'Written' } } },
    a.token,
  );
  expect(created.createLead.lead).toEqual({ email: 'written@citus.example', firstName: 'Written', status: 'ACTIVE' });
  // The gauge trigger ran on the shard's node and counted the lead in the tenant's shard group.
  const { rows: [gauge] } = await root.query(
    `select coalesce(sum(value), 0)::int as contacts from app_private.resource_counts where tenant_id = $1 and resource = 'contacts'`,
    [a.tenantId],
  );
  expect(gauge.contacts).toBe(1);
  // A duplicate is refused with the constraint's own message, not the shard's name.
  const duplicate = await t.gql(
    `mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { email } } }`,
    { input: { lead: { email: 'WRITTEN@citus.example' } } },
    a.token,
  );
  expect(duplicate.errors?.[0]?.extensions).toEqual({ code: 'ALREADY_EXISTS' });
  expect(duplicate.errors?.[0]?.message).toBe('A lead with this email already exists.');

  // Where the row went: the shard of its tenant, on the node its gauge row is on.
  const { rows: [placement] } = await root.query(
    `select (select nodeport from pg_dist_shard_placement p where p.shardid = get_shard_id_for_distribution_column('app_public.leads', $1::uuid)) as lead_node,
            (select nodeport from pg_dist_shard_placement p where p.shardid = get_shard_id_for_distribution_column('app_private.resource_counts', $1::uuid)) as gauge_node`,
    [a.tenantId],
  );
  expect(placement.lead_node).toBe(placement.gauge_node);

  // Deleting it runs the gauge trigger on that node again: the count goes back down.
  const { rows: [lead] } = await root.query(`select id from app_public.leads where tenant_id = $1`, [a.tenantId]);
  await t.ok(`mutation($id: UUID!) { deleteLead(input: { rowId: $id }) { clientMutationId } }`, { id: lead.id }, a.token);
  const { rows: [after] } = await root.query(
    `select coalesce(sum(value), 0)::int as contacts from app_private.resource_counts where tenant_id = $1 and resource = 'contacts'`,
    [a.tenantId],
  );
  expect(after.contacts).toBe(0);
});
