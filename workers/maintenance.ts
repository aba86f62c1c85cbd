/**
 * Scheduled housekeeping: expired tokens and
 * invitations, and message/event partitions created three months ahead.
 */
import type { Task } from 'graphile-worker';

export const cleanupExpiredTokens: Task = async (_payload, helpers) => {
  const { rows } = await helpers.query<{ n: number }>('select app_private.cleanup_expired_tokens() as n');
  helpers.logger.info(`removed ${rows[0]?.n ?? 0} expired tokens`);
};

export const ensurePartitions: Task = async (_payload, helpers) => {
  await helpers.query(`
    select app_private.ensure_monthly_partitions(t, now()::date, (now() + interval '3 months')::date)
    from unnest(array['app_public.messages', 'app_public.email_events']::regclass[]) t
  `);
};
