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
