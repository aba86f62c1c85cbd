/**
 * The SQL behaviour the foundation provides: time-ordered ids and monthly
 * partitions, dynamic list evaluation, the shared triggers and the audit log.
 */
import { sql, createPool } from '../../src/db/pg.ts';
import { isolatedDatabase } from '../helpers/api.ts';
import { closeDb, withTx } from '../helpers/db.ts';
import { withDatabase } from '../helpers/test-database.ts';

afterAll(closeDb);

test('UUIDv7 ids carry their creation time and sort by it', async () => {
  await withTx(async (t) => {
    const [row] = await t.query(sql`
      select app_public.uuid_v7('2026-03-04T05:06:07.089Z') as id,
             app_public.uuid_v7_time(app_public.uuid_v7('2026-03-04T05:06:07.089Z')) as at,
             app_public.uuid_v7('2026-03-04T05:06:07.089Z') < app_public.uuid_v7('2026-03-04T05:06:07.090Z') as ordered
    `);
    expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Date(row.at).toISOString()).toBe('2026-03-04T05:06:07.089Z');
    expect(row.ordered).toBe(true);
  });
});

test('messages land in the monthly partition of their id, and partitions are created ahead idempotently', async () => {
  // Its own database: creating a partition locks the parent table and the
  // tables its foreign keys point to, which would deadlock with other suites
  // writing messages in the shared test database.
  const db = await isolatedDatabase('partitions');
  const pool = createPool({ connectionString: withDatabase(db.urls.root!, db.urls.databaseName), bigIntMode: 'string', poolSize: 1 });
  try {
    await partitionsTest(pool);
  } finally {
    await pool.dispose();
    await db.drop();
  }
});

