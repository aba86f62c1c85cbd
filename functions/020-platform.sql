--------------------------------------------------------------------------------
-- Platform settings: feature flags, system configuration and staff access to
-- tenants (always explicit, time-boxed and audited).
--------------------------------------------------------------------------------

create or replace function app_private.rollout_bucket(flag_key text, tenant_id uuid) returns integer
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- md5 is stable across PostgreSQL versions and platforms (hashtext is not documented to be).
  select (('x' || substr(md5(flag_key || ':' || tenant_id::text), 1, 8))::bit(32)::bigint % 100)::integer;
$$;
comment on function app_private.rollout_bucket(text, uuid) is 'A tenant''s stable bucket (0–99) for one flag: the same tenant always lands in the same bucket for that flag.';

create or replace function app_public.feature_enabled(flag_key text) returns boolean
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce((
    select f.is_enabled and (
      f.rollout_percentage = 100
      or (app_public.current_tenant_id() is not null
          and app_private.rollout_bucket(f.key, app_public.current_tenant_id()) < f.rollout_percentage)
    )
    from app_public.feature_flags f
    where f.key = flag_key
  ), false);
$$;
comment on function app_public.feature_enabled(text) is 'Whether a feature flag is on for the current tenant: enabled and the tenant''s bucket falls within rollout_percentage. Unknown flags are off.';

create or replace function app_public.enabled_features() returns setof text
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select f.key from app_public.feature_flags f
  where f.is_enabled and (
    f.rollout_percentage = 100
    or (app_public.current_tenant_id() is not null
        and app_private.rollout_bucket(f.key, app_public.current_tenant_id()) < f.rollout_percentage)
  )
  order by f.key;
$$;
comment on function app_public.enabled_features() is 'The keys of every feature flag that is on for the current tenant.';

create or replace function app_public.set_system_config(
  key text,
  value jsonb,
  is_sensitive boolean default false,
  description text default null,
  category text default null
) returns app_public.system_config
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.system_config;
begin
  if not app_public.current_staff_has_permission('system_config.manage') then
    raise exception 'Changing system configuration requires the system_config.manage permission.' using errcode = '42501';
  end if;
  insert into app_public.system_config as sc (key, value, is_sensitive, description, category, updated_by)
    values (set_system_config.key, case when set_system_config.is_sensitive then null else set_system_config.value end,
            set_system_config.is_sensitive, set_system_config.description, set_system_config.category,
            app_public.current_user_id())
  on conflict on constraint system_config_pkey do update set
    value = excluded.value,
    is_sensitive = excluded.is_sensitive,
    description = coalesce(excluded.description, sc.description),
    category = coalesce(excluded.category, sc.category),
    updated_by = excluded.updated_by,
    updated = excluded.updated -- the insert's now(): Citus takes no call in DO UPDATE SET
  returning * into v_row;
  if set_system_config.is_sensitive then
    insert into app_private.system_secrets (key, value) values (set_system_config.key, set_system_config.value)
      on conflict on constraint system_secrets_pkey do update set value = excluded.value, updated = excluded.updated;
  else
    delete from app_private.system_secrets s where s.key = set_system_config.key;
  end if;
  insert into app_public.platform_audit_log (actor_user_id, action, table_name, record_id, changes)
    values (app_public.current_user_id(), 'system_config.set', 'system_config', set_system_config.key,
            jsonb_build_object('is_sensitive', set_system_config.is_sensitive,
                               'value', case when set_system_config.is_sensitive then '"[redacted]"'::jsonb else set_system_config.value end));
  return v_row;
end;
$$;
comment on function app_public.set_system_config(text, jsonb, boolean, text, text) is 'Sets a system configuration value (staff with system_config.manage). A sensitive value is stored in app_private and is never readable again through the API.';

create or replace function app_public.open_tenant_access(
  tenant_id uuid,
  reason text,
  access_mode text default 'read',
  minutes integer default 60
) returns uuid
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_session_id uuid;
  v_permission text := case access_mode when 'write' then 'tenants.write' else 'tenants.read' end;
