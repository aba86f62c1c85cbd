/**
 * On a Citus cluster, jobs queued by triggers on tenant tables wait in
 * app_private.job_outbox on the worker nodes (functions/002-jobs.sql); this
 * moves them into graphile-worker's queue on the coordinator every
 * `intervalMs`. On one PostgreSQL nothing is ever in the outbox and this does
 * nothing after its first check.
 */
import pg from 'pg';

export interface OutboxDrain {
  close(): Promise<void>;
}

export interface OutboxDrainOptions {
  /** How often the outbox is emptied (default 250 ms: a job queued on a worker node runs at most that much later). */
  intervalMs?: number;
  log?: (message: string) => void;
}

export function startOutboxDrain(connectionString: string, { intervalMs = 250, log = () => undefined }: OutboxDrainOptions = {}): OutboxDrain {
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let failures = 0;
  let running: Promise<void> | null = null;

  const drain = async () => {
    try {
      if (!client) {
        const next = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000, application_name: 'penguinmails job outbox' });
        next.on('error', () => {
          if (client === next) client = null;
        });
        await next.connect();
        const { rows } = await next.query(`select 1 from pg_extension where extname = 'citus'`);
        if (rows.length === 0) {
          // One PostgreSQL: triggers queue their jobs directly.
          await next.end();
          closed = true;
          return;
        }
        client = next;
      }
      await client.query('select app_private.drain_job_outbox()');
      failures = 0;
    } catch (error) {
      failures++;
      const old = client;
      client = null;
      if (old) void old.end().catch(() => undefined);
      if (failures === 1 || failures % 20 === 0) log(`job outbox: ${(error as Error).message} (retrying)`);
    }
  };

  const loop = () => {
    if (closed) return;
    running = drain().finally(() => {
      running = null;
      if (closed) return;
      timer = setTimeout(loop, failures === 0 ? intervalMs : Math.min(250 * 2 ** failures, 5_000));
      timer.unref();
    });
  };
  loop();

  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
      await client?.end().catch(() => undefined);
      client = null;
    },
  };
}
