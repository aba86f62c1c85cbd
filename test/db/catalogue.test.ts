/**
 * Reads pg_catalog so that no table, column, policy or function can slip past
 * the project's rules: a new table without forced RLS, a policy, a comment, an
 * index on each foreign key, or tenant-safe keys fails here.
 */
import { closeDb, rootDb } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

interface TableInfo {
  oid: string;
  name: string;
  rls: boolean;
  force: boolean;
  comment: string | null;
  policies: number;
  hasTenantId: boolean;
}

async function exposedTables(): Promise<TableInfo[]> {
  return rootDb().query(sql`
    select c.oid::text, c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as force,
           obj_description(c.oid, 'pg_class') as comment,
           (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies,
           exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as "hasTenantId"
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname
  `);
}

test('the exposed schema holds the whole domain', async () => {
  const names = (await exposedTables()).map((t) => t.name);
  for (const table of [
    'users', 'tenants', 'tenant_users', 'companies', 'domains', 'email_accounts', 'leads', 'templates', 'folders',
    'template_folders', 'tags', 'template_tags', 'campaigns', 'campaign_sequence_steps', 'plans', 'subscriptions',
    'subscription_addons', 'payments', 'vps_instances', 'smtp_ip_addresses', 'domain_ip_assignments', 'staff_members',
    'staff_roles', 'staff_role_permissions', 'permissions', 'system_config', 'feature_flags', 'user_preferences',
    'tenant_config', 'tenant_policies', 'messages', 'email_events', 'contact_lists', 'contact_list_members',
    'custom_field_definitions', 'campaign_targets', 'campaign_enrollments', 'usage_periods', 'invitations',
    'crm_accounts', 'deals', 'deal_contacts', 'audit_log',
  ]) {
    expect(names).toContain(table);
  }
});

test('every exposed table has RLS enabled and forced, a policy and a comment', async () => {
  const problems: string[] = [];
  for (const t of await exposedTables()) {
    if (!t.rls) problems.push(`${t.name}: RLS not enabled`);
    if (!t.force) problems.push(`${t.name}: RLS not forced`);
    if (t.policies === 0) problems.push(`${t.name}: no policy`);
    if (!t.comment) problems.push(`${t.name}: no COMMENT`);
  }
  expect(problems).toEqual([]);
});

test('every policy has a comment', async () => {
  const rows = await rootDb().query(sql`
    select c.relname || '.' || p.polname as name
    from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and obj_description(p.oid, 'pg_policy') is null
  `);
  expect(rows.map((r) => r.name)).toEqual([]);
});

test('every foreign key is covered by an index starting with its columns', async () => {
  const rows = await rootDb().query(sql`
    select c.conrelid::regclass::text as tbl, c.conname
    from pg_constraint c join pg_namespace n on n.oid = c.connamespace
    where c.contype = 'f' and n.nspname in ('app_public', 'app_private')
      and not exists (
        select 1 from pg_index i
        where i.indrelid = c.conrelid
          and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
          and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
      )
      and not exists (select 1 from pg_class r where r.oid = c.conrelid and r.relispartition)
  `);
  expect(rows.map((r) => `${r.tbl}: ${r.conname}`)).toEqual([]);
});

test('tenant-owned tables: tenant_id NOT NULL with the current tenant as default, in every key and every tenant-to-tenant foreign key', async () => {
  const problems: string[] = [];
  const tenantTables = (await exposedTables()).filter((t) => t.hasTenantId);
  expect(tenantTables.length).toBeGreaterThan(30);
  const tenantOids = new Set(tenantTables.map((t) => t.oid));
  for (const t of tenantTables) {
    const [col] = await rootDb().query(sql`
      select a.attnotnull, pg_get_expr(d.adbin, d.adrelid) as default
      from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = ${t.oid}::oid and a.attname = 'tenant_id'
    `);
    if (!col.attnotnull) problems.push(`${t.name}: tenant_id is nullable`);
    if (!String(col.default ?? '').includes('current_tenant_id()')) problems.push(`${t.name}: tenant_id has no current-tenant default`);

    const keys = await rootDb().query(sql`
      select i.indexrelid::regclass::text as name,
             exists (select 1 from pg_attribute a where a.attrelid = i.indrelid and a.attname = 'tenant_id' and a.attnum = any (i.indkey::int2[])) as has_tenant
      from pg_index i where i.indrelid = ${t.oid}::oid and (i.indisunique or i.indisprimary)
    `);
    if (!keys.some((k) => k.name.endsWith('_pkey'))) problems.push(`${t.name}: no primary key`);
    for (const k of keys) if (!k.has_tenant) problems.push(`${t.name}: unique key ${k.name} lacks tenant_id`);

    const fks = await rootDb().query(sql`
      select c.conname, c.confrelid::text as target,
        exists (
          select 1 from unnest(c.conkey, c.confkey) as k(src, dst)
          join pg_attribute sa on sa.attrelid = c.conrelid and sa.attnum = k.src
          join pg_attribute da on da.attrelid = c.confrelid and da.attnum = k.dst
          where sa.attname = 'tenant_id' and da.attname = 'tenant_id'
        ) as carries_tenant
      from pg_constraint c where c.conrelid = ${t.oid}::oid and c.contype = 'f'
    `);
    for (const fk of fks) {
      if (tenantOids.has(fk.target) && !fk.carries_tenant) problems.push(`${t.name}: ${fk.conname} does not include tenant_id`);
    }
  }
  expect(problems).toEqual([]);
});

