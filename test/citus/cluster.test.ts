/**
 * On a Citus cluster (npm run test:citus): the layout that
 * src/db/citus-distribution.ts declares is the one the database has, the
 * request context reaches the worker nodes (policies see the tenant there),
 * and a query with the tenant predicate is routed to one shard.
 *
 * Rows are set up with triggers off (session_replication_role = replica) and
 * committed first; each check then runs as one request would: one
 * transaction entered as a member (src/server/context.ts). README's
 * Scale-out section lists what does not run on the cluster yet.
 */
import pg from 'pg';
import { citusLayout, functionsInShardQueries, plannedLayout } from '../../src/db/citus-distribution.ts';
import { isolatedDatabase } from '../helpers/api.ts';
import type { DatabaseUrls } from '../../src/db/database.ts';
import { citusWorkerRootUrls, withDatabase } from '../helpers/test-database.ts';
import { inMemberRequest } from './fixtures.ts';

if (citusWorkerRootUrls().length === 0) throw new Error('test/citus/ runs on a Citus cluster: npm run test:citus');

let db: { urls: DatabaseUrls; drop(): Promise<void> };
let root: pg.Client;

beforeAll(async () => {
  db = await isolatedDatabase('citus');
  root = new pg.Client({ connectionString: withDatabase(db.urls.root!, db.urls.databaseName) });
  await root.connect();
});
afterAll(async () => {
  await root?.end();
  await db?.drop();
});

/** A tenant with an owner and one lead, committed with triggers off. */
async function tenantWithLead(label: string): Promise<{ tenantId: string; userId: string; leadId: string }> {
  await root.query('begin');
  await root.query('set local session_replication_role = replica');
  const { rows: [row] } = await root.query(
    `
    with u as (insert into app_public.users (email) values ($1) returning id, email),
    tn as (insert into app_public.tenants (name) values ($2) returning id),
    m as (insert into app_public.tenant_users (tenant_id, user_id, roles, email) select tn.id, u.id, '{owner}', u.email from tn, u returning tenant_id),
    l as (insert into app_public.leads (tenant_id, email) select tn.id, $3 from tn returning id)
    select (select id from u) as user_id, (select id from tn) as tenant_id, (select id from l) as lead_id
    `,
    [`${label}-${process.pid}@citus.example`, label, `lead-${label}@example.com`],
  );
  await root.query('commit');
  return { tenantId: row.tenant_id, userId: row.user_id, leadId: row.lead_id };
}

/** Runs fn in one transaction entered as a member, like an API request (its own connection); rolled back. */
async function asMember<T>(userId: string, tenantId: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.urls.authenticator });
  await client.connect();
  try {
    return await inMemberRequest(client, userId, tenantId, fn);
  } finally {
    await client.end();
  }
}

const ids = (r: pg.QueryResult) => r.rows.map((row) => row.id);

test('every table is where the declared layout puts it, tenant tables co-located with tenants on the workers', async () => {
  const planned = await plannedLayout(root);
  const actual = await citusLayout(root);
  for (const table of planned) expect([table.name, actual.get(table.name)]).toEqual([table.name, table.placement]);
  const count = (placement: string) => planned.filter((t) => t.placement === placement).length;
  for (const placement of ['distributed', 'reference', 'local']) {
    const names = planned.filter((t) => t.placement === placement).map((t) => t.name);
    process.stderr.write(`[citus layout] ${placement} (${names.length}): ${names.join(', ')}\n`);
  }
  expect(count('distributed')).toBeGreaterThan(40);
  expect(count('reference')).toBeGreaterThan(10);
  const { rows: [colocation] } = await root.query(`select count(distinct colocationid)::int as groups from pg_dist_partition where partmethod = 'h'`);
  expect(colocation.groups).toBe(1);
  const { rows: [placements] } = await root.query(`
    select count(distinct p.groupid)::int as groups, bool_or(p.groupid = 0) as on_coordinator
    from pg_dist_placement p join pg_dist_shard s using (shardid)
    join pg_dist_partition d on d.logicalrelid = s.logicalrelid where d.partmethod = 'h'`);
  expect(placements).toEqual({ groups: 2, on_coordinator: false });
});

