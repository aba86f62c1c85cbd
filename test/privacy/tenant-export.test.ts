/**
 * A whole organisation's export (docs/privacy.md, functions/287-tenant-export.sql):
 * an owner requests it through the API, the real worker writes the archive,
 * it is downloaded over HTTP and unpacked with tar. Every tenant table of the
 * catalogue is in it, each file holding exactly the tenant's rows (compared
 * row by row with the database, messages and events spanning several monthly
 * partitions), the manifest's counts and checksums hold, no other tenant's
 * row and no secret of app_private is in it. Members, API keys and other
 * tenants are refused; one export at a time; an expired export answers 410
 * and the sweep deletes its file; the owner of a closed organisation can
 * still export it during its grace period.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { populatePlatform, populateTenant } from '../../src/db/demo-data.ts';
import { sql } from '../../src/db/pg.ts';
import { exportFilePath } from '../../src/privacy/tenant-archive.ts';
import { startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { createOwnedTenant, TEST_PASSWORD } from '../helpers/tenants.ts';
import { uniqueDomain, uniqueEmail } from '../helpers/unique.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';

const run = promisify(execFile);

let t: TestApi;
let worker: TestWorker | undefined;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-tenant-export-'));
  t = await startTestApi({ PM_DATA_DIR: dataDir, STATEMENT_TIMEOUT_MS: '10000' }, 'platform');
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

const LOGIN = `mutation($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { jwtToken tenantId } }`;
const REQUEST = `mutation($tenantId: UUID) { requestTenantExport(input: { tenantId: $tenantId }) { result { rowId status } } }`;
const EXPORTS = `{ tenantExports { nodes { rowId status tablesDone tablesTotal rowsWritten byteSize sha256 expiresAt error } } }`;

async function login(email: string): Promise<string> {
  return (await t.ok(LOGIN, { email, password: TEST_PASSWORD })).login.jwtToken;
}

async function member(tenantId: string, label: string, roles: string[]) {
  const email = uniqueEmail(label);
  const [user] = await t.owner.query(sql`select id from app_private.create_user(${email}, ${TEST_PASSWORD}, ${`Member ${label}`}, true)`);
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, email, roles) values (${tenantId}, ${user.id}, ${email}, ${roles})`);
  return { userId: user.id as string, token: await login(email) };
}

/** A tenant full of demo data (a row in every tenant table), plus messages and events in three earlier months. */
async function filledTenant(label: string, ipId: string) {
  const owner = await createOwnedTenant(t.owner, label);
  const data = await populateTenant(t.owner, { tenantId: owner.tenantId, ownerId: owner.userId, domain: uniqueDomain(label), ipId });
  for (const monthsAgo of [5, 3, 1]) {
    const [m] = await t.owner.query(sql`
      insert into app_public.messages (tenant_id, id, direction, status, lead_id, email_account_id, from_email, to_email, subject, body_text)
      select ${owner.tenantId}, app_public.uuid_v7(now() - make_interval(months => ${monthsAgo})), 'inbound', 'received', l.id, ea.id, l.email, ea.email,
             ${`Re: month -${monthsAgo}`}, ${`Line one\nLine "two"\twith a tab, a backslash \\ and ünïcödé ✓`}
      from app_public.leads l, app_public.email_accounts ea
      where l.tenant_id = ${owner.tenantId} and ea.tenant_id = ${owner.tenantId} and l.id = ${data.ids.lead} and ea.id = ${data.ids.inbox}
      returning id`);
    await t.owner.query(sql`
      insert into app_public.email_events (tenant_id, id, message_id, lead_id, event_type, ip_address, user_agent)
      values (${owner.tenantId}, app_public.uuid_v7(now() - make_interval(months => ${monthsAgo})), ${m.id}, ${data.ids.lead}, 'open', '203.0.113.9', 'Mail/1.0')`);
  }
  // Secrets the demo data has none of: an inbox's sealed SMTP/IMAP passwords and OAuth tokens, a DKIM private key.
  await t.owner.query(sql`
    insert into app_private.email_account_credentials (tenant_id, email_account_id, smtp_password_encrypted, imap_password_encrypted,
      oauth_refresh_token_encrypted, oauth_access_token_encrypted)
    values (${owner.tenantId}, ${data.ids.inbox}, gen_random_bytes(48), gen_random_bytes(48), gen_random_bytes(64), gen_random_bytes(64))
    on conflict (tenant_id, email_account_id) do update set smtp_password_encrypted = excluded.smtp_password_encrypted,
      imap_password_encrypted = excluded.imap_password_encrypted, oauth_refresh_token_encrypted = excluded.oauth_refresh_token_encrypted,
      oauth_access_token_encrypted = excluded.oauth_access_token_encrypted`);
  await t.owner.query(sql`
    insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key)
    values (${owner.tenantId}, ${data.ids.domain}, 'export', gen_random_bytes(256), 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAexport')`);
  return { ...owner, token: await login(owner.email), ids: data.ids };
}

