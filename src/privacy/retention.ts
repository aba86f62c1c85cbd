/**
 * Retention (docs/privacy.md): monthly partitions of messages and email_events
 * older than retention.messages_days are detached and dropped whole; finished
 * webhook history older than retention.webhook_days, audit entries older than
 * retention.audit_days and processed Stripe events older than
 * retention.stripe_event_days are deleted in batches; soft-deleted deals, CRM
 * accounts and memberships past their grace period are deleted. Each step is
 * its own statement (its own transaction): on Citus a partition's DDL cannot
 * follow multi-shard writes in one transaction.
 */

/** Runs one statement in a transaction of its own and returns its rows. */
export type RunStatement = (text: string, values?: unknown[]) => Promise<unknown[]>;

export interface RetentionOutcome {
  /** The partitions dropped, oldest first (app_public.messages_y2025m01, …). */
  droppedPartitions: string[];
  /** Rows elsewhere unlinked from or deleted with the dropped messages. */
  releasedRows: number;
  /** Webhook events deleted (with their deliveries). */
  webhookEvents: number;
  /** Rows deleted per table: old audit entries and Stripe events, soft-deleted rows past their grace period. */
  purged: Record<string, number>;
}

interface ExpiredPartition {
  partition: string;
  parent: string;
  lower_id: string;
  upper_id: string;
}

export async function applyRetention(run: RunStatement, at: Date = new Date()): Promise<RetentionOutcome> {
  const expired = (await run(
    `select partition::text, parent::text, lower_id, upper_id from app_private.expired_partitions($1)`,
    [at],
  )) as ExpiredPartition[];
  const droppedPartitions: string[] = [];
  let releasedRows = 0;
  for (const p of expired) {
    if (p.parent === 'app_public.messages') {
      releasedRows += await count(run, `select app_private.release_message_partition($1, $2) as n`, [p.lower_id, p.upper_id]);
    }
    await run(`select app_private.drop_monthly_partition($1::regclass)`, [p.partition]);
    droppedPartitions.push(p.partition);
  }
  const webhookEvents = await count(run, `select app_private.purge_webhook_history($1) as n`, [at]);
  const purged: Record<string, number> = {};
  for (const fn of ['purge_old_records', 'purge_soft_deleted']) {
    for (const row of (await run(`select table_name, deleted from app_private.${fn}($1)`, [at])) as { table_name: string; deleted: number }[]) {
      purged[row.table_name] = row.deleted;
    }
  }
  return { droppedPartitions, releasedRows, webhookEvents, purged };
}

async function count(run: RunStatement, text: string, values: unknown[]): Promise<number> {
  const [row] = (await run(text, values)) as { n: number | string }[];
  return Number(row?.n ?? 0);
}
