/**
 * A job locked by a live worker that never received it: the statement that
 * fetched it committed, and the database went away before the answer came
 * back (measured by the crash soak: jobs fetched at the instant of an
 * immediate database stop stayed locked by a live pool, for graphile-worker's
 * four hours). The worker's liveness sweep unlocks such jobs, and only
 * those: a job the pool holds (queued locally or running) stays its own.
 */
import { eventually } from '../helpers/eventually.ts';
import { startWorld, type World } from './support/world.ts';
import { sql } from '../../src/db/pg.ts';

let w: World;
beforeAll(async () => {
  w = await startWorld();
}, 60_000);
afterAll(() => w?.close());

test('a job locked by a live pool that never received it runs within seconds; the SQL spares the jobs a pool knows', async () => {
  const [pool] = await w.t.owner.query(sql`select pool_id from app_private.worker_pools where pid = ${process.pid} order by last_seen desc limit 1`);
  expect(pool?.pool_id).toMatch(/^pool-/);
  // As if this pool's fetch committed 40 s ago and its answer was lost.
  const [job] = await w.t.owner.query(sql`select id from graphile_worker.add_job('cleanup_expired_tokens', '{}'::json, run_at => now() - interval '1 minute')`);
  await w.t.owner.query(sql`
    update graphile_worker._private_jobs set locked_by = ${pool.pool_id}, locked_at = now() - interval '40 seconds' where id = ${job.id}`);
  // It is unlocked by the sweep (every fifth liveness tick) and then run by the worker: gone from the queue
  // (or, should the task itself fail, back with an attempt counted and no longer this pool's).
  await eventually(async () => {
    const [row] = await w.t.owner.query(sql`select attempts, locked_by from graphile_worker._private_jobs where id = ${job.id}`);
    return !row || (row.attempts > 0 && row.locked_by !== pool.pool_id);
  }, 45_000, 250);

  // The SQL itself: a known job, or a lock younger than 30 s, is left alone.
  const [known] = await w.t.owner.query(sql`select id from graphile_worker.add_job('warmup_tick', '{}'::json, run_at => now() + interval '1 hour')`);
  const [fresh] = await w.t.owner.query(sql`select id from graphile_worker.add_job('warmup_tick', '{}'::json, run_at => now() + interval '1 hour')`);
  const [orphan] = await w.t.owner.query(sql`select id from graphile_worker.add_job('warmup_tick', '{}'::json, run_at => now() + interval '1 hour')`);
  await w.t.owner.query(sql`
    update graphile_worker._private_jobs set locked_by = 'pool-test-orphans',
      locked_at = case when id = ${fresh.id} then now() - interval '5 seconds' else now() - interval '40 seconds' end
    where id in (${known.id}, ${fresh.id}, ${orphan.id})`);
  const [released] = await w.t.owner.query(sql`select app_private.release_orphaned_jobs('pool-test-orphans', array[${known.id}]::bigint[]) as ids`);
  expect(released.ids).toEqual([orphan.id]);
  const locked = await w.t.owner.query(sql`select id from graphile_worker._private_jobs where locked_by = 'pool-test-orphans' order by id`);
  expect(locked.map((r) => r.id)).toEqual([known.id, fresh.id].sort((a, b) => Number(a) - Number(b)));
  await w.t.owner.query(sql`delete from graphile_worker._private_jobs where id in (${known.id}, ${fresh.id}, ${orphan.id})`);
}, 90_000);
