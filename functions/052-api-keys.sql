--------------------------------------------------------------------------------
-- API keys (app_public.api_keys, app_private.api_key_secrets).
--
-- A request with `Authorization: Bearer pm_…` is resolved in two steps, like
-- a session token (functions/051-sessions.sql):
--   1. app_private.use_api_key, called by the API server on the owner's pool
--      in a transaction of its own: finds the key by the SHA-256 of what was
--      sent, refuses it (revoked, expired, no API access on the plan, over
--      the plan's per-minute budget), records its use (at most once a minute,
--      or when the client address changes) and returns its tenant and scopes.
--   2. app_hidden.enter_api_key, the first statement of the request's own
--      transaction (instead of enter_request): checks again that the key is
--      live, then records the request context as SET LOCAL settings: the
--      key's tenant with the admin role, no user, and the key's scopes.
-- Policies read the settings only (policies/990-api-key-scopes.sql adds a
-- scope check to every policy of app_public);
-- SECURITY DEFINER mutations call app_hidden.require_api_scope.
--------------------------------------------------------------------------------

create or replace function app_hidden.current_api_key_id() returns uuid
  language sql stable parallel safe
as $$
  select nullif(pg_catalog.current_setting('app.api_key_id', true), '')::uuid;
$$;
comment on function app_hidden.current_api_key_id() is 'The API key this request is made with; null for a signed-in user (or anonymous).';

create or replace function app_hidden.without_api_key() returns boolean
  language sql stable parallel safe
as $$
  select nullif(pg_catalog.current_setting('app.api_key_id', true), '') is null;
$$;
comment on function app_hidden.without_api_key() is 'True unless this request is made with an API key: the scope check policies/990-api-key-scopes.sql adds to the tables no key may reach.';

create or replace function app_hidden.api_key_allows_scopes(scopes text[], area text, access text) returns boolean
  language sql immutable parallel safe
as $$
  select coalesce((area || ':' || access) operator(pg_catalog.=) any (scopes)
    or (access = 'read' and (area || ':write') operator(pg_catalog.=) any (scopes)), false);
$$;
comment on function app_hidden.api_key_allows_scopes(text[], text, text) is 'Whether these scopes hold `area:access` (a write scope includes read).';

create or replace function app_hidden.api_key_allows(area text, access text) returns boolean
  language sql stable parallel safe
as $$
  select nullif(pg_catalog.current_setting('app.api_key_id', true), '') is null
    or app_hidden.api_key_allows_scopes(
         coalesce(nullif(pg_catalog.current_setting('app.api_key_scopes', true), '')::text[], '{}'::text[]), area, access);
$$;
comment on function app_hidden.api_key_allows(text, text) is 'True unless this is an API-key request whose key lacks `area:access` (a write scope includes read). A null area is never allowed to a key. Reads settings only: the scope check policies/990-api-key-scopes.sql adds to every policy.';

create or replace function app_private.api_key_scopes() returns text[]
  language sql immutable parallel safe
as $$
  select array[
    'leads:read', 'leads:write', 'lists:read', 'lists:write', 'templates:read', 'templates:write',
    'campaigns:read', 'campaigns:write', 'analytics:read', 'domains:read', 'domains:write',
    'webhooks:read', 'webhooks:write', 'billing:read'
  ]::text[];
$$;
comment on function app_private.api_key_scopes() is 'Every scope a key can hold (the api_keys.scopes check lists the same). No scope lets a key manage members, API keys, organisation settings or the subscription.';

create or replace function app_hidden.require_api_scope(area text, access text default 'write') returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_hidden.api_key_allows(area, access) then
    return;
  end if;
  if not ((area || ':' || access) = any (app_private.api_key_scopes())) then
    raise exception 'An API key cannot do this (%); a signed-in admin must.', area using errcode = 'DNIED';
  end if;
  raise exception 'This API key does not have the %:% scope.', area, access using errcode = 'DNIED';
