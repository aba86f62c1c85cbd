/**
 * Conversations for the inbox tests: a lead's answer is recorded the way the
 * IMAP poller records it (app_private.record_inbound_message, src/imap/store.ts),
 * threaded by In-Reply-To to one of our messages.
 */
import { randomBytes } from 'node:crypto';
import { type World } from '../sending/support/world.ts';
import { sql } from '../../src/db/pg.ts';

export interface LeadAnswer {
  inboundId: string;
  rfcMessageId: string;
}

/** The lead answers an outbound message (by its id): returns the stored inbound message. */
export async function leadAnswers(w: World, tenantId: string, messageId: string, body = 'Sounds good, tell me more.', type = 'email'): Promise<LeadAnswer> {
  const [m] = await w.t.owner.query(sql`
    select m.email_account_id, m.rfc_message_id, m.references_header, m.to_email::text as lead_email, m.from_email::text as inbox_email, m.subject
    from app_public.messages m where m.tenant_id = ${tenantId} and m.id = ${messageId}`);
  const rfcMessageId = `${randomBytes(8).toString('hex')}@recipient.example`;
  const references = [...((m.references_header as string | null) ?? '').matchAll(/<([^>]+)>/g)].map((x) => x[1]!).concat(m.rfc_message_id);
  const [row] = await w.t.owner.query(sql`
    select * from app_private.record_inbound_message(${tenantId}, ${m.email_account_id}, ${type}, ${rfcMessageId}, ${m.rfc_message_id},
      ${references}::text[], ${m.lead_email}, ${m.inbox_email}, ${'Re: ' + (m.subject ?? '')}, ${body})`);
  if (!row.inbound_message_id) throw new Error(`the answer was not stored: ${row.outcome}`);
  return { inboundId: row.inbound_message_id, rfcMessageId };
}

/** An outbound message that went out (no campaign engine involved), with its Message-ID. */
export async function sentMessage(
  w: World,
  tenantId: string,
  spec: { inboxId: string; inboxEmail: string; leadId: string; leadEmail: string; campaignId?: string | null; subject?: string },
): Promise<string> {
  const [row] = await w.t.owner.query(sql`
    insert into app_public.messages (tenant_id, direction, status, email_account_id, campaign_id, lead_id, from_email, to_email, subject, rfc_message_id, sent_at)
    values (${tenantId}, 'outbound', 'sent', ${spec.inboxId}, ${spec.campaignId ?? null}, ${spec.leadId}, ${spec.inboxEmail}, ${spec.leadEmail},
            ${spec.subject ?? 'Hello'}, ${randomBytes(8).toString('hex') + '@' + spec.inboxEmail.split('@')[1]}, now())
    returning id`);
  return row.id;
}

export const CONVERSATION_FIELDS = `rowId subject unreadCount messageCount lastDirection lastMessageAt campaignId
  lead { rowId email status interestStatus } emailAccount { rowId email } lastMessage { rowId direction bodyText }`;
