/**
 * Scheduled billing work (crontab in src/worker/runner.ts). Both tasks only
 * call SQL functions that are idempotent and safe to run late or twice:
 *   billing_roll_over  closes ended usage periods, applies pending plans and
 *                      cancellations, opens the next periods;
 *   billing_dunning    turns subscriptions past due for longer than
 *                      DUNNING_GRACE_DAYS into unpaid (campaigns paused).
 */
import type { Task } from 'graphile-worker';
import type { TaskDeps } from '../src/worker/context.ts';

export const billingRollOver: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ tenant_id: string; periods_closed: number; error: string | null }>(
    'select tenant_id, periods_closed, error from app_private.roll_over_due_periods(now())',
  );
  const failed = rows.filter((r) => r.error);
  const closed = rows.reduce((n, r) => n + r.periods_closed, 0);
  if (closed > 0) helpers.logger.info(`rolled over ${closed} usage period(s) for ${rows.length - failed.length} tenant(s)`);
  if (failed.length) {
    // The others are done (one subtransaction per tenant); failing the job retries these.
    throw new Error(`Roll-over failed for ${failed.length} tenant(s): ${failed.map((r) => `${r.tenant_id}: ${r.error}`).join('; ')}`);
  }
};

export function billingDunning(deps: TaskDeps): Task {
  return async (_payload, helpers) => {
    const { rows } = await helpers.query<{ tenant_id: string }>(
      'select tenant_id from app_private.apply_dunning(make_interval(days => $1::int), now())',
      [deps.env.DUNNING_GRACE_DAYS],
    );
    if (rows.length) helpers.logger.info(`dunning: ${rows.length} subscription(s) became unpaid; their campaigns are paused`);
  };
}
