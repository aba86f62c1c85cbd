/**
 * API keys over HTTP (src/auth/api-keys.ts, functions/052-api-keys.sql,
 * policies/055-api-keys.sql): issued once, stored as a hash, used as a bearer
 * token on /graphql and POST /imports/leads, held to their scopes by the
 * database, refused when revoked, expired, off-plan or over their budget, and
 * audited. The server trusts X-Forwarded-For here so tests can vary the
 * client address.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pgSettingsForClaims } from '../../src/server/context.ts';
import { withUserSession } from '../../src/server/user-session.ts';
import { registerUser, type TestApi } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { startImportHarness, type ImportHarness } from '../import/harness.ts';
import { sql } from '../../src/db/pg.ts';

let h: ImportHarness;
let t: TestApi;

beforeAll(async () => {
  h = await startImportHarness({ env: { TRUST_PROXY: 'true' } });
  t = h.t;
});
afterAll(async () => {
  await h?.close();
});

interface Issued {
  apiKeyId: string;
  prefix: string;
  secret: string;
  scopes: string[];
}

const CREATE = `mutation($name: String!, $scopes: [String]!, $expiresAt: Datetime) {
  createApiKey(input: { name: $name, scopes: $scopes, expiresAt: $expiresAt }) {
    result { apiKeyId: keyId prefix: keyPrefix scopes: keyScopes expiresAt: keyExpiresAt secret } } }`;

/** A new owner of an organisation on the given plan (Pro unless said otherwise). */
async function owner(label: string, plan = 'pro') {
  const user = await registerUser(t, label);
  await setPlan(user.tenantId, plan);
  return user;
}

async function setPlan(tenantId: string, slug: string) {
  await t.owner.query(sql`
    update app_public.subscriptions set plan_id = (select id from app_public.plans where slug = ${slug})
    where tenant_id = ${tenantId} and status <> 'canceled'`);
}

async function createKey(token: string, scopes: string[], name = 'integration'): Promise<Issued> {
  return (await t.ok(CREATE, { name, scopes }, token)).createApiKey.result;
}

/** A GraphQL request with a bearer key from a given client address. */
async function call(key: string, query: string, variables: Record<string, unknown> = {}, ip = '203.0.113.7') {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-forwarded-for': ip },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), ...body };
}

const codeOf = (r: { errors?: Array<{ extensions?: { code?: string } }> }) => r.errors?.[0]?.extensions?.code;

async function auditActions(tenantId: string, keyId: string): Promise<string[]> {
  const rows = await t.owner.query(sql`
    select action from app_public.audit_log where tenant_id = ${tenantId} and record_id = ${keyId} order by id`);
  return rows.map((r) => r.action as string);
}

