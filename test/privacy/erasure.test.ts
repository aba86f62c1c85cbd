/**
 * A person's data (docs/privacy.md): an owner exports everything the tenant
 * holds about one address, then erases it. Afterwards a scan of every table
 * of the database (partitions of messages and events spanning several months
 * included, and graphile-worker's queue) finds neither the address nor the
 * name in the tenant; the address stays suppressed by a salted hash, so a
 * lead created again with it cannot be mailed; campaign statistics keep their
 * counts; another tenant's lead with the same address is untouched.
 */
import { createCampaign, createSender, createTenant, lifecycle, startWorld, type TestTenant, type World } from '../sending/support/world.ts';
import { uniqueEmail } from '../helpers/unique.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld({ worker: false });
});
afterAll(() => w.close());

const FIRST = 'Zephyrine';
const LAST = `Quillfeather${process.pid}`;

/** A lead with everything a tenant can hold about a person, in messages and events of three different months. */
async function personIn(tenant: TestTenant, email: string) {
  const db = w.t.owner;
  const sender = await createSender(w, tenant.tenantId);
  const { campaignId, leads } = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{ email, first_name: FIRST }],
  });
  const leadId = leads[0]!.id;
  await db.query(sql`update app_public.leads set last_name = ${LAST}, name = ${`${FIRST} ${LAST}`}, phone = '+33 6 12 34 56 78',
    custom_fields = ${JSON.stringify({ nickname: `Zeph ${LAST}` })}::jsonb where id = ${leadId}`);
  const [enrollment] = await db.query(sql`
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, email_account_id)
    values (${tenant.tenantId}, ${campaignId}, ${leadId}, 'completed', ${sender.inboxes[0]!.id}) returning id`);
  const [list] = await db.query(sql`insert into app_public.contact_lists (tenant_id, name) values (${tenant.tenantId}, 'Prospects') returning id`);
  await db.query(sql`insert into app_public.contact_list_members (tenant_id, list_id, lead_id) values (${tenant.tenantId}, ${list.id}, ${leadId})`);
  const messageIds: string[] = [];
  for (const monthsAgo of [5, 3, 0]) {
    const [m] = await db.query(sql`
      insert into app_public.messages (tenant_id, id, direction, status, campaign_id, enrollment_id, lead_id, email_account_id,
        from_email, to_email, subject, body_text, rfc_message_id, sent_at)
      values (${tenant.tenantId}, app_public.uuid_v7(now() - make_interval(months => ${monthsAgo})), 'outbound', 'sent', ${campaignId}, ${enrollment.id},
        ${leadId}, ${sender.inboxes[0]!.id}, ${sender.inboxes[0]!.email}, ${email}, ${`Hello ${FIRST} ${LAST}`},
        ${`Dear ${FIRST} ${LAST} <${email}>, a note.`}, ${`m${monthsAgo}.${tenant.tenantId}@pm.example`}, now())
      returning id`);
    messageIds.push(m.id);
    await db.query(sql`
      insert into app_public.email_events (tenant_id, id, message_id, campaign_id, lead_id, event_type, ip_address, user_agent, metadata)
      values (${tenant.tenantId}, app_public.uuid_v7(now() - make_interval(months => ${monthsAgo})), ${m.id}, ${campaignId}, ${leadId}, 'open',
        '203.0.113.77', ${`Mail client of ${LAST}`}, ${JSON.stringify({ recipient: email })}::jsonb)`);
  }
  await db.query(sql`update app_public.campaign_enrollments set current_message_id = ${messageIds[2]}, thread_message_id = ${messageIds[0]} where id = ${enrollment.id}`);
  // Their reply (a conversation is opened by the trigger) and our answer in the inbox.
  await db.query(sql`
    insert into app_public.messages (tenant_id, direction, status, lead_id, email_account_id, parent_message_id, from_email, to_email, subject, body_text)
    values (${tenant.tenantId}, 'inbound', 'received', ${leadId}, ${sender.inboxes[0]!.id}, ${messageIds[2]}, ${email}, ${sender.inboxes[0]!.email},
      ${`Re: Hello ${FIRST} ${LAST}`}, ${`Thanks, ${FIRST} ${LAST}`})`);
  const [deal] = await db.query(sql`
    insert into app_public.deals (tenant_id, title, description, primary_lead_id)
    values (${tenant.tenantId}, ${`Renewal with ${FIRST} ${LAST}`}, ${`Call ${email} before Friday.`}, ${leadId}) returning id`);
  await db.query(sql`insert into app_public.deal_contacts (tenant_id, deal_id, lead_id, role) values (${tenant.tenantId}, ${deal.id}, ${leadId}, 'champion')`);
  await db.query(sql`insert into app_public.activities (tenant_id, kind, lead_id, body) values (${tenant.tenantId}, 'note', ${leadId}, ${`${FIRST} ${LAST} asked for a call.`})`);
  await db.query(sql`
    insert into app_public.lead_imports (tenant_id, file_name, status, total_rows, skipped_rows, errors)
    values (${tenant.tenantId}, 'march.csv', 'completed', 2, 2, ${JSON.stringify([
      { line: 2, message: `${email} is on your suppression list (unsubscribed).` }, { line: 3, message: 'The email address is missing.' },
    ])}::jsonb)`);
  await db.query(sql`insert into app_public.suppressions (tenant_id, email, reason) values (${tenant.tenantId}, ${email}, 'unsubscribed')`);
  await db.query(sql`
    insert into app_public.webhook_events (tenant_id, event_type, campaign_id, data)
    values (${tenant.tenantId}, 'lead.replied', ${campaignId}, ${JSON.stringify({ lead: { id: leadId, email, name: `${FIRST} ${LAST}` } })}::jsonb)`);
  await db.query(sql`insert into app_public.audit_log (tenant_id, action, table_name, changes)
    values (${tenant.tenantId}, 'note.added', 'leads', ${JSON.stringify({ note: `Spoke to ${email}` })}::jsonb)`);
  await db.query(sql`select graphile_worker.add_job('send_reply', json_build_object('tenantId', ${tenant.tenantId}::uuid, 'to', ${email}::text),
    run_at => now() + interval '1 day')`);
  await db.query(sql`insert into app_private.job_outbox (tenant_id, identifier, payload)
    values (${tenant.tenantId}, 'send_reply', json_build_object('tenantId', ${tenant.tenantId}::uuid, 'leadId', ${leadId}::uuid))`);
  return { leadId, campaignId, sender };
}

