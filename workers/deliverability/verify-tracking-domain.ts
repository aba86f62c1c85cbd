/**
 * verify_tracking_domain: checks that a custom tracking domain is a CNAME to
 * the platform's tracking host (TRACKING_CNAME_TARGET, else PUBLIC_URL's
 * host), through the deliverability resolver (DNS_SERVERS), and hands the
 * outcome to app_private.record_tracking_domain_check, which keeps the status,
 * the platform-wide claim of the host and the next check time. Queued by
 * addTrackingDomain, verifyTrackingDomain and domain_verification_sweep.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { checkAddressOrAlias } from '../../src/dns/check-alias.ts';
import { trackingCnameTarget } from '../../src/tracking/custom-host.ts';
import type { TaskDeps } from '../../src/worker/context.ts';

const Payload = z.object({ tenant_id: z.uuid(), tracking_domain_id: z.uuid() });
const Plan = z.object({ hostname: z.string(), planned_at: z.string() });

export function verifyTrackingDomain(deps: TaskDeps): Task {
  const target = trackingCnameTarget(deps.env, deps.sending.publicUrl);
  return async (rawPayload, helpers) => {
    const payload = Payload.parse(rawPayload);
    const { rows } = await helpers.query<{ plan: unknown }>('select app_private.tracking_domain_check_plan($1, $2) as plan', [
      payload.tenant_id,
      payload.tracking_domain_id,
    ]);
    if (!rows[0]?.plan) {
      helpers.logger.debug(`tracking domain ${payload.tracking_domain_id} is gone; nothing to verify`);
      return;
    }
    const plan = Plan.parse(rows[0].plan);
    const check = await checkAddressOrAlias(deps.dns, 'CNAME', plan.hostname, target);
    const { rows: updated } = await helpers.query<{ status: string | null }>(
      'select (app_private.record_tracking_domain_check($1, $2, $3, $4, $5, $6)).status as status',
      [payload.tenant_id, payload.tracking_domain_id, check.status, check.error, target, plan.planned_at],
    );
    helpers.logger.debug(`tracking domain ${plan.hostname}: ${updated[0]?.status ?? 'gone'}`);
  };
}
