--------------------------------------------------------------------------------
-- Jobs queued where the queue is not: on a Citus cluster, triggers on tenant
-- tables run on the worker nodes, and graphile-worker's queue lives on the
-- coordinator only. Such a trigger writes its job here (in the tenant's shard
-- group, so in the same local transaction), and the worker process moves the
-- rows into the queue on the coordinator (app_private.drain_job_outbox,
-- functions/002-jobs.sql). On one PostgreSQL the table stays empty.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';

create table if not exists app_private.job_outbox (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  identifier text not null,
  payload json not null,
  queue_name text,
  run_at timestamptz,
  max_attempts integer,
  job_key text,
  priority integer,
  job_key_mode text,
  created timestamptz not null default clock_timestamp(),
  primary key (tenant_id, id)
);
comment on table app_private.job_outbox is 'Jobs queued by triggers running on a Citus worker node, waiting to be moved into graphile-worker''s queue on the coordinator (the arguments of graphile_worker.add_job).';