end;
$$;
comment on function app_hidden.require_api_scope(text, text) is 'The scope check of SECURITY DEFINER functions (next to their role check): refuses (FORBIDDEN) an API-key request whose key lacks `area:access`; does nothing for signed-in users. An area no key can hold (members, api_keys, billing writes) refuses every key.';

--------------------------------------------------------------------------------
-- Issuing keys.
--------------------------------------------------------------------------------

create or replace function app_private.new_api_key() returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- pm_ + 8 hex characters (the visible prefix) + _ + 256 random bits, URL-safe.
  select 'pm_' || encode(public.gen_random_bytes(4), 'hex') || '_' || app_private.new_token();
$$;
comment on function app_private.new_api_key() is 'A new API key: `pm_`, 8 visible characters, `_`, and a 256-bit random secret.';

create or replace function app_private.api_key_prefix(key text) returns text
  language sql immutable strict parallel safe
as $$
  select left(key, 11);
$$;
comment on function app_private.api_key_prefix(text) is 'The visible start of a key (`pm_` and 8 characters).';

create or replace function app_private.assert_may_manage_api_keys() returns uuid
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  perform app_hidden.require_api_scope('api_keys');
  -- A real membership: a staff access session (which acts as admin) cannot issue keys.
  if v_tenant_id is null or app_public.current_user_id() is null
     or not coalesce(app_private.membership_roles(app_public.current_user_id(), v_tenant_id) && '{owner,admin}', false) then
    raise exception 'Only owners and admins of this organisation can manage its API keys.' using errcode = 'DNIED';
  end if;
  return v_tenant_id;
end;
$$;
comment on function app_private.assert_may_manage_api_keys() is 'Refuses (FORBIDDEN) unless the caller is signed in as an owner or admin member of the current tenant (not an API key, not staff); returns the tenant.';

create or replace function app_private.current_plan_of(tenant_id uuid) returns app_public.plans
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_plan app_public.plans;
begin
  select p.* into v_plan from app_public.subscriptions s join app_public.plans p on p.id = s.plan_id
    where s.tenant_id = current_plan_of.tenant_id and s.status <> 'canceled';
  if v_plan.id is null then
    v_plan := app_private.fallback_plan();
  end if;
  return v_plan;
end;
$$;
comment on function app_private.current_plan_of(uuid) is 'The tenant''s current plan (the Free plan without a current subscription), whose api_access and api_rate_limit govern its API keys.';

create or replace function app_private.audit_api_key(tenant_id uuid, api_key_id uuid, action text, changes jsonb) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
    values (audit_api_key.tenant_id, app_public.current_user_id(), false, 'api_key.' || action, 'api_keys', api_key_id::text, changes);
end;
$$;
comment on function app_private.audit_api_key(uuid, uuid, text, jsonb) is 'One audit_log row about an API key (created, rotated, revoked, used_from_new_ip); never its secret.';

create or replace function app_private.validated_api_key_scopes(scopes text[]) returns text[]
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_unknown text;
begin
  if scopes is null or cardinality(scopes) = 0 then
    raise exception 'Give the key at least one scope (%).', array_to_string(app_private.api_key_scopes(), ', ') using errcode = 'INVAL';
  end if;
  select s into v_unknown from unnest(scopes) s where s is null or not (s = any (app_private.api_key_scopes())) limit 1;
  if found then
    raise exception 'Unknown scope "%"; the scopes are %.', v_unknown, array_to_string(app_private.api_key_scopes(), ', ') using errcode = 'INVAL';
  end if;
  return array(select distinct s from unnest(scopes) s order by s);
end;
$$;
comment on function app_private.validated_api_key_scopes(text[]) is 'The scopes, sorted and without duplicates; refuses (INVALID_INPUT) none and unknown ones.';

create or replace function app_private.locked_api_key(tenant_id uuid, api_key_id uuid) returns app_public.api_keys
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key_row app_public.api_keys;
begin
  select k.* into v_key_row from app_public.api_keys k
    where k.tenant_id = locked_api_key.tenant_id and k.id = locked_api_key.api_key_id for update;
  if v_key_row.id is null then
    raise exception 'There is no API key % in this organisation.', api_key_id using errcode = 'NTFND';
  end if;
  return v_key_row;