describe('issuing keys', () => {
  test('the secret is shown once and only its SHA-256 is stored', async () => {
    const admin = await owner('issue');
    const key = await createKey(admin.jwtToken, ['leads:write', 'leads:read', 'templates:read']);
    expect(key.secret).toMatch(/^pm_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.secret.startsWith(key.prefix)).toBe(true);
    expect(key.scopes).toEqual(['leads:read', 'leads:write', 'templates:read']);

    // The list shows the key, and the API has no field that holds a secret.
    const listed = await t.ok(`{ apiKeys { nodes { rowId name prefix scopes lastUsedAt revokedAt } } }`, {}, admin.jwtToken);
    expect(listed.apiKeys.nodes).toEqual([
      { rowId: key.apiKeyId, name: 'integration', prefix: key.prefix, scopes: key.scopes, lastUsedAt: null, revokedAt: null },
    ]);
    const fields = await t.ok(`{ __type(name: "ApiKey") { fields { name } } }`, {}, admin.jwtToken);
    expect(fields.__type.fields.map((f: { name: string }) => f.name).filter((n: string) => /secret|hash/i.test(n))).toEqual([]);

    // In the database: the hash in app_private, nowhere the secret.
    const hash = createHash('sha256').update(key.secret).digest();
    const [stored] = await t.owner.query(sql`
      select s.tenant_id, s.api_key_id, (select count(*)::int from app_private.api_key_secrets x where x.api_key_id = ${key.apiKeyId}) as secrets
      from app_private.api_key_secrets s where s.secret_hash = ${hash}`);
    expect(stored).toEqual({ tenant_id: admin.tenantId, api_key_id: key.apiKeyId, secrets: 1 });
    const secretPart = key.secret.slice(12);
    const leaks = await t.owner.query(sql`
      select 'api_keys' as t from app_public.api_keys k where k::text like ${'%' + secretPart + '%'}
      union all select 'secrets' from app_private.api_key_secrets s where s::text like ${'%' + secretPart + '%'}
      union all select 'audit' from app_public.audit_log a where a::text like ${'%' + secretPart + '%'}`);
    expect(leaks).toEqual([]);
    expect(await auditActions(admin.tenantId, key.apiKeyId)).toEqual(['api_key.created']);
  });

  test('refusals: unknown scopes, past expiry, plans without API access, members, and keys themselves', async () => {
    const admin = await owner('refusals');
    const bad = await t.gql(CREATE, { name: 'x', scopes: ['leads:read', 'billing:write'] }, admin.jwtToken);
    expect([codeOf(bad), bad.errors?.[0]?.message]).toEqual(['INVALID_INPUT', expect.stringContaining('billing:write')]);
    const past = await t.gql(CREATE, { name: 'x', scopes: ['leads:read'], expiresAt: '2020-01-01T00:00:00Z' }, admin.jwtToken);
    expect(codeOf(past)).toBe('INVALID_INPUT');

    const free = await owner('free-plan', 'free');
    const offPlan = await t.gql(CREATE, { name: 'x', scopes: ['leads:read'] }, free.jwtToken);
    expect([codeOf(offPlan), offPlan.errors?.[0]?.message]).toEqual(['PLAN_LIMIT_REACHED', expect.stringContaining('Free')]);

    const key = await createKey(admin.jwtToken, ['leads:write']);
    const byKey = await call(key.secret, CREATE, { name: 'child', scopes: ['leads:read'] });
    expect(codeOf(byKey)).toBe('FORBIDDEN');
    const listByKey = await call(key.secret, `{ apiKeys { totalCount } }`);
    expect(listByKey.data?.apiKeys.totalCount).toBe(0);
    const revokeByKey = await call(key.secret, `mutation($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { result { revokedAt } } }`, { id: key.apiKeyId });
    expect(codeOf(revokeByKey)).toBe('FORBIDDEN');
    expect(await t.owner.query(sql`select count(*)::int as n from app_public.api_keys where tenant_id = ${admin.tenantId}`)).toEqual([{ n: 1 }]);
  });
});

