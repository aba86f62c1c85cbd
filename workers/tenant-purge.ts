/**
 * Closed organisations (functions/285-account-closure.sql): tenant_purge_sweep
 * (daily) queues a tenant_purge job for each one whose 30-day grace period is
 * over, and each job deletes that tenant's data for good in one transaction
 * (app_private.purge_tenant), keeping its subscriptions and payments.
 */
import { z } from 'zod';
import type { Task } from 'graphile-worker';

const Payload = z.object({ tenant_id: z.uuid() });

export const tenantPurgeSweep: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ n: number }>('select app_private.queue_tenant_purges() as n');
  helpers.logger.info(`queued ${rows[0]?.n ?? 0} tenant purges`);
};

export const tenantPurge: Task = async (rawPayload, helpers) => {
  const { tenant_id: tenantId } = Payload.parse(rawPayload);
  const { rows } = await helpers.query<{ n: string }>('select app_private.purge_tenant($1) as n', [tenantId]);
  helpers.logger.info(`tenant ${tenantId}: ${rows[0]?.n ?? 0} rows deleted`);
};