/** Every table (and so every partition) of the database, each row as text: those of the tenant (or of no tenant) holding a needle. */
async function rowsMentioning(tenantId: string, otherTenantId: string, needles: string[]) {
  const tables = await w.t.owner.query(sql`
    select n.nspname as schema, c.relname as rel,
           exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and not c.relispartition
      and n.nspname in ('app_public', 'app_private', 'app_hidden', 'graphile_worker', 'public')`);
  const found: string[] = [];
  for (const t of tables) {
    for (const needle of needles) {
      const rows = await w.t.owner.query(t.has_tenant
        ? sql`select count(*)::int as n from ${sql.ident(t.schema, t.rel)} x
              where x.tenant_id = ${tenantId} and strpos(lower(x::text), lower(${needle})) > 0`
        : sql`select count(*)::int as n from ${sql.ident(t.schema, t.rel)} x
              where strpos(lower(x::text), lower(${needle})) > 0 and strpos(x::text, ${otherTenantId}) = 0`);
      if (rows[0].n > 0) found.push(`${t.schema}.${t.rel}: ${rows[0].n} × ${needle}`);
    }
  }
  return found;
}

const stats = (tenantId: string) => w.t.owner.query(sql`
  select campaign_id, sum(sent)::int as sent, sum(opened)::int as opened, sum(opens_total)::int as opens, sum(replied)::int as replied
  from app_public.campaign_stats_daily where tenant_id = ${tenantId} group by campaign_id order by campaign_id`);