describe('using keys', () => {
  test('a query and a mutation within its scopes work; writes outside them are refused by the database', async () => {
    const admin = await owner('use');
    await t.ok(`mutation { createCampaign(input: { campaign: { name: "Q3" } }) { campaign { rowId } } }`, {}, admin.jwtToken);
    const writer = await createKey(admin.jwtToken, ['leads:write', 'templates:read']);

    const created = await call(writer.secret, `mutation { createLead(input: { lead: { email: "ada@keys.example", firstName: "Ada" } }) { lead { rowId email createdBy } } }`);
    expect(created.errors).toBeUndefined();
    expect(created.data.createLead.lead).toEqual({ rowId: expect.any(String), email: 'ada@keys.example', createdBy: null });
    const read = await call(writer.secret, `{ leads { totalCount nodes { email } } templates { totalCount } }`);
    expect(read.data).toEqual({ leads: { totalCount: 1, nodes: [{ email: 'ada@keys.example' }] }, templates: { totalCount: 0 } });

    // Outside its scopes: tables of other areas show nothing, and writes to them fail.
    const campaigns = await call(writer.secret, `{ campaigns { totalCount } tenantUsers { totalCount } auditLogs { totalCount } }`);
    expect(campaigns.data).toEqual({ campaigns: { totalCount: 0 }, tenantUsers: { totalCount: 0 }, auditLogs: { totalCount: 0 } });
    const template = await call(writer.secret, `mutation { createTemplate(input: { template: { name: "T", subject: "S", content: "C" } }) { template { rowId } } }`);
    expect(codeOf(template)).toBe('FORBIDDEN');
    const campaign = await call(writer.secret, `mutation { createCampaign(input: { campaign: { name: "Nope" } }) { campaign { rowId } } }`);
    expect(codeOf(campaign)).toBe('FORBIDDEN');

    // SECURITY DEFINER mutations check the scope too; members and billing are never a key's.
    const [c] = await t.owner.query(sql`select id from app_public.campaigns where tenant_id = ${admin.tenantId}`);
    const start = await call(writer.secret, `mutation($c: UUID!) { startCampaign(input: { campaignId: $c }) { clientMutationId } }`, { c: c.id });
    expect([codeOf(start), start.errors?.[0]?.message]).toEqual(['FORBIDDEN', expect.stringContaining('campaigns:write')]);
    const invite = await call(writer.secret, `mutation { inviteMember(input: { email: "new@keys.example" }) { clientMutationId } }`);
    expect(codeOf(invite)).toBe('FORBIDDEN');
    const plan = await call(writer.secret, `mutation { changePlan(input: { planSlug: "enterprise" }) { clientMutationId } }`);
    expect(codeOf(plan)).toBe('FORBIDDEN');
    const rename = await call(writer.secret, `mutation($id: UUID!) { updateTenant(input: { rowId: $id, patch: { name: "Mine now" } }) { tenant { name } } }`, { id: admin.tenantId });
    expect(rename.errors).toBeDefined();
    expect(await t.owner.query(sql`select name from app_public.tenants where id = ${admin.tenantId}`)).toEqual([{ name: 'Org use' }]);
    expect(await t.owner.query(sql`select count(*)::int as n from app_public.campaigns where tenant_id = ${admin.tenantId}`)).toEqual([{ n: 1 }]);
    expect(await t.owner.query(sql`select count(*)::int as n from app_public.invitations where tenant_id = ${admin.tenantId}`)).toEqual([{ n: 0 }]);

    // A read-only key reads but cannot write its area.
    const reader = await createKey(admin.jwtToken, ['leads:read']);
    expect((await call(reader.secret, `{ leads { totalCount } }`)).data).toEqual({ leads: { totalCount: 1 } });
    const write = await call(reader.secret, `mutation { createLead(input: { lead: { email: "bob@keys.example" } }) { lead { rowId } } }`);
    expect(codeOf(write)).toBe('FORBIDDEN');
  });

  test('the same request context in SQL: RLS holds the key to its scopes', async () => {
    const admin = await owner('sql');
    const key = await createKey(admin.jwtToken, ['leads:read', 'campaigns:write']);
    await t.ok(`mutation { createLead(input: { lead: { email: "sql@keys.example" } }) { lead { rowId } } }`, {}, admin.jwtToken);
    await t.ok(`mutation { createTemplate(input: { template: { name: "T", subject: "S", content: "C" } }) { template { rowId } } }`, {}, admin.jwtToken);
    // Exactly the settings and entry the server uses for this key (src/server/context.ts).
    const settings = pgSettingsForClaims({ role: 'api_key', api_key_id: key.apiKeyId, tenant_id: admin.tenantId, scopes: key.scopes }, 5_000);
    const asKey = <T>(fn: (q: (text: string, values?: unknown[]) => Promise<any[]>) => Promise<T>) =>
      withUserSession(t.api.pool, settings, (client) => fn(async (text, values) => (await client.query(text, values)).rows));

    const seen = await asKey(async (q) => ({
      roles: (await q(`select current_user as role, app_public.current_tenant_id() as tenant, app_public.current_user_id() as user_id`))[0],
      leads: (await q(`select count(*)::int as n from app_public.leads`))[0].n,
      templates: (await q(`select count(*)::int as n from app_public.templates`))[0].n,
      campaignReadViaWrite: (await q(`select count(*)::int as n from app_public.campaigns`))[0].n,
    }));
    expect(seen).toEqual({ roles: { role: 'penguinmails_member', tenant: admin.tenantId, user_id: null }, leads: 1, templates: 0, campaignReadViaWrite: 0 });
    await expect(asKey((q) => q(`insert into app_public.leads (email) values ('x@keys.example')`))).rejects.toThrow(/row-level security/);
    await expect(asKey((q) => q(`update app_public.leads set first_name = 'X' returning id`))).resolves.toEqual([]);
    await expect(asKey((q) => q(`insert into app_public.campaigns (name) values ('By key') returning name`))).resolves.toEqual([{ name: 'By key' }]);
    await expect(asKey((q) => q(`select app_public.verify_domain(gen_random_uuid())`))).rejects.toThrow(/domains:write/);

    // A revoked key no longer enters, whatever the caller's settings say.
    await t.ok(`mutation($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { result { revokedAt } } }`, { id: key.apiKeyId }, admin.jwtToken);
    await expect(asKey((q) => q(`select 1`))).rejects.toThrow(/revoked or has expired/);
  });

  test("a key of tenant A never sees or touches tenant B's rows", async () => {
    const a = await owner('tenant-a');
    const b = await owner('tenant-b');
    const bLead = (await t.ok(`mutation { createLead(input: { lead: { email: "b@keys.example" } }) { lead { rowId } } }`, {}, b.jwtToken)).createLead.lead.rowId;
    const keyA = await createKey(a.jwtToken, ['leads:write']);
    const read = await call(keyA.secret, `query($id: UUID!) { leads { totalCount } lead(rowId: $id) { email } }`, { id: bLead });
    expect(read.data).toEqual({ leads: { totalCount: 0 }, lead: null });
    const update = await call(keyA.secret, `mutation($id: UUID!) { updateLead(input: { rowId: $id, patch: { firstName: "Hacked" } }) { lead { rowId } } }`, { id: bLead });
    expect(codeOf(update)).toBe('NOT_FOUND');
    expect(await t.owner.query(sql`select first_name from app_public.leads where id = ${bLead}`)).toEqual([{ first_name: null }]);
    // Nor can tenant A's admin reach tenant B's keys.
    const keyB = await createKey(b.jwtToken, ['leads:read']);
    const revoke = await t.gql(`mutation($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { result { revokedAt } } }`, { id: keyB.apiKeyId }, a.jwtToken);
    expect(codeOf(revoke)).toBe('NOT_FOUND');
    expect((await call(keyB.secret, `{ leads { totalCount } }`)).data).toEqual({ leads: { totalCount: 1 } });
  });
});

