/**
 * Suppression list imports (docs/privacy.md "Importing a suppression list",
 * functions/288-data-exports.sql): a CSV of email addresses and domains is
 * uploaded through the real POST /imports/suppressions and loaded by the real
 * worker; invalid rows are reported with their line numbers, duplicates and
 * values already suppressed are skipped, counts and an audit entry are
 * recorded. Then a campaign against a real SMTP server mails neither a
 * suppressed address nor any address at a suppressed domain (or a subdomain
 * of it), whether the suppression was imported before the campaign started
 * or after its leads were enrolled and their first send booked.
 */
import { IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { sql } from '../../src/db/pg.ts';
import { leadImportRoutes } from '../../src/import/upload-route.ts';
import { uniqueDomain } from '../helpers/unique.ts';
import {
  addMember, advanceClock, campaignCompletes, createCampaign, createSender, createTenant, enrollmentsOf, lifecycle, messagesOf, nextMonday, setClock, startWorld,
  type World,
} from '../sending/support/world.ts';
import { eventually } from '../helpers/eventually.ts';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

let w: World;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'pm-suppression-import-'));
  process.env.PM_DATA_DIR = dataDir; // the world's worker reads the uploaded file from the same folder
  w = await startWorld({
    routes: (api) => leadImportRoutes({
      pool: api.pool, ownerPool: api.ownerPool, tokens: api.tokens, apiKeys: api.apiKeys, dataDir, maxBytes: 1024 * 1024, statementTimeoutMs: 10_000,
    }),
  });
  await setClock(w, await nextMonday(w, 10));
}, IN_PROCESS_SETUP_TIMEOUT_MS);
afterAll(async () => {
  await w.close();
  await rm(dataDir, { recursive: true, force: true });
});

const IMPORT = `query($id: UUID!) { leadImport(rowId: $id) { status target totalRows importedRows updatedRows skippedRows errors failureReason } }`;