end;
$$;
comment on function app_private.locked_api_key(uuid, uuid) is 'The tenant''s API key, locked for a change; NOT_FOUND when there is none.';

-- createApiKey and rotateApiKey answer with OUT parameters rather than a
-- composite type: on Citus a migration's SET LOCAL followed by CREATE TYPE
-- (propagated to the workers) in one query string is refused.
create or replace function app_public.create_api_key(
  name text, scopes text[], expires_at timestamptz default null,
  out key_id uuid, out key_prefix text, out key_scopes text[], out key_expires_at timestamptz, out secret text
)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.assert_may_manage_api_keys();
  v_name text := trim(name);
  v_scopes text[] := app_private.validated_api_key_scopes(scopes);
  v_plan app_public.plans;
  v_key text := app_private.new_api_key();
  v_prefix text := app_private.api_key_prefix(v_key);
  v_id uuid := gen_random_uuid();
  v_user uuid := app_public.current_user_id();
begin
  if v_name is null or length(v_name) not between 1 and 100 then
    raise exception 'Give the key a name of 1 to 100 characters.' using errcode = 'INVAL';
  end if;
  if expires_at is not null and expires_at <= now() then
    raise exception 'The expiry must be in the future.' using errcode = 'INVAL';
  end if;
  v_plan := app_private.current_plan_of(v_tenant_id);
  if not v_plan.api_access then
    raise exception 'Your plan (%) does not include API access; upgrade to use API keys.', v_plan.name using errcode = 'LIMIT';
  end if;
  insert into app_public.api_keys (tenant_id, id, name, prefix, scopes, expires_at, created_by)
    values (v_tenant_id, v_id, v_name, v_prefix, v_scopes, create_api_key.expires_at, v_user);
  insert into app_private.api_key_secrets (secret_hash, tenant_id, api_key_id)
    values (app_private.hash_token(v_key), v_tenant_id, v_id);
  perform app_private.audit_api_key(v_tenant_id, v_id, 'created', jsonb_build_object(
    'name', v_name, 'prefix', v_prefix, 'scopes', v_scopes, 'expires_at', create_api_key.expires_at));
  key_id := v_id;
  key_prefix := v_prefix;
  key_scopes := v_scopes;
  key_expires_at := create_api_key.expires_at;
  secret := v_key;
end;
$$;
comment on function app_public.create_api_key(text, text[], timestamptz) is 'Creates an API key for this organisation (owners and admins; the plan must include API access). The answer holds the key''s id, prefix, scopes and expiry, and its secret (the whole key), shown this once and never again (only its hash is stored): send it as `Authorization: Bearer <secret>`. Scopes: leads, lists, templates, campaigns, domains and webhooks with :read or :write, analytics:read, billing:read.';

create or replace function app_public.rotate_api_key(
  api_key_id uuid,
  out key_id uuid, out key_prefix text, out key_scopes text[], out key_expires_at timestamptz, out secret text
)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.assert_may_manage_api_keys();
  v_key_row app_public.api_keys := app_private.locked_api_key(v_tenant_id, api_key_id);
  v_key text := app_private.new_api_key();
  v_prefix text := app_private.api_key_prefix(v_key);
  v_now timestamptz := now();
begin
  if v_key_row.revoked_at is not null then
    raise exception 'This API key is revoked; create a new one instead.' using errcode = 'STATE';
  end if;
  if v_key_row.expires_at <= v_now then
    raise exception 'This API key has expired; create a new one instead.' using errcode = 'STATE';
  end if;
  delete from app_private.api_key_secrets s where s.tenant_id = v_tenant_id and s.api_key_id = v_key_row.id;
  insert into app_private.api_key_secrets (secret_hash, tenant_id, api_key_id)
    values (app_private.hash_token(v_key), v_tenant_id, v_key_row.id);
  update app_public.api_keys k set prefix = v_prefix, rotated_at = v_now
    where k.tenant_id = v_tenant_id and k.id = v_key_row.id;
  perform app_private.audit_api_key(v_tenant_id, v_key_row.id, 'rotated', jsonb_build_object(
    'prefix', jsonb_build_object('from', v_key_row.prefix, 'to', v_prefix)));
  key_id := v_key_row.id;
  key_prefix := v_prefix;
  key_scopes := v_key_row.scopes;
  key_expires_at := v_key_row.expires_at;
  secret := v_key;