describe('refusing keys', () => {
  test('revocation and rotation take effect on the next request', async () => {
    const admin = await owner('revoke');
    const key = await createKey(admin.jwtToken, ['leads:read']);
    expect((await call(key.secret, `{ leads { totalCount } }`)).status).toBe(200);

    const rotated = (await t.ok(`mutation($id: UUID!) { rotateApiKey(input: { apiKeyId: $id }) { result { apiKeyId: keyId prefix: keyPrefix secret scopes: keyScopes } } }`, { id: key.apiKeyId }, admin.jwtToken)).rotateApiKey.result;
    expect(rotated).toEqual({ apiKeyId: key.apiKeyId, prefix: expect.stringMatching(/^pm_/), secret: expect.any(String), scopes: ['leads:read'] });
    expect(rotated.secret).not.toBe(key.secret);
    const old = await call(key.secret, `{ leads { totalCount } }`);
    expect([old.status, codeOf(old)]).toEqual([401, 'INVALID_TOKEN']);
    expect((await call(rotated.secret, `{ leads { totalCount } }`)).data).toEqual({ leads: { totalCount: 0 } });

    await t.ok(`mutation($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { result { revokedAt } } }`, { id: key.apiKeyId }, admin.jwtToken);
    const revoked = await call(rotated.secret, `{ leads { totalCount } }`);
    expect([revoked.status, codeOf(revoked)]).toEqual([401, 'API_KEY_REVOKED']);
    expect(await auditActions(admin.tenantId, key.apiKeyId)).toEqual(['api_key.created', 'api_key.used_from_new_ip', 'api_key.rotated', 'api_key.revoked']);
  });

  test('an expired key is refused', async () => {
    const admin = await owner('expiry');
    const soon = new Date(Date.now() + 1_500).toISOString();
    const key = (await t.ok(CREATE, { name: 'short-lived', scopes: ['leads:read'], expiresAt: soon }, admin.jwtToken)).createApiKey.result as Issued;
    expect((await call(key.secret, `{ leads { totalCount } }`)).status).toBe(200);
    const expired = await eventually(async () => {
      const r = await call(key.secret, `{ leads { totalCount } }`);
      return r.status === 401 && r;
    }, 10_000, 200);
    expect(codeOf(expired)).toBe('API_KEY_EXPIRED');
  });

  test('a plan without API access refuses the keys issued under a plan with it', async () => {
    const admin = await owner('downgrade');
    const key = await createKey(admin.jwtToken, ['leads:read']);
    expect((await call(key.secret, `{ leads { totalCount } }`)).status).toBe(200);
    await setPlan(admin.tenantId, 'free');
    const refused = await call(key.secret, `{ leads { totalCount } }`);
    expect([refused.status, codeOf(refused)]).toEqual([403, 'API_ACCESS_NOT_IN_PLAN']);
  });

  test("a key over its plan's per-minute budget gets 429 with Retry-After", async () => {
    const admin = await owner('rate');
    await t.owner.query(sql`
      insert into app_public.plans (slug, name, api_access, api_rate_limit) values ('api-test-3', 'API test', true, 3)
      on conflict (slug) do nothing`);
    await setPlan(admin.tenantId, 'api-test-3');
    const key = await createKey(admin.jwtToken, ['leads:read']);
    const other = await createKey(admin.jwtToken, ['leads:read']);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await call(key.secret, `{ leads { totalCount } }`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(codeOf(last!)).toBe('RATE_LIMITED');
    expect(Number(last!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(last!.retryAfter)).toBeLessThanOrEqual(60);
    // Per key: another key of the organisation still has its budget.
    expect((await call(other.secret, `{ leads { totalCount } }`)).status).toBe(200);
  });
});

describe('bookkeeping and the import endpoint', () => {
  test('last use is recorded at most once a minute, and a new client address is audited', async () => {
    const admin = await owner('last-used');
    const key = await createKey(admin.jwtToken, ['leads:read']);
    await call(key.secret, `{ leads { totalCount } }`, {}, '198.51.100.1');
    const [first] = await t.owner.query(sql`select last_used_at, last_used_ip, updated from app_public.api_keys where id = ${key.apiKeyId}`);
    expect(first.last_used_ip).toBe('198.51.100.1');
    await call(key.secret, `{ leads { totalCount } }`, {}, '198.51.100.1');
    const [second] = await t.owner.query(sql`select last_used_at, updated from app_public.api_keys where id = ${key.apiKeyId}`);
    expect(second).toEqual({ last_used_at: first.last_used_at, updated: first.updated }); // no write
    await call(key.secret, `{ leads { totalCount } }`, {}, '198.51.100.2');
    const [third] = await t.owner.query(sql`select last_used_ip from app_public.api_keys where id = ${key.apiKeyId}`);
    expect(third.last_used_ip).toBe('198.51.100.2');
    const audit = await t.owner.query(sql`
      select action, changes ->> 'ip' as ip from app_public.audit_log
      where tenant_id = ${admin.tenantId} and record_id = ${key.apiKeyId} and action = 'api_key.used_from_new_ip' order by id`);
    expect(audit).toEqual([
      { action: 'api_key.used_from_new_ip', ip: '198.51.100.1' },
      { action: 'api_key.used_from_new_ip', ip: '198.51.100.2' },
    ]);
  });

  test('a key with leads:write imports a CSV; one without it is refused before the upload', async () => {
    const admin = await owner('import');
    const writer = await createKey(admin.jwtToken, ['leads:write']);
    const reader = await createKey(admin.jwtToken, ['leads:read']);
    const csv = 'email,first_name\nimported@keys.example,Imp\n';
    const refused = await h.upload(reader.secret, csv);
    expect([refused.status, refused.body.errors?.[0]?.extensions.code]).toEqual([403, 'FORBIDDEN']);

    const accepted = await h.upload(writer.secret, csv);
    expect(accepted.status).toBe(202);
    const rowId = accepted.body.leadImport!.rowId;
    expect(await t.owner.query(sql`select api_key_id, created_by from app_public.lead_imports where id = ${rowId}`)).toEqual([
      { api_key_id: writer.apiKeyId, created_by: null },
    ]);
    const done = await h.finished(admin.jwtToken, rowId);
    expect([done.status, done.importedRows, done.failureReason]).toEqual(['COMPLETED', 1, null]);
    expect((await call(writer.secret, `{ leads { nodes { email firstName } } }`)).data.leads.nodes).toEqual([{ email: 'imported@keys.example', firstName: 'Imp' }]);
  });
});
