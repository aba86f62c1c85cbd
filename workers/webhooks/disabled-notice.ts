/**
 * webhook_disabled_notice: tells the owners and admins of an organisation
 * that one of its webhooks was disabled after a delivery failed for its whole
 * retry schedule (queued by app_private.record_webhook_attempt). It is the
 * notification of kind webhook_disabled (workers/notices/notify.ts): each
 * owner and admin gets it unless they turned it off (email_notifications, or
 * its unsubscribe link). The URL is the tenant's own text, shown quoted.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { quoteUserText } from '../../src/mail/system-mailer.ts';
import type { TaskDeps } from '../../src/worker/context.ts';
import { notifyMembers } from '../notices/notify.ts';

const Payload = z.object({ tenant_id: z.uuid(), subscription_id: z.uuid() });

export function webhookDisabledNotice(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    const { rows: [subscription] } = await helpers.query<{ url: string; enabled: boolean; tenant_name: string }>(
      `select s.url, s.enabled, t.name as tenant_name from app_public.webhook_subscriptions s
       join app_public.tenants t on t.id = s.tenant_id
       where s.tenant_id = $1 and s.id = $2`,
      [payload.tenant_id, payload.subscription_id],
    );
    // Deleted or enabled again since: nothing to say.
    if (!subscription || subscription.enabled) return;
    const url = quoteUserText(subscription.url);
    const organisation = quoteUserText(subscription.tenant_name);
    await notifyMembers(deps, helpers, payload.tenant_id, 'webhook_disabled', {
      subject: 'A webhook of your organisation was disabled',
      text: `Hello,\n\nThe webhook ${url} of the organisation ${organisation} was disabled: a delivery to it failed on every attempt for about a day.\n\nEvents are still kept for it. Fix the endpoint, then enable the webhook again (${deps.appUrl}); the deliveries waiting go out in order, and the failed one can be replayed from the delivery log.`,
    });
  };
}
