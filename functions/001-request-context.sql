--------------------------------------------------------------------------------
-- The request context. Every request (the API's, a test persona's, a psql
-- session acting as a user) starts its transaction with
--
--   select app_hidden.enter_request(user_id, tenant_id);
--
-- which looks up, once, what the user may do in the tenant their token names
-- (an active membership of a live tenant, or a staff access session) and
-- records it in transaction-local settings. Every policy and helper below then
-- reads those settings only and never a table: so policies cost the same on
-- every row, and they can be evaluated on Citus worker nodes, where a policy
-- that queried another table would be a distributed query from a shard.
-- `SET LOCAL` (not set_config) is what Citus forwards to the workers.
--
-- A removed member, a revoked staff session or a deleted tenant loses access
-- on the next request: the lookup runs at the start of every request.
--
-- The signatures come from the first migration (column defaults use them);
-- the bodies live here.
--------------------------------------------------------------------------------

create or replace function app_public.current_user_id() returns uuid
  language sql stable parallel safe
as $$
  select nullif(pg_catalog.current_setting('app.current_user_id', true), '')::uuid;
$$;

create or replace function app_public.current_tenant_roles() returns text[]
  language sql stable parallel safe
as $$
  select coalesce(nullif(pg_catalog.current_setting('app.current_tenant_roles', true), '')::text[], '{}'::text[]);
$$;

create or replace function app_public.current_tenant_id() returns uuid
  language sql stable parallel safe
as $$
  select case
    when pg_catalog.cardinality(app_public.current_tenant_roles()) > 0
    then nullif(pg_catalog.current_setting('app.current_tenant_id', true), '')::uuid
  end;
$$;

create or replace function app_public.has_tenant_role(minimum text) returns boolean
  language sql stable parallel safe
as $$
  select app_public.current_tenant_roles() operator(pg_catalog.&&) case minimum
    when 'viewer' then array['owner', 'admin', 'member', 'viewer']
    when 'member' then array['owner', 'admin', 'member']
    when 'admin' then array['owner', 'admin']
    when 'owner' then array['owner']
  end;
$$;

-- The tenant check of every standard policy, in one call:
-- `tenant_id = app_public.current_tenant_id_for_role('member')`. The function
-- is inlined into the policy (plain SQL, no SET clause), so the planner sees a
-- stable expression it computes once per scan and can use as an index key.
create or replace function app_public.current_tenant_id_for_role(minimum text) returns uuid
  language sql stable parallel safe
as $$
  select case
    when app_public.has_tenant_role(minimum)
    then nullif(pg_catalog.current_setting('app.current_tenant_id', true), '')::uuid
  end;
$$;

comment on function app_public.current_tenant_id_for_role(text) is E'@behavior -*\nThe tenant of this request when the current user holds at least the given role in it (owner > admin > member > viewer); null otherwise. The standard tenant policies compare tenant_id against it.';

create or replace function app_public.current_staff_has_permission(permission text) returns boolean
  language sql stable parallel safe
as $$
  select permission operator(pg_catalog.=) any (
    coalesce(nullif(pg_catalog.current_setting('app.current_staff_permissions', true), '')::text[], '{}'::text[])
  );
$$;

--------------------------------------------------------------------------------
-- The look-ups behind the settings, run once per request by enter_request.
--------------------------------------------------------------------------------

create or replace function app_private.staff_permissions_of(user_id uuid) returns text[]
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return coalesce((
    select array_agg(p.name order by p.name)
    from app_public.staff_members sm
    join app_public.users u on u.id = sm.user_id and u.deleted_at is null
    join app_public.staff_role_permissions srp on srp.role_id = sm.role_id
    join app_public.permissions p on p.id = srp.permission_id
    where sm.user_id = staff_permissions_of.user_id
  ), '{}');
end;
$$;
comment on function app_private.staff_permissions_of(uuid) is 'The platform permissions the user''s staff role grants (empty for non-staff or deleted users).';

create or replace function app_private.membership_roles(user_id uuid, tenant_id uuid) returns text[]
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return (
    select tu.roles
    from app_public.tenant_users tu
    join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
    join app_public.users u on u.id = tu.user_id and u.deleted_at is null
    where tu.tenant_id = membership_roles.tenant_id
      and tu.user_id = membership_roles.user_id
      and tu.deleted_at is null
  );
end;
$$;
comment on function app_private.membership_roles(uuid, uuid) is 'The roles of the user''s active membership in a live tenant; null when they are not a member.';

create or replace function app_private.live_staff_access_session(user_id uuid, tenant_id uuid, staff_permissions text[])
  returns app_private.staff_access_sessions
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_session app_private.staff_access_sessions;
begin
  -- A write session wins over a read session; either counts only while the
  -- staff role still grants its permission.
  select s.* into v_session
  from app_private.staff_access_sessions s
  join app_public.tenants t on t.id = s.tenant_id and t.deleted_at is null
  where s.tenant_id = live_staff_access_session.tenant_id
    and s.staff_user_id = live_staff_access_session.user_id
    and s.revoked_at is null
    and s.expires_at > now()
    and (case s.access_mode when 'write' then 'tenants.write' else 'tenants.read' end) = any (staff_permissions)
  order by (s.access_mode = 'write') desc, s.expires_at desc
  limit 1;
  return v_session;
end;
$$;
comment on function app_private.live_staff_access_session(uuid, uuid, text[]) is 'The staff user''s live access session into the tenant that their permissions still allow (write before read); null when there is none.';

create or replace function app_private.tenant_roles_of(user_id uuid, tenant_id uuid, staff_permissions text[]) returns text[]
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_roles text[];
  v_session app_private.staff_access_sessions;
