/**
 * Emails to the owners and admins of an organisation, through the system
 * mailer (a webhook subscription disabled). The
 * text is the platform's; anything a tenant typed goes in through
 * quoteUserText by the caller. The HTML is the text, paragraph by paragraph.
 */
import type { JobHelpers } from 'graphile-worker';
import type { TaskDeps } from '../../src/worker/context.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Sends one email to each owner and admin of the tenant; returns how many were sent. */
export async function emailTenantAdmins(
  deps: TaskDeps,
  helpers: Pick<JobHelpers, 'query'>,
  tenantId: string,
  mail: { subject: string; text: string },
): Promise<number> {
  const { rows: admins } = await helpers.query<{ email: string }>(
    `select tu.email::text from app_public.tenant_users tu
     where tu.tenant_id = $1 and tu.deleted_at is null and tu.roles && array['owner', 'admin']`,
    [tenantId],
  );
  const html = mail.text.split('\n\n').map((p) => `<p>${escapeHtml(p)}</p>`).join('');
  for (const admin of admins) {
    await deps.systemMailer.send({ to: admin.email, subject: mail.subject, text: mail.text, html });
  }
  return admins.length;
}
