/**
 * Bad input gets a specific error (SQLSTATE and constraint name) and writes
 * nothing.
 */
import { closeDb, withTx, type TestTx } from '../helpers/db.ts';
import { sql } from '../../src/db/pg.ts';

afterAll(closeDb);

async function memberOfFreshTenant(t: TestTx) {
  const { tenant, owner } = await t.tenantWithOwner('constraints');
  const [domain] = await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, 'ok.example') returning id`);
  await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
  return { tenantId: tenant.id, domainId: domain.id as string };
}

const cases: Array<[string, (ids: { domainId: string }) => ReturnType<typeof sql>, string, string, string]> = [
  ['a malformed lead email', () => sql`insert into app_public.leads (email) values ('not-an-email')`, '23514', 'email_address_format', 'leads'],
  ['an email with spaces', () => sql`insert into app_public.leads (email) values ('a b@example.com')`, '23514', 'email_address_format', 'leads'],
  ['an unknown lead status', () => sql`insert into app_public.leads (email, status) values ('a@b.example', 'maybe')`, '23514', 'leads_status_check', 'leads'],
  ['custom fields that are not an object', () => sql`insert into app_public.leads (email, custom_fields) values ('a@b.example', '[1]')`, '23514', 'leads_custom_fields_object', 'leads'],
  ['a malformed domain', () => sql`insert into app_public.domains (domain) values ('not a domain')`, '23514', 'hostname_format', 'domains'],
  ['a domain with a trailing dot', () => sql`insert into app_public.domains (domain) values ('example.com.')`, '23514', 'hostname_format', 'domains'],
  ['a negative daily cap', ({ domainId }) => sql`insert into app_public.email_accounts (domain_id, email, daily_limit) values (${domainId}, 'x@ok.example', -1)`, '23514', 'email_accounts_daily_limit_check', 'email_accounts'],
  ['a password in the SMTP settings', ({ domainId }) => sql`insert into app_public.email_accounts (domain_id, email, smtp_settings) values (${domainId}, 'x@ok.example', '{"host": "h", "password": "hunter2"}')`, '23514', 'email_accounts_smtp_settings_shape', 'email_accounts'],
  ['a sending window that ends before it starts', () => sql`insert into app_public.campaigns (name, send_window_start, send_window_end) values ('c', '17:00', '09:00')`, '23514', 'campaigns_send_window_check', 'campaigns'],
  ['a day of the week that does not exist', () => sql`insert into app_public.campaigns (name, send_days) values ('c', '{1,8}')`, '23514', 'campaigns_send_days_check', 'campaigns'],
  ['an invalid dynamic list filter', () => sql`insert into app_public.contact_lists (name, is_dynamic, filter_criteria) values ('l', true, '{"all": [{"field": "password", "op": "eq", "value": 1}]}')`, '22023', '', 'contact_lists'],
  ['a dynamic list without a filter', () => sql`insert into app_public.contact_lists (name, is_dynamic) values ('l', true)`, '23514', 'contact_lists_dynamic_has_filter', 'contact_lists'],
  ['a target naming both a list and a lead', () => sql`insert into app_public.campaign_targets (campaign_id) values (gen_random_uuid())`, '23514', 'campaign_targets_one_target', 'campaign_targets'],
];

describe.each(cases)('rejects %s', (_label, statement, code, constraint, tableName) => {
  test('with a specific error and nothing written', async () => {
    await withTx(async (t) => {
      const ids = await memberOfFreshTenant(t);
      const count = async () => (await t.query(sql`select count(*)::int as n from ${sql.ident('app_public', tableName)}`))[0].n;
      const before = await count();
      const error = await t.error(statement(ids));
      expect(error.code).toBe(code);
      if (constraint) expect(error.constraint).toBe(constraint);
      expect(await count()).toBe(before);
    });
  });
});

test('status columns refuse values outside their lifecycle even for the owner', async () => {
  await withTx(async (t) => {
    await memberOfFreshTenant(t);
    await t.as({ kind: 'owner' });
    const [{ id, tenant_id }] = await t.query(sql`select id, tenant_id from app_public.domains limit 1`);
    const error = await t.error(sql`update app_public.domains set verification_status = 'kinda' where tenant_id = ${tenant_id} and id = ${id}`);
    expect(error.constraint).toBe('domains_verification_status_check');
    const ip = await t.error(sql`insert into app_public.smtp_ip_addresses (ip_address, status) values ('192.0.2.1', 'shiny')`);
    expect(ip.constraint).toBe('smtp_ip_addresses_status_check');
    const bad = await t.error(sql`insert into app_public.smtp_ip_addresses (ip_address) values ('999.1.1.1')`);
    expect(bad.code).toBe('22P02');
  });
});

test('lead emails are unique per tenant regardless of case', async () => {
  await withTx(async (t) => {
    await memberOfFreshTenant(t);
    await t.query(sql`insert into app_public.leads (email) values ('Jane.Doe@Example.com')`);
    const error = await t.error(sql`insert into app_public.leads (email) values ('jane.doe@example.COM')`);
    expect([error.code, error.constraint]).toEqual(['23505', 'leads_email_key']);
    const [{ email }] = await t.query(sql`select email::text from app_public.leads where email = 'JANE.DOE@EXAMPLE.COM'`);
    expect(email).toBe('Jane.Doe@Example.com');
  });
});

test('dynamic list filters explain exactly what is wrong', async () => {
  await withTx(async (t) => {
    await memberOfFreshTenant(t);
    const message = async (filter: unknown) =>
      (await t.error(sql`insert into app_public.contact_lists (name, is_dynamic, filter_criteria) values ('l', true, ${JSON.stringify(filter)}::jsonb)`)).message;
    expect(await message({ all: [{ field: 'password', op: 'eq', value: 1 }] })).toMatch(/unknown field "password"/);
    expect(await message({ all: [{ field: 'status', op: 'like', value: 'x' }] })).toMatch(/unknown operator "like" on "status"/);
    expect(await message({ all: [] })).toMatch(/"all" must be a non-empty array/);
    expect(await message({ any: [{ field: 'status', op: 'in', value: 'active' }] })).toMatch(/needs a non-empty array value/);
    expect(await message({ all: [{ field: 'custom.Bad Key', op: 'eq', value: 1 }] })).toMatch(/not a valid custom field key/);
  });
});

test('members cannot be added to a dynamic list by hand', async () => {
  await withTx(async (t) => {
    await memberOfFreshTenant(t);
    const [{ id: leadId }] = await t.query(sql`insert into app_public.leads (email) values ('x@y.example') returning id`);
    const [{ id: listId }] = await t.query(sql`
      insert into app_public.contact_lists (name, is_dynamic, filter_criteria) values ('d', true, '{"all": [{"field": "status", "value": "active"}]}') returning id
    `);
    const error = await t.error(sql`insert into app_public.contact_list_members (list_id, lead_id) values (${listId}, ${leadId})`);
    expect(error.message).toMatch(/This list is dynamic/);
  });
});
