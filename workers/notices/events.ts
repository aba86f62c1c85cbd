/**
 * send_notification: the email of one event of an organisation (queued by
 * app_private.queue_notification in the transaction of the event,
 * functions/295-notifications.sql), to the members notification_recipients
 * names when the job runs. An event whose row is gone or no longer in that
 * state (a domain verified since, a payment that went through) sends nothing.
 * Names, subjects and addresses someone typed are shown through quoteUserText.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { quoteUserText } from '../../src/mail/system-mailer.ts';
import type { TaskDeps } from '../../src/worker/context.ts';
import { notifyMembers } from './notify.ts';

const Payload = z.object({
  tenant_id: z.uuid(),
  kind: z.enum(['reply_received', 'campaign_completed', 'domain_verification_failed', 'payment_failed']),
  subject_id: z.uuid(),
});

interface Event {
  subject: string;
  text: string;
  campaignId?: string | null;
}

type Query = Parameters<Task>[1]['query'];

async function describe(query: Query, appUrl: string, { tenant_id: tenantId, kind, subject_id: id }: z.infer<typeof Payload>): Promise<Event | null> {
  const { rows: [tenant] } = await query<{ name: string }>('select t.name from app_public.tenants t where t.id = $1', [tenantId]);
  if (!tenant) return null;
  const org = quoteUserText(tenant.name);
  switch (kind) {
    case 'reply_received': {
      const { rows: [m] } = await query<{ from_email: string; subject: string | null; campaign_id: string | null; campaign_name: string | null; inbox: string | null }>(
        `select m.from_email::text, m.subject, m.campaign_id, c.name as campaign_name, ea.email::text as inbox
         from app_public.messages m
         left join app_public.campaigns c on c.tenant_id = $1 and c.id = m.campaign_id
         left join app_public.email_accounts ea on ea.tenant_id = $1 and ea.id = m.email_account_id
         where m.tenant_id = $1 and m.id = $2 and m.direction = 'inbound'`,
        [tenantId, id],
      );
      if (!m) return null;
      const about = m.campaign_name ? ` to the campaign ${quoteUserText(m.campaign_name)}` : '';
      return {
        subject: m.campaign_name ? `New reply to ${quoteUserText(m.campaign_name)}` : 'New reply in your inbox',
        text: `Hello,\n\n${quoteUserText(m.from_email)} replied${about} in the organisation ${org}` +
          `${m.inbox ? ` (inbox ${m.inbox})` : ''}.\n\nSubject: ${quoteUserText(m.subject ?? '')}\n\nRead and answer it in PenguinMails: ${appUrl}`,
        campaignId: m.campaign_id,
      };
    }
    case 'campaign_completed': {
      const { rows: [c] } = await query<{ name: string }>(
        `select c.name from app_public.campaigns c where c.tenant_id = $1 and c.id = $2 and c.status = 'completed'`,
        [tenantId, id],
      );
      if (!c) return null;
      return {
        subject: `Campaign ${quoteUserText(c.name)} completed`,
        text: `Hello,\n\nThe campaign ${quoteUserText(c.name)} of the organisation ${org} has completed: every lead went through its sequence.\n\nSee its results in PenguinMails: ${appUrl}`,
        campaignId: id,
      };
    }
    case 'domain_verification_failed': {
      const { rows: [d] } = await query<{ domain: string; error: string | null }>(
        `select d.domain::text, d.dns_verification_error as error from app_public.domains d
         where d.tenant_id = $1 and d.id = $2 and d.verification_status = 'failed'`,
        [tenantId, id],
      );
      if (!d) return null;
      return {
        subject: `Domain ${d.domain} failed verification`,
        text: `Hello,\n\nThe domain ${d.domain} of the organisation ${org} failed DNS verification; nothing is sent from it until its records are right.` +
          `${d.error ? `\n\n${d.error}` : ''}\n\nCheck the records to publish in PenguinMails: ${appUrl}`,
      };
    }
    case 'payment_failed': {
      const { rows: [p] } = await query<{ amount: string; currency: string; description: string | null }>(
        `select p.amount::text, p.currency, p.description from app_public.payments p
         where p.tenant_id = $1 and p.id = $2 and p.status = 'failed'`,
        [tenantId, id],
      );
      if (!p) return null;
      return {
        subject: 'A payment for your PenguinMails subscription failed',
        text: `Hello,\n\nA payment of ${p.amount} ${p.currency} for the organisation ${org} failed${p.description ? ` (${p.description})` : ''}.` +
          `\n\nUpdate the payment method to keep sending: campaigns pause if the subscription stays unpaid. ${appUrl}`,
      };
    }
  }
}

export function sendNotification(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    const event = await describe(helpers.query.bind(helpers) as Query, deps.appUrl, payload);
    if (!event) return;
    const sent = await notifyMembers(deps, helpers, payload.tenant_id, payload.kind, event, event.campaignId ?? null);
    helpers.logger.info(`${payload.kind} notification sent to ${sent} member(s)`);
  };
}
