--------------------------------------------------------------------------------
-- Queueing jobs, on one PostgreSQL and on a Citus cluster.
--
-- Every job our SQL queues goes through app_private.add_job. Where
-- graphile-worker's queue is in this database (one PostgreSQL; the Citus
-- coordinator) it is graphile_worker.add_job. On a Citus worker node (a
-- trigger on a tenant table runs on the node holding the tenant's shards)
-- the job goes to app_private.job_outbox in the tenant's shard group, and
-- the worker process moves it to the queue (drain_job_outbox): the job then
-- exists once the transaction that queued it has committed, as before.
--------------------------------------------------------------------------------

create or replace function app_private.on_coordinator() returns boolean
  language sql stable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select to_regclass('graphile_worker._private_jobs') is not null;
$$;
comment on function app_private.on_coordinator() is 'False only on a Citus worker node, where triggers on tenant tables run: there the job queue does not exist and global (reference) tables cannot be written. True on one PostgreSQL and on the coordinator.';

create or replace function app_private.add_job(
  tenant_id uuid,
  identifier text,
  payload json default '{}',
  queue_name text default null,
  run_at timestamptz default null,
  max_attempts integer default null,
  job_key text default null,
  priority integer default null,
  job_key_mode text default null
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_private.on_coordinator() then
    -- A keyed add must not be lost. graphile_worker.add_job clears the key of
    -- a job that is running, then inserts ON CONFLICT (key) DO UPDATE ...
    -- WHERE locked_at IS NULL: a worker locking the pending job between
    -- those two statements makes the add a silent no-op, and that job may
    -- have read the world before this transaction's change. Holding the
    -- pending job's row first closes the gap: workers fetch jobs with SKIP
    -- LOCKED, and a fetch already under way is waited for, then seen as
    -- running (its key cleared, a new job added).
    if job_key is not null then
      perform 1 from graphile_worker._private_jobs j where j.key = add_job.job_key for update;
    end if;
    perform graphile_worker.add_job(identifier, payload, queue_name => queue_name, run_at => run_at,
      max_attempts => max_attempts, job_key => job_key, priority => priority, job_key_mode => job_key_mode);
  elsif tenant_id is null then
    raise exception 'Job % has no tenant and can only be queued on the coordinator.', identifier using errcode = 'XX000';
  else
    insert into app_private.job_outbox (tenant_id, identifier, payload, queue_name, run_at, max_attempts, job_key, priority, job_key_mode)
      values (add_job.tenant_id, add_job.identifier, add_job.payload, add_job.queue_name, add_job.run_at,
              add_job.max_attempts, add_job.job_key, add_job.priority, add_job.job_key_mode);
  end if;
end;
$$;
comment on function app_private.add_job(uuid, text, json, text, timestamptz, integer, text, integer, text) is 'Queues a graphile-worker job (the arguments of graphile_worker.add_job, after the tenant it concerns). On a Citus worker node the job waits in job_outbox for drain_job_outbox.';

create or replace function app_private.drain_job_outbox() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_job record;
  v_count integer := 0;
begin
  if not app_private.on_coordinator() then
    raise exception 'The job outbox is drained on the coordinator, where the queue is.' using errcode = 'XX000';
  end if;
  for v_job in
    with taken as (delete from app_private.job_outbox returning *)
    select * from taken order by created
  loop
    -- On the coordinator add_job goes straight to the queue.
    perform app_private.add_job(v_job.tenant_id, v_job.identifier, v_job.payload, v_job.queue_name, v_job.run_at,
      v_job.max_attempts, v_job.job_key, v_job.priority, v_job.job_key_mode);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.drain_job_outbox() is 'On the Citus coordinator: moves the jobs triggers queued on worker nodes into graphile-worker''s queue, oldest first; returns how many. Run by the worker process (src/worker/job-outbox.ts).';
