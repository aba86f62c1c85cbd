/**
 * The daily retention job (src/privacy/retention.ts): drops the message and
 * event partitions past retention and old webhook history.
 */
import type { Task } from 'graphile-worker';
import { applyRetention } from '../src/privacy/retention.ts';

export const retention: Task = async (_payload, helpers) => {
  const outcome = await applyRetention(async (text, values) => (await helpers.query(text, values)).rows);
  helpers.logger.info(
    `retention: dropped ${outcome.droppedPartitions.length} partitions (${outcome.droppedPartitions.join(', ') || 'none'}), ` +
      `released ${outcome.releasedRows} referencing rows, deleted ${outcome.webhookEvents} webhook events`,
  );
};
