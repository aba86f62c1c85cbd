--------------------------------------------------------------------------------
-- Worker liveness: the jobs of a worker process that is gone go back to the
-- queue within seconds instead of graphile-worker's four hours.
--
-- Every worker process (src/worker/liveness.ts) registers each graphile-worker
-- pool it runs in app_private.worker_pools and, on one connection of its own,
-- holds the session-level advisory lock worker_lock_key(pool_id) and refreshes
-- last_seen every few seconds. The lock dies with the process (or its
-- connection); last_seen gives a live process the time to take its locks
-- again after a database restart. release_dead_workers(), run by every
-- worker process at start-up and every few seconds (src/worker/liveness.ts),
-- frees the jobs (and job
-- queues) of pools that are gone with graphile-worker's own
-- force_unlock_workers(), so another worker runs them.
--------------------------------------------------------------------------------

create or replace function app_private.worker_lock_key(pool_id text) returns bigint
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select hashtextextended('penguinmails:worker:' || pool_id, 0);
$$;
comment on function app_private.worker_lock_key(text) is 'The advisory lock a live worker process holds (session level) for each graphile-worker pool it runs.';

create or replace function app_private.worker_dead_after() returns interval
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select interval '10 seconds';
$$;
comment on function app_private.worker_dead_after() is 'How long a registered pool whose lock is free may go unseen before its jobs are freed (covers a live process taking its locks again after a database restart).';

create or replace function app_private.release_dead_workers(include_unregistered boolean default false) returns text[]
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_dead text[];
begin
  select coalesce(array_agg(p.pool_id order by p.pool_id), '{}') into v_dead
  from (
    -- Registered pools not seen lately whose lock nobody holds. The lock is
    -- tried last, on the few rows left (a transaction-level try conflicts
    -- with the owner's session-level lock and is released at commit).
    select p.pool_id from app_private.worker_pools p
    where p.last_seen < now() - app_private.worker_dead_after()
      and pg_try_advisory_xact_lock(app_private.worker_lock_key(p.pool_id))
    union
    -- Pools that never registered (a process killed in the milliseconds
    -- between creating its pool and registering it) once their newest lock
    -- is 30 s old: every live pool is registered by then. This scans the job
    -- table (no index on locked_by), so callers ask for it only now and then.
    select j.locked_by from graphile_worker._private_jobs j
    where include_unregistered
      and j.locked_by is not null
      and not exists (select 1 from app_private.worker_pools p where p.pool_id = j.locked_by)
    group by j.locked_by
    having max(j.locked_at) < now() - interval '30 seconds'
  ) p;
  if cardinality(v_dead) > 0 then
    perform graphile_worker.force_unlock_workers(v_dead);
    delete from app_private.worker_pools p where p.pool_id = any (v_dead);
  end if;
  return v_dead;
end;
$$;
comment on function app_private.release_dead_workers(boolean) is 'Frees the locked jobs and job queues of graphile-worker pools whose process is gone (lock free and unseen for worker_dead_after(); with include_unregistered also pools that never registered and hold locks 30 s old) so other workers run them; returns their ids.';

create or replace function app_private.release_orphaned_jobs(pool_id text, known_job_ids bigint[]) returns bigint[]
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_released bigint[];
begin
  -- A live pool can hold a lock it does not know about: its statement that
  -- fetched (and so locked) jobs committed, and the database went away
  -- before the answer reached it. Nothing runs such a job until
  -- graphile-worker's four-hour lock expiry. The pool's process lists the
  -- jobs it holds (queued locally or running, or completed in the last
  -- minute); any other job locked by the pool for more than 30 s is
  -- unlocked, and so is a job queue it holds no job of any more.
  with released as (
    update graphile_worker._private_jobs j set locked_by = null, locked_at = null
    where j.locked_by = release_orphaned_jobs.pool_id
      and j.locked_at < now() - interval '30 seconds'
      and j.id <> all (coalesce(known_job_ids, '{}'))
    returning j.id
  )
  select coalesce(array_agg(id order by id), '{}') into v_released from released;
  update graphile_worker._private_job_queues q set locked_by = null, locked_at = null
  where q.locked_by = release_orphaned_jobs.pool_id
    and q.locked_at < now() - interval '30 seconds'
    and not exists (select 1 from graphile_worker._private_jobs j where j.locked_by = release_orphaned_jobs.pool_id and j.job_queue_id = q.id);
  return v_released;
end;
$$;
comment on function app_private.release_orphaned_jobs(text, bigint[]) is 'Unlocks the jobs (and job queues) a live graphile-worker pool has held locked for over 30 s without knowing it (its fetch committed but the answer was lost to a database restart), given the job ids the pool does know; returns the ids unlocked.';