/** The tables an export must hold: the tenant row and every app_public table with a tenant_id, from the catalogue. */
async function catalogueTables(): Promise<string[]> {
  const rows = await t.owner.query(sql`
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app_public' and c.relkind in ('r', 'p') and not c.relispartition
      and (c.relname = 'tenants' or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))
    order by 1`);
  return rows.map((r) => r.relname);
}

/** The tenant's rows of a table as the export writes them (to_jsonb of the row), sorted. */
async function databaseRows(table: string, tenantId: string): Promise<string[]> {
  const key = table === 'tenants' ? 'id' : 'tenant_id';
  const rows = await t.owner.query(sql`select to_jsonb(x)::text as line from ${sql.ident('app_public', table)} x where ${sql.ident('x', key)} = ${tenantId}`);
  return rows.map((r) => r.line as string).sort();
}

/** GET /exports/<id>, the whole body read (so no connection is left open). */
async function download(exportId: string, token?: string) {
  const response = await fetch(`${t.url}/exports/${exportId}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

async function waitCompleted(exportId: string) {
  return eventually(async () => {
    const [row] = await t.owner.query(sql`select status, error from app_public.tenant_exports where id = ${exportId}`);
    if (row.status === 'failed') throw new Error(`export failed: ${row.error}`);
    return row.status === 'completed' && row;
  }, 90_000, 200);
}

/** Downloads and unpacks an archive with tar; returns the folder, the bytes and the response. */
async function fetchArchive(exportId: string, token: string) {
  const response = await download(exportId, token);
  expect(response.status).toBe(200);
  const { bytes } = response;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pm-tenant-export-unpacked-'));
  const file = path.join(dir, 'export.tar.gz');
  await writeFile(file, bytes);
  await run('tar', ['-xzf', file, '-C', dir]);
  return { dir, bytes, response };
}

test('an owner exports the whole organisation: every tenant table, exactly its rows, checksums verified, no secret, no other tenant', async () => {
  const { ipId } = await populatePlatform(t.owner, 'tenant-export');
  const a = await filledTenant('export-a', ipId);
  const b = await filledTenant('export-b', ipId);
  const partitions = await t.owner.query(sql`select count(distinct tableoid)::int as n from app_public.messages where tenant_id = ${a.tenantId}`);
  expect(partitions[0].n).toBeGreaterThanOrEqual(4);
  const memberOfA = await member(a.tenantId, 'export-member', ['member']);
  const adminOfA = await member(a.tenantId, 'export-admin', ['admin']);
  // A real API key with every scope an admin can give (its hash is one of the secrets checked below).
  const key: string = (await t.ok(`mutation($scopes: [String]!) { createApiKey(input: { name: "export test", scopes: $scopes }) { result { secret } } }`, {
    scopes: ['leads:write', 'lists:write', 'templates:write', 'campaigns:write', 'domains:write', 'webhooks:write', 'analytics:read', 'billing:read'],
  }, a.token)).createApiKey.result.secret;

  // Refused: a member (DNIED, nothing queued), an API key.
  const refused = await t.gql(REQUEST, {}, memberOfA.token);
  expect(refused.errors?.[0]).toMatchObject({ message: 'Only owners and admins of the organisation can export its data.', extensions: { code: 'FORBIDDEN' } });
  const byKey = await t.gql(REQUEST, {}, key);
  expect(byKey.errors?.[0]).toMatchObject({ message: 'An API key cannot export the organisation; sign in as an owner or admin.', extensions: { code: 'FORBIDDEN' } });
  expect(await t.owner.query(sql`select id from app_public.tenant_exports where tenant_id = ${a.tenantId} and status <> 'expired'`)).toEqual([]);

  // Requested by the owner; a second request while it is queued is a conflict.
  const requested = (await t.ok(REQUEST, {}, a.token)).requestTenantExport.result;
  expect(requested.status).toBe('QUEUED');
  const twice = await t.gql(REQUEST, {}, adminOfA.token);
  expect(twice.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/^An export of this organisation is already queued/) });
  // Not downloadable yet (409), and never by another tenant (404) or a member (404).
  expect((await download(requested.rowId, a.token)).status).toBe(409);

  // Only the export runs: the demo data's own jobs (domain checks, DKIM keys) would change rows under the comparison below.
  // (On Citus, jobs queued on a worker node wait in app_private.job_outbox until the worker moves them.)
  await t.owner.query(sql`
    delete from graphile_worker._private_jobs j using graphile_worker._private_tasks k
    where k.id = j.task_id and k.identifier <> 'tenant_export'`);
  await t.owner.query(sql`delete from app_private.job_outbox where identifier <> 'tenant_export'`);
  worker = await startTestWorker(t.urls.owner, testEnv({ PM_DATA_DIR: dataDir, LOG_LEVEL: 'error' }));
  await waitCompleted(requested.rowId);
  const [listed] = (await t.ok(EXPORTS, {}, a.token)).tenantExports.nodes.filter((e: { rowId: string }) => e.rowId === requested.rowId);
  const tables = await catalogueTables();
  expect(listed).toMatchObject({ status: 'COMPLETED', tablesDone: tables.length, tablesTotal: tables.length, error: null });
  const daysKept = (new Date(listed.expiresAt).getTime() - Date.now()) / 86_400_000;
  expect(daysKept).toBeGreaterThan(6.99);
  expect(daysKept).toBeLessThanOrEqual(7);
  // Other organisations do not see it; members do not see organisation exports (only CSV exports: test/privacy/csv-exports.test.ts).
  expect((await t.ok(EXPORTS, {}, b.token)).tenantExports.nodes.map((e: { rowId: string }) => e.rowId)).not.toContain(requested.rowId);
  const organisationExports = await t.owner.query(sql`select id from app_public.tenant_exports where tenant_id = ${a.tenantId} and kind = 'tenant'`);
  expect(organisationExports.length).toBeGreaterThan(0);
  const memberSees = new Set((await t.ok(EXPORTS, {}, memberOfA.token)).tenantExports.nodes.map((e: { rowId: string }) => e.rowId));
  expect(organisationExports.filter((r) => memberSees.has(r.id))).toEqual([]);
  expect((await download(requested.rowId, b.token)).status).toBe(404);
  expect((await download(requested.rowId, memberOfA.token)).status).toBe(404);
  expect((await download(requested.rowId)).status).toBe(401);
  expect((await download(requested.rowId, key)).status).toBe(403);
  expect((await download('00000000-0000-4000-8000-000000000000', a.token)).status).toBe(404);

  // Downloaded by an admin: the bytes are those the row describes.
  const { dir, bytes, response } = await fetchArchive(requested.rowId, adminOfA.token);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  expect({ size: bytes.length, sha256 }).toEqual({ size: Number(listed.byteSize), sha256: listed.sha256 });
  expect(response.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(sha256, 'hex').toString('base64')}:`);
  expect(response.headers.get('content-type')).toBe('application/gzip');

  // The manifest: every tenant table of the catalogue, each file's checksum and count verified.
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  expect(manifest).toMatchObject({ format: 'penguinmails.tenant-export.v1', tenantId: a.tenantId, exportId: requested.rowId });
  expect(manifest.tables.map((m: { table: string }) => m.table).sort()).toEqual(tables);
  expect(manifest.tables[0].table).toBe('tenants');
  // In an order a re-import can follow: a table after those it references, but for keys it can fill in later (nullable).
  const position = new Map<string, number>(manifest.tables.map((m: { table: string }, i: number) => [m.table, i]));
  const keys = await t.owner.query(sql`
    select f.conrelid::regclass::text as "from", f.confrelid::regclass::text as "to",
      bool_and(not a.attnotnull or a.attname = 'tenant_id') and bool_or(a.attname <> 'tenant_id') as nullable
    from pg_constraint f join pg_attribute a on a.attrelid = f.conrelid and a.attnum = any (f.conkey)
    where f.contype = 'f' and f.conparentid = 0 and f.conrelid <> f.confrelid
      and f.connamespace = 'app_public'::regnamespace
    group by f.oid, f.conrelid, f.confrelid`);
  const backwards = keys
    .map((k) => ({ ...k, from: String(k.from).replace(/^app_public\./, ''), to: String(k.to).replace(/^app_public\./, '') }))
    .filter((k) => position.has(k.from) && position.has(k.to) && position.get(k.from)! < position.get(k.to)! && !k.nullable);
  expect(keys.filter((k) => !k.nullable).length).toBeGreaterThan(20);
  expect(backwards).toEqual([]);
  expect((await readdir(path.join(dir, 'tables'))).sort()).toEqual(tables.map((name) => `${name}.ndjson`).sort());
  let total = 0;
  const mismatched: string[] = [];
  for (const entry of manifest.tables as Array<{ table: string; file: string; rows: number; bytes: number; sha256: string }>) {
    const content = await readFile(path.join(dir, entry.file));
    expect({ table: entry.table, bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') })
      .toEqual({ table: entry.table, bytes: entry.bytes, sha256: entry.sha256 });
    const lines = content.toString('utf8').split('\n').filter(Boolean);
    expect({ table: entry.table, rows: lines.length }).toEqual({ table: entry.table, rows: entry.rows });
    total += lines.length;
    for (const line of lines) {
      const row = JSON.parse(line);
      expect(row[entry.table === 'tenants' ? 'id' : 'tenant_id']).toBe(a.tenantId);
    }
    const fromDatabase = await databaseRows(entry.table, a.tenantId);
    if (entry.table === 'audit_log') {
      // The audit log grew since (the download): every exported entry is still there, as it was.
      expect(lines.filter((l) => !fromDatabase.includes(l))).toEqual([]);
    } else if (entry.table === 'tenant_exports') {
      // Written while this export was running.
      expect(lines.map((l) => JSON.parse(l)).filter((e) => e.id === requested.rowId)).toEqual([expect.objectContaining({ status: 'running' })]);
    } else if (JSON.stringify(lines.sort()) !== JSON.stringify(fromDatabase)) {
      mismatched.push(`${entry.table}: ${lines.length} exported, ${fromDatabase.length} in the database`);
    }
    // Every table has rows (demo data fills each one), so each comparison above means something.
    expect({ table: entry.table, empty: lines.length === 0 }).toEqual({ table: entry.table, empty: false });
  }
  expect(mismatched).toEqual([]);
  expect(Number(listed.rowsWritten)).toBe(total);
  // Messages and events of every month are there.
  const messages = (await readFile(path.join(dir, 'tables', 'messages.ndjson'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  expect(messages.filter((m) => m.subject?.startsWith('Re: month -')).map((m) => m.body_text))
    .toEqual(Array(3).fill('Line one\nLine "two"\twith a tab, a backslash \\ and ünïcödé ✓'));

  // Nothing of the other tenant, and no secret of app_private (password hashes, sealed credentials, key and webhook secrets).
  const archiveText = gunzipSync(bytes).toString('latin1');
  expect(archiveText.includes(b.tenantId)).toBe(false);
  const secrets = await t.owner.query(sql`select password_hash as value from app_private.user_secrets where user_id = any (${[a.userId, memberOfA.userId, adminOfA.userId]})`);
  const secretColumns = await t.owner.query(sql`
    select c.relname, a.attname, format_type(a.atttypid, null) as type
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where n.nspname = 'app_private' and c.relkind in ('r', 'p') and not c.relispartition
      and exists (select 1 from pg_attribute t where t.attrelid = c.oid and t.attname = 'tenant_id')
      and a.atttypid in ('bytea'::regtype, 'text'::regtype) and a.attname ~ '(secret|hash|encrypted|sealed|token|password|key|salt)'`);
  for (const column of secretColumns) {
    const values = await t.owner.query(sql`
      select ${sql.ident('x', column.attname)} as value from ${sql.ident('app_private', column.relname)} x
      where x.tenant_id = ${a.tenantId} and ${sql.ident('x', column.attname)} is not null`);
    secrets.push(...values.map((v) => ({ value: v.value, column: `${column.relname}.${column.attname}` })));
  }
  // Password hashes, the API key's hash, the webhook secret, the inbox's four sealed values, the DKIM private key.
  expect(new Set(secrets.map((s) => s.column ?? 'password_hash'))).toEqual(new Set([
    'password_hash', 'api_key_secrets.secret_hash', 'webhook_secrets.secret_encrypted',
    'email_account_credentials.smtp_password_encrypted', 'email_account_credentials.imap_password_encrypted',
    'email_account_credentials.oauth_refresh_token_encrypted', 'email_account_credentials.oauth_access_token_encrypted',
    'domain_dkim_keys.private_key_encrypted', 'domain_dkim_keys.public_key',
  ]));
  const leaked = secrets.filter(({ value }) => {
    const forms = Buffer.isBuffer(value) ? [value.toString('hex'), value.toString('base64'), value.toString('latin1')] : [String(value)];
    return forms.some((form) => form.length >= 8 && archiveText.includes(form));
  });
  expect(leaked).toEqual([]);

  // Audited: the request and the download, with their actors.
  const audit = await t.owner.query(sql`
    select action, actor_user_id, record_id from app_public.audit_log
    where tenant_id = ${a.tenantId} and table_name = 'tenant_exports' and record_id = ${requested.rowId} order by id`);
  expect(audit).toEqual([
    { action: 'tenant_export.requested', actor_user_id: a.userId, record_id: requested.rowId },
    { action: 'tenant_export.downloaded', actor_user_id: adminOfA.userId, record_id: requested.rowId },
  ]);

  // Expired: 410, and the hourly sweep deletes the file.
  const file = exportFilePath(dataDir, a.tenantId, requested.rowId);
  expect(existsSync(file)).toBe(true);
  await t.owner.query(sql`update app_public.tenant_exports set expires_at = now() - interval '1 second' where id = ${requested.rowId}`);
  const gone = await download(requested.rowId, a.token);
  expect(gone.status).toBe(410);
  expect(gone.json().errors[0]).toMatchObject({ extensions: { code: 'GONE' }, message: expect.stringMatching(/^This export expired/) });
  await t.owner.query(sql`select graphile_worker.add_job('tenant_export_sweep', '{}'::json)`);
  await eventually(async () => !existsSync(file), 20_000);
  expect(await t.owner.query(sql`select status from app_public.tenant_exports where id = ${requested.rowId}`)).toEqual([{ status: 'expired' }]);
  expect((await download(requested.rowId, a.token)).status).toBe(410);
  await rm(dir, { recursive: true, force: true });
}, 240_000);

test('the owner of a closed organisation can still export it during the grace period; its members cannot', async () => {
  const { ipId } = await populatePlatform(t.owner, 'tenant-export-closed');
  const c = await filledTenant('export-closed', ipId);
  const adminOfC = await member(c.tenantId, 'export-closed-admin', ['admin']);
  const [{ name }] = await t.owner.query(sql`select name from app_public.tenants where id = ${c.tenantId}`);
  await t.ok(`mutation($name: String) { closeTenant(input: { confirmName: $name }) { result { tenantId } } }`, { name }, c.token);

  // The owner signs in without an organisation and names the closed one; its admin can no longer act in it.
  const ownerToken = await login(c.email);
  const byAdmin = await t.gql(REQUEST, { tenantId: c.tenantId }, adminOfC.token);
  expect(byAdmin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  // Two requests at once: one export, one conflict. (No worker meanwhile: one that finished the first export
  // before the second request arrived would make both succeed, rightly.)
  await worker?.stop();
  worker = undefined;
  const both = await Promise.all([1, 2].map(() => t.gql(REQUEST, { tenantId: c.tenantId }, ownerToken)));
  expect(both.map((r) => r.errors?.[0]?.extensions?.code ?? 'ok').sort()).toEqual(['CONFLICT', 'ok']);
  const requested = both.find((r) => !r.errors)!.data.requestTenantExport.result;
  expect(await t.owner.query(sql`select count(*)::int as n from app_public.tenant_exports where tenant_id = ${c.tenantId} and status <> 'expired'`)).toEqual([{ n: 1 }]);
  worker ??= await startTestWorker(t.urls.owner, testEnv({ PM_DATA_DIR: dataDir, LOG_LEVEL: 'error' }));
  await waitCompleted(requested.rowId);
  expect((await download(requested.rowId, adminOfC.token)).status).toBe(404);
  const { dir } = await fetchArchive(requested.rowId, ownerToken);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  const leads = manifest.tables.find((m: { table: string }) => m.table === 'leads');
  expect(leads.rows).toBe((await databaseRows('leads', c.tenantId)).length);
  await rm(dir, { recursive: true, force: true });

  // Once purged, the export row goes with the tenant's data and the sweep deletes the file.
  await t.owner.query(sql`update app_public.tenants set purge_after = now() - interval '1 second' where id = ${c.tenantId}`);
  await t.owner.query(sql`select app_private.purge_tenant(${c.tenantId})`);
  await t.owner.query(sql`select graphile_worker.add_job('tenant_export_sweep', '{}'::json)`);
  await eventually(async () => !existsSync(exportFilePath(dataDir, c.tenantId, requested.rowId)), 20_000);
}, 240_000);