begin
  if access_mode not in ('read', 'write') then
    raise exception 'access_mode must be read or write, not "%".', access_mode using errcode = '22023';
  end if;
  if minutes not between 1 and 480 then
    raise exception 'An access session lasts between 1 and 480 minutes, not %.', minutes using errcode = '22023';
  end if;
  if not app_public.current_staff_has_permission(v_permission) then
    raise exception 'Opening % access to a tenant requires the % permission.', access_mode, v_permission using errcode = '42501';
  end if;
  if not exists (select 1 from app_public.tenants t where t.id = open_tenant_access.tenant_id and t.deleted_at is null) then
    raise exception 'There is no tenant %.', open_tenant_access.tenant_id using errcode = 'P0002';
  end if;
  if reason is null or length(trim(reason)) < 5 then
    raise exception 'Say why you need access (at least 5 characters); the tenant will see it in its audit log.' using errcode = '22023';
  end if;

  insert into app_private.staff_access_sessions (staff_user_id, tenant_id, access_mode, reason, expires_at)
    values (app_public.current_user_id(), open_tenant_access.tenant_id, access_mode, trim(reason), now() + make_interval(mins => minutes))
    returning id into v_session_id;
  -- Visible to the tenant's owners and admins...
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, record_id, reason, changes)
    values (open_tenant_access.tenant_id, app_public.current_user_id(), true, 'staff_access.opened', v_session_id::text, trim(reason),
            jsonb_build_object('access_mode', access_mode, 'minutes', minutes));
  -- ...and to the platform.
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, record_id, reason, changes)
    values (app_public.current_user_id(), 'staff_access.opened', open_tenant_access.tenant_id, v_session_id::text, trim(reason),
            jsonb_build_object('access_mode', access_mode, 'minutes', minutes));
  perform app_private.reenter_request();
  return v_session_id;
end;
$$;
comment on function app_public.open_tenant_access(uuid, text, text, integer) is 'Staff only: opens a time-boxed read or write session into one tenant, recorded in that tenant''s audit log and the platform audit log. Use a token naming that tenant to act in it.';

create or replace function app_public.close_tenant_access(tenant_id uuid) returns integer
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_count integer;
  v_user_id uuid := app_public.current_user_id(); -- a value, for Citus (see revoke_invitation)
begin
  update app_private.staff_access_sessions s
    set revoked_at = now()
    where s.staff_user_id = v_user_id
      and s.tenant_id = close_tenant_access.tenant_id
      and s.revoked_at is null and s.expires_at > now();
  get diagnostics v_count = row_count;
  if v_count > 0 then
    insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action)
      values (close_tenant_access.tenant_id, app_public.current_user_id(), true, 'staff_access.closed');
  end if;
  perform app_private.reenter_request();
  return v_count;
end;
$$;
comment on function app_public.close_tenant_access(uuid) is 'Ends your open staff access sessions into a tenant; returns how many were closed.';

create or replace function app_private.record_staff_operation(
  user_id uuid,
  tenant_id uuid,
  operation jsonb,
  request_id text
) returns uuid
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_session app_private.staff_access_sessions;
  v_changes jsonb;
begin
  if user_id is null or tenant_id is null or app_private.membership_roles(user_id, tenant_id) is not null then
    -- Not in a tenant, or acting there as a member: no staff access to record.
    return null;
  end if;
  v_session := app_private.live_staff_access_session(user_id, tenant_id, app_private.staff_permissions_of(user_id));
  if v_session.id is null then
    return null;
  end if;
  v_changes := jsonb_build_object('access_mode', v_session.access_mode, 'request_id', nullif(request_id, '')) || coalesce(operation, '{}');
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, record_id, reason, changes)
    values (record_staff_operation.tenant_id, record_staff_operation.user_id, true, 'staff_access.operation', v_session.id::text, v_session.reason, v_changes);
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, record_id, reason, changes)
    values (record_staff_operation.user_id, 'staff_access.operation', record_staff_operation.tenant_id, v_session.id::text, v_session.reason, v_changes);
  return v_session.id;
end;
$$;
comment on function app_private.record_staff_operation(uuid, uuid, jsonb, text) is 'Called by the API (as the owner, in a transaction of its own, before the operation runs) for every request of a staff token naming a tenant: when the staff user acts there through an access session rather than a membership, writes one row to the tenant''s audit_log and one to platform_audit_log with the operation (its type, name and every Type.field it selects). Returns the session, or null when nothing was recorded.';

