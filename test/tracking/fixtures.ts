/**
 * A tenant that has been sending: a verified domain, an inbox, a running
 * campaign (stop on reply), leads enrolled in it, and outbound messages as the
 * sending engine leaves them after SMTP accepted them. Inserted as the owner,
 * like the engine does. Shared by the tracking and IMAP tests.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Queryable } from '../../src/db/pg.ts';
import { uniqueName } from '../helpers/unique.ts';
import { createOwnedTenant } from '../helpers/tenants.ts';

export interface FixtureLead {
  id: string;
  email: string;
  enrollmentId: string;
}

export interface SendingTenant {
  tenantId: string;
  domain: string;
  inboxId: string;
  inboxEmail: string;
  campaignId: string;
  stepId: string;
  leads: FixtureLead[];
}

export interface SentMessage {
  id: string;
  rfcMessageId: string;
  toEmail: string;
}


export async function createSendingTenant(
  db: Queryable,
  label: string,
  { leads = 2, stopOnReply = true, imapSettings = {} }: { leads?: number; stopOnReply?: boolean; imapSettings?: Record<string, unknown> } = {},
): Promise<SendingTenant> {
  const name = uniqueName(label);
  const domain = `${name}.example`;
  const { tenantId } = await createOwnedTenant(db, label, { email: `owner@${domain}`, password: null, tenantName: 'Acme ' + label });
  const [dom] = await db.query(sql`
    insert into app_public.domains (tenant_id, domain, verification_status, verified_at)
    values (${tenantId}, ${domain}, 'verified', now()) returning id
  `);
  const inboxEmail = `sales@${domain}`;
  const [inbox] = await db.query(sql`
    insert into app_public.email_accounts (tenant_id, domain_id, email, from_name, provider, imap_settings)
    values (${tenantId}, ${dom.id}, ${inboxEmail}, 'Sam at Acme', 'smtp', ${JSON.stringify(imapSettings)}::jsonb) returning id
  `);
  const [template] = await db.query(sql`
    insert into app_public.templates (tenant_id, name, subject, content, text_content)
    values (${tenantId}, 'First touch', 'Quick question', '<p>Hi {{ lead.first_name }}</p>', 'Hi {{ lead.first_name }}') returning id
  `);
  const [campaign] = await db.query(sql`
    insert into app_public.campaigns (tenant_id, name, status, started_at, stop_on_reply, from_name)
    values (${tenantId}, ${'Outbound ' + label}, 'sending', now(), ${stopOnReply}, 'Sam from Acme') returning id
  `);
  await db.query(sql`
    insert into app_public.campaign_email_accounts (tenant_id, campaign_id, email_account_id) values (${tenantId}, ${campaign.id}, ${inbox.id})
  `);
  const [step] = await db.query(sql`
    insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, template_id)
    values (${tenantId}, ${campaign.id}, 1, 'email', ${template.id}) returning id
  `);
  await db.query(sql`
    insert into app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order, step_type, wait_duration_hours)
    values (${tenantId}, ${campaign.id}, 2, 'wait', 48)
  `);
  const fixtureLeads: FixtureLead[] = [];
  for (let i = 0; i < leads; i++) {
    const email = `lead${i}@customer-${name}.example`;
    const [lead] = await db.query(sql`
      insert into app_public.leads (tenant_id, email, first_name) values (${tenantId}, ${email}, ${'Lead' + i}) returning id
    `);
    const [enrollment] = await db.query(sql`
      insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, current_step_order, email_account_id, steps_completed, next_run_at)
      values (${tenantId}, ${campaign.id}, ${lead.id}, 'active', 2, ${inbox.id}, 1, now() + interval '2 days') returning id
    `);
    fixtureLeads.push({ id: lead.id, email, enrollmentId: enrollment.id });
  }
  return { tenantId, domain, inboxId: inbox.id, inboxEmail, campaignId: campaign.id, stepId: step.id, leads: fixtureLeads };
}

/** An outbound message to a lead that SMTP accepted (status sent, a Message-ID at our domain). */
export async function insertSentMessage(
  db: Queryable,
  t: SendingTenant,
  lead: FixtureLead,
  { subject = 'Quick question', status = 'sent' }: { subject?: string; status?: string } = {},
): Promise<SentMessage> {
  const rfcMessageId = `${randomUUID()}@${t.domain}`;
  const [message] = await db.query(sql`
    insert into app_public.messages (tenant_id, direction, status, email_account_id, campaign_id, enrollment_id, step_id, lead_id,
      from_email, to_email, subject, rfc_message_id, sent_at, send_attempts)
    values (${t.tenantId}, 'outbound', ${status}, ${t.inboxId}, ${t.campaignId}, ${lead.enrollmentId}, ${t.stepId}, ${lead.id},
      ${t.inboxEmail}, ${lead.email}, ${subject}, ${rfcMessageId}, now(), 1)
    returning id
  `);
  await db.query(sql`
    update app_public.campaign_enrollments set thread_message_id = coalesce(thread_message_id, ${message.id})
    where tenant_id = ${t.tenantId} and id = ${lead.enrollmentId}
  `);
  return { id: message.id, rfcMessageId, toEmail: lead.email };
}

/** The state the tracking and reply rules act on, for one message and its lead. */
export async function messageState(db: Queryable, tenantId: string, messageId: string) {
  const [row] = await db.query(sql`
    select m.status, e.status as enrollment, e.stop_reason, l.status as lead,
           exists (select 1 from app_public.suppressions s where s.tenant_id = l.tenant_id and s.email = l.email) as suppressed
    from app_public.messages m
    left join app_public.campaign_enrollments e on e.tenant_id = m.tenant_id and e.id = m.enrollment_id
    left join app_public.leads l on l.tenant_id = m.tenant_id and l.id = m.lead_id
    where m.tenant_id = ${tenantId} and m.id = ${messageId}
  `);
  return row as { status: string; enrollment: string; stop_reason: string | null; lead: string; suppressed: boolean };
}

export async function eventsOf(db: Queryable, tenantId: string, messageId: string) {
  return (await db.query(sql`
    select event_type, host(ip_address) as ip, user_agent, link_url, metadata
    from app_public.email_events where tenant_id = ${tenantId} and message_id = ${messageId} order by id
  `)) as Array<{ event_type: string; ip: string | null; user_agent: string | null; link_url: string | null; metadata: Record<string, unknown> }>;
}