end;
$$;
comment on function app_public.rotate_api_key(uuid) is 'Replaces an API key''s secret (owners and admins): the old secret is refused from the next request on; the answer holds the new one, shown this once. Name, scopes and expiry stay.';

create or replace function app_public.revoke_api_key(api_key_id uuid) returns app_public.api_keys
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.assert_may_manage_api_keys();
  v_key_row app_public.api_keys := app_private.locked_api_key(v_tenant_id, api_key_id);
  v_now timestamptz := now();
begin
  if v_key_row.revoked_at is not null then
    return v_key_row;
  end if;
  update app_public.api_keys k set revoked_at = v_now
    where k.tenant_id = v_tenant_id and k.id = v_key_row.id
    returning * into v_key_row;
  perform app_private.audit_api_key(v_tenant_id, v_key_row.id, 'revoked', jsonb_build_object('name', v_key_row.name, 'prefix', v_key_row.prefix));
  return v_key_row;
end;
$$;
comment on function app_public.revoke_api_key(uuid) is 'Revokes an API key (owners and admins): it is refused from the next request on. Revoking a revoked key changes nothing.';

--------------------------------------------------------------------------------
-- Using keys.
--------------------------------------------------------------------------------

create or replace function app_private.use_api_key(secret_hash bytea, client_ip text)
  returns table (outcome text, api_key_id uuid, tenant_id uuid, scopes text[], rate_limit integer, retry_after integer)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_secret app_private.api_key_secrets;
  v_key app_public.api_keys;
  v_plan app_public.plans;
  v_now timestamptz := now();
  v_ip text := nullif(left(trim(client_ip), 100), '');
  v_window timestamptz;
begin
  select s.* into v_secret from app_private.api_key_secrets s where s.secret_hash = use_api_key.secret_hash;
  if v_secret.api_key_id is not null then
    select k.* into v_key from app_public.api_keys k
      join app_public.tenants t on t.id = v_secret.tenant_id and t.deleted_at is null
      where k.tenant_id = v_secret.tenant_id and k.id = v_secret.api_key_id;
  end if;
  if v_key.id is null then
    return query select 'unknown'::text, null::uuid, null::uuid, null::text[], null::integer, null::integer;
    return;
  end if;
  if v_key.revoked_at is not null then
    return query select 'revoked'::text, v_key.id, v_key.tenant_id, null::text[], null::integer, null::integer;
    return;
  end if;
  if v_key.expires_at <= v_now then
    return query select 'expired'::text, v_key.id, v_key.tenant_id, null::text[], null::integer, null::integer;
    return;
  end if;
  v_plan := app_private.current_plan_of(v_key.tenant_id);
  if not v_plan.api_access then
    return query select 'no_api_access'::text, v_key.id, v_key.tenant_id, null::text[], null::integer, null::integer;
    return;
  end if;
  if v_plan.api_rate_limit is not null
     and not app_private.throttle_hit('api:key', v_key.id::text, v_plan.api_rate_limit, interval '1 minute') then
    select t.window_start into v_window from app_private.auth_throttle t where t.scope = 'api:key' and t.key = v_key.id::text;
    return query select 'rate_limited'::text, v_key.id, v_key.tenant_id, null::text[], v_plan.api_rate_limit,
      greatest(1, ceil(extract(epoch from (v_window + interval '1 minute' - v_now)))::integer);
    return;
  end if;
  -- Its use, without a write per request: once a minute, or from another address.
  if v_key.last_used_at is null or v_key.last_used_at <= v_now - interval '1 minute'
     or v_key.last_used_ip is distinct from v_ip then
    update app_public.api_keys k set last_used_at = v_now, last_used_ip = v_ip
      where k.tenant_id = v_key.tenant_id and k.id = v_key.id;
    if v_ip is not null and v_key.last_used_ip is distinct from v_ip then
      perform app_private.audit_api_key(v_key.tenant_id, v_key.id, 'used_from_new_ip',
        jsonb_build_object('ip', v_ip, 'previous_ip', v_key.last_used_ip, 'prefix', v_key.prefix));
    end if;
  end if;
  return query select 'ok'::text, v_key.id, v_key.tenant_id, v_key.scopes, v_plan.api_rate_limit, null::integer;
