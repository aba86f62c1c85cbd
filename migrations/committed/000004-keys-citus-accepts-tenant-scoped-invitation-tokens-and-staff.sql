--! Previous: sha1:3478e9435461babc61a48fc86dce4090e1a2d010
--! Hash: sha1:bd5aa70eb0378471d43238d205ab3d966c4bc92e
--! Message: Keys Citus accepts (tenant-scoped invitation tokens and staff sessions, Stripe events without a tenant FK); inbox addresses on their domain, deal owners, sign-in failures per organisation and client, reset throttles; worker pools and hand-over marks; import columns kept as custom fields

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Keys every engine accepts, Citus included (see src/db/citus-distribution.ts):
-- a distributed table's primary and unique keys include tenant_id, and a
-- table without a tenant key (a reference table, on every node) references no
-- tenant table.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';

-- Invitation tokens are unique per tenant: a token is 32 random bytes, and
-- acceptInvitation, which knows only the token, looks it up in every tenant.
alter table app_private.invitation_tokens drop constraint if exists invitation_tokens_token_hash_key;
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'invitation_tokens_tenant_token_key') then
    alter table app_private.invitation_tokens
      add constraint invitation_tokens_tenant_token_key unique (tenant_id, token_hash);
  end if;
end;
$$;

-- A staff access session belongs to the tenant it opens.
do $$
begin
  if exists (
    select 1 from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    where c.conrelid = 'app_private.staff_access_sessions'::regclass and c.contype = 'p' and cardinality(c.conkey) = 1
  ) then
    alter table app_private.staff_access_sessions drop constraint staff_access_sessions_pkey;
    alter table app_private.staff_access_sessions add primary key (tenant_id, id);
  end if;
end;
$$;

-- Stripe events are the platform's log of what Stripe sent (kept when a
-- tenant is deleted, like payments): tenant_id records which tenant an event
-- was applied to, without a foreign key.
alter table app_private.stripe_events drop constraint if exists stripe_events_tenant_id_fkey;
comment on column app_private.stripe_events.tenant_id is 'The tenant the event was applied to, when it named one (no foreign key: the log outlives tenants).';

--! split: 3-security.sql
-- Security hardening (issue 11). Idempotent: graphile-migrate re-runs this
-- file on every change while it is current.
set local lock_timeout = '5s';

--------------------------------------------------------------------------------
-- An inbox's address is on its own domain (trigger in
-- functions/140-credentials-and-rendering.sql). The rule applies to writes
-- from now on; inboxes created before it are left as they are (rewriting a
-- sending address behind its owner's back would be worse), so this migration
-- cannot fail on old data. It only reports how many there are, so an
-- operator can contact those tenants:
--   select tenant_id, id, email from app_public.email_accounts ea
--   join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
--   where lower(split_part(ea.email::text, '@', 2)) <> lower(d.domain::text);
--------------------------------------------------------------------------------
do $$
declare
  v_count bigint;
begin
  select count(*) into v_count
    from app_public.email_accounts ea
    join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
    where lower(split_part(ea.email::text, '@', 2)) <> lower(d.domain::text);
  if v_count > 0 then
    raise notice '% inbox(es) have an address outside their own domain; they keep working until their address changes.', v_count;
  end if;
end;
$$;

--------------------------------------------------------------------------------
-- A deal's owner is a member of its organisation (trigger in
-- functions/070-crm.sql). Deals whose owner is not a member (a user of
-- another organisation, which the API used to accept) lose that owner: the
-- reference itself was the leak, and "no owner" is a valid state. Owners who
-- have since left the organisation are kept (they were members).
--------------------------------------------------------------------------------
update app_public.deals d set owner_user_id = null
  where d.owner_user_id is not null
    and not exists (select 1 from app_public.tenant_users tu where tu.tenant_id = d.tenant_id and tu.user_id = d.owner_user_id);

--------------------------------------------------------------------------------
-- Throttles for the anonymous auth operations (functions/050-auth.sql):
-- fixed windows of hits per scope and key (a user, a client address), so a
-- rule like "three reset emails an hour per account" is one upsert.
--------------------------------------------------------------------------------
create table if not exists app_private.auth_throttle (
  scope text not null check (scope in ('reset:user', 'reset:client')),
  key text not null check (length(key) between 1 and 100),
  window_start timestamptz not null,
  hits integer not null check (hits >= 0),
  primary key (scope, key)
);
comment on table app_private.auth_throttle is 'Hits per fixed time window for throttled auth operations (password reset emails per account and per client address); rows of past windows are overwritten, and removed by cleanup_expired_tokens.';

--------------------------------------------------------------------------------
-- Failed sign-ins per user, organisation and client address (replacing the
-- per-user counters in user_secrets): a lockout follows the policy of the
-- organisation being signed in to and holds only there, and only for the
-- client that kept failing, so one organisation's strict policy cannot lock
-- its members out of the others, and a stranger's wrong guesses cannot lock
-- the owner out from their own client. tenant_id is the nil UUID for users
-- without an organisation (staff).
--------------------------------------------------------------------------------
create table if not exists app_private.login_failures (
  user_id uuid not null references app_public.users (id) on delete cascade,
  tenant_id uuid not null,
  client text not null check (length(client) between 1 and 100),
  failed_attempts integer not null default 0 check (failed_attempts >= 0),
  first_failed_at timestamptz not null default now(),
  locked_until timestamptz,
  primary key (user_id, tenant_id, client)
);
comment on table app_private.login_failures is 'Consecutive failed sign-ins per user, organisation and client address, and the lockout they caused (the organisation''s max_login_attempts and lockout_minutes).';
comment on column app_private.user_secrets.failed_login_attempts is 'No longer used: failed sign-ins are counted per organisation and client in app_private.login_failures.';
comment on column app_private.user_secrets.locked_until is 'No longer used: lockouts are per organisation and client in app_private.login_failures.';

-- app_hidden.login takes the client address now (functions/050-auth.sql).
drop function if exists app_hidden.login(text, text, uuid);

-- requestPasswordReset is served by plugins/session-mutations.ts, which passes the
-- client address to app_hidden.request_password_reset(email, client_ip).
drop function if exists app_public.request_password_reset(text);

--! split: 4-crash.sql
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

--! split: 5-ops.sql
set local lock_timeout = '5s';

--------------------------------------------------------------------------------
-- CSV imports report the columns they could not place, and can keep them.
-- Both columns have defaults, so existing imports read as "nothing unmapped,
-- dropped" (what happened to them).
--------------------------------------------------------------------------------

alter table app_public.lead_imports
  add column if not exists keep_unmapped boolean not null default false,
  add column if not exists unmapped_columns text[] not null default '{}';

comment on column app_public.lead_imports.keep_unmapped is
  'Keep CSV columns that match no lead field, mapping or custom field definition as custom fields, under their normalised header ("Lead Score" becomes lead_score); off: drop them.';
comment on column app_public.lead_imports.unmapped_columns is
  'The CSV columns that matched no lead field, mapping or custom field definition: kept as custom fields when keepUnmapped is on, dropped otherwise.';