--------------------------------------------------------------------------------
-- The platform audit log, written by triggers: every insert, update (changed
-- columns only) and delete of the platform's own tables (plans, feature flags,
-- staff and their permissions, servers and sending IPs; for the last two, the
-- columns their lifecycle functions, the sending engine and the reputation
-- checks change are left out), with the actor from
-- the request settings (null when no user made the change: a job, a
-- migration). System configuration is logged by set_system_config (it
-- redacts sensitive values); staff access sessions by open_tenant_access and
-- record_staff_operation; IP lifecycle steps and staff billing changes by
-- their functions, under their own action names, next to the row changes.
--------------------------------------------------------------------------------

-- Not SECURITY DEFINER: the row is written as the role that made the change
-- (staff through the API: policies/020-platform.sql lets them add rows in
-- their own name only). On Citus a transaction must write the reference
-- tables' copies as one role: a staff member's change of a plan followed by
-- the owner's write of its audit row was refused ("modified in this
-- transaction by a different user").
create or replace function app_private.tg__platform_audit() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  -- tg_argv: the table's name, then the bookkeeping columns not worth a row.
  v_ignored text[] := array['created', 'updated'] || coalesce(tg_argv[1:], '{}');
  v_before jsonb;
  v_after jsonb;
  v_on_coordinator boolean;
begin
  -- A reference table on Citus: its trigger fires on every node's copy; the
  -- coordinator's writes the one row. (Citus's own test, not
  -- app_private.on_coordinator(): staff may not use that schema.)
  if to_regprocedure('pg_catalog.citus_is_coordinator()') is not null then
    execute 'select pg_catalog.citus_is_coordinator()' into v_on_coordinator;
    if not v_on_coordinator then
      return null;
    end if;
  end if;
  if tg_op = 'UPDATE' then
    select jsonb_object_agg(n.key, v_old -> n.key), jsonb_object_agg(n.key, n.value)
      into v_before, v_after
      from jsonb_each(v_new) n
      where n.key <> all (v_ignored) and n.value is distinct from v_old -> n.key;
    if v_after is null then
      return null;
    end if;
  elsif tg_op = 'INSERT' then
    v_after := v_new - v_ignored;
  else
    v_before := v_old - v_ignored;
  end if;
  insert into app_public.platform_audit_log (actor_user_id, action, table_name, record_id, changes)
    values (app_public.current_user_id(), tg_argv[0] || '.' || lower(tg_op), tg_argv[0],
            coalesce(v_row ->> 'id', v_row ->> 'user_id', concat_ws(':', v_row ->> 'role_id', v_row ->> 'permission_id')),
            jsonb_build_object('before', v_before, 'after', v_after));
  return null;
end;
$$;
comment on function app_private.tg__platform_audit() is 'Writes one platform_audit_log row per inserted, updated (changed columns only, bookkeeping columns named in the trigger''s arguments left out) or deleted row of a platform table: action "<table>.<insert|update|delete>", the acting user, and changes {"before": …, "after": …}.';

do $$
declare
  r record;
begin
  for r in
    select * from (values
      ('plans', '{}'::text[]),
      ('feature_flags', '{updated_by}'),
      ('permissions', '{}'),
      ('staff_roles', '{}'),
      ('staff_role_permissions', '{}'),
      ('staff_members', '{}'),
      -- Lifecycle steps are logged by set_vps_instance_status and change_smtp_ip_status (functions/220-ip-pool.sql,
      -- as vps_instance.* / smtp_ip.* / domain_ip.*); counters the sending engine keeps and what the reputation
      -- checks find are not changes anyone made.
      ('vps_instances', '{status,status_reason,status_changed_at,decommission_scheduled_for}'),
      ('smtp_ip_addresses', '{status,status_reason,status_changed_at,auto_quarantined,warmup_started_at,daily_count,daily_count_date,assigned_count,reputation_state,last_reputation_check,last_reputation_check_at,provider_blacklist_status}')
    ) as t (table_name, ignored)
  loop
    execute format(
      'create or replace trigger _900_platform_audit after insert or update or delete on app_public.%I for each row execute function app_private.tg__platform_audit(%s)',
      r.table_name, array_to_string(array[quote_literal(r.table_name)] || array(select quote_literal(c) from unnest(r.ignored) c), ', '));
  end loop;
end;
$$;
