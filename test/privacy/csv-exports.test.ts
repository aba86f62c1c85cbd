/**
 * CSV exports of leads, suppressions and a campaign's results
 * (docs/privacy.md "CSV exports", functions/288-data-exports.sql): a member
 * requests them through the API, the real worker streams them with progress
 * (rowsTotal known at start, rowsWritten at the end), they are downloaded
 * over HTTP as text/csv and parsed as RFC 4180; every field matches the
 * database, quoting survives commas, quotes, line breaks and non-ASCII text.
 * Viewers, API keys and other organisations are refused; one export per kind
 * at a time, while an organisation export may run beside it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from '../../src/db/pg.ts';
import { startTestApi, testEnv, type TestApi } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { createOwnedTenant, TEST_PASSWORD } from '../helpers/tenants.ts';
import { uniqueDomain, uniqueEmail } from '../helpers/unique.ts';
import { startTestWorker, type TestWorker } from '../helpers/worker.ts';

let t: TestApi;
let worker: TestWorker | undefined;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-csv-export-'));
  t = await startTestApi({ PM_DATA_DIR: dataDir, STATEMENT_TIMEOUT_MS: '10000' }, 'platform');
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

const LOGIN = `mutation($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { jwtToken } }`;
const REQUEST = `mutation($kind: TenantExportKind!, $campaignId: UUID) { requestCsvExport(input: { kind: $kind, campaignId: $campaignId }) { result { rowId status kind format } } }`;
const EXPORTS = `{ tenantExports { nodes { rowId kind status rowsTotal rowsWritten byteSize sha256 campaignId } } }`;

async function member(tenantId: string, label: string, roles: string[]) {
  const email = uniqueEmail(label);
  const [user] = await t.owner.query(sql`select id from app_private.create_user(${email}, ${TEST_PASSWORD}, ${`Member ${label}`}, true)`);
  await t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, email, roles) values (${tenantId}, ${user.id}, ${email}, ${roles})`);
  return { userId: user.id as string, token: (await t.ok(LOGIN, { email, password: TEST_PASSWORD })).login.jwtToken as string };
}

async function download(exportId: string, token?: string) {
  const response = await fetch(`${t.url}/exports/${exportId}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, text: bytes.toString('utf8') };
}

/** RFC 4180: records of fields, a quoted field may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') { quoted = true; wasQuoted = true; } else if (c === ',') { record.push(field); field = ''; wasQuoted = false; } else if (c === '\n') {
      record.push(field); records.push(record); record = []; field = ''; wasQuoted = false;
    } else if (c !== '\r') field += c;
  }
  if (field || wasQuoted || record.length) throw new Error('the CSV does not end with a line break');
  return records;
}

const asObjects = (records: string[][]) => records.slice(1).map((r) => Object.fromEntries(records[0]!.map((h, i) => [h, r[i]])));

async function waitCompleted(token: string, exportId: string) {
  return eventually(async () => {
    const row = (await t.ok(EXPORTS, {}, token)).tenantExports.nodes.find((n: { rowId: string }) => n.rowId === exportId);
    if (row?.status === 'FAILED') throw new Error('export failed');
    return row?.status === 'COMPLETED' && row;
  }, 60_000, 200);
}

test('a member exports leads, suppressions and campaign results as CSV; quoting, progress, checksums and refusals hold', async () => {
  const a = await createOwnedTenant(t.owner, 'csv-a');
  const b = await createOwnedTenant(t.owner, 'csv-b');
  const memberOfA = await member(a.tenantId, 'csv-member', ['member']);
  const viewerOfA = await member(a.tenantId, 'csv-viewer', ['viewer']);
  const ownerOfA = (await t.ok(LOGIN, { email: a.email, password: TEST_PASSWORD })).login.jwtToken as string;
  const ownerOfB = (await t.ok(LOGIN, { email: b.email, password: TEST_PASSWORD })).login.jwtToken as string;

  const tricky = 'Line one\nLine "two", with a comma and ünïcödé ✓';
  const [lead1] = await t.owner.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, last_name, company, status, custom_fields)
    values (${a.tenantId}, ${uniqueEmail('csv-lead1')}, 'Zoë', 'O''Brien', ${tricky}, 'active', '{"tier": "gold", "seats": 12}') returning id, email`);
  const [lead2] = await t.owner.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, company, status) values (${a.tenantId}, ${uniqueEmail('csv-lead2')}, 'Ann', 'Plain', 'bounced') returning id, email`);
  await t.owner.query(sql`insert into app_public.leads (tenant_id, email) values (${b.tenantId}, ${uniqueEmail('csv-other')})`);
  const suppressedDomain = uniqueDomain('csv-suppressed');
  await t.owner.query(sql`insert into app_public.suppressions (tenant_id, email, reason) values (${a.tenantId}, ${lead2.email}, 'bounced')`);
  await t.owner.query(sql`insert into app_public.suppressions (tenant_id, domain, note) values (${a.tenantId}, ${suppressedDomain}, ${'asked "never", twice'})`);
  const [campaign] = await t.owner.query(sql`insert into app_public.campaigns (tenant_id, name) values (${a.tenantId}, 'CSV results') returning id`);
  const [e1] = await t.owner.query(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, steps_completed)
    values (${a.tenantId}, ${campaign.id}, ${lead1.id}, 'active', 2) returning id`);
  const [e2] = await t.owner.query(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, steps_completed, stop_reason, completed_at)
    values (${a.tenantId}, ${campaign.id}, ${lead2.id}, 'bounced', 1, 'bounced', now()) returning id`);
  const message = async (enrollmentId: string, leadId: string, to: string, extra: { opened?: boolean; bounced?: boolean }) => (await t.owner.query(sql`
    insert into app_public.messages (tenant_id, direction, status, campaign_id, enrollment_id, lead_id, to_email, subject, sent_at, opened_at, bounced_at)
    values (${a.tenantId}, 'outbound', ${extra.bounced ? 'bounced' : 'sent'}, ${campaign.id}, ${enrollmentId}, ${leadId}, ${to}, 'Hi', now(),
            ${extra.opened ? new Date() : null}, ${extra.bounced ? new Date() : null}) returning id`))[0].id as string;
  const m1 = await message(e1.id, lead1.id, lead1.email, { opened: true });
  await message(e1.id, lead1.id, lead1.email, {});
  const m3 = await message(e2.id, lead2.id, lead2.email, { bounced: true });
  for (const [messageId, leadId, type] of [[m1, lead1.id, 'open'], [m1, lead1.id, 'open'], [m1, lead1.id, 'click'], [m3, lead2.id, 'bounce']] as const) {
    await t.owner.query(sql`insert into app_public.email_events (tenant_id, message_id, campaign_id, lead_id, event_type) values (${a.tenantId}, ${messageId}, ${campaign.id}, ${leadId}, ${type})`);
  }
  const [{ last }] = await t.owner.query(sql`select max(created) as last from app_public.email_events where tenant_id = ${a.tenantId} and message_id = ${m1}`);

  // Refused: a viewer, an API key, a bad kind, campaign results without a campaign or with another organisation's.
  const key: string = (await t.ok(`mutation { createApiKey(input: { name: "csv", scopes: ["leads:read"] }) { result { secret } } }`, {}, ownerOfA)).createApiKey.result.secret;
  expect((await t.gql(REQUEST, { kind: 'LEADS' }, viewerOfA.token)).errors?.[0]).toMatchObject({
    message: 'Only members, admins and owners of the organisation can export its data as CSV.', extensions: { code: 'FORBIDDEN' } });
  expect((await t.gql(REQUEST, { kind: 'LEADS' }, key)).errors?.[0]).toMatchObject({
    message: 'An API key cannot export data as CSV; sign in as a member of the organisation.', extensions: { code: 'FORBIDDEN' } });
  expect((await t.gql(REQUEST, { kind: 'DEALS' }, memberOfA.token)).errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_INPUT' } });
  expect((await t.gql(REQUEST, { kind: 'TENANT' }, memberOfA.token)).errors?.[0]).toMatchObject({
    message: 'A CSV export is of leads, suppressions or campaign_results, not "tenant" (the whole organisation is exported with requestTenantExport).',
    extensions: { code: 'INVALID_INPUT' } });
  expect((await t.gql(REQUEST, { kind: 'CAMPAIGN_RESULTS' }, memberOfA.token)).errors?.[0]).toMatchObject({
    message: 'A campaign results export needs the campaignId of the campaign.', extensions: { code: 'INVALID_INPUT' } });
  expect((await t.gql(REQUEST, { kind: 'CAMPAIGN_RESULTS', campaignId: campaign.id }, ownerOfB)).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  expect(await t.owner.query(sql`select id from app_public.tenant_exports where tenant_id = ${a.tenantId}`)).toEqual([]);

  // Requested (before any worker runs): one per kind at a time, beside an organisation export.
  const leads = (await t.ok(REQUEST, { kind: 'LEADS' }, memberOfA.token)).requestCsvExport.result;
  expect(leads).toMatchObject({ status: 'QUEUED', kind: 'LEADS', format: 'csv' });
  expect((await t.gql(REQUEST, { kind: 'LEADS' }, ownerOfA)).errors?.[0]).toMatchObject({
    extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/^A leads export of this organisation is already queued/) });
  // The partial unique index is what lets one of two simultaneous requests in: one active export per organisation and kind.
  await expect(t.owner.query(sql`insert into app_public.tenant_exports (tenant_id, kind, format) values (${a.tenantId}, 'leads', 'csv')`))
    .rejects.toMatchObject({ code: '23505', message: expect.stringContaining('tenant_exports_one_active_kind_idx') }); // on Citus the shard's index: name_<shard>
  const both = await Promise.all([1, 2].map(() => t.gql(REQUEST, { kind: 'SUPPRESSIONS' }, memberOfA.token)));
  expect(both.map((r) => r.errors?.[0]?.extensions?.code ?? 'ok').sort()).toEqual(['CONFLICT', 'ok']);
  const suppressions = both.find((r) => !r.errors)!.data.requestCsvExport.result;
  const results = (await t.ok(REQUEST, { kind: 'CAMPAIGN_RESULTS', campaignId: campaign.id }, memberOfA.token)).requestCsvExport.result;
  await t.ok(`mutation { requestTenantExport(input: {}) { result { rowId } } }`, {}, ownerOfA);
  // Not ready yet: 409 with its progress.
  const early = await download(leads.rowId, memberOfA.token);
  expect(early.status).toBe(409);
  expect(JSON.parse(early.text).errors[0].message).toBe('This export is still queued: 0 of ? rows written.');
  // The member sees the CSV exports, not the organisation export.
  expect((await t.ok(EXPORTS, {}, memberOfA.token)).tenantExports.nodes.map((n: { kind: string }) => n.kind).sort()).toEqual(['CAMPAIGN_RESULTS', 'LEADS', 'SUPPRESSIONS']);

  worker = await startTestWorker(t.urls.owner, testEnv({ PM_DATA_DIR: dataDir, LOG_LEVEL: 'error' }));

  // Leads: every lead of A, none of B; custom fields as one JSON object.
  const leadsRow = await waitCompleted(memberOfA.token, leads.rowId);
  expect(leadsRow).toMatchObject({ rowsTotal: 2, rowsWritten: 2 });
  const got = await download(leads.rowId, memberOfA.token);
  expect(got.status).toBe(200);
  expect(got.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
  expect(got.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="penguinmails-leads-\\d{4}-\\d{2}-\\d{2}-${leads.rowId}\\.csv"$`));
  expect(createHash('sha256').update(got.bytes).digest('hex')).toBe(leadsRow.sha256);
  expect(Number(leadsRow.byteSize)).toBe(got.bytes.length);
  const leadRecords = parseCsv(got.text);
  expect(leadRecords[0]).toEqual(['email', 'first_name', 'last_name', 'name', 'company', 'title', 'phone', 'website', 'timezone', 'status', 'source',
    'custom_fields', 'last_contacted_at', 'created', 'updated']);
  const exportedLeads = asObjects(leadRecords);
  expect(exportedLeads.map((l) => l.email)).toEqual([lead1.email, lead2.email]);
  expect(exportedLeads[0]).toMatchObject({ first_name: 'Zoë', last_name: "O'Brien", company: tricky, status: 'active', last_contacted_at: '' });
  expect(JSON.parse(exportedLeads[0]!.custom_fields!)).toEqual({ tier: 'gold', seats: 12 });
  const [created] = await t.owner.query(sql`select to_char(created at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as at from app_public.leads where id = ${lead1.id}`);
  expect(new Date(exportedLeads[0]!.created!).toISOString()).toBe(new Date(`${created.at}Z`).toISOString());

  // Suppressions: an address and a domain.
  await waitCompleted(memberOfA.token, suppressions.rowId);
  const supRecords = parseCsv((await download(suppressions.rowId, memberOfA.token)).text);
  expect(supRecords[0]).toEqual(['email', 'domain', 'reason', 'note', 'created']);
  expect(asObjects(supRecords).map(({ created: _c, ...s }) => s)).toEqual([
    { email: lead2.email, domain: '', reason: 'bounced', note: '' },
    { email: '', domain: suppressedDomain, reason: 'manual', note: 'asked "never", twice' },
  ]);

  // Campaign results: one row per enrolled lead, computed from messages, events and enrollments.
  const resultsRow = await waitCompleted(memberOfA.token, results.rowId);
  expect(resultsRow).toMatchObject({ rowsTotal: 2, rowsWritten: 2, campaignId: campaign.id });
  const resultsDownload = await download(results.rowId, memberOfA.token);
  expect(resultsDownload.headers.get('content-disposition')).toMatch(/filename="penguinmails-campaign-results-/);
  const rows = asObjects(parseCsv(resultsDownload.text));
  expect(rows.map(({ enrolled_at: _e, completed_at: _c, last_event_at: _l, ...r }) => r)).toEqual([
    { email: lead1.email, first_name: 'Zoë', last_name: "O'Brien", company: tricky, enrollment_status: 'active', stop_reason: '', steps_completed: '2',
      messages_sent: '2', opened: 'true', opens: '2', clicked: 'true', clicks: '1', replied: 'false', bounced: 'false', unsubscribed: 'false', complained: 'false' },
    { email: lead2.email, first_name: 'Ann', last_name: '', company: 'Plain', enrollment_status: 'bounced', stop_reason: 'bounced', steps_completed: '1',
      messages_sent: '1', opened: 'false', opens: '0', clicked: 'false', clicks: '0', replied: 'false', bounced: 'true', unsubscribed: 'false', complained: 'false' },
  ]);
  expect(new Date(rows[0]!.last_event_at!).getTime()).toBe(new Date(last).getTime());

  // Downloads: the viewer, another organisation and API keys are refused; each download is audited.
  expect((await download(leads.rowId, viewerOfA.token)).status).toBe(404);
  expect((await download(leads.rowId, ownerOfB)).status).toBe(404);
  expect((await download(leads.rowId, key)).status).toBe(403);
  expect((await download(leads.rowId)).status).toBe(401);
  const audit = await t.owner.query(sql`
    select action, actor_user_id, changes->>'kind' as kind from app_public.audit_log
    where tenant_id = ${a.tenantId} and table_name = 'tenant_exports' and record_id = ${leads.rowId} order by id`);
  expect(audit).toEqual([
    { action: 'tenant_export.requested', actor_user_id: memberOfA.userId, kind: 'leads' },
    { action: 'tenant_export.downloaded', actor_user_id: memberOfA.userId, kind: 'leads' },
  ]);

  // After the worker finished, another leads export can be requested; the sweep deletes expired CSV files.
  await t.owner.query(sql`update app_public.tenant_exports set expires_at = now() - interval '1 second' where id = ${leads.rowId}`);
  expect((await download(leads.rowId, memberOfA.token)).status).toBe(410);
  await t.owner.query(sql`select graphile_worker.add_job('tenant_export_sweep', '{}'::json)`);
  await eventually(async () => (await t.owner.query(sql`select status from app_public.tenant_exports where id = ${leads.rowId}`))[0].status === 'expired', 20_000);
  const again = (await t.ok(REQUEST, { kind: 'LEADS' }, memberOfA.token)).requestCsvExport.result;
  await waitCompleted(memberOfA.token, again.rowId);
}, 180_000);
