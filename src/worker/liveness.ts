/**
 * Worker liveness (functions/300-worker-liveness.sql): this process tells the
 * database which graphile-worker pools it runs, and frees the jobs of pools
 * whose process is gone.
 *
 * On one connection of its own it holds the advisory lock
 * app_private.worker_lock_key(pool id) of every pool it runs and refreshes
 * their app_private.worker_pools rows; on every tick (at start-up, then every
 * `intervalMs`) it runs app_private.release_dead_workers(), which hands the
 * locked jobs of dead pools back to the queue (pools that never registered:
 * on the first tick and every 20th). The connection is re-opened
 * with a short backoff when it fails (a database restart): the locks are
 * taken again before the 10 s grace of last_seen runs out. A pool this process
 * stopped itself (the supervisor restarts it) is retired: its jobs are freed
 * at once and its lock and row dropped.
 */
import os from 'node:os';
import pg from 'pg';

export interface Liveness {
  /** A pool started: take its lock and register it (now, or as soon as the database answers). */
  register(poolId: string): void;
  /** A pool that stopped for good: free its locked jobs, drop its lock and row. */
  retire(poolId: string): void;
  /** Runs a tick now (registration, heartbeat, retirements, the dead-worker sweep); resolves when it is done. */
  tick(): Promise<void>;
  /** Stops the ticks and drops this process's rows and locks (their jobs were released by the pools' own stop). */
  close(): Promise<void>;
}

export interface LivenessOptions {
  /** Heartbeat and sweep period (default 3 s; a dead pool is detected 10 s after it was last seen). */
  intervalMs?: number;
  log?: (message: string) => void;
  /**
   * The ids of the jobs a pool of this process knows it holds (queued
   * locally, running, or completed in the last minute). Every fifth tick,
   * other jobs the database says the pool has locked for over 30 s are
   * unlocked (app_private.release_orphaned_jobs): a fetch that committed
   * while its answer was lost to a database restart.
   */
  knownJobs?: (poolId: string) => readonly string[];
}

export function startLiveness(connectionString: string, { intervalMs = 3_000, log = () => undefined, knownJobs }: LivenessOptions = {}): Liveness {
  const pools = new Set<string>();
  const retiring = new Set<string>();
  /** Pools whose lock the current connection holds. */
  const held = new Set<string>();
  let client: pg.Client | null = null;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let ticks = 0;

  const dropClient = () => {
    const old = client;
    client = null;
    held.clear();
    if (old) void old.end().catch(() => undefined);
  };

  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    const next = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000, application_name: 'penguinmails worker liveness' });
    // A lost connection (database restart) surfaces here; the next tick opens a new one.
    next.on('error', () => {
      if (client === next) dropClient();
    });
    await next.connect();
    client = next;
    return next;
  };

  const once = async () => {
    try {
      const c = await connect();
      for (const poolId of pools) {
        if (held.has(poolId)) continue;
        await c.query('select pg_advisory_lock(app_private.worker_lock_key($1))', [poolId]);
        held.add(poolId);
      }
      if (held.size > 0) {
        await c.query(
          `insert into app_private.worker_pools (pool_id, hostname, pid) select unnest($1::text[]), $2, $3
           on conflict (pool_id) do update set last_seen = now(), hostname = excluded.hostname, pid = excluded.pid`,
          [[...held], os.hostname(), process.pid],
        );
      }
      if (retiring.size > 0) {
        const ids = [...retiring];
        await c.query('select graphile_worker.force_unlock_workers($1::text[])', [ids]);
        await c.query('delete from app_private.worker_pools where pool_id = any ($1::text[])', [ids]);
        for (const id of ids) {
          if (held.delete(id)) await c.query('select pg_advisory_unlock(app_private.worker_lock_key($1))', [id]);
          retiring.delete(id);
        }
      }
      // Pools that never registered: at start-up and about once a minute (that part scans the job table).
      const tickNumber = ticks++;
      const { rows } = await c.query<{ released: string[] }>('select app_private.release_dead_workers($1) as released', [tickNumber % 20 === 0]);
      const released = rows[0]?.released ?? [];
      if (released.length > 0) log(`released the jobs of stopped workers: ${released.join(', ')}`);
      if (knownJobs && tickNumber % 5 === 4) {
        for (const poolId of held) {
          const { rows: orphans } = await c.query<{ ids: string[] }>('select app_private.release_orphaned_jobs($1, $2::bigint[]) as ids', [poolId, knownJobs(poolId)]);
          const ids = orphans[0]?.ids ?? [];
          if (ids.length > 0) log(`unlocked jobs ${ids.join(', ')}: locked by this process's pool ${poolId}, which never received them (a database restart)`);
        }
      }
      failures = 0;
    } catch (error) {
      failures++;
      dropClient();
      if (failures === 1 || failures % 20 === 0) log(`liveness: ${(error as Error).message} (retrying)`);
    }
  };

  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    // After a failure (database restarting), come back soon so the locks are held again within the grace.
    const delay = failures === 0 ? intervalMs : Math.min(250 * 2 ** (failures - 1), 1_000);
    timer = setTimeout(() => void tick(), delay);
    timer.unref();
  };

  const tick = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await once();
      } while (again && !closed);
    })().finally(() => {
      running = null;
      schedule();
    });
    return running;
  };

  return {
    register(poolId) {
      pools.add(poolId);
      void tick();
    },
    retire(poolId) {
      pools.delete(poolId);
      retiring.add(poolId);
      void tick();
    },
    tick,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
      const c = client;
      client = null;
      if (!c) return;
      try {
        await c.query('delete from app_private.worker_pools where pool_id = any ($1::text[])', [[...held, ...retiring]]);
      } catch {
        // The rows of a process that is gone are dropped by the next sweep anywhere.
      }
      held.clear();
      await c.end().catch(() => undefined);
    },
  };
}
