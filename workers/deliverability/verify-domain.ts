/**
 * verify_domain: resolves a domain's records (src/dns/check-domain.ts) and
 * hands the findings to app_private.record_domain_check, which keeps every
 * status, counter and the next check time. domain_verification_sweep (every
 * minute) queues the domains, and the custom tracking domains
 * (verify-tracking-domain.ts), whose next check has come.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';
import { checkDomain } from '../../src/dns/check-domain.ts';
import { CheckPlan } from '../../src/dns/records.ts';
import type { TaskDeps } from '../../src/worker/context.ts';
import { dnsChecks } from '../../src/metrics/registry.ts';

const VerifyPayload = z.object({ tenant_id: z.uuid(), domain_id: z.uuid() });

export function verifyDomain(deps: TaskDeps): Task {
  return async (rawPayload, helpers) => {
    const payload = VerifyPayload.parse(rawPayload);
    const { rows } = await helpers.query<{ plan: unknown }>('select app_private.domain_check_plan($1, $2) as plan', [payload.tenant_id, payload.domain_id]);
    if (!rows[0]?.plan) {
      helpers.logger.debug(`domain ${payload.domain_id} is gone; nothing to verify`);
      return;
    }
    const plan = CheckPlan.parse(rows[0].plan);
    const results = await checkDomain(deps.dns, plan);
    const { rows: updated } = await helpers.query<{ status: string | null }>(
      'select (app_private.record_domain_check($1, $2, $3::jsonb, $4, $5)).verification_status as status',
      [payload.tenant_id, payload.domain_id, JSON.stringify(results), plan.fingerprint, plan.planned_at],
    );
    dnsChecks.inc({ status: updated[0]?.status ?? 'gone' });
    helpers.logger.debug(`domain ${plan.domain}: ${updated[0]?.status ?? 'gone'}`);
  };
}

export const domainVerificationSweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ n: number; tracking: number }>(
    'select app_private.queue_due_domain_checks() as n, app_private.queue_due_tracking_domain_checks() as tracking',
  );
  helpers.logger.debug(`queued ${rows[0]?.n ?? 0} domain checks and ${rows[0]?.tracking ?? 0} tracking domain checks`);
};
