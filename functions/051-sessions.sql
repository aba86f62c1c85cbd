--------------------------------------------------------------------------------
-- Sessions (app_private.user_sessions): opened when a token is signed
-- (plugins/session-mutations.ts), checked at the start of every request made
-- with it, revoked by signing out or by a password change or reset.
--------------------------------------------------------------------------------

create or replace function app_hidden.open_session(user_id uuid, expires_at timestamptz) returns uuid
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  -- Called in the transaction of a successful register, login, switchTenant
  -- or acceptInvitation, for the user it signed in.
  if user_id is null or expires_at is null or expires_at <= now() then
    raise exception 'A session needs a user and an expiry in the future.' using errcode = 'INVAL';
  end if;
  insert into app_private.user_sessions (user_id, expires_at)
    values (open_session.user_id, open_session.expires_at)
    returning id into v_id;
  return v_id;
end;
$$;
comment on function app_hidden.open_session(uuid, timestamptz) is 'Records a new session for a user who just signed in; its id goes into the token as the sid claim.';

create or replace function app_hidden.enter_session(session_id uuid, user_id uuid, tenant_id uuid) returns text[]
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- One primary-key lookup: the session is the token's, open and unexpired.
  if not exists (
    select 1 from app_private.user_sessions s
    where s.id = enter_session.session_id and s.user_id = enter_session.user_id
      and s.revoked_at is null and s.expires_at > now()
  ) then
    raise exception 'This session has ended (signed out, or the password was changed or reset); sign in again.'
      using errcode = 'SESSN';
  end if;
  execute format('set local app.current_session_id = %L', session_id);
  return app_hidden.enter_request(user_id, tenant_id);
end;
$$;
comment on function app_hidden.enter_session(uuid, uuid, uuid) is 'Starts a request made with a platform-signed token: refuses a session that was revoked or has expired, then enters the request as its user and tenant (enter_request).';

create or replace function app_private.revoke_sessions(user_id uuid, reason text, keep_session_id uuid default null) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_count integer;
  v_now timestamptz := now();
begin
  update app_private.user_sessions s set revoked_at = v_now, revoked_reason = reason
    where s.user_id = revoke_sessions.user_id and s.revoked_at is null
      and s.id is distinct from keep_session_id;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function app_private.revoke_sessions(uuid, text, uuid) is 'Ends every open session of a user (but keep_session_id, if given); their tokens are refused from the next request on. Returns how many were open.';

create or replace function app_private.current_session_id() returns uuid
  language sql stable
as $$
  select nullif(pg_catalog.current_setting('app.current_session_id', true), '')::uuid;
$$;
comment on function app_private.current_session_id() is 'The session of the current request (null for a token another identity provider signed).';

create or replace function app_public.logout() returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_session uuid := app_private.current_session_id();
  v_now timestamptz := now();
begin
  if v_session is null then
    raise exception 'This token was not issued by the platform; sign out with the identity provider that issued it.' using errcode = 'INVAL';
  end if;
  update app_private.user_sessions s set revoked_at = v_now, revoked_reason = 'logout'
    where s.id = v_session and s.revoked_at is null;
  return true;
end;
$$;
comment on function app_public.logout() is 'Signs out: the token of this request is refused from the next request on.';

create or replace function app_public.logout_everywhere() returns integer
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user uuid := app_public.current_user_id();
begin
  if v_user is null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  return app_private.revoke_sessions(v_user, 'logout_everywhere');
end;
$$;
comment on function app_public.logout_everywhere() is 'Signs you out on every device: all your sessions, this one included, are refused from the next request on. Returns how many were open.';
