/**
 * safety_pause_notice: tells the owners and admins of an organisation that
 * the platform paused one of its campaigns (bounce or complaint rate over the
 * limit) or stopped one of its inboxes (SMTP logins refused in a row, or its
 * bounce or complaint rate over the limit: functions/117), with
 * the reason (queued by functions/116-safety-pauses.sql). It is the
 * notification of kind safety_pause (workers/notices/notify.ts): each owner
 * and admin gets it unless they turned it off (email_notifications, or its
 * unsubscribe link). Campaign names are the tenant's own text, shown quoted.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { quoteUserText } from '../../src/mail/system-mailer.ts';
import type { TaskDeps } from '../../src/worker/context.ts';
import { notifyMembers } from './notify.ts';

const Payload = z.object({
  tenant_id: z.uuid(),
  campaign_id: z.uuid().nullable().optional(),
  email_account_id: z.uuid().nullable().optional(),
});

interface Paused {
  what: string;
  reason: string;
  tenant_name: string;
}

export function safetyPauseNotice(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    let paused: Paused | undefined;
    if (payload.campaign_id) {
      const { rows: [row] } = await helpers.query<{ name: string; reason: string; tenant_name: string }>(
        `select c.name, c.pause_reason as reason, t.name as tenant_name from app_public.campaigns c
         join app_public.tenants t on t.id = c.tenant_id
         where c.tenant_id = $1 and c.id = $2 and c.status = 'paused' and c.safety_pause is not null`,
        [payload.tenant_id, payload.campaign_id],
      );
      if (row) paused = { what: `The campaign ${quoteUserText(row.name)}`, reason: row.reason, tenant_name: row.tenant_name };
    } else if (payload.email_account_id) {
      const { rows: [row] } = await helpers.query<{ email: string; reason: string; tenant_name: string }>(
        `select ea.email::text, ea.pause_reason as reason, t.name as tenant_name from app_public.email_accounts ea
         join app_public.tenants t on t.id = ea.tenant_id
         where ea.tenant_id = $1 and ea.id = $2 and ea.status <> 'active' and ea.pause_reason is not null`,
        [payload.tenant_id, payload.email_account_id],
      );
      if (row) paused = { what: `The inbox ${row.email}`, reason: row.reason, tenant_name: row.tenant_name };
    }
    // Resumed (or deleted) since: nothing to say.
    if (!paused) return;
    const subject = payload.campaign_id
      ? 'A campaign of your organisation was paused automatically'
      : 'An inbox of your organisation stopped sending';
    await notifyMembers(deps, helpers, payload.tenant_id, 'safety_pause', {
      subject,
      text: `Hello,\n\n${paused.what} of the organisation ${quoteUserText(paused.tenant_name)} was paused by PenguinMails.\n\n${paused.reason}\n\nNothing more is sent from it until it is resumed (${deps.appUrl}).`,
    });
  };
}
