/**
 * Sends one notification to the members who are to get it
 * (app_private.notification_recipients decides who, from the event's kind and
 * everyone's preferences, when the job runs), through the system mailer. Each
 * email is addressed to one person and carries that person's unsubscribe
 * link for this kind, in its footer and as RFC 8058 List-Unsubscribe and
 * List-Unsubscribe-Post headers (src/mail/notification-links.ts). The text is
 * the platform's; anything a tenant or a stranger typed goes in through
 * quoteUserText by the caller. The HTML is the text, paragraph by paragraph.
 * Each email is sent in the transaction that records it (sendOnce), so a job
 * that failed halfway emails on its retry only those it had not reached.
 */
import type { JobHelpers } from 'graphile-worker';
import { KIND_LABELS, type NotificationKind } from '../../src/mail/notification-links.ts';
import type { TaskDeps } from '../../src/worker/context.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface Recipient {
  user_id: string;
  email: string;
}

/** Who gets this kind of notification in the tenant now (campaignId: the campaign a reply or completion is about). */
export async function recipientsOf(helpers: Pick<JobHelpers, 'query'>, tenantId: string, kind: NotificationKind, campaignId: string | null = null): Promise<Recipient[]> {
  const { rows } = await helpers.query<Recipient>('select user_id, email from app_private.notification_recipients($1, $2, $3)', [tenantId, kind, campaignId]);
  return rows;
}

/** The email of one notification to one recipient, with their unsubscribe link for the kind. */
export function notificationMail(deps: TaskDeps, to: Recipient, kind: NotificationKind, mail: { subject: string; text: string }) {
  const unsubscribe = deps.notificationLinks.unsubscribeUrl(deps.sending.publicUrl, to.user_id, kind);
  const footer = `You get this email because of your PenguinMails notification settings. To stop emails about ${KIND_LABELS[kind]}: ${unsubscribe}`;
  const text = `${mail.text}\n\n--\n${footer}`;
  const html = mail.text.split('\n\n').map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`).join('') +
    `<hr><p style="color:#616e7c;font-size:0.9em">You get this email because of your PenguinMails notification settings. ` +
    `<a href="${escapeHtml(unsubscribe)}">Stop emails about ${escapeHtml(KIND_LABELS[kind])}</a>.</p>`;
  return {
    to: to.email,
    subject: mail.subject,
    text,
    html,
    headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}

/**
 * Sends one email in the transaction that records it (`claim`: a statement
 * returning `claimed`, false when it was recorded before): the email goes out
 * only if the record is new, and a failed send records nothing. A job that
 * failed halfway and runs again emails only those it had not reached.
 * Returns whether it sent.
 */
export async function sendOnce(
  deps: TaskDeps,
  helpers: Pick<JobHelpers, 'withPgClient'>,
  claim: { text: string; values: unknown[] },
  mail: ReturnType<typeof notificationMail>,
): Promise<boolean> {
  return helpers.withPgClient(async (client) => {
    await client.query('begin');
    try {
      const { rows: [row] } = await client.query<{ claimed: boolean }>(claim.text, claim.values);
      if (!row?.claimed) {
        await client.query('rollback');
        return false;
      }
      await deps.systemMailer.send(mail);
      await client.query('commit');
      return true;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * Sends the notification to each recipient of the kind, each email once
 * however often the job runs (app_private.claim_notification, keyed by the
 * job's id); returns how many were sent by this run.
 */
export async function notifyMembers(
  deps: TaskDeps,
  helpers: Pick<JobHelpers, 'query' | 'withPgClient' | 'job'>,
  tenantId: string,
  kind: NotificationKind,
  mail: { subject: string; text: string },
  campaignId: string | null = null,
): Promise<number> {
  const notice = `job:${helpers.job.id}`;
  let sent = 0;
  for (const to of await recipientsOf(helpers, tenantId, kind, campaignId)) {
    const claim = { text: 'select app_private.claim_notification($1, $2, $3) as claimed', values: [tenantId, notice, to.user_id] };
    if (await sendOnce(deps, helpers, claim, notificationMail(deps, to, kind, mail))) sent++;
  }
  return sent;
}
