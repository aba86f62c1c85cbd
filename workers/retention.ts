/**
 * The daily retention job (src/privacy/retention.ts): drops the message and
 * event partitions past retention, deletes old webhook history, audit entries
 * and Stripe events, and soft-deleted rows past their grace period.
 */
import type { Task } from 'graphile-worker';
import { applyRetention } from '../src/privacy/retention.ts';
import { queryRows } from '../src/db/query.ts';

export const retention: Task = async (_payload, helpers) => {
  const outcome = await applyRetention(queryRows(helpers));
  helpers.logger.info(
    `retention: dropped ${outcome.droppedPartitions.length} partitions (${outcome.droppedPartitions.join(', ') || 'none'}), ` +
      `released ${outcome.releasedRows} referencing rows, deleted ${outcome.webhookEvents} webhook events, ` +
      Object.entries(outcome.purged).map(([table, n]) => `${n} ${table}`).join(', '),
  );
};