async function gql(token: string, query: string, email: string) {
  return w.t.gql(query, { email }, token);
}
const EXPORT = 'query($email: String!) { exportPersonalData(email: $email) }';
const ERASE = 'mutation($email: String!) { erasePersonalData(input: { email: $email }) { result } }';

test('an owner exports, then erases, everything held about one address; it is never mailed again; another tenant keeps its lead', async () => {
  const email = uniqueEmail('zephyrine');
  const tenant = await createTenant(w, 'privacy');
  const other = await createTenant(w, 'privacy-other');
  const person = await personIn(tenant, email);
  const theirs = await personIn(other, email);

  // The messages and events span several monthly partitions.
  const [spread] = await w.t.owner.query(sql`
    select count(distinct tableoid)::int as partitions from app_public.messages where tenant_id = ${tenant.tenantId}`);
  expect(spread.partitions).toBeGreaterThanOrEqual(3);

  // Export: one JSON document.
  const exported = await gql(tenant.token, EXPORT, email.toUpperCase());
  expect(exported.errors).toBeUndefined();
  const doc = exported.data.exportPersonalData;
  expect(doc).toMatchObject({ format: 'penguinmails.personal-data.v1', email: email.toLowerCase(), tenantId: tenant.tenantId });
  expect(doc.leads).toEqual([expect.objectContaining({ id: person.leadId, last_name: LAST, custom_fields: { nickname: `Zeph ${LAST}` } })]);
  expect(doc.messages).toHaveLength(4);
  expect(doc.emailEvents).toHaveLength(3);
  expect(doc.emailEvents[0]).toMatchObject({ ip_address: '203.0.113.77' });
  expect(doc.listMemberships).toEqual([expect.objectContaining({ listName: 'Prospects' })]);
  expect(doc.conversations).toHaveLength(1);
  expect(doc.deals).toHaveLength(1);
  expect(doc.dealContacts).toHaveLength(1);
  expect(doc.activities).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'note', body: `${FIRST} ${LAST} asked for a call.` })]));
  expect(doc.suppressions).toEqual([expect.objectContaining({ reason: 'unsubscribed' })]);
  expect(doc.importErrors).toHaveLength(1);
  expect(doc.webhookEvents).toHaveLength(1);
  expect(JSON.stringify(doc)).not.toContain(other.tenantId);

  // Only owners and admins; an address nobody holds is NOT_FOUND.
  const [member] = [await createTenant(w, 'privacy-member')];
  await w.t.owner.query(sql`insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenant.tenantId}, ${member.userId}, '{member}', ${uniqueEmail('m')})`);
  const memberToken = await w.t.session({ role: 'member', user_id: member.userId, tenant_id: tenant.tenantId, expires_at: new Date(Date.now() + 3_600_000) });
  expect((await gql(memberToken, ERASE, email)).errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  expect((await gql(memberToken, EXPORT, email)).errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  expect((await gql(tenant.token, ERASE, uniqueEmail('nobody'))).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  expect((await gql(tenant.token, ERASE, 'not an address'))).toMatchObject({ errors: [{ extensions: { code: 'INVALID_INPUT' } }] });

  const statsBefore = await stats(tenant.tenantId);
  expect(statsBefore.length).toBeGreaterThan(0);
  const before = await rowsMentioning(tenant.tenantId, other.tenantId, [email, LAST]);
  expect(before.length).toBeGreaterThan(10);

  // Erase.
  const erased = await gql(tenant.token, ERASE, email);
  expect(erased.errors).toBeUndefined();
  const { requestId, counts } = erased.data.erasePersonalData.result;
  expect(counts).toMatchObject({
    leads: 1, messages: 4, email_events: 3, conversations: 1, campaign_enrollments: 1, campaign_targets: 1, contact_list_members: 1, deal_contacts: 1,
    webhook_events: 1, deals_scrubbed: 1, lead_imports_scrubbed: 1,
  });
  expect(counts.jobs).toBeGreaterThanOrEqual(2);

  // Nothing of the tenant mentions the address or the name any more, in any table or partition, or in the job queue.
  expect(await rowsMentioning(tenant.tenantId, other.tenantId, [email, LAST])).toEqual([]);
  // The audit entry names the request and the counts, not the person.
  const audit = await w.t.owner.query(sql`select action, record_id, changes from app_public.audit_log where tenant_id = ${tenant.tenantId} and action = 'privacy.erase'`);
  expect(audit).toEqual([{ action: 'privacy.erase', record_id: requestId, changes: { request_id: requestId, counts } }]);
  // The suppression list keeps a salted hash instead of the address.
  const suppressed = await w.t.owner.query(sql`select email::text, reason from app_public.suppressions where tenant_id = ${tenant.tenantId}`);
  expect(suppressed).toEqual([{ email: expect.stringMatching(/^[0-9a-f]{64}@erased\.invalid$/), reason: 'unsubscribed' }]);
  // Rollups are counts: unchanged. The deal stays, without the person.
  expect(await stats(tenant.tenantId)).toEqual(statsBefore);
  const [deal] = await w.t.owner.query(sql`select title, description, primary_lead_id from app_public.deals where tenant_id = ${tenant.tenantId}`);
  expect(deal).toEqual({ title: 'Renewal with [erased]', description: 'Call [erased] before Friday.', primary_lead_id: null });
  const [imp] = await w.t.owner.query(sql`select skipped_rows, errors from app_public.lead_imports where tenant_id = ${tenant.tenantId}`);
  expect(imp).toEqual({ skipped_rows: 2, errors: [{ line: 3, message: 'The email address is missing.' }] });

  // Erasing again: nothing is held but the hash.
  expect((await gql(tenant.token, EXPORT, email)).errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });

  // Created again, the address is suppressed by its hash: a campaign cannot mail it.
  const again = await createCampaign(w, tenant.tenantId, { name: 'Second try', inboxIds: [person.sender.inboxes[0]!.id], steps: [{ type: 'email' }], leads: [{ email }] });
  const started = await lifecycle(w, tenant.token, 'start', again.campaignId);
  expect(started.error?.message).toContain('The audience is empty: all 1 targeted leads are unsubscribed, bounced, complained, do-not-contact or suppressed.');
  const [blocked] = await w.t.owner.query(sql`select app_private.lead_block_reason(${tenant.tenantId}, ${email.toUpperCase()}, 'active') as reason`);
  expect(blocked.reason).toBe(`${email.toUpperCase()} is on the suppression list`);

  // The other tenant keeps everything, and may still mail the address.
  const [kept] = await w.t.owner.query(sql`
    select (select count(*)::int from app_public.leads where tenant_id = ${other.tenantId} and id = ${theirs.leadId}) as leads,
           (select count(*)::int from app_public.messages where tenant_id = ${other.tenantId} and to_email = ${email}) as messages,
           (select count(*)::int from app_public.email_events where tenant_id = ${other.tenantId} and lead_id = ${theirs.leadId}) as events,
           (select count(*)::int from graphile_worker._private_jobs
             where strpos(payload::text, ${other.tenantId}) > 0 and strpos(payload::text, ${email}) > 0) as jobs`);
  expect(kept).toEqual({ leads: 1, messages: 3, events: 3, jobs: 1 });
  const [free] = await w.t.owner.query(sql`select app_private.lead_block_reason(${other.tenantId}, ${`fresh-${email}`}, 'active') as reason`);
  expect(free.reason).toBeNull();
});
