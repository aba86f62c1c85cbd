set local lock_timeout = '5s';

--------------------------------------------------------------------------------
-- Crash recovery (issue 12).
--
-- 1. Hand-over marks. A worker writes one row here, committed on its own,
--    right before it writes the final "." of an SMTP DATA transfer. A message
--    left "sending" by a worker that died can then be told apart:
--      * no mark for its current attempt: the server never got the final dot,
--        so it does not have the message; it is sent again (once);
--      * a mark: the server may have it; it is recorded as sent, unconfirmed,
--        and never sent again.
--    (functions/130-delivery.sql: mark_handed_over, resolve_interrupted_send.)
--
-- 2. Worker liveness. Every worker process registers the graphile-worker pool
--    ids it runs here and holds a session-level advisory lock for each
--    (app_private.worker_lock_key) on a connection of its own, which also
--    refreshes last_seen every few seconds. A pool whose lock is free and
--    that was not seen for 10 s is gone (the grace covers a database restart,
--    after which live processes take their locks again);
--    app_private.release_dead_workers() hands its locked jobs back through
--    graphile_worker.force_unlock_workers() (functions/300-worker-liveness.sql).
--------------------------------------------------------------------------------

create table if not exists app_private.message_handovers (
  tenant_id uuid not null,
  message_id uuid not null,
  attempt integer not null check (attempt > 0),
  handed_over timestamptz not null default now(),
  primary key (tenant_id, message_id, attempt),
  foreign key (tenant_id, message_id) references app_public.messages (tenant_id, id) on delete cascade
);
comment on table app_private.message_handovers is 'One row per SMTP attempt whose final "." was about to be written (committed before it is written): the server may have that attempt''s message. Read by resolve_interrupted_send; a message''s rows go when it leaves "sending" (trigger _600_forget_handovers).';

create table if not exists app_private.worker_pools (
  pool_id text primary key,
  hostname text not null,
  pid integer not null,
  started timestamptz not null default now(),
  last_seen timestamptz not null default now()
);
comment on table app_private.worker_pools is 'graphile-worker pools (their locked_by ids) run by live or dead worker processes. A live one holds the advisory lock worker_lock_key(pool_id); release_dead_workers() frees the jobs of the others and forgets them.';
