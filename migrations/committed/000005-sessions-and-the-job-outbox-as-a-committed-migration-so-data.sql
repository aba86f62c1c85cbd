--! Previous: sha1:bd5aa70eb0378471d43238d205ab3d966c4bc92e
--! Hash: sha1:0ce3c831600ebd2fbaf3d7bddfa54193f8d87cad
--! Message: Sessions and the job outbox as a committed migration, so databases migrated by npm start get them

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Jobs queued where the queue is not: on a Citus cluster, triggers on tenant
-- tables run on the worker nodes, and graphile-worker's queue lives on the
-- coordinator only. Such a trigger writes its job here (in the tenant's shard
-- group, so in the same local transaction), and the worker process moves the
-- rows into the queue on the coordinator (app_private.drain_job_outbox,
-- functions/002-jobs.sql). On one PostgreSQL the table stays empty.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '60s';

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

--------------------------------------------------------------------------------
-- Sessions: every token the platform signs names one (its `sid` claim), and
-- each request checks it is still open (app_hidden.enter_session), so signing
-- out, or changing or resetting the password, ends tokens already issued.
--------------------------------------------------------------------------------
create table if not exists app_private.user_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  created timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text,
  constraint user_sessions_revoked_reason_check
    check (revoked_reason in ('logout', 'logout_everywhere', 'password_changed', 'password_reset')),
  constraint user_sessions_revoked_check check ((revoked_at is null) = (revoked_reason is null))
);
create index if not exists user_sessions_user_id_idx on app_private.user_sessions (user_id);
comment on table app_private.user_sessions is 'One row per signed session token (its sid claim): open until it expires or is revoked (signed out, password changed or reset). Every request checks its session here.';
