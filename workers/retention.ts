/**
 * The daily retention job (src/privacy/retention.ts): drops the message and
 * event partitions past retention and old webhook history.
 */
import type { Task } from 'graphile-worker';
import { applyRetention } from '../src/privacy/retention.ts';
import { queryRows } from '../src/db/query.ts';

export const retention: Task = async (_payload, helpers) => {
  const outcome = await applyRetention(queryRows(helpers));
  helpers.logger.info(
    `retention: dropped ${outcome.droppedPartitions.length} partitions (${outcome.droppedPartitions.join(', ') || 'none'}), ` +
      `released ${outcome.releasedRows} referencing rows, deleted ${outcome.webhookEvents} webhook events`,
  );
};