begin
  if user_id is null or tenant_id is null then
    return '{}';
  end if;
  v_roles := app_private.membership_roles(user_id, tenant_id);
  if v_roles is not null then
    return v_roles;
  end if;
  -- A staff access session acts as viewer (read) or admin (write).
  v_session := app_private.live_staff_access_session(user_id, tenant_id, staff_permissions);
  return case v_session.access_mode when 'write' then array['admin'] when 'read' then array['viewer'] else '{}' end;
end;
$$;
comment on function app_private.tenant_roles_of(uuid, uuid, text[]) is 'The user''s roles in the tenant: their active membership''s roles in a live tenant, or viewer/admin for a live staff access session their staff role still permits; empty otherwise.';

create or replace function app_hidden.enter_request(user_id uuid, tenant_id uuid) returns text[]
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  -- Staff powers (permissions, access sessions) need a staff token: a request
  -- acting as penguinmails_member has none, even for a staff user.
  v_permissions text[] := case
    when user_id is null or current_setting('role', true) is distinct from 'penguinmails_staff' then '{}'
    else app_private.staff_permissions_of(user_id) end;
  v_roles text[] := app_private.tenant_roles_of(user_id, tenant_id, v_permissions);
  v_users uuid[] := case when user_id is null then '{}' else array[user_id] end;
  v_ips uuid[] := '{}';
  v_features text[] := '{}';
  v_missing text;
begin
  -- An organisation that requires two-factor authentication or a confirmed
  -- email admits none of its members without it (functions/053-two-factor.sql).
  -- The request is refused, unless the API found it does nothing but set it
  -- up (src/auth/account-setup.ts sets app.account_setup): then it runs with
  -- no role in the tenant, so it reaches none of the tenant's data. Staff
  -- access sessions (no membership) are not members and not affected.
  if cardinality(v_roles) > 0 then
    v_missing := app_private.missing_account_setup(user_id, tenant_id);
    if v_missing is not null and app_private.membership_roles(user_id, tenant_id) is not null then
      if coalesce(current_setting('app.account_setup', true), '') <> 'on' then
        if v_missing = 'email_verification' then
          raise exception 'This organisation requires a confirmed email address: confirm yours with requestEmailVerification and the emailed link, then try again.'
            using errcode = 'EMVER';
        end if;
        raise exception 'This organisation requires two-factor authentication: set it up with startTwoFactorEnrollment and confirmTwoFactor, then try again.'
          using errcode = 'TFENR';
      end if;
      v_roles := '{}';
    end if;
  end if;
  -- What the global tables show this request: the users of its tenant (and
  -- the user), the platform IPs its domains are on. Looked up here once, as
  -- the roles are, for the policies of users and smtp_ip_addresses.
  if cardinality(v_roles) > 0 then
    select v_users || coalesce(array_agg(tu.user_id) filter (where tu.user_id is distinct from enter_request.user_id), '{}')
      into v_users
      from app_public.tenant_users tu where tu.tenant_id = enter_request.tenant_id and tu.deleted_at is null;
    select coalesce(array_agg(distinct a.smtp_ip_address_id), '{}') into v_ips
      from app_public.domain_ip_assignments a where a.tenant_id = enter_request.tenant_id and a.status <> 'expired';
    -- The features of the tenant's current plan (functions/096-analytics-gate.sql).
    v_features := app_private.plan_features(app_private.current_plan_of(enter_request.tenant_id));
  end if;
  -- SET LOCAL rather than set_config: Citus forwards it to the worker nodes.
  execute format('set local app.current_user_id = %L', coalesce(user_id::text, ''));
  execute format('set local app.current_tenant_id = %L', coalesce(tenant_id::text, ''));
  execute format('set local app.current_tenant_roles = %L', v_roles::text);
  execute format('set local app.current_staff_permissions = %L', v_permissions::text);
  execute format('set local app.visible_user_ids = %L', v_users::text);
  execute format('set local app.assigned_ip_ids = %L', v_ips::text);
  execute format('set local app.current_plan_features = %L', v_features::text);
  return v_roles;
end;
$$;
comment on function app_hidden.enter_request(uuid, uuid) is 'Starts a request''s transaction as this user in this tenant: resolves their tenant roles and staff permissions once and records them, with the ids and the features of the tenant''s plan, in transaction-local settings that every policy reads. Returns the tenant roles. Refuses a member whose account lacks what the tenant''s policy requires (EMVER: a confirmed email; TFENR: two-factor authentication), or, for a request that only sets it up (app.account_setup), enters with no role in the tenant.';

create or replace function app_private.reenter_request() returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_hidden.enter_request(app_public.current_user_id(), nullif(current_setting('app.current_tenant_id', true), '')::uuid);
end;
$$;
comment on function app_private.reenter_request() is 'Resolves the current request''s roles again, for functions that change the caller''s own access (opening or closing a staff access session) and take effect within the same request.';

create or replace function app_hidden.visible_user_ids() returns uuid[]
  language sql stable parallel safe
as $$
  select coalesce(nullif(pg_catalog.current_setting('app.visible_user_ids', true), '')::uuid[], '{}');
$$;
comment on function app_hidden.visible_user_ids() is 'The users the current user may see: themselves and the active members of their current tenant, as enter_request found them. The users policy compares against it (`id = any (…)`).';

create or replace function app_hidden.assigned_ip_ids() returns uuid[]
  language sql stable parallel safe
as $$
  select coalesce(nullif(pg_catalog.current_setting('app.assigned_ip_ids', true), '')::uuid[], '{}');
$$;
comment on function app_hidden.assigned_ip_ids() is 'The platform IPs assigned (not expired) to the current tenant''s domains when the request started: the IPs it may see.';