async function upload(token: string, body: string, params: Record<string, string> = { fileName: 'suppressions.csv' }) {
  const response = await fetch(`${w.t.url}/imports/suppressions?${new URLSearchParams(params)}`, {
    method: 'POST', headers: { 'content-type': 'text/csv', authorization: `Bearer ${token}` }, body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function finished(token: string, rowId: string) {
  return eventually(async () => {
    const current = (await w.t.ok(IMPORT, { id: rowId }, token)).leadImport;
    return (current.status === 'COMPLETED' || current.status === 'FAILED') && current;
  }, 30_000, 50);
}

test('a CSV of addresses and domains is imported into the suppression list with row errors, skipped duplicates, counts and an audit entry', async () => {
  const tenant = await createTenant(w, 'sup-import');
  const viewer = await addMember(w, tenant.tenantId, 'sup-viewer', ['viewer']);
  const domain = uniqueDomain('sup-blocked');
  await w.t.owner.query(sql`insert into app_public.suppressions (tenant_id, email, reason) values (${tenant.tenantId}, 'known@already.example', 'unsubscribed')`);

  // Refused: a viewer; lead-only options.
  expect((await upload(viewer.token, 'email\na@b.example\n')).status).toBe(403);
  const withList = await upload(tenant.token, 'email\na@b.example\n', { fileName: 's.csv', updateExisting: 'true' });
  expect(withList).toEqual({ status: 400, body: { errors: [expect.objectContaining({
    message: 'Invalid query parameters: updateExisting is for lead imports only; a suppression list import takes fileName and mapping.' })] } });

  const file = [
    'Email,Domain',
    'Someone@Example.org,',            // 2: an address
    `,${domain}`,                      // 3: a domain
    `@sub.${domain},`,                 // 4: "@domain" in the email column: a domain
    'plain-domain.example,',           // 5: a bare domain in the email column
    'not an address@,',                // 6: invalid
    ',',                               // 7: empty
    `x@y.example,${domain}`,           // 8: both
    'someone@example.org,',            // 9: duplicate of line 2 (case-insensitive)
    'known@already.example,',          // 10: already suppressed
    ',no_tld',                         // 11: invalid domain
  ].join('\n') + '\n';
  const uploaded = await upload(tenant.token, file);
  expect(uploaded.status).toBe(202);
  expect(uploaded.body.leadImport).toMatchObject({ target: 'SUPPRESSIONS', status: 'PENDING' });
  const done = await finished(tenant.token, uploaded.body.leadImport.rowId);
  expect(done).toMatchObject({ status: 'COMPLETED', target: 'SUPPRESSIONS', totalRows: 10, importedRows: 4, updatedRows: 0, skippedRows: 6, failureReason: null });
  expect(done.errors).toEqual([
    { line: 6, email: 'not an address@', reason: '"not an address@" is not a valid email address.' },
    { line: 7, email: null, reason: 'The row has neither an email address nor a domain.' },
    { line: 8, email: 'x@y.example', reason: 'The row has both an email address and a domain; put each on a row of its own.' },
    { line: 9, email: 'someone@example.org', reason: 'Duplicate of line 2.' },
    { line: 10, email: 'known@already.example', reason: 'Already on your suppression list (unsubscribed).' },
    { line: 11, email: 'no_tld', reason: '"no_tld" is not a valid domain (like example.com).' },
  ]);
  expect(await w.t.owner.query(sql`
    select email::text, domain::text, reason, note from app_public.suppressions where tenant_id = ${tenant.tenantId} and note is not null order by created, coalesce(email::text, domain::text)`))
    .toEqual(expect.arrayContaining([
      { email: 'Someone@Example.org', domain: null, reason: 'manual', note: 'Imported from suppressions.csv' },
      { email: null, domain, reason: 'manual', note: 'Imported from suppressions.csv' },
      { email: null, domain: `sub.${domain}`, reason: 'manual', note: 'Imported from suppressions.csv' },
      { email: null, domain: 'plain-domain.example', reason: 'manual', note: 'Imported from suppressions.csv' },
    ]));
  expect(Number((await w.t.owner.query(sql`select count(*) as n from app_public.suppressions where tenant_id = ${tenant.tenantId}`))[0].n)).toBe(5);
  expect(await w.t.owner.query(sql`
    select action, actor_user_id, changes - 'api_key_id' as changes from app_public.audit_log
    where tenant_id = ${tenant.tenantId} and action = 'suppressions.imported'`)).toEqual([{
    action: 'suppressions.imported', actor_user_id: tenant.userId,
    changes: { file_name: 'suppressions.csv', total_rows: 10, imported_rows: 4, skipped_rows: 6 },
  }]);

  // Importing the same file again adds nothing.
  const again = await upload(tenant.token, file);
  expect(await finished(tenant.token, again.body.leadImport.rowId)).toMatchObject({ status: 'COMPLETED', importedRows: 0, skippedRows: 10 });

  // A file with neither column fails with the reason.
  const wrong = await upload(tenant.token, 'name\nAda\n');
  expect(await finished(tenant.token, wrong.body.leadImport.rowId)).toMatchObject({
    status: 'FAILED', failureReason: 'The file has no email or domain column (columns: name). Name one "email" or "domain", or map it, e.g. mapping={"name":"email"}.' });
});

test('a campaign mails neither an imported address nor any address at an imported domain, imported before the start or after the send was booked', async () => {
  const tenant = await createTenant(w, 'sup-campaign');
  const sender = await createSender(w, tenant.tenantId);
  const blocked = uniqueDomain('sup-camp-blocked');
  const late = uniqueDomain('sup-camp-late');
  const stamp = `${process.pid}-${Date.now()}`;
  const leads = {
    ok: `ok-${stamp}@recipient.example`,
    address: `listed-${stamp}@recipient.example`,
    atDomain: `anyone-${stamp}@${blocked}`,
    atSubdomain: `anyone-${stamp}@mail.${blocked}`,
    lateDomain: `later-${stamp}@${late}`,
  };
  const uploaded = await upload(tenant.token, `email\n${leads.address}\n${blocked}\n`);
  expect(await finished(tenant.token, uploaded.body.leadImport.rowId)).toMatchObject({ status: 'COMPLETED', importedRows: 2 });

  // Sending days: Tuesday only, so on Monday the leads are enrolled and their first send is booked for Tuesday;
  // the second domain is suppressed in between.
  const { campaignId } = await createCampaign(w, tenant.tenantId, {
    inboxIds: sender.inboxes.map((i) => i.id),
    steps: [{ type: 'email' }],
    leads: Object.values(leads).map((email) => ({ email })),
    settings: { send_days: [2] },
  });
  const started = await lifecycle(w, tenant.token, 'start', campaignId);
  expect(started.error).toBeNull();
  // Enrolled and waiting for Tuesday: the ok lead and the one whose domain is suppressed later; the others never were.
  const leadRows = await w.t.owner.query(sql`select id, email::text from app_public.leads where tenant_id = ${tenant.tenantId}`);
  const emailOf = new Map(leadRows.map((l) => [l.id as string, l.email as string]));
  const enrolled = await eventually(async () => {
    const rows = await enrollmentsOf(w, campaignId);
    return rows.length === 2 && rows.every((e: { next_run_at: Date | null }) => e.next_run_at) && rows;
  }, 20_000);
  expect(enrolled.map((e: { lead_id: string }) => emailOf.get(e.lead_id)).sort()).toEqual([leads.lateDomain, leads.ok].sort());
  expect(w.smtp.messages).toEqual([]);

  const lateImport = await upload(tenant.token, `domain\n${late}\n`);
  expect(await finished(tenant.token, lateImport.body.leadImport.rowId)).toMatchObject({ status: 'COMPLETED', importedRows: 1 });
  await advanceClock(w, '1 day');
  await campaignCompletes(w, campaignId, 60_000);

  const delivered = w.smtp.messages.flatMap((m) => m.to);
  expect(delivered).toEqual([leads.ok]);
  const messages = await messagesOf(w, campaignId);
  expect(messages.filter((m: { status: string }) => m.status === 'sent' || m.status === 'delivered').map((m: { to_email: string }) => m.to_email)).toEqual([leads.ok]);
  const lateEnrollment = (await enrollmentsOf(w, campaignId)).find((e: { lead_id: string }) => emailOf.get(e.lead_id) === leads.lateDomain);
  expect(lateEnrollment).toMatchObject({ status: expect.not.stringMatching(/^(active|completed)$/) });
}, 120_000);