end;
$$;
comment on function app_private.use_api_key(bytea, text) is 'Called by the API server (owner pool, a transaction of its own) for a request made with an API key, given the SHA-256 of what was sent: ok with the key''s tenant and scopes, or why it is refused (unknown, revoked, expired, no_api_access, rate_limited with the seconds to wait). Counts the request against the plan''s api_rate_limit per key and minute, records last_used_at/last_used_ip at most once a minute (and on a new address, audited).';

create or replace function app_hidden.enter_api_key(api_key_id uuid, tenant_id uuid) returns text[]
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key app_public.api_keys;
  v_ips uuid[] := '{}';
  v_roles text[] := array['admin'];
begin
  -- A key's request runs as penguinmails_member (or as the owner, in the
  -- worker processing an import the key uploaded), never with staff powers.
  if current_setting('role', true) = 'penguinmails_staff' then
    raise exception 'API keys act as organisation members only.' using errcode = 'DNIED';
  end if;
  select k.* into v_key from app_public.api_keys k
    join app_public.tenants t on t.id = enter_api_key.tenant_id and t.deleted_at is null
    where k.tenant_id = enter_api_key.tenant_id and k.id = enter_api_key.api_key_id
      and k.revoked_at is null and (k.expires_at is null or k.expires_at > now());
  if v_key.id is null then
    raise exception 'This API key has been revoked or has expired.' using errcode = 'SESSN';
  end if;
  if app_hidden.api_key_allows_scopes(v_key.scopes, 'domains', 'read') then
    select coalesce(array_agg(distinct a.smtp_ip_address_id), '{}') into v_ips
      from app_public.domain_ip_assignments a where a.tenant_id = enter_api_key.tenant_id and a.status <> 'expired';
  end if;
  -- The same settings as enter_request, with no user: the key acts as an admin
  -- of its tenant, narrowed by its scopes (policies/990-api-key-scopes.sql).
  execute format('set local app.current_user_id = %L', '');
  execute format('set local app.current_tenant_id = %L', tenant_id::text);
  execute format('set local app.current_tenant_roles = %L', v_roles::text);
  execute format('set local app.current_staff_permissions = %L', '{}');
  execute format('set local app.visible_user_ids = %L', '{}');
  execute format('set local app.assigned_ip_ids = %L', v_ips::text);
  execute format('set local app.api_key_id = %L', v_key.id::text);
  execute format('set local app.api_key_scopes = %L', v_key.scopes::text);
  execute format('set local app.current_plan_features = %L',
    app_private.plan_features(app_private.current_plan_of(enter_api_key.tenant_id))::text);
  return v_roles;
end;
$$;
comment on function app_hidden.enter_api_key(uuid, uuid) is 'Starts a request made with an API key (instead of enter_request): refuses a key revoked or expired since app_private.use_api_key, then records the request context: the key''s tenant with the admin role, no user, and the key''s scopes, which the policies'' scope checks and require_api_scope read.';

--------------------------------------------------------------------------------
-- Imports uploaded with a key run as that key.
--------------------------------------------------------------------------------

create or replace function app_private.tg_lead_imports__api_key() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  new.api_key_id := app_hidden.current_api_key_id();
  return new;
end;
$$;
comment on function app_private.tg_lead_imports__api_key() is 'Records the API key (from the request, never from the input) that uploads an import.';

create or replace trigger _050_api_key before insert on app_public.lead_imports
  for each row execute function app_private.tg_lead_imports__api_key();