test('status columns are constrained, timestamps are timestamptz, emails are case-insensitive', async () => {
  const unconstrainedStatus = await rootDb().query(sql`
    select c.relname || '.' || a.attname as col
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition and not a.attisdropped
      and (a.attname = 'status' or a.attname like '%\_status' or a.attname like '%\_state')
      and not exists (
        select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'c' and a.attnum = any (k.conkey)
      )
      and format_type(a.atttypid, a.atttypmod) not in ('jsonb')
  `);
  expect(unconstrainedStatus.map((r) => r.col)).toEqual([]);

  const naiveTimestamps = await rootDb().query(sql`
    select c.relname || '.' || a.attname as col
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      and a.atttypid = 'timestamp'::regtype
  `);
  expect(naiveTimestamps.map((r) => r.col)).toEqual([]);

  const emailColumns = await rootDb().query(sql`
    select c.relname || '.' || a.attname as col, format_type(a.atttypid, a.atttypmod) as type
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition and not a.attisdropped
      and (a.attname = 'email' or a.attname like '%\_email')
  `);
  expect(emailColumns.length).toBeGreaterThan(5);
  for (const c of emailColumns) expect([c.col, c.type]).toEqual([c.col, expect.stringMatching(/email_address|citext/)]);
});

test('no secret column sits in the exposed schema', async () => {
  const rows = await rootDb().query(sql`
    select c.relname || '.' || a.attname as col
    from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p', 'v', 'm') and a.attnum > 0 and not a.attisdropped
      and a.attname ~* '^(.*_)?(password|password_hash|secret|private_key|token|token_hash|credentials?|api_key)(_encrypted)?$'
  `);
  expect(rows.map((r) => r.col)).toEqual([]);
});

test('every SECURITY DEFINER function pins its search_path', async () => {
  const rows = await rootDb().query(sql`
    select p.oid::regprocedure::text as fn
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('app_public', 'app_hidden', 'app_private') and p.prosecdef
      and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search_path=%')
  `);
  expect(rows.map((r) => r.fn)).toEqual([]);
});

test('no API role can reach app_private', async () => {
  const rows = await rootDb().query(sql`
    select r.rolname, has_schema_privilege(r.rolname, 'app_private', 'usage') as usage
    from pg_roles r
    where r.rolname in ('penguinmails_anonymous', 'penguinmails_member', 'penguinmails_staff', 'penguinmails_analytics', 'penguinmails_authenticator')
  `);
  expect(rows).toHaveLength(5);
  for (const r of rows) expect([r.rolname, r.usage]).toEqual([r.rolname, false]);
});

test('the authenticator logs in, does not inherit, and can become exactly the API roles', async () => {
  const [auth] = await rootDb().query(sql`select rolcanlogin, rolinherit, rolbypassrls from pg_roles where rolname = 'penguinmails_authenticator'`);
  expect(auth).toEqual({ rolcanlogin: true, rolinherit: false, rolbypassrls: false });
  const granted = await rootDb().query(sql`
    select b.rolname from pg_auth_members m join pg_roles a on a.oid = m.member join pg_roles b on b.oid = m.roleid
    where a.rolname = 'penguinmails_authenticator' order by 1
  `);
  expect(granted.map((r) => r.rolname)).toEqual([
    'penguinmails_analytics', 'penguinmails_anonymous', 'penguinmails_member', 'penguinmails_staff',
  ]);
  const [owner] = await rootDb().query(sql`select rolbypassrls from pg_roles where rolname = 'penguinmails_owner'`);
  expect(owner.rolbypassrls).toBe(true);
});