async function partitionsTest(pool: ReturnType<typeof createPool>): Promise<void> {
  await withTx(async (t) => {
    const { tenant, owner } = await t.tenantWithOwner('partitions');
    const [msg] = await t.query(sql`
      insert into app_public.messages (tenant_id, direction, status, to_email)
      values (${tenant.id}, 'outbound', 'queued', 'x@example.com')
      returning tableoid::regclass::text as partition, created, id
    `);
    const now = new Date();
    const expected = `app_public.messages_y${now.getUTCFullYear()}m${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    expect(msg.partition).toBe(expected);
    expect(Math.abs(new Date(msg.created).getTime() - Date.now())).toBeLessThan(60_000);

    const [{ created }] = await t.query(sql`
      select app_private.ensure_monthly_partitions('app_public.messages', (now() + interval '4 months')::date, (now() + interval '6 months')::date) as created
    `);
    expect(created).toBe(3);
    const [{ again }] = await t.query(sql`
      select app_private.ensure_monthly_partitions('app_public.messages', (now() + interval '4 months')::date, (now() + interval '6 months')::date) as again
    `);
    expect(again).toBe(0);
    const [future] = await t.query(sql`
      insert into app_public.messages (tenant_id, id, direction, status)
      values (${tenant.id}, app_public.uuid_v7(now() + interval '5 months'), 'outbound', 'queued')
      returning tableoid::regclass::text as partition
    `);
    expect(future.partition).toMatch(/^app_public\.messages_y\d{4}m\d{2}$/);
    expect(future.partition).not.toBe(expected);

    // A lookup by id reads one partition only.
    await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
    const plan = await t.query(sql`explain (costs off) select * from app_public.messages where id = ${msg.id}`);
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(new Set(text.match(/messages_y\d{4}m\d{2}/g)).size).toBe(1);
  }, pool);
}

test('dynamic lists evaluate their filter in SQL; static lists return their members', async () => {
  await withTx(async (t) => {
    const { tenant, owner } = await t.tenantWithOwner('lists');
    await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
    await t.query(sql`
      insert into app_public.leads (email, company, title, status, custom_fields) values
        ('a@acme.example', 'Acme', 'CTO', 'active', '{"industry": "saas", "seats": 50}'),
        ('b@acme.example', 'Acme', 'Intern', 'active', '{"industry": "saas", "seats": 5}'),
        ('c@globex.example', 'Globex', 'CEO', 'unsubscribed', '{"industry": "retail"}'),
        ('d@initech.example', 'Initech', 'VP Sales', 'active', '{}')
    `);
    const evaluate = async (filter: unknown) => {
      const [list] = await t.query(sql`
        insert into app_public.contact_lists (name, is_dynamic, filter_criteria)
        values (${'l' + Math.random()}, true, ${JSON.stringify(filter)}::jsonb) returning id
      `);
      const rows = await t.query(sql`
        select l.email::text from app_public.contact_lists cl, app_public.contact_lists_leads(cl) l
        where cl.id = ${list.id} order by 1
      `);
      const [{ n }] = await t.query(sql`select app_public.contact_lists_lead_count(cl) as n from app_public.contact_lists cl where cl.id = ${list.id}`);
      expect(Number(n)).toBe(rows.length);
      return rows.map((r) => r.email);
    };
    expect(await evaluate({ all: [{ field: 'custom.industry', op: 'eq', value: 'saas' }] })).toEqual(['a@acme.example', 'b@acme.example']);
    expect(await evaluate({ all: [{ field: 'custom.seats', op: 'gte', value: 10 }] })).toEqual(['a@acme.example']);
    expect(await evaluate({ any: [{ field: 'title', op: 'contains', value: 'c' }, { field: 'company', op: 'eq', value: 'Initech' }] }))
      .toEqual(['a@acme.example', 'c@globex.example', 'd@initech.example']);
    expect(await evaluate({ all: [{ field: 'status', op: 'eq', value: 'active' }, { not: { field: 'custom.industry', op: 'exists' } }] }))
      .toEqual(['d@initech.example']);
    expect(await evaluate({ all: [{ field: 'email', op: 'ends_with', value: '@acme.example' }, { field: 'title', op: 'in', value: ['CTO', 'CEO'] }] }))
      .toEqual(['a@acme.example']);
    // Wildcards in values are literal.
    expect(await evaluate({ all: [{ field: 'company', op: 'contains', value: '%' }] })).toEqual([]);

    const [{ id: staticId }] = await t.query(sql`insert into app_public.contact_lists (name) values ('static') returning id`);
    await t.query(sql`insert into app_public.contact_list_members (list_id, lead_id) select ${staticId}, id from app_public.leads where company = 'Acme'`);
    const members = await t.query(sql`
      select l.email::text from app_public.contact_lists cl, app_public.contact_lists_leads(cl) l where cl.id = ${staticId} order by 1
    `);
    expect(members.map((r) => r.email)).toEqual(['a@acme.example', 'b@acme.example']);
  });
});

test('updated timestamps, updated_by and the audit log follow every change', async () => {
  await withTx(async (t) => {
    const { tenant, owner } = await t.tenantWithOwner('audit');
    const helper = await t.createUser('helper@example.com');
    await t.addMember(tenant.id, helper.id, ['member']);
    await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
    const [lead] = await t.query(sql`insert into app_public.leads (email) values ('x@y.example') returning id, updated, created_by`);
    expect(lead.created_by).toBe(owner.id);
    const [after] = await t.query(sql`update app_public.leads set first_name = 'Z' where id = ${lead.id} returning updated, updated_by`);
    expect(new Date(after.updated).getTime()).toBeGreaterThan(new Date(lead.updated).getTime());
    expect(after.updated_by).toBe(owner.id);

    await t.as({ kind: 'root' });
    await t.query(sql`update app_public.tenant_users set roles = '{admin}' where tenant_id = ${tenant.id} and user_id = ${helper.id}`);
    await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
    const [entry] = await t.query(sql`
      select action, record_id, changes from app_public.audit_log where action = 'tenant_users.update'
    `);
    expect(entry).toEqual({
      action: 'tenant_users.update',
      record_id: helper.id,
      changes: { roles: { from: ['member'], to: ['admin'] } },
    });
  });
});
