/**
 * warmup_tick (every 15 minutes, since time zones are offset by quarter
 * hours): resets daily counts at each inbox's local midnight (and each IP's
 * UTC midnight) and marks IPs whose warm-up ramp reached its target as warmed.
 */
import type { Task } from 'graphile-worker';

export const warmupTick: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ summary: { inboxes_reset: number; ips_reset: number; ips_warmed: number } }>(
    'select app_private.warmup_tick() as summary',
  );
  const s = rows[0]?.summary;
  if (s) helpers.logger.debug(`warm-up: ${s.inboxes_reset} inboxes and ${s.ips_reset} IPs started a new day, ${s.ips_warmed} IPs warmed`);
};