test('the request context reaches the workers: a member reads, changes and deletes only their tenant rows', async () => {
  const a = await tenantWithLead('citus-a');
  const b = await tenantWithLead('citus-b');
  await asMember(a.userId, a.tenantId, async (c) => {
    expect((await c.query('select app_public.current_tenant_id() as id')).rows[0].id).toBe(a.tenantId);
    expect(ids(await c.query('select id from app_public.leads where tenant_id = any ($1)', [[a.tenantId, b.tenantId]]))).toEqual([a.leadId]);
    expect(ids(await c.query('select id from app_public.leads'))).toEqual([a.leadId]);
    expect(ids(await c.query(`update app_public.leads set first_name = 'x' where id = $1 returning id`, [b.leadId]))).toEqual([]);
    expect(ids(await c.query('delete from app_public.leads where id = $1 returning id', [b.leadId]))).toEqual([]);
    expect((await c.query(`update app_public.leads set first_name = 'Ada' where id = $1 returning first_name`, [a.leadId])).rows).toEqual([{ first_name: 'Ada' }]);
  });
  // Inserting into another tenant is refused on the shard.
  await expect(
    asMember(a.userId, a.tenantId, (c) => c.query(`insert into app_public.leads (tenant_id, email) values ($1, 'sneak@example.com')`, [b.tenantId])),
  ).rejects.toMatchObject({ code: '42501' });
  // A forged tenant claim gives nothing.
  await asMember(a.userId, b.tenantId, async (c) => {
    expect(ids(await c.query('select id from app_public.leads'))).toEqual([]);
    expect((await c.query('select app_public.current_tenant_id() as id')).rows[0].id).toBeNull();
  });
  // A removed member loses access at the next request.
  await root.query('update app_public.tenant_users set deleted_at = now() where tenant_id = $1 and user_id = $2', [a.tenantId, a.userId]);
  await asMember(a.userId, a.tenantId, async (c) => {
    expect(ids(await c.query('select id from app_public.leads'))).toEqual([]);
  });
});

test('a tenant query with its tenant predicate runs as one task on one shard; without it, on every shard', async () => {
  const a = await tenantWithLead('citus-route');
  const plan = async (c: pg.Client, query: string, values: unknown[] = []) =>
    (await c.query(`explain ${query}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
  await asMember(a.userId, a.tenantId, async (c) => {
    expect(await plan(c, 'select id, email from app_public.leads where tenant_id = $1 order by created desc limit 20', [a.tenantId])).toMatch(/Task Count: 1\b/);
    expect(
      await plan(
        c,
        `select c.id, s.id from app_public.campaigns c
         join app_public.campaign_sequence_steps s on s.tenant_id = c.tenant_id and s.campaign_id = c.id
         where c.tenant_id = $1`,
        [a.tenantId],
      ),
    ).toMatch(/Task Count: 1\b/);
    const { rows: [{ shards }] } = await root.query(`select count(*)::int as shards from pg_dist_shard where logicalrelid = 'app_public.leads'::regclass`);
    expect(await plan(c, 'select id from app_public.leads')).toMatch(new RegExp(`Task Count: ${shards}\\b`));
  });
});

test('computed columns read co-located shards inside the shard query, in the same transaction (they see its writes)', async () => {
  const a = await tenantWithLead('citus-computed');
  await asMember(a.userId, a.tenantId, async (c) => {
    const { rows: [list] } = await c.query(`insert into app_public.contact_lists (name) values ('computed') returning id`);
    await c.query('insert into app_public.contact_list_members (list_id, lead_id) values ($1, $2)', [list.id, a.leadId]);
    const { rows } = await c.query(
      // As the API passes a row (plugins/row-arguments.ts): on the shard, l is a row of contact_lists_<shard>.
      `select app_public.contact_lists_lead_count(row(l.*)::app_public.contact_lists) as n,
         (select count(*) from app_public.contact_lists_leads(row(l.*)::app_public.contact_lists))::int as leads
       from app_public.contact_lists l where l.tenant_id = $1 and l.id = $2`,
      [a.tenantId, list.id],
    );
    expect(rows).toEqual([{ n: '1', leads: 1 }]);
  });
  // Those functions run with nested execution allowed; each computed column
  // that queries a table names its row's tenant, so its queries stay on that shard group.
  const inShardQueries = await functionsInShardQueries(root);
  expect(inShardQueries).toEqual(expect.arrayContaining(['app_public.campaigns_stats(app_public.campaigns,date,date)', 'app_private.inbox_unusable_reason(uuid,uuid)']));
  const { rows: functions } = await root.query(
    `
    select p.oid::regprocedure::text as fn, p.proconfig @> '{citus.allow_nested_distributed_execution=on}' as allowed,
      p.pronamespace = 'app_public'::regnamespace and p.prosrc ~* '\\m(from|join)\\s+app_' as reads,
      p.prosrc ~ ('\\m' || p.proargnames[1] || '\\.tenant_id\\M') as names_tenant,
      p.prosrc ~ 'app_public\\.current_tenant_id\\(\\)' as reads_request_tenant,
      exists (select from pg_type t where t.oid = p.proargtypes[0] and t.typrelid <> 0) as computed
    from pg_proc p where p.oid::regprocedure::text = any ($1)
    `,
    [inShardQueries],
  );
  expect(functions.length).toBe(inShardQueries.length);
  for (const f of functions) {
    expect({ fn: f.fn, allowed: f.allowed }).toEqual({ fn: f.fn, allowed: true });
    // A computed column reads its row's tenant; a root function (inboxConversations) the request's.
    if (f.reads && f.computed) expect({ fn: f.fn, namesTenant: f.names_tenant }).toEqual({ fn: f.fn, namesTenant: true });
    if (f.reads && !f.computed) expect({ fn: f.fn, readsRequestTenant: f.reads_request_tenant }).toEqual({ fn: f.fn, readsRequestTenant: true });
  }
});
