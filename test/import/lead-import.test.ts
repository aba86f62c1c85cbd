/**
 * CSV lead imports end to end: upload over HTTP (POST /imports/leads), the
 * job queued by the database, the worker streaming the file through COPY,
 * validation and the upsert in SQL, and the result (counts, row errors,
 * list membership, failures) read back through the GraphQL API.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pgSettingsForClaims } from '../../src/server/context.ts';
import { withUserSession } from '../../src/server/user-session.ts';

import { memberWithRoles, ownedTenant, putTenantOnPlan, type Member } from '../api/fixtures.ts';
import { startImportHarness, type ImportHarness, type LeadImportView } from './harness.ts';
import { sql } from '../../src/db/pg.ts';

const LONG = 120_000;

let h: ImportHarness;
let owner: Member;

const leadsOf = (tenantId: string) =>
  h.t.owner.query(sql`
    select email::text, first_name, last_name, company, title, source, custom_fields, created_by
    from app_public.leads where tenant_id = ${tenantId} order by email
  `);

beforeAll(async () => {
  h = await startImportHarness();
  owner = await ownedTenant(h.t, 'importer');
}, LONG);
afterAll(() => h?.close(), LONG);

async function importAndWait(token: string, csv: string, params: Record<string, string> = {}): Promise<LeadImportView> {
  const upload = await h.upload(token, csv, { fileName: 'leads.csv', ...params });
  expect([upload.status, upload.body.errors ?? null]).toEqual([202, null]);
  expect(upload.body.leadImport).toMatchObject({ status: 'PENDING', fileName: 'leads.csv', byteSize: Buffer.byteLength(csv) });
  return h.finished(token, upload.body.leadImport!.rowId);
}

test('maps, validates and imports: typed custom fields, the static list, and each rejected row with its line and reason', async () => {
  const org = await ownedTenant(h.t, 'mapping');
  await h.t.owner.query(sql`
    insert into app_public.custom_field_definitions (tenant_id, key, label, field_type, options) values
      (${org.tenantId}, 'industry', 'Industry', 'select', array['saas', 'retail']),
      (${org.tenantId}, 'employees', 'Employees', 'number', null),
      (${org.tenantId}, 'vip', 'VIP', 'boolean', null);
    insert into app_public.suppressions (tenant_id, email, reason) values (${org.tenantId}, 'blocked@b.example', 'unsubscribed');
    insert into app_public.suppressions (tenant_id, domain, reason) values (${org.tenantId}, 'spam.example', 'complained');
    insert into app_public.leads (tenant_id, email, first_name) values (${org.tenantId}, 'existing@c.example', 'Old');
  `);
  const [list] = await h.t.owner.query(sql`insert into app_public.contact_lists (tenant_id, name) values (${org.tenantId}, 'Imported') returning id`);
  const long = 'x'.repeat(101);
  const csv = [
    'E-mail,First Name,Surname,Company Name,Sector,Employees,VIP,Job Title,Unmapped',
    'ada@a.example,Ada,Lovelace,Analytical,saas,12,yes,"Head of\nResearch",ignored', // lines 2 and 3 (a quoted newline)
    'not-an-email,Bad,Row,,,,,,',
    ',Missing,Email,,,,,,',
    'ADA@a.example,Ada,Again,,,,,,',
    'blocked@b.example,Blocked,Person,,,,,,',
    'someone@spam.example,Spam,Domain,,,,,,',
    'existing@c.example,New,Name,,,,,,',
    'grace@g.example,Grace,Hopper,Navy,retail,many,,,',
    'linus@l.example,Linus,T,,enterprise,,,,',
    `long@l.example,${long},,,,,,,`,
    '  radia@r.example  ,Radia,Perlman,,,,no,,',
    '',
  ].join('\n');
  const done = await importAndWait(org.token, csv, { listId: list.id, mapping: JSON.stringify({ Sector: 'custom.industry' }) });
  expect(done).toMatchObject({ status: 'COMPLETED', totalRows: 11, importedRows: 2, updatedRows: 0, skippedRows: 9, failureReason: null });
  // The column nothing claimed is reported (and, without keepUnmapped, dropped: see the leads below).
  expect(done).toMatchObject({ unmappedColumns: ['Unmapped'], keepUnmapped: false });
  expect(done.errors).toEqual([
    { line: 4, email: 'not-an-email', reason: '"not-an-email" is not a valid email address.' },
    { line: 5, email: null, reason: 'The email address is missing.' },
    { line: 6, email: 'ADA@a.example', reason: 'Duplicate of line 2.' },
    { line: 7, email: 'blocked@b.example', reason: 'blocked@b.example is on your suppression list (unsubscribed).' },
    { line: 8, email: 'someone@spam.example', reason: 'someone@spam.example is on your suppression list (complained).' },
    { line: 9, email: 'existing@c.example', reason: 'A lead with this email already exists; it was left unchanged (updateExisting is off).' },
    { line: 10, email: 'grace@g.example', reason: 'Custom field employees must be a number; got "many".' },
    { line: 11, email: 'linus@l.example', reason: 'Custom field industry must be one of saas, retail; got "enterprise".' },
    { line: 12, email: 'long@l.example', reason: 'first_name is not allowed here: it must satisfy (length(first_name) <= 100).' },
  ]);
  const leads = await leadsOf(org.tenantId);
  expect(leads).toEqual([
    { email: 'ada@a.example', first_name: 'Ada', last_name: 'Lovelace', company: 'Analytical', title: 'Head of\nResearch', source: 'csv import', custom_fields: { industry: 'saas', employees: 12, vip: true }, created_by: org.userId },
    { email: 'existing@c.example', first_name: 'Old', last_name: null, company: null, title: null, source: null, custom_fields: {}, created_by: null },
    { email: 'radia@r.example', first_name: 'Radia', last_name: 'Perlman', company: null, title: null, source: 'csv import', custom_fields: { vip: false }, created_by: org.userId },
  ]);
  // The list holds every valid row's lead, including the existing one.
  const members = await h.t.owner.query(sql`
    select l.email::text from app_public.contact_list_members m join app_public.leads l on l.tenant_id = m.tenant_id and l.id = m.lead_id
    where m.list_id = ${list.id} order by 1
  `);
  expect(members.map((m) => m.email)).toEqual(['ada@a.example', 'existing@c.example', 'radia@r.example']);
  // The file is gone once the import is finished.
  expect(existsSync(path.join(h.dataDir, 'imports', org.tenantId, `${done.rowId}.csv`))).toBe(false);
}, LONG);

test('unmapped columns are reported; with keepUnmapped they are kept as custom fields under their normalised header, as createLead would', async () => {
  const org = await ownedTenant(h.t, 'unmapped');
  await h.t.owner.query(sql`insert into app_public.custom_field_definitions (tenant_id, key, label, field_type) values (${org.tenantId}, 'score', 'Score', 'number')`);
  const csv = 'email,Score,Lead Source Detail,2nd Phone,Notes,notes\nada@u.example,7,Webinar,555-1234,"likes, commas",dup\nbob@u.example,,,,,\n';
  const dropped = await importAndWait(org.token, csv);
  expect(dropped).toMatchObject({ status: 'COMPLETED', importedRows: 2, keepUnmapped: false, unmappedColumns: ['Lead Source Detail', '2nd Phone', 'Notes', 'notes'] });
  expect((await leadsOf(org.tenantId)).map((l) => l.custom_fields)).toEqual([{ score: 7 }, {}]);

  const kept = await importAndWait(org.token, csv.replace(/ada@/, 'ada2@').replace(/bob@/, 'bob2@'), { keepUnmapped: 'true' });
  expect(kept).toMatchObject({ status: 'COMPLETED', importedRows: 2, keepUnmapped: true, unmappedColumns: ['Lead Source Detail', '2nd Phone', 'Notes', 'notes'] });
  const leads = await leadsOf(org.tenantId);
  // "notes" normalises like "Notes": the first column keeps the key, the second is dropped.
  expect(leads.find((l) => l.email === 'ada2@u.example')!.custom_fields).toEqual({ score: 7, lead_source_detail: 'Webinar', column_2nd_phone: '555-1234', notes: 'likes, commas' });
  expect(leads.find((l) => l.email === 'bob2@u.example')!.custom_fields).toEqual({});
  // The kept fields are ordinary custom fields: filterable like those createLead stores.
  const found = await h.t.ok(`{ leads(filter: { customFields: { contains: { lead_source_detail: "Webinar" } } }) { nodes { email } } }`, {}, org.token);
  expect(found.leads.nodes).toEqual([{ email: 'ada2@u.example' }]);
}, LONG);

test('updateExisting fills in existing leads (empty cells keep their value) and merges custom fields', async () => {
  const org = await ownedTenant(h.t, 'update');
  await h.t.owner.query(sql`
    insert into app_public.leads (tenant_id, email, first_name, company, custom_fields)
    values (${org.tenantId}, 'known@k.example', 'Known', 'Keep Ltd', '{"tier": "gold"}')
  `);
  const done = await importAndWait(org.token, 'email,company,title,tier\nKNOWN@k.example,,CTO,silver\nnew@k.example,New Co,,\n', {
    updateExisting: 'true',
    mapping: JSON.stringify({ tier: 'custom.tier' }),
  });
  expect(done).toMatchObject({ status: 'COMPLETED', totalRows: 2, importedRows: 1, updatedRows: 1, skippedRows: 0, errors: [] });
  expect((await leadsOf(org.tenantId)).map(({ email, first_name, company, title, custom_fields }) => ({ email, first_name, company, title, custom_fields }))).toEqual([
    { email: 'known@k.example', first_name: 'Known', company: 'Keep Ltd', title: 'CTO', custom_fields: { tier: 'silver' } },
    { email: 'new@k.example', first_name: null, company: 'New Co', title: null, custom_fields: {} },
  ]);
}, LONG);

test('the upload is refused, with a clear code and nothing stored, for the wrong caller or a bad request', async () => {
  const viewer = await memberWithRoles(h.t, owner.tenantId, ['viewer'], 'import-viewer');
  const stranger = await ownedTenant(h.t, 'import-stranger');
  const [foreignList] = await h.t.owner.query(sql`insert into app_public.contact_lists (tenant_id, name) values (${stranger.tenantId}, 'Theirs') returning id`);
  const [dynamicList] = await h.t.owner.query(sql`
    insert into app_public.contact_lists (tenant_id, name, is_dynamic, filter_criteria)
    values (${owner.tenantId}, 'Dynamic', true, '{"all": [{"field": "status", "op": "eq", "value": "active"}]}') returning id
  `);
  const csv = 'email\nnobody@n.example\n';
  const cases: Array<[string, Promise<{ status: number; body: { errors?: Array<{ message: string; extensions: { code: string } }> } }>, number, string, RegExp]> = [
    ['no token', h.upload(undefined, csv), 401, 'UNAUTHENTICATED', /Sign in first/],
    ['a bad token', h.upload('nope', csv), 401, 'INVALID_TOKEN', /not a well-formed JWT/],
    ['a viewer', h.upload(viewer.token, csv), 403, 'FORBIDDEN', /^Viewers cannot import leads/],
    ['JSON instead of CSV', h.upload(owner.token, '{"email": "x@y.example"}', { fileName: 'x.json' }, 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE', /Content-Type: text\/csv/],
    ['no file name', h.upload(owner.token, csv, {}), 400, 'INVALID_INPUT', /fileName/],
    ['a mapping that is not JSON', h.upload(owner.token, csv, { fileName: 'a.csv', mapping: '{oops' }), 400, 'INVALID_INPUT', /mapping must be a JSON object/],
    ['a mapping to no lead field', h.upload(owner.token, csv, { fileName: 'a.csv', mapping: '{"email":"salary"}' }), 400, 'INVALID_INPUT', /sends a column to "salary", which is not a lead field/],
    ['a NUL in the file name', h.upload(owner.token, csv, { fileName: 'a\u0000.csv' }), 400, 'INVALID_INPUT', /fileName cannot contain control characters/],
    ['a line break in the file name', h.upload(owner.token, csv, { fileName: 'a\nb.csv' }), 400, 'INVALID_INPUT', /fileName cannot contain control characters/],
    ['a NUL in the mapping', h.upload(owner.token, csv, { fileName: 'a.csv', mapping: '{"e\\u0000":"email"}' }), 400, 'INVALID_INPUT', /mapping cannot contain the NUL character/],
    ['a list id that is not a UUID', h.upload(owner.token, csv, { fileName: 'a.csv', listId: 'abc' }), 400, 'INVALID_INPUT', /listId must be the rowId/],
    ["another organisation's list", h.upload(owner.token, csv, { fileName: 'a.csv', listId: foreignList.id }), 404, 'NOT_FOUND', /^That contact list does not exist in your organisation\.$/],
    ['a dynamic list', h.upload(owner.token, csv, { fileName: 'a.csv', listId: dynamicList.id }), 400, 'INVALID_INPUT', /only be imported into a static list/],
  ];
  for (const [label, pending, status, code, message] of cases) {
    const response = await pending;
    expect([label, response.status, response.body.errors?.[0]?.extensions.code]).toEqual([label, status, code]);
    expect([label, response.body.errors?.[0]?.message]).toEqual([label, expect.stringMatching(message)]);
  }
  expect(await h.t.owner.query(sql`select 1 from app_public.lead_imports where tenant_id = ${owner.tenantId}`)).toEqual([]);
  const stored = existsSync(path.join(h.dataDir, 'imports', owner.tenantId)) ? readdirSync(path.join(h.dataDir, 'imports', owner.tenantId)) : [];
  expect(stored).toEqual([]);
  expect(readdirSync(path.join(h.dataDir, 'imports')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}, LONG);

test('a file that cannot be imported fails the import with the reason, and keeps nothing of it', async () => {
  const org = await ownedTenant(h.t, 'broken-files');
  const noEmail = await importAndWait(org.token, 'name,company\nAda,Analytical\n');
  expect(noEmail).toMatchObject({ status: 'FAILED', importedRows: 0, failureReason: expect.stringMatching(/^The file has no email column \(columns: name, company\)/) });
  const unclosed = await importAndWait(org.token, 'email,name\nada@a.example,"Ada\nlast@a.example,never closed\n');
  expect(unclosed).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/^The file is not valid CSV: /) });
  const empty = await importAndWait(org.token, '');
  expect(empty).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/^The file is empty/) });
  const badMapping = await importAndWait(org.token, 'mail\nada@a.example\n', { mapping: JSON.stringify({ Email: 'email' }) });
  expect(badMapping).toMatchObject({ status: 'FAILED', failureReason: 'The mapping names a column "Email" that the file does not have; its columns are: mail.' });
  expect(await leadsOf(org.tenantId)).toEqual([]);
}, LONG);

test("the plan's contact limit fails the whole import cleanly with the limit's message: no lead and no list member is kept", async () => {
  const org = await ownedTenant(h.t, 'free-import', 'free');
  const [list] = await h.t.owner.query(sql`insert into app_public.contact_lists (tenant_id, name) values (${org.tenantId}, 'Too many') returning id`);
  const csv = ['email', ...Array.from({ length: 600 }, (_, i) => `lead${i}@free.example`)].join('\n');
  const done = await importAndWait(org.token, csv, { listId: list.id });
  expect(done).toMatchObject({ status: 'FAILED', importedRows: 0, updatedRows: 0, failureReason: expect.stringMatching(/^Your Free plan allows 500 contacts/) });
  expect(await h.t.owner.query(sql`select count(*)::int as n from app_public.leads where tenant_id = ${org.tenantId}`)).toEqual([{ n: 0 }]);
  expect(await h.t.owner.query(sql`select count(*)::int as n from app_public.contact_list_members where tenant_id = ${org.tenantId}`)).toEqual([{ n: 0 }]);
  // Within the limit it goes through.
  expect(await importAndWait(org.token, csv.split('\n').slice(0, 401).join('\n'))).toMatchObject({ status: 'COMPLETED', importedRows: 400 });
}, LONG);

test('the database queues the job: inserting an import row as a member is all it takes to schedule the worker', async () => {
  // No upload route involved: the row alone (inserted as the member, under RLS)
  // makes the worker run; here without a file, which fails the import clearly.
  const settings = pgSettingsForClaims({ role: 'member', user_id: owner.userId, tenant_id: owner.tenantId, exp: 0 }, 10_000);
  const [row] = await withUserSession(h.t.api.pool, settings, async (client) =>
    (await client.query<{ id: string }>(`insert into app_public.lead_imports (file_name) values ('direct.csv') returning id`)).rows,
  );
  const done = await h.finished(owner.token, row!.id);
  expect(done).toMatchObject({ status: 'FAILED', failureReason: 'The uploaded file is no longer there; upload it again.' });
}, LONG);

test('100,000 rows stream through COPY in one set-based pass; progress is visible while it runs', async () => {
  const big = await ownedTenant(h.t, 'bulk');
  await putTenantOnPlan(h.t.owner, big.tenantId, 'enterprise');
  const rows = 100_000;
  const lines = ['email,first_name,last_name,company,title'];
  for (let i = 0; i < rows; i++) {
    // Every 1,000th row repeats an earlier address: duplicates are found at scale too.
    const n = i % 1000 === 999 ? i - 1 : i;
    lines.push(`person${n}@bulk${n % 97}.example,First${i},Last${i},Company ${i % 500},Title ${i % 40}`);
  }
  const csv = lines.join('\n') + '\n';
  const started = Date.now();
  const upload = await h.upload(big.token, csv, { fileName: 'bulk.csv' });
  expect(upload.status).toBe(202);
  const seen: LeadImportView[] = [];
  const done = await h.finished(big.token, upload.body.leadImport!.rowId, seen, 90_000);
  const seconds = (Date.now() - started) / 1000;
  expect(done).toMatchObject({ status: 'COMPLETED', totalRows: rows, importedRows: rows - 100, skippedRows: 100 });
  expect(done.errors).toHaveLength(100);
  expect(done.errors[0]).toEqual({ line: 1001, email: 'person998@bulk28.example', reason: 'Duplicate of line 1000.' });
  expect(seen.some((s) => s.status === 'PROCESSING')).toBe(true);
  expect(await h.t.owner.query(sql`select count(*)::int as n from app_public.leads where tenant_id = ${big.tenantId}`)).toEqual([{ n: rows - 100 }]);
  console.log(`imported ${rows} CSV rows (${(Buffer.byteLength(csv) / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s, upload to completed; states seen: ${[...new Set(seen.map((s) => `${s.status}:${s.totalRows}`))].join(' ')}`);
  expect(seconds).toBeLessThan(60);
}, LONG);

describe('the upload size limit (IMPORT_MAX_BYTES)', () => {
  let small: ImportHarness;
  beforeAll(async () => {
    small = await startImportHarness({ maxBytes: 2048, worker: false });
  }, LONG);
  afterAll(() => small?.close(), LONG);

  test('a larger file is refused with 413, whether its size is declared or only discovered while streaming', async () => {
    const org = await ownedTenant(small.t, 'small');
    const csv = ['email', ...Array.from({ length: 200 }, (_, i) => `lead${i}@big.example`)].join('\n');
    const declared = await small.upload(org.token, csv);
    expect(declared).toEqual({ status: 413, body: { errors: [{ message: `The file is ${Buffer.byteLength(csv)} bytes; the limit is 2048 bytes (IMPORT_MAX_BYTES).`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] } });
    // A streamed body (no Content-Length) is counted as it arrives.
    const streamed = await fetch(`${small.t.url}/imports/leads?fileName=big.csv`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', authorization: `Bearer ${org.token}` },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(csv.slice(i * 500, (i + 1) * 500)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toEqual({ errors: [{ message: 'The file is larger than the limit of 2048 bytes (IMPORT_MAX_BYTES).', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    expect(await small.t.owner.query(sql`select 1 from app_public.lead_imports where tenant_id = ${org.tenantId}`)).toEqual([]);
    expect(readdirSync(path.join(small.dataDir, 'imports')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, LONG);
});
