-- The current schema, dumped by `npm run schema:export` (src/db/schema-dump.ts)
-- from a PostgreSQL 15 database built from migrations/, functions/ and policies/.
-- Generated: edit those folders, never this file; test/db/schema-dump.test.ts
-- fails when it is out of date.

CREATE SCHEMA app_hidden;

COMMENT ON SCHEMA app_hidden IS 'Helpers the API roles may call (e.g. from their own queries) but that are not part of the GraphQL API.';

CREATE SCHEMA app_private;

COMMENT ON SCHEMA app_private IS 'Secrets (password hashes, encrypted credentials, DKIM keys, tokens) and internals; no API role may use it.';

CREATE SCHEMA app_public;

COMMENT ON SCHEMA app_public IS 'PenguinMails domain, exposed through the GraphQL API.';

CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;

COMMENT ON EXTENSION citext IS 'data type for case-insensitive character strings';

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';

CREATE TYPE app_public.dns_record_to_publish AS (
	record_type text,
	host text,
	type text,
	value text,
	zone_value text,
	ttl integer,
	priority integer,
	verification_status text,
	verification_error text
);

COMMENT ON TYPE app_public.dns_record_to_publish IS 'A DNS record the domain must publish: record_type (SPF, DKIM, DMARC, MX), the full host name, the DNS type (TXT, MX), the exact value, the value as quoted 255-character strings for zone files and providers that need them, TTL, MX priority and its verification state.';

CREATE DOMAIN app_public.email_address AS public.citext
	CONSTRAINT email_address_format CHECK (((length((VALUE)::text) <= 254) AND (VALUE OPERATOR(public.~) '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'::public.citext)));

COMMENT ON DOMAIN app_public.email_address IS 'A case-insensitive email address (local@domain, at most 254 characters).';

CREATE DOMAIN app_public.hostname AS public.citext
	CONSTRAINT hostname_format CHECK (((length((VALUE)::text) <= 253) AND (VALUE OPERATOR(public.~) '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'::public.citext)));

COMMENT ON DOMAIN app_public.hostname IS 'A fully qualified, case-insensitive DNS name such as mail.example.com (no trailing dot).';

CREATE TYPE app_public.message_stats AS (
	sent bigint,
	delivered bigint,
	opened bigint,
	clicked bigint,
	replied bigint,
	bounced bigint,
	failed bigint,
	unsubscribed bigint,
	complained bigint,
	opens_total bigint,
	clicks_total bigint,
	open_rate numeric,
	click_rate numeric,
	reply_rate numeric,
	bounce_rate numeric,
	unsubscribe_rate numeric
);

COMMENT ON TYPE app_public.message_stats IS '@name outreach_summary
Outreach statistics; rates are fractions of messages sent (0–1, null before anything was sent).';

CREATE TYPE app_public.usage_figures AS (
	emails_sent bigint,
	campaigns_started bigint,
	warmups bigint,
	contacts bigint,
	domains bigint,
	email_accounts bigint,
	users bigint
);

COMMENT ON TYPE app_public.usage_figures IS 'Usage figures of one billing period: live for the open period, final (snapshotted at roll-over) for closed ones.';

CREATE TYPE app_public.usage_metric AS (
	metric text,
	used bigint,
	"limit" bigint,
	plan text
);

COMMENT ON TYPE app_public.usage_metric IS 'Usage of one plan metric in the current billing period: how much is used, the limit (null: unlimited, add-ons included) and the plan that sets it.';

COMMENT ON COLUMN app_public.usage_metric.metric IS 'emails_sent, campaigns_started, warmups (counted per billing period) or contacts, domains, email_accounts, users (what exists right now).';

COMMENT ON COLUMN app_public.usage_metric.used IS 'Events counted in the open period, or resources that exist now.';

COMMENT ON COLUMN app_public.usage_metric."limit" IS 'The plan''s limit plus active add-ons; null means unlimited.';

COMMENT ON COLUMN app_public.usage_metric.plan IS 'Name of the plan whose limit applies.';

CREATE FUNCTION app_hidden.accept_invitation(token text, password text DEFAULT NULL::text, name text DEFAULT NULL::text) RETURNS TABLE(role text, user_id uuid, tenant_id uuid, expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_invitation app_public.invitations;
  v_user app_public.users;
  v_hash text;
  v_token app_private.invitation_tokens;
begin
  -- The token names no tenant: found in every tenant first, then the
  -- invitation is locked in its own (Citus locks rows of one shard only).
  select it.* into v_token from app_private.invitation_tokens it
    where it.token_hash = app_private.hash_token(accept_invitation.token);
  select i.* into v_invitation from app_public.invitations i
    where i.tenant_id = v_token.tenant_id and i.id = v_token.invitation_id
    for update;
  if v_invitation.id is null then
    raise exception 'This invitation link is not valid.' using errcode = 'NTFND';
  elsif v_invitation.accepted_at is not null then
    raise exception 'This invitation has already been accepted.' using errcode = 'EXPRD';
  elsif v_invitation.revoked_at is not null then
    raise exception 'This invitation was cancelled. Ask for a new one.' using errcode = 'EXPRD';
  elsif v_invitation.expires_at <= now() then
    raise exception 'This invitation expired on %. Ask for a new one.', to_char(v_invitation.expires_at at time zone 'UTC', 'YYYY-MM-DD') using errcode = 'EXPRD';
  elsif exists (
    -- Sent from a staff access session (before they were refused): never a membership.
    select 1 from app_public.audit_log a
    where a.tenant_id = v_invitation.tenant_id and a.action = 'invitations.insert'
      and a.record_id = v_invitation.id::text and a.actor_is_staff
  ) then
    raise exception 'This invitation was sent from a staff access session and cannot be accepted. Ask an owner or admin of the organisation for a new one.' using errcode = 'DNIED';
  end if;

  select u.* into v_user from app_public.users u where u.email = v_invitation.email and u.deleted_at is null;
  if v_user.id is null then
    perform app_private.assert_password_policy(password, array[v_invitation.tenant_id]);
    v_user := app_private.create_user(v_invitation.email, password, nullif(trim(name), ''), true);
  elsif app_public.current_user_id() is distinct from v_user.id then
    -- An existing account proves itself with its password (or by being signed in).
    select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user.id;
    if v_hash is null or password is null or v_hash <> public.crypt(password, v_hash) then
      raise exception 'An account with % exists: enter its password to accept.', v_invitation.email using errcode = 'CREDS';
    end if;
  end if;

  insert into app_public.tenant_users as tu (tenant_id, user_id, roles, email)
    values (v_invitation.tenant_id, v_user.id, v_invitation.roles, v_user.email)
  on conflict on constraint tenant_users_pkey do update set roles = excluded.roles, deleted_at = null;
  update app_public.invitations i set accepted_at = now()
    where i.tenant_id = v_invitation.tenant_id and i.id = v_invitation.id;
  update app_public.users u set email_verified_at = now() where u.id = v_user.id and u.email_verified_at is null;
  return query select * from app_private.session_claims(v_user.id, v_invitation.tenant_id);
end;
$$;

COMMENT ON FUNCTION app_hidden.accept_invitation(token text, password text, name text) IS 'Accepts an invitation by its emailed token: creates the account if needed (checking the tenant''s password policy), adds the membership and returns a session in that tenant.';

CREATE FUNCTION app_hidden.api_key_allows(area text, access text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select nullif(pg_catalog.current_setting('app.api_key_id', true), '') is null
    or app_hidden.api_key_allows_scopes(
         coalesce(nullif(pg_catalog.current_setting('app.api_key_scopes', true), '')::text[], '{}'::text[]), area, access);
$$;

COMMENT ON FUNCTION app_hidden.api_key_allows(area text, access text) IS 'True unless this is an API-key request whose key lacks `area:access` (a write scope includes read). A null area is never allowed to a key. Reads settings only: the scope check policies/990-api-key-scopes.sql adds to every policy.';

CREATE FUNCTION app_hidden.api_key_allows_scopes(scopes text[], area text, access text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select coalesce((area || ':' || access) operator(pg_catalog.=) any (scopes)
    or (access = 'read' and (area || ':write') operator(pg_catalog.=) any (scopes)), false);
$$;

COMMENT ON FUNCTION app_hidden.api_key_allows_scopes(scopes text[], area text, access text) IS 'Whether these scopes hold `area:access` (a write scope includes read).';

CREATE FUNCTION app_hidden.assigned_ip_ids() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select coalesce(nullif(pg_catalog.current_setting('app.assigned_ip_ids', true), '')::uuid[], '{}');
$$;

COMMENT ON FUNCTION app_hidden.assigned_ip_ids() IS 'The platform IPs assigned (not expired) to the current tenant''s domains when the request started: the IPs it may see.';

CREATE FUNCTION app_hidden.choose_variant(tenant_id uuid, step_id uuid, lead_id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  with v as (
    select v.id, v.label,
           sum(v.weight) over (order by v.label) as upto,
           sum(v.weight) over () as total
    from app_public.campaign_step_variants v
    where v.tenant_id = choose_variant.tenant_id and v.step_id = choose_variant.step_id
  )
  select v.id from v
  where v.upto > mod(mod(hashtextextended(choose_variant.step_id::text || ':' || choose_variant.lead_id::text, 0), v.total) + v.total, v.total)
  order by v.upto
  limit 1
  );
end;
$$;

COMMENT ON FUNCTION app_hidden.choose_variant(tenant_id uuid, step_id uuid, lead_id uuid) IS 'The A/B variant of an email step a lead gets: chosen by weight from a hash of step and lead, so it is stable (the preview and every retry agree). Null when the step has no variants.';

CREATE FUNCTION app_hidden.confirm_registration(token text) RETURNS TABLE(role text, user_id uuid, tenant_id uuid, expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_pending app_private.pending_registrations;
  v_user app_public.users;
  v_tenant app_public.tenants;
begin
  select p.* into v_pending from app_private.pending_registrations p
    where p.token_hash = app_private.hash_token(confirm_registration.token)
    for update;
  if v_pending.id is null then
    raise exception 'This confirmation link is not valid.' using errcode = 'NTFND';
  elsif v_pending.confirmed_at is not null then
    raise exception 'This confirmation link was already used: sign in instead.' using errcode = 'EXPRD';
  elsif v_pending.expires_at <= now() then
    raise exception 'This confirmation link has expired: sign up again.' using errcode = 'EXPRD';
  end if;
  -- Whoever holds the link owns the mailbox, so saying this reveals nothing.
  if exists (select 1 from app_public.users u where u.email = v_pending.email and u.deleted_at is null) then
    raise exception 'An account with this email already exists; sign in instead.' using errcode = 'TAKEN';
  end if;
  v_user := app_private.create_user(v_pending.email, null, v_pending.name, true);
  update app_private.user_secrets s set password_hash = v_pending.password_hash, password_changed_at = now(), last_login_at = now()
    where s.user_id = v_user.id;
  v_tenant := app_private.create_tenant(v_pending.tenant_name, v_user.id, 'free');
  -- This link is spent; the other open links for the address stop working.
  update app_private.pending_registrations p set confirmed_at = now()
    where p.email = v_pending.email and p.confirmed_at is null;
  return query select * from app_private.session_claims(v_user.id, v_tenant.id);
end;
$$;

COMMENT ON FUNCTION app_hidden.confirm_registration(token text) IS 'Completes a sign-up from its emailed link: creates the account (email confirmed) and its organisation on the Free plan, and returns a session in it.';

CREATE FUNCTION app_hidden.confirm_two_factor(matched_step bigint) RETURNS TABLE(recovery_codes text[], error_code text, error_message text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_user_id uuid := app_public.current_user_id();
  v_state app_private.user_two_factor;
  v_error record;
  v_codes text[];
  v_now timestamptz := now();
begin
  if v_user_id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  select f.* into v_state from app_private.user_two_factor f where f.user_id = v_user_id;
  if v_state.user_id is null then
    raise exception 'Start with startTwoFactorEnrollment.' using errcode = 'NTFND';
  elsif v_state.confirmed_at is not null then
    raise exception 'Two-factor authentication is already on.' using errcode = 'STATE';
  end if;
  select a.* into v_error from app_private.two_factor_attempt(v_user_id, matched_step, null, false, app_public.current_tenant_id()) a;
  if v_error.error_code is not null then
    return query select null::text[], v_error.error_code, v_error.error_message;
    return;
  end if;
  -- Ten recovery codes of 12 hexadecimal digits (48 bits), shown this once.
  select array_agg(regexp_replace(encode(public.gen_random_bytes(6), 'hex'), '(....)(....)(....)', '\1-\2-\3'))
    into v_codes from generate_series(1, 10);
  delete from app_private.two_factor_recovery_codes r where r.user_id = v_user_id;
  insert into app_private.two_factor_recovery_codes (user_id, code_hash)
    select v_user_id, app_private.hash_recovery_code(c) from unnest(v_codes) c;
  update app_private.user_two_factor f set confirmed_at = v_now, updated = v_now where f.user_id = v_user_id;
  return query select v_codes, null::text, null::text;
end;
$$;

COMMENT ON FUNCTION app_hidden.confirm_two_factor(matched_step bigint) IS 'Turns on two-factor authentication for the signed-in user once a code of the new secret is right (the API server passes the 30-second step it matched, or null); returns ten single-use recovery codes, stored hashed. A wrong code is returned as an error row and counted.';

CREATE FUNCTION app_hidden.create_webhook_subscription(url text, event_types text[], campaign_id uuid, description text, enabled boolean, secret_encrypted bytea) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_id uuid := gen_random_uuid();
  v_enabled boolean := coalesce(create_webhook_subscription.enabled, true);
  v_disabled_at timestamptz := case when v_enabled then null else now() end;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  if campaign_id is not null and not exists (select 1 from app_public.campaigns c
                                             where c.tenant_id = v_tenant_id and c.id = create_webhook_subscription.campaign_id) then
    raise exception 'There is no campaign % in this organisation.', campaign_id using errcode = 'NTFND';
  end if;
  insert into app_public.webhook_subscriptions (tenant_id, id, url, event_types, campaign_id, description, enabled, disabled_at, created_by)
    values (v_tenant_id, v_id, create_webhook_subscription.url, coalesce(create_webhook_subscription.event_types, '{}'),
            create_webhook_subscription.campaign_id, create_webhook_subscription.description, v_enabled, v_disabled_at,
            app_public.current_user_id());
  insert into app_private.webhook_secrets (tenant_id, subscription_id, secret_encrypted)
    values (v_tenant_id, v_id, create_webhook_subscription.secret_encrypted);
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'webhook_subscription.created', 'webhook_subscriptions', v_id::text,
            jsonb_build_object('url', create_webhook_subscription.url, 'event_types', create_webhook_subscription.event_types));
  return v_id;
end;
$$;

COMMENT ON FUNCTION app_hidden.create_webhook_subscription(url text, event_types text[], campaign_id uuid, description text, enabled boolean, secret_encrypted bytea) IS 'Creates a webhook subscription with its sealed signing secret (addWebhookSubscription). Owners and admins only; audited.';

CREATE FUNCTION app_hidden.current_api_key_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select nullif(pg_catalog.current_setting('app.api_key_id', true), '')::uuid;
$$;

COMMENT ON FUNCTION app_hidden.current_api_key_id() IS 'The API key this request is made with; null for a signed-in user (or anonymous).';

CREATE FUNCTION app_hidden.disable_two_factor(matched_step bigint, code text) RETURNS TABLE(error_code text, error_message text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_user_id uuid := app_public.current_user_id();
  v_error record;
begin
  if v_user_id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  if not app_private.two_factor_enabled(v_user_id) then
    raise exception 'Two-factor authentication is not on.' using errcode = 'STATE';
  end if;
  select a.* into v_error from app_private.two_factor_attempt(v_user_id, matched_step, code, true, app_public.current_tenant_id()) a;
  if v_error.error_code is not null then
    return query select v_error.error_code, v_error.error_message;
    return;
  end if;
  delete from app_private.two_factor_recovery_codes r where r.user_id = v_user_id;
  delete from app_private.user_two_factor f where f.user_id = v_user_id;
  return query select null::text, null::text;
end;
$$;

COMMENT ON FUNCTION app_hidden.disable_two_factor(matched_step bigint, code text) IS 'Turns off two-factor authentication for the signed-in user after a valid code or recovery code; deletes the secret and the recovery codes. A wrong code is returned as an error row and counted.';

CREATE FUNCTION app_hidden.dns_record_problem(r jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_type text;
  v_allowed text[] := array[
    'record_type', 'name', 'value', 'ttl', 'verification_status', 'last_verified_at',
    'verification_attempts', 'verification_error', 'source'
  ];
  v_unknown text;
begin
  if jsonb_typeof(r) is distinct from 'object' then
    return 'each record must be a JSON object';
  end if;
  v_type := r ->> 'record_type';
  if v_type is null or v_type not in ('SPF', 'DKIM', 'DMARC', 'MX', 'A', 'AAAA', 'CNAME') then
    return format('record_type must be one of SPF, DKIM, DMARC, MX, A, AAAA, CNAME, not %s', coalesce(r -> 'record_type', 'null'::jsonb));
  end if;
  v_allowed := v_allowed || case v_type
    when 'DKIM' then array['selector', 'public_key', 'managed_by', 'secret_ref', 'needs_deployment', 'role']
    when 'DMARC' then array['policy']
    when 'MX' then array['priority', 'mx_hosts']
    when 'SPF' then array['dns_lookups', 'void_lookups']
    else array[]::text[]
  end;
  select string_agg(k, ', ' order by k) into v_unknown from jsonb_object_keys(r) k where k <> all (v_allowed);
  if v_unknown is not null then
    return format('%s record has unknown field(s) %s', v_type, v_unknown);
  end if;
  if jsonb_typeof(r -> 'name') is distinct from 'string'
     or (r ->> 'name') !~ '^(@|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*)$' then
    return format('%s record: name must be "@" or a relative DNS name such as _dmarc, not %s', v_type, coalesce(r -> 'name', 'null'::jsonb));
  end if;
  if jsonb_typeof(r -> 'value') = 'null' or r -> 'value' is null then
    -- Only a DKIM record may wait for its key.
    if v_type <> 'DKIM' then
      return format('%s record %s: value is required', v_type, r ->> 'name');
    end if;
  elsif jsonb_typeof(r -> 'value') <> 'string' or length(r ->> 'value') not between 1 and 4096 then
    return format('%s record %s: value must be a string of 1 to 4096 characters', v_type, r ->> 'name');
  end if;
  if r ? 'ttl' and (jsonb_typeof(r -> 'ttl') <> 'number' or (r ->> 'ttl') !~ '^[0-9]{1,10}$' or (r ->> 'ttl')::bigint > 2147483647) then
    return format('%s record %s: ttl must be a whole number of seconds', v_type, r ->> 'name');
  end if;
  if (r ->> 'verification_status') is null or (r ->> 'verification_status') not in ('pending', 'verified', 'failed', 'error') then
    return format('%s record %s: verification_status must be pending, verified, failed or error', v_type, r ->> 'name');
  end if;
  if jsonb_typeof(r -> 'verification_attempts') is distinct from 'number' or (r ->> 'verification_attempts') !~ '^[0-9]{1,9}$' then
    return format('%s record %s: verification_attempts must be a whole number', v_type, r ->> 'name');
  end if;
  if r ? 'verification_error' and jsonb_typeof(r -> 'verification_error') not in ('null', 'string') then
    return format('%s record %s: verification_error must be text or null', v_type, r ->> 'name');
  end if;
  if r ? 'last_verified_at' and jsonb_typeof(r -> 'last_verified_at') <> 'null'
     and (jsonb_typeof(r -> 'last_verified_at') <> 'string'
          or (r ->> 'last_verified_at') !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$') then
    return format('%s record %s: last_verified_at must be an ISO 8601 timestamp or null', v_type, r ->> 'name');
  end if;
  if r ? 'source' and (r ->> 'source') not in ('ui', 'platform', 'api') then
    return format('%s record %s: source must be ui, platform or api', v_type, r ->> 'name');
  end if;

  if v_type = 'DKIM' then
    if (r ->> 'selector') is null or (r ->> 'selector') !~ '^[a-z0-9][a-z0-9-]{0,62}$' then
      return format('DKIM record %s: selector must be lower-case letters, digits and hyphens', r ->> 'name');
    end if;
    if r ->> 'name' <> (r ->> 'selector') || '._domainkey' then
      return format('DKIM record %s: name must be %s._domainkey', r ->> 'name', r ->> 'selector');
    end if;
    if r ? 'public_key' and jsonb_typeof(r -> 'public_key') <> 'null'
       and (jsonb_typeof(r -> 'public_key') <> 'string' or (r ->> 'public_key') !~ '^[A-Za-z0-9+/]+={0,2}$') then
      return format('DKIM record %s: public_key must be base64 or null', r ->> 'name');
    end if;
    if ((r ->> 'value') is null) <> ((r ->> 'public_key') is null) then
      return format('DKIM record %s: value and public_key are set together (both null while the key is generated)', r ->> 'name');
    end if;
    if r ? 'managed_by' and (r ->> 'managed_by') not in ('platform', 'mailu') then
      return format('DKIM record %s: managed_by must be platform or mailu', r ->> 'name');
    end if;
    if r ? 'secret_ref' and jsonb_typeof(r -> 'secret_ref') not in ('null', 'string') then
      return format('DKIM record %s: secret_ref must be text or null', r ->> 'name');
    end if;
    if r ? 'needs_deployment' and jsonb_typeof(r -> 'needs_deployment') <> 'boolean' then
      return format('DKIM record %s: needs_deployment must be true or false', r ->> 'name');
    end if;
    if r ? 'role' and (r ->> 'role') not in ('active', 'next') then
      return format('DKIM record %s: role must be active (the key mail is signed with) or next (a rotated key waiting to be published)', r ->> 'name');
    end if;
  elsif v_type = 'DMARC' then
    if r ? 'policy' and jsonb_typeof(r -> 'policy') <> 'null' and (r ->> 'policy') not in ('none', 'quarantine', 'reject') then
      return format('DMARC record %s: policy must be none, quarantine or reject', r ->> 'name');
    end if;
  elsif v_type = 'MX' then
    if jsonb_typeof(r -> 'priority') is distinct from 'number' or (r ->> 'priority') !~ '^[0-9]{1,5}$' or (r ->> 'priority')::int > 65535 then
      return format('MX record %s: priority must be a whole number from 0 to 65535', r ->> 'name');
    end if;
    if r ? 'mx_hosts' and (jsonb_typeof(r -> 'mx_hosts') <> 'array'
        or exists (select 1 from jsonb_array_elements(r -> 'mx_hosts') h where jsonb_typeof(h) <> 'string')) then
      return format('MX record %s: mx_hosts must be a list of host names', r ->> 'name');
    end if;
  elsif v_type = 'SPF' then
    if (r ? 'dns_lookups' and (r ->> 'dns_lookups') !~ '^[0-9]{1,4}$')
       or (r ? 'void_lookups' and (r ->> 'void_lookups') !~ '^[0-9]{1,4}$') then
      return format('SPF record %s: dns_lookups and void_lookups must be whole numbers', r ->> 'name');
    end if;
  end if;
  return null;
end;
$_$;

COMMENT ON FUNCTION app_hidden.dns_record_problem(r jsonb) IS 'Why one entry of a domain''s dns_records document is malformed (null when it is valid): a known record_type, a relative name, a value (a DKIM record may wait for its key), the verification fields, and the fields of its type only.';

CREATE FUNCTION app_hidden.dns_records_problem(doc jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_record jsonb;
  v_index integer := 0;
  v_problem text;
  v_duplicate text;
begin
  if jsonb_typeof(doc) is distinct from 'object' or jsonb_typeof(doc -> 'records') is distinct from 'array' then
    return 'dns_records must be an object {"records": [...]}';
  end if;
  if exists (select 1 from jsonb_object_keys(doc) k where k <> 'records') then
    return 'dns_records holds only "records"';
  end if;
  for v_record in select e from jsonb_array_elements(doc -> 'records') e loop
    v_problem := app_hidden.dns_record_problem(v_record);
    if v_problem is not null then
      return format('records[%s]: %s', v_index, v_problem);
    end if;
    v_index := v_index + 1;
  end loop;
  select (e ->> 'record_type') || ' ' || (e ->> 'name') into v_duplicate
  from jsonb_array_elements(doc -> 'records') e
  group by e ->> 'record_type', e ->> 'name'
  having count(*) > 1
  limit 1;
  if v_duplicate is not null then
    return format('the %s record is listed twice', v_duplicate);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_hidden.dns_records_problem(doc jsonb) IS 'Why a dns_records document is malformed (null when it is valid): {"records": [...]} with valid entries and no record listed twice. The CHECK on domains.dns_records and every writer use it.';

CREATE FUNCTION app_hidden.enter_api_key(api_key_id uuid, tenant_id uuid) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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
  return v_roles;
end;
$$;

COMMENT ON FUNCTION app_hidden.enter_api_key(api_key_id uuid, tenant_id uuid) IS 'Starts a request made with an API key (instead of enter_request): refuses a key revoked or expired since app_private.use_api_key, then records the request context: the key''s tenant with the admin role, no user, and the key''s scopes, which the policies'' scope checks and require_api_scope read.';

CREATE FUNCTION app_hidden.enter_request(user_id uuid, tenant_id uuid) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  -- Staff powers (permissions, access sessions) need a staff token: a request
  -- acting as penguinmails_member has none, even for a staff user.
  v_permissions text[] := case
    when user_id is null or current_setting('role', true) is distinct from 'penguinmails_staff' then '{}'
    else app_private.staff_permissions_of(user_id) end;
  v_roles text[] := app_private.tenant_roles_of(user_id, tenant_id, v_permissions);
  v_users uuid[] := case when user_id is null then '{}' else array[user_id] end;
  v_ips uuid[] := '{}';
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
  end if;
  -- SET LOCAL rather than set_config: Citus forwards it to the worker nodes.
  execute format('set local app.current_user_id = %L', coalesce(user_id::text, ''));
  execute format('set local app.current_tenant_id = %L', coalesce(tenant_id::text, ''));
  execute format('set local app.current_tenant_roles = %L', v_roles::text);
  execute format('set local app.current_staff_permissions = %L', v_permissions::text);
  execute format('set local app.visible_user_ids = %L', v_users::text);
  execute format('set local app.assigned_ip_ids = %L', v_ips::text);
  return v_roles;
end;
$$;

COMMENT ON FUNCTION app_hidden.enter_request(user_id uuid, tenant_id uuid) IS 'Starts a request''s transaction as this user in this tenant: resolves their tenant roles and staff permissions once and records them, with the ids, in transaction-local settings that every policy reads. Returns the tenant roles. Refuses a member whose account lacks what the tenant''s policy requires (EMVER: a confirmed email; TFENR: two-factor authentication), or, for a request that only sets it up (app.account_setup), enters with no role in the tenant.';

CREATE FUNCTION app_hidden.enter_session(session_id uuid, user_id uuid, tenant_id uuid) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_hidden.enter_session(session_id uuid, user_id uuid, tenant_id uuid) IS 'Starts a request made with a platform-signed token: refuses a session that was revoked or has expired, then enters the request as its user and tenant (enter_request).';

CREATE FUNCTION app_hidden.lead_filter_sql(filter jsonb, depth integer DEFAULT 0) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_key text;
  v_parts text[] := '{}';
  v_item jsonb;
  v_field text;
  v_op text;
  v_value jsonb;
  v_column text;
  v_custom_key text;
  v_text_expr text;
  v_columns constant text[] := array['email', 'name', 'first_name', 'last_name', 'company', 'title',
    'phone', 'website', 'timezone', 'status', 'source', 'created', 'updated', 'last_contacted_at',
    'replied_at', 'unsubscribed_at', 'bounced_at'];
begin
  if depth > 8 then
    raise exception 'Invalid list filter: groups are nested more than 8 levels deep.' using errcode = '22023';
  end if;
  if filter is null or jsonb_typeof(filter) <> 'object' then
    raise exception 'Invalid list filter: expected an object such as {"all": [...]}, got %.', coalesce(filter::text, 'null') using errcode = '22023';
  end if;

  -- Groups: {"all": [...]}, {"any": [...]}, {"not": {...}}
  if filter ? 'all' or filter ? 'any' then
    v_key := case when filter ? 'all' then 'all' else 'any' end;
    if jsonb_typeof(filter -> v_key) <> 'array' or jsonb_array_length(filter -> v_key) = 0 then
      raise exception 'Invalid list filter: "%" must be a non-empty array of conditions.', v_key using errcode = '22023';
    end if;
    for v_item in select * from jsonb_array_elements(filter -> v_key) loop
      v_parts := v_parts || app_hidden.lead_filter_sql(v_item, depth + 1);
    end loop;
    return '(' || array_to_string(v_parts, case v_key when 'all' then ' and ' else ' or ' end) || ')';
  end if;
  if filter ? 'not' then
    return '(not coalesce(' || app_hidden.lead_filter_sql(filter -> 'not', depth + 1) || ', false))';
  end if;

  -- Conditions: {"field": …, "op": …, "value": …}
  v_field := filter ->> 'field';
  v_op := coalesce(filter ->> 'op', 'eq');
  v_value := filter -> 'value';
  if v_field is null then
    raise exception 'Invalid list filter: each condition needs a "field" (one of %, or custom.<key>).', array_to_string(v_columns, ', ') using errcode = '22023';
  end if;

  if v_field like 'custom.%' then
    v_custom_key := substr(v_field, 8);
    if v_custom_key !~ '^[a-z][a-z0-9_]{0,62}$' then
      raise exception 'Invalid list filter: "%" is not a valid custom field key.', v_custom_key using errcode = '22023';
    end if;
    v_text_expr := format('(l.custom_fields ->> %L)', v_custom_key);
    case v_op
      when 'eq' then return format('(l.custom_fields @> %L::jsonb)', jsonb_build_object(v_custom_key, v_value));
      when 'neq' then return format('(not (l.custom_fields @> %L::jsonb))', jsonb_build_object(v_custom_key, v_value));
      when 'exists' then return format('(l.custom_fields ? %L)', v_custom_key);
      when 'not_exists' then return format('(not (l.custom_fields ? %L))', v_custom_key);
      when 'gt' then return format('((l.custom_fields -> %L) > %L::jsonb)', v_custom_key, v_value);
      when 'gte' then return format('((l.custom_fields -> %L) >= %L::jsonb)', v_custom_key, v_value);
      when 'lt' then return format('((l.custom_fields -> %L) < %L::jsonb)', v_custom_key, v_value);
      when 'lte' then return format('((l.custom_fields -> %L) <= %L::jsonb)', v_custom_key, v_value);
      else null;
    end case;
  elsif v_field = any (v_columns) then
    v_column := format('l.%I', v_field);
    v_text_expr := format('(%s)::text', v_column);
    case v_op
      when 'eq' then return format('(%s = %L)', v_column, v_value #>> '{}');
      when 'neq' then return format('(%s is distinct from %L)', v_column, v_value #>> '{}');
      when 'exists' then return format('(%s is not null)', v_column);
      when 'not_exists' then return format('(%s is null)', v_column);
      when 'gt' then return format('(%s > %L)', v_column, v_value #>> '{}');
      when 'gte' then return format('(%s >= %L)', v_column, v_value #>> '{}');
      when 'lt' then return format('(%s < %L)', v_column, v_value #>> '{}');
      when 'lte' then return format('(%s <= %L)', v_column, v_value #>> '{}');
      else null;
    end case;
  else
    raise exception 'Invalid list filter: unknown field "%"; use one of %, or custom.<key>.', v_field, array_to_string(v_columns, ', ') using errcode = '22023';
  end if;

  -- Operators that work on the text form of either kind of field.
  case v_op
    when 'in', 'not_in' then
      if jsonb_typeof(v_value) <> 'array' or jsonb_array_length(v_value) = 0 then
        raise exception 'Invalid list filter: "%" on "%" needs a non-empty array value.', v_op, v_field using errcode = '22023';
      end if;
      return format('(%s %s (select jsonb_array_elements_text(%L::jsonb)))',
        v_text_expr, case v_op when 'in' then 'in' else 'not in' end, v_value);
    when 'contains' then
      return format('(%s ilike %L)', v_text_expr, '%' || replace(replace(v_value #>> '{}', '%', '\%'), '_', '\_') || '%');
    when 'starts_with' then
      return format('(%s ilike %L)', v_text_expr, replace(replace(v_value #>> '{}', '%', '\%'), '_', '\_') || '%');
    when 'ends_with' then
      return format('(%s ilike %L)', v_text_expr, '%' || replace(replace(v_value #>> '{}', '%', '\%'), '_', '\_'));
    else
      raise exception 'Invalid list filter: unknown operator "%" on "%"; use eq, neq, in, not_in, contains, starts_with, ends_with, gt, gte, lt, lte, exists or not_exists.', v_op, v_field using errcode = '22023';
  end case;
end;
$_$;

COMMENT ON FUNCTION app_hidden.lead_filter_sql(filter jsonb, depth integer) IS 'Compiles a dynamic list filter into a SQL predicate over leads (alias l), rejecting unknown fields and operators with a clear message.';

CREATE FUNCTION app_hidden.lead_import_fields() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select array['email', 'name', 'first_name', 'last_name', 'company', 'title', 'phone', 'website', 'timezone', 'source'];
$$;

COMMENT ON FUNCTION app_hidden.lead_import_fields() IS 'The lead columns a CSV column can be mapped to (besides custom.<key>). Status and ownership are never imported. In app_hidden: the import validation trigger runs as the uploading member.';

CREATE FUNCTION app_hidden.login(email text, password text, requested_tenant uuid DEFAULT NULL::uuid, client_ip text DEFAULT NULL::text) RETURNS TABLE(role text, user_id uuid, tenant_id uuid, expires_at timestamp with time zone, error_code text, error_message text, two_factor_challenge text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_user app_public.users;
  v_secrets app_private.user_secrets;
  v_tenant_id uuid;
  v_policy app_public.tenant_policies;
  v_client text := coalesce(nullif(left(trim(client_ip), 100), ''), 'unknown');
  v_failures app_private.login_failures;
  -- Values, not calls, in the upsert below: Citus accepts only immutable
  -- expressions in the DO UPDATE SET of a distributed table.
  v_now timestamptz := now();
  v_lock_until timestamptz;
begin
  select u.* into v_user from app_public.users u where u.email = login.email::citext and u.deleted_at is null;
  if v_user.id is null then
    -- Same work and answer as a wrong password, so accounts cannot be probed:
    -- one bcrypt at the cost real hashes are made with (app_private.hash_password).
    perform app_private.hash_password(coalesce(password, ''));
    return query select null::text, null::uuid, null::uuid, null::timestamptz, 'CREDS', 'Incorrect email or password.', null::text;
    return;
  end if;
  select s.* into v_secrets from app_private.user_secrets s where s.user_id = v_user.id for update;

  -- The tenant to sign in to: the one asked for, or the user's oldest membership.
  select tu.tenant_id into v_tenant_id
    from app_public.tenant_users tu join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
    where tu.user_id = v_user.id and tu.deleted_at is null and (requested_tenant is null or tu.tenant_id = requested_tenant)
    order by tu.created limit 1;
  select p.* into v_policy from app_public.tenant_policies p where p.tenant_id = v_tenant_id;

  select f.* into v_failures from app_private.login_failures f
    where f.user_id = v_user.id and f.tenant_id = coalesce(v_tenant_id, '00000000-0000-0000-0000-000000000000') and f.client = v_client;
  if v_failures.locked_until > now() then
    perform app_private.hash_password(coalesce(password, '')); -- as long as any other answer
    return query select null::text, null::uuid, null::uuid, null::timestamptz, 'LOCKD',
      format('Too many failed sign-in attempts. Try again after %s UTC.', to_char(v_failures.locked_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI')), null::text;
    return;
  end if;

  if v_secrets.password_hash is null or v_secrets.password_hash <> public.crypt(coalesce(password, ''), v_secrets.password_hash) then
    v_lock_until := v_now + make_interval(mins => coalesce(v_policy.lockout_minutes, 15));
    insert into app_private.login_failures as f (user_id, tenant_id, client, failed_attempts, first_failed_at, locked_until)
      values (v_user.id, coalesce(v_tenant_id, '00000000-0000-0000-0000-000000000000'), v_client, 1, v_now,
              case when 1 >= coalesce(v_policy.max_login_attempts, 5) then v_lock_until end)
    on conflict (user_id, tenant_id, client) do update set
      -- A lock that has run out starts a new count.
      failed_attempts = case when f.locked_until <= v_now then 1 else f.failed_attempts + 1 end,
      first_failed_at = case when f.locked_until <= v_now then v_now else f.first_failed_at end,
      locked_until = case when (case when f.locked_until <= v_now then 1 else f.failed_attempts + 1 end) >= coalesce(v_policy.max_login_attempts, 5)
                          then v_lock_until end
    returning * into v_failures;
    if v_failures.locked_until is not null then
      return query select null::text, null::uuid, null::uuid, null::timestamptz, 'LOCKD',
        format('Too many failed sign-in attempts. Try again after %s UTC.', to_char(v_failures.locked_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI')), null::text;
    else
      return query select null::text, null::uuid, null::uuid, null::timestamptz, 'CREDS', 'Incorrect email or password.', null::text;
    end if;
    return;
  end if;

  -- Without a live organisation only staff, and owners of a closed one they can still reopen (functions/285), get a session.
  if v_tenant_id is null and not exists (select 1 from app_public.staff_members sm where sm.user_id = v_user.id)
     and (requested_tenant is not null or not exists (select 1 from app_private.closed_tenants_owned_by(v_user.id))) then
    return query select null::text, null::uuid, null::uuid, null::timestamptz, 'DNIED',
      case when requested_tenant is null then 'This account does not belong to any organisation any more.'
           else 'You are not a member of that organisation.' end, null::text;
    return;
  end if;

  delete from app_private.login_failures f
    where f.user_id = v_user.id and f.tenant_id = coalesce(v_tenant_id, '00000000-0000-0000-0000-000000000000') and f.client = v_client;
  -- With two-factor authentication, no session yet: a challenge that
  -- verify_two_factor_login completes with a code (functions/053-two-factor.sql).
  if app_private.two_factor_enabled(v_user.id) then
    return query select null::text, v_user.id, v_tenant_id, null::timestamptz, 'TWOFA',
      'Enter the code from your authenticator app (or a recovery code) with verifyTwoFactorLogin.',
      app_private.open_two_factor_challenge(v_user.id, v_tenant_id);
    return;
  end if;
  update app_private.user_secrets s set last_login_at = now() where s.user_id = v_user.id;
  return query select c.*, null::text, null::text, null::text from app_private.session_claims(v_user.id, v_tenant_id) c;
end;
$$;

COMMENT ON FUNCTION app_hidden.login(email text, password text, requested_tenant uuid, client_ip text) IS 'Checks credentials for a session in the chosen tenant (default: the first one). For a user with two-factor authentication it returns no session but error_code TWOFA and a single-use two_factor_challenge (five minutes) for verify_two_factor_login. After the tenant''s max_login_attempts consecutive failures from one client address, that client is locked out of that tenant for lockout_minutes (other clients and other tenants are not).';

CREATE FUNCTION app_hidden.my_two_factor_secret() RETURNS TABLE(secret_sealed bytea, confirmed boolean)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  if app_public.current_user_id() is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  return query select f.secret_sealed, f.confirmed_at is not null
    from app_private.user_two_factor f where f.user_id = app_public.current_user_id();
end;
$$;

COMMENT ON FUNCTION app_hidden.my_two_factor_secret() IS 'The signed-in user''s sealed TOTP secret, for the API server to check a code against (no row: none).';

CREATE FUNCTION app_hidden.open_session(user_id uuid, expires_at timestamp with time zone) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_hidden.open_session(user_id uuid, expires_at timestamp with time zone) IS 'Records a new session for a user who just signed in; its id goes into the token as the sid claim.';

CREATE FUNCTION app_hidden.register(email text, password text, name text, tenant_name text, client_ip text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_user_id uuid;
  v_token text;
  v_hash text;
  v_client_ok boolean;
  v_problem text;
begin
  -- Checks that say nothing about who has an account come first.
  if email is null or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(email) > 254 then
    raise exception 'Enter a valid email address.' using errcode = 'INVAL';
  end if;
  if tenant_name is null or length(trim(tenant_name)) = 0 then
    raise exception 'Give your organisation a name.' using errcode = 'INVAL';
  end if;
  perform app_private.assert_password_policy(password, '{}');
  -- The names are stored when the link is used: checked now, as the users and tenants triggers will.
  v_problem := coalesce(app_private.display_name_problem(nullif(trim(name), ''), 'Your name'),
                        app_private.display_name_problem(trim(tenant_name), 'The organisation name'));
  if v_problem is not null then
    raise exception '%', v_problem using errcode = 'INVAL';
  end if;
  -- The same work whether or not the email has an account: one bcrypt at the
  -- real cost, one job. Emails are throttled silently (at most 30 sign-ups an
  -- hour from one client address, 3 emails an hour per address).
  v_hash := app_private.hash_password(password);
  v_client_ok := app_private.throttle_hit('register:client', coalesce(nullif(left(trim(client_ip), 100), ''), 'unknown'), 30, interval '1 hour');
  select u.id into v_user_id from app_public.users u where u.email = register.email::citext and u.deleted_at is null;
  if not (v_client_ok and app_private.throttle_hit('register:email', md5(lower(email)), 3, interval '1 hour')) then
    return true;
  end if;
  if v_user_id is not null then
    perform app_private.add_job(null, 'send_registration_email',
      json_build_object('kind', 'existing_account', 'email', lower(email)), max_attempts => 10);
  else
    v_token := app_private.new_token();
    insert into app_private.pending_registrations (email, password_hash, name, tenant_name, token_hash, expires_at)
      values (register.email, v_hash, nullif(trim(register.name), ''), trim(register.tenant_name),
              app_private.hash_token(v_token), now() + interval '24 hours');
    perform app_private.add_job(null, 'send_registration_email',
      json_build_object('kind', 'confirm', 'email', lower(email), 'token', v_token), max_attempts => 10);
  end if;
  -- Same answer either way: this must not reveal which emails have accounts, or the throttle.
  return true;
end;
$_$;

COMMENT ON FUNCTION app_hidden.register(email text, password text, name text, tenant_name text, client_ip text) IS 'Starts a sign-up: emails a confirmation link valid 24 hours (a new address; the account and its organisation on the Free plan are created when the link is used) or a note that the address already has an account. Always returns true, with the same work either way; emails are throttled silently.';

CREATE FUNCTION app_hidden.render_context(tenant_id uuid, step_id uuid, lead_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  s app_public.campaign_sequence_steps;
  c app_public.campaigns;
  t app_public.templates;
  l app_public.leads;
  e app_public.campaign_enrollments;
  m app_public.messages;
  v app_public.campaign_step_variants;
  ea app_public.email_accounts;
  v_custom jsonb;
begin
  select x.* into s from app_public.campaign_sequence_steps x where x.tenant_id = render_context.tenant_id and x.id = render_context.step_id;
  if s.id is null then
    raise exception 'There is no sequence step % in this organisation.', step_id using errcode = 'NTFND';
  end if;
  if s.step_type <> 'email' then
    raise exception 'Step % of the sequence is a % step; only email steps have a message.', s.step_order, s.step_type using errcode = 'INVAL';
  end if;
  select x.* into l from app_public.leads x where x.tenant_id = s.tenant_id and x.id = render_context.lead_id;
  if l.id is null then
    raise exception 'There is no lead % in this organisation.', lead_id using errcode = 'NTFND';
  end if;
  select x.* into c from app_public.campaigns x where x.tenant_id = s.tenant_id and x.id = s.campaign_id;
  select x.* into t from app_public.templates x where x.tenant_id = s.tenant_id and x.id = s.template_id;

  -- The message of this step for this lead, once there is one: it fixes the
  -- inbox and variant (and its id is in the tracking links).
  select x.* into e from app_public.campaign_enrollments x where x.tenant_id = s.tenant_id and x.campaign_id = c.id and x.lead_id = l.id;
  if e.id is not null then
    select x.* into m from app_public.messages x
      where x.tenant_id = e.tenant_id and x.enrollment_id = e.id and x.step_id = s.id and x.direction = 'outbound'
      order by (x.id = e.current_message_id) desc, (x.status = 'cancelled'), x.id desc
      limit 1;
  end if;

  select x.* into v from app_public.campaign_step_variants x
    where x.tenant_id = s.tenant_id and x.id = coalesce(m.variant_id, app_hidden.choose_variant(s.tenant_id, s.id, l.id));

  select x.* into ea from app_public.email_accounts x
    where x.tenant_id = s.tenant_id and x.id = coalesce(m.email_account_id, s.email_account_id, e.email_account_id);
  if ea.id is null then
    select x.* into ea from app_public.campaign_email_accounts a
      join app_public.email_accounts x on x.tenant_id = a.tenant_id and x.id = a.email_account_id
      where a.tenant_id = c.tenant_id and a.campaign_id = c.id
      order by (x.status = 'active') desc, x.email
      limit 1;
  end if;

  -- Every custom field the tenant defines is present (null when the lead has
  -- none), so a template may use it; an unknown key is a template error.
  select coalesce(jsonb_object_agg(d.key, null::jsonb), '{}') || l.custom_fields into v_custom
    from app_public.custom_field_definitions d where d.tenant_id = s.tenant_id;

  return jsonb_build_object(
    'tenantId', s.tenant_id,
    'messageId', m.id,
    'step', jsonb_build_object('id', s.id, 'order', s.step_order, 'subjectOverride', s.subject_override),
    'template', jsonb_build_object('id', t.id, 'name', t.name, 'subject', t.subject, 'html', t.content, 'text', t.text_content, 'variables', t.variables),
    'variant', case when v.id is not null then jsonb_build_object('id', v.id, 'label', v.label, 'subject', v.subject) end,
    'campaign', jsonb_build_object('id', c.id, 'name', c.name, 'trackOpens', c.track_opens, 'trackClicks', c.track_clicks,
                                   'includeUnsubscribeLink', c.include_unsubscribe_link),
    'lead', jsonb_build_object('id', l.id, 'email', l.email, 'first_name', l.first_name, 'last_name', l.last_name, 'name', l.name,
                               'company', l.company, 'title', l.title, 'phone', l.phone, 'website', l.website, 'timezone', l.timezone,
                               'custom', v_custom),
    'sender', case when ea.id is not null then jsonb_build_object(
                'emailAccountId', ea.id, 'email', ea.email,
                'name', coalesce(s.from_name_override, c.from_name, ea.from_name)) end
  );
end;
$$;

COMMENT ON FUNCTION app_hidden.render_context(tenant_id uuid, step_id uuid, lead_id uuid) IS 'Everything the message of an email step for a lead is rendered from, as one JSON document (template, subject override, A/B variant, campaign settings, lead with custom fields, sender, and the message id once it exists). Runs as the caller, under RLS.';

CREATE FUNCTION app_hidden.request_password_reset(email text, client_ip text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user app_public.users;
  v_token text;
  v_client_ok boolean;
begin
  -- Throttled silently (the answer never changes): at most 10 requests an hour
  -- from one client address, whatever the email, and 3 emails an hour per account.
  v_client_ok := app_private.throttle_hit('reset:client', coalesce(nullif(left(trim(client_ip), 100), ''), 'unknown'), 10, interval '1 hour');
  select u.* into v_user from app_public.users u where u.email = request_password_reset.email::citext and u.deleted_at is null;
  if v_user.id is not null and v_client_ok and app_private.throttle_hit('reset:user', v_user.id::text, 3, interval '1 hour') then
    v_token := app_private.new_token();
    -- At most three live links per account; older ones stop working.
    update app_private.password_reset_tokens t set used_at = now()
      where t.user_id = v_user.id and t.used_at is null
        and t.id not in (select t2.id from app_private.password_reset_tokens t2
                         where t2.user_id = v_user.id and t2.used_at is null order by t2.created desc limit 2);
    insert into app_private.password_reset_tokens (user_id, token_hash, expires_at)
      values (v_user.id, app_private.hash_token(v_token), now() + interval '1 hour');
    perform app_private.add_job(null, 'send_password_reset_email',
      json_build_object('user_id', v_user.id, 'token', v_token), max_attempts => 10);
  end if;
  -- Same answer either way: this must not reveal which emails have accounts, or the throttle.
  return true;
end;
$$;

COMMENT ON FUNCTION app_hidden.request_password_reset(email text, client_ip text) IS 'Emails a password reset link (valid one hour) if an account exists, at most 3 an hour per account and 10 requests an hour per client address (silently). Always returns true.';

CREATE FUNCTION app_hidden.require_api_scope(area text, access text DEFAULT 'write'::text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_hidden.require_api_scope(area text, access text) IS 'The scope check of SECURITY DEFINER functions (next to their role check): refuses (FORBIDDEN) an API-key request whose key lacks `area:access`; does nothing for signed-in users. An area no key can hold (members, api_keys, billing writes) refuses every key.';

CREATE FUNCTION app_hidden.rotate_webhook_secret(subscription_id uuid, secret_encrypted bytea, overlap interval) RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_now timestamptz := now();
  v_expires timestamptz;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  if overlap is null or overlap < interval '0' or overlap > interval '7 days' then
    raise exception 'The overlap of the old secret must be between 0 and 7 days.' using errcode = 'INVAL';
  end if;
  v_expires := v_now + overlap;
  perform 1 from app_public.webhook_subscriptions s
    where s.tenant_id = v_tenant_id and s.id = rotate_webhook_secret.subscription_id for update;
  if not found then
    raise exception 'There is no webhook subscription % in this organisation.', subscription_id using errcode = 'NTFND';
  end if;
  update app_private.webhook_secrets ws set
      previous_secret_encrypted = ws.secret_encrypted,
      previous_expires_at = v_expires,
      secret_encrypted = rotate_webhook_secret.secret_encrypted,
      updated = v_now
    where ws.tenant_id = v_tenant_id and ws.subscription_id = rotate_webhook_secret.subscription_id;
  update app_public.webhook_subscriptions s set secret_rotated_at = v_now, previous_secret_expires_at = v_expires
    where s.tenant_id = v_tenant_id and s.id = rotate_webhook_secret.subscription_id;
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'webhook_subscription.secret_rotated', 'webhook_subscriptions',
            subscription_id::text, jsonb_build_object('previous_valid_until', v_expires));
  return v_expires;
end;
$$;

COMMENT ON FUNCTION app_hidden.rotate_webhook_secret(subscription_id uuid, secret_encrypted bytea, overlap interval) IS 'Replaces a subscription''s signing secret (rotateWebhookSecret); deliveries are signed with the old one too until now + overlap. Owners and admins only; audited.';

CREATE FUNCTION app_hidden.set_email_account_credentials(email_account_id uuid, smtp_password_encrypted bytea, imap_password_encrypted bytea) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can set inbox passwords.' using errcode = 'DNIED';
  end if;
  if not exists (select 1 from app_public.email_accounts ea
                 where ea.tenant_id = v_tenant_id and ea.id = set_email_account_credentials.email_account_id) then
    raise exception 'There is no inbox % in this organisation.', email_account_id using errcode = 'NTFND';
  end if;
  if smtp_password_encrypted is null and imap_password_encrypted is null then
    raise exception 'Give an SMTP password, an IMAP password, or both.' using errcode = 'INVAL';
  end if;
  insert into app_private.email_account_credentials as cr (tenant_id, email_account_id, smtp_password_encrypted, imap_password_encrypted, updated)
    values (v_tenant_id, set_email_account_credentials.email_account_id, set_email_account_credentials.smtp_password_encrypted,
            set_email_account_credentials.imap_password_encrypted, now())
  on conflict (tenant_id, email_account_id) do update set
    smtp_password_encrypted = coalesce(excluded.smtp_password_encrypted, cr.smtp_password_encrypted),
    imap_password_encrypted = coalesce(excluded.imap_password_encrypted, cr.imap_password_encrypted),
    updated = excluded.updated; -- the insert's now(): Citus takes no call in DO UPDATE SET
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'email_account.credentials_set', 'email_accounts', email_account_id::text,
            jsonb_build_object('smtp_password', smtp_password_encrypted is not null, 'imap_password', imap_password_encrypted is not null));
end;
$$;

COMMENT ON FUNCTION app_hidden.set_email_account_credentials(email_account_id uuid, smtp_password_encrypted bytea, imap_password_encrypted bytea) IS 'Stores an inbox''s encrypted SMTP and/or IMAP password (a null one is left as it was). Owners and admins of the inbox''s tenant only; audited; never returns a secret.';

CREATE FUNCTION app_hidden.start_two_factor_enrollment(secret_sealed bytea) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id uuid := app_public.current_user_id();
  v_email text;
  v_now timestamptz := now();
  v_sealed bytea := secret_sealed;
begin
  if v_user_id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first (two-factor authentication belongs to a user, not an API key).' using errcode = 'DNIED';
  end if;
  if app_private.two_factor_enabled(v_user_id) then
    raise exception 'Two-factor authentication is already on. Turn it off first to set up another device.' using errcode = 'STATE';
  end if;
  if v_sealed is null or length(v_sealed) < 29 then
    raise exception 'A sealed secret is required.' using errcode = 'INVAL';
  end if;
  -- A new secret replaces an unconfirmed one; a lockout stays.
  insert into app_private.user_two_factor as f (user_id, secret_sealed)
    values (v_user_id, v_sealed)
  on conflict (user_id) do update set secret_sealed = excluded.secret_sealed, last_used_step = 0, updated = v_now;
  select u.email into v_email from app_public.users u where u.id = v_user_id;
  return v_email;
end;
$$;

COMMENT ON FUNCTION app_hidden.start_two_factor_enrollment(secret_sealed bytea) IS 'Stores a new, unconfirmed TOTP secret (sealed by the API server) for the signed-in user, replacing an unconfirmed one; refused while two-factor authentication is on. Returns the user''s email (the label of the otpauth URI).';

CREATE FUNCTION app_hidden.stats_with_rates(sent bigint, delivered bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, failed bigint, unsubscribed bigint, complained bigint, opens_total bigint, clicks_total bigint) RETURNS app_public.message_stats
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select row(
    coalesce(sent, 0), coalesce(delivered, 0), coalesce(opened, 0), coalesce(clicked, 0), coalesce(replied, 0),
    coalesce(bounced, 0), coalesce(failed, 0), coalesce(unsubscribed, 0), coalesce(complained, 0),
    coalesce(opens_total, 0), coalesce(clicks_total, 0),
    round(opened::numeric / nullif(sent, 0), 4), round(clicked::numeric / nullif(sent, 0), 4),
    round(replied::numeric / nullif(sent, 0), 4), round(bounced::numeric / nullif(sent, 0), 4),
    round(unsubscribed::numeric / nullif(sent, 0), 4)
  )::app_public.message_stats;
$$;

COMMENT ON FUNCTION app_hidden.stats_with_rates(sent bigint, delivered bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, failed bigint, unsubscribed bigint, complained bigint, opens_total bigint, clicks_total bigint) IS 'Builds message_stats with rates as fractions of messages sent.';

CREATE FUNCTION app_hidden.switch_tenant(target_tenant uuid) RETURNS TABLE(role text, user_id uuid, tenant_id uuid, expires_at timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  if app_public.current_user_id() is null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  -- The membership/staff-session check of the request context.
  if cardinality(app_private.tenant_roles_of(
       app_public.current_user_id(), target_tenant, app_private.staff_permissions_of(app_public.current_user_id()))) = 0 then
    raise exception 'You are not a member of that organisation.' using errcode = 'DNIED';
  end if;
  return query select * from app_private.session_claims(app_public.current_user_id(), target_tenant);
end;
$$;

COMMENT ON FUNCTION app_hidden.switch_tenant(target_tenant uuid) IS 'A session in another tenant the signed-in user belongs to (or holds a staff access session for).';

CREATE FUNCTION app_hidden.two_factor_challenge_secret(challenge text) RETURNS bytea
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_challenge app_private.two_factor_challenges := app_private.live_two_factor_challenge(challenge);
begin
  return (select f.secret_sealed from app_private.user_two_factor f where f.user_id = v_challenge.user_id);
end;
$$;

COMMENT ON FUNCTION app_hidden.two_factor_challenge_secret(challenge text) IS 'The sealed TOTP secret of the user a live sign-in challenge belongs to, for the API server to check a code against.';

CREATE FUNCTION app_hidden.verify_two_factor_login(challenge text, matched_step bigint, code text) RETURNS TABLE(role text, user_id uuid, tenant_id uuid, expires_at timestamp with time zone, error_code text, error_message text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_challenge app_private.two_factor_challenges := app_private.live_two_factor_challenge(challenge);
  v_error record;
  v_now timestamptz := now();
begin
  select c.* into v_challenge from app_private.two_factor_challenges c where c.id = v_challenge.id for update;
  if v_challenge.used_at is not null then
    raise exception 'This sign-in challenge was already used: sign in again.' using errcode = 'EXPRD';
  end if;
  select a.* into v_error from app_private.two_factor_attempt(v_challenge.user_id, matched_step, code, true, v_challenge.tenant_id) a;
  if v_error.error_code is not null then
    return query select null::text, null::uuid, null::uuid, null::timestamptz, v_error.error_code, v_error.error_message;
    return;
  end if;
  update app_private.two_factor_challenges c set used_at = v_now, updated = v_now where c.id = v_challenge.id;
  update app_private.user_secrets s set last_login_at = v_now where s.user_id = v_challenge.user_id;
  return query select c.*, null::text, null::text from app_private.session_claims(v_challenge.user_id, v_challenge.tenant_id) c;
end;
$$;

COMMENT ON FUNCTION app_hidden.verify_two_factor_login(challenge text, matched_step bigint, code text) IS 'Completes a sign-in challenge with the second factor (the TOTP step the API server matched, or a recovery code, which is spent) and returns the session''s claims; the challenge is then used. A wrong code is returned as an error row and counted towards the lockout.';

CREATE FUNCTION app_hidden.visible_user_ids() RETURNS uuid[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select coalesce(nullif(pg_catalog.current_setting('app.visible_user_ids', true), '')::uuid[], '{}');
$$;

COMMENT ON FUNCTION app_hidden.visible_user_ids() IS 'The users the current user may see: themselves and the active members of their current tenant, as enter_request found them. The users policy compares against it (`id = any (…)`).';

CREATE FUNCTION app_hidden.without_api_key() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select nullif(pg_catalog.current_setting('app.api_key_id', true), '') is null;
$$;

COMMENT ON FUNCTION app_hidden.without_api_key() IS 'True unless this request is made with an API key: the scope check policies/990-api-key-scopes.sql adds to the tables no key may reach.';

CREATE FUNCTION app_private.active_tenant_ids(user_id uuid) RETURNS uuid[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select coalesce(array_agg(tu.tenant_id), '{}')
  from app_public.tenant_users tu join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
  where tu.user_id = active_tenant_ids.user_id and tu.deleted_at is null
  );
end;
$$;

COMMENT ON FUNCTION app_private.active_tenant_ids(user_id uuid) IS 'The tenants a user is an active member of.';

CREATE FUNCTION app_private.add_billing_period(starts_at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select starts_at + interval '1 month';
$$;

COMMENT ON FUNCTION app_private.add_billing_period(starts_at timestamp with time zone) IS 'End of a monthly billing period that starts at the given instant (calendar month; Jan 31 → Feb 28).';

CREATE FUNCTION app_private.add_campaign_stats(deltas jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  insert into app_public.campaign_stats_daily as s (
    tenant_id, campaign_id, day, shard, sent, delivered, opened, clicked, replied, bounced, failed,
    unsubscribed, complained, opens_total, clicks_total)
  select d.tenant_id, d.campaign_id, d.day, floor(random() * 8)::smallint,
    coalesce(sum(d.n) filter (where d.metric = 'sent'), 0), coalesce(sum(d.n) filter (where d.metric = 'delivered'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'opened'), 0), coalesce(sum(d.n) filter (where d.metric = 'clicked'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'replied'), 0), coalesce(sum(d.n) filter (where d.metric = 'bounced'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'failed'), 0), coalesce(sum(d.n) filter (where d.metric = 'unsubscribed'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'complained'), 0), coalesce(sum(d.n) filter (where d.metric = 'opens_total'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'clicks_total'), 0)
  from jsonb_to_recordset(deltas) as d (tenant_id uuid, campaign_id uuid, day date, metric text, n bigint)
  group by d.tenant_id, d.campaign_id, d.day
  on conflict on constraint campaign_stats_daily_pkey do update set
    sent = s.sent + excluded.sent,
    delivered = s.delivered + excluded.delivered,
    opened = s.opened + excluded.opened,
    clicked = s.clicked + excluded.clicked,
    replied = s.replied + excluded.replied,
    bounced = s.bounced + excluded.bounced,
    failed = s.failed + excluded.failed,
    unsubscribed = s.unsubscribed + excluded.unsubscribed,
    complained = s.complained + excluded.complained,
    opens_total = s.opens_total + excluded.opens_total,
    clicks_total = s.clicks_total + excluded.clicks_total;
end;
$$;

COMMENT ON FUNCTION app_private.add_campaign_stats(deltas jsonb) IS 'Adds counter deltas to the daily campaign rollup (one upsert per campaign and day).';

CREATE FUNCTION app_private.add_job(tenant_id uuid, identifier text, payload json DEFAULT '{}'::json, queue_name text DEFAULT NULL::text, run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, max_attempts integer DEFAULT NULL::integer, job_key text DEFAULT NULL::text, priority integer DEFAULT NULL::integer, job_key_mode text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if app_private.on_coordinator() then
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

COMMENT ON FUNCTION app_private.add_job(tenant_id uuid, identifier text, payload json, queue_name text, run_at timestamp with time zone, max_attempts integer, job_key text, priority integer, job_key_mode text) IS 'Queues a graphile-worker job (the arguments of graphile_worker.add_job, after the tenant it concerns). On a Citus worker node the job waits in job_outbox for drain_job_outbox.';

CREATE FUNCTION app_private.advance_after_send(tenant_id uuid, message_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_order integer;
begin
  select x.* into m from app_public.messages x where x.tenant_id = advance_after_send.tenant_id and x.id = advance_after_send.message_id;
  select s.step_order into v_order from app_public.campaign_sequence_steps s where s.tenant_id = m.tenant_id and s.id = m.step_id;
  update app_public.campaign_enrollments e
    set current_message_id = null,
        thread_message_id = coalesce(e.thread_message_id, m.id),
        current_step_order = coalesce(v_order, e.current_step_order) + 1,
        steps_completed = e.steps_completed + 1
    where e.tenant_id = m.tenant_id and e.id = m.enrollment_id and e.current_message_id = m.id;
  if found then
    update app_public.campaign_sequence_steps s set executed_count = s.executed_count + 1, last_executed_at = app_private.engine_now()
      where s.tenant_id = m.tenant_id and s.id = m.step_id;
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.advance_after_send(tenant_id uuid, message_id uuid) IS 'After an email step''s message went out: the enrollment moves past that step (the first message becomes the thread follow-ups answer).';

CREATE FUNCTION app_private.advance_engine_clock(by_interval interval) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_job record;
begin
  if by_interval is null then
    raise exception 'Say how far to move the engine clock (an interval such as ''48 hours'').' using errcode = 'INVAL';
  end if;
  update app_private.engine_clock c set offset_by = c.offset_by + by_interval, updated = now() where c.id = 1;
  -- Pending engine jobs keep their place in engine time: those still in the
  -- outbox (queued on a Citus worker node, functions/002) first, as a drain
  -- that holds them commits before this statement goes on; then the queue,
  -- read after it.
  -- (Row by row with the new time as a value: Citus takes no timestamptz
  -- arithmetic on a column in a multi-shard UPDATE. The outbox holds a few rows
  -- at most.)
  for v_job in
    select o.tenant_id, o.id, o.run_at - by_interval as run_at from app_private.job_outbox o
    where o.identifier = any (app_private.engine_task_identifiers()) and o.run_at is not null
  loop
    update app_private.job_outbox o set run_at = v_job.run_at where o.tenant_id = v_job.tenant_id and o.id = v_job.id;
  end loop;
  update graphile_worker._private_jobs j set run_at = j.run_at - by_interval
    from graphile_worker._private_tasks t
    where t.id = j.task_id and t.identifier = any (app_private.engine_task_identifiers()) and j.locked_at is null;
  return app_private.engine_now();
end;
$$;

COMMENT ON FUNCTION app_private.advance_engine_clock(by_interval interval) IS 'Moves the sending engine''s clock (tests and drills only) and the run_at of its pending jobs with it; returns the new engine time.';

CREATE FUNCTION app_private.api_key_prefix(key text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
  select left(key, 11);
$$;

COMMENT ON FUNCTION app_private.api_key_prefix(key text) IS 'The visible start of a key (`pm_` and 8 characters).';

CREATE FUNCTION app_private.api_key_scopes() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  select array[
    'leads:read', 'leads:write', 'lists:read', 'lists:write', 'templates:read', 'templates:write',
    'campaigns:read', 'campaigns:write', 'analytics:read', 'domains:read', 'domains:write',
    'webhooks:read', 'webhooks:write', 'billing:read'
  ]::text[];
$$;

COMMENT ON FUNCTION app_private.api_key_scopes() IS 'Every scope a key can hold (the api_keys.scopes check lists the same). No scope lets a key manage members, API keys, organisation settings or the subscription.';

CREATE FUNCTION app_public.current_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select case
    when pg_catalog.cardinality(app_public.current_tenant_roles()) > 0
    then nullif(pg_catalog.current_setting('app.current_tenant_id', true), '')::uuid
  end;
$$;

COMMENT ON FUNCTION app_public.current_tenant_id() IS '@behavior -*
The tenant of this request, only while the user is an active member of it (or holds a live staff access session); null otherwise. Every tenant policy compares against it. Use currentTenant in the API.';

CREATE TABLE app_public.subscriptions (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    plan_id uuid NOT NULL,
    pending_plan_id uuid,
    status text DEFAULT 'active'::text NOT NULL,
    current_period_start timestamp with time zone DEFAULT date_trunc('day'::text, now()) NOT NULL,
    current_period_end timestamp with time zone DEFAULT (date_trunc('day'::text, now()) + '1 mon'::interval) NOT NULL,
    cancel_at_period_end boolean DEFAULT false NOT NULL,
    cancelled_at timestamp with time zone,
    past_due_since timestamp with time zone,
    billing_contact_user_id uuid,
    stripe_subscription_id text,
    stripe_updated_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT subscriptions_check CHECK ((current_period_end > current_period_start)),
    CONSTRAINT subscriptions_status_check CHECK ((status = ANY (ARRAY['active'::text, 'past_due'::text, 'canceled'::text, 'unpaid'::text]))),
    CONSTRAINT subscriptions_stripe_subscription_id_check CHECK ((stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'::text))
);

ALTER TABLE ONLY app_public.subscriptions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.subscriptions IS '@name billing_subscription
A tenant''s subscription to a plan; pending_plan_id takes effect at the end of the current period.';

COMMENT ON COLUMN app_public.subscriptions.stripe_updated_at IS 'Creation time of the last Stripe event applied, so an older event delivered late cannot undo a newer one.';

CREATE FUNCTION app_private.apply_cancellation(tenant_id uuid, at_period_end boolean) RETURNS app_public.subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_sub app_public.subscriptions := app_private.locked_current_subscription(tenant_id);
  v_plan app_public.plans;
  v_result app_public.subscriptions;
begin
  select p.* into v_plan from app_public.plans p where p.id = v_sub.plan_id;
  if v_plan.id = (app_private.fallback_plan()).id then
    raise exception 'The % plan is free: there is nothing to cancel.', v_plan.name using errcode = 'INVAL';
  end if;
  if coalesce(at_period_end, true) then
    if v_sub.cancel_at_period_end then
      raise exception 'Your % plan already ends on %.', v_plan.name, to_char(v_sub.current_period_end at time zone 'UTC', 'YYYY-MM-DD')
        using errcode = 'INVAL';
    end if;
    update app_public.subscriptions s set cancel_at_period_end = true, pending_plan_id = null
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
    perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
    return v_result;
  end if;
  v_result := app_private.end_subscription(v_sub.tenant_id, v_sub.id, now());
  perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
  return v_result;
end;
$$;

COMMENT ON FUNCTION app_private.apply_cancellation(tenant_id uuid, at_period_end boolean) IS 'Cancels the tenant''s paid subscription at the end of the period (default) or now (then the Free plan starts at once). Returns the current subscription afterwards.';

CREATE FUNCTION app_private.apply_dunning(grace interval, at timestamp with time zone DEFAULT now()) RETURNS TABLE(tenant_id uuid, subscription_id uuid)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  r record;
begin
  if grace is null or grace < interval '0' then
    raise exception 'The dunning grace period must be zero or more, not %.', grace using errcode = 'INVAL';
  end if;
  -- Candidates across tenants, each then locked by its key (Citus locks rows
  -- only in a query that names its tenant) and skipped if another run has it.
  for r in
    select s.tenant_id, s.id from app_public.subscriptions s
    where s.status = 'past_due' and s.past_due_since <= at - grace
    order by s.past_due_since
  loop
    perform 1 from app_public.subscriptions s
      where s.tenant_id = r.tenant_id and s.id = r.id and s.status = 'past_due' and s.past_due_since <= at - grace
      for update skip locked;
    continue when not found;
    perform app_private.set_payment_state(r.tenant_id, r.id, 'unpaid', at);
    tenant_id := r.tenant_id;
    subscription_id := r.id;
    return next;
  end loop;
end;
$$;

COMMENT ON FUNCTION app_private.apply_dunning(grace interval, at timestamp with time zone) IS 'Dunning: subscriptions past due for longer than the grace period become unpaid (campaigns paused, sends refused). Returns the subscriptions it changed; safe to run at any time and more than once.';

CREATE FUNCTION app_private.apply_plan_change(tenant_id uuid, plan_slug text, at_period_end boolean) RETURNS app_public.subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_target app_public.plans := app_private.plan_by_slug(plan_slug);
  v_sub app_public.subscriptions := app_private.locked_current_subscription(tenant_id);
  v_current app_public.plans;
  v_later boolean;
  v_result app_public.subscriptions;
begin
  select p.* into v_current from app_public.plans p where p.id = v_sub.plan_id;
  if v_sub.status = 'unpaid' then
    raise exception 'The payment for your % plan is overdue: pay the open invoice before changing plans.', v_current.name using errcode = 'STATE';
  end if;

  if v_target.id = v_sub.plan_id then
    if v_sub.pending_plan_id is null and not v_sub.cancel_at_period_end then
      raise exception 'You are already on the % plan.', v_current.name using errcode = 'INVAL';
    end if;
    -- Staying: undo the scheduled change or cancellation.
    update app_public.subscriptions s set pending_plan_id = null, cancel_at_period_end = false
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
    perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
    return v_result;
  end if;

  if v_target.id = (app_private.fallback_plan()).id then
    return app_private.apply_cancellation(tenant_id, coalesce(at_period_end, true));
  end if;

  v_later := coalesce(at_period_end, coalesce(v_target.price_monthly, 0) <= coalesce(v_current.price_monthly, 0));
  if v_later then
    update app_public.subscriptions s set pending_plan_id = v_target.id, cancel_at_period_end = false
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
  else
    update app_public.subscriptions s set plan_id = v_target.id, pending_plan_id = null, cancel_at_period_end = false
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
    update app_public.usage_periods up set plan_id = v_target.id
      where up.tenant_id = v_sub.tenant_id and up.closed_at is null;
  end if;
  perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
  return v_result;
end;
$$;

COMMENT ON FUNCTION app_private.apply_plan_change(tenant_id uuid, plan_slug text, at_period_end boolean) IS 'Changes the tenant''s plan now or at the end of the period (see the top of functions/253-billing-plan-changes.sql).';

CREATE FUNCTION app_private.apply_stripe_invoice(event jsonb) RETURNS TABLE(tenant_id uuid, outcome text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_invoice jsonb := event -> 'data' -> 'object';
  v_created timestamptz := app_private.stripe_time(event ->> 'created');
  v_paid boolean := (event ->> 'type') = 'invoice.paid';
  v_sub app_public.subscriptions;
  v_period_start timestamptz;
  v_period_end timestamptz;
  v_amount numeric;
begin
  if v_invoice ->> 'id' is null or v_invoice ->> 'id' !~ '^in_' then
    raise exception 'Event % carries no invoice id.', event ->> 'id' using errcode = 'INVAL';
  end if;
  v_sub := app_private.stripe_subscription_for(
    v_invoice ->> 'customer',
    coalesce(v_invoice ->> 'subscription', v_invoice #>> '{parent,subscription_details,subscription}'),
    false);
  if v_sub.id is null then
    return query select null::uuid, 'unknown_customer'::text;
    return;
  end if;

  v_period_start := coalesce(app_private.stripe_time(v_invoice #>> '{lines,data,0,period,start}'), app_private.stripe_time(v_invoice ->> 'period_start'));
  v_period_end := coalesce(app_private.stripe_time(v_invoice #>> '{lines,data,0,period,end}'), app_private.stripe_time(v_invoice ->> 'period_end'));
  if v_period_end <= v_period_start then
    v_period_start := null;
    v_period_end := null;
  end if;
  v_amount := coalesce((v_invoice ->> case when v_paid then 'amount_paid' else 'amount_due' end)::numeric, 0) / 100;

  insert into app_public.payments as pay (tenant_id, subscription_id, amount, currency, status, processed_at, description,
      stripe_invoice_id, stripe_payment_intent_id, billing_period_start, billing_period_end)
    values (v_sub.tenant_id, v_sub.id, v_amount, upper(coalesce(v_invoice ->> 'currency', 'usd')),
      case when v_paid then 'succeeded' else 'failed' end,
      coalesce(app_private.stripe_time(v_invoice #>> '{status_transitions,paid_at}'), v_created),
      'Stripe invoice ' || coalesce(v_invoice ->> 'number', v_invoice ->> 'id'),
      v_invoice ->> 'id',
      coalesce(v_invoice ->> 'payment_intent', v_invoice #>> '{payments,data,0,payment,payment_intent}'),
      v_period_start, v_period_end)
  on conflict (tenant_id, stripe_invoice_id) do update set
      -- A success is final; a late failure notice does not undo it.
      status = case when pay.status = 'succeeded' then pay.status else excluded.status end,
      amount = case when pay.status = 'succeeded' then pay.amount else excluded.amount end,
      processed_at = case when pay.status = 'succeeded' then pay.processed_at else excluded.processed_at end,
      stripe_payment_intent_id = coalesce(pay.stripe_payment_intent_id, excluded.stripe_payment_intent_id),
      billing_period_start = coalesce(pay.billing_period_start, excluded.billing_period_start),
      billing_period_end = coalesce(pay.billing_period_end, excluded.billing_period_end);

  if v_sub.status = 'canceled' or not app_private.stripe_event_is_newer(v_sub, v_created) then
    return query select v_sub.tenant_id, 'stale'::text;
    return;
  end if;

  update app_public.subscriptions s set
      stripe_updated_at = v_created,
      current_period_start = case when v_paid and v_period_end > s.current_period_end then v_period_start else s.current_period_start end,
      current_period_end = case when v_paid and v_period_end > s.current_period_end then v_period_end else s.current_period_end end
    where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
  perform app_private.set_payment_state(v_sub.tenant_id, v_sub.id, case when v_paid then 'active' else 'past_due' end, v_created);
  return query select v_sub.tenant_id, 'applied'::text;
end;
$$;

COMMENT ON FUNCTION app_private.apply_stripe_invoice(event jsonb) IS 'invoice.paid / invoice.payment_failed: records the payment (succeeded or failed, once per invoice; a success is never undone) and, unless a newer event was applied, moves the subscription to active (with the paid period) or past_due.';

CREATE FUNCTION app_private.apply_stripe_subscription(event jsonb) RETURNS TABLE(tenant_id uuid, outcome text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_object jsonb := event -> 'data' -> 'object';
  v_created timestamptz := app_private.stripe_time(event ->> 'created');
  v_sub app_public.subscriptions;
  v_status text;
  v_price text;
  v_plan app_public.plans;
  v_period_start timestamptz;
  v_period_end timestamptz;
begin
  if v_object ->> 'id' is null or v_object ->> 'id' !~ '^sub_' then
    raise exception 'Event % carries no subscription id.', event ->> 'id' using errcode = 'INVAL';
  end if;
  v_status := case when event ->> 'type' = 'customer.subscription.deleted' then 'canceled'
                   else app_private.stripe_subscription_status(v_object ->> 'status') end;
  if v_status is null then
    raise exception 'Stripe subscription status "%" is not one we know.', v_object ->> 'status' using errcode = 'INVAL';
  end if;
  v_sub := app_private.stripe_subscription_for(v_object ->> 'customer', v_object ->> 'id', true);
  if v_sub.id is null then
    return query select null::uuid, 'unknown_customer'::text;
    return;
  end if;
  if v_sub.status = 'canceled' or not app_private.stripe_event_is_newer(v_sub, v_created) then
    return query select v_sub.tenant_id, 'stale'::text;
    return;
  end if;

  if v_status = 'canceled' then
    update app_public.subscriptions s set stripe_updated_at = v_created
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
    perform app_private.end_subscription(v_sub.tenant_id, v_sub.id,
      greatest(coalesce(app_private.stripe_time(v_object ->> 'ended_at'), v_created), v_sub.current_period_start));
    return query select v_sub.tenant_id, 'applied'::text;
    return;
  end if;

  v_price := coalesce(v_object #>> '{items,data,0,price,id}', v_object #>> '{plan,id}');
  if v_price is not null then
    select p.* into v_plan from app_public.plans p where p.stripe_price_id = v_price order by p.is_active desc limit 1;
    if v_plan.id is null then
      raise exception 'No plan has the Stripe price %; set it as a plan''s stripe_price_id.', v_price using errcode = 'INVAL';
    end if;
  end if;
  v_period_start := coalesce(app_private.stripe_time(v_object #>> '{items,data,0,current_period_start}'), app_private.stripe_time(v_object ->> 'current_period_start'));
  v_period_end := coalesce(app_private.stripe_time(v_object #>> '{items,data,0,current_period_end}'), app_private.stripe_time(v_object ->> 'current_period_end'));

  update app_public.subscriptions s set
      stripe_updated_at = v_created,
      -- Stripe bills a scheduled downgrade from the next invoice: the pending
      -- plan's price in Stripe does not change our plan before period end.
      plan_id = case when v_plan.id is null or v_plan.id = s.pending_plan_id then s.plan_id else v_plan.id end,
      pending_plan_id = case when v_plan.id is null or v_plan.id = s.pending_plan_id then s.pending_plan_id else null end,
      cancel_at_period_end = coalesce((v_object ->> 'cancel_at_period_end')::boolean, s.cancel_at_period_end)
                             or v_object ->> 'cancel_at' is not null,
      current_period_start = case when v_period_end > v_period_start then v_period_start else s.current_period_start end,
      current_period_end = case when v_period_end > v_period_start then v_period_end else s.current_period_end end
    where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
  update app_public.usage_periods up set plan_id = (select s.plan_id from app_public.subscriptions s where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id)
    where up.tenant_id = v_sub.tenant_id and up.closed_at is null and up.subscription_id = v_sub.id;
  perform app_private.set_payment_state(v_sub.tenant_id, v_sub.id, v_status, v_created);
  return query select v_sub.tenant_id, 'applied'::text;
end;
$$;

COMMENT ON FUNCTION app_private.apply_stripe_subscription(event jsonb) IS 'customer.subscription.created/updated/deleted: applies status (deleted or canceled ends the subscription; the tenant continues on Free), plan (by plans.stripe_price_id), period and cancel_at_period_end, unless a newer event was applied already.';

CREATE FUNCTION app_private.apply_tenant_policies(tbl regclass, write_role text, read_role text DEFAULT 'viewer'::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_read text := format('tenant_id = app_public.current_tenant_id_for_role(%L)', read_role);
  v_write text := format('tenant_id = app_public.current_tenant_id_for_role(%L)', write_role);
begin
  execute format('create policy tenant_select on %s for select using (%s)', tbl, v_read);
  execute format('comment on policy tenant_select on %s is %L', tbl,
    format('Rows of the current tenant, for its %ss and above.', read_role));
  if write_role is null then
    return;
  end if;
  execute format('create policy tenant_insert on %s for insert with check (%s)', tbl, v_write);
  execute format('comment on policy tenant_insert on %s is %L', tbl,
    format('Only into the current tenant, by its %ss and above.', write_role));
  execute format('create policy tenant_update on %s for update using (%s) with check (%s)', tbl, v_write, v_write);
  execute format('comment on policy tenant_update on %s is %L', tbl,
    format('Only the current tenant''s rows, by its %ss and above; a row cannot be moved to another tenant.', write_role));
  execute format('create policy tenant_delete on %s for delete using (%s)', tbl, v_write);
  execute format('comment on policy tenant_delete on %s is %L', tbl,
    format('Only the current tenant''s rows, by its %ss and above.', write_role));
end;
$$;

COMMENT ON FUNCTION app_private.apply_tenant_policies(tbl regclass, write_role text, read_role text) IS 'Creates the select/insert/update/delete policies of a tenant-owned table for the given minimum read and write roles.';

CREATE FUNCTION app_private.assert_keeps_an_owner(tenant_id uuid, except_user uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if not exists (
    select 1 from app_public.tenant_users tu
    where tu.tenant_id = assert_keeps_an_owner.tenant_id and tu.user_id <> except_user
      and tu.deleted_at is null and 'owner' = any (tu.roles)
  ) then
    raise exception 'An organisation needs at least one owner; make someone else an owner first.' using errcode = 'DNIED';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.assert_keeps_an_owner(tenant_id uuid, except_user uuid) IS 'Raises unless the tenant keeps another active owner besides the given user.';

CREATE FUNCTION app_private.assert_may_manage_api_keys() RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.assert_may_manage_api_keys() IS 'Refuses (FORBIDDEN) unless the caller is signed in as an owner or admin member of the current tenant (not an API key, not staff); returns the tenant.';

CREATE FUNCTION app_private.assert_may_manage_billing() RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('billing');
  if app_public.current_tenant_id() is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can change the plan or cancel the subscription.' using errcode = 'DNIED';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.assert_may_manage_billing() IS 'Refuses (FORBIDDEN) unless the caller is an owner or admin of the current tenant.';

CREATE FUNCTION app_private.assert_may_send(tenant_id uuid, metric text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_subscription app_public.subscriptions;
  v_plan text;
begin
  select s.* into v_subscription from app_public.subscriptions s
    where s.tenant_id = assert_may_send.tenant_id and s.status <> 'canceled';
  if v_subscription.id is null then
    raise exception 'This organisation has no active subscription; choose a plan to continue.' using errcode = 'LIMIT';
  end if;
  if v_subscription.status = 'unpaid' and metric in ('emails_sent', 'campaigns_started') then
    select p.name into v_plan from app_public.plans p where p.id = v_subscription.plan_id;
    raise exception 'Sending is suspended: the payment for your % plan is overdue (since %). Pay the open invoice or update your payment method; sending resumes as soon as the payment succeeds.',
        v_plan, to_char(coalesce(v_subscription.past_due_since, v_subscription.updated) at time zone 'UTC', 'YYYY-MM-DD')
      using errcode = 'LIMIT',
            detail = json_build_object('metric', metric, 'plan', v_plan, 'status', 'unpaid')::text;
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.assert_may_send(tenant_id uuid, metric text) IS 'Refuses (LIMIT) metered work for a tenant without a current subscription, and sends or campaign starts while the subscription is unpaid (dunning).';

CREATE FUNCTION app_private.assert_password_policy(password text, tenant_ids uuid[]) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_problem text;
begin
  -- bcrypt reads only the first 72 bytes: a longer password would share its
  -- hash with every password that starts the same way, so it is refused.
  if octet_length(password) > 72 then
    raise exception 'The password is too long: at most 72 bytes in UTF-8 (72 plain letters and digits, fewer with accents, other scripts or emoji).'
      using errcode = 'INVAL', column = 'password';
  end if;
  v_problem := app_private.password_policy_violation(password, tenant_ids);
  if v_problem is not null then
    raise exception '%', v_problem using errcode = 'WEAKP';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.assert_password_policy(password text, tenant_ids uuid[]) IS 'Raises INVAL for a password over 72 bytes (bcrypt ignores the rest), and WEAKP with the broken rule when the password does not satisfy the tenants'' policies.';

CREATE FUNCTION app_private.assert_seats_for_invitations(tenant_id uuid, invited bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_members bigint;
  v_open bigint;
  v_plan text;
  v_limit bigint;
begin
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(assert_seats_for_invitations.tenant_id, 'users') l;
  if v_limit is null then
    return;
  end if;
  -- Lock the members gauge: invitations and acceptances of one tenant queue here.
  insert into app_private.resource_counts as rc (tenant_id, resource, value)
    values (assert_seats_for_invitations.tenant_id, 'users', 0)
  on conflict on constraint resource_counts_pkey do update set value = rc.value
  returning rc.value into v_members;
  select count(*) into v_open from app_public.invitations i
    where i.tenant_id = assert_seats_for_invitations.tenant_id
      and i.accepted_at is null and i.revoked_at is null and i.expires_at > now();
  if v_members + v_open > v_limit then
    raise exception 'Your % plan allows % %; % already taken (% active, % invited). Upgrade the plan, buy an add-on or revoke an open invitation to invite more.',
        v_plan, v_limit, app_private.usage_noun('users', v_limit), v_members + v_open - invited, v_members, v_open - invited
      using errcode = 'LIMIT',
            detail = json_build_object('metric', 'users', 'plan', v_plan, 'limit', v_limit, 'used', v_members + v_open - invited,
                                       'members', v_members, 'open_invitations', v_open - invited, 'requested', invited)::text;
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.assert_seats_for_invitations(tenant_id uuid, invited bigint) IS 'Refuses (PLAN_LIMIT_REACHED) new invitations when active members plus open invitations would exceed the plan''s member limit.';

CREATE FUNCTION app_private.assert_staff_billing(tenant_id uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if not app_public.current_staff_has_permission('billing.manage') then
    raise exception 'Changing another organisation''s plan requires the billing.manage staff permission.' using errcode = 'DNIED';
  end if;
  if not exists (select 1 from app_public.tenants t where t.id = assert_staff_billing.tenant_id and t.deleted_at is null) then
    raise exception 'There is no tenant %.', tenant_id using errcode = 'NTFND';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.assert_staff_billing(tenant_id uuid) IS 'Refuses unless the caller is staff with billing.manage and the tenant exists.';

CREATE FUNCTION app_private.assert_transition(entity text, label text, from_status text, to_status text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_next text[] := app_private.lifecycle_next(entity, from_status);
begin
  if to_status = any (v_next) then
    return;
  end if;
  if cardinality(v_next) = 0 then
    raise exception '% cannot go from % to %: % is final.', label, from_status, to_status, from_status using errcode = 'STATE';
  end if;
  raise exception '% cannot go from % to %; from % it can go to %.', label, from_status, to_status, from_status,
    array_to_string(v_next, ', ') using errcode = 'STATE';
end;
$$;

COMMENT ON FUNCTION app_private.assert_transition(entity text, label text, from_status text, to_status text) IS 'Raises STATE, naming the allowed next statuses, unless the lifecycle allows the transition.';

CREATE TABLE app_public.domain_ip_assignments (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    domain_id uuid NOT NULL,
    smtp_ip_address_id uuid NOT NULL,
    status text DEFAULT 'scheduled'::text NOT NULL,
    assigned_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    warmup_state text DEFAULT 'unwarmed'::text NOT NULL,
    last_sent_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    status_reason text,
    flagged_reason text,
    flagged_at timestamp with time zone,
    CONSTRAINT domain_ip_assignments_flag_check CHECK (((flagged_at IS NULL) = (flagged_reason IS NULL))),
    CONSTRAINT domain_ip_assignments_flagged_reason_check CHECK ((length(flagged_reason) <= 500)),
    CONSTRAINT domain_ip_assignments_status_check CHECK ((status = ANY (ARRAY['active'::text, 'warming'::text, 'scheduled'::text, 'expired'::text]))),
    CONSTRAINT domain_ip_assignments_status_reason_check CHECK ((length(status_reason) <= 500)),
    CONSTRAINT domain_ip_assignments_warmup_state_check CHECK ((warmup_state = ANY (ARRAY['unwarmed'::text, 'warming'::text, 'warmed'::text])))
);

ALTER TABLE ONLY app_public.domain_ip_assignments FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.domain_ip_assignments IS 'Which platform IPs send for which tenant domain (managed by staff, readable by the tenant).';

COMMENT ON COLUMN app_public.domain_ip_assignments.status IS 'scheduled → warming → active → expired (scheduled may go straight to active on a warmed IP); changed with setDomainIpAssignmentStatus.';

COMMENT ON COLUMN app_public.domain_ip_assignments.status_reason IS 'Why the assignment last changed status, e.g. that its IP was quarantined and which IP took over.';

COMMENT ON COLUMN app_public.domain_ip_assignments.flagged_reason IS 'Set when staff must act: the IP was quarantined or burned and no healthy IP was free to take over.';

CREATE FUNCTION app_private.assign_ip(tenant_id uuid, domain_id uuid, smtp_ip_address_id uuid, reason text) RETURNS app_public.domain_ip_assignments
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ip app_public.smtp_ip_addresses;
  v_assignment app_public.domain_ip_assignments;
  v_status text;
  v_warmup_state text;
begin
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = assign_ip.smtp_ip_address_id for update;
  if not found then
    raise exception 'There is no sending IP %.', smtp_ip_address_id using errcode = 'NTFND';
  end if;
  if exists (
    select 1 from app_public.domain_ip_assignments a
    where a.tenant_id = assign_ip.tenant_id and a.domain_id = assign_ip.domain_id
      and a.smtp_ip_address_id = assign_ip.smtp_ip_address_id and a.status <> 'expired'
  ) then
    raise exception 'The IP % already sends for this domain.', host(v_ip.ip_address) using errcode = 'STATE';
  end if;
  -- The statuses as values: Citus deparses a simple CASE over a variable
  -- inside INSERT … VALUES into a comparison of text with boolean.
  v_status := case v_ip.status when 'warmed' then 'active' when 'warming' then 'warming' else 'scheduled' end;
  v_warmup_state := case v_ip.status when 'warmed' then 'warmed' when 'warming' then 'warming' else 'unwarmed' end;
  insert into app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id, status, warmup_state, status_reason)
    values (assign_ip.tenant_id, assign_ip.domain_id, v_ip.id, v_status, v_warmup_state, reason)
    returning * into v_assignment;
  if v_ip.status = 'available' then
    update app_public.smtp_ip_addresses ip
      set status = 'assigned', status_reason = format('Assigned to a domain (%s)', reason)
      where ip.id = v_ip.id;
  end if;
  perform app_private.audit_infrastructure('domain_ip.assigned', 'domain_ip_assignments', v_assignment.id, v_assignment.tenant_id,
    jsonb_build_object('ip_address', host(v_ip.ip_address), 'status', v_assignment.status), reason);
  return v_assignment;
end;
$$;

COMMENT ON FUNCTION app_private.assign_ip(tenant_id uuid, domain_id uuid, smtp_ip_address_id uuid, reason text) IS 'Assigns a sending IP to a tenant domain: active on a warmed IP, warming on a warming IP, scheduled otherwise (an available IP becomes assigned).';

CREATE FUNCTION app_private.audit_api_key(tenant_id uuid, api_key_id uuid, action text, changes jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
    values (audit_api_key.tenant_id, app_public.current_user_id(), false, 'api_key.' || action, 'api_keys', api_key_id::text, changes);
end;
$$;

COMMENT ON FUNCTION app_private.audit_api_key(tenant_id uuid, api_key_id uuid, action text, changes jsonb) IS 'One audit_log row about an API key (created, rotated, revoked, used_from_new_ip); never its secret.';

CREATE FUNCTION app_private.audit_infrastructure(action text, table_name text, record_id uuid, tenant_id uuid, changes jsonb, reason text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, table_name, record_id, changes, reason)
    values (app_public.current_user_id(), action, tenant_id, table_name, record_id::text, changes, reason);
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes, reason)
    select tenant_id, app_public.current_user_id(), app_public.current_user_id() is not null, action, table_name, record_id::text, changes, reason
    where tenant_id is not null;
end;
$$;

COMMENT ON FUNCTION app_private.audit_infrastructure(action text, table_name text, record_id uuid, tenant_id uuid, changes jsonb, reason text) IS 'Records an infrastructure change in the platform audit log and, when it concerns a tenant''s domain, in that tenant''s audit log.';

CREATE FUNCTION app_private.automated_agent(user_agent text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- Only clients that say what they are: crawlers, link expanders, security
  -- scanners and HTTP libraries. Image proxies that fetch on behalf of a
  -- person opening the message (GoogleImageProxy, YahooMailProxy) are real
  -- opens; Apple Mail Privacy Protection cannot be told apart honestly.
  select lower((regexp_match(user_agent,
    '(bot\M|crawler|spider|scanner|prefetch|preview|facebookexternalhit|slackbot|whatsapp|barracuda|mimecast|proofpoint|'
    'python-requests|python-urllib|curl/|wget/|go-http-client|okhttp|java/|libwww|httpclient|headlesschrome|phantomjs)', 'i'))[1]);
$$;

COMMENT ON FUNCTION app_private.automated_agent(user_agent text) IS 'The signature of a self-declared automated client (crawler, link scanner, HTTP library) found in a User-Agent, or null for a person''s mail client or browser.';

CREATE FUNCTION app_private.begin_campaign(tenant_id uuid, campaign_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_now timestamptz := app_private.engine_now(); -- a value: Citus refuses a function call inside coalesce in an UPDATE
begin
  update app_public.campaigns c set status = 'sending', started_at = coalesce(c.started_at, v_now)
    where c.tenant_id = begin_campaign.tenant_id and c.id = begin_campaign.campaign_id;
  perform app_private.enroll_campaign_audience(tenant_id, campaign_id);
  perform app_private.complete_campaign_if_done(tenant_id, campaign_id);
end;
$$;

COMMENT ON FUNCTION app_private.begin_campaign(tenant_id uuid, campaign_id uuid) IS 'Puts a campaign into sending: enrolls its audience and schedules each enrollment''s first step.';

CREATE FUNCTION app_private.begin_inbox_oauth(provider text, state text, code_verifier_encrypted bytea, ttl_seconds integer) RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_now timestamptz := now();
  v_expires timestamptz := now() + make_interval(secs => ttl_seconds);
  v_hash bytea := app_private.hash_token(state);
begin
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or v_user_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can connect inboxes.' using errcode = 'DNIED';
  end if;
  if provider is null or provider not in ('google', 'microsoft') then
    raise exception 'Inboxes connect over OAuth with Google or Microsoft only.' using errcode = 'INVAL';
  end if;
  -- Old states of this tenant are of no use any more.
  delete from app_private.oauth_states s where s.tenant_id = v_tenant_id and s.expires_at < v_now - interval '1 day';
  insert into app_private.oauth_states (tenant_id, user_id, provider, state_hash, code_verifier_encrypted, expires_at, created, updated)
    values (v_tenant_id, v_user_id, begin_inbox_oauth.provider, v_hash, begin_inbox_oauth.code_verifier_encrypted, v_expires, v_now, v_now);
  return v_expires;
end;
$$;

COMMENT ON FUNCTION app_private.begin_inbox_oauth(provider text, state text, code_verifier_encrypted bytea, ttl_seconds integer) IS 'Records a new OAuth connection of the caller''s tenant (owners and admins): the SHA-256 of its state, the sealed PKCE verifier, and when it expires (returned). Called by the API server on its owner connection, entered as the caller.';

CREATE FUNCTION app_private.book_email_send(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamp with time zone, OUT message_id uuid, OUT send_at timestamp with time zone, OUT retry_at timestamp with time zone, OUT wait_reason text) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  e app_public.campaign_enrollments;
  c app_public.campaigns;
  s app_public.campaign_sequence_steps;
  l app_public.leads;
  ea app_public.email_accounts;
  v_existing app_public.messages;
  v_tz text;
  v_open timestamptz;
  v_inbox uuid;
  v_day_start timestamptz;
  v_booked bigint;
  v_today date;
  v_used integer;
  v_allowance integer;
  v_counts boolean;
  v_slot timestamptz;
  v_gap integer;
  v_reasons text;
begin
  select x.* into e from app_public.campaign_enrollments x where x.tenant_id = book_email_send.tenant_id and x.id = book_email_send.enrollment_id;
  select x.* into c from app_public.campaigns x where x.tenant_id = e.tenant_id and x.id = e.campaign_id;
  select x.* into s from app_public.campaign_sequence_steps x where x.tenant_id = e.tenant_id and x.id = book_email_send.step_id;
  select x.* into l from app_public.leads x where x.tenant_id = e.tenant_id and x.id = e.lead_id;
  if e.current_message_id is not null then
    select x.* into v_existing from app_public.messages x where x.tenant_id = e.tenant_id and x.id = e.current_message_id;
  end if;

  -- The sending window, in the lead's time zone when known and wanted.
  v_tz := case when c.use_lead_timezone and app_private.is_time_zone(l.timezone) then l.timezone else c.timezone end;
  v_open := app_private.next_send_window(now_at, v_tz, c.send_days, c.send_window_start, c.send_window_end);
  if v_open > now_at then
    retry_at := v_open;
    wait_reason := format('outside the sending window (%s to %s on days %s, %s)',
      to_char(c.send_window_start, 'HH24:MI'), to_char(c.send_window_end, 'HH24:MI'), array_to_string(c.send_days, ','), v_tz);
    return;
  end if;

  -- The campaign's daily limit (messages booked today in the campaign's time zone).
  if c.daily_limit is not null and v_existing.id is null then
    v_day_start := (now_at at time zone c.timezone)::date::timestamp at time zone c.timezone;
    select count(*) into v_booked from app_public.messages m
      where m.tenant_id = c.tenant_id and m.campaign_id = c.id and m.direction = 'outbound'
        and m.id >= app_private.uuid_v7_floor(v_day_start) and m.created >= v_day_start and m.status <> 'cancelled';
    if v_booked >= c.daily_limit then
      retry_at := app_private.next_local_midnight(now_at, c.timezone);
      wait_reason := format('the campaign''s daily limit of %s messages is reached', c.daily_limit);
      return;
    end if;
  end if;

  -- The inbox: the message's, the step's, the enrollment's, or by rotation.
  v_inbox := coalesce(v_existing.email_account_id, s.email_account_id, e.email_account_id);
  if v_inbox is null then
    -- The campaign's inboxes first, then each function once per inbox: with
    -- the calls in a WHERE clause the planner may push them into the scan of
    -- all the tenant's inboxes (benchmark finding: ~10x the calls).
    with inboxes as materialized (
      select ea2.id, ea2.next_send_at, ea2.email,
             app_private.inbox_unusable_reason(ea2.tenant_id, ea2.id) as unusable,
             app_private.inbox_remaining(ea2.tenant_id, ea2.id, now_at) as remaining
        from app_public.campaign_email_accounts a
        join app_public.email_accounts ea2 on ea2.tenant_id = a.tenant_id and ea2.id = a.email_account_id
        where a.tenant_id = c.tenant_id and a.campaign_id = c.id
    )
    select i.id into v_inbox
      from inboxes i
      where i.unusable is null and i.remaining > 0
      order by i.remaining desc, i.next_send_at asc nulls first, i.email
      limit 1;
    if v_inbox is null then
      select min(app_private.next_local_midnight(now_at, ea2.timezone)) into retry_at
        from app_public.campaign_email_accounts a
        join app_public.email_accounts ea2 on ea2.tenant_id = a.tenant_id and ea2.id = a.email_account_id
        where a.tenant_id = c.tenant_id and a.campaign_id = c.id
          and app_private.inbox_unusable_reason(ea2.tenant_id, ea2.id) is null;
      if retry_at is not null then
        wait_reason := 'every inbox of the campaign reached its daily cap';
        return;
      end if;
      -- No inbox can send at all any more (disabled, domain unverified…).
      select string_agg(app_private.inbox_unusable_reason(a.tenant_id, a.email_account_id), '; ' order by a.created) into v_reasons
        from app_public.campaign_email_accounts a where a.tenant_id = c.tenant_id and a.campaign_id = c.id;
      update app_public.campaigns x set status = 'paused', paused_at = now_at, paused_by = 'system',
          pause_reason = left(format('No inbox of this campaign can send: %s. Fix the inboxes, then resume the campaign.',
                                     coalesce(v_reasons, 'it has no inbox')), 1000)
        where x.tenant_id = c.tenant_id and x.id = c.id and x.status = 'sending';
      wait_reason := 'the campaign was paused: no inbox can send';
      return;
    end if;
  else
    v_reasons := app_private.inbox_unusable_reason(e.tenant_id, v_inbox);
    if v_reasons is not null then
      retry_at := now_at + interval '1 hour';
      wait_reason := format('the lead''s inbox cannot send (%s)', v_reasons);
      return;
    end if;
  end if;

  -- The inbox's daily cap and pacing, under its row lock.
  select x.* into ea from app_public.email_accounts x where x.tenant_id = e.tenant_id and x.id = v_inbox for no key update;
  v_today := app_private.local_day(now_at, ea.timezone);
  v_used := case when ea.daily_count_date = v_today then ea.daily_count else 0 end;
  -- A message booked earlier today already counts; a new one (or one booked
  -- on an earlier day, then paused) needs a place in today's cap.
  v_counts := v_existing.id is null or app_private.local_day(v_existing.scheduled_for, ea.timezone) is distinct from v_today;
  if v_counts then
    v_allowance := coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, now_at), 0);
    if v_used >= v_allowance then
      retry_at := app_private.next_local_midnight(now_at, ea.timezone);
      wait_reason := format('inbox %s reached its daily cap of %s', ea.email, v_allowance);
      return;
    end if;
  end if;
  v_slot := greatest(now_at, coalesce(ea.next_send_at, now_at));
  if v_slot > now_at
     and (app_private.local_day(v_slot, ea.timezone) <> v_today
          or app_private.next_send_window(v_slot, v_tz, c.send_days, c.send_window_start, c.send_window_end) <> v_slot) then
    -- The inbox's next free slot is outside today's window: come back then.
    retry_at := app_private.next_send_window(v_slot, v_tz, c.send_days, c.send_window_start, c.send_window_end);
    wait_reason := format('inbox %s is busy until %s', ea.email, v_slot);
    return;
  end if;

  v_gap := c.min_gap_seconds + floor(random() * (c.max_gap_seconds - c.min_gap_seconds + 1))::integer;
  update app_public.email_accounts x
    set daily_count = v_used + case when v_counts then 1 else 0 end,
        daily_count_date = v_today,
        next_send_at = v_slot + make_interval(secs => v_gap)
    where x.tenant_id = ea.tenant_id and x.id = ea.id;

  if v_existing.id is null then
    insert into app_public.messages (tenant_id, id, direction, status, email_account_id, campaign_id, enrollment_id, step_id,
                                     variant_id, lead_id, from_email, to_email, scheduled_for)
      values (e.tenant_id, app_public.uuid_v7(now_at), 'outbound', 'queued', ea.id, c.id, e.id, s.id,
              app_hidden.choose_variant(e.tenant_id, s.id, l.id), l.id, ea.email, l.email, v_slot)
      returning id into message_id;
  else
    update app_public.messages x set scheduled_for = v_slot, error_message = null
      where x.tenant_id = v_existing.tenant_id and x.id = v_existing.id;
    message_id := v_existing.id;
  end if;
  update app_public.campaign_enrollments x
    set current_message_id = book_email_send.message_id,
        email_account_id = coalesce(x.email_account_id, case when s.email_account_id is null then ea.id end)
    where x.tenant_id = e.tenant_id and x.id = e.id;
  send_at := v_slot;
end;
$$;

COMMENT ON FUNCTION app_private.book_email_send(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamp with time zone, OUT message_id uuid, OUT send_at timestamp with time zone, OUT retry_at timestamp with time zone, OUT wait_reason text) IS 'Books the send of an email step for an enrollment (window, campaign daily limit, inbox rotation, inbox daily cap, random gap): either a queued message with its slot (message_id, send_at), or when to try again and why (retry_at, wait_reason). Re-books the enrollment''s queued message when its slot went stale. Pauses the campaign when none of its inboxes can send any more.';

CREATE FUNCTION app_private.book_reply_capacity(tenant_id uuid, email_account_id uuid, now_at timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  ea app_public.email_accounts;
  v_today date;
  v_used integer;
  v_allowance integer;
begin
  -- Under the inbox's row lock, like book_email_send (functions/120).
  select x.* into ea from app_public.email_accounts x
    where x.tenant_id = book_reply_capacity.tenant_id and x.id = book_reply_capacity.email_account_id
    for no key update;
  v_today := app_private.local_day(now_at, ea.timezone);
  v_used := case when ea.daily_count_date = v_today then ea.daily_count else 0 end;
  v_allowance := coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, now_at), 0);
  if v_used >= v_allowance then
    raise exception 'Inbox % reached its daily cap of % messages (campaign emails and replies) for today; the reply was not queued. Send it after midnight in the inbox''s time zone (%), or raise the inbox''s daily limit.',
      ea.email, v_allowance, ea.timezone using errcode = 'STATE';
  end if;
  update app_public.email_accounts x set daily_count = v_used + 1, daily_count_date = v_today
    where x.tenant_id = ea.tenant_id and x.id = ea.id;
end;
$$;

COMMENT ON FUNCTION app_private.book_reply_capacity(tenant_id uuid, email_account_id uuid, now_at timestamp with time zone) IS 'Takes one place in the inbox''s daily cap for a reply (the count campaign emails use), or refuses with STATE when the cap is reached.';

CREATE FUNCTION app_private.bounce_type(status text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- RFC 3463: class 5 is a permanent failure, class 4 a persistent transient
  -- one. Without a status we cannot tell, so the lead is not suppressed.
  select case when status ~ '^5\.' then 'hard' else 'soft' end;
$$;

COMMENT ON FUNCTION app_private.bounce_type(status text) IS 'hard for an RFC 3463 permanent failure (5.x.x), soft for a transient (4.x.x) or unknown status.';

CREATE FUNCTION app_private.campaign_audience(tenant_id uuid, campaign_id uuid) RETURNS TABLE(lead_id uuid, block_reason text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  with targeted as (
    select t.lead_id
    from app_public.campaign_targets t
    where t.tenant_id = campaign_audience.tenant_id and t.campaign_id = campaign_audience.campaign_id and t.lead_id is not null
    union
    select l.id
    from app_public.campaign_targets t
    join app_public.contact_lists cl on cl.tenant_id = t.tenant_id and cl.id = t.contact_list_id
    -- A row argument is spelled row(cl.*)::type: on a Citus shard cl is a row of contact_lists_<shard>.
    cross join lateral app_public.contact_lists_leads(row(cl.*)::app_public.contact_lists) l
    where t.tenant_id = campaign_audience.tenant_id and t.campaign_id = campaign_audience.campaign_id
  )
  select l.id, app_private.lead_block_reason(l.tenant_id, l.email::text, l.status)
  from targeted x
  join app_public.leads l on l.tenant_id = campaign_audience.tenant_id and l.id = x.lead_id;
end;
$$;

COMMENT ON FUNCTION app_private.campaign_audience(tenant_id uuid, campaign_id uuid) IS 'Every lead a campaign targets (its leads and the members of its static and dynamic lists, once each) with the reason it may not be emailed, or null.';

CREATE FUNCTION app_private.campaign_housekeeping() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_campaign record;
  v_enrolled integer := 0;
begin
  for v_campaign in
    select c.tenant_id, c.id from app_public.campaigns c where c.status = 'sending' order by c.started_at
  loop
    v_enrolled := v_enrolled + app_private.enroll_campaign_audience(v_campaign.tenant_id, v_campaign.id);
    perform app_private.complete_campaign_if_done(v_campaign.tenant_id, v_campaign.id);
  end loop;
  return v_enrolled;
end;
$$;

COMMENT ON FUNCTION app_private.campaign_housekeeping() IS 'Periodic pass over sending campaigns: enrolls new members of their target lists and completes those with no active enrollment left (a safety net for the completion trigger). Returns how many leads were enrolled.';

CREATE FUNCTION app_private.campaign_limit_problem(tenant_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_plan text;
  v_limit bigint;
  v_used bigint;
begin
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(tenant_id, 'campaigns_started') l;
  if v_limit is null then
    return null;
  end if;
  v_used := app_private.metered_usage(tenant_id, 'campaigns_started');
  if v_used + 1 > v_limit then
    return app_private.limit_exceeded_message(v_plan, 'campaigns_started', v_limit, v_used);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.campaign_limit_problem(tenant_id uuid) IS 'The plan-limit message when one more campaign start would exceed the plan, else null (a read-only look; consume_usage decides).';

CREATE FUNCTION app_private.campaign_safety_figures(tenant_id uuid, campaign_id uuid, window_days integer, baseline jsonb) RETURNS TABLE(sent bigint, bounced bigint, complained bigint)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_from date := (now() at time zone 'UTC')::date - (greatest(window_days, 1) - 1);
begin
  if baseline is not null and (baseline ->> 'day')::date >= v_from then
    -- Resumed after a safety pause within the window: messages since then.
    return query
      select greatest(coalesce(sum(s.sent), 0) - (baseline ->> 'sent')::bigint, 0)::bigint,
             greatest(coalesce(sum(s.bounced), 0) - (baseline ->> 'bounced')::bigint, 0)::bigint,
             greatest(coalesce(sum(s.complained), 0) - (baseline ->> 'complained')::bigint, 0)::bigint
      from app_public.campaign_stats_daily s
      where s.tenant_id = campaign_safety_figures.tenant_id and s.campaign_id = campaign_safety_figures.campaign_id;
    return;
  end if;
  return query
    select coalesce(sum(s.sent), 0)::bigint, coalesce(sum(s.bounced), 0)::bigint, coalesce(sum(s.complained), 0)::bigint
    from app_public.campaign_stats_daily s
    where s.tenant_id = campaign_safety_figures.tenant_id and s.campaign_id = campaign_safety_figures.campaign_id
      and s.day >= v_from;
end;
$$;

COMMENT ON FUNCTION app_private.campaign_safety_figures(tenant_id uuid, campaign_id uuid, window_days integer, baseline jsonb) IS 'A campaign''s messages sent, bounced and complained about in the safety window (the last window_days UTC days of its rollup), or since its last resume after a safety pause when that is more recent (baseline).';

CREATE FUNCTION app_private.campaign_schedule(tenant_id uuid, campaign_id uuid, OUT next_send_at timestamp with time zone, OUT idle_reason text) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  c app_public.campaigns;
  v_now timestamptz := app_private.engine_now();
  v_due timestamptz;
  v_next timestamptz;
  v_active bigint;
  v_open timestamptz;
  v_day_start timestamptz;
  v_booked bigint;
  v_usable integer;
  v_remaining integer;
  v_caps text;
  v_unusable text;
  v_midnight timestamptz;
begin
  select x.* into c from app_public.campaigns x where x.tenant_id = campaign_schedule.tenant_id and x.id = campaign_schedule.campaign_id;
  if c.id is null then
    return;
  end if;
  case c.status
    when 'draft' then
      idle_reason := 'Draft: nothing is sent until the campaign is started (startCampaign).';
      return;
    when 'scheduled' then
      next_send_at := c.scheduled_for;
      idle_reason := format('Scheduled to start at %s.', c.scheduled_for);
      return;
    when 'paused' then
      idle_reason := format('Paused by %s: %s', coalesce(c.paused_by, 'a user'), coalesce(c.pause_reason, 'resume it with resumeCampaign.'));
      return;
    when 'completed' then
      idle_reason := 'Completed: every enrolled lead has finished the sequence.';
      return;
    when 'cancelled' then
      idle_reason := 'Cancelled.';
      return;
    else
      null; -- sending: below
  end case;

  select min(e.next_run_at), count(*) into v_next, v_active
    from app_public.campaign_enrollments e
    where e.tenant_id = c.tenant_id and e.campaign_id = c.id and e.status = 'active';
  if v_active = 0 then
    idle_reason := 'Every enrolled lead has finished; the campaign completes shortly.';
    return;
  end if;
  v_due := greatest(v_now, coalesce(v_next, v_now));
  if v_due > v_now then
    idle_reason := format('Waiting: the next step of a lead is due at %s (a wait step, or the gap between messages).', v_due);
  end if;

  -- The sending window, in the campaign's time zone.
  v_open := app_private.next_send_window(v_due, c.timezone, c.send_days, c.send_window_start, c.send_window_end);
  if v_open > v_due then
    v_due := v_open;
    idle_reason := format('Outside the sending window (%s to %s on days %s, %s%s); it opens at %s.',
      to_char(c.send_window_start, 'HH24:MI'), to_char(c.send_window_end, 'HH24:MI'), array_to_string(c.send_days, ','), c.timezone,
      case when c.use_lead_timezone then '; leads with a time zone follow their own' else '' end, v_open);
  end if;

  -- The campaign's daily limit (messages booked on the campaign's local day).
  if c.daily_limit is not null then
    v_day_start := (v_due at time zone c.timezone)::date::timestamp at time zone c.timezone;
    select count(*) into v_booked from app_public.messages m
      where m.tenant_id = c.tenant_id and m.campaign_id = c.id and m.direction = 'outbound'
        and m.id >= app_private.uuid_v7_floor(v_day_start) and m.created >= v_day_start and m.status <> 'cancelled';
    if v_booked >= c.daily_limit then
      v_due := app_private.next_send_window(app_private.next_local_midnight(v_due, c.timezone), c.timezone, c.send_days, c.send_window_start, c.send_window_end);
      idle_reason := format('The campaign''s daily limit of %s messages is reached; it sends again at %s.', c.daily_limit, v_due);
    end if;
  end if;

  -- Its inboxes: usable ones with room left today (allowance = daily limit, or the warm-up ramp).
  select count(*) filter (where u.reason is null),
         coalesce(sum(u.remaining) filter (where u.reason is null), 0),
         string_agg(format('%s %s a day%s', u.email, u.allowance, case when u.warmup_enabled then ' (warm-up)' else '' end), ', ' order by u.email)
           filter (where u.reason is null),
         string_agg(u.reason, '; ' order by u.email) filter (where u.reason is not null),
         min(app_private.next_local_midnight(v_due, u.timezone)) filter (where u.reason is null)
    into v_usable, v_remaining, v_caps, v_unusable, v_midnight
    from (
      select ea.email::text as email, ea.timezone, ea.warmup_enabled,
             app_private.inbox_unusable_reason(ea.tenant_id, ea.id) as reason,
             coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, v_due), 0) as allowance,
             app_private.inbox_remaining(ea.tenant_id, ea.id, v_due) as remaining
        from app_public.campaign_email_accounts a
        join app_public.email_accounts ea on ea.tenant_id = a.tenant_id and ea.id = a.email_account_id
        where a.tenant_id = c.tenant_id and a.campaign_id = c.id
    ) u;
  if v_usable = 0 then
    next_send_at := null;
    idle_reason := format('No inbox of the campaign can send (%s); the engine pauses the campaign at its next step.', coalesce(v_unusable, 'it has no inbox'));
    return;
  end if;
  if v_remaining = 0 then
    v_due := app_private.next_send_window(v_midnight, c.timezone, c.send_days, c.send_window_start, c.send_window_end);
    idle_reason := format('Every inbox reached its daily cap (%s); sending resumes at %s.', v_caps, v_due);
  end if;

  next_send_at := v_due;
  if v_due <= v_now then
    idle_reason := null; -- due now: sending
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.campaign_schedule(tenant_id uuid, campaign_id uuid, OUT next_send_at timestamp with time zone, OUT idle_reason text) IS 'When a campaign sends next and, when that is not now, why: its status, the next due enrollment, the sending window, its daily limit, its inboxes'' daily caps (warm-up included) and usability.';

CREATE FUNCTION app_private.campaign_start_problems(tenant_id uuid, campaign_id uuid) RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_campaign app_public.campaigns;
  v_problems text[] := '{}';
  v_reasons text[];
  v_usable integer;
  v_targets integer;
  v_targeted integer;
  v_eligible integer;
  v_step record;
  v_target integer;
begin
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = campaign_start_problems.tenant_id and c.id = campaign_start_problems.campaign_id;

  if not app_private.is_time_zone(v_campaign.timezone) then
    v_problems := v_problems || format('The campaign time zone "%s" is unknown; use a name such as Europe/Paris.', v_campaign.timezone);
  end if;

  -- Inboxes.
  select count(*) filter (where app_private.inbox_unusable_reason(a.tenant_id, a.email_account_id) is null),
         array_agg(app_private.inbox_unusable_reason(a.tenant_id, a.email_account_id) order by a.created)
    into v_usable, v_reasons
    from app_public.campaign_email_accounts a
    where a.tenant_id = campaign_start_problems.tenant_id and a.campaign_id = campaign_start_problems.campaign_id;
  if v_reasons is null then
    v_problems := v_problems || 'Add at least one inbox to send from.'::text;
  elsif v_usable = 0 then
    v_problems := v_problems || format('No inbox can send: %s.', array_to_string(v_reasons, '; '));
  end if;

  -- Steps.
  if not exists (select 1 from app_public.campaign_sequence_steps s
                 where s.tenant_id = campaign_start_problems.tenant_id and s.campaign_id = campaign_start_problems.campaign_id and s.is_active) then
    v_problems := v_problems || 'Add at least one step to the sequence.'::text;
  elsif not exists (select 1 from app_public.campaign_sequence_steps s
                    where s.tenant_id = campaign_start_problems.tenant_id and s.campaign_id = campaign_start_problems.campaign_id
                      and s.is_active and s.step_type = 'email') then
    v_problems := v_problems || 'The sequence has no email step.'::text;
  end if;
  for v_step in
    select s.*, t.name as template_name, t.subject as template_subject, t.content as template_content, t.is_archived,
           exists (select 1 from app_public.campaign_step_variants v where v.tenant_id = s.tenant_id and v.step_id = s.id) as has_variants
    from app_public.campaign_sequence_steps s
    left join app_public.templates t on t.tenant_id = s.tenant_id and t.id = s.template_id
    where s.tenant_id = campaign_start_problems.tenant_id and s.campaign_id = campaign_start_problems.campaign_id and s.is_active
    order by s.step_order
  loop
    if v_step.step_type = 'email' then
      if coalesce(btrim(v_step.template_content), '') = '' then
        v_problems := v_problems || format('Step %s: template "%s" has no HTML body.', v_step.step_order, v_step.template_name);
      end if;
      if coalesce(btrim(v_step.template_subject), '') = '' and coalesce(btrim(v_step.subject_override), '') = '' and not v_step.has_variants then
        v_problems := v_problems || format('Step %s: template "%s" has no subject; give the template a subject or set a subject override on the step.',
          v_step.step_order, v_step.template_name);
      end if;
      if v_step.is_archived then
        v_problems := v_problems || format('Step %s: template "%s" is archived.', v_step.step_order, v_step.template_name);
      end if;
      if v_step.email_account_id is not null
         and app_private.inbox_unusable_reason(v_step.tenant_id, v_step.email_account_id) is not null then
        v_problems := v_problems || format('Step %s sends from an inbox that cannot send: %s.', v_step.step_order,
          app_private.inbox_unusable_reason(v_step.tenant_id, v_step.email_account_id));
      end if;
    elsif v_step.step_type = 'condition' and v_step.condition_value ~ '^[0-9]+$' then
      v_target := v_step.condition_value::integer;
      if v_target <= v_step.step_order then
        v_problems := v_problems || format('Step %s jumps back to step %s; jumps must go forward.', v_step.step_order, v_target);
      elsif not exists (select 1 from app_public.campaign_sequence_steps s
                        where s.tenant_id = v_step.tenant_id and s.campaign_id = v_step.campaign_id and s.step_order = v_target and s.is_active) then
        v_problems := v_problems || format('Step %s jumps to step %s, which does not exist.', v_step.step_order, v_target);
      end if;
    end if;
  end loop;

  -- Audience.
  select count(*) into v_targets from app_public.campaign_targets t
    where t.tenant_id = campaign_start_problems.tenant_id and t.campaign_id = campaign_start_problems.campaign_id;
  if v_targets = 0 then
    v_problems := v_problems || 'Add an audience: at least one contact list or lead as a campaign target.'::text;
  else
    select count(*), count(*) filter (where a.block_reason is null) into v_targeted, v_eligible
      from app_private.campaign_audience(campaign_start_problems.tenant_id, campaign_start_problems.campaign_id) a;
    if v_targeted = 0 then
      v_problems := v_problems || 'The audience is empty: the targeted lists have no leads.'::text;
    elsif v_eligible = 0 then
      v_problems := v_problems || format('The audience is empty: all %s targeted leads are unsubscribed, bounced, complained, do-not-contact or suppressed.', v_targeted);
    end if;
  end if;
  return v_problems;
end;
$_$;

COMMENT ON FUNCTION app_private.campaign_start_problems(tenant_id uuid, campaign_id uuid) IS 'Everything that keeps a campaign from starting, one sentence each (empty when it may start).';

CREATE FUNCTION app_private.campaign_status_transition_allowed(from_status text, to_status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case from_status
    when 'draft' then to_status in ('scheduled', 'sending', 'cancelled')
    when 'scheduled' then to_status in ('sending', 'paused', 'cancelled')
    when 'sending' then to_status in ('paused', 'completed', 'cancelled')
    when 'paused' then to_status in ('scheduled', 'sending', 'completed', 'cancelled')
    else false
  end;
$$;

COMMENT ON FUNCTION app_private.campaign_status_transition_allowed(from_status text, to_status text) IS 'The campaign state machine: which status may follow which.';

CREATE FUNCTION app_private.campaign_totals(tenant_id uuid, campaign_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_totals jsonb;
begin
  select jsonb_build_object('day', (now() at time zone 'UTC')::date, 'sent', coalesce(sum(s.sent), 0),
                            'bounced', coalesce(sum(s.bounced), 0), 'complained', coalesce(sum(s.complained), 0))
    into v_totals
    from app_public.campaign_stats_daily s
    where s.tenant_id = campaign_totals.tenant_id and s.campaign_id = campaign_totals.campaign_id;
  return v_totals;
end;
$$;

COMMENT ON FUNCTION app_private.campaign_totals(tenant_id uuid, campaign_id uuid) IS 'A campaign''s all-time sent, bounced and complained counts from its rollup, with today''s UTC day: the safety baseline stored when it is resumed after a safety pause.';

CREATE TABLE app_public.smtp_ip_addresses (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    vps_instance_id uuid,
    ip_address inet NOT NULL,
    status text DEFAULT 'available'::text NOT NULL,
    reputation_state text DEFAULT 'good'::text NOT NULL,
    approximate_cost numeric(6,2),
    last_reputation_check_at timestamp with time zone,
    assigned_count integer DEFAULT 0 NOT NULL,
    provider_blacklist_status jsonb DEFAULT '{}'::jsonb NOT NULL,
    warmup_started_at timestamp with time zone,
    daily_limit integer,
    daily_count integer DEFAULT 0 NOT NULL,
    daily_count_date date,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    status_reason text,
    status_changed_at timestamp with time zone,
    auto_quarantined boolean DEFAULT false NOT NULL,
    CONSTRAINT smtp_ip_addresses_approximate_cost_check CHECK ((approximate_cost >= (0)::numeric)),
    CONSTRAINT smtp_ip_addresses_assigned_count_check CHECK ((assigned_count >= 0)),
    CONSTRAINT smtp_ip_addresses_daily_count_check CHECK ((daily_count >= 0)),
    CONSTRAINT smtp_ip_addresses_daily_limit_check CHECK ((daily_limit >= 0)),
    CONSTRAINT smtp_ip_addresses_provider_blacklist_status_check CHECK ((jsonb_typeof(provider_blacklist_status) = 'object'::text)),
    CONSTRAINT smtp_ip_addresses_reputation_state_check CHECK ((reputation_state = ANY (ARRAY['good'::text, 'fair'::text, 'poor'::text, 'critical'::text]))),
    CONSTRAINT smtp_ip_addresses_status_check CHECK ((status = ANY (ARRAY['available'::text, 'assigned'::text, 'warming'::text, 'warmed'::text, 'degraded'::text, 'burned'::text, 'quarantined'::text]))),
    CONSTRAINT smtp_ip_addresses_status_reason_check CHECK ((length(status_reason) <= 500))
);

ALTER TABLE ONLY app_public.smtp_ip_addresses FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.smtp_ip_addresses IS 'A sending IP and its lifecycle: available → assigned/warming → warmed, or degraded/burned/quarantined.';

COMMENT ON COLUMN app_public.smtp_ip_addresses.status IS 'available → assigned/warming → warmed; warmed/warming → degraded → burned; any → quarantined → available after delisting. Changed with setSmtpIpStatus, assignSmtpIpToDomain and the reputation checks.';

COMMENT ON COLUMN app_public.smtp_ip_addresses.assigned_count IS 'Live (not expired) domain assignments on this IP, kept by a trigger on domain_ip_assignments.';

COMMENT ON COLUMN app_public.smtp_ip_addresses.provider_blacklist_status IS 'Result of the last DNSBL check per zone, e.g. {"zen.spamhaus.org": {"listed": false, "checked_at": …}}.';

COMMENT ON COLUMN app_public.smtp_ip_addresses.daily_limit IS 'Most messages a day once warmed (null: no platform cap); while warming the ramp allows less.';

COMMENT ON COLUMN app_public.smtp_ip_addresses.status_reason IS 'Why the IP last changed status (e.g. the blocklists that listed it).';

COMMENT ON COLUMN app_public.smtp_ip_addresses.auto_quarantined IS 'The reputation check quarantined this IP because a blocklist listed it; it returns to the pool by itself once every blocklist has delisted it.';

CREATE FUNCTION app_private.change_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text, automatic boolean DEFAULT false) RETURNS app_public.smtp_ip_addresses
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old app_public.smtp_ip_addresses;
  v_ip app_public.smtp_ip_addresses;
  v_status text := status;
begin
  select * into v_old from app_public.smtp_ip_addresses ip where ip.id = change_smtp_ip_status.smtp_ip_address_id for update;
  if not found then
    raise exception 'There is no sending IP %.', smtp_ip_address_id using errcode = 'NTFND';
  end if;
  if v_status is null or v_status not in ('available', 'assigned', 'warming', 'warmed', 'degraded', 'burned', 'quarantined') then
    raise exception 'Unknown IP status "%"; use available, assigned, warming, warmed, degraded, quarantined or burned.', v_status using errcode = 'INVAL';
  end if;
  -- Leaving quarantine with domains still flagged on it: it carries them again.
  if v_old.status = 'quarantined' and v_status = 'available' and app_private.live_assignment_count(v_old.id) > 0 then
    v_status := 'assigned';
  end if;
  update app_public.smtp_ip_addresses ip
    set status = v_status,
        status_reason = coalesce(change_smtp_ip_status.reason, ip.status_reason),
        auto_quarantined = case when v_status = 'quarantined' then automatic else ip.auto_quarantined end
    where ip.id = v_old.id
    returning * into v_ip;

  if v_status = 'warming' then
    update app_public.domain_ip_assignments a
      set status = 'warming', status_reason = 'The IP started its warm-up.'
      where a.smtp_ip_address_id = v_ip.id and a.status = 'scheduled';
  elsif v_status = 'warmed' then
    update app_public.domain_ip_assignments a
      set status = 'active', status_reason = 'The IP finished its warm-up.'
      where a.smtp_ip_address_id = v_ip.id and a.status in ('scheduled', 'warming');
  elsif v_status in ('quarantined', 'burned') then
    perform app_private.move_domains_off_ip(v_ip.id, format('IP %s %s (%s)', host(v_ip.ip_address), v_status, coalesce(reason, 'no reason given')));
  elsif v_old.status = 'quarantined' then
    update app_public.domain_ip_assignments a
      set flagged_reason = null, flagged_at = null
      where a.smtp_ip_address_id = v_ip.id and a.status <> 'expired' and a.flagged_at is not null;
  end if;
  perform app_private.audit_infrastructure('smtp_ip.' || v_status, 'smtp_ip_addresses', v_ip.id, null,
    jsonb_build_object('ip_address', host(v_ip.ip_address), 'from', v_old.status, 'to', v_status, 'automatic', automatic), reason);
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = v_old.id;
  return v_ip;
end;
$$;

COMMENT ON FUNCTION app_private.change_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text, automatic boolean) IS 'Moves an IP through its lifecycle and applies what follows: its assignments start or finish warming with it, a quarantined or burned IP''s domains move to healthy IPs, and leaving quarantine clears their flags.';

CREATE FUNCTION app_private.check_campaign_safety(tenant_id uuid, campaign_id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_campaign app_public.campaigns;
  v_config app_public.tenant_config;
  v_figures record;
  v_attempts bigint;
  v_kind text;
  v_reason text;
  v_now timestamptz := app_private.engine_now();
begin
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = check_campaign_safety.tenant_id and c.id = check_campaign_safety.campaign_id;
  if v_campaign.status is distinct from 'sending' then
    return null;
  end if;
  select tc.* into v_config from app_public.tenant_config tc where tc.tenant_id = check_campaign_safety.tenant_id;
  if v_config.tenant_id is null then
    return null; -- every tenant has its row (create_tenant); nothing to judge by without it
  end if;
  select * into v_figures
    from app_private.campaign_safety_figures(v_campaign.tenant_id, v_campaign.id, v_config.safety_window_days, v_campaign.safety_baseline);
  v_attempts := v_figures.sent + v_figures.bounced;
  if v_attempts < v_config.safety_min_sample then
    return null;
  end if;
  if v_figures.bounced::numeric / v_attempts > v_config.safety_bounce_rate then
    v_kind := 'bounce_rate';
    v_reason := format('Paused automatically: %s of the last %s messages bounced (%s%%), above your limit of %s%% (safety window: %s days). '
                       'Remove invalid addresses from the audience, then resume the campaign.',
                       v_figures.bounced, v_attempts, round(100 * v_figures.bounced::numeric / v_attempts, 2),
                       round(100 * v_config.safety_bounce_rate, 3)::float8, v_config.safety_window_days);
  elsif v_figures.sent >= v_config.safety_min_sample
        and v_figures.complained::numeric / v_figures.sent > v_config.safety_complaint_rate then
    v_kind := 'complaint_rate';
    v_reason := format('Paused automatically: %s of the last %s messages sent were reported as spam (%s%%), above your limit of %s%% (safety window: %s days). '
                       'Review who you are emailing and what you send, then resume the campaign.',
                       v_figures.complained, v_figures.sent, round(100 * v_figures.complained::numeric / v_figures.sent, 2),
                       round(100 * v_config.safety_complaint_rate, 3)::float8, v_config.safety_window_days);
  else
    return null;
  end if;
  update app_public.campaigns c
    set status = 'paused', paused_at = v_now, paused_by = 'system', pause_reason = left(v_reason, 1000), safety_pause = v_kind
    where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id and c.status = 'sending';
  if not found then
    return null;
  end if;
  perform app_private.queue_safety_pause_notice(v_campaign.tenant_id, v_campaign.id, null);
  return v_reason;
end;
$$;

COMMENT ON FUNCTION app_private.check_campaign_safety(tenant_id uuid, campaign_id uuid) IS 'Judges a sending campaign''s bounce and complaint rates over the tenant''s safety window against its limits (tenant_config.safety_*) and pauses it with the reason when one is crossed (on a sample of at least safety_min_sample messages). Returns the reason when it paused the campaign, else null.';

CREATE FUNCTION app_private.check_results_problem(checks jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case
    when jsonb_typeof(checks) is distinct from 'array' then 'checks must be a JSON array'
    else (
      select format('checks[%s]: %s', i - 1, problem)
      from jsonb_array_elements(checks) with ordinality e(c, i)
      cross join lateral (select case
        when jsonb_typeof(c) <> 'object' then 'must be an object'
        when (c ->> 'record_type') not in ('SPF', 'DKIM', 'DMARC', 'MX', 'A', 'AAAA', 'CNAME') or c ->> 'record_type' is null then 'record_type is missing or unknown'
        when jsonb_typeof(c -> 'name') is distinct from 'string' then 'name is required'
        when (c ->> 'status') is null or (c ->> 'status') not in ('verified', 'failed', 'error') then 'status must be verified, failed or error'
        when (c ->> 'status') <> 'verified' and coalesce(length(c ->> 'error'), 0) = 0 then 'a failed or errored check needs an error message'
        when c ? 'ttl' and jsonb_typeof(c -> 'ttl') not in ('null', 'number') then 'ttl must be a number or null'
        when c ? 'details' and jsonb_typeof(c -> 'details') <> 'object' then 'details must be an object'
      end as problem) p
      where p.problem is not null
      order by i
      limit 1
    )
  end;
$$;

COMMENT ON FUNCTION app_private.check_results_problem(checks jsonb) IS 'Why a verify_domain result list is malformed (null when it is fine): [{record_type, name, status, error, ttl, details}].';

CREATE FUNCTION app_private.claim_message(tenant_id uuid, message_id uuid, subject text, body_text text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_campaign_status text;
  v_lead app_public.leads;
  v_block text;
  v_refused text;
  v_envelope record;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = claim_message.tenant_id and x.id = claim_message.message_id
    for no key update;
  if m.id is null or m.status <> 'queued' then
    return 'gone';
  end if;
  select c.status into v_campaign_status from app_public.campaigns c where c.tenant_id = m.tenant_id and c.id = m.campaign_id;
  if v_campaign_status is distinct from 'sending' then
    return 'paused';
  end if;
  select l.* into v_lead from app_public.leads l where l.tenant_id = m.tenant_id and l.id = m.lead_id;
  v_block := app_private.lead_block_reason(m.tenant_id, m.to_email::text, v_lead.status);
  if v_block is not null then
    update app_public.messages x set status = 'cancelled', error_message = format('Not sent: %s.', v_block)
      where x.tenant_id = m.tenant_id and x.id = m.id;
    perform app_private.stop_enrollment(m.tenant_id, m.enrollment_id, 'cancelled', format('Not sent: %s.', v_block));
    return 'gone';
  end if;
  if m.send_attempts = 0 then
    begin
      perform app_private.consume_usage(m.tenant_id, 'emails_sent', 1);
    exception when sqlstate 'LIMIT' then
      get stacked diagnostics v_refused = message_text;
      update app_public.messages x set error_message = left('Waiting: ' || v_refused, 2000)
        where x.tenant_id = m.tenant_id and x.id = m.id;
      perform app_private.pause_tenant_campaigns(m.tenant_id, v_refused);
      return 'limit';
    end;
  end if;
  select * into v_envelope from app_private.delivery_envelope(m.tenant_id, m.id);
  update app_public.messages x
    set status = 'sending',
        send_attempts = x.send_attempts + 1,
        processed_at = now(),
        subject = left(claim_message.subject, 998),
        body_text = claim_message.body_text,
        rfc_message_id = v_envelope.rfc_message_id,
        in_reply_to = v_envelope.thread_rfc_message_id,
        references_header = v_envelope.thread_rfc_message_id,
        error_message = null
    where x.tenant_id = m.tenant_id and x.id = m.id;
  return 'claimed';
end;
$$;

COMMENT ON FUNCTION app_private.claim_message(tenant_id uuid, message_id uuid, subject text, body_text text) IS 'Claims a queued message for one SMTP attempt (queued → sending) and stores what is being sent. Returns claimed; gone (no longer queued, or the recipient is suppressed now); paused (the campaign is not sending); or limit (the plan refused the email: the message stays queued and the tenant''s campaigns are paused with the reason). The first attempt counts against the plan.';

CREATE FUNCTION app_private.claim_reply(tenant_id uuid, message_id uuid, subject text, body_text text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_lead_status text;
  v_block text;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = claim_reply.tenant_id and x.id = claim_reply.message_id
    for no key update;
  if m.id is null or m.status <> 'queued' then
    return 'gone';
  end if;
  select l.status into v_lead_status from app_public.leads l where l.tenant_id = m.tenant_id and l.id = m.lead_id;
  v_block := app_private.lead_block_reason(m.tenant_id, m.to_email::text, v_lead_status);
  if v_block is not null then
    update app_public.messages x set status = 'cancelled', error_message = format('Not sent: %s.', v_block)
      where x.tenant_id = m.tenant_id and x.id = m.id;
    return 'gone';
  end if;
  update app_public.messages x
    set status = 'sending',
        send_attempts = x.send_attempts + 1,
        processed_at = now(),
        subject = left(claim_reply.subject, 998),
        body_text = claim_reply.body_text,
        error_message = null
    where x.tenant_id = m.tenant_id and x.id = m.id;
  return 'claimed';
end;
$$;

COMMENT ON FUNCTION app_private.claim_reply(tenant_id uuid, message_id uuid, subject text, body_text text) IS 'Claims a queued reply for one SMTP attempt (queued → sending), like claim_message for campaign emails but without a campaign: gone when it is no longer queued or the lead is suppressed now (the reply is cancelled). Its plan usage and daily-cap place were taken when it was queued.';

CREATE FUNCTION app_private.claim_webhook_lease(tenant_id uuid, subscription_id uuid, holder text, ttl interval, OUT claimed boolean, OUT held_until timestamp with time zone) RETURNS record
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_holder text;
  v_now timestamptz := clock_timestamp();
begin
  -- A lease another holder has is seen without locking its row: jobs of a
  -- busy subscription end here without writing anything (ON CONFLICT DO
  -- UPDATE would lock the row, a WAL record and a wait each, even when its
  -- WHERE then fails).
  select l.holder, l.expires_at into v_holder, held_until from app_private.webhook_delivery_leases l
    where l.tenant_id = claim_webhook_lease.tenant_id and l.subscription_id = claim_webhook_lease.subscription_id;
  if found and v_holder <> claim_webhook_lease.holder and held_until >= v_now then
    claimed := false;
    return;
  end if;
  -- Taken when free, expired, or already this holder's (then extended).
  insert into app_private.webhook_delivery_leases as l (tenant_id, subscription_id, holder, expires_at)
    values (claim_webhook_lease.tenant_id, claim_webhook_lease.subscription_id, claim_webhook_lease.holder,
            v_now + claim_webhook_lease.ttl)
    -- v_now, not clock_timestamp(): Citus takes only constants here.
    on conflict (tenant_id, subscription_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
      where l.holder = excluded.holder or l.expires_at < v_now
    returning l.expires_at into held_until;
  claimed := found;
  if not claimed then
    select l.expires_at into held_until from app_private.webhook_delivery_leases l
      where l.tenant_id = claim_webhook_lease.tenant_id and l.subscription_id = claim_webhook_lease.subscription_id;
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.claim_webhook_lease(tenant_id uuid, subscription_id uuid, holder text, ttl interval, OUT claimed boolean, OUT held_until timestamp with time zone) IS 'Takes (or extends) the lease on posting a subscription''s deliveries for ttl: claimed, and until when the lease is held (by this holder, or by the one that has it).';

CREATE FUNCTION app_public.uuid_v7(ts timestamp with time zone DEFAULT clock_timestamp()) RETURNS uuid
    LANGUAGE sql PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        placing substring(int8send(floor(extract(epoch from ts) * 1000)::bigint) from 3)
        from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid;
$$;

COMMENT ON FUNCTION app_public.uuid_v7(ts timestamp with time zone) IS '@behavior -*
A version 7 UUID whose first 48 bits are the given time in milliseconds (default: now).';

CREATE FUNCTION app_public.uuid_v7_time(id uuid) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select to_timestamp((('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint) / 1000.0);
$$;

COMMENT ON FUNCTION app_public.uuid_v7_time(id uuid) IS '@behavior -*
The creation time encoded in a version 7 UUID.';

CREATE TABLE app_public.messages (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT app_public.uuid_v7() NOT NULL,
    created timestamp with time zone GENERATED ALWAYS AS (app_public.uuid_v7_time(id)) STORED NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    direction text NOT NULL,
    message_type text DEFAULT 'email'::text NOT NULL,
    status text NOT NULL,
    email_account_id uuid,
    campaign_id uuid,
    enrollment_id uuid,
    step_id uuid,
    variant_id uuid,
    lead_id uuid,
    parent_message_id uuid,
    from_email public.citext,
    to_email public.citext,
    subject text,
    rfc_message_id text,
    in_reply_to text,
    references_header text,
    content_storage_key text,
    body_text text,
    send_attempts integer DEFAULT 0 NOT NULL,
    scheduled_for timestamp with time zone,
    processed_at timestamp with time zone,
    sent_at timestamp with time zone,
    delivered_at timestamp with time zone,
    opened_at timestamp with time zone,
    clicked_at timestamp with time zone,
    replied_at timestamp with time zone,
    bounced_at timestamp with time zone,
    error_message text,
    smtp_response text,
    CONSTRAINT messages_content_storage_key_check CHECK ((length(content_storage_key) <= 500)),
    CONSTRAINT messages_direction_check CHECK ((direction = ANY (ARRAY['inbound'::text, 'outbound'::text]))),
    CONSTRAINT messages_from_email_check CHECK ((length((from_email)::text) <= 254)),
    CONSTRAINT messages_in_reply_to_check CHECK ((length(in_reply_to) <= 998)),
    CONSTRAINT messages_inbound_status CHECK (((direction = 'inbound'::text) = (status = 'received'::text))),
    CONSTRAINT messages_message_type_check CHECK ((message_type = ANY (ARRAY['email'::text, 'bounce'::text, 'auto_reply'::text]))),
    CONSTRAINT messages_rfc_message_id_check CHECK ((length(rfc_message_id) <= 998)),
    CONSTRAINT messages_send_attempts_check CHECK ((send_attempts >= 0)),
    CONSTRAINT messages_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'sending'::text, 'sent'::text, 'delivered'::text, 'opened'::text, 'clicked'::text, 'replied'::text, 'bounced'::text, 'failed'::text, 'cancelled'::text, 'received'::text]))),
    CONSTRAINT messages_subject_check CHECK ((length(subject) <= 998)),
    CONSTRAINT messages_to_email_check CHECK ((length((to_email)::text) <= 254))
)
PARTITION BY RANGE (id);

ALTER TABLE ONLY app_public.messages FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.messages IS 'Every outbound and inbound email. Outbound status moves forward only: queued → sending → sent → delivered → opened → clicked → replied, or to bounced/failed/cancelled. Inbound messages are threaded to what they answer via parent_message_id.';

COMMENT ON COLUMN app_public.messages.rfc_message_id IS 'The Message-ID header (without angle brackets).';

COMMENT ON COLUMN app_public.messages.content_storage_key IS 'Where the full raw message is kept outside the database; null when only body_text is kept.';

COMMENT ON COLUMN app_public.messages.send_attempts IS 'SMTP attempts so far (temporary failures are retried with backoff).';

CREATE FUNCTION app_private.claimed_message(tenant_id uuid, message_id uuid, outcome text) RETURNS app_public.messages
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x where x.tenant_id = claimed_message.tenant_id and x.id = claimed_message.message_id;
  if m.status is distinct from 'sending' then
    raise exception 'Message % is %, not sending; only a claimed message can %.', message_id, coalesce(m.status, 'missing'), outcome
      using errcode = 'STATE';
  end if;
  return m;
end;
$$;

COMMENT ON FUNCTION app_private.claimed_message(tenant_id uuid, message_id uuid, outcome text) IS 'The message being sent (status sending), or STATE naming what was attempted (`outcome`) when it is not.';

CREATE FUNCTION app_private.cleanup_expired_tokens() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_resets integer;
  v_invitations integer;
begin
  delete from app_private.password_reset_tokens t where t.expires_at < now() - interval '7 days';
  get diagnostics v_resets = row_count;
  delete from app_private.auth_throttle a where a.window_start < now() - interval '1 day';
  delete from app_private.user_sessions s where s.expires_at < now() - interval '1 day';
  -- Sign-ups: the password hash of one never confirmed is kept no longer than a day past its link.
  delete from app_private.pending_registrations p where p.expires_at < now() - interval '1 day';
  -- Two-factor sign-in challenges and email confirmation links (functions/053-two-factor.sql).
  delete from app_private.two_factor_challenges c where c.expires_at < now() - interval '1 day';
  delete from app_private.email_verification_tokens e where e.expires_at < now() - interval '7 days';
  delete from app_private.login_failures f where f.first_failed_at < now() - interval '7 days' and coalesce(f.locked_until, '-infinity') < now();
  -- Expired invitations keep their row (history) but lose their token.
  delete from app_private.invitation_tokens it using app_public.invitations i
    where i.tenant_id = it.tenant_id and i.id = it.invitation_id
      and (i.expires_at < now() or i.accepted_at is not null or i.revoked_at is not null);
  get diagnostics v_invitations = row_count;
  return v_resets + v_invitations;
end;
$$;

COMMENT ON FUNCTION app_private.cleanup_expired_tokens() IS 'Deletes expired password reset tokens, the tokens of closed invitations, expired sessions, sign-ups, two-factor challenges and email confirmation links, old throttle windows and stale sign-in failures; run by the scheduled maintenance job.';

CREATE FUNCTION app_private.close_usage_period(tenant_id uuid, period_id uuid, ends_at timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_period app_public.usage_periods;
  v_emails_sent bigint;
  v_campaigns_started bigint;
  v_warmups bigint;
begin
  select up.* into v_period from app_public.usage_periods up
    where up.tenant_id = close_usage_period.tenant_id and up.id = close_usage_period.period_id and up.closed_at is null
    for update;
  if v_period.id is null then
    raise exception 'Usage period % of tenant % is not open.', period_id, tenant_id using errcode = 'STATE';
  end if;
  -- The figures are computed before the update, as values: Citus refuses
  -- functions reading tables (stable) taking a column inside an UPDATE.
  v_emails_sent := app_private.metered_usage(v_period.tenant_id, 'emails_sent', v_period.period_start);
  v_campaigns_started := app_private.metered_usage(v_period.tenant_id, 'campaigns_started', v_period.period_start);
  v_warmups := app_private.metered_usage(v_period.tenant_id, 'warmups', v_period.period_start);
  update app_public.usage_periods up set
      closed_at = now(),
      period_end = ends_at,
      emails_sent = v_emails_sent,
      campaigns_started = v_campaigns_started,
      warmups = v_warmups,
      contacts = app_private.gauge_value(v_period.tenant_id, 'contacts'),
      domains = app_private.gauge_value(v_period.tenant_id, 'domains'),
      email_accounts = app_private.gauge_value(v_period.tenant_id, 'email_accounts'),
      users = app_private.gauge_value(v_period.tenant_id, 'users')
    where up.tenant_id = v_period.tenant_id and up.id = v_period.id;
end;
$$;

COMMENT ON FUNCTION app_private.close_usage_period(tenant_id uuid, period_id uuid, ends_at timestamp with time zone) IS 'Closes a usage period at ends_at and records its final figures: events counted in the period, and the gauges (contacts, domains, inboxes, members) at that moment.';

CREATE TABLE app_public.tenants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    compute_id uuid DEFAULT gen_random_uuid() NOT NULL,
    closed_by uuid,
    purge_after timestamp with time zone,
    purged_at timestamp with time zone,
    CONSTRAINT tenants_closure_check CHECK ((((deleted_at IS NULL) = (purge_after IS NULL)) AND ((purged_at IS NULL) OR (deleted_at IS NOT NULL)))),
    CONSTRAINT tenants_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

ALTER TABLE ONLY app_public.tenants FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.tenants IS 'An organisation: the unit of isolation, billing and limits.';

COMMENT ON COLUMN app_public.tenants.deleted_at IS 'When an owner closed the organisation (closeTenant): from then on no member, API key or job acts in it. Null: open.';

COMMENT ON COLUMN app_public.tenants.compute_id IS 'Which compute/shard group the tenant belongs to. On one PostgreSQL every tenant shares the database; on Citus rows are placed by tenant_id.';

COMMENT ON COLUMN app_public.tenants.closed_by IS 'The owner who closed the organisation.';

COMMENT ON COLUMN app_public.tenants.purge_after IS 'End of the grace period of a closed organisation: until then an owner can reopen it (reopenTenant); after it the tenant_purge job deletes its data.';

COMMENT ON COLUMN app_public.tenants.purged_at IS 'When the organisation''s data was deleted for good; only the tenant row, its subscriptions and its payments remain (billing records).';

CREATE FUNCTION app_private.closed_tenants_owned_by(user_id uuid) RETURNS SETOF app_public.tenants
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
    select t.* from app_public.tenant_users tu
    join app_public.tenants t on t.id = tu.tenant_id
    where tu.user_id = closed_tenants_owned_by.user_id and tu.deleted_at is null and 'owner' = any (tu.roles)
      and t.deleted_at is not null and t.purged_at is null and t.purge_after > now()
    order by t.deleted_at desc;
end;
$$;

COMMENT ON FUNCTION app_private.closed_tenants_owned_by(user_id uuid) IS 'The closed organisations this user owns that can still be reopened.';

CREATE FUNCTION app_private.complete_campaign_if_done(tenant_id uuid, campaign_id uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_done boolean;
begin
  update app_public.campaigns c set status = 'completed', completed_at = app_private.engine_now()
    where c.tenant_id = complete_campaign_if_done.tenant_id and c.id = complete_campaign_if_done.campaign_id
      and c.status = 'sending'
      and not exists (select 1 from app_public.campaign_enrollments e
                      where e.tenant_id = c.tenant_id and e.campaign_id = c.id and e.status in ('active', 'paused'));
  v_done := found;
  return v_done;
end;
$$;

COMMENT ON FUNCTION app_private.complete_campaign_if_done(tenant_id uuid, campaign_id uuid) IS 'Marks a sending campaign completed when no enrollment is left active; returns whether it did.';

CREATE FUNCTION app_private.complete_ip_warmups(at timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ip record;
  v_count integer := 0;
begin
  for v_ip in
    select ip.id, coalesce(ip.daily_limit, app_private.ip_warmup_target()) as target,
           app_private.local_day(complete_ip_warmups.at, 'UTC') - app_private.local_day(ip.warmup_started_at, 'UTC') as day_number
    from app_public.smtp_ip_addresses ip
    where ip.status = 'warming' and ip.warmup_started_at is not null
  loop
    if app_private.ip_warmup_ramp(v_ip.day_number) >= v_ip.target then
      perform app_private.change_smtp_ip_status(v_ip.id, 'warmed',
        format('Warm-up complete on day %s: the ramp reached %s messages a day.', v_ip.day_number, v_ip.target), true);
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.complete_ip_warmups(at timestamp with time zone) IS 'Marks warming IPs warmed once their ramp reaches their daily_limit (or ip_warmup_target); their assignments become active. Returns how many.';

CREATE FUNCTION app_public.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select nullif(pg_catalog.current_setting('app.current_user_id', true), '')::uuid;
$$;

COMMENT ON FUNCTION app_public.current_user_id() IS '@behavior -*
The signed-in user, from the verified token (null when anonymous). Use currentUser in the API.';

CREATE TABLE app_public.lead_imports (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    file_name text NOT NULL,
    byte_size bigint,
    contact_list_id uuid,
    column_mapping jsonb,
    update_existing boolean DEFAULT false NOT NULL,
    total_rows integer DEFAULT 0 NOT NULL,
    imported_rows integer DEFAULT 0 NOT NULL,
    updated_rows integer DEFAULT 0 NOT NULL,
    skipped_rows integer DEFAULT 0 NOT NULL,
    errors jsonb DEFAULT '[]'::jsonb NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    created_by uuid DEFAULT app_public.current_user_id(),
    created timestamp with time zone DEFAULT now() NOT NULL,
    failure_reason text,
    keep_unmapped boolean DEFAULT false NOT NULL,
    unmapped_columns text[] DEFAULT '{}'::text[] NOT NULL,
    api_key_id uuid,
    CONSTRAINT lead_imports_byte_size_check CHECK ((byte_size >= 0)),
    CONSTRAINT lead_imports_column_mapping_check CHECK (((column_mapping IS NULL) OR (jsonb_typeof(column_mapping) = 'object'::text))),
    CONSTRAINT lead_imports_errors_check CHECK ((jsonb_typeof(errors) = 'array'::text)),
    CONSTRAINT lead_imports_failure_reason_check CHECK ((((status = 'failed'::text) = (failure_reason IS NOT NULL)) AND ((length(failure_reason) >= 1) AND (length(failure_reason) <= 2000)))),
    CONSTRAINT lead_imports_file_name_check CHECK (((length(file_name) >= 1) AND (length(file_name) <= 255))),
    CONSTRAINT lead_imports_imported_rows_check CHECK ((imported_rows >= 0)),
    CONSTRAINT lead_imports_skipped_rows_check CHECK ((skipped_rows >= 0)),
    CONSTRAINT lead_imports_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'processing'::text, 'completed'::text, 'failed'::text]))),
    CONSTRAINT lead_imports_total_rows_check CHECK ((total_rows >= 0)),
    CONSTRAINT lead_imports_updated_rows_check CHECK ((updated_rows >= 0))
);

ALTER TABLE ONLY app_public.lead_imports FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.lead_imports IS '@behavior -insert
A CSV import of leads (start one with POST /imports/leads), processed by the worker: status pending → processing → completed or failed (see failureReason). totalRows grows while the file loads; errors lists the first 100 rejected rows with their line and reason.';

COMMENT ON COLUMN app_public.lead_imports.failure_reason IS 'Why the import failed (for example the plan''s contact limit); null unless status is failed. Nothing of a failed import is kept.';

COMMENT ON COLUMN app_public.lead_imports.keep_unmapped IS 'Keep CSV columns that match no lead field, mapping or custom field definition as custom fields, under their normalised header ("Lead Score" becomes lead_score); off: drop them.';

COMMENT ON COLUMN app_public.lead_imports.unmapped_columns IS 'The CSV columns that matched no lead field, mapping or custom field definition: kept as custom fields when keepUnmapped is on, dropped otherwise.';

COMMENT ON COLUMN app_public.lead_imports.api_key_id IS 'The API key that uploaded the file (null when a signed-in user did); the import runs with that key''s access.';

CREATE FUNCTION app_private.complete_lead_import(tenant_id uuid, import_id uuid) RETURNS app_public.lead_imports
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_import app_public.lead_imports;
  v_check record;
  v_total integer;
  v_imported integer;
  v_updated integer;
  v_errors jsonb;
  v_field_types jsonb;
begin
  select i.* into v_import from app_public.lead_imports i
    where i.tenant_id = complete_lead_import.tenant_id and i.id = complete_lead_import.import_id;
  analyze pg_temp.lead_import_rows;
  select count(*) into v_total from pg_temp.lead_import_rows;

  -- 1. Addresses: present, and valid by the email_address domain's own rules.
  update pg_temp.lead_import_rows s set error = 'The email address is missing.' where s.email is null;
  execute format(
    'update pg_temp.lead_import_rows s set error = format(%L, s.email) where s.error is null and not coalesce(%s, false)',
    '"%s" is not a valid email address.', app_private.domain_check_sql('app_public.email_address', 's.email'));

  -- 2. Every CHECK constraint of leads that only involves imported columns,
  --    evaluated on the staging rows (same column names).
  for v_check in
    select c.conname, pg_get_expr(c.conbin, c.conrelid) as expr,
           array(select a.attname from pg_attribute a where a.attrelid = c.conrelid and a.attnum = any (c.conkey) order by a.attnum) as columns
    from pg_constraint c
    where c.conrelid = 'app_public.leads'::regclass and c.contype = 'c'
      and not exists (
        select 1 from pg_attribute a where a.attrelid = c.conrelid and a.attnum = any (c.conkey)
          and not (a.attname = any (app_hidden.lead_import_fields() || array['custom_fields']))
      )
  loop
    execute format('update pg_temp.lead_import_rows s set error = %L where s.error is null and (%s) is false',
      format('%s is not allowed here: it must satisfy %s.', array_to_string(v_check.columns, ', '), v_check.expr), v_check.expr);
  end loop;

  -- 3. Custom fields with a definition must fit its type; values are stored typed.
  with bad as (
    select distinct on (s.line) s.line,
      format('Custom field %s must be %s; got "%s".', e.key,
        case d.field_type when 'number' then 'a number' when 'boolean' then 'true or false'
                          when 'date' then 'a date (YYYY-MM-DD)' else 'one of ' || array_to_string(d.options, ', ') end,
        e.value #>> '{}') as reason
    from pg_temp.lead_import_rows s
    cross join lateral jsonb_each(s.custom_fields) e
    join app_public.custom_field_definitions d on d.tenant_id = v_import.tenant_id and d.key = e.key
    where s.error is null and not case d.field_type
      when 'number' then (e.value #>> '{}') ~ '^-?[0-9]+(\.[0-9]+)?$'
      when 'boolean' then lower(e.value #>> '{}') in ('true', 'false', 'yes', 'no', '1', '0')
      when 'date' then (e.value #>> '{}') ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
      when 'select' then (e.value #>> '{}') = any (d.options)
      else true
    end
    order by s.line, e.key
  )
  update pg_temp.lead_import_rows s set error = bad.reason from bad where s.line = bad.line;
  -- The definitions' types, read once (not joined per row: on Citus a
  -- temporary table is on the coordinator and the definitions on a worker).
  select coalesce(jsonb_object_agg(d.key, d.field_type), '{}') into v_field_types
    from app_public.custom_field_definitions d where d.tenant_id = v_import.tenant_id;
  update pg_temp.lead_import_rows s set custom_fields = (
      select coalesce(jsonb_object_agg(e.key, case v_field_types ->> e.key
          when 'number' then to_jsonb((e.value #>> '{}')::numeric)
          when 'boolean' then to_jsonb(lower(e.value #>> '{}') in ('true', 'yes', '1'))
          else e.value end), '{}')
      from jsonb_each(s.custom_fields) e)
    where s.error is null and s.custom_fields <> '{}';

  -- 4. The same address twice in the file: the first occurrence wins.
  update pg_temp.lead_import_rows s set error = format('Duplicate of line %s.', d.first_line)
    from (
      select r.line, first_value(r.line) over (partition by r.email::citext order by r.line) as first_line
      from pg_temp.lead_import_rows r where r.error is null
    ) d
    where s.line = d.line and d.line <> d.first_line;

  -- 5. Suppressed addresses and domains are never imported.
  --    (The message is built in a subquery: Citus refuses a stable call such
  --    as format() over columns in the SET of an UPDATE joined to a tenant table.)
  update pg_temp.lead_import_rows s set error = hit.message
    from (
      select distinct on (r.line) r.line, format('%s is on your suppression list (%s).', r.email, sup.reason) as message
      from pg_temp.lead_import_rows r
      join app_public.suppressions sup on sup.tenant_id = v_import.tenant_id
        and (sup.email = r.email::citext or sup.domain = split_part(r.email, '@', 2)::citext)
      where r.error is null
      order by r.line, sup.email nulls last
    ) hit
    where s.line = hit.line;

  -- 6. Upsert the valid rows in one statement (the contact limit is checked
  --    by the leads gauge trigger for the whole statement).
  update pg_temp.lead_import_rows s set existing_id = l.id
    from app_public.leads l
    where s.error is null and l.tenant_id = v_import.tenant_id and l.email = s.email::citext;
  -- Dynamic so that update_existing is a literal in ON CONFLICT … WHERE (Citus
  -- sends that clause to the worker nodes and cannot type a parameter there).
  execute format($upsert$
    insert into app_public.leads as l (tenant_id, email, name, first_name, last_name, company, title, phone, website, timezone,
        source, custom_fields, created_by)
      select $1, s.email, s.name, s.first_name, s.last_name, s.company, s.title, s.phone, s.website, s.timezone,
        coalesce(s.source, 'csv import'), s.custom_fields, $2
      from pg_temp.lead_import_rows s
      where s.error is null and (s.existing_id is null or %1$L::boolean)
      order by s.line
    on conflict (tenant_id, email) do update set
      name = coalesce(excluded.name, l.name),
      first_name = coalesce(excluded.first_name, l.first_name),
      last_name = coalesce(excluded.last_name, l.last_name),
      company = coalesce(excluded.company, l.company),
      title = coalesce(excluded.title, l.title),
      phone = coalesce(excluded.phone, l.phone),
      website = coalesce(excluded.website, l.website),
      timezone = coalesce(excluded.timezone, l.timezone),
      custom_fields = l.custom_fields || excluded.custom_fields
      where %1$L::boolean
  $upsert$, v_import.update_existing) using v_import.tenant_id, v_import.created_by;
  select count(*) filter (where s.existing_id is null), count(*) filter (where s.existing_id is not null and v_import.update_existing)
    into v_imported, v_updated
    from pg_temp.lead_import_rows s where s.error is null;

  -- 7. The static list gets every valid row's lead, new or existing.
  if v_import.contact_list_id is not null then
    insert into app_public.contact_list_members (tenant_id, list_id, lead_id)
      select v_import.tenant_id, v_import.contact_list_id, l.id
      from pg_temp.lead_import_rows s
      join app_public.leads l on l.tenant_id = v_import.tenant_id and l.email = s.email::citext
      where s.error is null
    on conflict do nothing;
  end if;

  update pg_temp.lead_import_rows s set error = 'A lead with this email already exists; it was left unchanged (updateExisting is off).'
    where s.error is null and s.existing_id is not null and not v_import.update_existing;
  select coalesce(jsonb_agg(jsonb_build_object('line', f.line, 'email', f.email, 'reason', f.error) order by f.line), '[]')
    into v_errors
    from (select r.line, r.email, r.error from pg_temp.lead_import_rows r where r.error is not null order by r.line limit 100) f;

  update app_public.lead_imports i set
      status = 'completed', total_rows = v_total, imported_rows = v_imported, updated_rows = v_updated,
      skipped_rows = v_total - v_imported - v_updated, errors = v_errors, failure_reason = null, finished_at = now()
    where i.tenant_id = v_import.tenant_id and i.id = v_import.id
    returning * into v_import;
  return v_import;
end;
$_$;

COMMENT ON FUNCTION app_private.complete_lead_import(tenant_id uuid, import_id uuid) IS 'Validates the staged rows (email domain rules, the leads CHECK constraints, custom field types, duplicates, suppressions), upserts the valid ones into leads and the import''s static list, and records total/imported/updated/skipped counts and the first 100 row errors. Raises (and the caller rolls back) on anything that fails the whole import, such as the plan''s contact limit.';

CREATE FUNCTION app_private.condition_holds(tenant_id uuid, campaign_id uuid, lead_id uuid, condition_type text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select case condition_holds.condition_type
    when 'opened' then x.opened when 'not_opened' then not x.opened
    when 'clicked' then x.clicked when 'not_clicked' then not x.clicked
    when 'replied' then x.replied when 'not_replied' then not x.replied
  end
  from (
    select coalesce(bool_or(m.opened_at is not null), false) as opened,
           coalesce(bool_or(m.clicked_at is not null), false) as clicked,
           coalesce(bool_or(m.replied_at is not null), false) as replied
    from app_public.messages m
    where m.tenant_id = condition_holds.tenant_id and m.lead_id = condition_holds.lead_id
      and m.campaign_id = condition_holds.campaign_id and m.direction = 'outbound'
  ) x
  );
end;
$$;

COMMENT ON FUNCTION app_private.condition_holds(tenant_id uuid, campaign_id uuid, lead_id uuid, condition_type text) IS 'Whether a condition step''s test (opened, not_opened, clicked, not_clicked, replied, not_replied) is true of this campaign''s messages to the lead so far.';

CREATE FUNCTION app_private.connect_oauth_inbox(tenant_id uuid, user_id uuid, provider text, email text, smtp_settings jsonb, imap_settings jsonb, refresh_token_encrypted bytea, access_token_encrypted bytea, access_expires_at timestamp with time zone) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_roles text[];
  v_domain_id uuid;
  v_domain text := lower(split_part(email, '@', 2));
  v_defaults jsonb := app_private.oauth_inbox_defaults(provider);
  v_daily_limit integer;
  ea app_public.email_accounts;
  v_account_id uuid;
begin
  if v_defaults is null then
    raise exception 'Inboxes connect over OAuth with Google or Microsoft only.' using errcode = 'INVAL';
  end if;
  -- The user who started the connection must still be an owner or admin there.
  select tu.roles into v_roles from app_public.tenant_users tu
    where tu.tenant_id = connect_oauth_inbox.tenant_id and tu.user_id = connect_oauth_inbox.user_id;
  if v_roles is null or not (v_roles && array['owner', 'admin']) then
    raise exception 'Only owners and admins can connect inboxes.' using errcode = 'DNIED';
  end if;
  if refresh_token_encrypted is null then
    raise exception 'The provider granted no lasting access (no refresh token). Connect the inbox again and accept every permission asked.' using errcode = 'INVAL';
  end if;
  select d.id into v_domain_id from app_public.domains d
    where d.tenant_id = connect_oauth_inbox.tenant_id and lower(d.domain::text) = v_domain;
  if v_domain_id is null then
    raise exception 'Add the domain % to this organisation before connecting its inbox %.', v_domain, email using errcode = 'STATE';
  end if;

  select x.* into ea from app_public.email_accounts x
    where x.tenant_id = connect_oauth_inbox.tenant_id and lower(x.email::text) = lower(connect_oauth_inbox.email)
    for no key update;
  if ea.id is null then
    v_daily_limit := (v_defaults ->> 'daily_limit')::integer;
    insert into app_public.email_accounts (tenant_id, domain_id, email, provider, smtp_settings, imap_settings, status,
                                           daily_limit, warmup_enabled, warmup_started_at, oauth_status, oauth_connected_at, created, updated)
      values (connect_oauth_inbox.tenant_id, v_domain_id, lower(connect_oauth_inbox.email), connect_oauth_inbox.provider,
              connect_oauth_inbox.smtp_settings, connect_oauth_inbox.imap_settings, 'active',
              v_daily_limit, (v_defaults ->> 'warmup_enabled')::boolean, v_now, 'connected', v_now, v_now, v_now)
      returning id into v_account_id;
  else
    v_account_id := ea.id;
    update app_public.email_accounts x
      set provider = connect_oauth_inbox.provider, smtp_settings = connect_oauth_inbox.smtp_settings,
          imap_settings = connect_oauth_inbox.imap_settings, status = 'active', last_error = null,
          oauth_status = 'connected', oauth_connected_at = v_now, updated = v_now
      where x.tenant_id = connect_oauth_inbox.tenant_id and x.id = v_account_id;
  end if;

  insert into app_private.email_account_credentials as cr (tenant_id, email_account_id, oauth_refresh_token_encrypted,
                                                           oauth_access_token_encrypted, oauth_access_expires_at, updated)
    values (connect_oauth_inbox.tenant_id, v_account_id, connect_oauth_inbox.refresh_token_encrypted,
            connect_oauth_inbox.access_token_encrypted, connect_oauth_inbox.access_expires_at, v_now)
  on conflict (tenant_id, email_account_id) do update set
    oauth_refresh_token_encrypted = excluded.oauth_refresh_token_encrypted,
    oauth_access_token_encrypted = excluded.oauth_access_token_encrypted,
    oauth_access_expires_at = excluded.oauth_access_expires_at,
    updated = excluded.updated;
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (connect_oauth_inbox.tenant_id, connect_oauth_inbox.user_id, 'email_account.oauth_connected', 'email_accounts', v_account_id::text,
            jsonb_build_object('provider', connect_oauth_inbox.provider, 'email', lower(connect_oauth_inbox.email), 'created', ea.id is null));
  return v_account_id;
end;
$$;

COMMENT ON FUNCTION app_private.connect_oauth_inbox(tenant_id uuid, user_id uuid, provider text, email text, smtp_settings jsonb, imap_settings jsonb, refresh_token_encrypted bytea, access_token_encrypted bytea, access_expires_at timestamp with time zone) IS 'Creates or updates the inbox of the address a provider granted OAuth access to (its domain must be one of the tenant''s), with the provider''s SMTP/IMAP settings and defaults, and stores the sealed tokens; active and connected again. The user who started the connection must still be an owner or admin. Audited. Returns the inbox id.';

CREATE FUNCTION app_private.consume_oauth_state(state text) RETURNS TABLE(tenant_id uuid, user_id uuid, provider text, code_verifier_encrypted bytea, expired boolean)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_hash bytea := app_private.hash_token(state);
  v_now timestamptz := now();
  v_tenant_id uuid;
  -- Scalars, not a row of the table: functions/ also applies to databases migrated before it existed (test/db/upgrade).
  v_user_id uuid;
  v_provider text;
  v_verifier bytea;
  v_expires timestamptz;
begin
  -- Found across tenants by its hash, then taken (once) by its tenant.
  select x.tenant_id into v_tenant_id from app_private.oauth_states x where x.state_hash = v_hash limit 1;
  if v_tenant_id is null then
    raise exception 'This connection link is unknown. Start connecting the inbox again.' using errcode = 'NTFND';
  end if;
  update app_private.oauth_states x set used_at = v_now, updated = v_now
    where x.tenant_id = v_tenant_id and x.state_hash = v_hash and x.used_at is null
    returning x.user_id, x.provider, x.code_verifier_encrypted, x.expires_at into v_user_id, v_provider, v_verifier, v_expires;
  if not found then
    raise exception 'This connection link was already used. Start connecting the inbox again.' using errcode = 'STATE';
  end if;
  -- An expired state is used up too (this transaction commits); the caller refuses it.
  return query select v_tenant_id, v_user_id, v_provider, v_verifier, v_expires < v_now;
end;
$$;

COMMENT ON FUNCTION app_private.consume_oauth_state(state text) IS 'Uses up an OAuth state at the callback: its tenant, user, provider and sealed PKCE verifier. Unknown (NTFND) and already used (STATE) states are refused; an expired one is used up and returned with expired = true for the caller to refuse. Run by the API server''s callback in a transaction of its own, so the state is used up even when the rest fails.';

CREATE FUNCTION app_private.consume_usage(tenant_id uuid, metric text, amount integer DEFAULT 1) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_period timestamptz;
  v_plan text;
  v_limit bigint;
  v_used bigint;
  v_lock bigint;
  v_spent_key text;
begin
  if metric is null or metric not in ('emails_sent', 'campaigns_started', 'warmups') then
    raise exception 'Metric "%" is not metered; expected emails_sent, campaigns_started or warmups.', metric using errcode = 'INVAL';
  end if;
  if amount is null or amount < 1 then
    raise exception 'Usage is counted in positive amounts, not %.', amount using errcode = 'INVAL';
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'consume_usage needs READ COMMITTED (it re-reads the count after locking), not %.', current_setting('transaction_isolation')
      using errcode = '25001';
  end if;
  perform app_private.assert_may_send(tenant_id, metric);
  v_period := app_private.open_usage_period(tenant_id);
  if v_period is null then
    raise exception 'This organisation has no open billing period.' using errcode = 'LIMIT';
  end if;
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(tenant_id, metric) l;

  if v_limit is null then
    perform app_private.count_usage_event(tenant_id, v_period, metric, amount);
    return app_private.metered_usage(tenant_id, metric, v_period);
  end if;

  v_lock := hashtextextended('usage:' || tenant_id::text || ':' || metric, 0);
  v_spent_key := tenant_id::text || ':' || metric;
  v_used := app_private.metered_usage(tenant_id, metric, v_period);
  if app_private.lockless_budget_left(v_spent_key, amount) and v_limit - v_used > app_private.usage_lockless_margin() then
    perform pg_advisory_xact_lock_shared(v_lock);
    v_used := app_private.metered_usage(tenant_id, metric, v_period);
    if v_limit - v_used > app_private.usage_lockless_margin() then
      perform app_private.spend_lockless_budget(v_spent_key, amount);
      perform app_private.count_usage_event(tenant_id, v_period, metric, amount);
      return v_used + amount;
    end if;
  end if;

  -- Near the limit (or past this transaction's budget): wait for every
  -- writer in flight, then count exactly.
  perform pg_advisory_xact_lock(v_lock);
  v_used := app_private.metered_usage(tenant_id, metric, v_period);
  if v_used + amount > v_limit then
    perform app_private.raise_limit_exceeded(v_plan, metric, v_limit, v_used, amount);
  end if;
  perform app_private.count_usage_event(tenant_id, v_period, metric, amount);
  return v_used + amount;
end;
$$;

COMMENT ON FUNCTION app_private.consume_usage(tenant_id uuid, metric text, amount integer) IS 'Counts `amount` of a metered event (emails_sent, campaigns_started, warmups) in the open period and returns the new total; refuses with LIMIT (nothing counted) when it would exceed the plan limit, or when sending while the subscription is unpaid. Exact under concurrency; see the header of functions/060-usage-limits.sql.';

CREATE TABLE app_public.conversations (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT app_public.uuid_v7() NOT NULL,
    lead_id uuid NOT NULL,
    email_account_id uuid,
    campaign_id uuid,
    enrollment_id uuid,
    root_message_id uuid NOT NULL,
    subject text,
    last_message_id uuid,
    last_message_at timestamp with time zone,
    last_direction text,
    message_count integer DEFAULT 0 NOT NULL,
    unread_count integer DEFAULT 0 NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT conversations_last_direction_check CHECK ((last_direction = ANY (ARRAY['inbound'::text, 'outbound'::text]))),
    CONSTRAINT conversations_message_count_check CHECK ((message_count >= 0)),
    CONSTRAINT conversations_subject_check CHECK ((length(subject) <= 998)),
    CONSTRAINT conversations_unread_count_check CHECK ((unread_count >= 0))
);

ALTER TABLE ONLY app_public.conversations FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.conversations IS 'A thread with a lead in one inbox, both directions: started when the lead first answers (a reply or an auto-reply to a campaign message), then holding the campaign messages of that thread, the lead''s answers and the replies members send from the platform (sendReply). Kept by the database; list them newest first with inboxConversations.';

COMMENT ON COLUMN app_public.conversations.enrollment_id IS 'The campaign enrollment whose emails form the thread (later emails of it join the conversation when sent).';

COMMENT ON COLUMN app_public.conversations.root_message_id IS 'The first outbound message of the thread (the campaign''s first email to the lead in this enrollment).';

COMMENT ON COLUMN app_public.conversations.subject IS 'The thread''s subject (of its first message); replies from the platform use "Re: " and this.';

COMMENT ON COLUMN app_public.conversations.last_message_id IS 'The newest message of the conversation, either direction.';

COMMENT ON COLUMN app_public.conversations.last_message_at IS 'When the newest message was written or received (conversations are listed newest first by this).';

COMMENT ON COLUMN app_public.conversations.last_direction IS 'inbound when the lead wrote last, outbound when we did.';

COMMENT ON COLUMN app_public.conversations.unread_count IS 'Messages from the lead nobody has marked read yet.';

CREATE FUNCTION app_private.conversation_for_change(conversation_id uuid) RETURNS app_public.conversations
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_conversation app_public.conversations;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can answer leads and change conversations.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('leads');
  select c.* into v_conversation from app_public.conversations c
    where c.tenant_id = v_tenant_id and c.id = conversation_for_change.conversation_id
    for no key update;
  if v_conversation.id is null then
    raise exception 'There is no conversation % in this organisation.', conversation_id using errcode = 'NTFND';
  end if;
  return v_conversation;
end;
$$;

COMMENT ON FUNCTION app_private.conversation_for_change(conversation_id uuid) IS 'Checks that the caller may change conversations (member and above) and locks the conversation of the current tenant; NTFND when there is none.';

CREATE FUNCTION app_private.conversation_of_message(message_id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_conversation_id uuid;
begin
  select cm.conversation_id into v_conversation_id from app_public.conversation_messages cm
    where cm.tenant_id = v_tenant_id and cm.message_id = conversation_of_message.message_id;
  if v_conversation_id is null then
    if exists (select 1 from app_public.messages m where m.tenant_id = v_tenant_id and m.id = conversation_of_message.message_id) then
      raise exception 'Message % is not part of a conversation: only the messages of a thread a lead answered can be answered or marked read here.', message_id
        using errcode = 'STATE';
    end if;
    raise exception 'There is no message % in this organisation.', message_id using errcode = 'NTFND';
  end if;
  return v_conversation_id;
end;
$$;

COMMENT ON FUNCTION app_private.conversation_of_message(message_id uuid) IS 'The conversation of a message of the current tenant; NTFND when there is no such message, STATE when it belongs to no conversation.';

CREATE FUNCTION app_private.count_usage_event(tenant_id uuid, period_start timestamp with time zone, metric text, amount integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  -- One shard per backend: a transaction that counts several times always
  -- updates the same row, so two of them cannot deadlock on shard rows.
  insert into app_private.usage_counters as c (tenant_id, period_start, metric, shard, value)
    values (count_usage_event.tenant_id, count_usage_event.period_start, count_usage_event.metric,
            (pg_backend_pid() % 16)::smallint, amount)
  on conflict on constraint usage_counters_pkey do update set value = c.value + excluded.value;
end;
$$;

COMMENT ON FUNCTION app_private.count_usage_event(tenant_id uuid, period_start timestamp with time zone, metric text, amount integer) IS 'Adds to this backend''s shard of a metered counter.';

CREATE FUNCTION app_private.create_tenant(name text, owner_user_id uuid, plan_slug text DEFAULT 'free'::text) RETURNS app_public.tenants
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant app_public.tenants;
  v_plan app_public.plans;
  v_owner app_public.users;
  v_subscription_id uuid;
begin
  select * into v_owner from app_public.users u where u.id = owner_user_id and u.deleted_at is null;
  if not found then
    raise exception 'No active user %.', owner_user_id using errcode = 'P0002';
  end if;
  select * into v_plan from app_public.plans p where p.slug = plan_slug and p.is_active;
  if not found then
    raise exception 'There is no active plan "%".', plan_slug using errcode = 'P0002';
  end if;

  insert into app_public.tenants (name) values (create_tenant.name) returning * into v_tenant;
  insert into app_public.tenant_users (tenant_id, user_id, roles, email)
    values (v_tenant.id, v_owner.id, '{owner}', v_owner.email);
  insert into app_public.tenant_config (tenant_id, billing_email) values (v_tenant.id, v_owner.email);
  insert into app_public.tenant_policies (tenant_id) values (v_tenant.id);
  insert into app_public.companies (tenant_id, name, workspace_name)
    values (v_tenant.id, left(create_tenant.name, 100), 'default');
  insert into app_public.tags (tenant_id, value, name, is_default)
    values (v_tenant.id, 'cold-outreach', 'Cold outreach', true),
           (v_tenant.id, 'follow-up', 'Follow-up', true),
           (v_tenant.id, 'newsletter', 'Newsletter', true);
  insert into app_public.subscriptions (tenant_id, plan_id, status, billing_contact_user_id)
    values (v_tenant.id, v_plan.id, 'active', v_owner.id)
    returning id into v_subscription_id;
  insert into app_public.usage_periods (tenant_id, subscription_id, plan_id, period_start, period_end)
    select v_tenant.id, s.id, s.plan_id, s.current_period_start, s.current_period_end
    from app_public.subscriptions s where s.tenant_id = v_tenant.id and s.id = v_subscription_id;
  return v_tenant;
end;
$$;

COMMENT ON FUNCTION app_private.create_tenant(name text, owner_user_id uuid, plan_slug text) IS 'Creates a tenant with its owner membership, default settings, default workspace and tags, a subscription to the given plan and its first usage period.';

CREATE TABLE app_public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    name text,
    family_name text,
    given_name text,
    email app_public.email_address NOT NULL,
    picture text,
    email_verified_at timestamp with time zone,
    CONSTRAINT users_family_name_check CHECK ((length(family_name) <= 100)),
    CONSTRAINT users_given_name_check CHECK ((length(given_name) <= 100)),
    CONSTRAINT users_name_check CHECK ((length(name) <= 200)),
    CONSTRAINT users_picture_check CHECK ((picture ~ '^https?://'::text))
);

ALTER TABLE ONLY app_public.users FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.users IS 'A person who can sign in. Global: one user may belong to several tenants.';

COMMENT ON COLUMN app_public.users.deleted_at IS 'Set when the account is closed; a deleted user can no longer sign in.';

COMMENT ON COLUMN app_public.users.email_verified_at IS 'When the user proved they own the address.';

CREATE FUNCTION app_private.create_user(email text, password text DEFAULT NULL::text, name text DEFAULT NULL::text, email_verified boolean DEFAULT false) RETURNS app_public.users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user app_public.users;
begin
  if exists (select 1 from app_public.users u where u.email = create_user.email::citext and u.deleted_at is null) then
    raise exception 'An account with the email % already exists.', create_user.email
      using errcode = '23505', constraint = 'users_email_key';
  end if;
  insert into app_public.users (email, name, email_verified_at)
    values (create_user.email, create_user.name, case when create_user.email_verified then now() end)
    returning * into v_user;
  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
    values (v_user.id, case when password is not null then app_private.hash_password(password) end,
            case when password is not null then now() end);
  insert into app_public.user_preferences (user_id) values (v_user.id);
  return v_user;
end;
$$;

COMMENT ON FUNCTION app_private.create_user(email text, password text, name text, email_verified boolean) IS 'Creates a user with their secrets and default preferences. Password rules are checked by the callers, which know the tenant policy.';

CREATE FUNCTION app_private.crm_subject(tenant_id uuid, lead_id uuid, deal_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  if lead_id is null and deal_id is null then
    raise exception 'Say which lead (leadId) or deal (dealId) this is about.' using errcode = 'INVAL';
  end if;
  if lead_id is not null and not exists (
    select 1 from app_public.leads l where l.tenant_id = crm_subject.tenant_id and l.id = crm_subject.lead_id
  ) then
    raise exception 'There is no lead % in this organisation.', lead_id using errcode = 'NTFND';
  end if;
  if deal_id is not null and not exists (
    select 1 from app_public.deals d where d.tenant_id = crm_subject.tenant_id and d.id = crm_subject.deal_id and d.deleted_at is null
  ) then
    raise exception 'There is no deal % in this organisation.', deal_id using errcode = 'NTFND';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.crm_subject(tenant_id uuid, lead_id uuid, deal_id uuid) IS 'Checks that a note or task names a lead or a (live) deal of the tenant: INVAL when it names neither, NTFND when one is not there.';

CREATE FUNCTION app_private.crm_tenant_for_change() RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can change its CRM (deals, accounts, notes and tasks).'
      using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('crm');
  return v_tenant_id;
end;
$$;

COMMENT ON FUNCTION app_private.crm_tenant_for_change() IS 'The current tenant, when the caller may change its CRM (member and above, signed in: no API key reaches the CRM); DNIED otherwise.';

CREATE TABLE app_public.plans (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    description text,
    max_users integer,
    max_domains integer,
    max_campaigns_per_month integer,
    api_rate_limit integer,
    max_email_accounts integer,
    max_emails_per_month integer,
    max_warmups integer,
    max_contacts integer,
    max_storage_gb integer,
    api_access boolean DEFAULT false NOT NULL,
    priority_support boolean DEFAULT false NOT NULL,
    advanced_analytics boolean DEFAULT false NOT NULL,
    white_label boolean DEFAULT false NOT NULL,
    price_monthly integer,
    price_yearly integer,
    stripe_price_id text,
    notes text,
    is_active boolean DEFAULT true NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT plans_api_rate_limit_check CHECK ((api_rate_limit >= 0)),
    CONSTRAINT plans_max_campaigns_per_month_check CHECK ((max_campaigns_per_month >= 0)),
    CONSTRAINT plans_max_contacts_check CHECK ((max_contacts >= 0)),
    CONSTRAINT plans_max_domains_check CHECK ((max_domains >= 0)),
    CONSTRAINT plans_max_email_accounts_check CHECK ((max_email_accounts >= 0)),
    CONSTRAINT plans_max_emails_per_month_check CHECK ((max_emails_per_month >= 0)),
    CONSTRAINT plans_max_storage_gb_check CHECK ((max_storage_gb >= 0)),
    CONSTRAINT plans_max_users_check CHECK ((max_users >= 0)),
    CONSTRAINT plans_max_warmups_check CHECK ((max_warmups >= 0)),
    CONSTRAINT plans_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT plans_price_monthly_check CHECK ((price_monthly >= 0)),
    CONSTRAINT plans_price_yearly_check CHECK ((price_yearly >= 0)),
    CONSTRAINT plans_slug_check CHECK ((slug ~ '^[a-z0-9][a-z0-9-]{0,99}$'::text))
);

ALTER TABLE ONLY app_public.plans FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.plans IS 'A subscription plan and its limits. A null limit means unlimited; prices are in cents.';

COMMENT ON COLUMN app_public.plans.api_rate_limit IS 'Requests per minute each API key of the plan''s organisations may make (fixed one-minute windows); null: unlimited.';

COMMENT ON COLUMN app_public.plans.api_access IS 'Whether the plan''s organisations may use API keys (seeded: Starter, Pro and Enterprise; not Free).';

CREATE FUNCTION app_private.current_plan_of(tenant_id uuid) RETURNS app_public.plans
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.current_plan_of(tenant_id uuid) IS 'The tenant''s current plan (the Free plan without a current subscription), whose api_access and api_rate_limit govern its API keys.';

CREATE FUNCTION app_private.current_session_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$
  select nullif(pg_catalog.current_setting('app.current_session_id', true), '')::uuid;
$$;

COMMENT ON FUNCTION app_private.current_session_id() IS 'The session of the current request (null for a token another identity provider signed).';

CREATE FUNCTION app_private.deal_owner_is_member() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- A row for another tenant than the session's is refused by row-level
  -- security (after this trigger): leave that answer to it.
  if new.owner_user_id is not null
     and (app_public.current_tenant_id() is null or new.tenant_id = app_public.current_tenant_id())
     and not exists (
       select 1 from app_public.tenant_users tu
       where tu.tenant_id = new.tenant_id and tu.user_id = new.owner_user_id and tu.deleted_at is null
     ) then
    raise exception 'The deal owner must be a member of this organisation; pick one from its members.'
      using errcode = 'NTFND', column = 'owner_user_id';
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.deal_owner_is_member() IS 'Trigger: a deal''s owner_user_id must be an active member of the deal''s tenant. Unknown users and users of other tenants get the same NTFND error, so it reveals nothing about other tenants.';

CREATE FUNCTION app_private.deliverability_setting(key text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(
    (select sc.value from app_public.system_config sc where sc.key = 'deliverability.' || deliverability_setting.key),
    case deliverability_setting.key
      when 'spf_include' then '"_spf.penguinmails.io"'
      when 'mx_host' then '"mail.penguinmails.io"'
      when 'mx_priority' then '10'
      when 'dmarc_policy' then '"quarantine"'
      when 'record_ttl' then '3600'
      when 'dkim_key_pool_size' then '5'
    end::jsonb
  );
$$;

COMMENT ON FUNCTION app_private.deliverability_setting(key text) IS 'A platform DNS setting: the system_config value deliverability.<key> when staff set one (setSystemConfig), else the built-in default: spf_include _spf.penguinmails.io (the host every tenant SPF record must include), mx_host mail.penguinmails.io and mx_priority 10 (the suggested MX), dmarc_policy quarantine, record_ttl 3600, dkim_key_pool_size 5 (stocked DKIM keys).';

CREATE FUNCTION app_private.delivery_envelope(tenant_id uuid, message_id uuid) RETURNS TABLE(id uuid, status text, step_id uuid, lead_id uuid, campaign_id uuid, enrollment_id uuid, send_attempts integer, email_account_id uuid, from_email text, to_email text, reply_to text, smtp_settings jsonb, smtp_password_encrypted bytea, domain text, dkim_selector text, dkim_private_key_encrypted bytea, rfc_message_id text, thread_rfc_message_id text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  select m.id, m.status, m.step_id, m.lead_id, m.campaign_id, m.enrollment_id, m.send_attempts,
         ea.id, ea.email::text, m.to_email::text, c.reply_to::text,
         ea.smtp_settings, cr.smtp_password_encrypted,
         d.domain::text, d.dkim_selector, k.private_key_encrypted,
         coalesce(m.rfc_message_id, m.id::text || '@' || d.domain::text),
         nullif(t.rfc_message_id, coalesce(m.rfc_message_id, m.id::text || '@' || d.domain::text))
  from app_public.messages m
  join app_public.email_accounts ea on ea.tenant_id = m.tenant_id and ea.id = m.email_account_id
  join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
  left join app_public.campaigns c on c.tenant_id = m.tenant_id and c.id = m.campaign_id
  left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
  left join app_private.domain_dkim_keys k on k.tenant_id = d.tenant_id and k.domain_id = d.id and k.selector = d.dkim_selector
  left join app_public.campaign_enrollments e on e.tenant_id = m.tenant_id and e.id = m.enrollment_id
  left join app_public.messages t on t.tenant_id = e.tenant_id and t.id = e.thread_message_id
  where m.tenant_id = delivery_envelope.tenant_id and m.id = delivery_envelope.message_id;
end;
$$;

COMMENT ON FUNCTION app_private.delivery_envelope(tenant_id uuid, message_id uuid) IS 'What the worker needs to deliver a message: addresses, the inbox''s SMTP settings and encrypted password, the domain''s DKIM selector and encrypted key, its Message-ID and the thread''s first Message-ID. Owner only (secrets, still encrypted).';

CREATE FUNCTION app_private.disconnect_inbox_oauth(email_account_id uuid) RETURNS TABLE(provider text, refresh_token_encrypted bytea, access_token_encrypted bytea)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_now timestamptz := now();
  ea app_public.email_accounts;
  cr app_private.email_account_credentials;
begin
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can disconnect inboxes.' using errcode = 'DNIED';
  end if;
  select x.* into ea from app_public.email_accounts x
    where x.tenant_id = v_tenant_id and x.id = disconnect_inbox_oauth.email_account_id for no key update;
  if ea.id is null then
    raise exception 'There is no inbox % in this organisation.', email_account_id using errcode = 'NTFND';
  end if;
  if ea.oauth_status is null or ea.oauth_status = 'disconnected' then
    raise exception 'Inbox % is not connected over OAuth.', ea.email using errcode = 'STATE';
  end if;
  select x.* into cr from app_private.email_account_credentials x
    where x.tenant_id = v_tenant_id and x.email_account_id = ea.id for no key update;
  update app_public.email_accounts x
    set status = 'disabled', oauth_status = 'disconnected', last_error = null, updated = v_now
    where x.tenant_id = v_tenant_id and x.id = ea.id;
  update app_private.email_account_credentials x
    set oauth_refresh_token_encrypted = null, oauth_access_token_encrypted = null, oauth_access_expires_at = null, updated = v_now
    where x.tenant_id = v_tenant_id and x.email_account_id = ea.id;
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'email_account.oauth_disconnected', 'email_accounts', ea.id::text,
            jsonb_build_object('provider', ea.provider));
  return query select ea.provider, cr.oauth_refresh_token_encrypted, cr.oauth_access_token_encrypted;
end;
$$;

COMMENT ON FUNCTION app_private.disconnect_inbox_oauth(email_account_id uuid) IS 'Disconnects an OAuth inbox of the caller''s tenant (owners and admins): it stops sending at once (status disabled), its tokens are deleted and returned sealed, once, to the API server for revocation at the provider. Audited.';

CREATE FUNCTION app_private.display_name_problem(name text, what text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case
    when name is null then null
    when length(name) > 100 then format('%s must be at most 100 characters long.', what)
    when name ~ '[\x01-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]'
      then format('%s cannot contain line breaks, tabs, control or text-direction characters.', what)
    when name ~* '(://|\mwww\.|[a-z0-9-]+\.[a-z]{2,}(/|\M)|[<>@])'
      then format('%s cannot contain web or email addresses (or < > @).', what)
  end;
$$;

COMMENT ON FUNCTION app_private.display_name_problem(name text, what text) IS 'Why a display name is not acceptable (over 100 characters, control or text-direction characters, a URL, domain or email address), or null.';

CREATE FUNCTION app_private.dkim_pool_shortfall() RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select greatest(0, (app_private.deliverability_setting('dkim_key_pool_size') #>> '{}')::integer
    - (select count(*)::integer from app_private.dkim_key_pool p where p.claimed_domain_id is null));
$$;

COMMENT ON FUNCTION app_private.dkim_pool_shortfall() IS 'How many DKIM keys the worker should generate to bring the stock back to deliverability.dkim_key_pool_size.';

CREATE FUNCTION app_private.dkim_record(domain_id uuid, selector text, public_key text, role text DEFAULT 'active'::text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select jsonb_build_object(
    'record_type', 'DKIM',
    'name', selector || '._domainkey',
    'selector', selector,
    'value', case when public_key is not null then 'v=DKIM1; k=rsa; p=' || public_key end,
    'public_key', public_key,
    'managed_by', 'platform',
    'secret_ref', format('pm-secretbox://app_private.domain_dkim_keys/%s/%s', domain_id, selector),
    'needs_deployment', public_key is null,
    'role', role,
    'ttl', (app_private.deliverability_setting('record_ttl') #>> '{}')::integer,
    'verification_status', 'pending',
    'last_verified_at', null,
    'verification_attempts', 0,
    'verification_error', null,
    'source', 'platform'
  );
$$;

COMMENT ON FUNCTION app_private.dkim_record(domain_id uuid, selector text, public_key text, role text) IS 'The DKIM entry of dns_records for a selector: v=DKIM1; k=rsa; p=<public key>, or value null while the key is being generated.';

CREATE FUNCTION app_private.dns_check_delay(domain_status text, domain_attempts integer, error_attempts integer) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case
    -- Verified: re-check daily; after a temporary error, soon (5 min doubling, at most hourly).
    when domain_status = 'verified' and coalesce(error_attempts, 0) = 0 then interval '24 hours'
    when domain_status = 'verified' then least(interval '5 minutes' * power(2, least(error_attempts - 1, 10)), interval '1 hour')
    -- Not verified yet: 1 minute, doubling with each attempt, at most every 6 hours.
    else least(interval '1 minute' * power(2, least(greatest(domain_attempts, 1) - 1, 12)), interval '6 hours')
  end;
$$;

COMMENT ON FUNCTION app_private.dns_check_delay(domain_status text, domain_attempts integer, error_attempts integer) IS 'Backoff of DNS checks: 1, 2, 4 … minutes (at most 6 hours) while a domain is not verified; daily once verified; 5, 10 … minutes (at most hourly) after a temporary error on a verified domain.';

CREATE FUNCTION app_private.dns_records_fingerprint(doc jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select md5(coalesce(string_agg(concat_ws(' ', r ->> 'record_type', r ->> 'name', r ->> 'value', r ->> 'priority'), e'\n' order by i), ''))
  from jsonb_array_elements(doc -> 'records') with ordinality e(r, i);
$$;

COMMENT ON FUNCTION app_private.dns_records_fingerprint(doc jsonb) IS 'A hash of what a domain must publish (type, name, value, priority of each record): a check whose plan had another fingerprint is out of date.';

CREATE FUNCTION app_private.domain_check_plan(tenant_id uuid, domain_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  -- Read before the tenant query: on Citus that query runs on a shard, where
  -- a function reading another table (system_config) is refused.
  v_spf_include text := app_private.deliverability_setting('spf_include') #>> '{}';
  v_planned_at timestamptz := statement_timestamp();
begin
  return (
  select jsonb_build_object(
    'domain', lower(d.domain::text),
    'planned_at', v_planned_at,
    'records', d.dns_records -> 'records',
    'fingerprint', app_private.dns_records_fingerprint(d.dns_records),
    'spf_include', v_spf_include,
    'sending_ips', coalesce((
      select jsonb_agg(distinct host(ip.ip_address))
      from app_public.domain_ip_assignments a
      join app_public.smtp_ip_addresses ip on ip.id = a.smtp_ip_address_id
      where a.tenant_id = d.tenant_id and a.domain_id = d.id and a.status in ('active', 'warming')
    ), '[]'::jsonb)
  )
  from app_public.domains d
  where d.tenant_id = domain_check_plan.tenant_id and d.id = domain_check_plan.domain_id
  );
end;
$$;

COMMENT ON FUNCTION app_private.domain_check_plan(tenant_id uuid, domain_id uuid) IS 'What the verify_domain task checks: the domain, its records (and their fingerprint), when the check started (planned_at), the platform SPF include and the IPs sending for it (active or warming assignments). Null when the domain is gone.';

CREATE FUNCTION app_private.domain_check_sql(domain regtype, expression text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(string_agg(
    '(' || regexp_replace(regexp_replace(pg_get_constraintdef(c.oid), '^CHECK ', ''), '\mVALUE\M', expression, 'g') || ')',
    ' and '), 'true')
  from pg_constraint c
  where c.contypid = domain and c.contype = 'c';
$$;

COMMENT ON FUNCTION app_private.domain_check_sql(domain regtype, expression text) IS 'The CHECK constraints of a domain as one SQL predicate over an expression: lets set-based code test values against the domain''s own rules without casting row by row.';

CREATE FUNCTION app_private.domain_suffixes(domain text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select array(
    select array_to_string((string_to_array(lower(domain), '.'))[i:], '.')
    from generate_subscripts(string_to_array(domain, '.'), 1) i
  );
$$;

COMMENT ON FUNCTION app_private.domain_suffixes(domain text) IS 'A domain and each of its parents (a.b.example.com, b.example.com, example.com, com): a suppressed domain covers its subdomains.';

CREATE FUNCTION app_private.drain_job_outbox() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.drain_job_outbox() IS 'On the Citus coordinator: moves the jobs triggers queued on worker nodes into graphile-worker''s queue, oldest first; returns how many. Run by the worker process (src/worker/job-outbox.ts).';

CREATE FUNCTION app_private.drop_monthly_partition(partition regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    SET lock_timeout TO '5s'
    AS $$
declare
  v_parent regclass;
begin
  select i.inhparent::regclass into v_parent from pg_inherits i where i.inhrelid = partition;
  if v_parent is null or v_parent not in ('app_public.messages'::regclass, 'app_public.email_events'::regclass) then
    raise exception '% is not a monthly partition of messages or email_events.', partition using errcode = 'INVAL';
  end if;
  execute format('alter table %s detach partition %s', v_parent, partition);
  execute format('drop table %s', partition);
end;
$$;

COMMENT ON FUNCTION app_private.drop_monthly_partition(partition regclass) IS 'Detaches a monthly partition of messages or email_events and drops it (messages: after release_message_partition).';

CREATE FUNCTION app_private.effective_limit(tenant_id uuid, metric text) RETURNS TABLE(plan_name text, limit_value bigint)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_column text := app_private.limit_column(metric);
begin
  if v_column is null then
    raise exception 'Unknown usage metric "%".', metric using errcode = 'INVAL';
  end if;
  return query execute format($q$
    select p.name::text,
           case when p.%1$I is null then null
                else p.%1$I::bigint + coalesce((
                  select sum(a.quantity) from app_public.subscription_addons a
                  where a.tenant_id = $1 and a.subscription_id = s.id and a.is_active and a.addon_type = %2$L), 0)
           end
    from app_public.subscriptions s
    join app_public.plans p on p.id = s.plan_id
    where s.tenant_id = $1 and s.status <> 'canceled'
  $q$, v_column, v_column) using effective_limit.tenant_id;
end;
$_$;

COMMENT ON FUNCTION app_private.effective_limit(tenant_id uuid, metric text) IS 'The tenant''s current plan name and its limit for a metric, add-ons included (null limit: unlimited). No row when the tenant has no current subscription.';

CREATE FUNCTION app_private.email_account_on_own_domain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_domain text;
begin
  -- Security definer: the domain is read whatever the caller's policies show; the FK still decides whether it exists.
  select d.domain::text into v_domain from app_public.domains d where d.tenant_id = new.tenant_id and d.id = new.domain_id;
  if v_domain is null then
    return new; -- no such domain in this tenant: the foreign key reports it
  end if;
  if lower(substring(new.email::text from '@([^@]*)$')) is distinct from lower(v_domain) then
    raise exception 'The inbox address % is not on its domain %: use an address ending in @%.', new.email, v_domain, v_domain
      using errcode = 'INVAL', column = 'email';
  end if;
  return new;
end;
$_$;

COMMENT ON FUNCTION app_private.email_account_on_own_domain() IS 'Trigger: an inbox''s email must be exactly on its domain (the part after the @, case-insensitive), so a tenant cannot send as an address of a domain it has not added. Checked on insert and when email or domain_id change; rows written before this rule are not rechecked until then.';

CREATE FUNCTION app_private.email_step_action(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamp with time zone) RETURNS TABLE(action text, message_id uuid, run_at timestamp with time zone, detail text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_booking record;
begin
  v_booking := app_private.book_email_send(tenant_id, enrollment_id, step_id, now_at);
  if v_booking.message_id is null then
    if v_booking.retry_at is null then
      return query select 'idle'::text, null::uuid, null::timestamptz, v_booking.wait_reason;
      return;
    end if;
    perform app_private.schedule_enrollment(tenant_id, enrollment_id, v_booking.retry_at);
    return query select 'wait'::text, null::uuid, v_booking.retry_at, v_booking.wait_reason;
    return;
  end if;
  if v_booking.send_at > now_at then
    perform app_private.schedule_enrollment(tenant_id, enrollment_id, v_booking.send_at);
    return query select 'wait'::text, v_booking.message_id, v_booking.send_at, 'the message is booked for the inbox''s next free slot'::text;
    return;
  end if;
  return query select 'send'::text, v_booking.message_id, v_booking.send_at, null::text;
end;
$$;

COMMENT ON FUNCTION app_private.email_step_action(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamp with time zone) IS 'Books an email step and turns the booking into the job''s next action (send now, or wait and reschedule).';

CREATE FUNCTION app_private.emit_webhook_event(tenant_id uuid, event_type text, campaign_id uuid, data jsonb) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_event_id uuid;
  v_created timestamptz := clock_timestamp();
  v_subscription_id uuid;
begin
  foreach v_subscription_id in array app_private.webhook_subscribers(emit_webhook_event.tenant_id, emit_webhook_event.event_type,
                                                                     emit_webhook_event.campaign_id)
  loop
    if v_event_id is null then
      v_event_id := gen_random_uuid();
      insert into app_public.webhook_events (tenant_id, id, event_type, campaign_id, data, created)
        values (emit_webhook_event.tenant_id, v_event_id, emit_webhook_event.event_type, emit_webhook_event.campaign_id,
                emit_webhook_event.data, v_created);
    end if;
    insert into app_public.webhook_deliveries (tenant_id, webhook_subscription_id, event_id, event_created, next_attempt_at)
      values (emit_webhook_event.tenant_id, v_subscription_id, v_event_id, v_created, v_created);
    perform app_private.queue_webhook_delivery(emit_webhook_event.tenant_id, v_subscription_id);
  end loop;
  return v_event_id;
end;
$$;

COMMENT ON FUNCTION app_private.emit_webhook_event(tenant_id uuid, event_type text, campaign_id uuid, data jsonb) IS 'Records a webhook event for every enabled subscription of the tenant that wants it (one delivery each, its job queued), in the caller''s transaction; writes nothing and returns null when none does.';

CREATE FUNCTION app_private.end_subscription(tenant_id uuid, subscription_id uuid, at timestamp with time zone) RETURNS app_public.subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old app_public.subscriptions;
  v_new app_public.subscriptions;
  v_period app_public.usage_periods;
begin
  update app_public.subscriptions s set
      status = 'canceled',
      cancelled_at = at,
      cancel_at_period_end = false,
      pending_plan_id = null,
      past_due_since = null
    where s.tenant_id = end_subscription.tenant_id and s.id = end_subscription.subscription_id and s.status <> 'canceled'
    returning * into v_old;
  if v_old.id is null then
    raise exception 'Subscription % is not current; there is nothing to end.', subscription_id using errcode = 'STATE';
  end if;

  insert into app_public.subscriptions (tenant_id, plan_id, status, current_period_start, current_period_end, billing_contact_user_id)
    values (v_old.tenant_id, (app_private.fallback_plan()).id, 'active', at, app_private.add_billing_period(at), v_old.billing_contact_user_id)
    returning * into v_new;

  select up.* into v_period from app_public.usage_periods up
    where up.tenant_id = end_subscription.tenant_id and up.closed_at is null
    for update;
  if v_period.id is null then
    perform app_private.start_usage_period(v_new.tenant_id, v_new.id, at);
  elsif v_period.period_start < at then
    perform app_private.close_usage_period(v_period.tenant_id, v_period.id, at);
    perform app_private.start_usage_period(v_new.tenant_id, v_new.id, at);
  else
    -- The period has only just begun: it becomes the Free plan's.
    update app_public.usage_periods up set subscription_id = v_new.id, plan_id = v_new.plan_id, period_end = v_new.current_period_end
      where up.tenant_id = v_period.tenant_id and up.id = v_period.id;
  end if;
  return v_new;
end;
$$;

COMMENT ON FUNCTION app_private.end_subscription(tenant_id uuid, subscription_id uuid, at timestamp with time zone) IS 'Cancels a current subscription at the given instant and starts a Free one at the same instant (with a new usage period), so the tenant keeps its data and is never without a plan. Returns the Free subscription.';

CREATE FUNCTION app_private.engine_now() RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select now() + coalesce((select c.offset_by from app_private.engine_clock c where c.id = 1), interval '0');
$$;

COMMENT ON FUNCTION app_private.engine_now() IS 'The sending engine''s "now": real time plus the engine clock offset (zero in production).';

CREATE FUNCTION app_private.engine_run_at(at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select at - coalesce((select c.offset_by from app_private.engine_clock c where c.id = 1), interval '0');
$$;

COMMENT ON FUNCTION app_private.engine_run_at(at timestamp with time zone) IS 'The real time at which a job must run to happen at the given engine time.';

CREATE FUNCTION app_private.engine_task_identifiers() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select array['campaign_step', 'campaign_start', 'send_reply'];
$$;

COMMENT ON FUNCTION app_private.engine_task_identifiers() IS 'The worker tasks whose run_at is engine time (moved along with the engine clock).';

CREATE FUNCTION app_private.enroll_campaign_audience(tenant_id uuid, campaign_id uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_first_step integer;
  v_ids uuid[];
begin
  select min(s.step_order) into v_first_step from app_public.campaign_sequence_steps s
    where s.tenant_id = enroll_campaign_audience.tenant_id and s.campaign_id = enroll_campaign_audience.campaign_id and s.is_active;
  with enrolled as (
    insert into app_public.campaign_enrollments (tenant_id, campaign_id, lead_id, status, current_step_order, enrolled_at)
    select enroll_campaign_audience.tenant_id, enroll_campaign_audience.campaign_id, a.lead_id, 'active',
           coalesce(v_first_step, 1), app_private.engine_now()
    from app_private.campaign_audience(enroll_campaign_audience.tenant_id, enroll_campaign_audience.campaign_id) a
    where a.block_reason is null
    on conflict (tenant_id, campaign_id, lead_id) do nothing
    returning id
  )
  select coalesce(array_agg(id), '{}') into v_ids from enrolled;
  perform app_private.schedule_enrollments(tenant_id, v_ids);
  return cardinality(v_ids);
end;
$$;

COMMENT ON FUNCTION app_private.enroll_campaign_audience(tenant_id uuid, campaign_id uuid) IS 'Enrolls every eligible targeted lead not yet enrolled (a lead is enrolled once per campaign) and schedules its first step now. Returns how many were enrolled.';

CREATE FUNCTION app_private.enrollment_job_key(enrollment_id uuid) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select 'campaign_step:' || enrollment_id::text;
$$;

COMMENT ON FUNCTION app_private.enrollment_job_key(enrollment_id uuid) IS 'The job_key of an enrollment''s next action.';

CREATE FUNCTION app_private.ensure_monthly_partitions(parent regclass, from_month date, to_month date) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  m date := date_trunc('month', from_month)::date;
  created_count integer := 0;
  parent_name text;
  part_name text;
begin
  select c.relname into parent_name from pg_class c where c.oid = parent;
  while m <= to_month loop
    part_name := format('%s_y%sm%s', parent_name, to_char(m, 'YYYY'), to_char(m, 'MM'));
    if to_regclass(format('app_public.%I', part_name)) is null then
      execute format(
        'create table app_public.%I partition of %s for values from (%L) to (%L)',
        part_name, parent,
        app_private.uuid_v7_floor(m::timestamp at time zone 'UTC'),
        app_private.uuid_v7_floor((m + interval '1 month')::timestamp at time zone 'UTC')
      );
      created_count := created_count + 1;
    end if;
    m := (m + interval '1 month')::date;
  end loop;
  return created_count;
end;
$$;

COMMENT ON FUNCTION app_private.ensure_monthly_partitions(parent regclass, from_month date, to_month date) IS 'Creates the missing monthly partitions (UTC months, bounded by UUIDv7 ids) of a partitioned table; returns how many it created.';

CREATE FUNCTION app_private.erased_address(tenant_id uuid, email text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_salt bytea;
begin
  select s.salt into v_salt from app_private.privacy_salts s where s.tenant_id = erased_address.tenant_id;
  if v_salt is null then
    return null;  -- no address of this tenant was ever erased
  end if;
  return encode(sha256(v_salt || convert_to(lower(email), 'UTF8')), 'hex') || '@erased.invalid';
end;
$$;

COMMENT ON FUNCTION app_private.erased_address(tenant_id uuid, email text) IS 'What an erased address is suppressed by in this tenant: <hex sha256(tenant salt || lower(address))>@erased.invalid, kept in suppressions.email (so the unique index on it serves the lookup); null while the tenant has no salt (nothing erased yet). app_private.lead_block_reason computes the same.';

CREATE FUNCTION app_private.expected_dns_records(domain text, domain_id uuid, selector text, public_key text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  with s as (
    select (app_private.deliverability_setting('record_ttl') #>> '{}')::integer as ttl,
           app_private.deliverability_setting('spf_include') #>> '{}' as spf_include,
           app_private.deliverability_setting('mx_host') #>> '{}' as mx_host,
           (app_private.deliverability_setting('mx_priority') #>> '{}')::integer as mx_priority,
           app_private.deliverability_setting('dmarc_policy') #>> '{}' as dmarc_policy
  )
  select jsonb_build_object('records', jsonb_build_array(
    jsonb_build_object('record_type', 'SPF', 'name', '@', 'value', 'v=spf1 include:' || s.spf_include || ' -all',
      'ttl', s.ttl, 'verification_status', 'pending', 'last_verified_at', null, 'verification_attempts', 0,
      'verification_error', null, 'source', 'platform'),
    app_private.dkim_record(domain_id, selector, public_key),
    jsonb_build_object('record_type', 'DMARC', 'name', '_dmarc',
      'value', format('v=DMARC1; p=%s; rua=mailto:dmarc@%s', s.dmarc_policy, lower(domain)), 'policy', s.dmarc_policy,
      'ttl', s.ttl, 'verification_status', 'pending', 'last_verified_at', null, 'verification_attempts', 0,
      'verification_error', null, 'source', 'platform'),
    jsonb_build_object('record_type', 'MX', 'name', '@', 'value', rtrim(s.mx_host, '.') || '.', 'priority', s.mx_priority,
      'mx_hosts', '[]'::jsonb, 'ttl', s.ttl, 'verification_status', 'pending', 'last_verified_at', null,
      'verification_attempts', 0, 'verification_error', null, 'source', 'platform')
  ))
  from s;
$$;

COMMENT ON FUNCTION app_private.expected_dns_records(domain text, domain_id uuid, selector text, public_key text) IS 'The dns_records document a new domain must publish: SPF including the platform, DKIM with its public key, DMARC and MX, all pending verification.';

CREATE FUNCTION app_private.expired_partitions(at timestamp with time zone DEFAULT now()) RETURNS TABLE(partition regclass, parent regclass, month date, lower_id uuid, upper_id uuid)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_cutoff timestamptz := at - make_interval(days => app_private.retention_days('retention.messages_days', 400));
begin
  return query
  select c.oid::regclass, i.inhparent::regclass, m.month,
         app_private.uuid_v7_floor(m.month::timestamp at time zone 'UTC'),
         app_private.uuid_v7_floor((m.month + interval '1 month')::timestamp at time zone 'UTC')
  from pg_inherits i
  join pg_class c on c.oid = i.inhrelid
  cross join lateral (select to_date(substring(c.relname from '_y(\d{4}m\d{2})$'), 'YYYY"m"MM') as month) m
  where i.inhparent in ('app_public.messages'::regclass, 'app_public.email_events'::regclass)
    and c.relname ~ '_y\d{4}m\d{2}$'
    and ((m.month + interval '1 month')::timestamp at time zone 'UTC') <= v_cutoff
  -- Events before messages: nothing references an event, events reference messages.
  order by m.month, i.inhparent = 'app_public.messages'::regclass;
end;
$_$;

COMMENT ON FUNCTION app_private.expired_partitions(at timestamp with time zone) IS 'The monthly partitions of messages and email_events wholly older than retention.messages_days: oldest month first, its events partition before its messages partition.';

CREATE FUNCTION app_private.fail_lead_import(tenant_id uuid, import_id uuid, reason text) RETURNS app_public.lead_imports
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_row app_public.lead_imports;
begin
  update app_public.lead_imports i set status = 'failed', failure_reason = left(coalesce(nullif(reason, ''), 'The import failed.'), 2000),
      imported_rows = 0, updated_rows = 0, finished_at = now()
  where i.tenant_id = fail_lead_import.tenant_id and i.id = fail_lead_import.import_id
  returning * into v_row;
  return v_row;
end;
$$;

COMMENT ON FUNCTION app_private.fail_lead_import(tenant_id uuid, import_id uuid, reason text) IS 'Marks an import failed with the reason the user will see; its rows were rolled back.';

CREATE FUNCTION app_private.fallback_plan() RETURNS app_public.plans
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_plan app_public.plans;
begin
  select p.* into v_plan from app_public.plans p where p.slug = 'free';
  if v_plan.id is null then
    raise exception 'The Free plan (slug "free"), which ended subscriptions fall back to, does not exist.' using errcode = 'STATE';
  end if;
  return v_plan;
end;
$$;

COMMENT ON FUNCTION app_private.fallback_plan() IS 'The plan a tenant falls back to when its subscription ends: the Free plan (slug free).';

CREATE FUNCTION app_private.find_thread_parent(tenant_id uuid, email_account_id uuid, message_type text, in_reply_to text, reference_ids text[], dsn jsonb) RETURNS TABLE(parent_id uuid, matched_by text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_candidates text[] := '{}';
  v_sources text[] := '{}';
  v_id text;
  v_tracked_id uuid;
begin
  if message_type in ('bounce', 'complaint') and app_private.normalize_message_id(dsn ->> 'original_message_id') is not null then
    v_candidates := v_candidates || app_private.normalize_message_id(dsn ->> 'original_message_id');
    v_sources := v_sources || 'original_message_id'::text;
  end if;
  if app_private.normalize_message_id(in_reply_to) is not null then
    v_candidates := v_candidates || app_private.normalize_message_id(in_reply_to);
    v_sources := v_sources || 'in_reply_to'::text;
  end if;
  -- References lists the thread oldest first; the nearest ancestor is last.
  for v_id in select app_private.normalize_message_id(r) from unnest(reference_ids) with ordinality as x (r, n) order by n desc loop
    if v_id is not null then
      v_candidates := v_candidates || v_id;
      v_sources := v_sources || 'references'::text;
    end if;
  end loop;

  return query
    select m.id, v_sources[c.n]
    from unnest(v_candidates) with ordinality as c (rfc_id, n)
    join app_public.messages m on m.rfc_message_id = c.rfc_id
    where m.tenant_id = find_thread_parent.tenant_id and m.direction = 'outbound'
    order by c.n
    limit 1;
  if found then
    return;
  end if;

  -- A feedback report whose original kept one of our signed tracking links
  -- (List-Unsubscribe, pixel, click) when its Message-ID did not match: the
  -- poller verified the token and that it names this tenant.
  if message_type = 'complaint' and dsn ->> 'tracked_message_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    v_tracked_id := (dsn ->> 'tracked_message_id')::uuid;
    return query
      select m.id, 'tracking_token'::text
      from app_public.messages m
      where m.tenant_id = find_thread_parent.tenant_id and m.id = v_tracked_id and m.direction = 'outbound';
    if found then
      return;
    end if;
  end if;

  -- A DSN that quotes no usable header: the recipient that failed, and the
  -- latest message this inbox sent to it in the last 30 days.
  if message_type = 'bounce' and nullif(dsn ->> 'final_recipient', '') is not null then
    return query
      select m.id, 'final_recipient'::text
      from app_public.messages m
      where m.tenant_id = find_thread_parent.tenant_id and m.email_account_id = find_thread_parent.email_account_id
        and m.direction = 'outbound' and m.created > now() - interval '30 days'
        and m.to_email = (dsn ->> 'final_recipient')::citext
        and m.status not in ('queued', 'sending', 'cancelled')
      order by m.created desc
      limit 1;
  end if;
end;
$_$;

COMMENT ON FUNCTION app_private.find_thread_parent(tenant_id uuid, email_account_id uuid, message_type text, in_reply_to text, reference_ids text[], dsn jsonb) IS 'The outbound message of the tenant that an inbound message answers, and which header matched: a DSN''s or feedback report''s original Message-ID, In-Reply-To, References (nearest first), for a feedback report the message its verified tracking token names (dsn.tracked_message_id), or for a DSN the failed recipient''s latest message from this inbox.';

CREATE FUNCTION app_private.gauge_change(tenant_id uuid, resource text, delta bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_used bigint;
  v_plan text;
  v_limit bigint;
  v_lock bigint;
  v_budget_key text;
  v_exact boolean;
  v_shard integer;
begin
  if delta = 0 then
    return;
  end if;
  if resource <> 'contacts' then
    -- One row per tenant, locked until commit: writers of one tenant queue here.
    if delta < 0 then
      update app_private.resource_counts rc set value = rc.value + delta
        where rc.tenant_id = gauge_change.tenant_id and rc.resource = gauge_change.resource and rc.shard = 0;
      return;
    end if;
    insert into app_private.resource_counts as rc (tenant_id, resource, value)
      values (gauge_change.tenant_id, gauge_change.resource, delta)
    on conflict on constraint resource_counts_pkey do update set value = rc.value + excluded.value
    returning rc.value into v_used;
    select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(gauge_change.tenant_id, gauge_change.resource) l;
    if v_limit is not null and v_used > v_limit then
      perform app_private.raise_limit_exceeded(v_plan, resource, v_limit, v_used - delta, delta);
    end if;
    return;
  end if;

  -- Contacts: sharded, exact the way consume_usage is (functions/060-usage-limits.sql).
  if delta > 0 then
    select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(gauge_change.tenant_id, 'contacts') l;
  end if;
  if v_limit is not null then
    v_lock := hashtextextended('gauge:' || tenant_id::text || ':contacts', 0);
    v_budget_key := 'gauge:' || tenant_id::text || ':contacts';
    v_used := app_private.gauge_value(tenant_id, 'contacts');
    v_exact := true;
    if app_private.lockless_budget_left(v_budget_key, delta) and v_limit - v_used > app_private.usage_lockless_margin() then
      perform pg_advisory_xact_lock_shared(v_lock);
      v_used := app_private.gauge_value(tenant_id, 'contacts');
      v_exact := v_limit - v_used <= app_private.usage_lockless_margin();
    end if;
    if not v_exact then
      perform app_private.spend_lockless_budget(v_budget_key, delta);
    else
      -- Near the limit (or past this transaction's budget): wait for every writer in flight, then count exactly.
      perform pg_advisory_xact_lock(v_lock);
      v_used := app_private.gauge_value(tenant_id, 'contacts');
      if v_used + delta > v_limit then
        perform app_private.raise_limit_exceeded(v_plan, 'contacts', v_limit, v_used, delta);
      end if;
    end if;
  end if;
  if delta < 0 then
    -- Into a shard that exists (this backend's if it has one): an insert here
    -- would fail while the tenant itself is being deleted. Chosen first, then
    -- updated by its key: on Citus (where this runs in a trigger on a shard)
    -- an UPDATE filtered by a subquery is refused.
    select x.shard into v_shard from app_private.resource_counts x
      where x.tenant_id = gauge_change.tenant_id and x.resource = 'contacts'
      order by x.shard = pg_backend_pid() % 16 desc, x.shard
      limit 1;
    update app_private.resource_counts rc set value = rc.value + delta
      where rc.tenant_id = gauge_change.tenant_id and rc.resource = 'contacts' and rc.shard = v_shard;
    return;
  end if;
  insert into app_private.resource_counts as rc (tenant_id, resource, shard, value)
    values (gauge_change.tenant_id, 'contacts', pg_backend_pid() % 16, delta)
  on conflict on constraint resource_counts_pkey do update set value = rc.value + excluded.value;
end;
$$;

COMMENT ON FUNCTION app_private.gauge_change(tenant_id uuid, resource text, delta bigint) IS 'Adds delta to a tenant''s gauge and, when it would grow past the plan limit, raises PLAN_LIMIT_REACHED so the statement that grew it is undone. Domains, inboxes and members: one row locked until commit. Contacts: the backend''s shard, exact under concurrency like consume_usage.';

CREATE FUNCTION app_private.gauge_value(tenant_id uuid, resource text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select coalesce((select sum(rc.value) from app_private.resource_counts rc
                   where rc.tenant_id = gauge_value.tenant_id and rc.resource = gauge_value.resource), 0)::bigint
  );
end;
$$;

COMMENT ON FUNCTION app_private.gauge_value(tenant_id uuid, resource text) IS 'How many of a resource (contacts, domains, email_accounts, users) the tenant has now (the sum over its shards).';

CREATE FUNCTION app_private.hash_password(password text) RETURNS text
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- bcrypt; the cost can be lowered per database for tests (app.password_hash_cost).
  select public.crypt(password, public.gen_salt('bf', coalesce(nullif(current_setting('app.password_hash_cost', true), '')::int, 10)));
$$;

COMMENT ON FUNCTION app_private.hash_password(password text) IS 'bcrypt hash of a password (pgcrypto).';

CREATE FUNCTION app_private.hash_recovery_code(code text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- Case, spaces and dashes do not matter when a code is typed.
  select public.digest(lower(regexp_replace(code, '[^A-Za-z0-9]', '', 'g')), 'sha256');
$$;

COMMENT ON FUNCTION app_private.hash_recovery_code(code text) IS 'How recovery codes are stored: SHA-256 of the code, lower case, without spaces or dashes.';

CREATE FUNCTION app_private.hash_token(token text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select public.digest(token, 'sha256');
$$;

COMMENT ON FUNCTION app_private.hash_token(token text) IS 'How single-use tokens are stored: SHA-256 of the token.';

CREATE FUNCTION app_private.imap_poll_target(tenant_id uuid, email_account_id uuid) RETURNS TABLE(email text, status text, imap_settings jsonb, imap_password_encrypted bytea, imap_uid_validity bigint, imap_last_uid bigint, scan_since timestamp with time zone)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  select ea.email::text, ea.status, ea.imap_settings, cr.imap_password_encrypted, ea.imap_uid_validity, ea.imap_last_uid,
         -- Nothing in the inbox older than our first message from it can answer it. Never
         -- later than now: the message dates come from the engine's clock, which tests move ahead.
         (select case when count(*) > 0 then least(min(m.created), now()) - interval '1 day' end from app_public.messages m
          where m.tenant_id = ea.tenant_id and m.email_account_id = ea.id and m.direction = 'outbound')
  from app_public.email_accounts ea
  left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
  where ea.tenant_id = imap_poll_target.tenant_id and ea.id = imap_poll_target.email_account_id;
end;
$$;

COMMENT ON FUNCTION app_private.imap_poll_target(tenant_id uuid, email_account_id uuid) IS 'What the poller needs for one inbox: IMAP settings, the sealed password (decrypted only in the worker), the stored UIDVALIDITY and last UID, and since when a first or full scan must look (a day before the first message this inbox sent; null when it sent none).';

CREATE FUNCTION app_private.inbox_allowance(warmup_enabled boolean, warmup_started_at timestamp with time zone, daily_limit integer, timezone text, at timestamp with time zone) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case
    when not warmup_enabled or warmup_started_at is null then daily_limit
    else least(daily_limit, app_private.warmup_ramp(app_private.local_day(at, timezone) - app_private.local_day(warmup_started_at, timezone)))
  end;
$$;

COMMENT ON FUNCTION app_private.inbox_allowance(warmup_enabled boolean, warmup_started_at timestamp with time zone, daily_limit integer, timezone text, at timestamp with time zone) IS 'The warm-up formula: an inbox''s daily_limit, capped by the ramp of its warm-up day (counted in its time zone) while warming up.';

CREATE FUNCTION app_private.inbox_daily_allowance(tenant_id uuid, email_account_id uuid, at timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select app_private.inbox_allowance(ea.warmup_enabled, ea.warmup_started_at, ea.daily_limit, ea.timezone, inbox_daily_allowance.at)
  from app_public.email_accounts ea
  where ea.tenant_id = inbox_daily_allowance.tenant_id and ea.id = inbox_daily_allowance.email_account_id
  );
end;
$$;

COMMENT ON FUNCTION app_private.inbox_daily_allowance(tenant_id uuid, email_account_id uuid, at timestamp with time zone) IS 'How many messages the inbox may send on the local day of `at`: its daily_limit, or less while warming up.';

CREATE FUNCTION app_private.inbox_remaining(tenant_id uuid, email_account_id uuid, at timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- plpgsql: inbox_daily_allowance is defined by a later file (200-warmup.sql).
  return (
    select greatest(
      coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, inbox_remaining.at), 0)
        - case when ea.daily_count_date = app_private.local_day(inbox_remaining.at, ea.timezone) then ea.daily_count else 0 end,
      0)
    from app_public.email_accounts ea
    where ea.tenant_id = inbox_remaining.tenant_id and ea.id = inbox_remaining.email_account_id
  );
end;
$$;

COMMENT ON FUNCTION app_private.inbox_remaining(tenant_id uuid, email_account_id uuid, at timestamp with time zone) IS 'How many more messages the inbox may send on its local day of `at` (its allowance minus daily_count; a count from an earlier day is stale and counts as zero).';

CREATE FUNCTION app_private.inbox_unusable_reason(tenant_id uuid, email_account_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_reason text;
begin
  -- Every table, subqueries included, is named with the tenant argument: on
  -- Citus that makes this one shard's query (a correlated d.tenant_id would not).
  select case
    when ea.status <> 'active' then format('inbox %s is %s', ea.email, ea.status) || coalesce(' (' || ea.pause_reason || ')', '')
    when d.verification_status <> 'verified' then format('the domain %s of inbox %s is not verified (%s)', d.domain, ea.email, d.verification_status)
    when not exists (select 1 from app_private.domain_dkim_keys k
                     where k.tenant_id = inbox_unusable_reason.tenant_id and k.domain_id = d.id and k.selector = d.dkim_selector)
      then format('the domain %s has no DKIM key for selector "%s"', d.domain, d.dkim_selector)
    when coalesce(ea.smtp_settings ->> 'host', '') = '' then format('inbox %s has no SMTP host in its settings', ea.email)
    when coalesce(ea.smtp_settings ->> 'username', '') <> ''
         and not exists (select 1 from app_private.email_account_credentials cr
                         where cr.tenant_id = inbox_unusable_reason.tenant_id and cr.email_account_id = ea.id
                           and cr.smtp_password_encrypted is not null)
      then format('inbox %s has an SMTP username but no password (set it with setEmailAccountCredentials)', ea.email)
  end
  into v_reason
  from app_public.email_accounts ea
  left join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
  where ea.tenant_id = inbox_unusable_reason.tenant_id and ea.id = inbox_unusable_reason.email_account_id;
  if not found then
    return 'the inbox does not exist';
  end if;
  return v_reason;
end;
$$;

COMMENT ON FUNCTION app_private.inbox_unusable_reason(tenant_id uuid, email_account_id uuid) IS 'Why an inbox cannot send campaign mail (not active, domain not verified, no DKIM key, no SMTP host, missing password); null when it can.';

CREATE FUNCTION app_private.install_dkim_key(tenant_id uuid, domain_id uuid, selector text, public_key text, private_key_encrypted bytea, key_bits integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform 1 from app_public.domains d
    where d.tenant_id = install_dkim_key.tenant_id and d.id = install_dkim_key.domain_id
      and exists (
        select 1 from jsonb_array_elements(d.dns_records -> 'records') r
        where r ->> 'record_type' = 'DKIM' and r ->> 'selector' = install_dkim_key.selector and r -> 'public_key' = 'null'::jsonb)
    for update;
  if not found then
    -- The domain is gone, or its record already has a key (a retried job).
    return false;
  end if;
  -- The trigger on domain_dkim_keys completes the DNS record.
  insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key, key_bits)
    values (install_dkim_key.tenant_id, install_dkim_key.domain_id, install_dkim_key.selector,
            install_dkim_key.private_key_encrypted, install_dkim_key.public_key, install_dkim_key.key_bits)
    on conflict on constraint domain_dkim_keys_pkey do nothing;
  return found;
end;
$$;

COMMENT ON FUNCTION app_private.install_dkim_key(tenant_id uuid, domain_id uuid, selector text, public_key text, private_key_encrypted bytea, key_bits integer) IS 'Called by the worker with a key generated for a domain whose DKIM record is waiting: stores the sealed private key (which completes the record and queues verification). Idempotent: false when the record already has a key.';

CREATE FUNCTION app_private.ip_allowance(status text, daily_limit integer, warmup_started_at timestamp with time zone, at timestamp with time zone) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case
    when status in ('available', 'quarantined', 'burned') then 0
    when status = 'degraded' then least(coalesce(daily_limit, app_private.ip_warmup_target()), app_private.ip_warmup_ramp(0))
    when status = 'warming' then least(coalesce(daily_limit, app_private.ip_warmup_target()), app_private.ip_warmup_ramp(
      coalesce(app_private.local_day(at, 'UTC') - app_private.local_day(warmup_started_at, 'UTC'), 0)))
    else daily_limit
  end;
$$;

COMMENT ON FUNCTION app_private.ip_allowance(status text, daily_limit integer, warmup_started_at timestamp with time zone, at timestamp with time zone) IS 'The IP warm-up formula for the UTC day of `at`: nothing while available, quarantined or burned; the ramp while warming; the day-0 volume while degraded; daily_limit (null: no cap) when assigned or warmed.';

CREATE FUNCTION app_private.ip_daily_allowance(smtp_ip_address_id uuid, at timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.ip_allowance(ip.status, ip.daily_limit, ip.warmup_started_at, ip_daily_allowance.at)
  from app_public.smtp_ip_addresses ip
  where ip.id = ip_daily_allowance.smtp_ip_address_id;
$$;

COMMENT ON FUNCTION app_private.ip_daily_allowance(smtp_ip_address_id uuid, at timestamp with time zone) IS 'How many messages the IP may send on the UTC day of `at` (see ip_allowance); null means no cap.';

CREATE FUNCTION app_private.ip_warmup_ramp(day_number integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select (50 * power(2::numeric, least(greatest(day_number, 0), 30)))::bigint;
$$;

COMMENT ON FUNCTION app_private.ip_warmup_ramp(day_number integer) IS 'Messages a warming IP may send on the n-th day of its warm-up (day 0 is the first day): 50, doubling each day.';

CREATE FUNCTION app_private.ip_warmup_target() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select 50000::bigint;
$$;

COMMENT ON FUNCTION app_private.ip_warmup_target() IS 'Daily volume at which an IP without a daily_limit counts as warmed.';

CREATE FUNCTION app_private.is_metered(metric text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select metric in ('emails_sent', 'campaigns_started', 'warmups');
$$;

COMMENT ON FUNCTION app_private.is_metered(metric text) IS 'True for metrics counted per billing period (events), false for gauges (what exists now).';

CREATE FUNCTION app_private.is_time_zone(name text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if name is null or name = '' or length(name) > 64 then
    return false;
  end if;
  perform now() at time zone name;
  return true;
exception when invalid_parameter_value then
  return false;
end;
$$;

COMMENT ON FUNCTION app_private.is_time_zone(name text) IS 'True when PostgreSQL knows the time zone name (e.g. Europe/Paris).';

CREATE FUNCTION app_private.lead_block_reason(tenant_id uuid, email text, status text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select case
    when lead_block_reason.status in ('unsubscribed', 'bounced', 'complained', 'do_not_contact')
      then format('the lead is %s', replace(lead_block_reason.status, '_', '-'))
    when exists (select 1 from app_public.suppressions s
                 where s.tenant_id = lead_block_reason.tenant_id and s.email = lead_block_reason.email::citext)
      then format('%s is on the suppression list', lead_block_reason.email)
    -- An address erased by a privacy request is suppressed by its salted hash (functions/280-privacy.sql).
    when exists (select 1 from app_public.suppressions s
                 join app_private.privacy_salts ps on ps.tenant_id = lead_block_reason.tenant_id
                 where s.tenant_id = lead_block_reason.tenant_id
                   and s.email = (encode(sha256(ps.salt || convert_to(lower(lead_block_reason.email), 'UTF8')), 'hex') || '@erased.invalid')::citext)
      then format('%s is on the suppression list', lead_block_reason.email)
    when exists (select 1 from app_public.suppressions s
                 where s.tenant_id = lead_block_reason.tenant_id
                   and s.domain = any (app_private.domain_suffixes(split_part(lead_block_reason.email, '@', 2))::citext[]))
      then format('the domain of %s is on the suppression list', lead_block_reason.email)
  end
  );
end;
$$;

COMMENT ON FUNCTION app_private.lead_block_reason(tenant_id uuid, email text, status text) IS 'Why a lead must not be emailed (its status, or its address, the salted hash of an erased address, or its domain is suppressed); null when it may be.';

CREATE FUNCTION app_private.lifecycle_next(entity text, from_status text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(array_agg(t.to_status order by t.ord), '{}')
  from (values
    ('vps_instance', 'provisioning', 'active', 1),
    ('vps_instance', 'provisioning', 'decommissioned', 2),
    ('vps_instance', 'active', 'scheduled_decommission', 1),
    ('vps_instance', 'scheduled_decommission', 'active', 1),
    ('vps_instance', 'scheduled_decommission', 'decommissioned', 2),

    ('smtp_ip', 'available', 'assigned', 1),
    ('smtp_ip', 'available', 'warming', 2),
    ('smtp_ip', 'available', 'quarantined', 3),
    ('smtp_ip', 'available', 'burned', 4),
    ('smtp_ip', 'assigned', 'warming', 1),
    ('smtp_ip', 'assigned', 'warmed', 2),
    ('smtp_ip', 'assigned', 'available', 3),
    ('smtp_ip', 'assigned', 'degraded', 4),
    ('smtp_ip', 'assigned', 'quarantined', 5),
    ('smtp_ip', 'assigned', 'burned', 6),
    ('smtp_ip', 'warming', 'warmed', 1),
    ('smtp_ip', 'warming', 'degraded', 2),
    ('smtp_ip', 'warming', 'available', 3),
    ('smtp_ip', 'warming', 'quarantined', 4),
    ('smtp_ip', 'warming', 'burned', 5),
    ('smtp_ip', 'warmed', 'degraded', 1),
    ('smtp_ip', 'warmed', 'quarantined', 2),
    ('smtp_ip', 'warmed', 'burned', 3),
    ('smtp_ip', 'degraded', 'warming', 1),
    ('smtp_ip', 'degraded', 'warmed', 2),
    ('smtp_ip', 'degraded', 'quarantined', 3),
    ('smtp_ip', 'degraded', 'burned', 4),
    ('smtp_ip', 'quarantined', 'available', 1),
    ('smtp_ip', 'quarantined', 'assigned', 2),
    ('smtp_ip', 'quarantined', 'burned', 3),

    ('domain_ip_assignment', 'scheduled', 'warming', 1),
    ('domain_ip_assignment', 'scheduled', 'active', 2),
    ('domain_ip_assignment', 'scheduled', 'expired', 3),
    ('domain_ip_assignment', 'warming', 'active', 1),
    ('domain_ip_assignment', 'warming', 'expired', 2),
    ('domain_ip_assignment', 'active', 'expired', 1)
  ) as t (entity, from_status, to_status, ord)
  where t.entity = lifecycle_next.entity and t.from_status = lifecycle_next.from_status;
$$;

COMMENT ON FUNCTION app_private.lifecycle_next(entity text, from_status text) IS 'The lifecycle of servers, sending IPs and domain IP assignments: the statuses each status may move to (empty for a final status).';

CREATE FUNCTION app_private.limit_column(metric text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case metric
    when 'emails_sent' then 'max_emails_per_month'
    when 'campaigns_started' then 'max_campaigns_per_month'
    when 'warmups' then 'max_warmups'
    when 'contacts' then 'max_contacts'
    when 'domains' then 'max_domains'
    when 'email_accounts' then 'max_email_accounts'
    when 'users' then 'max_users'
  end;
$$;

COMMENT ON FUNCTION app_private.limit_column(metric text) IS 'The plan column (and add-on type) that limits a usage metric.';

CREATE FUNCTION app_private.limit_exceeded_message(plan_name text, metric text, limit_value bigint, used bigint, requested bigint DEFAULT 1) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select format('Your %s plan allows %s %s; %s already used%s. Upgrade the plan or buy an add-on to go further.',
    plan_name, to_char(limit_value, 'FM999,999,999,990'), app_private.usage_noun(metric, limit_value),
    to_char(used, 'FM999,999,999,990'),
    case when requested > 1 then format(', so %s more do not fit', to_char(requested, 'FM999,999,999,990')) else '' end);
$$;

COMMENT ON FUNCTION app_private.limit_exceeded_message(plan_name text, metric text, limit_value bigint, used bigint, requested bigint) IS 'The PLAN_LIMIT_REACHED message: names the plan, the limit and the current usage (and how many were asked for, when more than one).';

CREATE FUNCTION app_private.link_conversation_message(tenant_id uuid, conversation_id uuid, message_id uuid, direction text, message_created timestamp with time zone, reply_html text DEFAULT NULL::text, sent_by uuid DEFAULT NULL::uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  insert into app_public.conversation_messages (tenant_id, conversation_id, message_id, direction, message_created, reply_html, sent_by)
    values (link_conversation_message.tenant_id, link_conversation_message.conversation_id, link_conversation_message.message_id,
            link_conversation_message.direction, link_conversation_message.message_created,
            link_conversation_message.reply_html, link_conversation_message.sent_by)
    on conflict do nothing;
  perform app_private.refresh_conversation(link_conversation_message.tenant_id, link_conversation_message.conversation_id);
end;
$$;

COMMENT ON FUNCTION app_private.link_conversation_message(tenant_id uuid, conversation_id uuid, message_id uuid, direction text, message_created timestamp with time zone, reply_html text, sent_by uuid) IS 'Puts a message into a conversation (once) and refreshes the conversation''s summary.';

CREATE FUNCTION app_private.live_assignment_count(smtp_ip_address_id uuid) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select count(*)::integer from app_public.domain_ip_assignments a
  where a.smtp_ip_address_id = live_assignment_count.smtp_ip_address_id and a.status <> 'expired'
  );
end;
$$;

COMMENT ON FUNCTION app_private.live_assignment_count(smtp_ip_address_id uuid) IS 'How many domain assignments on an IP are not expired.';

CREATE TABLE app_private.staff_access_sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    staff_user_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    access_mode text NOT NULL,
    reason text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT staff_access_sessions_access_mode_check CHECK ((access_mode = ANY (ARRAY['read'::text, 'write'::text]))),
    CONSTRAINT staff_access_sessions_check CHECK ((expires_at > created)),
    CONSTRAINT staff_access_sessions_reason_check CHECK (((length(reason) >= 5) AND (length(reason) <= 500)))
);

ALTER TABLE ONLY app_private.staff_access_sessions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.staff_access_sessions IS 'A staff member''s explicit, time-boxed and audited access to one tenant.';

CREATE FUNCTION app_private.live_staff_access_session(user_id uuid, tenant_id uuid, staff_permissions text[]) RETURNS app_private.staff_access_sessions
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.live_staff_access_session(user_id uuid, tenant_id uuid, staff_permissions text[]) IS 'The staff user''s live access session into the tenant that their permissions still allow (write before read); null when there is none.';

CREATE TABLE app_private.two_factor_challenges (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    tenant_id uuid,
    token_hash bytea NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.two_factor_challenges FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.two_factor_challenges IS 'A sign-in whose password was right, waiting for the second factor: single use, five minutes. tenant_id is the organisation the session will be in (no foreign key: this table is global, tenants are distributed on Citus).';

CREATE FUNCTION app_private.live_two_factor_challenge(token text) RETURNS app_private.two_factor_challenges
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_challenge app_private.two_factor_challenges;
begin
  select c.* into v_challenge from app_private.two_factor_challenges c where c.token_hash = app_private.hash_token(token);
  if v_challenge.id is null then
    raise exception 'This sign-in challenge is not valid: sign in again.' using errcode = 'NTFND';
  elsif v_challenge.used_at is not null or v_challenge.expires_at <= now() then
    raise exception 'This sign-in challenge has expired or was already used: sign in again.' using errcode = 'EXPRD';
  end if;
  return v_challenge;
end;
$$;

COMMENT ON FUNCTION app_private.live_two_factor_challenge(token text) IS 'The unused, unexpired challenge with this token; raises NTFND or EXPRD otherwise.';

CREATE FUNCTION app_private.local_day(at timestamp with time zone, timezone text) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select (at at time zone coalesce(nullif(timezone, ''), 'UTC'))::date;
$$;

COMMENT ON FUNCTION app_private.local_day(at timestamp with time zone, timezone text) IS 'The calendar day of an instant in a time zone.';

CREATE TABLE app_public.campaigns (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    company_id uuid,
    name text NOT NULL,
    description text,
    status text DEFAULT 'draft'::text NOT NULL,
    scheduled_for timestamp with time zone,
    started_at timestamp with time zone,
    paused_at timestamp with time zone,
    completed_at timestamp with time zone,
    cancelled_at timestamp with time zone,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    use_lead_timezone boolean DEFAULT true NOT NULL,
    send_days smallint[] DEFAULT '{1,2,3,4,5}'::smallint[] NOT NULL,
    send_window_start time without time zone DEFAULT '09:00:00'::time without time zone NOT NULL,
    send_window_end time without time zone DEFAULT '17:00:00'::time without time zone NOT NULL,
    min_gap_seconds integer DEFAULT 60 NOT NULL,
    max_gap_seconds integer DEFAULT 300 NOT NULL,
    daily_limit integer,
    stop_on_reply boolean DEFAULT true NOT NULL,
    track_opens boolean DEFAULT true NOT NULL,
    track_clicks boolean DEFAULT true NOT NULL,
    include_unsubscribe_link boolean DEFAULT true NOT NULL,
    from_name text,
    reply_to app_public.email_address,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid DEFAULT app_public.current_user_id(),
    updated_by uuid,
    paused_by text,
    pause_reason text,
    safety_pause text,
    safety_baseline jsonb,
    CONSTRAINT campaigns_daily_limit_check CHECK ((daily_limit > 0)),
    CONSTRAINT campaigns_from_name_check CHECK ((length(from_name) <= 100)),
    CONSTRAINT campaigns_gap_check CHECK ((max_gap_seconds >= min_gap_seconds)),
    CONSTRAINT campaigns_min_gap_seconds_check CHECK ((min_gap_seconds >= 0)),
    CONSTRAINT campaigns_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT campaigns_pause_reason_length CHECK ((length(pause_reason) <= 1000)),
    CONSTRAINT campaigns_paused_by_check CHECK ((paused_by = ANY (ARRAY['user'::text, 'system'::text]))),
    CONSTRAINT campaigns_safety_baseline_check CHECK ((jsonb_typeof(safety_baseline) = 'object'::text)),
    CONSTRAINT campaigns_safety_pause_check CHECK ((safety_pause = ANY (ARRAY['bounce_rate'::text, 'complaint_rate'::text]))),
    CONSTRAINT campaigns_send_days_check CHECK ((((cardinality(send_days) >= 1) AND (cardinality(send_days) <= 7)) AND (send_days <@ ARRAY[(1)::smallint, (2)::smallint, (3)::smallint, (4)::smallint, (5)::smallint, (6)::smallint, (7)::smallint]))),
    CONSTRAINT campaigns_send_window_check CHECK ((send_window_end > send_window_start)),
    CONSTRAINT campaigns_status_check CHECK ((status = ANY (ARRAY['draft'::text, 'scheduled'::text, 'sending'::text, 'paused'::text, 'completed'::text, 'cancelled'::text]))),
    CONSTRAINT campaigns_timezone_check CHECK ((length(timezone) <= 64))
);

ALTER TABLE ONLY app_public.campaigns FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaigns IS 'An outreach campaign: a sequence of steps sent to its targets within sending windows. Lifecycle: draft → scheduled/sending ⇄ paused → completed, or cancelled.';

COMMENT ON COLUMN app_public.campaigns.use_lead_timezone IS 'Apply the sending window in each lead''s time zone when known, else in the campaign''s.';

COMMENT ON COLUMN app_public.campaigns.send_days IS 'ISO days of the week on which mail may go out (1 = Monday … 7 = Sunday).';

COMMENT ON COLUMN app_public.campaigns.min_gap_seconds IS 'Smallest random gap between two sends from one inbox.';

COMMENT ON COLUMN app_public.campaigns.paused_by IS 'Who paused the campaign: user (pauseCampaign) or system (plan limit, billing, no inbox able to send); null when not paused.';

COMMENT ON COLUMN app_public.campaigns.pause_reason IS 'Why the system paused the campaign, in words a user can act on.';

COMMENT ON COLUMN app_public.campaigns.safety_pause IS 'Which rate paused the campaign automatically (bounce_rate, complaint_rate); null otherwise. Billing never resumes such a campaign; only resumeCampaign does.';

COMMENT ON COLUMN app_public.campaigns.safety_baseline IS 'The campaign''s totals (sent, bounced, complained) and UTC day when it was last resumed after a safety pause: the rates then count only messages since that resume.';

CREATE FUNCTION app_private.lock_campaign_for_change(campaign_id uuid) RETURNS app_public.campaigns
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_campaign app_public.campaigns;
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('campaigns');
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can start, pause, resume or cancel campaigns.' using errcode = 'DNIED';
  end if;
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = v_tenant_id and c.id = lock_campaign_for_change.campaign_id
    for no key update;
  if v_campaign.id is null then
    raise exception 'There is no campaign % in this organisation.', campaign_id using errcode = 'NTFND';
  end if;
  return v_campaign;
end;
$$;

COMMENT ON FUNCTION app_private.lock_campaign_for_change(campaign_id uuid) IS 'Checks that the caller may change campaigns (member and above) and locks the campaign of the current tenant; NTFND when there is none.';

CREATE TABLE app_public.webhook_subscriptions (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    url text NOT NULL,
    description text,
    event_types text[] DEFAULT '{}'::text[] NOT NULL,
    campaign_id uuid,
    enabled boolean DEFAULT true NOT NULL,
    disabled_at timestamp with time zone,
    disabled_reason text,
    consecutive_failures integer DEFAULT 0 NOT NULL,
    secret_rotated_at timestamp with time zone,
    previous_secret_expires_at timestamp with time zone,
    created_by uuid DEFAULT app_public.current_user_id(),
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_subscriptions_consecutive_failures_check CHECK ((consecutive_failures >= 0)),
    CONSTRAINT webhook_subscriptions_description_check CHECK ((length(description) <= 500)),
    CONSTRAINT webhook_subscriptions_disabled_check CHECK ((enabled OR (disabled_at IS NOT NULL))),
    CONSTRAINT webhook_subscriptions_disabled_reason_check CHECK ((length(disabled_reason) <= 1000)),
    CONSTRAINT webhook_subscriptions_event_types_check CHECK ((event_types <@ ARRAY['email.sent'::text, 'email.opened'::text, 'email.clicked'::text, 'email.replied'::text, 'email.bounced'::text, 'email.unsubscribed'::text, 'email.complained'::text, 'lead.status_changed'::text, 'campaign.started'::text, 'campaign.paused'::text, 'campaign.resumed'::text, 'campaign.completed'::text, 'campaign.cancelled'::text, 'domain.verified'::text, 'domain.failed'::text, 'inbox.error'::text, 'import.completed'::text, 'import.failed'::text])),
    CONSTRAINT webhook_subscriptions_url_check CHECK (((url ~ '^https?://[^\s/?#@]+'::text) AND (length(url) <= 2000)))
);

ALTER TABLE ONLY app_public.webhook_subscriptions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.webhook_subscriptions IS '@behavior -insert
An endpoint that receives this organisation''s events as signed HTTP POSTs (Standard Webhooks). Create one with addWebhookSubscription (its signing secret is shown once); owners and admins manage them, members read them.';

COMMENT ON COLUMN app_public.webhook_subscriptions.url IS 'Where events are POSTed: https (plain http only outside production). Fixed at creation; create a new subscription to change it.';

COMMENT ON COLUMN app_public.webhook_subscriptions.event_types IS 'The event types delivered; empty means every type.';

COMMENT ON COLUMN app_public.webhook_subscriptions.campaign_id IS 'When set, only events of this campaign (email.* and campaign.*) are delivered.';

COMMENT ON COLUMN app_public.webhook_subscriptions.enabled IS 'Whether events are recorded and delivered. Turned off by the platform after a delivery failed for its whole retry schedule (about a day); turning it back on resumes the deliveries left pending, in order.';

COMMENT ON COLUMN app_public.webhook_subscriptions.disabled_reason IS 'Why the platform disabled the subscription (null when a member disabled it or it is enabled).';

COMMENT ON COLUMN app_public.webhook_subscriptions.consecutive_failures IS 'Failed delivery attempts since the last successful one.';

COMMENT ON COLUMN app_public.webhook_subscriptions.previous_secret_expires_at IS 'After a rotation: until then, deliveries carry a signature with the previous secret too.';

CREATE FUNCTION app_private.lock_webhook_subscription(subscription_id uuid) RETURNS app_public.webhook_subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_subscription app_public.webhook_subscriptions;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  select s.* into v_subscription from app_public.webhook_subscriptions s
    where s.tenant_id = v_tenant_id and s.id = lock_webhook_subscription.subscription_id for update;
  if v_subscription.id is null then
    raise exception 'There is no webhook subscription % in this organisation.', subscription_id using errcode = 'NTFND';
  end if;
  return v_subscription;
end;
$$;

COMMENT ON FUNCTION app_private.lock_webhook_subscription(subscription_id uuid) IS 'The current tenant''s subscription, locked, for an owner or admin; DNIED or NTFND otherwise.';

CREATE TABLE app_public.api_keys (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    prefix text NOT NULL,
    scopes text[] NOT NULL,
    expires_at timestamp with time zone,
    revoked_at timestamp with time zone,
    last_used_at timestamp with time zone,
    last_used_ip text,
    created_by uuid DEFAULT app_public.current_user_id(),
    rotated_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT api_keys_last_used_ip_check CHECK ((length(last_used_ip) <= 100)),
    CONSTRAINT api_keys_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT api_keys_prefix_check CHECK ((prefix ~ '^pm_[A-Za-z0-9]{8}$'::text)),
    CONSTRAINT api_keys_scopes_check CHECK (((cardinality(scopes) > 0) AND (scopes <@ ARRAY['leads:read'::text, 'leads:write'::text, 'lists:read'::text, 'lists:write'::text, 'templates:read'::text, 'templates:write'::text, 'campaigns:read'::text, 'campaigns:write'::text, 'analytics:read'::text, 'domains:read'::text, 'domains:write'::text, 'webhooks:read'::text, 'webhooks:write'::text, 'billing:read'::text])))
);

ALTER TABLE ONLY app_public.api_keys FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.api_keys IS 'An API key of the organisation: a name, the scopes it acts with, an optional expiry and when and from where it was last used. Its secret is shown once, by createApiKey or rotateApiKey, and only its hash is kept. Admins and owners manage keys; a key cannot.';

COMMENT ON COLUMN app_public.api_keys.prefix IS 'The visible start of the key (`pm_` and 8 characters), to recognise it; the rest of the key is never shown again.';

COMMENT ON COLUMN app_public.api_keys.scopes IS 'What the key may do, as `area:read` or `area:write` (write includes read) for the areas leads, lists, templates, campaigns, analytics (read only), domains (domains and inboxes), webhooks and billing (read only).';

COMMENT ON COLUMN app_public.api_keys.expires_at IS 'When the key stops working; null: it does not expire.';

COMMENT ON COLUMN app_public.api_keys.revoked_at IS 'When the key was revoked; it is refused from the next request on.';

COMMENT ON COLUMN app_public.api_keys.last_used_at IS 'When the key was last used, to the minute (recorded at most once a minute, and whenever the client address changes).';

COMMENT ON COLUMN app_public.api_keys.last_used_ip IS 'The client address of the key''s last use.';

COMMENT ON COLUMN app_public.api_keys.created_by IS 'The admin who created the key.';

COMMENT ON COLUMN app_public.api_keys.rotated_at IS 'When the key''s secret was last replaced (rotateApiKey); the previous secret stopped working then.';

CREATE FUNCTION app_private.locked_api_key(tenant_id uuid, api_key_id uuid) RETURNS app_public.api_keys
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.locked_api_key(tenant_id uuid, api_key_id uuid) IS 'The tenant''s API key, locked for a change; NOT_FOUND when there is none.';

CREATE FUNCTION app_private.locked_current_subscription(tenant_id uuid) RETURNS app_public.subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_sub app_public.subscriptions;
begin
  select s.* into v_sub from app_public.subscriptions s
    where s.tenant_id = locked_current_subscription.tenant_id and s.status <> 'canceled'
    for update;
  if v_sub.id is null then
    raise exception 'This organisation has no current subscription.' using errcode = 'NTFND';
  end if;
  return v_sub;
end;
$$;

COMMENT ON FUNCTION app_private.locked_current_subscription(tenant_id uuid) IS 'The tenant''s current subscription, locked for a change.';

CREATE FUNCTION app_private.lockless_budget_left(budget_key text, amount bigint) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce((nullif(current_setting('penguinmails.usage_lockless', true), '')::jsonb ->> budget_key)::bigint, 0) + amount
         <= app_private.usage_lockless_budget();
$$;

COMMENT ON FUNCTION app_private.lockless_budget_left(budget_key text, amount bigint) IS 'True while this transaction may still add `amount` to the counter named `budget_key` under the shared lock (B per transaction; see the header).';

CREATE FUNCTION app_private.mark_handed_over(tenant_id uuid, message_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  -- Durable even where commits are asynchronous: a mark lost in a crash would
  -- turn "the server may have it" into "send it again".
  perform set_config('synchronous_commit', 'on', true);
  m := app_private.claimed_message(mark_handed_over.tenant_id, mark_handed_over.message_id, 'be handed over');
  insert into app_private.message_handovers (tenant_id, message_id, attempt)
    values (m.tenant_id, m.id, m.send_attempts)
    on conflict do nothing;
end;
$$;

COMMENT ON FUNCTION app_private.mark_handed_over(tenant_id uuid, message_id uuid) IS 'Called by the worker holding the message''s send lock, on that connection and committed on its own, right before it writes the final "." of the SMTP DATA: from here on the server may have this attempt''s message, so a crash makes it "sent, unconfirmed" instead of a retry. STATE when the message is not being sent any more (the worker then does not write the dot).';

CREATE FUNCTION app_private.membership_roles(user_id uuid, tenant_id uuid) RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.membership_roles(user_id uuid, tenant_id uuid) IS 'The roles of the user''s active membership in a live tenant; null when they are not a member.';

CREATE FUNCTION app_private.mentions(haystack text, needle text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select strpos(lower(haystack), lower(needle)) > 0;
$$;

COMMENT ON FUNCTION app_private.mentions(haystack text, needle text) IS 'Whether the text contains the needle, ignoring case (no LIKE wildcards: an address holds "_").';

CREATE FUNCTION app_private.message_status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case status
    when 'queued' then 0 when 'sending' then 1 when 'sent' then 2 when 'delivered' then 3
    when 'opened' then 4 when 'clicked' then 5 when 'replied' then 6
    when 'bounced' then 7 when 'failed' then 7 when 'cancelled' then 7
    when 'received' then 0
  end;
$$;

COMMENT ON FUNCTION app_private.message_status_rank(status text) IS 'Order of outbound message statuses; bounced, failed and cancelled are terminal.';

CREATE FUNCTION app_private.metered_usage(tenant_id uuid, metric text, period_start timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select coalesce(sum(c.value), 0)::bigint from app_private.usage_counters c
  where c.tenant_id = metered_usage.tenant_id and c.metric = metered_usage.metric
    and c.period_start = coalesce(metered_usage.period_start, app_private.open_usage_period(metered_usage.tenant_id))
  );
end;
$$;

COMMENT ON FUNCTION app_private.metered_usage(tenant_id uuid, metric text, period_start timestamp with time zone) IS 'Events counted so far in a billing period (default: the open one).';

CREATE FUNCTION app_private.missing_account_setup(user_id uuid, tenant_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_policy app_public.tenant_policies;
begin
  if user_id is null or tenant_id is null then
    return null;
  end if;
  select p.* into v_policy from app_public.tenant_policies p where p.tenant_id = missing_account_setup.tenant_id;
  if v_policy.company_require_email_verification
     and exists (select 1 from app_public.users u where u.id = missing_account_setup.user_id and u.email_verified_at is null) then
    return 'email_verification';
  elsif v_policy.two_factor_required and not app_private.two_factor_enabled(user_id) then
    return 'two_factor';
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.missing_account_setup(user_id uuid, tenant_id uuid) IS 'What the tenant''s policy requires of the user''s account that it lacks: ''email_verification'' (company_require_email_verification and no confirmed email), ''two_factor'' (two_factor_required and none confirmed), or null.';

CREATE FUNCTION app_private.move_domains_off_ip(smtp_ip_address_id uuid, reason text) RETURNS TABLE(moved integer, flagged integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_from app_public.smtp_ip_addresses;
  v_assignment app_public.domain_ip_assignments;
  v_target app_public.smtp_ip_addresses;
  v_moved integer := 0;
  v_flagged integer := 0;
begin
  select * into v_from from app_public.smtp_ip_addresses ip where ip.id = move_domains_off_ip.smtp_ip_address_id;
  -- The live assignments across tenants, each then locked by its key (Citus
  -- locks rows only in a query that names its tenant).
  for v_assignment in
    select * from app_public.domain_ip_assignments a
    where a.smtp_ip_address_id = v_from.id and a.status <> 'expired'
    order by a.assigned_at
  loop
    select * into v_assignment from app_public.domain_ip_assignments a
      where a.tenant_id = v_assignment.tenant_id and a.id = v_assignment.id
        and a.smtp_ip_address_id = v_from.id and a.status <> 'expired'
      for update;
    continue when not found;
    select ip.* into v_target
    from app_public.smtp_ip_addresses ip
    left join app_public.vps_instances v on v.id = ip.vps_instance_id
    where ip.id <> v_from.id
      and ip.status in ('warmed', 'warming', 'assigned', 'available')
      and ip.reputation_state in ('good', 'fair')
      and (v.id is null or v.status = 'active')
      and not exists (
        select 1 from app_public.domain_ip_assignments x
        where x.tenant_id = v_assignment.tenant_id and x.domain_id = v_assignment.domain_id
          and x.smtp_ip_address_id = ip.id and x.status <> 'expired')
    order by case ip.status when 'warmed' then 0 when 'warming' then 1 when 'assigned' then 2 else 3 end,
             ip.assigned_count, ip.ip_address
    limit 1
    -- Waits for the row (not SKIP LOCKED): the healthy IP's own reputation
    -- check, running at the same moment, holds it for an instant, and
    -- skipping it flagged the domain as having nowhere to go.
    for update of ip;
    if v_target.id is not null then
      update app_public.domain_ip_assignments a
        set status = 'expired', status_reason = format('Moved to %s: %s', host(v_target.ip_address), reason)
        where a.tenant_id = v_assignment.tenant_id and a.id = v_assignment.id;
      perform app_private.assign_ip(v_assignment.tenant_id, v_assignment.domain_id, v_target.id,
        format('Took over from %s: %s', host(v_from.ip_address), reason));
      v_moved := v_moved + 1;
    else
      update app_public.domain_ip_assignments a
        set flagged_reason = format('%s; no healthy IP was free to take over this domain.', reason), flagged_at = now()
        where a.tenant_id = v_assignment.tenant_id and a.id = v_assignment.id;
      perform app_private.audit_infrastructure('domain_ip.reassignment_needed', 'domain_ip_assignments', v_assignment.id, null,
        jsonb_build_object('ip_address', host(v_from.ip_address), 'tenant_id', v_assignment.tenant_id, 'domain_id', v_assignment.domain_id), reason);
      v_flagged := v_flagged + 1;
    end if;
    v_target := null;
  end loop;
  return query select v_moved, v_flagged;
end;
$$;

COMMENT ON FUNCTION app_private.move_domains_off_ip(smtp_ip_address_id uuid, reason text) IS 'Moves every live domain assignment off an IP to the healthiest free IP (warmed first, then the least loaded); an assignment with nowhere to go is flagged for staff. Returns how many moved and how many were flagged.';

CREATE FUNCTION app_private.new_api_key() RETURNS text
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- pm_ + 8 hex characters (the visible prefix) + _ + 256 random bits, URL-safe.
  select 'pm_' || encode(public.gen_random_bytes(4), 'hex') || '_' || app_private.new_token();
$$;

COMMENT ON FUNCTION app_private.new_api_key() IS 'A new API key: `pm_`, 8 visible characters, `_`, and a 256-bit random secret.';

CREATE FUNCTION app_private.new_token() RETURNS text
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select translate(encode(public.gen_random_bytes(32), 'base64'), '+/=', '-_');
$$;

COMMENT ON FUNCTION app_private.new_token() IS 'A new 256-bit random token, URL-safe.';

CREATE FUNCTION app_private.next_local_midnight(at timestamp with time zone, time_zone text) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select ((at at time zone coalesce(nullif(time_zone, ''), 'UTC'))::date + 1)::timestamp at time zone coalesce(nullif(time_zone, ''), 'UTC');
$$;

COMMENT ON FUNCTION app_private.next_local_midnight(at timestamp with time zone, time_zone text) IS 'The start of the next calendar day in a time zone.';

CREATE FUNCTION app_private.next_send_window(at timestamp with time zone, time_zone text, send_days smallint[], window_start time without time zone, window_end time without time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_local timestamp := at at time zone time_zone;
  v_day date;
begin
  for i in 0..7 loop
    v_day := v_local::date + i;
    if extract(isodow from v_day)::smallint = any (send_days) then
      if v_local < v_day + window_start then
        return (v_day + window_start) at time zone time_zone;
      elsif v_local < v_day + window_end then
        return at;
      end if;
    end if;
  end loop;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.next_send_window(at timestamp with time zone, time_zone text, send_days smallint[], window_start time without time zone, window_end time without time zone) IS 'The given instant when it falls inside the sending window (ISO days send_days, local hours window_start..window_end in time_zone), otherwise the next moment the window opens.';

CREATE FUNCTION app_private.normalize_message_id(raw text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select nullif(left(btrim(raw, e' \t\r\n<>'), 998), '');
$$;

COMMENT ON FUNCTION app_private.normalize_message_id(raw text) IS 'A Message-ID as messages.rfc_message_id keeps it: without angle brackets or surrounding white space; null when empty.';

CREATE FUNCTION app_private.oauth_inbox_defaults(provider text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- Published per-mailbox limits: Google Workspace 2,000 messages a day
  -- (support.google.com/a/answer/166852), Exchange Online 10,000 recipients a
  -- day (Exchange Online limits). Cold mail stays far below them: a new
  -- connected inbox starts warming up towards 100 a day.
  select case provider
    when 'google' then jsonb_build_object('daily_limit', 100, 'provider_daily_cap', 2000, 'warmup_enabled', true)
    when 'microsoft' then jsonb_build_object('daily_limit', 100, 'provider_daily_cap', 10000, 'warmup_enabled', true)
  end;
$$;

COMMENT ON FUNCTION app_private.oauth_inbox_defaults(provider text) IS 'Daily cap and warm-up of an inbox first connected over OAuth, per provider, with the provider''s published per-mailbox limit (provider_daily_cap).';

CREATE FUNCTION app_private.oauth_reconnect_required(tenant_id uuid, email_account_id uuid, error text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_error text := left(error, 1000);
begin
  update app_public.email_accounts ea
    set status = 'error', oauth_status = 'reconnect_required', last_error = v_error, updated = v_now,
        paused_at = v_now,
        pause_reason = left('Sending stopped: the provider no longer lets the platform use this mailbox (' || v_error
                            || '). Connect the inbox again (startInboxOAuth).', 1000)
    where ea.tenant_id = oauth_reconnect_required.tenant_id and ea.id = oauth_reconnect_required.email_account_id
      and ea.oauth_status = 'connected';
  if found then
    -- The inbox.error webhook event comes from the status change; the owners and admins also get an email.
    perform app_private.queue_safety_pause_notice(oauth_reconnect_required.tenant_id, null, oauth_reconnect_required.email_account_id);
    update app_private.email_account_credentials cr
      set oauth_access_token_encrypted = null, oauth_access_expires_at = null, updated = v_now
      where cr.tenant_id = oauth_reconnect_required.tenant_id and cr.email_account_id = oauth_reconnect_required.email_account_id;
    insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
      values (oauth_reconnect_required.tenant_id, null, 'email_account.oauth_reconnect_required', 'email_accounts',
              oauth_reconnect_required.email_account_id::text, jsonb_build_object('error', v_error));
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.oauth_reconnect_required(tenant_id uuid, email_account_id uuid, error text) IS 'The provider refused for good to renew an inbox''s access (consent revoked, password changed): the inbox stops sending (status error, oauth_status reconnect_required) with the reason in last_error and pause_reason, until it is connected again; the inbox.error webhook event and an email to the owners and admins tell the tenant. Audited once.';

CREATE FUNCTION app_private.oauth_tokens(tenant_id uuid, email_account_id uuid) RETURNS TABLE(provider text, email text, status text, oauth_status text, refresh_token_encrypted bytea, access_token_encrypted bytea, access_expires_at timestamp with time zone)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  select ea.provider, ea.email::text, ea.status, ea.oauth_status, cr.oauth_refresh_token_encrypted,
         cr.oauth_access_token_encrypted, cr.oauth_access_expires_at
  from app_public.email_accounts ea
  left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
  where ea.tenant_id = oauth_tokens.tenant_id and ea.id = oauth_tokens.email_account_id;
end;
$$;

COMMENT ON FUNCTION app_private.oauth_tokens(tenant_id uuid, email_account_id uuid) IS 'The OAuth state of an inbox and its sealed tokens, for the worker (owner only).';

CREATE FUNCTION app_private.on_coordinator() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select to_regclass('graphile_worker._private_jobs') is not null;
$$;

COMMENT ON FUNCTION app_private.on_coordinator() IS 'False only on a Citus worker node, where triggers on tenant tables run: there the job queue does not exist and global (reference) tables cannot be written. True on one PostgreSQL and on the coordinator.';

CREATE FUNCTION app_private.open_two_factor_challenge(user_id uuid, tenant_id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_token text := app_private.new_token();
  v_expires timestamptz := now() + interval '5 minutes';
  v_hash bytea := app_private.hash_token(v_token);
begin
  insert into app_private.two_factor_challenges (user_id, tenant_id, token_hash, expires_at)
    values (open_two_factor_challenge.user_id, open_two_factor_challenge.tenant_id, v_hash, v_expires);
  return v_token;
end;
$$;

COMMENT ON FUNCTION app_private.open_two_factor_challenge(user_id uuid, tenant_id uuid) IS 'A single-use challenge (valid five minutes) for a sign-in whose password was right; verify_two_factor_login completes it.';

CREATE FUNCTION app_private.open_usage_period(tenant_id uuid) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select up.period_start from app_public.usage_periods up
  where up.tenant_id = open_usage_period.tenant_id and up.closed_at is null
  );
end;
$$;

COMMENT ON FUNCTION app_private.open_usage_period(tenant_id uuid) IS 'Start of the tenant''s open billing period.';

CREATE FUNCTION app_private.password_policy_violation(password text, tenant_ids uuid[]) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_min integer;
  v_upper boolean;
  v_numbers boolean;
  v_symbols boolean;
begin
  select coalesce(max(p.password_min_length), 8), coalesce(bool_or(p.password_require_uppercase), false),
         coalesce(bool_or(p.password_require_numbers), false), coalesce(bool_or(p.password_require_symbols), false)
    into v_min, v_upper, v_numbers, v_symbols
    from app_public.tenant_policies p where p.tenant_id = any (tenant_ids);
  if password is null or length(password) < v_min then
    return format('The password must be at least %s characters long.', v_min);
  elsif v_upper and password !~ '[A-Z]' then
    return 'The password must contain an uppercase letter.';
  elsif v_numbers and password !~ '[0-9]' then
    return 'The password must contain a number.';
  elsif v_symbols and password !~ '[^A-Za-z0-9]' then
    return 'The password must contain a symbol.';
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.password_policy_violation(password text, tenant_ids uuid[]) IS 'Why a password breaks the strictest policy of the given tenants, or null when it complies.';

CREATE FUNCTION app_private.pause_tenant_campaigns(tenant_id uuid, reason text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_count integer;
begin
  if coalesce(btrim(reason), '') = '' then
    raise exception 'Say why the campaigns are paused; the reason is shown to the tenant.' using errcode = 'INVAL';
  end if;
  update app_public.campaigns c set status = 'paused', paused_at = app_private.engine_now(), paused_by = 'system', pause_reason = left(pause_tenant_campaigns.reason, 1000)
    where c.tenant_id = pause_tenant_campaigns.tenant_id and c.status in ('scheduled', 'sending');
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.pause_tenant_campaigns(tenant_id uuid, reason text) IS 'Pauses every scheduled or sending campaign of a tenant on behalf of the system (billing dunning, plan limit), with a reason shown to the tenant. Returns how many were paused.';

CREATE FUNCTION app_private.plan_by_slug(plan_slug text) RETURNS app_public.plans
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_plan app_public.plans;
begin
  select p.* into v_plan from app_public.plans p where p.slug = plan_slug and p.is_active;
  if v_plan.id is null then
    raise exception 'There is no plan "%". Choose one of: %.', coalesce(plan_slug, ''),
        (select string_agg(p.slug, ', ' order by coalesce(p.price_monthly, 0), p.slug) from app_public.plans p where p.is_active)
      using errcode = 'NTFND';
  end if;
  return v_plan;
end;
$$;

COMMENT ON FUNCTION app_private.plan_by_slug(plan_slug text) IS 'The active plan with this slug; NOT_FOUND naming the available plans otherwise.';

CREATE FUNCTION app_private.prepare_lead_import(tenant_id uuid, import_id uuid) RETURNS app_public.lead_imports
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_import app_public.lead_imports;
begin
  -- (No row lock: progress updates on another connection must not wait for this transaction.)
  select i.* into v_import from app_public.lead_imports i
    where i.tenant_id = prepare_lead_import.tenant_id and i.id = prepare_lead_import.import_id;
  if v_import.id is null then
    raise exception 'There is no lead import %.', import_id using errcode = 'NTFND';
  end if;
  -- From here on the transaction acts as the member who uploaded the file:
  -- column defaults, triggers and the role check below see them.
  -- (Or as the API key that uploaded it, while it stays live: functions/052-api-keys.sql.)
  if v_import.api_key_id is not null then
    perform app_hidden.enter_api_key(v_import.api_key_id, v_import.tenant_id);
    perform app_hidden.require_api_scope('leads');
  else
    perform app_hidden.enter_request(v_import.created_by, v_import.tenant_id);
  end if;
  if not app_public.has_tenant_role('member') then
    raise exception 'The person who uploaded this file can no longer add leads to this organisation.' using errcode = 'DNIED';
  end if;
  create temporary table if not exists lead_import_rows (
    line integer not null,
    email text,
    name text,
    first_name text,
    last_name text,
    company text,
    title text,
    phone text,
    website text,
    timezone text,
    source text,
    custom_fields jsonb not null default '{}',
    existing_id uuid,
    error text
  ) on commit drop;
  truncate pg_temp.lead_import_rows;
  return v_import;
end;
$$;

COMMENT ON FUNCTION app_private.prepare_lead_import(tenant_id uuid, import_id uuid) IS 'Starts the import transaction: acts as the uploading member (who must still be a member or above) and creates the staging table pg_temp.lead_import_rows, whose columns are named like the leads columns they fill.';

CREATE FUNCTION app_private.prepare_reply_send(tenant_id uuid, message_id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = prepare_reply_send.tenant_id and x.id = prepare_reply_send.message_id;
  if m.status = 'sending' then
    -- A free send lock: the worker that claimed it died before recording the
    -- outcome. resolve_interrupted_send decides, never sending twice.
    if not pg_try_advisory_xact_lock(app_private.send_lock_key(m.id)) then
      return 'busy';
    end if;
    perform app_private.resolve_interrupted_send(m.tenant_id, m.id);
    select x.* into m from app_public.messages x where x.tenant_id = prepare_reply_send.tenant_id and x.id = prepare_reply_send.message_id;
  end if;
  if m.status = 'queued' and m.scheduled_for > app_private.engine_now() + interval '1 second' then
    perform app_private.queue_reply_send(m.tenant_id, m.id, m.scheduled_for);
    return 'wait';
  end if;
  return coalesce(m.status, 'gone');
end;
$$;

COMMENT ON FUNCTION app_private.prepare_reply_send(tenant_id uuid, message_id uuid) IS 'The send_reply job''s first step: resolves an attempt a dead worker left "sending" (as campaign emails are), re-queues a reply whose retry is due later (wait), and returns the status: queued means send now.';

CREATE FUNCTION app_private.privacy_request_tenant(email text) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') or app_hidden.current_api_key_id() is not null then
    raise exception 'Only owners and admins of this organisation, signed in, can answer privacy requests.' using errcode = 'DNIED';
  end if;
  if email is null or email !~ '^[^@\s]+@[^@\s]+$' or length(email) > 254 then
    raise exception 'Give the email address the request is about.' using errcode = 'INVAL';
  end if;
  return v_tenant_id;
end;
$_$;

COMMENT ON FUNCTION app_private.privacy_request_tenant(email text) IS 'The tenant a privacy request acts in: refuses (DNIED) unless an owner or admin makes it (not an API key), and INVAL when the address is not one.';

CREATE FUNCTION app_private.privacy_subject(tenant_id uuid, email text, OUT lead_ids uuid[], OUT enrollment_ids uuid[], OUT message_ids uuid[], OUT name_terms text[]) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_email citext := email::citext;
begin
  select coalesce(array_agg(distinct l.id), '{}'),
         coalesce(array_agg(distinct t) filter (where length(t) >= 3), '{}')
    into lead_ids, name_terms
    from app_public.leads l
    left join lateral unnest(array[l.name, l.first_name || ' ' || l.last_name]) t on true
    where l.tenant_id = privacy_subject.tenant_id and l.email = v_email;
  select coalesce(array_agg(e.id), '{}') into enrollment_ids
    from app_public.campaign_enrollments e
    where e.tenant_id = privacy_subject.tenant_id and e.lead_id = any (lead_ids);
  select coalesce(array_agg(m.id), '{}') into message_ids
    from app_public.messages m
    where m.tenant_id = privacy_subject.tenant_id
      and (m.lead_id = any (lead_ids) or m.enrollment_id = any (enrollment_ids)
           or m.to_email = v_email or m.from_email = v_email);
end;
$$;

COMMENT ON FUNCTION app_private.privacy_subject(tenant_id uuid, email text, OUT lead_ids uuid[], OUT enrollment_ids uuid[], OUT message_ids uuid[], OUT name_terms text[]) IS 'What a tenant holds under one address: its leads, their enrollments, every message to, from or about it, and the names to scrub from free text.';

CREATE FUNCTION app_private.purge_tenant(tenant_id uuid) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_tenant app_public.tenants;
  v_steps text[];
  v_tables text[];
  v_statement text;
  v_table text;
  v_rows bigint;
  v_total bigint := 0;
  v_left text;
begin
  select t.* into v_tenant from app_public.tenants t where t.id = purge_tenant.tenant_id for update;
  if v_tenant.id is null or v_tenant.deleted_at is null or v_tenant.purged_at is not null or v_tenant.purge_after > now() then
    return 0; -- reopened, already purged, or still in its grace period
  end if;
  -- The plan, read from the catalogue once: its statements, and the tables they empty.
  select array_agg(case p.step
           when 'clear' then format('update %I.%I x set %s where x.tenant_id = $1 and (%s)', p.schema_name, p.table_name,
                                    (select string_agg(format('%I = null', c), ', ') from unnest(p.columns) c),
                                    (select string_agg(format('x.%I is not null', c), ' or ') from unnest(p.columns) c))
           else format('delete from %I.%I x where x.tenant_id = $1', p.schema_name, p.table_name)
         end order by p.n),
         array_agg(format('%I.%I', p.schema_name, p.table_name) order by p.n) filter (where p.step = 'delete')
    into v_steps, v_tables
    from app_private.tenant_purge_plan() with ordinality p(step, schema_name, table_name, columns, n);
  -- Twice: triggers (audit, counters) may add rows to a table already emptied.
  for pass in 1..2 loop
    foreach v_statement in array v_steps loop
      execute v_statement using v_tenant.id;
      if v_statement like 'delete %' then
        get diagnostics v_rows = row_count;
        v_total := v_total + v_rows;
      end if;
    end loop;
  end loop;
  -- Nothing of the tenant is left anywhere.
  foreach v_table in array v_tables loop
    v_rows := null;
    execute format('select 1 from %s x where x.tenant_id = $1 limit 1', v_table) into v_rows using v_tenant.id;
    if v_rows is not null then
      v_left := concat_ws(', ', v_left, v_table);
    end if;
  end loop;
  if v_left is not null then
    raise exception 'Purging tenant % left rows in %.', v_tenant.id, v_left;
  end if;
  delete from graphile_worker._private_jobs j where j.payload ->> 'tenant_id' = v_tenant.id::text and j.locked_at is null;
  update app_public.tenants t set purged_at = now() where t.id = v_tenant.id;
  insert into app_public.platform_audit_log (action, target_tenant_id, table_name, record_id, changes)
    values ('tenant.purged', v_tenant.id, 'tenants', v_tenant.id::text, jsonb_build_object('rows_deleted', v_total));
  return v_total;
end;
$_$;

COMMENT ON FUNCTION app_private.purge_tenant(tenant_id uuid) IS 'Deletes every row of a closed tenant whose grace period is over, in every table but the tenant row, its subscriptions and its payments; fails (changing nothing) if any row would be left. Returns how many rows were deleted; 0 for a tenant not due.';

CREATE FUNCTION app_private.purge_webhook_history(at timestamp with time zone DEFAULT now(), batch integer DEFAULT 5000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_cutoff timestamptz := at - make_interval(days => app_private.retention_days('retention.webhook_days', 30));
  v_tenant uuid;
  v_n integer;
  v_total integer := 0;
begin
  -- Tenant by tenant (each statement is one tenant's shard on Citus), in batches.
  for v_tenant in select t.id from app_public.tenants t loop
    loop
      delete from app_public.webhook_events e
        where e.tenant_id = v_tenant and e.id in (
          select e2.id from app_public.webhook_events e2
          where e2.tenant_id = v_tenant and e2.created < v_cutoff
            and not exists (select 1 from app_public.webhook_deliveries d
                            where d.tenant_id = v_tenant and d.event_id = e2.id and d.status = 'pending')
          limit batch);
      get diagnostics v_n = row_count;
      v_total := v_total + v_n;
      exit when v_n < batch;
    end loop;
  end loop;
  return v_total;
end;
$$;

COMMENT ON FUNCTION app_private.purge_webhook_history(at timestamp with time zone, batch integer) IS 'Deletes webhook events older than retention.webhook_days with no delivery still pending, and their deliveries (ON DELETE CASCADE), in batches per tenant; returns how many events.';

CREATE FUNCTION app_private.queue_campaign_start(tenant_id uuid, campaign_id uuid, at timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.add_job(tenant_id, 'campaign_start',
    json_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id),
    run_at => app_private.engine_run_at(greatest(coalesce(at, app_private.engine_now()), app_private.engine_now())),
    job_key => 'campaign_start:' || campaign_id::text, max_attempts => 10);
end;
$$;

COMMENT ON FUNCTION app_private.queue_campaign_start(tenant_id uuid, campaign_id uuid, at timestamp with time zone) IS 'Queues (or moves) the job that starts a scheduled campaign at an engine time (now when that time has passed).';

CREATE FUNCTION app_private.queue_dkim_pool_refill() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if app_private.dkim_pool_shortfall() > 0 then
    perform app_private.add_job(null, 'dkim_key_pool_refill', '{}'::json,
      job_key => 'dkim_key_pool_refill', job_key_mode => 'preserve_run_at', max_attempts => 5);
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.queue_dkim_pool_refill() IS 'Queues (once) the job that tops up the DKIM key stock, when it is short.';

CREATE FUNCTION app_private.queue_domain_verification(tenant_id uuid, domain_id uuid, run_at timestamp with time zone DEFAULT now(), keep_earlier boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.add_job(tenant_id, 'verify_domain',
    json_build_object('tenant_id', tenant_id, 'domain_id', domain_id),
    run_at => run_at,
    job_key => 'verify_domain:' || domain_id,
    job_key_mode => case when keep_earlier then 'preserve_run_at' else 'replace' end,
    max_attempts => 5);
end;
$$;

COMMENT ON FUNCTION app_private.queue_domain_verification(tenant_id uuid, domain_id uuid, run_at timestamp with time zone, keep_earlier boolean) IS 'Queues one verify_domain job per domain (job_key): replace moves a queued check to run_at, keep_earlier leaves an already queued check where it is.';

CREATE FUNCTION app_private.queue_due_domain_checks(at timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_domain record;
  v_count integer := 0;
begin
  for v_domain in
    select d.tenant_id, d.id from app_public.domains d
    join app_public.tenants t on t.id = d.tenant_id and t.deleted_at is null -- not a closed organisation
    where d.dns_next_check_at <= queue_due_domain_checks.at
    order by d.dns_next_check_at
    limit 5000
  loop
    perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id, now(), keep_earlier => true);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.queue_due_domain_checks(at timestamp with time zone) IS 'Run every minute: queues verify_domain for each domain whose dns_next_check_at has come (at most 5,000 a minute); returns how many.';

CREATE FUNCTION app_private.queue_imap_poll(tenant_id uuid, email_account_id uuid, run_at timestamp with time zone DEFAULT now()) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.add_job(queue_imap_poll.tenant_id,
    'imap_poll_inbox',
    json_build_object('tenant_id', queue_imap_poll.tenant_id, 'email_account_id', queue_imap_poll.email_account_id),
    queue_name => 'imap:' || queue_imap_poll.email_account_id::text,
    run_at => queue_imap_poll.run_at,
    max_attempts => 3,
    job_key => 'imap_poll_inbox:' || queue_imap_poll.email_account_id::text);
end;
$$;

COMMENT ON FUNCTION app_private.queue_imap_poll(tenant_id uuid, email_account_id uuid, run_at timestamp with time zone) IS 'Queues a poll of one inbox (at most one pending per inbox; polls of an inbox never overlap).';

CREATE FUNCTION app_private.queue_imap_polls() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_count integer := 0;
  v_account record;
begin
  for v_account in
    select ea.tenant_id, ea.id
    from app_public.email_accounts ea
    join app_public.tenants t on t.id = ea.tenant_id and t.deleted_at is null -- not a closed organisation
    left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
    where ea.status = 'active'
      and nullif(ea.imap_settings ->> 'host', '') is not null
      -- After a login or password problem, wait for new credentials or 15 minutes
      -- (providers lock accounts that keep failing to log in).
      and not coalesce(ea.last_error ~ '^IMAP (login failed|password)'
                       and ea.last_polled_at > now() - interval '15 minutes'
                       and coalesce(cr.updated <= ea.last_polled_at, true), false)
  loop
    perform app_private.queue_imap_poll(v_account.tenant_id, v_account.id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.queue_imap_polls() IS 'Queues a poll of every active inbox with IMAP settings; inboxes whose last login failed wait 15 minutes unless their credentials changed. Returns how many were queued.';

CREATE FUNCTION app_private.queue_reply_send(tenant_id uuid, message_id uuid, at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.add_job(tenant_id, 'send_reply', json_build_object('tenant_id', tenant_id, 'message_id', message_id),
    run_at => case when at is null then null else app_private.engine_run_at(at) end,
    job_key => 'send_reply:' || message_id::text);
end;
$$;

COMMENT ON FUNCTION app_private.queue_reply_send(tenant_id uuid, message_id uuid, at timestamp with time zone) IS 'Queues (or moves) the send_reply job of a reply, at an engine time (default now).';

CREATE FUNCTION app_private.queue_reputation_checks() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ip record;
  v_count integer := 0;
begin
  for v_ip in select ip.id from app_public.smtp_ip_addresses ip where ip.status <> 'burned' order by ip.last_reputation_check_at nulls first loop
    perform app_private.add_job(null, 'check_ip_reputation', json_build_object('smtp_ip_address_id', v_ip.id),
      job_key => 'check_ip_reputation:' || v_ip.id, job_key_mode => 'preserve_run_at', max_attempts => 3);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.queue_reputation_checks() IS 'Run hourly: queues one blocklist check per IP that is not burned (retired); returns how many.';

CREATE FUNCTION app_private.queue_safety_pause_notice(tenant_id uuid, campaign_id uuid, email_account_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.add_job(tenant_id, 'safety_pause_notice',
    json_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'email_account_id', email_account_id),
    max_attempts => 5);
end;
$$;

COMMENT ON FUNCTION app_private.queue_safety_pause_notice(tenant_id uuid, campaign_id uuid, email_account_id uuid) IS 'Queues the email telling the tenant''s owners and admins that a campaign or an inbox was paused automatically.';

CREATE FUNCTION app_private.queue_stalled_webhook_deliveries(at timestamp with time zone DEFAULT now()) RETURNS TABLE(tenant_id uuid, subscription_id uuid)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- A job queued per event normally posts it within seconds. A delivery due
  -- for over a minute with no live lease on its subscription lost its job
  -- (its worker died holding the lease, and the job that found the lease
  -- taken ended): queue one.
  for tenant_id, subscription_id in
    select s.tenant_id, s.id from app_public.webhook_subscriptions s
    where s.enabled
      and exists (select 1 from app_public.webhook_deliveries d
                  where d.tenant_id = s.tenant_id and d.webhook_subscription_id = s.id and d.status = 'pending'
                    and d.next_attempt_at < queue_stalled_webhook_deliveries.at - interval '1 minute')
      and not exists (select 1 from app_private.webhook_delivery_leases l
                      where l.tenant_id = s.tenant_id and l.subscription_id = s.id and l.expires_at > queue_stalled_webhook_deliveries.at)
    limit 5000
  loop
    perform app_private.queue_webhook_delivery(queue_stalled_webhook_deliveries.tenant_id, queue_stalled_webhook_deliveries.subscription_id);
    return next;
  end loop;
end;
$$;

COMMENT ON FUNCTION app_private.queue_stalled_webhook_deliveries(at timestamp with time zone) IS 'Run every minute: queues webhook_deliver for each enabled subscription with a delivery due for over a minute and no live lease (its job was lost with a worker); returns the subscriptions it queued a job for.';

CREATE FUNCTION app_private.queue_stripe_sync(tenant_id uuid, subscription_id uuid) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if not exists (
    select 1 from app_public.subscriptions s
    left join app_public.plans p on p.id = s.plan_id
    left join app_public.plans pp on pp.id = s.pending_plan_id
    where s.tenant_id = queue_stripe_sync.tenant_id and s.id = queue_stripe_sync.subscription_id
      and (s.stripe_subscription_id is not null or p.stripe_price_id is not null or pp.stripe_price_id is not null)
  ) then
    return false;
  end if;
  perform app_private.add_job(tenant_id,
    'billing_stripe_sync',
    json_build_object('tenant_id', tenant_id, 'subscription_id', subscription_id),
    queue_name => 'billing:' || tenant_id::text,
    job_key => 'billing_stripe_sync:' || subscription_id::text,
    max_attempts => 25);
  return true;
end;
$$;

COMMENT ON FUNCTION app_private.queue_stripe_sync(tenant_id uuid, subscription_id uuid) IS 'Queues the job that makes Stripe match a subscription (one job per subscription; one tenant''s jobs run in order). Subscriptions that never touch Stripe are skipped.';

CREATE FUNCTION app_private.queue_tenant_purges() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant record;
  v_count integer := 0;
begin
  for v_tenant in
    select t.id from app_public.tenants t
    where t.deleted_at is not null and t.purged_at is null and t.purge_after <= now()
    order by t.purge_after
    limit 100
  loop
    perform app_private.add_job(v_tenant.id, 'tenant_purge', json_build_object('tenant_id', v_tenant.id),
                                job_key => 'tenant_purge:' || v_tenant.id, max_attempts => 5);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.queue_tenant_purges() IS 'Run daily (tenant_purge_sweep): queues a tenant_purge job for each closed organisation whose grace period is over (at most 100 a run). Returns how many.';

CREATE FUNCTION app_private.queue_webhook_delivery(tenant_id uuid, subscription_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- No job key: a keyed job is one row every transaction recording an event
  -- for the subscription would lock until it commits (a queue of writers, and
  -- a deadlock with a transaction that locks the same lead in the other
  -- order). No named queue either: one job at a time posts because it holds
  -- the subscription's lease (claim_webhook_lease), and a job that finds the
  -- lease taken, or nothing due, ends at once.
  perform app_private.add_job(queue_webhook_delivery.tenant_id, 'webhook_deliver',
    json_build_object('tenant_id', queue_webhook_delivery.tenant_id, 'subscription_id', queue_webhook_delivery.subscription_id));
end;
$$;

COMMENT ON FUNCTION app_private.queue_webhook_delivery(tenant_id uuid, subscription_id uuid) IS 'Queues a webhook_deliver job for a subscription, without a job key so concurrent writers never wait for each other; the job posts only while it holds the subscription''s lease.';

CREATE FUNCTION app_private.raise_limit_exceeded(plan_name text, metric text, limit_value bigint, used bigint, requested bigint DEFAULT 1) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  raise exception '%', app_private.limit_exceeded_message(plan_name, metric, limit_value, used, requested)
    using errcode = 'LIMIT',
          detail = json_build_object('metric', metric, 'plan', plan_name, 'limit', limit_value, 'used', used, 'requested', requested)::text;
end;
$$;

COMMENT ON FUNCTION app_private.raise_limit_exceeded(plan_name text, metric text, limit_value bigint, used bigint, requested bigint) IS 'Raises the PLAN_LIMIT_REACHED error (SQLSTATE LIMIT) with a machine-readable DETAIL {metric, plan, limit, used, requested}.';

CREATE FUNCTION app_private.rebuild_campaign_stats(tenant_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  delete from app_public.campaign_stats_daily s where s.tenant_id = rebuild_campaign_stats.tenant_id;
  perform app_private.add_campaign_stats(coalesce((
    select jsonb_agg(jsonb_build_object('tenant_id', d.tenant_id, 'campaign_id', d.campaign_id, 'day', d.day, 'metric', d.metric, 'n', d.n))
    from (
      select m.tenant_id, m.campaign_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
      from app_public.messages m
      cross join lateral (values ('sent', m.sent_at), ('delivered', m.delivered_at), ('opened', m.opened_at),
                                 ('clicked', m.clicked_at), ('replied', m.replied_at), ('bounced', m.bounced_at),
                                 ('failed', case when m.status = 'failed' then m.updated end)) as x (metric, at)
      where m.tenant_id = rebuild_campaign_stats.tenant_id and m.direction = 'outbound' and m.campaign_id is not null and x.at is not null
      group by 1, 2, 3, 4
      union all
      select e.tenant_id, e.campaign_id, (e.created at time zone 'UTC')::date, case e.event_type when 'open' then 'opens_total'
             when 'click' then 'clicks_total' when 'unsubscribe' then 'unsubscribed' when 'complaint' then 'complained' end, count(*)
      from app_public.email_events e
      where e.tenant_id = rebuild_campaign_stats.tenant_id and e.campaign_id is not null and e.event_type in ('open', 'click', 'unsubscribe', 'complaint')
      group by 1, 2, 3, 4
    ) d), '[]'::jsonb));
end;
$$;

COMMENT ON FUNCTION app_private.rebuild_campaign_stats(tenant_id uuid) IS 'Recomputes a tenant''s campaign_stats_daily from messages and events.';

CREATE FUNCTION app_private.receive_stripe_event(event jsonb) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_id text := event ->> 'id';
  v_type text := event ->> 'type';
  v_created timestamptz := app_private.stripe_time(event ->> 'created');
  v_tenant uuid;
  v_outcome text;
  v_inserted boolean;
begin
  if v_id is null or v_id !~ '^evt_[A-Za-z0-9]+$' or v_type is null or v_created is null then
    raise exception 'A Stripe event needs an id (evt_…), a type and a created time.' using errcode = 'INVAL';
  end if;
  insert into app_private.stripe_events (id, type, created_at, payload)
    values (v_id, v_type, v_created, event)
  on conflict on constraint stripe_events_pkey do nothing
  returning true into v_inserted;
  if v_inserted is null then
    return 'duplicate';
  end if;

  begin
    if v_type in ('invoice.paid', 'invoice.payment_failed') then
      select r.tenant_id, r.outcome into v_tenant, v_outcome from app_private.apply_stripe_invoice(event) r;
    elsif v_type in ('customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted') then
      select r.tenant_id, r.outcome into v_tenant, v_outcome from app_private.apply_stripe_subscription(event) r;
    else
      v_outcome := 'ignored';
    end if;
    update app_private.stripe_events e set processed_at = now(), tenant_id = v_tenant, outcome = v_outcome
      where e.id = v_id;
  exception when sqlstate 'INVAL' or sqlstate 'NTFND' or sqlstate 'STATE' then
    -- A permanent problem with this event (bad data, missing configuration):
    -- kept with its error for an operator, acknowledged so Stripe stops
    -- retrying. Anything else propagates: nothing is stored, Stripe retries.
    update app_private.stripe_events e set processed_at = now(), outcome = 'failed', error = sqlerrm
      where e.id = v_id;
    return 'failed';
  end;
  return v_outcome;
end;
$_$;

COMMENT ON FUNCTION app_private.receive_stripe_event(event jsonb) IS 'Stores a verified Stripe event once and applies it; returns applied, stale, unknown_customer, ignored, failed, or duplicate (already received: nothing done).';

CREATE FUNCTION app_private.record_bounce(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  m := app_private.claimed_message(record_bounce.tenant_id, record_bounce.message_id, 'bounce at SMTP time');
  update app_public.messages x
    set smtp_response = left(record_bounce.smtp_response, 1000),
        error_message = left(format('The recipient''s server refused the message: %s', coalesce(record_bounce.smtp_response, smtp_code::text)), 2000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  -- A hard bounce suppresses the lead and stops every sequence it is in.
  perform app_private.record_email_event(m.tenant_id, m.id, 'bounce',
    metadata => jsonb_build_object('bounce_type', 'hard', 'smtp_code', smtp_code, 'smtp_response', left(smtp_response, 500), 'source', 'smtp'));
end;
$$;

COMMENT ON FUNCTION app_private.record_bounce(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text) IS 'A permanent SMTP refusal of the recipient or the message (5xx): the message bounces, which suppresses the lead and ends its sequences.';

CREATE FUNCTION app_private.record_deferral(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text, inbox_error text DEFAULT NULL::text) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_next timestamptz;
begin
  m := app_private.claimed_message(record_deferral.tenant_id, record_deferral.message_id, 'be deferred');
  if inbox_error is not null then
    update app_public.email_accounts ea set last_error = left(inbox_error, 1000)
      where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  end if;
  if m.send_attempts >= app_private.send_max_attempts() then
    perform app_private.record_send_failure(m.tenant_id, m.id,
      format('Gave up after %s attempts; the last answer was: %s', m.send_attempts, coalesce(smtp_response, 'no answer')));
    return null;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'deferred',
    metadata => jsonb_build_object('smtp_code', smtp_code, 'smtp_response', left(smtp_response, 500), 'attempt', m.send_attempts));
  v_next := app_private.engine_now() + app_private.send_retry_delay(m.send_attempts);
  update app_public.messages x
    set scheduled_for = v_next,
        smtp_response = left(record_deferral.smtp_response, 1000),
        error_message = left(format('Attempt %s was deferred (%s); the next attempt is at %s.',
          m.send_attempts, coalesce(record_deferral.smtp_response, 'no answer'), to_char(v_next at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')), 2000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  perform app_private.schedule_enrollment(m.tenant_id, m.enrollment_id, v_next);
  return v_next;
end;
$$;

COMMENT ON FUNCTION app_private.record_deferral(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text, inbox_error text) IS 'A temporary SMTP failure (4xx, no connection, timeout): the message goes back to queued and the enrollment retries after an exponential backoff, until send_max_attempts() attempts have failed. Returns the next attempt''s time (null when it gave up).';

CREATE FUNCTION app_private.record_delivery(tenant_id uuid, message_id uuid, smtp_response text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  m := app_private.claimed_message(record_delivery.tenant_id, record_delivery.message_id, 'be recorded as delivered');
  perform app_private.record_email_event(m.tenant_id, m.id, 'sent',
    metadata => jsonb_build_object('smtp_response', left(smtp_response, 500), 'attempt', m.send_attempts));
  update app_public.messages x set smtp_response = left(record_delivery.smtp_response, 1000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  update app_public.email_accounts ea set last_sent_at = app_private.engine_now()
    where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  perform app_private.advance_after_send(m.tenant_id, m.id);
end;
$$;

COMMENT ON FUNCTION app_private.record_delivery(tenant_id uuid, message_id uuid, smtp_response text) IS 'The SMTP server accepted a claimed message: records the sent event with the server''s answer and moves the enrollment past the step.';

CREATE TABLE app_public.domains (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    company_id uuid,
    domain app_public.hostname NOT NULL,
    verification_status text DEFAULT 'pending'::text NOT NULL,
    dns_records jsonb DEFAULT '{"records": []}'::jsonb NOT NULL,
    is_primary boolean DEFAULT false NOT NULL,
    verified_at timestamp with time zone,
    dkim_selector text DEFAULT 'pm'::text NOT NULL,
    mailu_domain text,
    dns_ttl_observed integer,
    dns_last_verified_at timestamp with time zone,
    dns_verification_error text,
    dns_verification_attempts integer DEFAULT 0 NOT NULL,
    dns_next_check_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    dns_checked_as_of timestamp with time zone,
    CONSTRAINT domains_dkim_selector_check CHECK ((dkim_selector ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text)),
    CONSTRAINT domains_dns_records_shape CHECK (((jsonb_typeof(dns_records) = 'object'::text) AND (jsonb_typeof((dns_records -> 'records'::text)) = 'array'::text))),
    CONSTRAINT domains_dns_records_valid CHECK ((app_hidden.dns_records_problem(dns_records) IS NULL)),
    CONSTRAINT domains_dns_ttl_observed_check CHECK ((dns_ttl_observed >= 0)),
    CONSTRAINT domains_dns_verification_attempts_check CHECK ((dns_verification_attempts >= 0)),
    CONSTRAINT domains_verification_status_check CHECK ((verification_status = ANY (ARRAY['pending'::text, 'verifying'::text, 'verified'::text, 'failed'::text, 'error'::text])))
);

ALTER TABLE ONLY app_public.domains FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.domains IS 'A sending domain with the DNS records it must publish (the dns_records document) and their verification state.';

COMMENT ON COLUMN app_public.domains.dns_records IS '{"records": [{record_type, name, value, ttl, verification_status, last_verified_at, verification_attempts, verification_error, source, …type-specific fields}]}: the records to publish and the result of checking each one.';

COMMENT ON COLUMN app_public.domains.verified_at IS 'When all required records last verified; null while not verified.';

COMMENT ON COLUMN app_public.domains.dns_checked_as_of IS 'When the DNS answers behind the current record statuses were asked for (the start of the last recorded check); null before the first check.';

CREATE FUNCTION app_private.record_domain_check(tenant_id uuid, domain_id uuid, checks jsonb, fingerprint text DEFAULT NULL::text, planned_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS app_public.domains
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  -- The check's time as a value: Citus refuses now() inside CASE and
  -- COALESCE in an UPDATE of a distributed table.
  v_checked_at timestamptz := now();
  v_checked_as_of timestamptz := coalesce(record_domain_check.planned_at, now());
  v_old app_public.domains;
  v_new app_public.domains;
  v_problem text := app_private.check_results_problem(checks);
  v_records jsonb;
  v_status text;
  v_any_failed boolean;
  v_any_error boolean;
  v_any_pending boolean;
  v_error_attempts integer;
  v_errors text;
  v_ttl integer;
  v_attempts integer;
  v_promote text;
  v_now text := to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  if v_problem is not null then
    raise exception 'Malformed DNS check results: %.', v_problem using errcode = 'INVAL';
  end if;
  select * into v_old from app_public.domains d
    where d.tenant_id = record_domain_check.tenant_id and d.id = record_domain_check.domain_id
    for update;
  if not found then
    return null;
  end if;
  -- The records changed while DNS was being asked (a key arrived, a rotation
  -- started): these results are about other values; check again now.
  if fingerprint is not null and fingerprint <> app_private.dns_records_fingerprint(v_old.dns_records) then
    perform app_private.queue_domain_verification(v_old.tenant_id, v_old.id);
    return v_old;
  end if;
  -- A newer check was recorded while this one was asking DNS: its answers are
  -- more recent than these, which are dropped.
  if planned_at is not null and planned_at < v_old.dns_checked_as_of then
    return v_old;
  end if;

  -- Each checked record: its status, attempts in that status, error and findings.
  select jsonb_agg(
    case when c.c is null then r
    else r
      || jsonb_build_object(
        'verification_status', c.c ->> 'status',
        'verification_attempts', case when r ->> 'verification_status' = c.c ->> 'status'
                                      then (r ->> 'verification_attempts')::integer + 1 else 1 end,
        'verification_error', case when c.c ->> 'status' = 'verified' then null else c.c -> 'error' end,
        'last_verified_at', case when c.c ->> 'status' = 'verified' then to_jsonb(v_now) else coalesce(r -> 'last_verified_at', 'null'::jsonb) end)
      || case r ->> 'record_type'
           when 'DMARC' then coalesce(jsonb_strip_nulls(jsonb_build_object('policy', c.c #> '{details,policy}')), '{}')
           when 'MX' then coalesce(jsonb_strip_nulls(jsonb_build_object('mx_hosts', c.c #> '{details,mx_hosts}')), '{}')
           when 'SPF' then coalesce(jsonb_strip_nulls(jsonb_build_object(
             'dns_lookups', c.c #> '{details,dns_lookups}', 'void_lookups', c.c #> '{details,void_lookups}')), '{}')
           else '{}'::jsonb
         end
    end
    order by i)
  into v_records
  from jsonb_array_elements(v_old.dns_records -> 'records') with ordinality e(r, i)
  left join lateral (
    select x as c from jsonb_array_elements(checks) x
    where x ->> 'record_type' = r ->> 'record_type' and lower(x ->> 'name') = lower(r ->> 'name')
    limit 1
  ) c on true;
  v_records := coalesce(v_records, '[]'::jsonb);

  -- A rotated DKIM key that now verifies becomes the signing key; the old
  -- record leaves the document (the tenant may delete it after a few days).
  select r ->> 'selector' into v_promote
  from jsonb_array_elements(v_records) r
  where r ->> 'record_type' = 'DKIM' and r ->> 'role' = 'next' and r ->> 'verification_status' = 'verified';
  if v_promote is not null then
    update app_private.domain_dkim_keys k set retired_at = now()
      where k.tenant_id = v_old.tenant_id and k.domain_id = v_old.id and k.selector <> v_promote and k.retired_at is null;
    select jsonb_agg(case when r ->> 'selector' = v_promote then r || '{"role": "active"}' else r end order by i)
      into v_records
      from jsonb_array_elements(v_records) with ordinality e(r, i)
      where not (r ->> 'record_type' = 'DKIM' and r ->> 'selector' is distinct from v_promote);
  end if;

  -- Roll-up over the records that count (a rotated key waiting to be
  -- published does not): failed beats error beats pending beats verified.
  select bool_or(r ->> 'verification_status' = 'failed'),
         bool_or(r ->> 'verification_status' = 'error'),
         bool_or(r ->> 'verification_status' = 'pending'),
         coalesce(max((r ->> 'verification_attempts')::integer) filter (where r ->> 'verification_status' = 'error'), 0),
         string_agg(r ->> 'verification_error', ' ' order by i) filter (where r ->> 'verification_status' in ('failed', 'error'))
    into v_any_failed, v_any_error, v_any_pending, v_error_attempts, v_errors
    from jsonb_array_elements(v_records) with ordinality e(r, i)
    where r ->> 'role' is distinct from 'next';
  v_status := case
    when coalesce(v_any_failed, false) then 'failed'
    -- A timeout or SERVFAIL says nothing about the records: a verified domain stays verified.
    when coalesce(v_any_error, false) then case when v_old.verification_status = 'verified' then 'verified' else 'error' end
    when coalesce(v_any_pending, true) then case when v_old.verification_status in ('pending', 'verifying') then v_old.verification_status else 'verifying' end
    else 'verified'
  end;
  select min((c ->> 'ttl')::integer) into v_ttl from jsonb_array_elements(checks) c where jsonb_typeof(c -> 'ttl') = 'number';

  -- Consecutive checks with the same outcome (verified or not) drive the backoff.
  v_attempts := case
    when v_old.verification_status in ('verified', 'failed', 'error') and (v_old.verification_status = 'verified') = (v_status = 'verified')
    then v_old.dns_verification_attempts + 1 else 1 end;

  update app_public.domains d set
    dns_records = jsonb_build_object('records', v_records),
    dkim_selector = coalesce(v_promote, d.dkim_selector),
    verification_status = v_status,
    verified_at = case when v_status = 'verified' then coalesce(d.verified_at, v_checked_at) end,
    dns_last_verified_at = case when v_status = 'verified' and not coalesce(v_any_error, false) then v_checked_at else d.dns_last_verified_at end,
    dns_verification_error = case
      when v_errors is null then null
      when v_status = 'verified' then 'Still verified; a temporary DNS problem will be retried: ' || v_errors
      else v_errors end,
    dns_verification_attempts = v_attempts,
    dns_ttl_observed = coalesce(v_ttl, d.dns_ttl_observed),
    dns_checked_as_of = v_checked_as_of,
    dns_next_check_at = v_checked_at + app_private.dns_check_delay(v_status, v_attempts, v_error_attempts)
    where d.tenant_id = v_old.tenant_id and d.id = v_old.id
    returning * into v_new;
  return v_new;
end;
$$;

COMMENT ON FUNCTION app_private.record_domain_check(tenant_id uuid, domain_id uuid, checks jsonb, fingerprint text, planned_at timestamp with time zone) IS 'Applies what verify_domain found ([{record_type, name, status, error, ttl, details}]) to the domain (unless its records changed since the plan''s fingerprint: then it queues a new check; or a check planned later was already recorded: then nothing changes): each record''s status, attempts, error and last_verified_at, DMARC policy, MX hosts and SPF lookup counts; the domain roll-up (a temporary error never unverifies a verified domain); the promotion of a verified rotated DKIM key; and the next check time.';

CREATE FUNCTION app_private.record_email_event(tenant_id uuid, message_id uuid, event_type text, ip_address inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text, link_url text DEFAULT NULL::text, metadata jsonb DEFAULT '{}'::jsonb) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_message app_public.messages;
  v_event_id uuid;
  v_stop_on_reply boolean;
  -- A value, not now(): Citus refuses a function call inside CASE or
  -- coalesce in an UPDATE of a distributed table.
  v_now timestamptz := now();
begin
  select m.* into v_message from app_public.messages m
    where m.tenant_id = record_email_event.tenant_id and m.id = record_email_event.message_id
    for update;
  if v_message.id is null then
    raise exception 'There is no message %.', message_id using errcode = 'NTFND';
  end if;

  insert into app_public.email_events (tenant_id, message_id, campaign_id, lead_id, event_type, ip_address, user_agent, link_url, metadata)
    values (v_message.tenant_id, v_message.id, v_message.campaign_id, v_message.lead_id, event_type,
            record_email_event.ip_address, left(record_email_event.user_agent, 1000), left(record_email_event.link_url, 2000),
            coalesce(record_email_event.metadata, '{}'))
    returning id into v_event_id;

  -- Opens and clicks by self-declared automated clients (link scanners,
  -- crawlers; see app_private.automated_agent) are kept as evidence only.
  if event_type in ('open', 'click') and coalesce(metadata ->> 'automated', 'false') = 'true' then
    return v_event_id;
  end if;

  -- Advance the message (never backwards; terminal states stay terminal).
  update app_public.messages m set
      status = case
        when m.status in ('bounced', 'failed', 'cancelled') then m.status
        when event_type = 'sent' and m.status in ('queued', 'sending') then 'sent'
        when event_type = 'delivered' and app_private.message_status_rank(m.status) < 3 then 'delivered'
        when event_type = 'open' and app_private.message_status_rank(m.status) < 4 then 'opened'
        when event_type = 'click' and app_private.message_status_rank(m.status) < 5 then 'clicked'
        when event_type = 'reply' and m.status <> 'replied' then 'replied'
        when event_type = 'bounce' and m.status <> 'replied' then 'bounced'
        when event_type = 'failed' and m.status in ('queued', 'sending') then 'failed'
        when event_type = 'deferred' and m.status = 'sending' then 'queued'
        else m.status
      end,
      sent_at = case when event_type = 'sent' then coalesce(m.sent_at, v_now) else m.sent_at end,
      delivered_at = case when event_type = 'delivered' then coalesce(m.delivered_at, v_now) else m.delivered_at end,
      opened_at = case when event_type in ('open', 'click') then coalesce(m.opened_at, v_now) else m.opened_at end,
      clicked_at = case when event_type = 'click' then coalesce(m.clicked_at, v_now) else m.clicked_at end,
      replied_at = case when event_type = 'reply' then coalesce(m.replied_at, v_now) else m.replied_at end,
      bounced_at = case when event_type = 'bounce' then coalesce(m.bounced_at, v_now) else m.bounced_at end
    where m.tenant_id = v_message.tenant_id and m.id = v_message.id;

  -- Consequences for the lead and its sequences.
  if v_message.lead_id is not null then
    if event_type = 'reply' then
      update app_public.leads l set
          replied_at = coalesce(l.replied_at, v_now),
          status = case when l.status = 'active' then 'replied' else l.status end
        where l.tenant_id = v_message.tenant_id and l.id = v_message.lead_id;
      select c.stop_on_reply into v_stop_on_reply from app_public.campaigns c
        where c.tenant_id = v_message.tenant_id and c.id = v_message.campaign_id;
      -- A reply to a message of no campaign (a reply sent from the inbox)
      -- stops nothing: other queued inbox replies to the lead must go out.
      if v_message.campaign_id is not null and coalesce(v_stop_on_reply, true) then
        update app_public.campaign_enrollments e set status = 'replied', stop_reason = 'replied', next_run_at = null, completed_at = now()
          where e.tenant_id = v_message.tenant_id and e.lead_id = v_message.lead_id
            and e.campaign_id is not distinct from v_message.campaign_id and e.status in ('active', 'paused');
        update app_public.messages m set status = 'cancelled', error_message = 'The lead replied.'
          where m.tenant_id = v_message.tenant_id and m.lead_id = v_message.lead_id
            and m.campaign_id is not distinct from v_message.campaign_id and m.direction = 'outbound' and m.status = 'queued';
      end if;
    elsif event_type = 'bounce' and coalesce(metadata ->> 'bounce_type', 'hard') = 'hard' then
      perform app_private.suppress_lead(v_message.tenant_id, v_message.lead_id, 'bounced');
    elsif event_type = 'complaint' then
      perform app_private.suppress_lead(v_message.tenant_id, v_message.lead_id, 'complained');
    elsif event_type = 'unsubscribe' then
      perform app_private.suppress_lead(v_message.tenant_id, v_message.lead_id, 'unsubscribed');
    end if;
    if event_type = 'sent' then
      update app_public.leads l set last_contacted_at = now()
        where l.tenant_id = v_message.tenant_id and l.id = v_message.lead_id;
    end if;
  end if;
  return v_event_id;
end;
$$;

COMMENT ON FUNCTION app_private.record_email_event(tenant_id uuid, message_id uuid, event_type text, ip_address inet, user_agent text, link_url text, metadata jsonb) IS 'Records what happened to a message and applies it: advances the status (forward only), stops the sequence on reply (if the campaign says so), and on a hard bounce, complaint or unsubscribe suppresses the lead everywhere. Opens and clicks with metadata {"automated": true} are recorded but change nothing. The one way events are written.';

CREATE FUNCTION app_private.record_fqdn(name text, domain text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case when name = '@' then lower(domain) else lower(name || '.' || domain) end;
$$;

COMMENT ON FUNCTION app_private.record_fqdn(name text, domain text) IS 'The full host name of a dns_records entry ("@" is the domain itself).';

CREATE FUNCTION app_private.record_imap_failure(tenant_id uuid, email_account_id uuid, error text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if error is null or error not like 'IMAP %' then
    raise exception 'An IMAP error message must start with "IMAP " (got %).', coalesce(quote_literal(error), 'null') using errcode = 'INVAL';
  end if;
  update app_public.email_accounts ea set last_error = left(record_imap_failure.error, 1000), last_polled_at = now()
    where ea.tenant_id = record_imap_failure.tenant_id and ea.id = record_imap_failure.email_account_id;
  if not found then
    raise exception 'There is no inbox % in this tenant.', email_account_id using errcode = 'NTFND';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.record_imap_failure(tenant_id uuid, email_account_id uuid, error text) IS 'Records why a poll of the inbox failed (a message for the inbox owner, without secrets) and when.';

CREATE FUNCTION app_private.record_imap_progress(tenant_id uuid, email_account_id uuid, uid_validity bigint, last_uid bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if uid_validity is null or uid_validity < 1 or last_uid is null or last_uid < 0 then
    raise exception 'IMAP progress needs a UIDVALIDITY >= 1 and a last UID >= 0 (got % and %).', uid_validity, last_uid using errcode = 'INVAL';
  end if;
  update app_public.email_accounts ea set
      imap_last_uid = case when ea.imap_uid_validity = record_imap_progress.uid_validity
                           then greatest(coalesce(ea.imap_last_uid, 0), record_imap_progress.last_uid)
                           else record_imap_progress.last_uid end,
      imap_uid_validity = record_imap_progress.uid_validity,
      last_polled_at = now(),
      last_error = case when ea.last_error like 'IMAP %' then null else ea.last_error end
    where ea.tenant_id = record_imap_progress.tenant_id and ea.id = record_imap_progress.email_account_id;
  if not found then
    raise exception 'There is no inbox % in this tenant.', email_account_id using errcode = 'NTFND';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.record_imap_progress(tenant_id uuid, email_account_id uuid, uid_validity bigint, last_uid bigint) IS 'Stores how far the poller got (a new UIDVALIDITY restarts the count; the same one never moves back), stamps last_polled_at and clears a previous IMAP error.';

CREATE FUNCTION app_private.record_inbound_message(tenant_id uuid, email_account_id uuid, message_type text, rfc_message_id text, in_reply_to text, reference_ids text[], from_email text, to_email text, subject text, body_text text, dsn jsonb DEFAULT NULL::jsonb) RETURNS TABLE(outcome text, inbound_message_id uuid, parent_message_id uuid, event_id uuid)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  -- Parameters share names with messages columns: always qualified below.
  v_type text := record_inbound_message.message_type;
  v_dsn jsonb := record_inbound_message.dsn;
  v_rfc_id text := app_private.normalize_message_id(record_inbound_message.rfc_message_id);
  v_from text := left(btrim(record_inbound_message.from_email), 254);
  v_parent_id uuid;
  v_parent app_public.messages;
  v_matched_by text;
  v_inbound_id uuid;
  v_event_id uuid;
  v_event text;
  v_outcome text;
  v_action text := lower(coalesce(record_inbound_message.dsn ->> 'action', 'failed'));
  v_status text := nullif(record_inbound_message.dsn ->> 'status', '');
  -- The References header, computed here: Citus refuses a subquery inside
  -- INSERT … VALUES.
  v_references text := nullif(array_to_string(array(
    select '<' || app_private.normalize_message_id(r) || '>'
    from unnest(record_inbound_message.reference_ids) with ordinality as x (r, n)
    where app_private.normalize_message_id(r) is not null order by n), ' '), '');
begin
  if v_type is null or v_type not in ('email', 'auto_reply', 'bounce', 'complaint') then
    raise exception 'Unknown inbound message type "%"; expected email, auto_reply, bounce or complaint.', v_type using errcode = 'INVAL';
  end if;
  if v_rfc_id is null then
    raise exception 'An inbound message needs a Message-ID to be recorded exactly once.' using errcode = 'INVAL';
  end if;
  if v_type = 'bounce' and (v_dsn is null or jsonb_typeof(v_dsn) <> 'object') then
    raise exception 'A bounce needs its delivery status (an object with action, status, final_recipient…).' using errcode = 'INVAL';
  end if;
  if v_type = 'complaint' and (v_dsn is null or jsonb_typeof(v_dsn) <> 'object' or nullif(v_dsn ->> 'feedback_type', '') is null) then
    raise exception 'A complaint needs its feedback report (an object with feedback_type, original_message_id…).' using errcode = 'INVAL';
  end if;
  if v_type = 'bounce' and v_action not in ('failed', 'delayed', 'delivered', 'relayed', 'expanded') then
    raise exception 'Unknown DSN action "%"; expected failed, delayed, delivered, relayed or expanded (RFC 3464).', v_action using errcode = 'INVAL';
  end if;
  if not exists (select 1 from app_public.email_accounts ea
                 where ea.tenant_id = record_inbound_message.tenant_id and ea.id = record_inbound_message.email_account_id) then
    raise exception 'There is no inbox % in this tenant.', record_inbound_message.email_account_id using errcode = 'NTFND';
  end if;

  -- One transaction at a time per (tenant, Message-ID), so a message polled
  -- from two inboxes at once is still stored once.
  perform pg_advisory_xact_lock(hashtextextended('inbound:' || record_inbound_message.tenant_id::text || ':' || v_rfc_id, 0));

  select m.id into v_inbound_id from app_public.messages m
    where m.rfc_message_id = v_rfc_id and m.tenant_id = record_inbound_message.tenant_id and m.direction = 'inbound'
    limit 1;
  if v_inbound_id is not null then
    return query select 'duplicate'::text, v_inbound_id, null::uuid, null::uuid;
    return;
  end if;
  if exists (select 1 from app_public.messages m
             where m.rfc_message_id = v_rfc_id and m.tenant_id = record_inbound_message.tenant_id and m.direction = 'outbound') then
    -- A copy of something we sent (e.g. the provider files sent mail in the inbox).
    return query select 'own'::text, null::uuid, null::uuid, null::uuid;
    return;
  end if;

  select p.parent_id, p.matched_by into v_parent_id, v_matched_by
    from app_private.find_thread_parent(record_inbound_message.tenant_id, record_inbound_message.email_account_id, v_type,
                                        record_inbound_message.in_reply_to, record_inbound_message.reference_ids, v_dsn) p;
  if v_parent_id is null then
    return query select 'unmatched'::text, null::uuid, null::uuid, null::uuid;
    return;
  end if;
  select m.* into v_parent from app_public.messages m
    where m.tenant_id = record_inbound_message.tenant_id and m.id = v_parent_id;

  if v_type = 'complaint' then
    if lower(v_dsn ->> 'feedback_type') not in ('abuse', 'fraud', 'virus', 'other') then
      return query select 'feedback'::text, null::uuid, v_parent.id, null::uuid;
      return;
    end if;
    -- One complaint per message, whichever report (or resend of it) comes first.
    perform 1 from app_public.messages m
      where m.tenant_id = v_parent.tenant_id and m.id = v_parent.id for update;
    if exists (select 1 from app_public.email_events e
               where e.tenant_id = v_parent.tenant_id and e.message_id = v_parent.id and e.event_type = 'complaint') then
      return query select 'duplicate'::text, null::uuid, v_parent.id, null::uuid;
      return;
    end if;
    v_event_id := app_private.record_email_event(v_parent.tenant_id, v_parent.id, 'complaint', null, null, null,
      jsonb_strip_nulls(jsonb_build_object(
        'feedback_type', lower(v_dsn ->> 'feedback_type'),
        'user_agent', left(v_dsn ->> 'user_agent', 255),
        'source_ip', left(v_dsn ->> 'source_ip', 45),
        'arrival_date', left(v_dsn ->> 'arrival_date', 100),
        'reported_domain', left(v_dsn ->> 'reported_domain', 255),
        'report_message_id', v_rfc_id,
        'reported_by', v_from,
        'matched_by', v_matched_by)));
    return query select 'complaint'::text, null::uuid, v_parent.id, v_event_id;
    return;
  end if;

  insert into app_public.messages (
      tenant_id, direction, message_type, status, email_account_id, campaign_id, enrollment_id, step_id, lead_id,
      parent_message_id, from_email, to_email, subject, rfc_message_id, in_reply_to, references_header, body_text, processed_at)
    values (
      v_parent.tenant_id, 'inbound', v_type, 'received', record_inbound_message.email_account_id,
      v_parent.campaign_id, v_parent.enrollment_id, v_parent.step_id, v_parent.lead_id, v_parent.id,
      v_from, left(btrim(record_inbound_message.to_email), 254), left(record_inbound_message.subject, 998), v_rfc_id,
      app_private.normalize_message_id(record_inbound_message.in_reply_to), v_references,
      record_inbound_message.body_text, now())
    returning id into v_inbound_id;

  if v_type = 'email' then
    v_outcome := 'reply';
    v_event_id := app_private.record_email_event(v_parent.tenant_id, v_parent.id, 'reply', null, null, null,
      jsonb_build_object('inbound_message_id', v_inbound_id, 'matched_by', v_matched_by, 'from', v_from));
  elsif v_type = 'auto_reply' then
    v_outcome := 'auto_reply';
  else
    v_event := case v_action when 'failed' then 'bounce' when 'delayed' then 'deferred' else 'delivered' end;
    v_outcome := v_event;
    v_event_id := app_private.record_email_event(v_parent.tenant_id, v_parent.id, v_event, null, null, null,
      jsonb_strip_nulls(jsonb_build_object(
        'bounce_type', case when v_event = 'bounce' then app_private.bounce_type(v_status) end,
        'status', v_status,
        'action', v_action,
        'diagnostic_code', left(v_dsn ->> 'diagnostic_code', 1000),
        'final_recipient', v_dsn ->> 'final_recipient',
        'remote_mta', v_dsn ->> 'remote_mta',
        'reporting_mta', v_dsn ->> 'reporting_mta',
        'detected_by', v_dsn ->> 'detected_by',
        'inbound_message_id', v_inbound_id,
        'matched_by', v_matched_by)));
  end if;
  return query select v_outcome, v_inbound_id, v_parent.id, v_event_id;
end;
$$;

COMMENT ON FUNCTION app_private.record_inbound_message(tenant_id uuid, email_account_id uuid, message_type text, rfc_message_id text, in_reply_to text, reference_ids text[], from_email text, to_email text, subject text, body_text text, dsn jsonb) IS 'Stores a message found in an inbox when it answers one of the tenant''s outbound messages, threaded to it, and records what it means: a reply event, nothing for an auto-reply, a bounce/deferred/delivered event from a DSN (bounce_type hard for 5.x.x), or a complaint event from a feedback report (passed in dsn; the report is not stored; one complaint per message). Idempotent by Message-ID within the tenant. Returns the outcome: reply, auto_reply, bounce, deferred, delivered, complaint, feedback (a report that is no complaint), duplicate, own or unmatched.';

CREATE FUNCTION app_private.record_ip_reputation(smtp_ip_address_id uuid, results jsonb) RETURNS app_public.smtp_ip_addresses
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ip app_public.smtp_ip_addresses;
  v_problem text := app_private.reputation_results_problem(results);
  v_status jsonb;
  v_listed text;
  v_listed_count integer;
  v_errors integer;
  v_recent boolean;
  v_now text := to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  if v_problem is not null then
    raise exception 'Malformed blocklist results: %.', v_problem using errcode = 'INVAL';
  end if;
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = record_ip_reputation.smtp_ip_address_id for update;
  if not found then
    return null;
  end if;

  -- One entry per configured zone; a failed lookup keeps the zone's last answer.
  select coalesce(jsonb_object_agg(r ->> 'zone',
    case when r -> 'listed' = 'null'::jsonb then
      coalesce(v_ip.provider_blacklist_status -> (r ->> 'zone'), '{"listed": false}'::jsonb)
        || jsonb_build_object('error', r ->> 'error', 'error_at', v_now)
    else jsonb_strip_nulls(jsonb_build_object(
      'listed', r -> 'listed',
      'return_codes', case when (r ->> 'listed')::boolean then coalesce(r -> 'return_codes', '[]'::jsonb) end,
      'return_code', case when (r ->> 'listed')::boolean then r #> '{return_codes,0}' end,
      'reason', case when (r ->> 'listed')::boolean then r -> 'reason' end,
      'checked_at', to_jsonb(v_now),
      'last_listed_at', case when (r ->> 'listed')::boolean then to_jsonb(v_now)
                             else v_ip.provider_blacklist_status #> array[r ->> 'zone', 'last_listed_at'] end))
    end), '{}'::jsonb)
  into v_status
  from jsonb_array_elements(results) r;

  select string_agg(format('%s (%s)', z.key, coalesce(z.value ->> 'return_code', 'listed')), ', ' order by z.key) filter (where (z.value ->> 'listed')::boolean),
         count(*) filter (where (z.value ->> 'listed')::boolean),
         count(*) filter (where z.value ? 'error'),
         bool_or((z.value ->> 'last_listed_at')::timestamptz > now() - interval '30 days')
    into v_listed, v_listed_count, v_errors, v_recent
    from jsonb_each(v_status) z;

  update app_public.smtp_ip_addresses ip
    set provider_blacklist_status = v_status,
        last_reputation_check_at = now(),
        reputation_state = case
          when v_listed_count >= 2 then 'critical'
          when v_listed_count = 1 then 'poor'
          when coalesce(v_recent, false) then 'fair'
          else 'good' end
    where ip.id = v_ip.id;

  if v_listed_count > 0 and v_ip.status not in ('quarantined', 'burned') then
    perform app_private.change_smtp_ip_status(v_ip.id, 'quarantined', 'Listed on ' || v_listed, true);
  elsif v_listed_count = 0 and v_errors = 0 and v_ip.status = 'quarantined' and v_ip.auto_quarantined then
    perform app_private.change_smtp_ip_status(v_ip.id, 'available',
      format('Delisted by every blocklist checked (%s)', (select string_agg(k, ', ' order by k) from jsonb_object_keys(v_status) k)), true);
  end if;
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = v_ip.id;
  return v_ip;
end;
$$;

COMMENT ON FUNCTION app_private.record_ip_reputation(smtp_ip_address_id uuid, results jsonb) IS 'Applies a blocklist check to an IP: provider_blacklist_status per zone (listed, return codes, reason, checked_at, last_listed_at; a failed lookup keeps the last answer), reputation_state (2+ listings critical, 1 poor, delisted within 30 days fair, else good), last_reputation_check_at; quarantines a listed IP (moving its domains) and releases an IP it had quarantined once every zone delisted it.';

CREATE FUNCTION app_private.record_lead_import_columns(tenant_id uuid, import_id uuid, unmapped text[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  update app_public.lead_imports i set unmapped_columns = coalesce(unmapped, '{}')
  where i.tenant_id = record_lead_import_columns.tenant_id and i.id = record_lead_import_columns.import_id;
end;
$$;

COMMENT ON FUNCTION app_private.record_lead_import_columns(tenant_id uuid, import_id uuid, unmapped text[]) IS 'Records the CSV columns no mapping, lead field or custom field definition claimed (kept as custom fields when keep_unmapped is on).';

CREATE FUNCTION app_private.record_send_failure(tenant_id uuid, message_id uuid, reason text, inbox_error text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x where x.tenant_id = record_send_failure.tenant_id and x.id = record_send_failure.message_id;
  if m.status is null or m.status not in ('queued', 'sending') then
    return;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'failed', metadata => jsonb_build_object('reason', left(reason, 1000)));
  update app_public.messages x set error_message = left(reason, 2000) where x.tenant_id = m.tenant_id and x.id = m.id;
  if inbox_error is not null then
    update app_public.email_accounts ea set last_error = left(inbox_error, 1000)
      where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  end if;
  perform app_private.stop_enrollment(m.tenant_id, m.enrollment_id, 'failed', left(reason, 1000));
end;
$$;

COMMENT ON FUNCTION app_private.record_send_failure(tenant_id uuid, message_id uuid, reason text, inbox_error text) IS 'A message cannot be delivered (its template does not render, the server refused the sender, retries ran out): the message fails with the reason, the lead''s sequence stops as failed, and an inbox problem is noted on the inbox.';

CREATE FUNCTION app_private.record_smtp_auth_failure(tenant_id uuid, message_id uuid, smtp_response text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_inbox uuid;
  v_failures integer;
  v_status text;
  v_host text;
  v_now timestamptz := app_private.engine_now();
begin
  select m.email_account_id into v_inbox from app_public.messages m
    where m.tenant_id = record_smtp_auth_failure.tenant_id and m.id = record_smtp_auth_failure.message_id;
  if v_inbox is null then
    return false;
  end if;
  update app_public.email_accounts ea set smtp_auth_failures = ea.smtp_auth_failures + 1
    where ea.tenant_id = record_smtp_auth_failure.tenant_id and ea.id = v_inbox
    returning ea.smtp_auth_failures, ea.status, ea.smtp_settings ->> 'host' into v_failures, v_status, v_host;
  if v_status is distinct from 'active' or v_failures < app_private.smtp_auth_failure_limit() then
    return false;
  end if;
  update app_public.email_accounts ea
    set status = 'error', paused_at = v_now,
        pause_reason = left(format('Sending stopped: the SMTP server %s refused the login %s times in a row (last answer: %s). '
                                   'Correct the SMTP username or password (setEmailAccountCredentials), then resume the inbox (resumeEmailAccount).',
                                   coalesce(v_host, '(no host)'), v_failures, coalesce(smtp_response, 'none')), 1000),
        last_error = left(format('SMTP login to %s failed %s times in a row: %s', coalesce(v_host, '(no host)'), v_failures,
                                 coalesce(smtp_response, 'no answer')), 1000)
    where ea.tenant_id = record_smtp_auth_failure.tenant_id and ea.id = v_inbox;
  perform app_private.queue_safety_pause_notice(record_smtp_auth_failure.tenant_id, null, v_inbox);
  return true;
end;
$$;

COMMENT ON FUNCTION app_private.record_smtp_auth_failure(tenant_id uuid, message_id uuid, smtp_response text) IS 'The SMTP server refused the login of the inbox sending this message: counts it, and at smtp_auth_failure_limit() in a row stops the inbox (status error, pause_reason, an email to the admins). Returns whether it stopped the inbox.';

CREATE FUNCTION app_private.record_staff_billing_action(tenant_id uuid, action text, reason text, changes jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, table_name, reason, changes)
    values (app_public.current_user_id(), action, tenant_id, 'subscriptions', nullif(btrim(reason), ''), changes);
end;
$$;

COMMENT ON FUNCTION app_private.record_staff_billing_action(tenant_id uuid, action text, reason text, changes jsonb) IS 'Writes a staff billing change to the platform audit log (the tenant''s own audit log gets the row changes from the subscriptions audit trigger).';

CREATE FUNCTION app_private.record_staff_operation(user_id uuid, tenant_id uuid, operation jsonb, request_id text) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.record_staff_operation(user_id uuid, tenant_id uuid, operation jsonb, request_id text) IS 'Called by the API (as the owner, in a transaction of its own, before the operation runs) for every request of a staff token naming a tenant: when the staff user acts there through an access session rather than a membership, writes one row to the tenant''s audit_log and one to platform_audit_log with the operation (its type, name and every Type.field it selects). Returns the session, or null when nothing was recorded.';

CREATE FUNCTION app_private.record_stripe_customer(tenant_id uuid, stripe_customer_id text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_existing text;
begin
  select tc.stripe_customer_id into v_existing from app_public.tenant_config tc
    where tc.tenant_id = record_stripe_customer.tenant_id for update;
  if not found then
    raise exception 'Tenant % has no configuration row.', tenant_id using errcode = 'NTFND';
  end if;
  if v_existing is not null and v_existing <> stripe_customer_id then
    raise exception 'Tenant % is already Stripe customer %, not %.', tenant_id, v_existing, stripe_customer_id using errcode = 'STATE';
  end if;
  update app_public.tenant_config tc set stripe_customer_id = record_stripe_customer.stripe_customer_id
    where tc.tenant_id = record_stripe_customer.tenant_id and tc.stripe_customer_id is null;
end;
$$;

COMMENT ON FUNCTION app_private.record_stripe_customer(tenant_id uuid, stripe_customer_id text) IS 'Records the Stripe customer created for a tenant (refuses to replace a different one).';

CREATE FUNCTION app_private.record_stripe_subscription(tenant_id uuid, subscription_id uuid, stripe_subscription_id text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_existing text;
begin
  select s.stripe_subscription_id into v_existing from app_public.subscriptions s
    where s.tenant_id = record_stripe_subscription.tenant_id and s.id = record_stripe_subscription.subscription_id for update;
  if not found then
    raise exception 'There is no subscription % for tenant %.', subscription_id, tenant_id using errcode = 'NTFND';
  end if;
  if v_existing is not null and v_existing <> stripe_subscription_id then
    raise exception 'Subscription % is already Stripe subscription %, not %.', subscription_id, v_existing, stripe_subscription_id using errcode = 'STATE';
  end if;
  update app_public.subscriptions s set stripe_subscription_id = record_stripe_subscription.stripe_subscription_id
    where s.tenant_id = record_stripe_subscription.tenant_id and s.id = record_stripe_subscription.subscription_id
      and s.stripe_subscription_id is null;
end;
$$;

COMMENT ON FUNCTION app_private.record_stripe_subscription(tenant_id uuid, subscription_id uuid, stripe_subscription_id text) IS 'Records the Stripe subscription created for one of ours (refuses to replace a different one).';

CREATE FUNCTION app_private.record_unconfirmed(tenant_id uuid, message_id uuid, reason text, explanation text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = record_unconfirmed.tenant_id and x.id = record_unconfirmed.message_id
    for no key update;
  if m.status is distinct from 'sending' then
    return;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'sent',
    metadata => jsonb_build_object('unconfirmed', true, 'attempt', m.send_attempts, 'reason', left(reason, 500)));
  update app_public.messages x set error_message = left(explanation, 2000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  update app_public.email_accounts ea set last_sent_at = coalesce(ea.last_sent_at, m.processed_at)
    where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  perform app_private.advance_after_send(m.tenant_id, m.id);
end;
$$;

COMMENT ON FUNCTION app_private.record_unconfirmed(tenant_id uuid, message_id uuid, reason text, explanation text) IS 'A claimed message whose final "." was written but whose answer never came: recorded as sent with metadata.unconfirmed = true and the reason, never sent again (a duplicate cold email is worse than a missing confirmation), and the sequence goes on.';

CREATE FUNCTION app_private.record_webhook_attempt(tenant_id uuid, delivery_id uuid, succeeded boolean, response_code integer, response_body text, duration_ms integer, error text, retry_at timestamp with time zone) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_subscription_id uuid;
  v_status text := case when succeeded then 'succeeded' when retry_at is null then 'failed' else 'pending' end;
  v_completed timestamptz := case when succeeded or retry_at is null then now() end;
  v_body text := left(response_body, 2000);
  v_error text := left(error, 1000);
  v_disabled boolean := false;
begin
  update app_public.webhook_deliveries d set
      status = v_status, attempts = d.attempts + 1, last_attempt_at = v_now, next_attempt_at = record_webhook_attempt.retry_at,
      response_code = record_webhook_attempt.response_code, response_body = v_body,
      duration_ms = record_webhook_attempt.duration_ms, error = v_error, completed_at = v_completed
    where d.tenant_id = record_webhook_attempt.tenant_id and d.id = record_webhook_attempt.delivery_id and d.status = 'pending'
    returning d.webhook_subscription_id into v_subscription_id;
  if v_subscription_id is null then
    return false;
  end if;
  if succeeded then
    update app_public.webhook_subscriptions s set consecutive_failures = 0
      where s.tenant_id = record_webhook_attempt.tenant_id and s.id = v_subscription_id and s.consecutive_failures <> 0;
  elsif retry_at is not null then
    update app_public.webhook_subscriptions s set consecutive_failures = s.consecutive_failures + 1
      where s.tenant_id = record_webhook_attempt.tenant_id and s.id = v_subscription_id;
  else
    -- A delivery failed for its whole retry schedule: the endpoint is
    -- considered gone. The subscription stops (later deliveries stay pending
    -- until it is enabled again) and the organisation's admins are told.
    update app_public.webhook_subscriptions s set consecutive_failures = s.consecutive_failures + 1, enabled = false,
        disabled_at = v_now,
        disabled_reason = 'Disabled automatically: a delivery failed on every attempt of its retry schedule.'
      where s.tenant_id = record_webhook_attempt.tenant_id and s.id = v_subscription_id and s.enabled;
    v_disabled := found;
    if v_disabled then
      perform app_private.add_job(record_webhook_attempt.tenant_id, 'webhook_disabled_notice',
        json_build_object('tenant_id', record_webhook_attempt.tenant_id, 'subscription_id', v_subscription_id));
    end if;
  end if;
  return v_disabled;
end;
$$;

COMMENT ON FUNCTION app_private.record_webhook_attempt(tenant_id uuid, delivery_id uuid, succeeded boolean, response_code integer, response_body text, duration_ms integer, error text, retry_at timestamp with time zone) IS 'Records the outcome of one delivery attempt: succeeded, retried at retry_at, or (retry_at null) failed for good, which disables the subscription and queues the notice to its admins. Returns whether it disabled the subscription.';

CREATE FUNCTION app_private.recount_ip_assignments(smtp_ip_address_ids uuid[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_id uuid;
  v_count integer;
begin
  -- One value per IP, computed first: Citus updates a reference table only
  -- with values, not with a function of its columns.
  foreach v_id in array (select array_agg(distinct x order by x) from unnest(smtp_ip_address_ids) x where x is not null) loop
    v_count := app_private.live_assignment_count(v_id);
    update app_public.smtp_ip_addresses ip set assigned_count = v_count where ip.id = v_id and ip.assigned_count <> v_count;
  end loop;
end;
$$;

COMMENT ON FUNCTION app_private.recount_ip_assignments(smtp_ip_address_ids uuid[]) IS 'Sets smtp_ip_addresses.assigned_count to each IP''s live (not expired) assignments.';

CREATE FUNCTION app_private.reenter_request() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_hidden.enter_request(app_public.current_user_id(), nullif(current_setting('app.current_tenant_id', true), '')::uuid);
end;
$$;

COMMENT ON FUNCTION app_private.reenter_request() IS 'Resolves the current request''s roles again, for functions that change the caller''s own access (opening or closing a staff access session) and take effect within the same request.';

CREATE FUNCTION app_private.refresh_conversation(tenant_id uuid, conversation_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_count integer;
  v_unread integer;
  v_last record;
begin
  select count(*)::integer, (count(*) filter (where cm.direction = 'inbound' and cm.read_at is null))::integer
    into v_count, v_unread
    from app_public.conversation_messages cm
    where cm.tenant_id = refresh_conversation.tenant_id and cm.conversation_id = refresh_conversation.conversation_id;
  select cm.message_id, cm.message_created, cm.direction into v_last
    from app_public.conversation_messages cm
    where cm.tenant_id = refresh_conversation.tenant_id and cm.conversation_id = refresh_conversation.conversation_id
    order by cm.message_created desc, cm.message_id desc
    limit 1;
  update app_public.conversations c
    set message_count = v_count, unread_count = v_unread,
        last_message_id = v_last.message_id, last_message_at = v_last.message_created, last_direction = v_last.direction
    where c.tenant_id = refresh_conversation.tenant_id and c.id = refresh_conversation.conversation_id;
end;
$$;

COMMENT ON FUNCTION app_private.refresh_conversation(tenant_id uuid, conversation_id uuid) IS 'Recomputes a conversation''s summary (message and unread counts, newest message) from its messages.';

CREATE FUNCTION app_private.release_dead_workers(include_unregistered boolean DEFAULT false) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_dead text[];
begin
  select coalesce(array_agg(p.pool_id order by p.pool_id), '{}') into v_dead
  from (
    -- Registered pools not seen lately whose lock nobody holds. The lock is
    -- tried last, on the few rows left (a transaction-level try conflicts
    -- with the owner's session-level lock and is released at commit).
    select p.pool_id from app_private.worker_pools p
    where p.last_seen < now() - app_private.worker_dead_after()
      and pg_try_advisory_xact_lock(app_private.worker_lock_key(p.pool_id))
    union
    -- Pools that never registered (a process killed in the milliseconds
    -- between creating its pool and registering it) once their newest lock
    -- is 30 s old: every live pool is registered by then. This scans the job
    -- table (no index on locked_by), so callers ask for it only now and then.
    select j.locked_by from graphile_worker._private_jobs j
    where include_unregistered
      and j.locked_by is not null
      and not exists (select 1 from app_private.worker_pools p where p.pool_id = j.locked_by)
    group by j.locked_by
    having max(j.locked_at) < now() - interval '30 seconds'
  ) p;
  if cardinality(v_dead) > 0 then
    perform graphile_worker.force_unlock_workers(v_dead);
    delete from app_private.worker_pools p where p.pool_id = any (v_dead);
  end if;
  return v_dead;
end;
$$;

COMMENT ON FUNCTION app_private.release_dead_workers(include_unregistered boolean) IS 'Frees the locked jobs and job queues of graphile-worker pools whose process is gone (lock free and unseen for worker_dead_after(); with include_unregistered also pools that never registered and hold locks 30 s old) so other workers run them; returns their ids.';

CREATE FUNCTION app_private.release_message_partition(lower_id uuid, upper_id uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_fk record;
  v_total integer := 0;
  v_n integer;
begin
  -- A detach neither cascades nor sets null: it fails while a row elsewhere
  -- still points into the partition. So every foreign key to messages (read
  -- from the catalogue, so a new one is covered) gets its ON DELETE action
  -- applied here to the rows pointing into [lower_id, upper_id): events of
  -- later months and conversations rooted there are deleted (and what
  -- cascades from them), enrollments' current and thread message and later
  -- replies' parent are cleared. A key that can do neither (no action on a
  -- NOT NULL column) stops the job.
  for v_fk in
    select c.conname, c.conrelid::regclass as rel, c.confdeltype, a.attname as col, a.attnotnull as not_null
    from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey) and a.attname <> 'tenant_id'
    where c.contype = 'f' and c.confrelid = 'app_public.messages'::regclass and c.conparentid = 0
    order by c.conname
  loop
    if v_fk.confdeltype = 'c' then
      execute format('delete from %s x where x.%I >= $1 and x.%I < $2', v_fk.rel, v_fk.col, v_fk.col) using lower_id, upper_id;
    elsif v_fk.confdeltype = 'n' or not v_fk.not_null then
      -- SET NULL, or no action on a nullable column: on Citus a key declared
      -- ON DELETE SET NULL (column) keeps no action (src/db/citus-distribution.ts).
      -- messages.parent_message_id: only the rows outside the partition (its own go with it).
      execute format('update %s x set %I = null where x.%I >= $1 and x.%I < $2%s', v_fk.rel, v_fk.col, v_fk.col, v_fk.col,
        case when v_fk.rel = 'app_public.messages'::regclass then ' and (x.id < $1 or x.id >= $2)' else '' end) using lower_id, upper_id;
    else
      raise exception 'Foreign key % of % to messages is neither ON DELETE CASCADE nor on a nullable column; retention cannot release a partition it points into.',
        v_fk.conname, v_fk.rel using errcode = 'STATE';
    end if;
    get diagnostics v_n = row_count;
    v_total := v_total + v_n;
  end loop;
  return v_total;
end;
$_$;

COMMENT ON FUNCTION app_private.release_message_partition(lower_id uuid, upper_id uuid) IS 'Before a messages partition is detached: applies the ON DELETE action of every foreign key to messages (from the catalogue) to the rows that point into the partition''s id range (events of later months, conversations rooted there, inbox replies, hand-overs deleted; enrollments'' current and thread message, conversations'' last message and later replies'' parent cleared). Returns how many rows it deleted or changed directly. Campaign statistics are counted when mail is sent and events arrive, so they keep every count.';

CREATE FUNCTION app_private.release_orphaned_dkim_claims() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_claim record;
  v_count integer := 0;
begin
  -- A claim is committed together with its domain, whose insert trigger moves
  -- the key away; a committed claim without a domain comes from an insert that
  -- was skipped (INSERT … ON CONFLICT DO NOTHING): the key goes back to stock.
  -- One claim at a time: each domain lookup names its tenant (one shard on
  -- Citus, which refuses an update of the stock, a reference table, joined
  -- with a distributed table).
  for v_claim in
    select p.id, p.claimed_tenant_id, p.claimed_domain_id from app_private.dkim_key_pool p where p.claimed_domain_id is not null
  loop
    continue when exists (
      select 1 from app_public.domains d where d.tenant_id = v_claim.claimed_tenant_id and d.id = v_claim.claimed_domain_id);
    update app_private.dkim_key_pool p
      set claimed_tenant_id = null, claimed_domain_id = null
      where p.id = v_claim.id and p.claimed_domain_id = v_claim.claimed_domain_id;
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.release_orphaned_dkim_claims() IS 'Returns to the stock keys claimed by domain inserts that did not happen; run by the refill job. Returns how many.';

CREATE FUNCTION app_private.release_orphaned_jobs(pool_id text, known_job_ids bigint[]) RETURNS bigint[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_released bigint[];
begin
  -- A live pool can hold a lock it does not know about: its statement that
  -- fetched (and so locked) jobs committed, and the database went away
  -- before the answer reached it. Nothing runs such a job until
  -- graphile-worker's four-hour lock expiry. The pool's process lists the
  -- jobs it holds (queued locally or running, or completed in the last
  -- minute); any other job locked by the pool for more than 30 s is
  -- unlocked, and so is a job queue it holds no job of any more.
  with released as (
    update graphile_worker._private_jobs j set locked_by = null, locked_at = null
    where j.locked_by = release_orphaned_jobs.pool_id
      and j.locked_at < now() - interval '30 seconds'
      and j.id <> all (coalesce(known_job_ids, '{}'))
    returning j.id
  )
  select coalesce(array_agg(id order by id), '{}') into v_released from released;
  update graphile_worker._private_job_queues q set locked_by = null, locked_at = null
  where q.locked_by = release_orphaned_jobs.pool_id
    and q.locked_at < now() - interval '30 seconds'
    and not exists (select 1 from graphile_worker._private_jobs j where j.locked_by = release_orphaned_jobs.pool_id and j.job_queue_id = q.id);
  return v_released;
end;
$$;

COMMENT ON FUNCTION app_private.release_orphaned_jobs(pool_id text, known_job_ids bigint[]) IS 'Unlocks the jobs (and job queues) a live graphile-worker pool has held locked for over 30 s without knowing it (its fetch committed but the answer was lost to a database restart), given the job ids the pool does know; returns the ids unlocked.';

CREATE FUNCTION app_private.release_webhook_lease(tenant_id uuid, subscription_id uuid, holder text) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  delete from app_private.webhook_delivery_leases l
  where l.tenant_id = release_webhook_lease.tenant_id and l.subscription_id = release_webhook_lease.subscription_id
    and l.holder = release_webhook_lease.holder;
$$;

COMMENT ON FUNCTION app_private.release_webhook_lease(tenant_id uuid, subscription_id uuid, holder text) IS 'Gives back a subscription''s delivery lease, if this holder still has it.';

CREATE FUNCTION app_private.reply_subject(subject text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select left(case when coalesce(subject, '') ~* '^\s*re:' then btrim(subject) else 'Re: ' || coalesce(nullif(btrim(subject), ''), '(no subject)') end, 998);
$$;

COMMENT ON FUNCTION app_private.reply_subject(subject text) IS 'The subject of an answer: "Re: " and the thread''s subject, unless it starts with "Re:" already.';

CREATE FUNCTION app_private.reply_to_send(tenant_id uuid, message_id uuid) RETURNS TABLE(status text, from_name text, subject text, body_text text, reply_html text, in_reply_to text, references_header text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
    select m.status, ea.from_name::text, m.subject, m.body_text, cm.reply_html, m.in_reply_to, m.references_header
    from app_public.messages m
    join app_public.conversation_messages cm on cm.tenant_id = m.tenant_id and cm.message_id = m.id
    left join app_public.email_accounts ea on ea.tenant_id = m.tenant_id and ea.id = m.email_account_id
    where m.tenant_id = reply_to_send.tenant_id and m.id = reply_to_send.message_id
      and m.direction = 'outbound' and m.campaign_id is null;
end;
$$;

COMMENT ON FUNCTION app_private.reply_to_send(tenant_id uuid, message_id uuid) IS 'What the send_reply job puts into a reply: the inbox''s sender name, subject, text and HTML as the member wrote them, and the threading headers.';

CREATE FUNCTION app_private.report_lead_import_progress(tenant_id uuid, import_id uuid, rows_read integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  update app_public.lead_imports i set total_rows = rows_read
  where i.tenant_id = report_lead_import_progress.tenant_id and i.id = report_lead_import_progress.import_id and i.status = 'processing';
end;
$$;

COMMENT ON FUNCTION app_private.report_lead_import_progress(tenant_id uuid, import_id uuid, rows_read integer) IS 'Progress while the file loads: how many rows have been read so far (visible as totalRows).';

CREATE FUNCTION app_private.reputation_results_problem(results jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
  select case
    when jsonb_typeof(results) is distinct from 'array' then 'results must be a JSON array'
    else (
      select format('results[%s]: %s', i - 1, problem)
      from jsonb_array_elements(results) with ordinality e(r, i)
      cross join lateral (select case
        when jsonb_typeof(r) <> 'object' then 'must be an object'
        when coalesce(r ->> 'zone', '') !~ '^[A-Za-z0-9.-]+$' then 'zone must be a DNS zone name'
        when jsonb_typeof(r -> 'listed') not in ('boolean', 'null') or r -> 'listed' is null then 'listed must be true, false or null (lookup failed)'
        when r -> 'listed' = 'null'::jsonb and coalesce(length(r ->> 'error'), 0) = 0 then 'a failed lookup needs an error message'
        when r ? 'return_codes' and jsonb_typeof(r -> 'return_codes') <> 'array' then 'return_codes must be a list'
      end as problem) p
      where p.problem is not null
      order by i
      limit 1
    )
  end;
$_$;

COMMENT ON FUNCTION app_private.reputation_results_problem(results jsonb) IS 'Why a check_ip_reputation result list is malformed (null when fine): [{zone, listed, return_codes, reason, error}].';

CREATE FUNCTION app_private.require_infrastructure_manager() RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if not app_public.current_staff_has_permission('infrastructure.manage') then
    raise exception 'Managing servers, sending IPs and their assignments needs the infrastructure.manage staff permission.' using errcode = 'DNIED';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.require_infrastructure_manager() IS 'Raises DNIED unless the signed-in user is staff with infrastructure.manage.';

CREATE FUNCTION app_private.reset_daily_counts(at timestamp with time zone DEFAULT now()) RETURNS TABLE(inboxes integer, ips integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_inboxes integer;
  v_ips integer;
begin
  update app_public.email_accounts ea
    set daily_count = 0, daily_count_date = app_private.local_day(reset_daily_counts.at, ea.timezone)
    where ea.daily_count_date < app_private.local_day(reset_daily_counts.at, ea.timezone)
       or (ea.daily_count_date is null and ea.daily_count > 0);
  get diagnostics v_inboxes = row_count;
  update app_public.smtp_ip_addresses ip
    set daily_count = 0, daily_count_date = app_private.local_day(reset_daily_counts.at, 'UTC')
    where ip.daily_count_date < app_private.local_day(reset_daily_counts.at, 'UTC')
       or (ip.daily_count_date is null and ip.daily_count > 0);
  get diagnostics v_ips = row_count;
  return query select v_inboxes, v_ips;
end;
$$;

COMMENT ON FUNCTION app_private.reset_daily_counts(at timestamp with time zone) IS 'Starts a new day for every inbox whose local day (its time zone) has moved past daily_count_date, and for every IP on a new UTC day: daily_count back to 0. Returns how many of each were reset.';

CREATE FUNCTION app_private.resolve_interrupted_send(tenant_id uuid, message_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = resolve_interrupted_send.tenant_id and x.id = resolve_interrupted_send.message_id
    for no key update;
  if m.status is distinct from 'sending' then
    return;
  end if;
  if exists (select 1 from app_private.message_handovers h
             where h.tenant_id = m.tenant_id and h.message_id = m.id and h.attempt = m.send_attempts) then
    perform app_private.record_unconfirmed(m.tenant_id, m.id,
      'the worker stopped after writing the end of the message and before the SMTP server answered',
      'Delivery not confirmed: the worker stopped after handing this message to the SMTP server and before the server answered. It was not sent again, because a duplicate is worse than a missing confirmation.');
    return;
  end if;
  -- No mark: the final "." was never written, so the server discarded the
  -- unfinished message (RFC 5321 §4.1.1.4). It goes out again now.
  if m.send_attempts >= app_private.send_max_attempts() then
    perform app_private.record_send_failure(m.tenant_id, m.id,
      format('Not sent: the worker stopped during each of %s attempts, before the SMTP server had the message; check the worker''s logs and resume the sequence by hand if it should still go out.', m.send_attempts));
    return;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'deferred',
    metadata => jsonb_build_object('attempt', m.send_attempts, 'interrupted', true,
      'reason', 'the worker stopped before the SMTP server had the message'));
  update app_public.messages x
    set scheduled_for = app_private.engine_now(),
        error_message = format('Attempt %s was interrupted before the SMTP server had the message (the worker stopped); it is sent again.', m.send_attempts)
    where x.tenant_id = m.tenant_id and x.id = m.id;
end;
$$;

COMMENT ON FUNCTION app_private.resolve_interrupted_send(tenant_id uuid, message_id uuid) IS 'A message left "sending" by a worker that is gone (its send lock is free). With a hand-over mark for its current attempt the server may have it: sent, unconfirmed, never sent again. Without one the server cannot have it: back to queued for now (attempts permitting), so it goes out once.';

CREATE FUNCTION app_private.resume_campaign_row(tenant_id uuid, campaign_id uuid) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_campaign app_public.campaigns;
  v_ids uuid[];
begin
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = resume_campaign_row.tenant_id and c.id = resume_campaign_row.campaign_id;
  if v_campaign.started_at is null then
    if v_campaign.scheduled_for is not null and v_campaign.scheduled_for > app_private.engine_now() then
      update app_public.campaigns c set status = 'scheduled' where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
      perform app_private.queue_campaign_start(v_campaign.tenant_id, v_campaign.id, v_campaign.scheduled_for);
    else
      perform app_private.begin_campaign(v_campaign.tenant_id, v_campaign.id);
    end if;
    return;
  end if;
  update app_public.campaigns c set status = 'sending' where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  -- Everyone still in the sequence picks up where they were (or now, if that
  -- moment passed while paused); new list members join.
  select coalesce(array_agg(e.id), '{}') into v_ids from app_public.campaign_enrollments e
    where e.tenant_id = v_campaign.tenant_id and e.campaign_id = v_campaign.id and e.status = 'active';
  perform app_private.schedule_enrollments(v_campaign.tenant_id, v_ids);
  perform app_private.enroll_campaign_audience(v_campaign.tenant_id, v_campaign.id);
  perform app_private.complete_campaign_if_done(v_campaign.tenant_id, v_campaign.id);
end;
$$;

COMMENT ON FUNCTION app_private.resume_campaign_row(tenant_id uuid, campaign_id uuid) IS 'Resumes a paused campaign: back to scheduled if it has not started and its time is still ahead, else sending with every active enrollment rescheduled and new audience members enrolled.';

CREATE FUNCTION app_private.resume_tenant_campaigns(tenant_id uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_campaign record;
  v_count integer := 0;
begin
  for v_campaign in
    select c.id from app_public.campaigns c
    where c.tenant_id = resume_tenant_campaigns.tenant_id and c.status = 'paused' and c.paused_by = 'system'
      and c.safety_pause is null -- paused for its bounce or complaint rate: only the tenant resumes it
    order by c.created
    for no key update
  loop
    perform app_private.resume_campaign_row(tenant_id, v_campaign.id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.resume_tenant_campaigns(tenant_id uuid) IS 'Resumes the tenant''s campaigns that the system paused (not those a user paused, nor those paused for their bounce or complaint rate). Returns how many were resumed.';

CREATE FUNCTION app_private.retention_days(key text, fallback integer) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_days integer;
begin
  select case when jsonb_typeof(c.value) = 'number' then (c.value #>> '{}')::numeric::integer end into v_days
    from app_public.system_config c where c.key = retention_days.key;
  return greatest(coalesce(v_days, fallback), 31);
end;
$$;

COMMENT ON FUNCTION app_private.retention_days(key text, fallback integer) IS 'A retention period in days from system_config (the fallback when unset or not a number), never under 31 days (a month, so the current partition is never dropped).';

CREATE FUNCTION app_private.revoke_sessions(user_id uuid, reason text, keep_session_id uuid DEFAULT NULL::uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.revoke_sessions(user_id uuid, reason text, keep_session_id uuid) IS 'Ends every open session of a user (but keep_session_id, if given); their tokens are refused from the next request on. Returns how many were open.';

CREATE FUNCTION app_private.roll_over_due_periods(at timestamp with time zone DEFAULT now(), batch_size integer DEFAULT 1000) RETURNS TABLE(tenant_id uuid, periods_closed integer, error text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant uuid;
begin
  for v_tenant in
    select up.tenant_id from app_public.usage_periods up
    where up.closed_at is null and up.period_end <= at
    order by up.period_end
    limit batch_size
  loop
    tenant_id := v_tenant;
    begin
      periods_closed := app_private.roll_over_tenant(v_tenant, at);
      error := null;
    exception when others then
      periods_closed := 0;
      error := sqlerrm;
    end;
    return next;
  end loop;
end;
$$;

COMMENT ON FUNCTION app_private.roll_over_due_periods(at timestamp with time zone, batch_size integer) IS 'Rolls over every tenant whose open usage period has ended (one subtransaction per tenant, so one failure does not hold back the others); returns what happened per tenant.';

CREATE FUNCTION app_private.roll_over_tenant(tenant_id uuid, at timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_period app_public.usage_periods;
  v_sub app_public.subscriptions;
  v_closed integer := 0;
  v_next timestamptz;
  v_next_end timestamptz;
begin
  loop
    select up.* into v_period from app_public.usage_periods up
      where up.tenant_id = roll_over_tenant.tenant_id and up.closed_at is null
      for update;
    exit when v_period.id is null or v_period.period_end > at;
    v_next := v_period.period_end;
    -- As a value: Citus refuses a non-immutable function inside CASE in an
    -- UPDATE of a distributed table.
    v_next_end := app_private.add_billing_period(v_next);
    select s.* into v_sub from app_public.subscriptions s
      where s.tenant_id = roll_over_tenant.tenant_id and s.status <> 'canceled'
      for update;

    if v_sub.id is not null and v_sub.cancel_at_period_end then
      -- Ends the subscription, closes this period and opens the Free one.
      perform app_private.end_subscription(v_sub.tenant_id, v_sub.id, v_next);
    else
      if v_sub.id is not null then
        update app_public.subscriptions s set
            plan_id = coalesce(s.pending_plan_id, s.plan_id),
            pending_plan_id = null,
            -- Stripe moves the period of the subscriptions it bills (webhooks);
            -- ours move here.
            current_period_start = case when s.current_period_end <= v_next then v_next else s.current_period_start end,
            current_period_end = case when s.current_period_end <= v_next then v_next_end else s.current_period_end end
          where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
      end if;
      perform app_private.close_usage_period(v_period.tenant_id, v_period.id, v_next);
      if v_sub.id is null then
        -- Cannot normally happen (see the top of this file); heal it.
        insert into app_public.subscriptions (tenant_id, plan_id, status, current_period_start, current_period_end)
          values (v_period.tenant_id, (app_private.fallback_plan()).id, 'active', v_next, app_private.add_billing_period(v_next))
          returning * into v_sub;
      end if;
      perform app_private.start_usage_period(v_sub.tenant_id, v_sub.id, v_next);
    end if;
    v_closed := v_closed + 1;
  end loop;
  return v_closed;
end;
$$;

COMMENT ON FUNCTION app_private.roll_over_tenant(tenant_id uuid, at timestamp with time zone) IS 'Closes every usage period of the tenant that ended by `at` (final figures recorded), applies the pending plan, ends subscriptions set to cancel at period end (falling back to Free), and opens the next period. Idempotent, safe to run late (catches up period by period) and concurrently (the open period row is locked).';

CREATE FUNCTION app_private.rollout_bucket(flag_key text, tenant_id uuid) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- md5 is stable across PostgreSQL versions and platforms (hashtext is not documented to be).
  select (('x' || substr(md5(flag_key || ':' || tenant_id::text), 1, 8))::bit(32)::bigint % 100)::integer;
$$;

COMMENT ON FUNCTION app_private.rollout_bucket(flag_key text, tenant_id uuid) IS 'A tenant''s stable bucket (0–99) for one flag: the same tenant always lands in the same bucket for that flag.';

CREATE FUNCTION app_private.run_enrollment(tenant_id uuid, enrollment_id uuid) RETURNS TABLE(action text, message_id uuid, run_at timestamp with time zone, detail text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_now timestamptz := app_private.engine_now();
  e app_public.campaign_enrollments;
  c app_public.campaigns;
  l app_public.leads;
  s app_public.campaign_sequence_steps;
  m app_public.messages;
  v_until timestamptz;
  v_next integer;
  v_block text;
  v_guard integer := 0;
begin
  select x.* into e from app_public.campaign_enrollments x
    where x.tenant_id = run_enrollment.tenant_id and x.id = run_enrollment.enrollment_id
    for no key update;
  if e.id is null then
    return query select 'stopped'::text, null::uuid, null::timestamptz, 'the enrollment no longer exists'::text;
    return;
  end if;
  if e.status <> 'active' then
    return query select 'stopped'::text, null::uuid, null::timestamptz, format('the enrollment is %s', e.status);
    return;
  end if;
  select x.* into c from app_public.campaigns x where x.tenant_id = e.tenant_id and x.id = e.campaign_id;
  if c.status <> 'sending' then
    -- Paused, scheduled or over: resume_campaign reschedules it.
    return query select 'idle'::text, null::uuid, null::timestamptz, format('the campaign is %s', c.status);
    return;
  end if;
  select x.* into l from app_public.leads x where x.tenant_id = e.tenant_id and x.id = e.lead_id;

  loop
    v_guard := v_guard + 1;
    if v_guard > 200 then
      perform app_private.stop_enrollment(e.tenant_id, e.id, 'failed',
        'The sequence ran more than 200 steps without waiting or sending; check its condition jumps.');
      return query select 'stopped'::text, null::uuid, null::timestamptz, 'the sequence loops'::text;
      return;
    end if;

    -- The message of the current step, if one is booked or on its way.
    if e.current_message_id is not null then
      select x.* into m from app_public.messages x where x.tenant_id = e.tenant_id and x.id = e.current_message_id;
      if m.status = 'queued' then
        if m.scheduled_for > v_now then
          perform app_private.schedule_enrollment(e.tenant_id, e.id, m.scheduled_for);
          return query select 'wait'::text, m.id, m.scheduled_for, 'the message is booked for later'::text;
          return;
        end if;
        if m.scheduled_for is null or m.scheduled_for < v_now - interval '10 minutes'
           or not exists (select 1 from app_public.email_accounts ea
                          where ea.tenant_id = e.tenant_id and ea.id = m.email_account_id and ea.status = 'active') then
          -- Its slot went by (paused, plan limit, outage), or its inbox stopped
          -- sending meanwhile (repeated SMTP login failures): book a fresh one,
          -- which waits while the inbox cannot send.
          return query select * from app_private.email_step_action(e.tenant_id, e.id, m.step_id, v_now);
          return;
        end if;
        return query select 'send'::text, m.id, m.scheduled_for, null::text;
        return;
      elsif m.status = 'sending' then
        -- Free lock: the worker that claimed it died between claiming and
        -- recording the outcome. Never send twice: see resolve_interrupted_send.
        if pg_try_advisory_xact_lock(app_private.send_lock_key(m.id)) then
          perform app_private.resolve_interrupted_send(e.tenant_id, m.id);
          select x.* into e from app_public.campaign_enrollments x where x.tenant_id = e.tenant_id and x.id = e.id;
          continue;
        end if;
        return query select 'busy'::text, m.id, null::timestamptz, 'another worker is handing this message to the SMTP server'::text;
        return;
      elsif m.status in ('sent', 'delivered', 'opened', 'clicked', 'replied') then
        perform app_private.advance_after_send(e.tenant_id, m.id);
        select x.* into e from app_public.campaign_enrollments x where x.tenant_id = e.tenant_id and x.id = e.id;
        continue;
      else
        perform app_private.stop_enrollment(e.tenant_id, e.id,
          case m.status when 'bounced' then 'bounced' when 'failed' then 'failed' else 'cancelled' end,
          coalesce(m.error_message, format('Its message was %s.', coalesce(m.status, 'deleted'))));
        return query select 'stopped'::text, m.id, null::timestamptz, format('its message was %s', coalesce(m.status, 'deleted'));
        return;
      end if;
    end if;

    select x.* into s from app_public.campaign_sequence_steps x
      where x.tenant_id = e.tenant_id and x.campaign_id = e.campaign_id and x.step_order >= e.current_step_order and x.is_active
      order by x.step_order
      limit 1;
    if s.id is null then
      perform app_private.stop_enrollment(e.tenant_id, e.id, 'completed', null);
      return query select 'done'::text, null::uuid, null::timestamptz, 'the sequence is complete'::text;
      return;
    end if;

    if s.step_type = 'wait' then
      v_until := coalesce(s.wait_until, v_now + make_interval(hours => s.wait_duration_hours));
      update app_public.campaign_enrollments x
        set current_step_order = s.step_order + 1, steps_completed = x.steps_completed + 1
        where x.tenant_id = e.tenant_id and x.id = e.id
        returning * into e;
      update app_public.campaign_sequence_steps x set executed_count = x.executed_count + 1, last_executed_at = v_now
        where x.tenant_id = s.tenant_id and x.id = s.id;
      if v_until > v_now then
        perform app_private.schedule_enrollment(e.tenant_id, e.id, v_until);
        return query select 'wait'::text, null::uuid, v_until, format('step %s waits', s.step_order);
        return;
      end if;

    elsif s.step_type = 'condition' then
      if app_private.condition_holds(e.tenant_id, e.campaign_id, e.lead_id, s.condition_type) then
        v_next := s.step_order + 1;
      elsif coalesce(s.condition_value, 'stop') = 'stop' then
        update app_public.campaign_sequence_steps x set executed_count = x.executed_count + 1, last_executed_at = v_now
          where x.tenant_id = s.tenant_id and x.id = s.id;
        perform app_private.stop_enrollment(e.tenant_id, e.id, 'completed',
          format('Step %s: the condition "%s" was not met, so the sequence stopped there.', s.step_order, replace(s.condition_type, '_', ' ')));
        return query select 'done'::text, null::uuid, null::timestamptz, format('condition at step %s not met', s.step_order);
        return;
      elsif s.condition_value = 'skip' then
        v_next := s.step_order + 2;
      else
        v_next := s.condition_value::integer;
      end if;
      update app_public.campaign_enrollments x
        set current_step_order = v_next, steps_completed = x.steps_completed + 1
        where x.tenant_id = e.tenant_id and x.id = e.id
        returning * into e;
      update app_public.campaign_sequence_steps x set executed_count = x.executed_count + 1, last_executed_at = v_now
        where x.tenant_id = s.tenant_id and x.id = s.id;

    else -- email
      select x.* into l from app_public.leads x where x.tenant_id = e.tenant_id and x.id = e.lead_id;
      v_block := app_private.lead_block_reason(l.tenant_id, l.email::text, l.status);
      if v_block is not null then
        perform app_private.stop_enrollment(e.tenant_id, e.id, 'cancelled', format('Not sent: %s.', v_block));
        return query select 'stopped'::text, null::uuid, null::timestamptz, v_block;
        return;
      end if;
      return query select * from app_private.email_step_action(e.tenant_id, e.id, s.id, v_now);
      return;
    end if;
  end loop;
end;
$$;

COMMENT ON FUNCTION app_private.run_enrollment(tenant_id uuid, enrollment_id uuid) IS 'The campaign_step job''s decision: runs an enrollment''s sequence from its current step until it must send (returns the message), wait (already rescheduled), or stop. Never sends a message that another worker claimed and may have handed to SMTP.';

CREATE FUNCTION app_private.schedule_enrollment(tenant_id uuid, enrollment_id uuid, at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.schedule_enrollments(tenant_id, array[enrollment_id], at);
end;
$$;

COMMENT ON FUNCTION app_private.schedule_enrollment(tenant_id uuid, enrollment_id uuid, at timestamp with time zone) IS 'Schedules one enrollment''s next action at an engine time (default: now), replacing its pending job.';

CREATE FUNCTION app_private.schedule_enrollments(tenant_id uuid, enrollment_ids uuid[], at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_at timestamptz := coalesce(at, app_private.engine_now());
  v_active uuid[];
  v_count integer;
begin
  if coalesce(cardinality(enrollment_ids), 0) = 0 then
    return 0;
  end if;
  update app_public.campaign_enrollments e set next_run_at = v_at
    where e.tenant_id = schedule_enrollments.tenant_id and e.id = any (enrollment_ids) and e.status = 'active';
  -- The active ones are read first and their jobs built apart: graphile-worker's
  -- queue is on the coordinator, and a query over the enrollments runs on
  -- their shard on Citus.
  select coalesce(array_agg(e.id), '{}') into v_active from app_public.campaign_enrollments e
    where e.tenant_id = schedule_enrollments.tenant_id and e.id = any (enrollment_ids) and e.status = 'active';
  v_count := cardinality(v_active);
  if v_count > 1 then
    -- add_jobs below updates the enrollments' jobs that are running (clearing
    -- their key). Lock those rows first in ascending id order, the order in
    -- which the worker deletes completed jobs in a batch (src/worker/runner.ts):
    -- two transactions taking the same rows in different orders deadlock.
    perform 1 from graphile_worker._private_jobs j
      where j.key = any (array(select app_private.enrollment_job_key(x) from unnest(v_active) x))
      order by j.id
      for update;
  end if;
  perform graphile_worker.add_jobs(array(
    select row('campaign_step', json_build_object('tenant_id', schedule_enrollments.tenant_id, 'enrollment_id', x),
               null::text, app_private.engine_run_at(v_at), 10::smallint, app_private.enrollment_job_key(x),
               null::smallint, null::text[])::graphile_worker.job_spec
    from unnest(v_active) x
  ));
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_private.schedule_enrollments(tenant_id uuid, enrollment_ids uuid[], at timestamp with time zone) IS 'Sets next_run_at of active enrollments and (re)places their campaign_step job at that engine time (default: now). Returns how many were scheduled.';

CREATE FUNCTION app_private.send_lock_key(message_id uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select hashtextextended('penguinmails:send:' || message_id::text, 0);
$$;

COMMENT ON FUNCTION app_private.send_lock_key(message_id uuid) IS 'The advisory lock a worker holds (session level) while it hands a message to the SMTP server; free while the message is "sending" means that worker is gone.';

CREATE FUNCTION app_private.send_max_attempts() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select 6;
$$;

COMMENT ON FUNCTION app_private.send_max_attempts() IS 'SMTP attempts per message before a temporary failure becomes final.';

CREATE FUNCTION app_private.send_retry_delay(attempt integer) RETURNS interval
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select least(interval '5 minutes' * power(2, greatest(attempt, 1) - 1), interval '6 hours');
$$;

COMMENT ON FUNCTION app_private.send_retry_delay(attempt integer) IS 'Exponential backoff after the n-th deferred attempt: 5 min, 10, 20, 40, 80 min…, at most 6 hours.';

CREATE FUNCTION app_private.session_claims(for_user uuid, in_tenant uuid) RETURNS TABLE(role text, user_id uuid, tenant_id uuid, expires_at timestamp with time zone)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  select
    case when exists (select 1 from app_public.staff_members sm where sm.user_id = for_user) then 'staff' else 'member' end,
    for_user,
    in_tenant,
    now() + make_interval(hours => coalesce(
      (select p.session_timeout_hours from app_public.tenant_policies p where p.tenant_id = in_tenant), 8));
end;
$$;

COMMENT ON FUNCTION app_private.session_claims(for_user uuid, in_tenant uuid) IS 'The claims of a session for a user in a tenant; it lasts the tenant''s session_timeout_hours.';

CREATE FUNCTION app_private.set_engine_clock(at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if at is null then
    raise exception 'Say which instant the engine clock should show.' using errcode = 'INVAL';
  end if;
  return app_private.advance_engine_clock(at - app_private.engine_now());
end;
$$;

COMMENT ON FUNCTION app_private.set_engine_clock(at timestamp with time zone) IS 'Sets the sending engine''s clock to an instant (tests and drills only), moving its pending jobs along.';

CREATE FUNCTION app_private.set_payment_state(tenant_id uuid, subscription_id uuid, status text, at timestamp with time zone) RETURNS app_public.subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_before app_public.subscriptions;
  v_after app_public.subscriptions;
begin
  if status not in ('active', 'past_due', 'unpaid') then
    raise exception 'Payment state must be active, past_due or unpaid, not "%".', status using errcode = 'INVAL';
  end if;
  select s.* into v_before from app_public.subscriptions s
    where s.tenant_id = set_payment_state.tenant_id and s.id = set_payment_state.subscription_id
    for update;
  -- Only a payment lifts "unpaid": a later "past_due" from Stripe does not.
  if v_before.id is null or v_before.status = 'canceled' or v_before.status = status
     or (v_before.status = 'unpaid' and status = 'past_due') then
    return v_before;
  end if;
  update app_public.subscriptions s set
      status = set_payment_state.status,
      past_due_since = case when set_payment_state.status = 'active' then null else coalesce(s.past_due_since, at) end
    where s.tenant_id = v_before.tenant_id and s.id = v_before.id
    returning * into v_after;
  if status = 'unpaid' then
    perform app_private.pause_tenant_campaigns(v_after.tenant_id, format(
      'Payment overdue since %s: sending is suspended until the open invoice is paid.',
      to_char(v_after.past_due_since at time zone 'UTC', 'YYYY-MM-DD')));
  elsif status = 'active' and v_before.status = 'unpaid' then
    perform app_private.resume_tenant_campaigns(v_after.tenant_id);
  end if;
  return v_after;
end;
$$;

COMMENT ON FUNCTION app_private.set_payment_state(tenant_id uuid, subscription_id uuid, status text, at timestamp with time zone) IS 'Moves a subscription between active, past_due and unpaid: past_due_since is set on the first missed payment and cleared by a payment; becoming unpaid pauses the tenant''s campaigns, and a payment that ends "unpaid" resumes what that pause stopped. Canceled subscriptions are left alone, and only a payment lifts "unpaid".';

CREATE FUNCTION app_private.set_read(tenant_id uuid, conversation_id uuid, message_id uuid, read boolean) RETURNS app_public.conversations
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  -- Values: Citus takes no function call over a row's columns in an UPDATE.
  v_read_at timestamptz := case when coalesce(set_read.read, true) then now() end;
  v_conversation app_public.conversations;
begin
  if v_read_at is null then
    update app_public.conversation_messages cm set read_at = null
      where cm.tenant_id = set_read.tenant_id and cm.conversation_id = set_read.conversation_id
        and (set_read.message_id is null or cm.message_id = set_read.message_id) and cm.direction = 'inbound';
  else
    update app_public.conversation_messages cm set read_at = v_read_at
      where cm.tenant_id = set_read.tenant_id and cm.conversation_id = set_read.conversation_id
        and (set_read.message_id is null or cm.message_id = set_read.message_id) and cm.direction = 'inbound'
        and cm.read_at is null;
  end if;
  perform app_private.refresh_conversation(set_read.tenant_id, set_read.conversation_id);
  select c.* into v_conversation from app_public.conversations c
    where c.tenant_id = set_read.tenant_id and c.id = set_read.conversation_id;
  return v_conversation;
end;
$$;

COMMENT ON FUNCTION app_private.set_read(tenant_id uuid, conversation_id uuid, message_id uuid, read boolean) IS 'Marks the lead''s messages of a conversation (all, or one) read or unread and returns the conversation with its new unread count.';

CREATE FUNCTION app_private.smtp_auth_failure_limit() RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select 3;
$$;

COMMENT ON FUNCTION app_private.smtp_auth_failure_limit() IS 'Refused SMTP logins in a row after which an inbox stops sending until it is resumed.';

CREATE FUNCTION app_private.spend_lockless_budget(budget_key text, amount bigint) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select set_config('penguinmails.usage_lockless',
    jsonb_set(coalesce(nullif(current_setting('penguinmails.usage_lockless', true), ''), '{}')::jsonb, array[budget_key],
              to_jsonb(coalesce((nullif(current_setting('penguinmails.usage_lockless', true), '')::jsonb ->> budget_key)::bigint, 0) + amount))::text,
    true);
$$;

COMMENT ON FUNCTION app_private.spend_lockless_budget(budget_key text, amount bigint) IS 'Records, for the rest of the transaction, that `amount` was added to `budget_key` under the shared lock.';

CREATE FUNCTION app_private.staff_permissions_of(user_id uuid) RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.staff_permissions_of(user_id uuid) IS 'The platform permissions the user''s staff role grants (empty for non-staff or deleted users).';

CREATE FUNCTION app_private.start_lead_import(tenant_id uuid, import_id uuid) RETURNS app_public.lead_imports
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_import app_public.lead_imports;
  v_now timestamptz := now(); -- a value: Citus refuses now() inside coalesce in an UPDATE
begin
  update app_public.lead_imports i set status = 'processing', started_at = coalesce(i.started_at, v_now),
      total_rows = 0, imported_rows = 0, updated_rows = 0, skipped_rows = 0, errors = '[]'
    where i.tenant_id = start_lead_import.tenant_id and i.id = start_lead_import.import_id
      and i.status in ('pending', 'processing')
    returning * into v_import;
  return v_import;
end;
$$;

COMMENT ON FUNCTION app_private.start_lead_import(tenant_id uuid, import_id uuid) IS 'Marks an import as processing (a retry of an interrupted one starts over); null when it is already completed or failed.';

CREATE FUNCTION app_private.start_scheduled_campaign(tenant_id uuid, campaign_id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_status text;
begin
  select c.status into v_status from app_public.campaigns c
    where c.tenant_id = start_scheduled_campaign.tenant_id and c.id = start_scheduled_campaign.campaign_id
    for no key update;
  if v_status is distinct from 'scheduled' then
    -- Paused or cancelled in the meantime: resume_campaign takes it from there.
    return coalesce(v_status, 'missing');
  end if;
  if (select c.scheduled_for from app_public.campaigns c
      where c.tenant_id = start_scheduled_campaign.tenant_id and c.id = start_scheduled_campaign.campaign_id) > app_private.engine_now() then
    return 'scheduled'; -- moved later meanwhile; its job was moved too
  end if;
  perform app_private.begin_campaign(tenant_id, campaign_id);
  return 'sending';
end;
$$;

COMMENT ON FUNCTION app_private.start_scheduled_campaign(tenant_id uuid, campaign_id uuid) IS 'The campaign_start job: a scheduled campaign whose time has come starts sending (nothing happens if it was paused or cancelled meanwhile).';

CREATE TABLE app_public.usage_periods (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    subscription_id uuid,
    plan_id uuid,
    period_start timestamp with time zone NOT NULL,
    period_end timestamp with time zone NOT NULL,
    closed_at timestamp with time zone,
    emails_sent bigint,
    campaigns_started integer,
    warmups integer,
    contacts integer,
    domains integer,
    email_accounts integer,
    users integer,
    CONSTRAINT usage_periods_campaigns_started_check CHECK ((campaigns_started >= 0)),
    CONSTRAINT usage_periods_check CHECK ((period_end > period_start)),
    CONSTRAINT usage_periods_contacts_check CHECK ((contacts >= 0)),
    CONSTRAINT usage_periods_domains_check CHECK ((domains >= 0)),
    CONSTRAINT usage_periods_email_accounts_check CHECK ((email_accounts >= 0)),
    CONSTRAINT usage_periods_emails_sent_check CHECK ((emails_sent >= 0)),
    CONSTRAINT usage_periods_users_check CHECK ((users >= 0)),
    CONSTRAINT usage_periods_warmups_check CHECK ((warmups >= 0))
);

ALTER TABLE ONLY app_public.usage_periods FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.usage_periods IS 'One row per tenant and billing period; closed periods keep the final usage figures.';

CREATE FUNCTION app_private.start_usage_period(tenant_id uuid, subscription_id uuid, starts_at timestamp with time zone) RETURNS app_public.usage_periods
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_sub app_public.subscriptions;
  v_period app_public.usage_periods;
  v_end timestamptz;
begin
  select s.* into v_sub from app_public.subscriptions s
    where s.tenant_id = start_usage_period.tenant_id and s.id = start_usage_period.subscription_id;
  -- The end as a value: Citus refuses a non-immutable function inside CASE.
  v_end := case when v_sub.current_period_end > starts_at then v_sub.current_period_end
                else app_private.add_billing_period(starts_at) end;
  insert into app_public.usage_periods (tenant_id, subscription_id, plan_id, period_start, period_end)
    values (start_usage_period.tenant_id, v_sub.id, v_sub.plan_id, starts_at, v_end)
    returning * into v_period;
  return v_period;
end;
$$;

COMMENT ON FUNCTION app_private.start_usage_period(tenant_id uuid, subscription_id uuid, starts_at timestamp with time zone) IS 'Opens the tenant''s next usage period at starts_at, ending with the subscription''s current period (or a month later if that has already passed).';

CREATE FUNCTION app_private.stop_enrollment(tenant_id uuid, enrollment_id uuid, status text, reason text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  update app_public.campaign_enrollments e
    set status = stop_enrollment.status, stop_reason = stop_enrollment.reason, next_run_at = null, completed_at = app_private.engine_now()
    where e.tenant_id = stop_enrollment.tenant_id and e.id = stop_enrollment.enrollment_id and e.status in ('active', 'paused');
end;
$$;

COMMENT ON FUNCTION app_private.stop_enrollment(tenant_id uuid, enrollment_id uuid, status text, reason text) IS 'Ends an active enrollment with a status (completed, failed, cancelled…) and the reason.';

CREATE FUNCTION app_private.store_oauth_access(tenant_id uuid, email_account_id uuid, access_token_encrypted bytea, access_expires_at timestamp with time zone, refresh_token_encrypted bytea) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
begin
  update app_private.email_account_credentials cr
    set oauth_access_token_encrypted = store_oauth_access.access_token_encrypted,
        oauth_access_expires_at = store_oauth_access.access_expires_at,
        oauth_refresh_token_encrypted = coalesce(store_oauth_access.refresh_token_encrypted, cr.oauth_refresh_token_encrypted),
        updated = v_now
    where cr.tenant_id = store_oauth_access.tenant_id and cr.email_account_id = store_oauth_access.email_account_id
      and cr.oauth_refresh_token_encrypted is not null;
end;
$$;

COMMENT ON FUNCTION app_private.store_oauth_access(tenant_id uuid, email_account_id uuid, access_token_encrypted bytea, access_expires_at timestamp with time zone, refresh_token_encrypted bytea) IS 'Stores a renewed access token (and the refresh token when the provider rotated it) of a still connected inbox.';

CREATE FUNCTION app_private.stripe_event_is_newer(sub app_public.subscriptions, created timestamp with time zone) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select sub.stripe_updated_at is null or created >= sub.stripe_updated_at;
$$;

COMMENT ON FUNCTION app_private.stripe_event_is_newer(sub app_public.subscriptions, created timestamp with time zone) IS 'True when an event created at `created` is not older than the last Stripe event applied to the subscription.';

CREATE FUNCTION app_private.stripe_subscription_for(customer_id text, stripe_subscription_id text, link boolean) RETURNS app_public.subscriptions
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_sub app_public.subscriptions;
  v_tenants uuid[];
begin
  if stripe_subscription_id is not null then
    -- Found across tenants, then locked by its key: Citus locks rows only in
    -- a query that names its tenant.
    select s.* into v_sub from app_public.subscriptions s
      where s.stripe_subscription_id = stripe_subscription_for.stripe_subscription_id
      order by (s.status = 'canceled'), s.created desc
      limit 1;
    if v_sub.id is not null then
      select s.* into v_sub from app_public.subscriptions s
        where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
        for update;
      return v_sub;
    end if;
  end if;
  if customer_id is null then
    return null;
  end if;
  select array_agg(tc.tenant_id) into v_tenants from app_public.tenant_config tc where tc.stripe_customer_id = customer_id;
  if cardinality(v_tenants) > 1 then
    raise exception 'Stripe customer % belongs to % tenants; it must belong to one.', customer_id, cardinality(v_tenants) using errcode = 'STATE';
  end if;
  if v_tenants is null then
    return null;
  end if;
  select s.* into v_sub from app_public.subscriptions s
    where s.tenant_id = v_tenants[1] and s.status <> 'canceled'
    for update;
  if link and v_sub.id is not null and v_sub.stripe_subscription_id is null and stripe_subscription_id is not null then
    update app_public.subscriptions s set stripe_subscription_id = stripe_subscription_for.stripe_subscription_id
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_sub;
  end if;
  return v_sub;
end;
$$;

COMMENT ON FUNCTION app_private.stripe_subscription_for(customer_id text, stripe_subscription_id text, link boolean) IS 'The subscription a Stripe event is about (locked): by Stripe subscription id, else the current subscription of the tenant owning the Stripe customer (linked to the Stripe subscription when `link` is set). Null for unknown customers.';

CREATE FUNCTION app_private.stripe_subscription_status(stripe_status text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return case stripe_status
    when 'active' then 'active'
    when 'trialing' then 'active'
    when 'past_due' then 'past_due'
    when 'incomplete' then 'past_due'
    when 'unpaid' then 'unpaid'
    when 'paused' then 'unpaid'
    when 'canceled' then 'canceled'
    when 'incomplete_expired' then 'canceled'
  end;
end;
$$;

COMMENT ON FUNCTION app_private.stripe_subscription_status(stripe_status text) IS 'Our status for a Stripe subscription status: trialing counts as active, incomplete as past_due (first payment pending), paused as unpaid, incomplete_expired as canceled; null when unknown.';

CREATE FUNCTION app_private.stripe_sync_state(for_tenant uuid, for_subscription uuid) RETURNS TABLE(tenant_id uuid, tenant_name text, billing_email text, stripe_customer_id text, subscription_id uuid, status text, stripe_subscription_id text, price_id text, proration_behavior text, cancel_at_period_end boolean, version text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  select s.tenant_id, t.name, coalesce(tc.billing_email, owner.email)::text, tc.stripe_customer_id,
         s.id, s.status, s.stripe_subscription_id,
         coalesce(pp.stripe_price_id, p.stripe_price_id),
         -- A scheduled downgrade is billed from the next invoice, without proration.
         case when s.pending_plan_id is not null then 'none' else 'create_prorations' end,
         s.cancel_at_period_end,
         to_char(s.updated at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
  from app_public.subscriptions s
  join app_public.tenants t on t.id = s.tenant_id
  join app_public.plans p on p.id = s.plan_id
  left join app_public.plans pp on pp.id = s.pending_plan_id
  left join app_public.tenant_config tc on tc.tenant_id = s.tenant_id
  left join lateral (
    select u.email from app_public.tenant_users tu join app_public.users u on u.id = tu.user_id
    where tu.tenant_id = s.tenant_id and tu.deleted_at is null and 'owner' = any (tu.roles)
    order by tu.created limit 1
  ) owner on true
  where s.tenant_id = stripe_sync_state.for_tenant and s.id = stripe_sync_state.for_subscription;
end;
$$;

COMMENT ON FUNCTION app_private.stripe_sync_state(for_tenant uuid, for_subscription uuid) IS 'What Stripe should hold for a subscription: customer, price (of the pending plan if a downgrade is scheduled), proration, cancel_at_period_end, or cancellation; `version` changes whenever the row does (idempotency keys).';

CREATE FUNCTION app_private.stripe_time(seconds text) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
  select case when seconds ~ '^[0-9]{1,12}$' then to_timestamp(seconds::bigint) end;
$_$;

COMMENT ON FUNCTION app_private.stripe_time(seconds text) IS 'A Stripe timestamp (Unix seconds) as timestamptz; null when absent or malformed.';

CREATE FUNCTION app_private.suppress_lead(tenant_id uuid, lead_id uuid, reason text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_email citext;
  v_lead_status text := case reason when 'unsubscribed' then 'unsubscribed' when 'bounced' then 'bounced'
                                     when 'complained' then 'complained' else 'do_not_contact' end;
  v_now timestamptz := now();
begin
  update app_public.leads l set
      status = v_lead_status,
      unsubscribed_at = case when reason = 'unsubscribed' then coalesce(l.unsubscribed_at, v_now) else l.unsubscribed_at end,
      bounced_at = case when reason = 'bounced' then coalesce(l.bounced_at, v_now) else l.bounced_at end
    where l.tenant_id = suppress_lead.tenant_id and l.id = suppress_lead.lead_id
    returning l.email into v_email;
  if v_email is null then
    return;
  end if;
  insert into app_public.suppressions (tenant_id, email, reason)
    values (suppress_lead.tenant_id, v_email, reason)
  on conflict (tenant_id, email) do nothing;
  update app_public.campaign_enrollments e set status = reason, stop_reason = reason, next_run_at = null, completed_at = now()
    where e.tenant_id = suppress_lead.tenant_id and e.lead_id = suppress_lead.lead_id and e.status in ('active', 'paused')
      and reason in ('unsubscribed', 'bounced');
  update app_public.campaign_enrollments e set status = 'cancelled', stop_reason = reason, next_run_at = null, completed_at = now()
    where e.tenant_id = suppress_lead.tenant_id and e.lead_id = suppress_lead.lead_id and e.status in ('active', 'paused');
  update app_public.messages m set status = 'cancelled', error_message = 'Recipient is suppressed (' || reason || ').'
    where m.tenant_id = suppress_lead.tenant_id and m.lead_id = suppress_lead.lead_id and m.direction = 'outbound' and m.status = 'queued';
end;
$$;

COMMENT ON FUNCTION app_private.suppress_lead(tenant_id uuid, lead_id uuid, reason text) IS 'Marks a lead unsubscribed/bounced/complained, adds its address to the suppression list, ends its active enrollments and cancels its queued messages.';

CREATE TABLE app_private.dkim_key_pool (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    public_key text NOT NULL,
    private_key_encrypted bytea NOT NULL,
    key_bits integer NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    claimed_tenant_id uuid,
    claimed_domain_id uuid,
    CONSTRAINT dkim_key_pool_check CHECK (((claimed_tenant_id IS NULL) = (claimed_domain_id IS NULL))),
    CONSTRAINT dkim_key_pool_key_bits_check CHECK ((key_bits >= 2048)),
    CONSTRAINT dkim_key_pool_public_key_check CHECK ((public_key ~ '^[A-Za-z0-9+/]+={0,2}$'::text))
);

ALTER TABLE ONLY app_private.dkim_key_pool FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.dkim_key_pool IS 'Pre-generated DKIM key pairs (private key sealed like domain_dkim_keys) waiting for a new domain; a domain insert claims one and moves it to domain_dkim_keys.';

COMMENT ON COLUMN app_private.dkim_key_pool.claimed_domain_id IS 'Set by the domain insert that took this key, in the same statement that moves it to domain_dkim_keys.';

CREATE FUNCTION app_private.take_dkim_key(tenant_id uuid, domain_id uuid) RETURNS app_private.dkim_key_pool
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_key app_private.dkim_key_pool;
begin
  -- On a Citus worker node (a domain inserted there, by its shard's trigger)
  -- the stock, a reference table, cannot be written: no key is taken and the
  -- domain gets one from the generate_dkim_key job.
  if not app_private.on_coordinator() then
    return null;
  end if;
  update app_private.dkim_key_pool p
    set claimed_tenant_id = take_dkim_key.tenant_id, claimed_domain_id = take_dkim_key.domain_id
    where p.id = (
      select q.id from app_private.dkim_key_pool q
      where q.claimed_domain_id is null
      order by q.created
      limit 1
      for update skip locked
    )
    returning p.* into v_key;
  perform app_private.queue_dkim_pool_refill();
  return v_key;
end;
$$;

COMMENT ON FUNCTION app_private.take_dkim_key(tenant_id uuid, domain_id uuid) IS 'Claims the oldest unclaimed stocked DKIM key for a domain (null when the stock is empty) and asks for a refill.';

CREATE FUNCTION app_private.tenant_closure_grace() RETURNS interval
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select interval '30 days';
$$;

COMMENT ON FUNCTION app_private.tenant_closure_grace() IS 'How long a closed organisation can be reopened before its data is deleted.';

CREATE FUNCTION app_private.tenant_purge_plan() RETURNS TABLE(step text, schema_name text, table_name text, columns text[])
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_left oid[];
  v_ready oid[];
  v_order oid[] := '{}';
  v_released oid[] := '{}';
  v_loose oid[];
begin
  -- Every table of ours with a tenant_id column (partitions through their
  -- parent), but the billing records that stay.
  select array_agg(c.oid) into v_left
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
    where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p') and not c.relispartition
      and (n.nspname, c.relname) not in (('app_public', 'tenants'), ('app_public', 'subscriptions'), ('app_public', 'payments'));
  -- Deleted in an order where the rows referencing a table go before the
  -- table's own, so no delete (nor its cascades) meets a row that still
  -- references it: on Citus a statement that fails on a shard cannot be
  -- retried in the same transaction. Where references form a loop (a message
  -- and its enrollment), the nullable ones are cleared first.
  while coalesce(cardinality(v_left), 0) > 0 loop
    select array_agg(t) into v_ready from unnest(v_left) t
      where not exists (
        select 1 from pg_constraint f
        where f.contype = 'f' and f.conparentid = 0 and f.confrelid = t and f.conrelid <> t
          and f.conrelid = any (v_left) and f.oid <> all (v_released));
    if v_ready is null then
      select array_agg(f.oid) into v_loose from pg_constraint f
        where f.contype = 'f' and f.conparentid = 0 and f.conrelid <> f.confrelid
          and f.conrelid = any (v_left) and f.confrelid = any (v_left) and f.oid <> all (v_released)
          and not exists (select 1 from unnest(f.conkey) k join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k
                          where a.attnotnull and a.attname <> 'tenant_id')
          -- only keys on a loop: the referenced table reaches the referencing one
          and f.conrelid in (
            with recursive reach(t) as (
              select f.confrelid
              union
              select g.confrelid from reach r join pg_constraint g
                on g.conrelid = r.t and g.contype = 'f' and g.conparentid = 0 and g.conrelid <> g.confrelid
                and g.confrelid = any (v_left) and g.oid <> all (v_released)
            )
            select t from reach);
      if v_loose is null then
        raise exception 'The tables % reference each other with keys that cannot be cleared; purge_tenant cannot order them.', v_left::regclass[];
      end if;
      v_released := v_released || v_loose;
      continue;
    end if;
    v_order := v_order || array(select t from unnest(v_ready) t order by t::regclass::text);
    v_left := array(select t from unnest(v_left) t where t <> all (v_ready));
  end loop;
  return query
    select 'clear', n.nspname::text, c.relname::text,
           array(select a.attname::text from unnest(f.conkey) k join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k
                 where a.attname <> 'tenant_id' order by a.attnum)
    from unnest(v_released) r join pg_constraint f on f.oid = r
    join pg_class c on c.oid = f.conrelid join pg_namespace n on n.oid = c.relnamespace
    order by 2, 3;
  return query
    select 'delete', n.nspname::text, c.relname::text, null::text[]
    from unnest(v_order) with ordinality o(t, i) join pg_class c on c.oid = o.t join pg_namespace n on n.oid = c.relnamespace
    order by o.i;
end;
$$;

COMMENT ON FUNCTION app_private.tenant_purge_plan() IS 'How purge_tenant empties a tenant''s rows: first "clear" steps (references to set null, where keys form a loop), then a "delete" step per table with a tenant_id (every app_public/app_private table but tenants, subscriptions and payments), each after the tables that reference it.';

CREATE FUNCTION app_private.tenant_purge_tables() RETURNS TABLE(schema_name text, table_name text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query select p.schema_name, p.table_name from app_private.tenant_purge_plan() p where p.step = 'delete';
end;
$$;

COMMENT ON FUNCTION app_private.tenant_purge_tables() IS 'The tables purge_tenant empties of a tenant''s rows, in the order it deletes them.';

CREATE FUNCTION app_private.tenant_roles_of(user_id uuid, tenant_id uuid, staff_permissions text[]) RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.tenant_roles_of(user_id uuid, tenant_id uuid, staff_permissions text[]) IS 'The user''s roles in the tenant: their active membership''s roles in a live tenant, or viewer/admin for a live staff access session their staff role still permits; empty otherwise.';

CREATE FUNCTION app_private.tenant_usage(tenant_id uuid) RETURNS SETOF app_public.usage_metric
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select m.metric,
         case when app_private.is_metered(m.metric)
              then app_private.metered_usage(tenant_usage.tenant_id, m.metric)
              else app_private.gauge_value(tenant_usage.tenant_id, m.metric) end,
         l.limit_value,
         l.plan_name
  from unnest(app_private.usage_metrics()) with ordinality as m (metric, position)
  left join lateral app_private.effective_limit(tenant_usage.tenant_id, m.metric) l on true
  order by m.position;
$$;

COMMENT ON FUNCTION app_private.tenant_usage(tenant_id uuid) IS 'Usage, limit and plan of every metric for one tenant in its open billing period.';

CREATE FUNCTION app_private.tg__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_changes jsonb;
  v_record_id text;
  v_staff boolean;
begin
  if tg_op = 'UPDATE' then
    select jsonb_object_agg(n.key, jsonb_build_object('from', v_old -> n.key, 'to', n.value))
      into v_changes
      from jsonb_each(v_new) n
      where n.key not in ('updated', 'updated_by') and n.value is distinct from v_old -> n.key;
    if v_changes is null then
      return null;
    end if;
  else
    v_changes := v_row - array['updated', 'created'];
  end if;
  -- A tenant being hard-deleted takes its rows (and its audit log) with it.
  if not exists (select 1 from app_public.tenants t where t.id = (v_row ->> 'tenant_id')::uuid) then
    return null;
  end if;
  v_record_id := coalesce(v_row ->> 'id', v_row ->> 'user_id', v_row ->> 'tenant_id');
  -- The actor is staff when they act in the tenant without being a member of
  -- it (an access session). The table is named by the trigger's argument: on
  -- Citus the trigger runs on a shard, whose name is not the table's.
  select app_public.current_user_id() is not null and not exists (
      select 1 from app_public.tenant_users tu
      where tu.tenant_id = (v_row ->> 'tenant_id')::uuid and tu.user_id = app_public.current_user_id() and tu.deleted_at is null
    ) into v_staff;
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
  values ((v_row ->> 'tenant_id')::uuid, app_public.current_user_id(), v_staff, tg_argv[0] || '.' || lower(tg_op), tg_argv[0], v_record_id, v_changes);
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__audit() IS 'Writes one audit_log row per inserted, updated (changed columns only) or deleted row.';

CREATE FUNCTION app_private.tg__display_name() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_problem text := app_private.display_name_problem(new.name, tg_argv[0]);
begin
  if v_problem is not null then
    raise exception '%', v_problem using errcode = 'INVAL', column = 'name';
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__display_name() IS 'Trigger (after insert or update of name; after row-level security has answered): refuses names that display_name_problem rejects, with INVAL. Names stored before the rule are checked when they change.';

CREATE FUNCTION app_private.tg__dkim_key_record() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_domain app_public.domains;
  v_records jsonb;
begin
  -- The DKIM record always shows the stored key: a new or replaced key is
  -- written into it (pending verification again, since it must be published).
  -- The new document is computed first and written as a value (Citus takes
  -- no stable call over the row's columns in an UPDATE).
  select d.dns_records into v_records from app_public.domains d
    where d.tenant_id = new.tenant_id and d.id = new.domain_id
    for update;
  if v_records is null or not exists (
    select 1 from jsonb_array_elements(v_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and r ->> 'selector' = new.selector and r ->> 'public_key' is distinct from new.public_key
  ) then
    return null;
  end if;
  v_records := jsonb_build_object('records', (
    select jsonb_agg(
      case when r ->> 'record_type' = 'DKIM' and r ->> 'selector' = new.selector
        then app_private.dkim_record(new.domain_id, new.selector, new.public_key, coalesce(r ->> 'role', 'active'))
        else r end
      order by i)
    from jsonb_array_elements(v_records -> 'records') with ordinality e(r, i)));
  update app_public.domains d set dns_records = v_records
    where d.tenant_id = new.tenant_id and d.id = new.domain_id
    returning * into v_domain;
  -- Records complete: a domain waiting for its first check gets it now.
  if v_domain.verification_status = 'pending' and not exists (
    select 1 from jsonb_array_elements(v_domain.dns_records -> 'records') r where r -> 'value' = 'null'::jsonb
  ) then
    update app_public.domains d set verification_status = 'verifying', dns_next_check_at = now()
      where d.tenant_id = v_domain.tenant_id and d.id = v_domain.id
      returning * into v_domain;
  end if;
  if v_domain.verification_status = 'verifying' or exists (
    select 1 from jsonb_array_elements(v_domain.dns_records -> 'records') r where r ->> 'selector' = new.selector and r ->> 'role' = 'next'
  ) then
    perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__dkim_key_record() IS 'Keeps the DKIM entry of dns_records equal to the stored key of its selector, and queues the first check once a domain''s records are complete.';

CREATE FUNCTION app_private.tg__domain_dkim_key() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- A claimed stock key (never on a Citus worker node, see take_dkim_key).
  if app_private.on_coordinator() then
    with claimed as (
      delete from app_private.dkim_key_pool p
      where p.claimed_tenant_id = new.tenant_id and p.claimed_domain_id = new.id
      returning p.*
    )
    insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key, key_bits)
    select new.tenant_id, new.id, new.dkim_selector, c.private_key_encrypted, c.public_key, c.key_bits from claimed c;
  end if;

  if exists (
    select 1 from jsonb_array_elements(new.dns_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and r -> 'public_key' = 'null'::jsonb
  ) then
    perform app_private.add_job(new.tenant_id, 'generate_dkim_key',
      json_build_object('tenant_id', new.tenant_id, 'domain_id', new.id, 'selector', new.dkim_selector),
      job_key => 'generate_dkim_key:' || new.id || ':' || new.dkim_selector, max_attempts => 10);
  end if;
  if new.verification_status = 'verifying' then
    perform app_private.queue_domain_verification(new.tenant_id, new.id);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__domain_dkim_key() IS 'After a domain is inserted: stores the DKIM key it claimed (or queues generate_dkim_key when the stock was empty) and queues its first verification.';

CREATE FUNCTION app_private.tg__domain_dns_records() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_key app_private.dkim_key_pool;
begin
  if not exists (
    select 1 from jsonb_array_elements(new.dns_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and r ->> 'selector' = new.dkim_selector
  ) then
    v_key := app_private.take_dkim_key(new.tenant_id, new.id);
    if jsonb_array_length(new.dns_records -> 'records') = 0 then
      new.dns_records := app_private.expected_dns_records(new.domain, new.id, new.dkim_selector, v_key.public_key);
    else
      -- Records supplied by the owner (imports, seeds): add the DKIM key only.
      new.dns_records := jsonb_set(new.dns_records, '{records}',
        (new.dns_records -> 'records') || jsonb_build_array(app_private.dkim_record(new.id, new.dkim_selector, v_key.public_key)));
    end if;
  end if;
  -- Verification starts by itself for a domain added through the API
  -- (pending) once its records are complete; a domain inserted in another
  -- state (a seed, an import) is checked when someone asks (verifyDomain).
  if new.verification_status = 'pending' and not exists (
    select 1 from jsonb_array_elements(new.dns_records -> 'records') r where r -> 'value' = 'null'::jsonb
  ) then
    new.verification_status := 'verifying';
    new.dns_next_check_at := now();
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__domain_dns_records() IS 'Before a domain is inserted: fills dns_records with the expected SPF, DKIM, DMARC and MX records, taking a stocked DKIM key when there is one.';

CREATE FUNCTION app_private.tg__domain_ip_assignment_lifecycle() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ip app_public.smtp_ip_addresses;
begin
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = new.smtp_ip_address_id;
  if tg_op = 'INSERT' then
    if new.status <> 'expired' and v_ip.status in ('quarantined', 'burned', 'degraded') then
      raise exception 'The IP % is % and cannot take a domain; pick a healthy IP.', host(v_ip.ip_address), v_ip.status using errcode = 'STATE';
    end if;
    return new;
  end if;
  if new.status is not distinct from old.status then
    return new;
  end if;
  perform app_private.assert_transition('domain_ip_assignment', format('The assignment of IP %s', host(v_ip.ip_address)), old.status, new.status);
  if new.status = 'warming' and v_ip.status <> 'warming' then
    raise exception 'The IP % is %, not warming; start its warm-up first (setSmtpIpStatus warming).', host(v_ip.ip_address), v_ip.status
      using errcode = 'STATE';
  end if;
  if new.status = 'active' and v_ip.status in ('available', 'quarantined', 'burned') then
    raise exception 'The IP % is % and cannot send for a domain.', host(v_ip.ip_address), v_ip.status using errcode = 'STATE';
  end if;
  new.warmup_state := case new.status
    when 'warming' then 'warming'
    when 'active' then case when v_ip.status in ('warmed', 'assigned') then 'warmed' else 'warming' end
    else new.warmup_state end;
  if new.status = 'expired' then
    new.expires_at := least(coalesce(new.expires_at, now()), now());
    new.flagged_reason := null;
    new.flagged_at := null;
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__domain_ip_assignment_lifecycle() IS 'Refuses assignment status changes the lifecycle does not allow, and assignments to quarantined, burned or degraded IPs; keeps warmup_state and expires in step.';

CREATE FUNCTION app_private.tg__email_account_warmup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if tg_op = 'INSERT' or new.timezone is distinct from old.timezone then
    begin
      perform now() at time zone new.timezone;
    exception when invalid_parameter_value then
      raise exception 'Unknown time zone "%"; use an IANA name such as Europe/Paris or UTC.', new.timezone using errcode = 'INVAL';
    end;
  end if;

  -- A warm-up starts when an inbox is created with warm-up on, or when it is
  -- switched on later; each start counts against the plan's max_warmups.
  if new.warmup_enabled and (tg_op = 'INSERT' or not old.warmup_enabled) then
    new.warmup_started_at := case when tg_op = 'INSERT' then coalesce(new.warmup_started_at, now()) else now() end;
    perform app_private.consume_usage(new.tenant_id, 'warmups', 1);
  end if;

  -- last_warmed_at: the last time a send was counted while the inbox was still
  -- below its full daily limit because of the ramp.
  if tg_op = 'UPDATE' and new.daily_count > 0
     and (new.daily_count > old.daily_count or new.daily_count_date is distinct from old.daily_count_date)
     and new.warmup_enabled and new.warmup_started_at is not null
     and app_private.inbox_allowance(true, new.warmup_started_at, new.daily_limit, new.timezone, now()) < new.daily_limit then
    new.last_warmed_at := now();
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__email_account_warmup() IS 'Checks the inbox time zone, starts its warm-up (warmup_started_at, counted as a warm-up against the plan) and keeps last_warmed_at.';

CREATE FUNCTION app_private.tg__gauge_count() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  r record;
begin
  if tg_op = 'INSERT' then
    for r in select n.tenant_id, count(*) as n from new_rows n group by n.tenant_id order by n.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, tg_argv[0], r.n);
    end loop;
  elsif tg_op = 'DELETE' then
    for r in select o.tenant_id, count(*) as n from old_rows o group by o.tenant_id order by o.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, tg_argv[0], -r.n);
    end loop;
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__gauge_count() IS 'Statement-level trigger: counts inserted/deleted rows per tenant into the gauge named by the trigger argument.';

CREATE FUNCTION app_private.tg__gauge_members() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  r record;
begin
  if tg_op = 'INSERT' then
    for r in select n.tenant_id, count(*) as delta from new_rows n where n.deleted_at is null
             group by n.tenant_id order by n.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, 'users', r.delta);
    end loop;
  elsif tg_op = 'DELETE' then
    for r in select o.tenant_id, count(*) as delta from old_rows o where o.deleted_at is null
             group by o.tenant_id order by o.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, 'users', -r.delta);
    end loop;
  else
    for r in select x.tenant_id, sum(x.d) as delta from (
               select n.tenant_id, 1 as d from new_rows n where n.deleted_at is null
               union all
               select o.tenant_id, -1 from old_rows o where o.deleted_at is null
             ) x group by x.tenant_id having sum(x.d) <> 0 order by x.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, 'users', r.delta);
    end loop;
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__gauge_members() IS 'Statement-level trigger: keeps the users gauge equal to the active (not deleted) memberships per tenant.';

CREATE FUNCTION app_private.tg__ip_assigned_count() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_ips uuid[] := array[
    case when tg_op <> 'INSERT' then old.smtp_ip_address_id end,
    case when tg_op <> 'DELETE' then new.smtp_ip_address_id end];
begin
  if app_private.on_coordinator() then
    perform app_private.recount_ip_assignments(v_ips);
  else
    -- On a Citus worker node the IPs (a reference table) cannot be written:
    -- the count follows as soon as the job has run.
    perform app_private.add_job(coalesce(new.tenant_id, old.tenant_id), 'recount_ip_assignments',
      json_build_object('smtp_ip_address_ids', v_ips), max_attempts => 10);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg__ip_assigned_count() IS 'Keeps smtp_ip_addresses.assigned_count equal to the IP''s live (not expired) assignments: in the same transaction on one PostgreSQL, through the recount_ip_assignments job on a Citus cluster.';

CREATE FUNCTION app_private.tg__job_request_id() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_request_id text := nullif(current_setting('app.request_id', true), '');
begin
  if v_request_id is not null and json_typeof(new.payload) = 'object' and new.payload::jsonb ->> 'request_id' is null then
    new.payload := (new.payload::jsonb || jsonb_build_object('request_id', v_request_id))::json;
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__job_request_id() IS 'Adds the queuing request''s id (setting app.request_id) to a new job''s payload as request_id.';

CREATE FUNCTION app_private.tg__oauth_inbox_reactivation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.status = 'active' and old.status is distinct from 'active'
     and new.oauth_status in ('reconnect_required', 'disconnected') and old.oauth_status is not distinct from new.oauth_status then
    raise exception 'Inbox % lost its connection to %; connect it again (startInboxOAuth) to send from it.', new.email, initcap(new.provider)
      using errcode = 'STATE';
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__oauth_inbox_reactivation() IS 'An OAuth inbox whose connection is gone (reconnect_required, disconnected) cannot be set active again by hand: only connecting it again does that.';

CREATE FUNCTION app_private.tg__platform_audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  -- tg_argv: the table's name, then the bookkeeping columns not worth a row.
  v_ignored text[] := array['created', 'updated'] || coalesce(tg_argv[1:], '{}');
  v_before jsonb;
  v_after jsonb;
begin
  -- A reference table on Citus: its trigger fires on every node's copy; the
  -- coordinator's writes the one row.
  if not app_private.on_coordinator() then
    return null;
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

COMMENT ON FUNCTION app_private.tg__platform_audit() IS 'Writes one platform_audit_log row per inserted, updated (changed columns only, bookkeeping columns named in the trigger''s arguments left out) or deleted row of a platform table: action "<table>.<insert|update|delete>", the acting user, and changes {"before": …, "after": …}.';

CREATE FUNCTION app_private.tg__smtp_ip_lifecycle() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_live integer;
begin
  if new.status is not distinct from old.status then
    return new;
  end if;
  perform app_private.assert_transition('smtp_ip', format('The IP %s', host(old.ip_address)), old.status, new.status);
  -- Counted on the coordinator only on Citus (as in tg__vps_instance_lifecycle).
  v_live := case when app_private.on_coordinator() then app_private.live_assignment_count(old.id) end;
  if new.status = 'available' and v_live > 0 then
    raise exception 'The IP % still has % live domain assignment(s); expire or move them before returning it to the pool.',
      host(old.ip_address), v_live using errcode = 'STATE';
  end if;
  if new.status = 'assigned' and v_live = 0 then
    raise exception 'The IP % has no live domain assignment; assign it to a domain instead (assignSmtpIpToDomain).',
      host(old.ip_address) using errcode = 'STATE';
  end if;
  if new.status = 'warming' then
    new.warmup_started_at := now();
  elsif new.status = 'available' then
    new.warmup_started_at := null;
  end if;
  if old.status = 'quarantined' then
    new.auto_quarantined := false;
  end if;
  new.status_changed_at := now();
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__smtp_ip_lifecycle() IS 'Refuses IP status changes the lifecycle does not allow (and returning an IP to the pool while it still sends for domains); starts or clears its warm-up clock.';

CREATE FUNCTION app_private.tg__updated() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  new.updated := greatest(now(), old.updated + interval '1 millisecond');
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__updated() IS 'Keeps the `updated` column current (and strictly increasing) on every UPDATE.';

CREATE FUNCTION app_private.tg__updated_by() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  new.updated_by := coalesce(app_public.current_user_id(), new.updated_by);
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__updated_by() IS 'Records which signed-in user last changed the row (the updated_by audit column).';

CREATE FUNCTION app_private.tg__vps_instance_lifecycle() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_busy text;
begin
  if new.status is not distinct from old.status then
    return new;
  end if;
  perform app_private.assert_transition('vps_instance', format('The server %s', coalesce(old.hostwinds_instance_id, old.id::text)), old.status, new.status);
  -- The live-assignment checks read tenant tables: on Citus, where this
  -- trigger fires on every node's copy of the table, they run on the
  -- coordinator's (src/db/citus-distribution.ts lets this function query
  -- distributed tables from there).
  if new.status = 'decommissioned' and app_private.on_coordinator() then
    select string_agg(host(ip.ip_address), ', ' order by ip.ip_address) into v_busy
    from app_public.smtp_ip_addresses ip
    where ip.vps_instance_id = old.id and app_private.live_assignment_count(ip.id) > 0;
    if v_busy is not null then
      raise exception 'The server % still sends for tenant domains through %; move those domains to other IPs first.',
        coalesce(old.hostwinds_instance_id, old.id::text), v_busy using errcode = 'STATE';
    end if;
  end if;
  new.decommission_scheduled_for := case
    when new.status = 'scheduled_decommission' then coalesce(new.decommission_scheduled_for, now() + interval '30 days')
    when new.status = 'active' then null
    else new.decommission_scheduled_for end;
  new.status_changed_at := now();
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg__vps_instance_lifecycle() IS 'Refuses server status changes the lifecycle does not allow, and decommissioning while its IPs still send for tenant domains.';

CREATE FUNCTION app_private.tg_campaign_enrollments__check_completion() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- Only the last enrollments to finish get here; the check runs in its own
  -- job so this transaction never waits for the campaign row.
  if old.status in ('active', 'paused') and new.status not in ('active', 'paused')
     and exists (select 1 from app_public.campaigns c
                 where c.tenant_id = new.tenant_id and c.id = new.campaign_id and c.status = 'sending')
     and not exists (select 1 from app_public.campaign_enrollments e
                     where e.tenant_id = new.tenant_id and e.campaign_id = new.campaign_id
                       and e.status in ('active', 'paused') and e.id <> new.id) then
    perform app_private.add_job(new.tenant_id, 'campaign_check_completion',
      json_build_object('tenant_id', new.tenant_id, 'campaign_id', new.campaign_id),
      job_key => 'campaign_check_completion:' || new.campaign_id::text, max_attempts => 5);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_campaign_enrollments__check_completion() IS 'When the last active enrollment of a campaign finishes, queues the job that completes the campaign.';

CREATE FUNCTION app_private.tg_campaign_stats_daily__safety() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.check_campaign_safety(new.tenant_id, new.campaign_id);
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_campaign_stats_daily__safety() IS 'When a campaign''s rollup counts a message sent, a bounce or a complaint, judges the campaign''s safety rates (check_campaign_safety): a limit is crossed by a bounce, or by the send that completes the minimum sample.';

CREATE FUNCTION app_private.tg_campaigns__reschedule_start() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.status = 'scheduled' and new.scheduled_for is distinct from old.scheduled_for then
    perform app_private.queue_campaign_start(new.tenant_id, new.id, new.scheduled_for);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_campaigns__reschedule_start() IS 'When the start time of a scheduled campaign is edited, its start job moves with it.';

CREATE FUNCTION app_private.tg_campaigns__safety_resume() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if old.status = 'paused' and new.status <> 'paused' then
    if old.safety_pause is not null then
      new.safety_baseline := app_private.campaign_totals(new.tenant_id, new.id);
    end if;
    new.safety_pause := null;
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_campaigns__safety_resume() IS 'When a campaign leaves a safety pause, stores its totals as the safety baseline (its rates then count messages since this moment) and clears safety_pause.';

CREATE FUNCTION app_private.tg_campaigns__status_transition() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.status is distinct from old.status
     and not app_private.campaign_status_transition_allowed(old.status, new.status) then
    raise exception 'Campaign "%" cannot go from % to %.', old.name, old.status, new.status using errcode = 'STATE';
  end if;
  if new.status <> 'paused' then
    new.paused_by := null;
    new.pause_reason := null;
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_campaigns__status_transition() IS 'Refuses campaign status changes the state machine does not allow, and clears the pause fields when a campaign leaves paused.';

CREATE FUNCTION app_private.tg_campaigns__webhook() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_type text := case
    when new.status = 'sending' and old.status = 'paused' then 'campaign.resumed'
    when new.status = 'sending' then 'campaign.started'
    when new.status = 'paused' then 'campaign.paused'
    when new.status = 'completed' then 'campaign.completed'
    when new.status = 'cancelled' then 'campaign.cancelled' end;
begin
  if new.status is distinct from old.status and v_type is not null then
    perform app_private.emit_webhook_event(new.tenant_id, v_type, new.id,
      jsonb_build_object('campaign_id', new.id, 'name', new.name, 'status', new.status, 'previous_status', old.status,
                         'paused_by', new.paused_by, 'pause_reason', new.pause_reason));
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_campaigns__webhook() IS 'Webhook events of a campaign''s status: campaign.started, paused, resumed, completed, cancelled.';

CREATE FUNCTION app_private.tg_contact_list_members__static_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if exists (select 1 from app_public.contact_lists cl
             where cl.tenant_id = new.tenant_id and cl.id = new.list_id and cl.is_dynamic) then
    raise exception 'This list is dynamic: its members come from its filter and cannot be added by hand.'
      using errcode = '22023';
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_contact_list_members__static_only() IS 'Members can only be added to static lists.';

CREATE FUNCTION app_private.tg_contact_lists__validate_filter() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  -- (A dynamic list without a filter is reported by its check constraint.)
  if new.is_dynamic and new.filter_criteria is not null then
    perform app_hidden.lead_filter_sql(new.filter_criteria);
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_contact_lists__validate_filter() IS 'Rejects a dynamic list whose filter does not compile.';

CREATE FUNCTION app_private.tg_crm_accounts__no_cycle() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_parent uuid := new.parent_account_id;
  v_depth integer := 0;
begin
  -- Walk up from the new parent, one account at a time, within the row's
  -- tenant; meeting the account itself means the change would close a loop.
  while v_parent is not null and v_depth < 1000 loop
    if v_parent = new.id then
      raise exception 'Account "%" cannot be placed under one of its own sub-accounts (or itself): an account hierarchy cannot loop.', new.name
        using errcode = 'INVAL', column = 'parent_account_id';
    end if;
    select a.parent_account_id into v_parent from app_public.crm_accounts a
      where a.tenant_id = new.tenant_id and a.id = v_parent;
    v_depth := v_depth + 1;
  end loop;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_crm_accounts__no_cycle() IS 'Trigger: refuses (INVAL) a parent_account_id that would make an account its own ancestor.';

CREATE FUNCTION app_private.tg_deals__activity() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id uuid := app_public.current_user_id();
begin
  insert into app_public.activities (tenant_id, kind, deal_id, user_id, details)
    values (new.tenant_id, 'stage_changed', new.id, v_user_id, jsonb_build_object('from', old.stage, 'to', new.stage));
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_deals__activity() IS 'The timeline of a deal: a stage_changed activity ({"from", "to"}) when its stage changes, with the signed-in user who changed it.';

CREATE FUNCTION app_private.tg_domains__webhook() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_type text := case new.verification_status when 'verified' then 'domain.verified' when 'failed' then 'domain.failed' end;
begin
  if new.verification_status is distinct from old.verification_status and v_type is not null then
    perform app_private.emit_webhook_event(new.tenant_id, v_type, null,
      jsonb_build_object('domain_id', new.id, 'domain', new.domain, 'status', new.verification_status,
                         'previous_status', old.verification_status, 'error', new.dns_verification_error));
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_domains__webhook() IS 'Webhook events of domain verification: domain.verified, domain.failed.';

CREATE FUNCTION app_private.tg_email_accounts__safety_state() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.last_sent_at is distinct from old.last_sent_at then
    new.smtp_auth_failures := 0; -- the server took a message: the login works
  end if;
  if new.status = 'active' and old.status <> 'active' then
    new.smtp_auth_failures := 0;
    new.paused_at := null;
    new.pause_reason := null;
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_email_accounts__safety_state() IS 'A sent message resets an inbox''s count of refused SMTP logins; an inbox becoming active again forgets why it was stopped.';

CREATE FUNCTION app_private.tg_email_accounts__webhook() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.status = 'error' and old.status is distinct from 'error' then
    perform app_private.emit_webhook_event(new.tenant_id, 'inbox.error', null,
      jsonb_build_object('email_account_id', new.id, 'email', new.email, 'error', new.last_error, 'previous_status', old.status));
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_email_accounts__webhook() IS 'The inbox.error webhook event, when an inbox enters the error status.';

CREATE FUNCTION app_private.tg_email_events__activity() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_rows jsonb;
begin
  select jsonb_agg(jsonb_build_object(
      'tenant_id', e.tenant_id, 'lead_id', e.lead_id, 'message_id', e.message_id, 'occurred_at', e.created,
      'kind', case e.event_type when 'sent' then 'email_sent' when 'open' then 'email_opened' when 'click' then 'email_clicked'
                                when 'reply' then 'email_replied' when 'bounce' then 'email_bounced'
                                when 'unsubscribe' then 'email_unsubscribed' when 'complaint' then 'email_complained' end,
      'details', case e.event_type
                   when 'click' then jsonb_build_object('url', e.link_url)
                   when 'bounce' then jsonb_build_object('bounce_type', coalesce(e.metadata ->> 'bounce_type', 'hard'))
                   else '{}'::jsonb end))
    into v_rows
    from new_rows e
    where e.lead_id is not null
      and e.event_type in ('sent', 'open', 'click', 'reply', 'bounce', 'unsubscribe', 'complaint')
      and not (e.event_type in ('open', 'click') and coalesce(e.metadata ->> 'automated', 'false') = 'true');
  if v_rows is not null then
    insert into app_public.activities (tenant_id, kind, occurred_at, lead_id, message_id, details)
    select r.tenant_id, r.kind, r.occurred_at, r.lead_id, r.message_id, r.details
    from jsonb_to_recordset(v_rows) as r (tenant_id uuid, kind text, occurred_at timestamptz, lead_id uuid, message_id uuid, details jsonb);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_email_events__activity() IS 'The timeline of a message''s lead: one activity per email sent, opened, clicked, replied, bounced, unsubscribed or complained about (opens and clicks of automated clients are not activities). One insert per statement.';

CREATE FUNCTION app_private.tg_email_events__rollup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_deltas jsonb;
begin
  select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'day', day, 'metric', metric, 'n', n))
    into v_deltas
    from (
      select e.tenant_id, e.campaign_id, (e.created at time zone 'UTC')::date as day,
             case e.event_type when 'open' then 'opens_total' when 'click' then 'clicks_total'
                               when 'unsubscribe' then 'unsubscribed' when 'complaint' then 'complained' end as metric,
             count(*) as n
      from new_rows e
      where e.campaign_id is not null and e.event_type in ('open', 'click', 'unsubscribe', 'complaint')
      group by 1, 2, 3, 4
    ) d;
  if v_deltas is not null then
    perform app_private.add_campaign_stats(v_deltas);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_email_events__rollup() IS 'Counts total opens and clicks, unsubscribes and complaints into campaign_stats_daily.';

CREATE FUNCTION app_private.tg_email_events__webhook() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_type text := case new.event_type
    when 'sent' then 'email.sent' when 'open' then 'email.opened' when 'click' then 'email.clicked'
    when 'reply' then 'email.replied' when 'bounce' then 'email.bounced'
    when 'unsubscribe' then 'email.unsubscribed' when 'complaint' then 'email.complained' end;
  v_message app_public.messages;
  v_reply app_public.messages;
  v_data jsonb;
begin
  if v_type is null or (new.event_type in ('open', 'click') and coalesce(new.metadata ->> 'automated', 'false') = 'true')
     or cardinality(app_private.webhook_subscribers(new.tenant_id, v_type, new.campaign_id)) = 0 then
    return null;
  end if;
  select m.* into v_message from app_public.messages m where m.tenant_id = new.tenant_id and m.id = new.message_id;
  -- record_email_event inserts the event before it advances the message (which
  -- it holds locked), so opened_at is still null at the first open.
  if new.event_type = 'open' and v_message.opened_at is not null then
    return null;
  end if;
  v_data := jsonb_build_object(
    'message_id', new.message_id, 'campaign_id', new.campaign_id, 'lead_id', new.lead_id,
    'email_account_id', v_message.email_account_id, 'to', v_message.to_email, 'from', v_message.from_email,
    'subject', v_message.subject, 'occurred_at', new.created);
  if new.event_type = 'click' then
    v_data := v_data || jsonb_build_object('url', new.link_url);
  elsif new.event_type = 'bounce' then
    v_data := v_data || jsonb_build_object('bounce_type', coalesce(new.metadata ->> 'bounce_type', 'hard'),
      'status', new.metadata ->> 'status', 'diagnostic_code', new.metadata ->> 'diagnostic_code');
  elsif new.event_type = 'reply' then
    select m.* into v_reply from app_public.messages m
      where m.tenant_id = new.tenant_id and m.id = (new.metadata ->> 'inbound_message_id')::uuid;
    v_data := v_data || jsonb_build_object(
      'reply', jsonb_build_object('message_id', v_reply.id, 'from', v_reply.from_email, 'subject', v_reply.subject,
                                  'text', v_reply.body_text, 'rfc_message_id', v_reply.rfc_message_id),
      'thread', jsonb_build_object('message_id', v_message.id, 'rfc_message_id', v_message.rfc_message_id,
                                   'in_reply_to', v_reply.in_reply_to, 'references', v_reply.references_header));
  end if;
  perform app_private.emit_webhook_event(new.tenant_id, v_type, new.campaign_id, v_data);
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_email_events__webhook() IS 'Webhook events of a message: email.sent, email.opened (first open only), email.clicked, email.replied (with the reply''s text and thread), email.bounced (hard/soft), email.unsubscribed, email.complained. Opens and clicks of automated clients are not events.';

CREATE FUNCTION app_private.tg_invitations__reserve_seats() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  r record;
begin
  for r in select n.tenant_id, count(*) as n from new_rows n
           where n.accepted_at is null and n.revoked_at is null
           group by n.tenant_id order by n.tenant_id loop
    perform app_private.assert_seats_for_invitations(r.tenant_id, r.n);
  end loop;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_invitations__reserve_seats() IS 'Statement-level trigger: an open invitation reserves a member seat.';

CREATE FUNCTION app_private.tg_lead_imports__api_key() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  new.api_key_id := app_hidden.current_api_key_id();
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_lead_imports__api_key() IS 'Records the API key (from the request, never from the input) that uploads an import.';

CREATE FUNCTION app_private.tg_lead_imports__queue() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.add_job(new.tenant_id,
    'import_leads',
    json_build_object('tenant_id', new.tenant_id, 'import_id', new.id),
    job_key => 'import_leads:' || new.id::text,
    max_attempts => 3
  );
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_lead_imports__queue() IS 'Queues the import_leads job for a new pending import (it runs once the upload has committed).';

CREATE FUNCTION app_private.tg_lead_imports__validate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_target text;
begin
  if new.contact_list_id is not null and exists (
    select 1 from app_public.contact_lists cl
    where cl.tenant_id = new.tenant_id and cl.id = new.contact_list_id and cl.is_dynamic
  ) then
    raise exception 'Leads can only be imported into a static list; this list is dynamic (its members come from its filter).'
      using errcode = 'INVAL';
  end if;
  if new.column_mapping is not null then
    if exists (select 1 from jsonb_each(new.column_mapping) m where jsonb_typeof(m.value) <> 'string') then
      raise exception 'The mapping must be an object of CSV column names to lead field names, all strings.' using errcode = 'INVAL';
    end if;
    for v_target in select m.value #>> '{}' from jsonb_each(new.column_mapping) m loop
      if not (v_target = any (app_hidden.lead_import_fields()) or v_target ~ '^custom\.[a-z][a-z0-9_]{0,62}$') then
        raise exception 'The mapping sends a column to "%", which is not a lead field. Map columns to one of %, or custom.<key>.',
          v_target, array_to_string(app_hidden.lead_import_fields(), ', ') using errcode = 'INVAL';
      end if;
    end loop;
  end if;
  return new;
end;
$_$;

COMMENT ON FUNCTION app_private.tg_lead_imports__validate() IS 'Refuses an import into a dynamic list and a column mapping to anything but an importable lead field or custom.<key>.';

CREATE FUNCTION app_private.tg_lead_imports__webhook() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_type text := case new.status when 'completed' then 'import.completed' when 'failed' then 'import.failed' end;
begin
  if new.status is distinct from old.status and v_type is not null then
    perform app_private.emit_webhook_event(new.tenant_id, v_type, null,
      jsonb_build_object('import_id', new.id, 'file_name', new.file_name, 'contact_list_id', new.contact_list_id,
                         'total_rows', new.total_rows, 'imported_rows', new.imported_rows, 'updated_rows', new.updated_rows,
                         'skipped_rows', new.skipped_rows, 'failure_reason', new.failure_reason));
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_lead_imports__webhook() IS 'Webhook events of a lead import: import.completed, import.failed.';

CREATE FUNCTION app_private.tg_leads__activity() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id uuid := app_public.current_user_id();
begin
  insert into app_public.activities (tenant_id, kind, lead_id, user_id, details)
    values (new.tenant_id, 'status_changed', new.id, v_user_id, jsonb_build_object('from', old.status, 'to', new.status));
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_leads__activity() IS 'The timeline of a lead: a status_changed activity ({"from", "to"}) when its status changes, with the signed-in user who changed it (null for the system).';

CREATE FUNCTION app_private.tg_leads__webhook() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old jsonb := app_private.webhook_lead_state(to_jsonb(old));
  v_new jsonb := app_private.webhook_lead_state(to_jsonb(new));
begin
  if v_old is distinct from v_new then
    perform app_private.emit_webhook_event(new.tenant_id, 'lead.status_changed', null,
      jsonb_build_object('lead_id', new.id, 'email', new.email, 'previous', v_old, 'current', v_new));
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_leads__webhook() IS 'The lead.status_changed webhook event, when a column of webhook_lead_state changes.';

CREATE FUNCTION app_private.tg_messages__conversation() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_conversation_id uuid;
begin
  if new.direction = 'inbound' then
    perform app_private.thread_into_conversation(new.tenant_id, new.id);
  elsif new.enrollment_id is not null then
    -- A campaign email of a thread the lead already answered (the campaign
    -- does not stop on reply) joins the conversation once it went out.
    select c.id into v_conversation_id from app_public.conversations c
      where c.tenant_id = new.tenant_id and c.enrollment_id = new.enrollment_id
      limit 1;
    if v_conversation_id is not null then
      perform app_private.link_conversation_message(new.tenant_id, v_conversation_id, new.id, 'outbound', new.created);
    end if;
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_messages__conversation() IS 'Keeps conversations: an inbound answer (reply or auto-reply) joins or starts its conversation; a campaign email sent in a thread that has one joins it.';

CREATE FUNCTION app_private.tg_messages__forget_handovers() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  delete from app_private.message_handovers h where h.tenant_id = new.tenant_id and h.message_id = new.id;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_messages__forget_handovers() IS 'A message that is no longer being sent needs no hand-over mark (the next attempt, if any, gets its own): the table holds only messages in flight.';

CREATE FUNCTION app_private.tg_messages__rollup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_deltas jsonb;
begin
  if tg_op = 'INSERT' then
    select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'day', day, 'metric', metric, 'n', n))
      into v_deltas
      from (
        select m.tenant_id, m.campaign_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
        from new_rows m
        cross join lateral (values ('sent', m.sent_at), ('delivered', m.delivered_at), ('opened', m.opened_at),
                                   ('clicked', m.clicked_at), ('replied', m.replied_at), ('bounced', m.bounced_at),
                                   ('failed', case when m.status = 'failed' then m.updated end)) as x (metric, at)
        where m.direction = 'outbound' and m.campaign_id is not null and x.at is not null
        group by 1, 2, 3, 4
      ) d;
  else
    select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'day', day, 'metric', metric, 'n', n))
      into v_deltas
      from (
        select n.tenant_id, n.campaign_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
        from new_rows n
        join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
        cross join lateral (values
          ('sent', case when o.sent_at is null then n.sent_at end),
          ('delivered', case when o.delivered_at is null then n.delivered_at end),
          ('opened', case when o.opened_at is null then n.opened_at end),
          ('clicked', case when o.clicked_at is null then n.clicked_at end),
          ('replied', case when o.replied_at is null then n.replied_at end),
          ('bounced', case when o.bounced_at is null then n.bounced_at end),
          ('failed', case when n.status = 'failed' and o.status <> 'failed' then n.updated end)) as x (metric, at)
        where n.direction = 'outbound' and n.campaign_id is not null and x.at is not null
        group by 1, 2, 3, 4
      ) d;
  end if;
  if v_deltas is not null then
    perform app_private.add_campaign_stats(v_deltas);
  end if;
  return null;
end;
$$;

COMMENT ON FUNCTION app_private.tg_messages__rollup() IS 'Counts each message''s milestones (sent, delivered, opened, clicked, replied, bounced, failed) into campaign_stats_daily, once each.';

CREATE FUNCTION app_private.tg_messages__status_forward() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.status is distinct from old.status then
    if old.status in ('bounced', 'failed', 'cancelled', 'received') then
      raise exception 'Message % is % and cannot become %.', old.id, old.status, new.status using errcode = 'STATE';
    end if;
    -- sending -> queued is the one step back: the SMTP server deferred the
    -- attempt (4xx, connection refused), so nothing was delivered yet.
    if new.status not in ('bounced', 'failed', 'cancelled')
       and not (old.status = 'sending' and new.status = 'queued')
       and app_private.message_status_rank(new.status) < app_private.message_status_rank(old.status) then
      raise exception 'Message % cannot go back from % to %.', old.id, old.status, new.status using errcode = 'STATE';
    end if;
    if new.status in ('bounced', 'failed', 'cancelled') and old.status = 'replied' then
      raise exception 'Message % was replied to and cannot become %.', old.id, new.status using errcode = 'STATE';
    end if;
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_messages__status_forward() IS 'Refuses status changes that go backwards or leave a terminal status (except sending -> queued when an attempt was deferred).';

CREATE FUNCTION app_private.tg_webhook_subscriptions__enabled() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if new.enabled and not old.enabled then
    new.disabled_at := null;
    new.disabled_reason := null;
    new.consecutive_failures := 0;
    -- Deliveries left pending while it was disabled go out now, in order.
    perform app_private.queue_webhook_delivery(new.tenant_id, new.id);
  elsif old.enabled and not new.enabled and new.disabled_at is null then
    new.disabled_at := now();
  end if;
  return new;
end;
$$;

COMMENT ON FUNCTION app_private.tg_webhook_subscriptions__enabled() IS 'Enabling a subscription clears why it was disabled and resumes its pending deliveries; disabling it records when.';

CREATE FUNCTION app_private.thread_into_conversation(tenant_id uuid, message_id uuid) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_message app_public.messages;
  v_parent app_public.messages;
  v_root app_public.messages;
  v_root_id uuid;
  v_conversation_id uuid;
  v_new uuid := app_public.uuid_v7();
  v_thread uuid;
  v_earlier record;
begin
  select m.* into v_message from app_public.messages m
    where m.tenant_id = thread_into_conversation.tenant_id and m.id = thread_into_conversation.message_id;
  if v_message.parent_message_id is null then
    return null;
  end if;
  select m.* into v_parent from app_public.messages m
    where m.tenant_id = thread_into_conversation.tenant_id and m.id = v_message.parent_message_id;
  -- The parent already belongs to a conversation (a campaign email of a
  -- thread the lead answered before, or a reply of ours).
  select cm.conversation_id into v_conversation_id from app_public.conversation_messages cm
    where cm.tenant_id = thread_into_conversation.tenant_id and cm.message_id = v_parent.id;
  if v_conversation_id is null then
    if v_parent.enrollment_id is not null then
      select e.thread_message_id into v_thread from app_public.campaign_enrollments e
        where e.tenant_id = thread_into_conversation.tenant_id and e.id = v_parent.enrollment_id;
    end if;
    v_root_id := coalesce(v_thread, v_parent.id);
    select c.id into v_conversation_id from app_public.conversations c
      where c.tenant_id = thread_into_conversation.tenant_id and c.root_message_id = v_root_id;
    if v_conversation_id is null then
      select m.* into v_root from app_public.messages m
        where m.tenant_id = thread_into_conversation.tenant_id and m.id = v_root_id;
      insert into app_public.conversations (tenant_id, id, lead_id, email_account_id, campaign_id, enrollment_id, root_message_id, subject)
        values (thread_into_conversation.tenant_id, v_new, v_parent.lead_id, v_parent.email_account_id, v_parent.campaign_id,
                v_parent.enrollment_id, v_root_id, v_root.subject)
        on conflict do nothing;
      select c.id into v_conversation_id from app_public.conversations c
        where c.tenant_id = thread_into_conversation.tenant_id and c.root_message_id = v_root_id;
      -- The thread so far: the enrollment's emails that went out (or the parent alone).
      for v_earlier in
        select m.id, m.created from app_public.messages m
          where m.tenant_id = thread_into_conversation.tenant_id and m.direction = 'outbound'
            and m.enrollment_id = v_parent.enrollment_id and m.status not in ('queued', 'sending', 'cancelled', 'failed')
        union
        select v_parent.id, v_parent.created
      loop
        insert into app_public.conversation_messages (tenant_id, conversation_id, message_id, direction, message_created)
          values (thread_into_conversation.tenant_id, v_conversation_id, v_earlier.id, 'outbound', v_earlier.created)
          on conflict do nothing;
      end loop;
    end if;
  end if;
  perform app_private.link_conversation_message(thread_into_conversation.tenant_id, v_conversation_id, v_message.id,
    v_message.direction, v_message.created);
  return v_conversation_id;
end;
$$;

COMMENT ON FUNCTION app_private.thread_into_conversation(tenant_id uuid, message_id uuid) IS 'Puts an inbound answer into its conversation: the one of the message it answers, else the one of its campaign thread, started (with the thread''s emails so far) when there is none.';

CREATE FUNCTION app_private.throttle_hit(scope text, key text, max_hits integer, per interval) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  -- Values, not calls, in the upsert: Citus accepts only those in DO UPDATE.
  v_now timestamptz := now();
  v_window_over timestamptz := now() - per;
  v_ok boolean;
begin
  insert into app_private.auth_throttle as t (scope, key, window_start, hits)
    values (throttle_hit.scope, throttle_hit.key, v_now, 1)
  on conflict (scope, key) do update set
    window_start = case when t.window_start <= v_window_over then v_now else t.window_start end,
    hits = case when t.window_start <= v_window_over then 1 else t.hits + 1 end
  returning t.hits <= throttle_hit.max_hits into v_ok;
  return v_ok;
end;
$$;

COMMENT ON FUNCTION app_private.throttle_hit(scope text, key text, max_hits integer, per interval) IS 'Counts one hit for (scope, key) in the current fixed window of length per; true while the window holds at most max_hits.';

CREATE FUNCTION app_private.track_engagement(tenant_id uuid, message_id uuid, event_type text, ip_address inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text, link_url text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_agent text := app_private.automated_agent(user_agent);
begin
  if event_type not in ('open', 'click') then
    raise exception 'A tracking endpoint records opens and clicks, not "%".', event_type using errcode = 'INVAL';
  end if;
  if (app_private.tracked_message(tenant_id, message_id)).id is null then
    return false;
  end if;
  perform app_private.record_email_event(
    tenant_id, message_id, event_type, ip_address, user_agent, link_url,
    case when v_agent is not null then jsonb_build_object('automated', true, 'agent', v_agent) else '{}'::jsonb end);
  return true;
end;
$$;

COMMENT ON FUNCTION app_private.track_engagement(tenant_id uuid, message_id uuid, event_type text, ip_address inet, user_agent text, link_url text) IS 'Records an open or a click from the tracking endpoints. Requests from self-declared automated clients are recorded with metadata {automated, agent} and do not advance the message. Returns false (and records nothing) when the message is not an outbound message of the tenant.';

CREATE FUNCTION app_private.track_unsubscribe(tenant_id uuid, message_id uuid, ip_address inet DEFAULT NULL::inet, user_agent text DEFAULT NULL::text, method text DEFAULT 'one_click'::text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_message app_public.messages;
begin
  if method not in ('one_click', 'confirmation_page') then
    raise exception 'Unknown unsubscribe method "%"; expected one_click or confirmation_page.', method using errcode = 'INVAL';
  end if;
  -- Lock the message so two simultaneous requests record one unsubscribe.
  select m.* into v_message from app_public.messages m
    where m.tenant_id = track_unsubscribe.tenant_id and m.id = track_unsubscribe.message_id and m.direction = 'outbound'
    for update;
  if v_message.id is null then
    return 'unknown_message';
  end if;
  if exists (select 1 from app_public.email_events e
             where e.tenant_id = v_message.tenant_id and e.message_id = v_message.id and e.event_type = 'unsubscribe') then
    return 'already_unsubscribed';
  end if;
  perform app_private.record_email_event(v_message.tenant_id, v_message.id, 'unsubscribe', ip_address, user_agent, null,
    jsonb_build_object('method', method));
  -- The address itself is suppressed too, even when the message has no lead
  -- (any more) or the lead's address changed since.
  if v_message.to_email is not null then
    begin
      insert into app_public.suppressions (tenant_id, email, reason)
        values (v_message.tenant_id, v_message.to_email, 'unsubscribed')
      on conflict (tenant_id, email) do nothing;
    exception when check_violation then
      null; -- not a plain address (nothing could be sent to it either); the lead is suppressed above
    end;
  end if;
  return 'unsubscribed';
end;
$$;

COMMENT ON FUNCTION app_private.track_unsubscribe(tenant_id uuid, message_id uuid, ip_address inet, user_agent text, method text) IS 'Unsubscribes the recipient of a message (RFC 8058 one-click, or the confirmation page): records one unsubscribe event (the lead is unsubscribed, suppressed and its sequences stopped) and suppresses the address. Idempotent: returns unsubscribed, already_unsubscribed or unknown_message.';

CREATE FUNCTION app_private.tracked_message(tenant_id uuid, message_id uuid) RETURNS app_public.messages
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_row app_public.messages;
begin
  select m.* into v_row from app_public.messages m
  where m.tenant_id = tracked_message.tenant_id and m.id = tracked_message.message_id and m.direction = 'outbound';
  return v_row;
end;
$$;

COMMENT ON FUNCTION app_private.tracked_message(tenant_id uuid, message_id uuid) IS 'The outbound message a tracking token points at, or null when it does not exist (any more).';

CREATE FUNCTION app_private.two_factor_attempt(user_id uuid, matched_step bigint, code text, allow_recovery boolean, policy_tenant uuid) RETURNS TABLE(error_code text, error_message text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_state app_private.user_two_factor;
  v_policy app_public.tenant_policies;
  v_recovery uuid;
  v_now timestamptz := now();
  v_failures integer;
  v_lock_until timestamptz;
begin
  select f.* into v_state from app_private.user_two_factor f where f.user_id = two_factor_attempt.user_id for update;
  if v_state.user_id is null then
    return query select 'NTFND', 'Two-factor authentication is not set up for this account.';
    return;
  end if;
  if v_state.locked_until > v_now then
    return query select 'LOCKD', format('Too many wrong codes. Try again after %s UTC.', to_char(v_state.locked_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI'));
    return;
  end if;
  -- A step later than the last accepted one: each code works once.
  if matched_step is not null and matched_step > v_state.last_used_step then
    update app_private.user_two_factor f set last_used_step = matched_step, failed_attempts = 0, locked_until = null, updated = v_now
      where f.user_id = two_factor_attempt.user_id;
    return query select null::text, null::text;
    return;
  end if;
  if allow_recovery and matched_step is null and code is not null then
    select r.id into v_recovery from app_private.two_factor_recovery_codes r
      where r.user_id = two_factor_attempt.user_id and r.code_hash = app_private.hash_recovery_code(code) and r.used_at is null
      for update;
    if v_recovery is not null then
      update app_private.two_factor_recovery_codes r set used_at = v_now, updated = v_now where r.id = v_recovery;
      update app_private.user_two_factor f set failed_attempts = 0, locked_until = null, updated = v_now
        where f.user_id = two_factor_attempt.user_id;
      return query select null::text, null::text;
      return;
    end if;
  end if;
  -- Wrong (or replayed) code: counted like a wrong password, under the policy
  -- of the organisation concerned (5 attempts, 15 minutes by default).
  select p.* into v_policy from app_public.tenant_policies p where p.tenant_id = policy_tenant;
  v_failures := v_state.failed_attempts + 1;
  if v_failures >= coalesce(v_policy.max_login_attempts, 5) then
    v_lock_until := v_now + make_interval(mins => coalesce(v_policy.lockout_minutes, 15));
    v_failures := 0;
  end if;
  update app_private.user_two_factor f set failed_attempts = v_failures, locked_until = v_lock_until, updated = v_now
    where f.user_id = two_factor_attempt.user_id;
  if v_lock_until is not null then
    return query select 'LOCKD', format('Too many wrong codes. Try again after %s UTC.', to_char(v_lock_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI'));
  elsif matched_step is not null then
    return query select 'CREDS', 'This code was already used; wait for the next one.';
  else
    return query select 'CREDS', 'The code is not correct.';
  end if;
end;
$$;

COMMENT ON FUNCTION app_private.two_factor_attempt(user_id uuid, matched_step bigint, code text, allow_recovery boolean, policy_tenant uuid) IS 'Decides one attempt at a user''s second factor: accepts a TOTP step later than the last accepted one, or (when allowed) an unused recovery code, which it spends; otherwise counts a failure and locks the second factor for the tenant''s lockout_minutes after max_login_attempts. Returns (null, null) on success, else an error code and message.';

CREATE FUNCTION app_private.two_factor_enabled(user_id uuid) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return exists (
    select 1 from app_private.user_two_factor f
    where f.user_id = two_factor_enabled.user_id and f.confirmed_at is not null
  );
end;
$$;

COMMENT ON FUNCTION app_private.two_factor_enabled(user_id uuid) IS 'Whether the user has confirmed two-factor authentication.';

CREATE FUNCTION app_private.unsubscribe_preview(tenant_id uuid, message_id uuid) RETURNS TABLE(recipient text, sender text, already_unsubscribed boolean)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  m := app_private.tracked_message(unsubscribe_preview.tenant_id, unsubscribe_preview.message_id);
  if m.id is null then
    return;
  end if;
  -- Every table named with the tenant argument: one shard's query on Citus.
  return query
  select
    -- Masked: the page is shown to whoever holds the link (it may have been forwarded).
    regexp_replace(m.to_email::text, '^(.)[^@]*', '\1•••'),
    coalesce(nullif(c.from_name, ''), nullif(ea.from_name, ''), t.name),
    exists (select 1 from app_public.suppressions s where s.tenant_id = unsubscribe_preview.tenant_id and s.email = m.to_email)
  from app_public.tenants t
  left join app_public.campaigns c on c.tenant_id = t.id and c.id = m.campaign_id
  left join app_public.email_accounts ea on ea.tenant_id = t.id and ea.id = m.email_account_id
  where t.id = unsubscribe_preview.tenant_id;
end;
$$;

COMMENT ON FUNCTION app_private.unsubscribe_preview(tenant_id uuid, message_id uuid) IS 'What the unsubscribe confirmation page shows: the masked recipient, who sent the message, and whether the address is already unsubscribed. No row when the message does not exist.';

CREATE FUNCTION app_private.usage_lockless_budget() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select 25::bigint;
$$;

COMMENT ON FUNCTION app_private.usage_lockless_budget() IS 'B: how many events of one metric one transaction may count without the exclusive lock (see the header of functions/060-usage-limits.sql).';

CREATE FUNCTION app_private.usage_lockless_margin() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select (current_setting('max_connections')::bigint + current_setting('max_prepared_transactions')::bigint)
         * app_private.usage_lockless_budget();
$$;

COMMENT ON FUNCTION app_private.usage_lockless_margin() IS 'N·B: writers count without the exclusive lock only while more than this much of the limit remains.';

CREATE FUNCTION app_private.usage_metrics() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select array['emails_sent', 'campaigns_started', 'warmups', 'contacts', 'domains', 'email_accounts', 'users'];
$$;

COMMENT ON FUNCTION app_private.usage_metrics() IS 'Every usage metric, metered ones first.';

CREATE FUNCTION app_private.usage_noun(metric text, quantity bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case metric
    when 'emails_sent' then case when quantity = 1 then 'email per month' else 'emails per month' end
    when 'campaigns_started' then case when quantity = 1 then 'campaign start per month' else 'campaign starts per month' end
    when 'warmups' then case when quantity = 1 then 'inbox warming up' else 'inboxes warming up' end
    when 'contacts' then case when quantity = 1 then 'contact' else 'contacts' end
    when 'domains' then case when quantity = 1 then 'sending domain' else 'sending domains' end
    when 'email_accounts' then case when quantity = 1 then 'email account' else 'email accounts' end
    when 'users' then case when quantity = 1 then 'member' else 'members' end
  end;
$$;

COMMENT ON FUNCTION app_private.usage_noun(metric text, quantity bigint) IS 'What a quantity of a metric is called in messages ("1 sending domain", "500 emails per month").';

CREATE FUNCTION app_private.use_api_key(secret_hash bytea, client_ip text) RETURNS TABLE(outcome text, api_key_id uuid, tenant_id uuid, scopes text[], rate_limit integer, retry_after integer)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.use_api_key(secret_hash bytea, client_ip text) IS 'Called by the API server (owner pool, a transaction of its own) for a request made with an API key, given the SHA-256 of what was sent: ok with the key''s tenant and scopes, or why it is refused (unknown, revoked, expired, no_api_access, rate_limited with the seconds to wait). Counts the request against the plan''s api_rate_limit per key and minute, records last_used_at/last_used_ip at most once a minute (and on a new address, audited).';

CREATE FUNCTION app_private.uuid_v7_floor(ts timestamp with time zone) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select (lpad(to_hex(floor(extract(epoch from ts) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid;
$$;

COMMENT ON FUNCTION app_private.uuid_v7_floor(ts timestamp with time zone) IS 'The smallest UUIDv7 at the given time: a partition bound.';

CREATE FUNCTION app_private.validated_api_key_scopes(scopes text[]) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_private.validated_api_key_scopes(scopes text[]) IS 'The scopes, sorted and without duplicates; refuses (INVALID_INPUT) none and unknown ones.';

CREATE FUNCTION app_private.warmup_ramp(day_number integer) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  -- 10 messages on day 0, then 20 % more each day (rounded up): 10, 12, 15,
  -- 18, 21, 25, 30, 36, 43, 52 … so the default cap of 50 is reached on day 9
  -- and the table's maximum of 10,000 by day 38.
  select least(10000, ceil(10 * power(1.2::numeric, least(greatest(day_number, 0), 60))))::integer;
$$;

COMMENT ON FUNCTION app_private.warmup_ramp(day_number integer) IS 'Messages an inbox may send on the n-th day of its warm-up (day 0 is the first day): 10, then 20 % more each day.';

CREATE FUNCTION app_private.warmup_tick(at timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_reset record;
  v_warmed integer;
begin
  select * into v_reset from app_private.reset_daily_counts(warmup_tick.at);
  v_warmed := app_private.complete_ip_warmups(warmup_tick.at);
  return jsonb_build_object('inboxes_reset', v_reset.inboxes, 'ips_reset', v_reset.ips, 'ips_warmed', v_warmed);
end;
$$;

COMMENT ON FUNCTION app_private.warmup_tick(at timestamp with time zone) IS 'Run every 15 minutes (time zones are offset by quarter hours): local-midnight resets of daily counts, and IP warm-ups that reached their target.';

CREATE FUNCTION app_private.webhook_lead_state(lead jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select jsonb_build_object('status', lead -> 'status', 'interest_status', lead -> 'interest_status');
$$;

COMMENT ON FUNCTION app_private.webhook_lead_state(lead jsonb) IS 'The part of a lead (as JSON) whose change is a lead.status_changed webhook event, and which the event reports as previous and current.';

CREATE FUNCTION app_private.webhook_subscribers(tenant_id uuid, event_type text, campaign_id uuid) RETURNS uuid[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return array(
    select s.id from app_public.webhook_subscriptions s
    where s.tenant_id = webhook_subscribers.tenant_id and s.enabled
      and (s.event_types = '{}' or webhook_subscribers.event_type = any (s.event_types))
      and (s.campaign_id is null or s.campaign_id = webhook_subscribers.campaign_id)
    order by s.id
  );
end;
$$;

COMMENT ON FUNCTION app_private.webhook_subscribers(tenant_id uuid, event_type text, campaign_id uuid) IS 'The enabled webhook subscriptions of the tenant that want this event type (of this campaign, when a subscription is filtered by campaign).';

CREATE FUNCTION app_private.website_domain(website text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
  select case when h ~ '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' and length(h) <= 253 then h end
  from (select regexp_replace(regexp_replace(regexp_replace(lower(btrim(website)), '^[a-z][a-z0-9+.-]*://', ''), '[/?#:@].*$', ''), '^www\.', '') as h) x;
$_$;

COMMENT ON FUNCTION app_private.website_domain(website text) IS 'The host name of a website as written on a lead (https://www.acme.com/about → acme.com), null when it is not a valid host name.';

CREATE FUNCTION app_private.without_terms(value text, terms text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_term text;
  v_value text := value;
begin
  foreach v_term in array coalesce(terms, '{}') loop
    v_value := regexp_replace(v_value, regexp_replace(v_term, '([\\.^$|?*+()\[\]{}-])', '\\\1', 'g'), '[erased]', 'gi');
  end loop;
  return v_value;
end;
$_$;

COMMENT ON FUNCTION app_private.without_terms(value text, terms text[]) IS 'The text with every occurrence of each term (an address, a name) replaced by [erased], ignoring case.';

CREATE FUNCTION app_private.worker_dead_after() RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select interval '10 seconds';
$$;

COMMENT ON FUNCTION app_private.worker_dead_after() IS 'How long a registered pool whose lock is free may go unseen before its jobs are freed (covers a live process taking its locks again after a database restart).';

CREATE FUNCTION app_private.worker_lock_key(pool_id text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select hashtextextended('penguinmails:worker:' || pool_id, 0);
$$;

COMMENT ON FUNCTION app_private.worker_lock_key(pool_id text) IS 'The advisory lock a live worker process holds (session level) for each graphile-worker pool it runs.';

CREATE TABLE app_public.activities (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT app_public.uuid_v7() NOT NULL,
    kind text NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    lead_id uuid,
    deal_id uuid,
    message_id uuid,
    user_id uuid,
    title text,
    body text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    due_at timestamp with time zone,
    completed_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT activities_body_check CHECK (((length(body) >= 1) AND (length(body) <= 10000))),
    CONSTRAINT activities_details_check CHECK ((jsonb_typeof(details) = 'object'::text)),
    CONSTRAINT activities_kind_check CHECK ((kind = ANY (ARRAY['email_sent'::text, 'email_opened'::text, 'email_clicked'::text, 'email_replied'::text, 'email_bounced'::text, 'email_unsubscribed'::text, 'email_complained'::text, 'status_changed'::text, 'stage_changed'::text, 'converted'::text, 'note'::text, 'task'::text]))),
    CONSTRAINT activities_note_has_body CHECK (((kind <> 'note'::text) OR (body IS NOT NULL))),
    CONSTRAINT activities_subject CHECK (((lead_id IS NOT NULL) OR (deal_id IS NOT NULL))),
    CONSTRAINT activities_task_fields CHECK (((kind = 'task'::text) OR ((due_at IS NULL) AND (completed_at IS NULL)))),
    CONSTRAINT activities_task_has_title CHECK (((kind <> 'task'::text) OR (title IS NOT NULL))),
    CONSTRAINT activities_title_check CHECK (((length(title) >= 1) AND (length(title) <= 200)))
);

ALTER TABLE ONLY app_public.activities FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.activities IS 'The timeline of a lead or a deal: emails sent, opened, clicked, replied, bounced, unsubscribed and complained about (written when the email event is recorded), lead status changes, deal stage changes, the conversion of a lead into a deal, and the notes and tasks members add (addCrmNote, addCrmTask, completeCrmTask). Read it newest first with leadTimeline or dealTimeline.';

COMMENT ON COLUMN app_public.activities.kind IS 'email_sent, email_opened, email_clicked, email_replied, email_bounced, email_unsubscribed, email_complained, status_changed (a lead''s status), stage_changed (a deal''s stage), converted (a lead became a deal), note, task.';

COMMENT ON COLUMN app_public.activities.occurred_at IS 'When it happened (the email event''s time for email activities).';

COMMENT ON COLUMN app_public.activities.message_id IS 'The message of an email activity.';

COMMENT ON COLUMN app_public.activities.user_id IS 'The member who wrote the note or task or converted the lead; null for what the system recorded.';

COMMENT ON COLUMN app_public.activities.details IS 'What else is known: {"url"} of a click, {"bounce_type"} of a bounce, {"from", "to"} of a status or stage change, {"account_created", "crm_account_id"} of a conversion.';

COMMENT ON COLUMN app_public.activities.due_at IS 'When a task is due.';

COMMENT ON COLUMN app_public.activities.completed_at IS 'When a task was completed (completeCrmTask); null while it is open.';

CREATE FUNCTION app_public.add_crm_note(body text, lead_id uuid DEFAULT NULL::uuid, deal_id uuid DEFAULT NULL::uuid) RETURNS app_public.activities
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_user_id uuid := app_public.current_user_id();
  v_body text := nullif(btrim(add_crm_note.body), '');
  v_activity app_public.activities;
begin
  if v_body is null or length(v_body) > 10000 then
    raise exception 'A note needs a text of 1 to 10000 characters.' using errcode = 'INVAL';
  end if;
  perform app_private.crm_subject(v_tenant_id, add_crm_note.lead_id, add_crm_note.deal_id);
  insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, body)
    values (v_tenant_id, 'note', add_crm_note.lead_id, add_crm_note.deal_id, v_user_id, v_body)
    returning * into v_activity;
  return v_activity;
end;
$$;

COMMENT ON FUNCTION app_public.add_crm_note(body text, lead_id uuid, deal_id uuid) IS 'Adds a note (1 to 10000 characters) to the timeline of a lead, a deal, or both. Members and above.';

CREATE FUNCTION app_public.add_crm_task(title text, lead_id uuid DEFAULT NULL::uuid, deal_id uuid DEFAULT NULL::uuid, due_at timestamp with time zone DEFAULT NULL::timestamp with time zone, body text DEFAULT NULL::text) RETURNS app_public.activities
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_user_id uuid := app_public.current_user_id();
  v_title text := nullif(btrim(add_crm_task.title), '');
  v_body text := nullif(btrim(add_crm_task.body), '');
  v_activity app_public.activities;
begin
  if v_title is null or length(v_title) > 200 then
    raise exception 'A task needs a title of 1 to 200 characters.' using errcode = 'INVAL';
  end if;
  if length(v_body) > 10000 then
    raise exception 'A task''s text is at most 10000 characters.' using errcode = 'INVAL';
  end if;
  perform app_private.crm_subject(v_tenant_id, add_crm_task.lead_id, add_crm_task.deal_id);
  insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, title, body, due_at)
    values (v_tenant_id, 'task', add_crm_task.lead_id, add_crm_task.deal_id, v_user_id, v_title, v_body, add_crm_task.due_at)
    returning * into v_activity;
  return v_activity;
end;
$$;

COMMENT ON FUNCTION app_public.add_crm_task(title text, lead_id uuid, deal_id uuid, due_at timestamp with time zone, body text) IS 'Adds an open task (a title, optionally a due time and a text) to the timeline of a lead, a deal, or both. Members and above.';

CREATE FUNCTION app_public.assign_smtp_ip_to_domain(domain_id uuid, smtp_ip_address_id uuid, reason text DEFAULT NULL::text) RETURNS app_public.domain_ip_assignments
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid;
begin
  perform app_private.require_infrastructure_manager();
  select d.tenant_id into v_tenant_id from app_public.domains d where d.id = assign_smtp_ip_to_domain.domain_id;
  if v_tenant_id is null then
    raise exception 'There is no domain %.', domain_id using errcode = 'NTFND';
  end if;
  return app_private.assign_ip(v_tenant_id, domain_id, smtp_ip_address_id, coalesce(reason, 'Assigned by staff'));
end;
$$;

COMMENT ON FUNCTION app_public.assign_smtp_ip_to_domain(domain_id uuid, smtp_ip_address_id uuid, reason text) IS 'Staff (infrastructure.manage): lets a sending IP send for a tenant domain. The assignment is active on a warmed IP, warming on a warming IP and scheduled otherwise; the tenant sees it (read-only) in domainIpAssignments.';

CREATE FUNCTION app_public.campaigns_idle_reason(campaign app_public.campaigns) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select s.idle_reason from app_private.campaign_schedule(campaign.tenant_id, campaign.id) s
  where campaign.tenant_id = app_public.current_tenant_id();
$$;

COMMENT ON FUNCTION app_public.campaigns_idle_reason(campaign app_public.campaigns) IS '@behavior -aggregate
Why the campaign is not sending right now, in a sentence (draft, scheduled, paused and why, waiting for a step, outside the sending window, daily limit, inboxes at their daily cap or unusable); null while it is sending.';

CREATE FUNCTION app_public.campaigns_next_send_at(campaign app_public.campaigns) RETURNS timestamp with time zone
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select s.next_send_at from app_private.campaign_schedule(campaign.tenant_id, campaign.id) s
  where campaign.tenant_id = app_public.current_tenant_id();
$$;

COMMENT ON FUNCTION app_public.campaigns_next_send_at(campaign app_public.campaigns) IS '@behavior -aggregate
When the campaign sends its next message (now or earlier: it is sending); null when it will not send (draft, paused, finished, no usable inbox). See idleReason.';

CREATE FUNCTION app_public.campaigns_stats(campaign app_public.campaigns, since date DEFAULT NULL::date, until date DEFAULT NULL::date) RETURNS app_public.message_stats
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_hidden.stats_with_rates(sum(s.sent)::bigint, sum(s.delivered)::bigint, sum(s.opened)::bigint, sum(s.clicked)::bigint,
    sum(s.replied)::bigint, sum(s.bounced)::bigint, sum(s.failed)::bigint, sum(s.unsubscribed)::bigint, sum(s.complained)::bigint,
    sum(s.opens_total)::bigint, sum(s.clicks_total)::bigint)
  from app_public.campaign_stats_daily s
  where s.tenant_id = campaign.tenant_id and s.campaign_id = campaign.id
    and (since is null or s.day >= since) and (until is null or s.day <= until);
$$;

COMMENT ON FUNCTION app_public.campaigns_stats(campaign app_public.campaigns, since date, until date) IS 'The campaign''s statistics (optionally between two UTC days, inclusive): sent, delivered, unique opens, clicks, replies, bounces, unsubscribes, complaints, and rates over messages sent.';

CREATE FUNCTION app_public.cancel_campaign(campaign_id uuid) RETURNS app_public.campaigns
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
begin
  if v_campaign.status in ('completed', 'cancelled') then
    raise exception 'Campaign "%" is already %.', v_campaign.name, v_campaign.status using errcode = 'STATE';
  end if;
  update app_public.campaigns c set status = 'cancelled', cancelled_at = app_private.engine_now()
    where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  update app_public.campaign_enrollments e set status = 'cancelled', stop_reason = 'The campaign was cancelled.',
      next_run_at = null, completed_at = app_private.engine_now()
    where e.tenant_id = v_campaign.tenant_id and e.campaign_id = v_campaign.id and e.status in ('active', 'paused');
  update app_public.messages m set status = 'cancelled', error_message = 'The campaign was cancelled.'
    where m.tenant_id = v_campaign.tenant_id and m.campaign_id = v_campaign.id and m.direction = 'outbound' and m.status = 'queued';
  select c.* into v_campaign from app_public.campaigns c where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  return v_campaign;
end;
$$;

COMMENT ON FUNCTION app_public.cancel_campaign(campaign_id uuid) IS 'Cancels a campaign for good: its enrollments stop and its queued messages are cancelled (a message already being handed to the SMTP server finishes).';

CREATE FUNCTION app_public.cancel_subscription(at_period_end boolean DEFAULT true) RETURNS app_public.subscriptions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.assert_may_manage_billing();
  return app_private.apply_cancellation(app_public.current_tenant_id(), at_period_end);
end;
$$;

COMMENT ON FUNCTION app_public.cancel_subscription(at_period_end boolean) IS '@name cancel_billing_subscription
Owners and admins: cancel the paid plan at the end of the billing period (default) or now; your organisation then continues on the Free plan and keeps its data. Returns the current subscription.';

CREATE FUNCTION app_public.cancel_tenant_subscription(tenant_id uuid, at_period_end boolean DEFAULT true, reason text DEFAULT NULL::text) RETURNS app_public.subscriptions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_result app_public.subscriptions;
begin
  perform app_private.assert_staff_billing(tenant_id);
  v_result := app_private.apply_cancellation(tenant_id, at_period_end);
  perform app_private.record_staff_billing_action(tenant_id, 'billing.subscription_canceled', reason,
    jsonb_build_object('at_period_end', at_period_end));
  return v_result;
end;
$$;

COMMENT ON FUNCTION app_public.cancel_tenant_subscription(tenant_id uuid, at_period_end boolean, reason text) IS '@name cancel_tenant_billing_subscription
Staff with billing.manage: cancel any tenant''s paid subscription (at period end by default, or now); recorded in the platform audit log.';

CREATE TABLE app_public.tenant_users (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    user_id uuid NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    roles text[] DEFAULT '{member}'::text[] NOT NULL,
    email app_public.email_address NOT NULL,
    CONSTRAINT tenant_users_roles_check CHECK (((cardinality(roles) >= 1) AND (roles <@ ARRAY['owner'::text, 'admin'::text, 'member'::text, 'viewer'::text])))
);

ALTER TABLE ONLY app_public.tenant_users FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.tenant_users IS 'Membership of a user in a tenant with their roles (owner, admin, member, viewer). A removed member keeps the row with `deleted` set and loses access at once.';

COMMENT ON COLUMN app_public.tenant_users.roles IS 'Tenant roles: owner > admin > member > viewer. Owners and admins manage the organisation and its members; members work with the data; viewers read it.';

CREATE FUNCTION app_public.change_member_roles(user_id uuid, roles text[]) RETURNS app_public.tenant_users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_member app_public.tenant_users;
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('members');
  if not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can change roles.' using errcode = 'DNIED';
  end if;
  select tu.* into v_member from app_public.tenant_users tu
    where tu.tenant_id = v_tenant_id and tu.user_id = change_member_roles.user_id and tu.deleted_at is null for update;
  if v_member.user_id is null then
    raise exception 'That user is not a member of this organisation.' using errcode = 'NTFND';
  end if;
  -- Same rule as invitations: only owners create admins or owners.
  if (('owner' = any (roles)) <> ('owner' = any (v_member.roles))
      or ('admin' = any (roles)) <> ('admin' = any (v_member.roles))
      or ('admin' = any (v_member.roles)))
     and not app_public.has_tenant_role('owner') then
    raise exception 'Only an owner can grant or take away the owner or admin role, or change an admin.' using errcode = 'DNIED';
  end if;
  if 'owner' = any (v_member.roles) and not 'owner' = any (roles) then
    perform app_private.assert_keeps_an_owner(v_tenant_id, v_member.user_id);
  end if;
  update app_public.tenant_users tu set roles = change_member_roles.roles
    where tu.tenant_id = v_tenant_id and tu.user_id = v_member.user_id
    returning * into v_member;
  return v_member;
end;
$$;

COMMENT ON FUNCTION app_public.change_member_roles(user_id uuid, roles text[]) IS 'Sets a member''s roles. Admins move people between member and viewer; only owners grant or remove admin and owner; the last owner cannot step down.';

CREATE FUNCTION app_public.change_password(old_password text, new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id uuid := app_public.current_user_id();
  v_hash text;
begin
  if v_user_id is null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user_id for update;
  if v_hash is null or old_password is null or v_hash <> public.crypt(old_password, v_hash) then
    raise exception 'Your current password is not correct.' using errcode = 'CREDS';
  end if;
  if old_password = new_password then
    raise exception 'Choose a password different from the current one.' using errcode = 'WEAKP';
  end if;
  perform app_private.assert_password_policy(new_password, app_private.active_tenant_ids(v_user_id));
  v_hash := app_private.hash_password(new_password);
  update app_private.user_secrets s set password_hash = v_hash, password_changed_at = now()
    where s.user_id = v_user_id;
  -- Every other session ends; this one goes on.
  perform app_private.revoke_sessions(v_user_id, 'password_changed', app_private.current_session_id());
  return true;
end;
$$;

COMMENT ON FUNCTION app_public.change_password(old_password text, new_password text) IS 'Changes your password after checking the current one, against the strictest policy of your organisations; your other sessions end.';

CREATE FUNCTION app_public.change_plan(plan_slug text, at_period_end boolean DEFAULT NULL::boolean) RETURNS app_public.subscriptions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.assert_may_manage_billing();
  return app_private.apply_plan_change(app_public.current_tenant_id(), plan_slug, at_period_end);
end;
$$;

COMMENT ON FUNCTION app_public.change_plan(plan_slug text, at_period_end boolean) IS 'Owners and admins: switch to another plan (free, starter, pro, enterprise). Upgrades apply now and downgrades at the end of the billing period unless atPeriodEnd says otherwise; the Free plan means cancelling. Choosing your current plan undoes a scheduled change or cancellation. Returns the current subscription.';

CREATE FUNCTION app_public.change_tenant_plan(tenant_id uuid, plan_slug text, at_period_end boolean DEFAULT NULL::boolean, reason text DEFAULT NULL::text) RETURNS app_public.subscriptions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_result app_public.subscriptions;
begin
  perform app_private.assert_staff_billing(tenant_id);
  v_result := app_private.apply_plan_change(tenant_id, plan_slug, at_period_end);
  perform app_private.record_staff_billing_action(tenant_id, 'billing.plan_changed', reason,
    jsonb_build_object('plan', plan_slug, 'at_period_end', at_period_end));
  return v_result;
end;
$$;

COMMENT ON FUNCTION app_public.change_tenant_plan(tenant_id uuid, plan_slug text, at_period_end boolean, reason text) IS 'Staff with billing.manage: change any tenant''s plan, with the same rules as changePlan; recorded in the platform audit log.';

CREATE FUNCTION app_public.close_tenant(confirm_name text) RETURNS TABLE(tenant_id uuid, tenant_name text, closed_at timestamp with time zone, purge_after timestamp with time zone)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_tenant app_public.tenants;
  v_now timestamptz := now();
  v_purge_after timestamptz := now() + app_private.tenant_closure_grace();
  v_sub app_public.subscriptions;
  v_paid boolean;
  v_paused integer;
  v_cancelled integer;
  v_reason text;
begin
  -- No API key closes an organisation (functions/052-api-keys.sql: 'members' is an area no key holds).
  perform app_hidden.require_api_scope('members');
  if v_tenant_id is null or not app_public.has_tenant_role('owner') then
    raise exception 'Only an owner can close the organisation.' using errcode = 'DNIED';
  end if;
  select t.* into v_tenant from app_public.tenants t where t.id = v_tenant_id for update;
  if confirm_name is distinct from v_tenant.name then
    raise exception 'To close the organisation, confirm with its exact name ("%").', v_tenant.name using errcode = 'INVAL';
  end if;

  -- Paused by a person (the owner who closed it): billing's resume_tenant_campaigns leaves them alone.
  v_reason := format('The organisation was closed on %s UTC; reopen it, then resume the campaign.',
                     to_char(v_now at time zone 'UTC', 'YYYY-MM-DD HH24:MI'));
  update app_public.campaigns c
    set status = 'paused', paused_at = app_private.engine_now(), paused_by = 'user', pause_reason = v_reason
    where c.tenant_id = v_tenant_id and c.status in ('scheduled', 'sending');
  get diagnostics v_paused = row_count;
  -- Replies written in the platform and not sent yet are not sent.
  update app_public.messages m
    set status = 'cancelled', error_message = 'Not sent: the organisation was closed.'
    where m.tenant_id = v_tenant_id and m.status = 'queued' and m.campaign_id is null and m.direction = 'outbound';
  get diagnostics v_cancelled = row_count;

  -- The paid subscription ends now (the Free plan takes over) and Stripe is told by the billing_stripe_sync job.
  select s.* into v_sub from app_public.subscriptions s where s.tenant_id = v_tenant_id and s.status <> 'canceled';
  v_paid := v_sub.id is not null and v_sub.plan_id is distinct from (app_private.fallback_plan()).id;
  if v_paid then
    perform app_private.apply_cancellation(v_tenant_id, false);
  end if;

  update app_public.tenants t set deleted_at = v_now, closed_by = v_user_id, purge_after = v_purge_after
    where t.id = v_tenant_id
    returning * into v_tenant;
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, table_name, record_id, changes)
    values (v_user_id, 'tenant.closed', v_tenant_id, 'tenants', v_tenant_id::text,
            jsonb_build_object('purge_after', v_purge_after, 'campaigns_paused', v_paused, 'replies_cancelled', v_cancelled,
                               'subscription_cancelled', v_paid));
  return query select v_tenant.id, v_tenant.name, v_tenant.deleted_at, v_tenant.purge_after;
end;
$$;

COMMENT ON FUNCTION app_public.close_tenant(confirm_name text) IS '@resultTypeName TenantClosure
Closes the current organisation (owners; confirm with its exact name): its campaigns pause at once, replies not yet sent are cancelled, a paid subscription ends now (Stripe is told), and no member or API key can act in it any more. Its owners can reopen it for 30 days (reopenTenant); then its data is deleted for good, except its subscriptions and payments.';

CREATE FUNCTION app_public.close_tenant_access(tenant_id uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.close_tenant_access(tenant_id uuid) IS 'Ends your open staff access sessions into a tenant; returns how many were closed.';

CREATE FUNCTION app_public.complete_crm_task(activity_id uuid, completed boolean DEFAULT true) RETURNS app_public.activities
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_activity app_public.activities;
  v_completed_at timestamptz := case when coalesce(complete_crm_task.completed, true) then now() end;
begin
  select a.* into v_activity from app_public.activities a
    where a.tenant_id = v_tenant_id and a.id = complete_crm_task.activity_id
    for no key update;
  if v_activity.id is null then
    raise exception 'There is no task % in this organisation.', activity_id using errcode = 'NTFND';
  end if;
  if v_activity.kind <> 'task' then
    raise exception 'Only tasks can be completed; this activity is a %.', v_activity.kind using errcode = 'STATE';
  end if;
  if (v_activity.completed_at is not null) = (v_completed_at is not null) then
    return v_activity;
  end if;
  update app_public.activities a set completed_at = v_completed_at
    where a.tenant_id = v_tenant_id and a.id = v_activity.id
    returning * into v_activity;
  return v_activity;
end;
$$;

COMMENT ON FUNCTION app_public.complete_crm_task(activity_id uuid, completed boolean) IS 'Marks a task completed now (or open again with completed: false); completing a completed task changes nothing. CONFLICT for an activity that is not a task. Members and above.';

CREATE TABLE app_public.contact_lists (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    description text,
    is_dynamic boolean DEFAULT false NOT NULL,
    filter_criteria jsonb,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contact_lists_dynamic_has_filter CHECK ((is_dynamic = (filter_criteria IS NOT NULL))),
    CONSTRAINT contact_lists_name_check CHECK (((length(name) >= 1) AND (length(name) <= 255)))
);

ALTER TABLE ONLY app_public.contact_lists FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.contact_lists IS 'A list of leads: static (explicit members) or dynamic (filter_criteria evaluated in SQL when used).';

COMMENT ON COLUMN app_public.contact_lists.filter_criteria IS 'For dynamic lists: {"all"|"any": [{"field": "status"|"company"|…|"custom.<key>", "op": "eq"|"neq"|"in"|"contains"|"starts_with"|"gt"|"lt"|"exists", "value": …}, nested groups…]}.';

CREATE FUNCTION app_public.contact_lists_lead_count(list app_public.contact_lists) RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_count bigint;
begin
  if list.is_dynamic then
    execute 'select count(*) from app_public.leads l where l.tenant_id = $1 and ' || app_hidden.lead_filter_sql(list.filter_criteria)
      into v_count using list.tenant_id;
  else
    select count(*) into v_count from app_public.contact_list_members m
      where m.tenant_id = list.tenant_id and m.list_id = list.id;
  end if;
  return v_count;
end;
$_$;

COMMENT ON FUNCTION app_public.contact_lists_lead_count(list app_public.contact_lists) IS 'How many leads the list holds right now.';

CREATE TABLE app_public.leads (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email app_public.email_address NOT NULL,
    name text,
    first_name text,
    last_name text,
    company text,
    title text,
    phone text,
    website text,
    timezone text,
    status text DEFAULT 'active'::text NOT NULL,
    source text,
    custom_fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    unsubscribed_at timestamp with time zone,
    bounced_at timestamp with time zone,
    replied_at timestamp with time zone,
    last_contacted_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid DEFAULT app_public.current_user_id(),
    updated_by uuid,
    search tsvector GENERATED ALWAYS AS (((setweight(to_tsvector('simple'::regconfig, ((((COALESCE(name, ''::text) || ' '::text) || COALESCE(first_name, ''::text)) || ' '::text) || COALESCE(last_name, ''::text))), 'A'::"char") || setweight(to_tsvector('simple'::regconfig, ((COALESCE((email)::text, ''::text) || ' '::text) || COALESCE(company, ''::text))), 'B'::"char")) || setweight(to_tsvector('simple'::regconfig, COALESCE(title, ''::text)), 'C'::"char"))) STORED,
    crm_account_id uuid,
    interest_status text,
    CONSTRAINT leads_company_check CHECK ((length(company) <= 200)),
    CONSTRAINT leads_custom_fields_object CHECK ((jsonb_typeof(custom_fields) = 'object'::text)),
    CONSTRAINT leads_first_name_check CHECK ((length(first_name) <= 100)),
    CONSTRAINT leads_interest_status_check CHECK ((interest_status = ANY (ARRAY['interested'::text, 'not_interested'::text, 'meeting_booked'::text, 'out_of_office'::text, 'wrong_person'::text]))),
    CONSTRAINT leads_last_name_check CHECK ((length(last_name) <= 100)),
    CONSTRAINT leads_name_check CHECK ((length(name) <= 200)),
    CONSTRAINT leads_phone_check CHECK ((length(phone) <= 50)),
    CONSTRAINT leads_source_check CHECK ((length(source) <= 50)),
    CONSTRAINT leads_status_check CHECK ((status = ANY (ARRAY['active'::text, 'replied'::text, 'interested'::text, 'not_interested'::text, 'unsubscribed'::text, 'bounced'::text, 'complained'::text, 'do_not_contact'::text]))),
    CONSTRAINT leads_timezone_check CHECK ((length(timezone) <= 64)),
    CONSTRAINT leads_title_check CHECK ((length(title) <= 200)),
    CONSTRAINT leads_website_check CHECK ((length(website) <= 500))
);

ALTER TABLE ONLY app_public.leads FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.leads IS 'A contact that campaigns can reach; unique per tenant and (case-insensitive) email.';

COMMENT ON COLUMN app_public.leads.status IS 'active, replied, interested, not_interested; unsubscribed, bounced, complained and do_not_contact are never enrolled or sent to.';

COMMENT ON COLUMN app_public.leads.custom_fields IS 'Tenant-defined fields (see custom_field_definitions), usable in templates as {{ lead.custom.<key> }}.';

COMMENT ON COLUMN app_public.leads.search IS 'Full-text document over names, email, company and title.';

COMMENT ON COLUMN app_public.leads.crm_account_id IS 'The CRM account (customer organisation) this lead works for.';

COMMENT ON COLUMN app_public.leads.interest_status IS 'How interested the lead is, as a member judged it from a conversation (setLeadInterestStatus): interested, not_interested, meeting_booked, out_of_office or wrong_person; null until someone says.';

CREATE FUNCTION app_public.contact_lists_leads(list app_public.contact_lists) RETURNS SETOF app_public.leads
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
begin
  if list.is_dynamic then
    return query execute
      'select l.* from app_public.leads l where l.tenant_id = $1 and ' || app_hidden.lead_filter_sql(list.filter_criteria)
      using list.tenant_id;
  else
    return query
      select l.* from app_public.leads l
      join app_public.contact_list_members m on m.tenant_id = l.tenant_id and m.lead_id = l.id
      where m.tenant_id = list.tenant_id and m.list_id = list.id;
  end if;
end;
$_$;

COMMENT ON FUNCTION app_public.contact_lists_leads(list app_public.contact_lists) IS 'The leads in this list: its members, or for a dynamic list the leads matching its filter right now.';

CREATE TABLE app_public.deals (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    title text NOT NULL,
    value numeric(12,2),
    currency text DEFAULT 'USD'::text NOT NULL,
    probability numeric(5,2),
    stage text DEFAULT 'lead'::text NOT NULL,
    primary_lead_id uuid,
    crm_account_id uuid,
    owner_user_id uuid,
    source_campaign_id uuid,
    expected_close_date date,
    actual_close_date date,
    deal_source text,
    description text,
    notes text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid DEFAULT app_public.current_user_id(),
    updated_by uuid,
    deleted_at timestamp with time zone,
    CONSTRAINT deals_check CHECK (((stage = ANY (ARRAY['won'::text, 'lost'::text])) = (actual_close_date IS NOT NULL))),
    CONSTRAINT deals_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT deals_deal_source_check CHECK ((length(deal_source) <= 100)),
    CONSTRAINT deals_probability_check CHECK (((probability >= (0)::numeric) AND (probability <= (100)::numeric))),
    CONSTRAINT deals_stage_check CHECK ((stage = ANY (ARRAY['lead'::text, 'qualified'::text, 'proposal'::text, 'negotiation'::text, 'won'::text, 'lost'::text]))),
    CONSTRAINT deals_title_check CHECK (((length(title) >= 1) AND (length(title) <= 200))),
    CONSTRAINT deals_value_check CHECK ((value >= (0)::numeric))
);

ALTER TABLE ONLY app_public.deals FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.deals IS 'A sales opportunity in the pipeline, typically created from a lead that replied.';

COMMENT ON COLUMN app_public.deals.stage IS 'lead → qualified → proposal → negotiation → won | lost; a closed deal has actual_close_date.';

COMMENT ON COLUMN app_public.deals.deleted_at IS 'Soft delete (softDeleteDeal): a deleted deal is not returned by any query of the API and comes back with restoreDeal; it is never deleted for good through the API.';

CREATE FUNCTION app_public.convert_lead_to_deal(lead_id uuid, stage text DEFAULT 'lead'::text, title text DEFAULT NULL::text, value numeric DEFAULT NULL::numeric, currency text DEFAULT 'USD'::text, expected_close_date date DEFAULT NULL::date) RETURNS app_public.deals
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_user_id uuid := app_public.current_user_id();
  v_stage text := coalesce(nullif(btrim(convert_lead_to_deal.stage), ''), 'lead');
  v_currency text := upper(coalesce(nullif(btrim(convert_lead_to_deal.currency), ''), 'USD'));
  v_title text := nullif(btrim(convert_lead_to_deal.title), '');
  v_close_date date;
  v_lead app_public.leads;
  v_existing app_public.deals;
  v_company text;
  v_domain text;
  v_account_id uuid;
  v_account_created boolean := false;
  v_owner uuid;
  v_new_status text;
  v_deal app_public.deals;
begin
  if convert_lead_to_deal.lead_id is null then
    raise exception 'Say which lead to convert (leadId).' using errcode = 'INVAL';
  end if;
  if v_stage not in ('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost') then
    raise exception 'Unknown deal stage "%"; use lead, qualified, proposal, negotiation, won or lost.', v_stage using errcode = 'INVAL';
  end if;
  if convert_lead_to_deal.value is not null and convert_lead_to_deal.value < 0 then
    raise exception 'A deal''s value cannot be negative.' using errcode = 'INVAL';
  end if;
  if convert_lead_to_deal.value is not null and convert_lead_to_deal.value >= 10000000000 then
    raise exception 'A deal''s value must be below 10,000,000,000.' using errcode = 'INVAL';
  end if;
  if v_currency !~ '^[A-Z]{3}$' then
    raise exception 'The currency must be a three-letter ISO 4217 code such as USD or EUR.' using errcode = 'INVAL';
  end if;
  if length(v_title) > 200 then
    raise exception 'A deal''s title is at most 200 characters.' using errcode = 'INVAL';
  end if;
  if v_stage in ('won', 'lost') then
    v_close_date := current_date;
  end if;

  -- The lead, locked: two conversions of one lead wait for each other, and
  -- the second finds the first one's deal.
  select l.* into v_lead from app_public.leads l
    where l.tenant_id = v_tenant_id and l.id = convert_lead_to_deal.lead_id
    for no key update;
  if v_lead.id is null then
    raise exception 'There is no lead % in this organisation.', convert_lead_to_deal.lead_id using errcode = 'NTFND';
  end if;
  select d.* into v_existing from app_public.deals d
    where d.tenant_id = v_tenant_id and d.primary_lead_id = v_lead.id and d.deleted_at is null
    order by d.created
    limit 1;
  if v_existing.id is not null then
    raise exception 'This lead was already converted into deal "%" (%); work on that deal, or delete it to convert the lead again.',
      v_existing.title, v_existing.id using errcode = 'STATE';
  end if;

  -- The account: the lead's own (when it is live), else the live account
  -- named like the lead's company (case-insensitive), else the one with the
  -- lead's website's domain, else a new one named after the company.
  v_company := nullif(btrim(v_lead.company), '');
  v_domain := app_private.website_domain(v_lead.website);
  if v_lead.crm_account_id is not null then
    select a.id into v_account_id from app_public.crm_accounts a
      where a.tenant_id = v_tenant_id and a.id = v_lead.crm_account_id and a.deleted_at is null;
  end if;
  if v_account_id is null and v_company is not null then
    select a.id into v_account_id from app_public.crm_accounts a
      where a.tenant_id = v_tenant_id and lower(a.name) = lower(v_company) and a.deleted_at is null
      order by a.created, a.id
      limit 1;
  end if;
  if v_account_id is null and v_domain is not null then
    select a.id into v_account_id from app_public.crm_accounts a
      where a.tenant_id = v_tenant_id and a.domain = v_domain::citext and a.deleted_at is null
      order by a.created, a.id
      limit 1;
  end if;
  if v_account_id is null and v_company is not null then
    insert into app_public.crm_accounts (tenant_id, name, domain, created_by)
      values (v_tenant_id, left(v_company, 255), v_domain::app_public.hostname, v_user_id)
      returning id into v_account_id;
    v_account_created := true;
  end if;

  -- The deal, owned by the member converting it (staff in an access session
  -- are not members: their deal has no owner).
  select tu.user_id into v_owner from app_public.tenant_users tu
    where tu.tenant_id = v_tenant_id and tu.user_id = v_user_id and tu.deleted_at is null;
  v_title := coalesce(v_title, left(coalesce(v_company, nullif(btrim(v_lead.name), ''),
                                             nullif(btrim(concat_ws(' ', v_lead.first_name, v_lead.last_name)), ''),
                                             v_lead.email::text), 200));
  insert into app_public.deals (tenant_id, title, value, currency, stage, primary_lead_id, crm_account_id, owner_user_id,
                                expected_close_date, actual_close_date, deal_source, created_by)
    values (v_tenant_id, v_title, convert_lead_to_deal.value, v_currency, v_stage, v_lead.id, v_account_id, v_owner,
            convert_lead_to_deal.expected_close_date, v_close_date, 'lead conversion', v_user_id)
    returning * into v_deal;
  insert into app_public.deal_contacts (tenant_id, deal_id, lead_id, created_by)
    values (v_tenant_id, v_deal.id, v_lead.id, v_user_id);

  -- The lead: linked to the account, and interested unless it may not be
  -- contacted (a suppressed lead keeps its status: it is never mailed again).
  v_new_status := case when v_lead.status in ('active', 'replied', 'not_interested') then 'interested' else v_lead.status end;
  if v_new_status is distinct from v_lead.status
     or (v_account_id is not null and v_lead.crm_account_id is distinct from v_account_id) then
    update app_public.leads l set status = v_new_status, crm_account_id = coalesce(v_account_id, l.crm_account_id)
      where l.tenant_id = v_tenant_id and l.id = v_lead.id;
  end if;

  insert into app_public.activities (tenant_id, kind, lead_id, deal_id, user_id, details)
    values (v_tenant_id, 'converted', v_lead.id, v_deal.id, v_user_id,
            jsonb_build_object('crm_account_id', v_account_id, 'account_created', v_account_created, 'stage', v_stage));
  return v_deal;
end;
$_$;

COMMENT ON FUNCTION app_public.convert_lead_to_deal(lead_id uuid, stage text, title text, value numeric, currency text, expected_close_date date) IS '@enumArg stage deals.stage
Turns a lead into a deal: creates the deal (in stage, default lead; title defaults to the lead''s company or name; owned by you) with the lead as its primary contact (and in its deal contacts), finds the CRM account (the lead''s own, else the one named like the lead''s company, case-insensitive, else the one with its website''s domain) or creates it from the company name, links the lead to it, sets the lead''s status to interested (an unsubscribed, bounced, complained or do-not-contact lead keeps its status) and records a converted activity. A lead with a live deal it is the primary contact of cannot be converted again (CONFLICT naming that deal). NOT_FOUND for a lead not in your organisation. Members and above.';

CREATE FUNCTION app_public.create_api_key(name text, scopes text[], expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.create_api_key(name text, scopes text[], expires_at timestamp with time zone, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) IS 'Creates an API key for this organisation (owners and admins; the plan must include API access). The answer holds the key''s id, prefix, scopes and expiry, and its secret (the whole key), shown this once and never again (only its hash is stored): send it as `Authorization: Bearer <secret>`. Scopes: leads, lists, templates, campaigns, domains and webhooks with :read or :write, analytics:read, billing:read.';

CREATE FUNCTION app_public.current_staff_has_permission(permission text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select permission operator(pg_catalog.=) any (
    coalesce(nullif(pg_catalog.current_setting('app.current_staff_permissions', true), '')::text[], '{}'::text[])
  );
$$;

COMMENT ON FUNCTION app_public.current_staff_has_permission(permission text) IS '@behavior -*
True when the signed-in user is staff and their staff role grants the named permission.';

CREATE FUNCTION app_public.current_tenant() RETURNS app_public.tenants
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select t.* from app_public.tenants t where t.id = app_public.current_tenant_id();
$$;

COMMENT ON FUNCTION app_public.current_tenant() IS 'The tenant this request acts in, or null when the token names no tenant the user may access.';

CREATE FUNCTION app_public.current_tenant_id_for_role(minimum text) RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select case
    when app_public.has_tenant_role(minimum)
    then nullif(pg_catalog.current_setting('app.current_tenant_id', true), '')::uuid
  end;
$$;

COMMENT ON FUNCTION app_public.current_tenant_id_for_role(minimum text) IS '@behavior -*
The tenant of this request when the current user holds at least the given role in it (owner > admin > member > viewer); null otherwise. The standard tenant policies compare tenant_id against it.';

CREATE FUNCTION app_public.current_tenant_roles() RETURNS text[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select coalesce(nullif(pg_catalog.current_setting('app.current_tenant_roles', true), '')::text[], '{}'::text[]);
$$;

COMMENT ON FUNCTION app_public.current_tenant_roles() IS 'Your roles in the organisation your token names: owner, admin, member, viewer (staff access sessions act as viewer or admin). Empty when you may not act in it.';

CREATE FUNCTION app_public.current_usage() RETURNS SETOF app_public.usage_metric
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select u.* from app_private.tenant_usage(app_public.current_tenant_id()) u
  where app_public.current_tenant_id() is not null
    and app_hidden.api_key_allows('billing', 'read'); -- an API key needs billing:read (functions/052-api-keys.sql)
$$;

COMMENT ON FUNCTION app_public.current_usage() IS '@behavior +list -connection
@listSuffix omit
Your organisation''s usage in the current billing period, per metric: emails_sent, campaigns_started and warmups (counted this period), contacts, domains, email_accounts and users (what exists now); with the limit (null: unlimited, add-ons included) and the plan that sets it.';

CREATE FUNCTION app_public."current_user"() RETURNS app_public.users
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select u.* from app_public.users u where u.id = app_public.current_user_id() and u.deleted_at is null;
$$;

COMMENT ON FUNCTION app_public."current_user"() IS 'The signed-in user, or null.';

CREATE FUNCTION app_public.daily_stats(campaign_id uuid DEFAULT NULL::uuid, since date DEFAULT NULL::date, until date DEFAULT NULL::date) RETURNS TABLE(day date, sent bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, unsubscribed bigint)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return query
  select s.day, sum(s.sent)::bigint, sum(s.opened)::bigint, sum(s.clicked)::bigint, sum(s.replied)::bigint,
         sum(s.bounced)::bigint, sum(s.unsubscribed)::bigint
  from app_public.campaign_stats_daily s
  where s.tenant_id = app_public.current_tenant_id()
    and (daily_stats.campaign_id is null or s.campaign_id = daily_stats.campaign_id)
    and (since is null or s.day >= since) and (until is null or s.day <= until)
  group by s.day
  order by s.day;
end;
$$;

COMMENT ON FUNCTION app_public.daily_stats(campaign_id uuid, since date, until date) IS '@resultTypeName DailyStat
Per UTC day: messages sent, opened, clicked, replied, bounced and unsubscribes, for one campaign or all of them.';

CREATE FUNCTION app_public.deals_timeline(deal app_public.deals) RETURNS SETOF app_public.activities
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return query
    select a.* from app_public.activities a
    where a.tenant_id = deal.tenant_id
      and (a.deal_id = deal.id
           or (a.deal_id is null and a.lead_id in (
                 select dc.lead_id from app_public.deal_contacts dc where dc.tenant_id = deal.tenant_id and dc.deal_id = deal.id
                 union all
                 select deal.primary_lead_id)))
    order by a.occurred_at desc, a.id desc;
end;
$$;

COMMENT ON FUNCTION app_public.deals_timeline(deal app_public.deals) IS 'The deal''s activities, newest first: its conversion, stage changes, notes and tasks, and the activities of its primary contact and deal contacts that concern no other deal (their emails, status changes, notes).';

CREATE FUNCTION app_public.delete_my_account(password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user_id uuid := app_public.current_user_id();
  v_hash text;
  v_sole text;
  v_memberships integer;
  v_now timestamptz := now();
  v_anonymous text := format('deleted-%s@deleted.invalid', app_public.current_user_id());
begin
  if v_user_id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in to delete your account.' using errcode = 'DNIED';
  end if;
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user_id for update;
  if v_hash is null or v_hash <> public.crypt(coalesce(password, ''), v_hash) then
    raise exception 'Incorrect password.' using errcode = 'CREDS';
  end if;
  -- An open organisation must keep an owner: the user transfers it or closes it first.
  select string_agg(format('"%s"', t.name), ', ' order by t.name) into v_sole
    from app_public.tenant_users tu
    join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
    where tu.user_id = v_user_id and tu.deleted_at is null and 'owner' = any (tu.roles)
      and not exists (select 1 from app_public.tenant_users o
                      where o.tenant_id = tu.tenant_id and o.user_id <> v_user_id and o.deleted_at is null and 'owner' = any (o.roles));
  if v_sole is not null then
    raise exception 'You are the only owner of %: make another member an owner (changeMemberRoles) or close the organisation (closeTenant) first.', v_sole
      using errcode = 'STATE';
  end if;
  update app_public.tenant_users tu set deleted_at = v_now where tu.user_id = v_user_id and tu.deleted_at is null;
  get diagnostics v_memberships = row_count;
  perform app_private.revoke_sessions(v_user_id, 'account_deleted');
  update app_private.user_secrets s set password_hash = null, locked_until = null where s.user_id = v_user_id;
  -- The person's name and address are not kept; the row stays so audit entries still name an (anonymous) actor.
  update app_public.users u
    set deleted_at = v_now, name = null, given_name = null, family_name = null, picture = null, email = v_anonymous
    where u.id = v_user_id;
  insert into app_public.platform_audit_log (actor_user_id, action, table_name, record_id, changes)
    values (v_user_id, 'user.deleted', 'users', v_user_id::text, jsonb_build_object('memberships_ended', v_memberships));
  return true;
end;
$$;

COMMENT ON FUNCTION app_public.delete_my_account(password text) IS 'Deletes your account (confirm with your password): your memberships end, every session is signed out, and your name and email address are erased. Refused while you are the only owner of an open organisation.';

CREATE FUNCTION app_public.domains_records_to_publish(domain app_public.domains) RETURNS app_public.dns_record_to_publish[]
    LANGUAGE sql IMMUTABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select coalesce(array_agg(row(
    r ->> 'record_type',
    app_private.record_fqdn(r ->> 'name', domain.domain::text),
    case when r ->> 'record_type' in ('SPF', 'DKIM', 'DMARC') then 'TXT' else r ->> 'record_type' end,
    r ->> 'value',
    case when r ->> 'record_type' in ('SPF', 'DKIM', 'DMARC') and r ->> 'value' is not null then (
      select string_agg('"' || substr(r ->> 'value', 1 + 255 * (g - 1), 255) || '"', ' ' order by g)
      from generate_series(1, greatest(1, ceil(length(r ->> 'value') / 255.0)::integer)) g
    ) else r ->> 'value' end,
    (r ->> 'ttl')::integer,
    (r ->> 'priority')::integer,
    r ->> 'verification_status',
    r ->> 'verification_error'
  )::app_public.dns_record_to_publish order by i), '{}')
  from jsonb_array_elements(domain.dns_records -> 'records') with ordinality e(r, i);
$$;

COMMENT ON FUNCTION app_public.domains_records_to_publish(domain app_public.domains) IS 'The records to enter at your DNS provider, with full host names. zoneValue splits long TXT values into quoted 255-character strings (one record, several strings), as zone files and some providers need; a DKIM value is null for the second or so its key takes to generate.';

CREATE TABLE app_public.email_accounts (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    domain_id uuid NOT NULL,
    email app_public.email_address NOT NULL,
    from_name text,
    provider text DEFAULT 'mailu'::text NOT NULL,
    vault_key_path text,
    imap_settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    smtp_settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    daily_limit integer DEFAULT 50 NOT NULL,
    daily_count integer DEFAULT 0 NOT NULL,
    daily_count_date date,
    warmup_enabled boolean DEFAULT true NOT NULL,
    warmup_started_at timestamp with time zone,
    last_warmed_at timestamp with time zone,
    last_sent_at timestamp with time zone,
    last_error text,
    imap_last_uid bigint,
    imap_uid_validity bigint,
    last_polled_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    next_send_at timestamp with time zone,
    smtp_auth_failures integer DEFAULT 0 NOT NULL,
    paused_at timestamp with time zone,
    pause_reason text,
    oauth_status text,
    oauth_connected_at timestamp with time zone,
    CONSTRAINT email_accounts_daily_count_check CHECK ((daily_count >= 0)),
    CONSTRAINT email_accounts_daily_limit_check CHECK (((daily_limit >= 0) AND (daily_limit <= 10000))),
    CONSTRAINT email_accounts_from_name_check CHECK ((length(from_name) <= 100)),
    CONSTRAINT email_accounts_imap_last_uid_check CHECK ((imap_last_uid >= 0)),
    CONSTRAINT email_accounts_imap_settings_shape CHECK (((jsonb_typeof(imap_settings) = 'object'::text) AND (NOT (imap_settings ?| ARRAY['password'::text, 'pass'::text, 'secret'::text])))),
    CONSTRAINT email_accounts_oauth_status_check CHECK ((oauth_status = ANY (ARRAY['connected'::text, 'reconnect_required'::text, 'disconnected'::text]))),
    CONSTRAINT email_accounts_pause_reason_length CHECK ((length(pause_reason) <= 1000)),
    CONSTRAINT email_accounts_provider_check CHECK ((provider = ANY (ARRAY['mailu'::text, 'smtp'::text, 'google'::text, 'microsoft'::text]))),
    CONSTRAINT email_accounts_smtp_auth_failures_check CHECK ((smtp_auth_failures >= 0)),
    CONSTRAINT email_accounts_smtp_settings_shape CHECK (((jsonb_typeof(smtp_settings) = 'object'::text) AND (NOT (smtp_settings ?| ARRAY['password'::text, 'pass'::text, 'secret'::text])))),
    CONSTRAINT email_accounts_status_check CHECK ((status = ANY (ARRAY['active'::text, 'paused'::text, 'disabled'::text, 'error'::text]))),
    CONSTRAINT email_accounts_timezone_check CHECK ((length(timezone) <= 64)),
    CONSTRAINT email_accounts_vault_key_path_check CHECK ((length(vault_key_path) <= 500))
);

ALTER TABLE ONLY app_public.email_accounts FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.email_accounts IS 'A sending inbox: SMTP/IMAP connection settings (credentials are stored encrypted elsewhere), daily cap and warm-up state.';

COMMENT ON COLUMN app_public.email_accounts.smtp_settings IS '{"host", "port", "secure" (implicit TLS), "require_tls", "username"}; the password is set with setEmailAccountCredentials.';

COMMENT ON COLUMN app_public.email_accounts.daily_count IS 'Messages sent on daily_count_date (the account''s local day); resets at local midnight.';

COMMENT ON COLUMN app_public.email_accounts.next_send_at IS 'Earliest time the next campaign message may leave this inbox: the last booked send plus a random gap between the campaign''s min_gap_seconds and max_gap_seconds.';

COMMENT ON COLUMN app_public.email_accounts.smtp_auth_failures IS 'SMTP logins refused in a row since the inbox last sent a message; at 3 the inbox stops sending (status error) until resumeEmailAccount.';

COMMENT ON COLUMN app_public.email_accounts.paused_at IS 'When the platform stopped this inbox''s sending (SMTP logins refused several times in a row, or its OAuth provider refusing access for good); null when it is not stopped.';

COMMENT ON COLUMN app_public.email_accounts.pause_reason IS 'Why the platform stopped this inbox''s sending, in words a user can act on; cleared when the inbox is resumed.';

COMMENT ON COLUMN app_public.email_accounts.oauth_status IS 'For an inbox connected over OAuth (Google, Microsoft): connected; reconnect_required (the provider refused to renew access, e.g. consent revoked or password changed: sends are stopped, connect it again); disconnected. Null for an inbox with a password.';

COMMENT ON COLUMN app_public.email_accounts.oauth_connected_at IS 'When the inbox was last connected over OAuth.';

CREATE FUNCTION app_public.email_accounts_daily_allowance(account app_public.email_accounts) RETURNS integer
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.inbox_allowance(account.warmup_enabled, account.warmup_started_at, account.daily_limit, account.timezone, now());
$$;

COMMENT ON FUNCTION app_public.email_accounts_daily_allowance(account app_public.email_accounts) IS 'How many messages this inbox may send today (its local day): its daily limit, or less while it is warming up.';

CREATE FUNCTION app_public.email_accounts_imap_auth_configured(account app_public.email_accounts) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return exists (
    select 1 from app_private.email_account_credentials cr
    where cr.tenant_id = account.tenant_id and cr.email_account_id = account.id
      and account.tenant_id = app_public.current_tenant_id() and cr.imap_password_encrypted is not null
  );
end;
$$;

COMMENT ON FUNCTION app_public.email_accounts_imap_auth_configured(account app_public.email_accounts) IS 'Whether an IMAP password is stored for this inbox (it is never readable; set it with setEmailAccountCredentials).';

CREATE FUNCTION app_public.email_accounts_smtp_auth_configured(account app_public.email_accounts) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return exists (
    select 1 from app_private.email_account_credentials cr
    where cr.tenant_id = account.tenant_id and cr.email_account_id = account.id
      and account.tenant_id = app_public.current_tenant_id() and cr.smtp_password_encrypted is not null
  );
end;
$$;

COMMENT ON FUNCTION app_public.email_accounts_smtp_auth_configured(account app_public.email_accounts) IS 'Whether an SMTP password is stored for this inbox (it is never readable; set it with setEmailAccountCredentials).';

CREATE FUNCTION app_public.email_accounts_warmup_day(account app_public.email_accounts) RETURNS integer
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case when account.warmup_enabled and account.warmup_started_at is not null then
    greatest(app_private.local_day(now(), account.timezone) - app_private.local_day(account.warmup_started_at, account.timezone), 0)
  end;
$$;

COMMENT ON FUNCTION app_public.email_accounts_warmup_day(account app_public.email_accounts) IS 'Which day of its warm-up this inbox is on today (0 = the day it started); null when it is not warming up.';

CREATE FUNCTION app_public.enabled_features() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select f.key from app_public.feature_flags f
  where f.is_enabled and (
    f.rollout_percentage = 100
    or (app_public.current_tenant_id() is not null
        and app_private.rollout_bucket(f.key, app_public.current_tenant_id()) < f.rollout_percentage)
  )
  order by f.key;
$$;

COMMENT ON FUNCTION app_public.enabled_features() IS 'The keys of every feature flag that is on for the current tenant.';

CREATE FUNCTION app_public.erase_personal_data(email text) RETURNS jsonb
    LANGUAGE plpgsql STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.privacy_request_tenant(email);
  v_email citext := email::citext;
  v_request_id uuid := gen_random_uuid();
  v_subject record;
  v_terms text[];
  v_ids text[];
  v_counts jsonb := '{}';
  v_n integer;
  v_reason text;
  v_erased text;
  v_row record;
  v_jobs integer;
  v_errors jsonb;
begin
  select * into v_subject from app_private.privacy_subject(v_tenant_id, email);
  v_terms := array[lower(email)] || v_subject.name_terms;
  v_ids := array(select unnest(v_subject.lead_ids)::text union all select unnest(v_subject.message_ids)::text);
  select s.reason into v_reason from app_public.suppressions s where s.tenant_id = v_tenant_id and s.email = v_email;
  if cardinality(v_subject.lead_ids) = 0 and cardinality(v_subject.message_ids) = 0 and v_reason is null then
    raise exception 'This organisation holds no lead, message or suppression for %.', lower(email) using errcode = 'NTFND';
  end if;

  -- Events, conversations and messages first (messages reference enrollments, which go with the lead).
  delete from app_public.email_events ev
    where ev.tenant_id = v_tenant_id and (ev.message_id = any (v_subject.message_ids) or ev.lead_id = any (v_subject.lead_ids));
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('email_events', v_n);
  delete from app_public.conversations c where c.tenant_id = v_tenant_id and c.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('conversations', v_n);
  -- References to those messages are cleared first: on Citus the keys declared
  -- ON DELETE SET NULL (column) keep no action (src/db/citus-distribution.ts).
  update app_public.conversations c set last_message_id = null
    where c.tenant_id = v_tenant_id and c.last_message_id = any (v_subject.message_ids);
  update app_public.messages m set parent_message_id = null
    where m.tenant_id = v_tenant_id and m.parent_message_id = any (v_subject.message_ids) and not (m.id = any (v_subject.message_ids));
  update app_public.campaign_enrollments e set current_message_id = null
    where e.tenant_id = v_tenant_id and e.current_message_id = any (v_subject.message_ids);
  update app_public.campaign_enrollments e set thread_message_id = null
    where e.tenant_id = v_tenant_id and e.thread_message_id = any (v_subject.message_ids);
  delete from app_public.messages m where m.tenant_id = v_tenant_id and m.id = any (v_subject.message_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('messages', v_n);

  -- Deals stay (the organisation's pipeline) without the person's address or name in their text.
  v_n := 0;
  for v_row in
    select d.id, d.title, d.description, d.notes from app_public.deals d
    where d.tenant_id = v_tenant_id
      and (d.primary_lead_id = any (v_subject.lead_ids)
           or exists (select 1 from unnest(v_terms) t where app_private.mentions(concat_ws(' ', d.title, d.description, d.notes), t)))
  loop
    update app_public.deals d set
        title = coalesce(app_private.without_terms(v_row.title, v_terms), '[erased]'),
        description = app_private.without_terms(v_row.description, v_terms),
        notes = app_private.without_terms(v_row.notes, v_terms)
      where d.tenant_id = v_tenant_id and d.id = v_row.id;
    v_n := v_n + 1;
  end loop;
  v_counts := v_counts || jsonb_build_object('deals_scrubbed', v_n);
  update app_public.deals d set primary_lead_id = null
    where d.tenant_id = v_tenant_id and d.primary_lead_id = any (v_subject.lead_ids);

  -- The lead and what only links it to the organisation's records. Each table
  -- is emptied explicitly (rather than by the cascades) for the counts.
  delete from app_public.deal_contacts dc where dc.tenant_id = v_tenant_id and dc.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('deal_contacts', v_n);
  delete from app_public.contact_list_members m where m.tenant_id = v_tenant_id and m.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('contact_list_members', v_n);
  delete from app_public.campaign_targets ct where ct.tenant_id = v_tenant_id and ct.lead_id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('campaign_targets', v_n);
  delete from app_public.campaign_enrollments e where e.tenant_id = v_tenant_id and e.id = any (v_subject.enrollment_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('campaign_enrollments', v_n);
  delete from app_public.leads l where l.tenant_id = v_tenant_id and l.id = any (v_subject.lead_ids);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('leads', v_n);

  -- Import results keep their counts; the row errors naming the address go.
  v_n := 0;
  for v_row in
    select i.id, i.errors from app_public.lead_imports i
    where i.tenant_id = v_tenant_id and app_private.mentions(i.errors::text, email)
  loop
    select coalesce(jsonb_agg(e.value order by e.ordinality), '[]') into v_errors
      from jsonb_array_elements(v_row.errors) with ordinality e
      where not app_private.mentions(e.value::text, email);
    update app_public.lead_imports i set errors = v_errors
      where i.tenant_id = v_tenant_id and i.id = v_row.id;
    v_n := v_n + 1;
  end loop;
  v_counts := v_counts || jsonb_build_object('lead_imports_scrubbed', v_n);

  -- Webhook events naming the person or their rows (their deliveries go with them), and
  -- deliveries whose response echoed the address.
  delete from app_public.webhook_events w
    where w.tenant_id = v_tenant_id
      and (app_private.mentions(w.data::text, email)
           or exists (select 1 from unnest(v_ids) i where app_private.mentions(w.data::text, i)));
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('webhook_events', v_n);
  delete from app_public.webhook_deliveries wd
    where wd.tenant_id = v_tenant_id and app_private.mentions(wd.response_body, email);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('webhook_deliveries', v_n);

  -- Earlier audit entries naming the address keep their action, not its data.
  update app_public.audit_log a set changes = '{"erased": true}'
    where a.tenant_id = v_tenant_id and app_private.mentions(a.changes::text, email);
  get diagnostics v_n = row_count;
  v_counts := v_counts || jsonb_build_object('audit_log_scrubbed', v_n);

  -- Queued jobs of this tenant naming the person (not those running now).
  delete from app_private.job_outbox o
    where o.tenant_id = v_tenant_id
      and (app_private.mentions(o.payload::text, email) or exists (select 1 from unnest(v_ids) i where app_private.mentions(o.payload::text, i)));
  get diagnostics v_n = row_count;
  if app_private.on_coordinator() then
    delete from graphile_worker._private_jobs j
      where j.locked_at is null and app_private.mentions(j.payload::text, v_tenant_id::text)
        and (app_private.mentions(j.payload::text, email) or exists (select 1 from unnest(v_ids) i where app_private.mentions(j.payload::text, i)));
    get diagnostics v_jobs = row_count;
    v_n := v_n + v_jobs;
  end if;
  v_counts := v_counts || jsonb_build_object('jobs', v_n);

  -- Never mailed again: the address becomes a salted hash in the suppression list.
  insert into app_private.privacy_salts (tenant_id) values (v_tenant_id) on conflict (tenant_id) do nothing;
  v_erased := app_private.erased_address(v_tenant_id, email);
  delete from app_public.suppressions s where s.tenant_id = v_tenant_id and s.email = v_email;
  insert into app_public.suppressions (tenant_id, email, reason)
    values (v_tenant_id, v_erased, coalesce(v_reason, 'manual'))
    on conflict (tenant_id, email) do nothing;

  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(),
            not coalesce(app_private.membership_roles(app_public.current_user_id(), v_tenant_id) && '{owner,admin}', false),
            'privacy.erase', null, v_request_id::text, jsonb_build_object('request_id', v_request_id, 'counts', v_counts));
  return jsonb_build_object('requestId', v_request_id, 'counts', v_counts);
end;
$$;

COMMENT ON FUNCTION app_public.erase_personal_data(email text) IS 'Erases everything this organisation holds about one email address (a privacy erasure request): its leads (with enrollments, list memberships, deal contacts), every message to, from or about it with their events and conversations, webhook events and queued jobs naming it; scrubs the address and name from deals, import errors and earlier audit entries; and keeps only a salted hash in the suppression list so it is never mailed again. Campaign statistics keep their counts. Writes one audit entry (action privacy.erase) with the request id and the number of rows per table, never the address. Owners and admins only (FORBIDDEN otherwise); NOT_FOUND when nothing is held. Returns {requestId, counts}.';

CREATE FUNCTION app_public.export_personal_data(email text) RETURNS jsonb
    LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_private.privacy_request_tenant(email);
  v_email citext := email::citext;
  v_subject record;
  v_result jsonb;
begin
  select * into v_subject from app_private.privacy_subject(v_tenant_id, email);
  select jsonb_build_object(
    'format', 'penguinmails.personal-data.v1',
    'email', lower(email),
    'tenantId', v_tenant_id,
    'exportedAt', now(),
    'leads', (select coalesce(jsonb_agg(to_jsonb(l) - 'search' order by l.created), '[]') from app_public.leads l
              where l.tenant_id = v_tenant_id and l.id = any (v_subject.lead_ids)),
    'listMemberships', (select coalesce(jsonb_agg(jsonb_build_object('listId', cl.id, 'listName', cl.name, 'leadId', m.lead_id, 'added', m.created)), '[]')
              from app_public.contact_list_members m join app_public.contact_lists cl on cl.tenant_id = v_tenant_id and cl.id = m.list_id
              where m.tenant_id = v_tenant_id and m.lead_id = any (v_subject.lead_ids)),
    'campaignEnrollments', (select coalesce(jsonb_agg(to_jsonb(e) order by e.enrolled_at), '[]') from app_public.campaign_enrollments e
              where e.tenant_id = v_tenant_id and e.id = any (v_subject.enrollment_ids)),
    'messages', (select coalesce(jsonb_agg(to_jsonb(m) order by m.id), '[]') from app_public.messages m
              where m.tenant_id = v_tenant_id and m.id = any (v_subject.message_ids)),
    'emailEvents', (select coalesce(jsonb_agg(to_jsonb(ev) order by ev.id), '[]') from app_public.email_events ev
              where ev.tenant_id = v_tenant_id and (ev.message_id = any (v_subject.message_ids) or ev.lead_id = any (v_subject.lead_ids))),
    'conversations', (select coalesce(jsonb_agg(to_jsonb(c) order by c.created), '[]') from app_public.conversations c
              where c.tenant_id = v_tenant_id and c.lead_id = any (v_subject.lead_ids)),
    'conversationReplies', (select coalesce(jsonb_agg(to_jsonb(cm) order by cm.message_created), '[]') from app_public.conversation_messages cm
              where cm.tenant_id = v_tenant_id and cm.message_id = any (v_subject.message_ids)),
    'deals', (select coalesce(jsonb_agg(to_jsonb(d) order by d.created), '[]') from app_public.deals d
              where d.tenant_id = v_tenant_id and (d.primary_lead_id = any (v_subject.lead_ids) or d.id in (
                select dc.deal_id from app_public.deal_contacts dc where dc.tenant_id = v_tenant_id and dc.lead_id = any (v_subject.lead_ids)))),
    'dealContacts', (select coalesce(jsonb_agg(to_jsonb(dc) order by dc.created), '[]') from app_public.deal_contacts dc
              where dc.tenant_id = v_tenant_id and dc.lead_id = any (v_subject.lead_ids)),
    'activities', (select coalesce(jsonb_agg(to_jsonb(a) order by a.occurred_at), '[]') from app_public.activities a
              where a.tenant_id = v_tenant_id and a.lead_id = any (v_subject.lead_ids)),
    'suppressions', (select coalesce(jsonb_agg(to_jsonb(s) order by s.created), '[]') from app_public.suppressions s
              where s.tenant_id = v_tenant_id and s.email = v_email),
    'importErrors', (select coalesce(jsonb_agg(jsonb_build_object('importId', i.id, 'fileName', i.file_name, 'error', e.value)), '[]')
              from app_public.lead_imports i cross join lateral jsonb_array_elements(i.errors) e
              where i.tenant_id = v_tenant_id and app_private.mentions(e.value::text, email)),
    'webhookEvents', (select coalesce(jsonb_agg(to_jsonb(w) order by w.created), '[]') from app_public.webhook_events w
              where w.tenant_id = v_tenant_id and app_private.mentions(w.data::text, email))
  ) into v_result;
  if v_result -> 'leads' = '[]' and v_result -> 'messages' = '[]' and v_result -> 'suppressions' = '[]'
     and v_result -> 'webhookEvents' = '[]' and v_result -> 'importErrors' = '[]' then
    raise exception 'This organisation holds nothing about %.', lower(email) using errcode = 'NTFND';
  end if;
  return v_result;
end;
$$;

COMMENT ON FUNCTION app_public.export_personal_data(email text) IS 'Everything this organisation holds about one email address (a privacy access request), as one JSON document: its leads with their custom fields, list memberships, campaign enrollments, messages both ways with their events, conversations, deals and deal contacts, its CRM timeline (activities: notes, tasks, emails and status changes), suppressions, import errors and webhook events naming it. Owners and admins only (FORBIDDEN otherwise); NOT_FOUND when nothing is held.';

CREATE FUNCTION app_public.feature_enabled(flag_key text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.feature_enabled(flag_key text) IS 'Whether a feature flag is on for the current tenant: enabled and the tenant''s bucket falls within rollout_percentage. Unknown flags are off.';

CREATE FUNCTION app_public.has_tenant_role(minimum text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  select app_public.current_tenant_roles() operator(pg_catalog.&&) case minimum
    when 'viewer' then array['owner', 'admin', 'member', 'viewer']
    when 'member' then array['owner', 'admin', 'member']
    when 'admin' then array['owner', 'admin']
    when 'owner' then array['owner']
  end;
$$;

COMMENT ON FUNCTION app_public.has_tenant_role(minimum text) IS '@behavior -*
True when the current user holds at least the given tenant role (owner > admin > member > viewer).';

CREATE FUNCTION app_public.inbox_conversations(campaign_id uuid DEFAULT NULL::uuid, email_account_id uuid DEFAULT NULL::uuid, unread boolean DEFAULT NULL::boolean, lead_status text DEFAULT NULL::text, interest_status text DEFAULT NULL::text) RETURNS SETOF app_public.conversations
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  -- A value: the tenant as a parameter routes the query to one shard on Citus.
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  return query
    select c.*
    from app_public.conversations c
    join app_public.leads l on l.tenant_id = v_tenant_id and l.id = c.lead_id
    where c.tenant_id = v_tenant_id
      and (inbox_conversations.campaign_id is null or c.campaign_id = inbox_conversations.campaign_id)
      and (inbox_conversations.email_account_id is null or c.email_account_id = inbox_conversations.email_account_id)
      and (inbox_conversations.unread is null or (c.unread_count > 0) = inbox_conversations.unread)
      and (inbox_conversations.lead_status is null or l.status = inbox_conversations.lead_status)
      and (inbox_conversations.interest_status is null or l.interest_status = inbox_conversations.interest_status)
    order by c.last_message_at desc nulls last, c.id desc;
end;
$$;

COMMENT ON FUNCTION app_public.inbox_conversations(campaign_id uuid, email_account_id uuid, unread boolean, lead_status text, interest_status text) IS '@enumArg lead_status leads.status
@enumArg interest_status leads.interest_status
The unified inbox: conversations with leads, newest message first, optionally only those of a campaign, of an inbox (emailAccountId), with or without unread messages (unread), or whose lead has a status (leadStatus: active, replied…) or an interest status (interestStatus: interested, not_interested, meeting_booked, out_of_office, wrong_person). Each has its lead, inbox, last message and unread count; its messages are conversationMessages.';

CREATE TABLE app_public.invitations (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email app_public.email_address NOT NULL,
    roles text[] DEFAULT '{member}'::text[] NOT NULL,
    expires_at timestamp with time zone DEFAULT (now() + '7 days'::interval) NOT NULL,
    accepted_at timestamp with time zone,
    revoked_at timestamp with time zone,
    invited_by uuid,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT invitations_check CHECK ((expires_at > created)),
    CONSTRAINT invitations_check1 CHECK (((accepted_at IS NULL) OR (revoked_at IS NULL))),
    CONSTRAINT invitations_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT invitations_roles_check CHECK (((cardinality(roles) >= 1) AND (roles <@ ARRAY['admin'::text, 'member'::text, 'viewer'::text])))
);

ALTER TABLE ONLY app_public.invitations FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.invitations IS 'An invitation to join a tenant. At most one open invitation per tenant and email.';

CREATE FUNCTION app_public.invite_member(email text, roles text[] DEFAULT '{member}'::text[]) RETURNS app_public.invitations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_invitation app_public.invitations;
  v_token text := app_private.new_token();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('members');
  if v_tenant_id is null or not app_public.has_tenant_role('admin')
     and not (app_public.has_tenant_role('member')
              and roles <@ '{member,viewer}'
              and (select p.company_allow_member_invites from app_public.tenant_policies p where p.tenant_id = v_tenant_id)) then
    raise exception 'Only owners and admins can invite people to this organisation.' using errcode = 'DNIED';
  end if;
  if 'admin' = any (roles) and not app_public.has_tenant_role('owner') then
    raise exception 'Only an owner can invite an admin.' using errcode = 'DNIED';
  end if;
  -- Memberships come from the organisation's own people: a staff access
  -- session (no membership) may not bring anyone in, staff included.
  if app_private.membership_roles(app_public.current_user_id(), v_tenant_id) is null then
    raise exception 'A staff access session cannot invite people; an owner or admin of the organisation must.' using errcode = 'DNIED';
  end if;
  if exists (
    select 1 from app_public.tenant_users tu
    where tu.tenant_id = v_tenant_id and tu.email = invite_member.email::citext and tu.deleted_at is null
  ) then
    raise exception '% is already a member of this organisation.', email using errcode = 'TAKEN';
  end if;
  -- One open invitation per email: a new one replaces the previous one.
  update app_public.invitations i set revoked_at = now()
    where i.tenant_id = v_tenant_id and i.email = invite_member.email::citext
      and i.accepted_at is null and i.revoked_at is null;
  insert into app_public.invitations (tenant_id, email, roles, invited_by)
    values (v_tenant_id, invite_member.email, invite_member.roles, app_public.current_user_id())
    returning * into v_invitation;
  insert into app_private.invitation_tokens (tenant_id, invitation_id, token_hash)
    values (v_tenant_id, v_invitation.id, app_private.hash_token(v_token));
  -- The token travels only in the job payload (owner-only schema) and the email.
  perform app_private.add_job(v_tenant_id,
    'send_invitation_email',
    json_build_object('tenant_id', v_tenant_id, 'invitation_id', v_invitation.id, 'token', v_token),
    max_attempts => 10
  );
  return v_invitation;
end;
$$;

COMMENT ON FUNCTION app_public.invite_member(email text, roles text[]) IS 'Invites someone by email with the given roles (default member). Owners and admins may invite; members may invite members and viewers when the tenant policy allows. Replaces any open invitation for that email and emails a link valid for 7 days.';

CREATE FUNCTION app_public.leads_timeline(lead app_public.leads) RETURNS SETOF app_public.activities
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return query
    select a.* from app_public.activities a
    where a.tenant_id = lead.tenant_id and a.lead_id = lead.id
    order by a.occurred_at desc, a.id desc;
end;
$$;

COMMENT ON FUNCTION app_public.leads_timeline(lead app_public.leads) IS 'The lead''s activities, newest first: emails sent, opened, clicked, replied, bounced; status changes; its conversion; notes and tasks about it.';

CREATE FUNCTION app_public.logout() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.logout() IS 'Signs out: the token of this request is refused from the next request on.';

CREATE FUNCTION app_public.logout_everywhere() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user uuid := app_public.current_user_id();
begin
  if v_user is null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  return app_private.revoke_sessions(v_user, 'logout_everywhere');
end;
$$;

COMMENT ON FUNCTION app_public.logout_everywhere() IS 'Signs you out on every device: all your sessions, this one included, are refused from the next request on. Returns how many were open.';

CREATE FUNCTION app_public.mark_conversation_read(conversation_id uuid, read boolean DEFAULT true) RETURNS app_public.conversations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(conversation_id);
begin
  return app_private.set_read(v_conversation.tenant_id, v_conversation.id, null, read);
end;
$$;

COMMENT ON FUNCTION app_public.mark_conversation_read(conversation_id uuid, read boolean) IS 'Marks every message the lead wrote in a conversation read (or unread with read: false). Members and above.';

CREATE FUNCTION app_public.mark_message_read(message_id uuid, read boolean DEFAULT true) RETURNS app_public.conversations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(app_private.conversation_of_message(message_id));
begin
  return app_private.set_read(v_conversation.tenant_id, v_conversation.id, message_id, read);
end;
$$;

COMMENT ON FUNCTION app_public.mark_message_read(message_id uuid, read boolean) IS 'Marks one message of a conversation read (or unread with read: false) and returns its conversation. Members and above.';

CREATE FUNCTION app_public.my_closed_tenants() RETURNS TABLE(tenant_id uuid, tenant_name text, closed_at timestamp with time zone, purge_after timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  if app_hidden.current_api_key_id() is not null then
    return;
  end if;
  return query select t.id, t.name, t.deleted_at, t.purge_after from app_private.closed_tenants_owned_by(app_public.current_user_id()) t;
end;
$$;

COMMENT ON FUNCTION app_public.my_closed_tenants() IS '@resultTypeName ClosedTenant
The organisations you own that were closed and can still be reopened (reopenTenant), with the date their data will be deleted.';

CREATE FUNCTION app_public.my_memberships() RETURNS TABLE(tenant_id uuid, tenant_name text, roles text[], joined_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select t.id, t.name, tu.roles, tu.created
  from app_public.tenant_users tu join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
  where tu.user_id = app_public.current_user_id() and tu.deleted_at is null
  order by tu.created;
$$;

COMMENT ON FUNCTION app_public.my_memberships() IS '@resultTypeName Membership
The organisations you belong to and your roles in each: what switchTenant can switch to.';

CREATE FUNCTION app_public.open_tenant_access(tenant_id uuid, reason text, access_mode text DEFAULT 'read'::text, minutes integer DEFAULT 60) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.open_tenant_access(tenant_id uuid, reason text, access_mode text, minutes integer) IS 'Staff only: opens a time-boxed read or write session into one tenant, recorded in that tenant''s audit log and the platform audit log. Use a token naming that tenant to act in it.';

CREATE FUNCTION app_public.pause_campaign(campaign_id uuid) RETURNS app_public.campaigns
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
begin
  if v_campaign.status = 'paused' then
    raise exception 'Campaign "%" is already paused.', v_campaign.name using errcode = 'STATE';
  elsif v_campaign.status = 'draft' then
    raise exception 'Campaign "%" has not been started, so it cannot be paused.', v_campaign.name using errcode = 'STATE';
  elsif v_campaign.status not in ('scheduled', 'sending') then
    raise exception 'Campaign "%" is % and cannot be paused.', v_campaign.name, v_campaign.status using errcode = 'STATE';
  end if;
  update app_public.campaigns c set status = 'paused', paused_at = app_private.engine_now(), paused_by = 'user', pause_reason = null
    where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id
    returning * into v_campaign;
  return v_campaign;
end;
$$;

COMMENT ON FUNCTION app_public.pause_campaign(campaign_id uuid) IS 'Pauses a scheduled or sending campaign: nothing more is sent until it is resumed (a message already being handed to the SMTP server finishes).';

CREATE FUNCTION app_public.remove_member(user_id uuid) RETURNS app_public.tenant_users
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_member app_public.tenant_users;
  v_self boolean := remove_member.user_id = app_public.current_user_id();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('members');
  if v_tenant_id is null or (not v_self and not app_public.has_tenant_role('admin')) then
    raise exception 'Only owners and admins can remove members.' using errcode = 'DNIED';
  end if;
  select tu.* into v_member from app_public.tenant_users tu
    where tu.tenant_id = v_tenant_id and tu.user_id = remove_member.user_id and tu.deleted_at is null for update;
  if v_member.user_id is null then
    raise exception 'That user is not a member of this organisation.' using errcode = 'NTFND';
  end if;
  if not v_self and v_member.roles && '{owner,admin}' and not app_public.has_tenant_role('owner') then
    raise exception 'Only an owner can remove an owner or an admin.' using errcode = 'DNIED';
  end if;
  if 'owner' = any (v_member.roles) then
    perform app_private.assert_keeps_an_owner(v_tenant_id, v_member.user_id);
  end if;
  update app_public.tenant_users tu set deleted_at = now()
    where tu.tenant_id = v_tenant_id and tu.user_id = v_member.user_id
    returning * into v_member;
  return v_member;
end;
$$;

COMMENT ON FUNCTION app_public.remove_member(user_id uuid) IS 'Removes a member (or yourself) from the organisation. Their access ends with their next request, whatever their token says.';

CREATE FUNCTION app_public.reopen_tenant(tenant_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_user_id uuid := app_public.current_user_id();
  v_tenant app_public.tenants;
begin
  if app_hidden.current_api_key_id() is not null then
    raise exception 'An API key cannot reopen an organisation; sign in as its owner.' using errcode = 'DNIED';
  end if;
  select t.* into v_tenant from app_private.closed_tenants_owned_by(v_user_id) t where t.id = reopen_tenant.tenant_id;
  if v_tenant.id is null then
    raise exception 'No closed organisation of yours with that id can be reopened (it is open, its data was deleted, or you are not its owner).'
      using errcode = 'NTFND';
  end if;
  update app_public.tenants t set deleted_at = null, closed_by = null, purge_after = null
    where t.id = v_tenant.id and t.deleted_at is not null
    returning * into v_tenant;
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, table_name, record_id)
    values (v_user_id, 'tenant.reopened', v_tenant.id, 'tenants', v_tenant.id::text);
  return true;
end;
$$;

COMMENT ON FUNCTION app_public.reopen_tenant(tenant_id uuid) IS 'Reopens an organisation you own that was closed less than 30 days ago: members and API keys can act in it again (switchTenant to it). Its campaigns stay paused until resumed; the subscription is on the Free plan (changePlan to upgrade again).';

CREATE FUNCTION app_public.replay_webhook_deliveries(subscription_id uuid, from_time timestamp with time zone, to_time timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_subscription app_public.webhook_subscriptions := app_private.lock_webhook_subscription(subscription_id);
  v_now timestamptz := now();
  v_count integer;
begin
  if from_time is null or to_time is null or to_time <= from_time then
    raise exception 'Give a time range whose end is after its start.' using errcode = 'INVAL';
  end if;
  update app_public.webhook_deliveries d set status = 'pending', attempts = 0, next_attempt_at = v_now, completed_at = null,
      replayed_at = v_now
    where d.tenant_id = v_subscription.tenant_id and d.webhook_subscription_id = v_subscription.id and d.status <> 'pending'
      and d.event_created >= from_time and d.event_created < to_time;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    perform app_private.queue_webhook_delivery(v_subscription.tenant_id, v_subscription.id);
  end if;
  return v_count;
end;
$$;

COMMENT ON FUNCTION app_public.replay_webhook_deliveries(subscription_id uuid, from_time timestamp with time zone, to_time timestamp with time zone) IS 'Delivers again every finished delivery of a subscription whose event happened in [fromTime, toTime), each with its original webhook-id, in event order. Returns how many. Owners and admins.';

CREATE TABLE app_public.webhook_deliveries (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    webhook_subscription_id uuid NOT NULL,
    event_id uuid NOT NULL,
    event_created timestamp with time zone NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    last_attempt_at timestamp with time zone,
    response_code integer,
    response_body text,
    duration_ms integer,
    error text,
    completed_at timestamp with time zone,
    replayed_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT webhook_deliveries_duration_check CHECK ((duration_ms >= 0)),
    CONSTRAINT webhook_deliveries_error_check CHECK ((length(error) <= 1000)),
    CONSTRAINT webhook_deliveries_response_body_check CHECK ((length(response_body) <= 2000)),
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text])))
);

ALTER TABLE ONLY app_public.webhook_deliveries FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.webhook_deliveries IS 'The delivery log: one row per event and subscription, with the outcome of its last attempt. Pending deliveries of a subscription are attempted in event order.';

COMMENT ON COLUMN app_public.webhook_deliveries.event_created IS 'The event''s time, copied for ordering a subscription''s deliveries.';

COMMENT ON COLUMN app_public.webhook_deliveries.status IS 'pending (waiting or retrying), succeeded (a 2xx answer) or failed (every retry failed; replay it to try again).';

COMMENT ON COLUMN app_public.webhook_deliveries.attempts IS 'Attempts since the delivery was created or last replayed.';

COMMENT ON COLUMN app_public.webhook_deliveries.next_attempt_at IS 'When a pending delivery is tried next (after a failure: exponential backoff with jitter).';

COMMENT ON COLUMN app_public.webhook_deliveries.response_code IS 'The HTTP status of the last attempt (null when no answer came: timeout, refused connection or address).';

COMMENT ON COLUMN app_public.webhook_deliveries.response_body IS 'The first 2000 characters of the last answer''s body.';

COMMENT ON COLUMN app_public.webhook_deliveries.duration_ms IS 'How long the last attempt took, in milliseconds.';

COMMENT ON COLUMN app_public.webhook_deliveries.error IS 'Why the last attempt failed, when no HTTP answer explains it.';

CREATE FUNCTION app_public.replay_webhook_delivery(delivery_id uuid) RETURNS app_public.webhook_deliveries
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_delivery app_public.webhook_deliveries;
  v_now timestamptz := now();
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  select d.* into v_delivery from app_public.webhook_deliveries d
    where d.tenant_id = v_tenant_id and d.id = replay_webhook_delivery.delivery_id;
  if v_delivery.id is null then
    raise exception 'There is no webhook delivery % in this organisation.', delivery_id using errcode = 'NTFND';
  end if;
  perform app_private.lock_webhook_subscription(v_delivery.webhook_subscription_id);
  if v_delivery.status = 'pending' then
    raise exception 'This delivery is still pending; it is retried on its own.' using errcode = 'STATE';
  end if;
  update app_public.webhook_deliveries d set status = 'pending', attempts = 0, next_attempt_at = v_now, completed_at = null,
      replayed_at = v_now
    where d.tenant_id = v_tenant_id and d.id = v_delivery.id
    returning * into v_delivery;
  perform app_private.queue_webhook_delivery(v_tenant_id, v_delivery.webhook_subscription_id);
  return v_delivery;
end;
$$;

COMMENT ON FUNCTION app_public.replay_webhook_delivery(delivery_id uuid) IS 'Delivers a succeeded or failed delivery again, with the same webhook-id (its event''s id) and body. It goes out in its event''s place in the order, before newer pending deliveries. Owners and admins.';

CREATE FUNCTION app_public.request_email_verification() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_user app_public.users;
  v_token text;
  v_hash bytea;
  v_expires timestamptz := now() + interval '24 hours';
begin
  select u.* into v_user from app_public.users u where u.id = app_public.current_user_id() and u.deleted_at is null;
  if v_user.id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  elsif v_user.email_verified_at is not null then
    raise exception 'Your email address is already confirmed.' using errcode = 'STATE';
  end if;
  -- At most 3 emails an hour per account (silently: the answer is the same).
  if (select count(*) from app_private.email_verification_tokens t
      where t.user_id = v_user.id and t.created > now() - interval '1 hour') < 3 then
    v_token := app_private.new_token();
    v_hash := app_private.hash_token(v_token);
    insert into app_private.email_verification_tokens (user_id, token_hash, expires_at) values (v_user.id, v_hash, v_expires);
    perform app_private.add_job(null, 'send_email_verification',
      json_build_object('user_id', v_user.id, 'token', v_token), max_attempts => 10);
  end if;
  return true;
end;
$$;

COMMENT ON FUNCTION app_public.request_email_verification() IS 'Emails you a link (single use, 24 hours) that confirms your account''s email address; at most 3 an hour, silently. Refused when it is already confirmed.';

CREATE FUNCTION app_public.reset_password(token text, new_password text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_reset app_private.password_reset_tokens;
  v_hash text;
begin
  select t.* into v_reset from app_private.password_reset_tokens t
    where t.token_hash = app_private.hash_token(reset_password.token) for update;
  if v_reset.id is null then
    raise exception 'This password reset link is not valid.' using errcode = 'NTFND';
  elsif v_reset.used_at is not null or v_reset.expires_at <= now() then
    raise exception 'This password reset link has expired or was already used. Request a new one.' using errcode = 'EXPRD';
  end if;
  perform app_private.assert_password_policy(new_password, app_private.active_tenant_ids(v_reset.user_id));
  -- The hash is computed first: a table is updated with values, not with a
  -- volatile call (which Citus refuses on a global table).
  v_hash := app_private.hash_password(new_password);
  update app_private.user_secrets s set
      password_hash = v_hash, password_changed_at = now(),
      failed_login_attempts = 0, first_failed_login_at = null, locked_until = null
    where s.user_id = v_reset.user_id;
  update app_private.password_reset_tokens t set used_at = now() where t.user_id = v_reset.user_id and t.used_at is null;
  delete from app_private.login_failures f where f.user_id = v_reset.user_id;
  -- Whoever held the old password holds no session any more.
  perform app_private.revoke_sessions(v_reset.user_id, 'password_reset');
  return true;
end;
$$;

COMMENT ON FUNCTION app_public.reset_password(token text, new_password text) IS 'Sets a new password with an emailed reset token (single use, one hour), checked against the strictest policy of the user''s organisations; also lifts a lockout and ends every session of the account.';

CREATE TABLE app_public.crm_accounts (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    domain app_public.hostname,
    industry text,
    street text,
    city text,
    state text,
    country text,
    postal_code text,
    parent_account_id uuid,
    custom_fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    company_size text,
    employee_count integer,
    annual_revenue numeric(15,2),
    revenue_currency text DEFAULT 'USD'::text NOT NULL,
    created_by uuid DEFAULT app_public.current_user_id(),
    updated_by uuid,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    CONSTRAINT crm_accounts_annual_revenue_check CHECK ((annual_revenue >= (0)::numeric)),
    CONSTRAINT crm_accounts_check CHECK ((parent_account_id IS DISTINCT FROM id)),
    CONSTRAINT crm_accounts_city_check CHECK ((length(city) <= 100)),
    CONSTRAINT crm_accounts_company_size_check CHECK ((company_size = ANY (ARRAY['1-10'::text, '11-50'::text, '51-200'::text, '201-1000'::text, '1001-5000'::text, '5000+'::text]))),
    CONSTRAINT crm_accounts_country_check CHECK ((length(country) <= 100)),
    CONSTRAINT crm_accounts_custom_fields_check CHECK ((jsonb_typeof(custom_fields) = 'object'::text)),
    CONSTRAINT crm_accounts_employee_count_check CHECK ((employee_count >= 0)),
    CONSTRAINT crm_accounts_industry_check CHECK ((length(industry) <= 100)),
    CONSTRAINT crm_accounts_name_check CHECK (((length(name) >= 1) AND (length(name) <= 255))),
    CONSTRAINT crm_accounts_postal_code_check CHECK ((length(postal_code) <= 20)),
    CONSTRAINT crm_accounts_revenue_currency_check CHECK ((revenue_currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT crm_accounts_state_check CHECK ((length(state) <= 100)),
    CONSTRAINT crm_accounts_street_check CHECK ((length(street) <= 255))
);

ALTER TABLE ONLY app_public.crm_accounts FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.crm_accounts IS 'A customer organisation in the CRM, possibly part of a parent account.';

COMMENT ON COLUMN app_public.crm_accounts.parent_account_id IS 'The account this one is part of; a hierarchy never loops (an account cannot be its own ancestor).';

COMMENT ON COLUMN app_public.crm_accounts.deleted_at IS 'Soft delete (softDeleteCrmAccount): set instead of deleting so deals keep their history; a deleted account is not returned by any query of the API and comes back with restoreCrmAccount.';

CREATE FUNCTION app_public.restore_crm_account(row_id uuid) RETURNS app_public.crm_accounts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_account app_public.crm_accounts;
begin
  select a.* into v_account from app_public.crm_accounts a
    where a.tenant_id = v_tenant_id and a.id = restore_crm_account.row_id
    for no key update;
  if v_account.id is null then
    raise exception 'There is no CRM account % in this organisation.', row_id using errcode = 'NTFND';
  end if;
  if v_account.deleted_at is null then
    raise exception 'Account "%" is not deleted.', v_account.name using errcode = 'STATE';
  end if;
  update app_public.crm_accounts a set deleted_at = null
    where a.tenant_id = v_tenant_id and a.id = v_account.id
    returning * into v_account;
  return v_account;
end;
$$;

COMMENT ON FUNCTION app_public.restore_crm_account(row_id uuid) IS 'Brings back a deleted CRM account. CONFLICT when it is not deleted. Members and above.';

CREATE FUNCTION app_public.restore_deal(row_id uuid) RETURNS app_public.deals
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_deal app_public.deals;
begin
  select d.* into v_deal from app_public.deals d
    where d.tenant_id = v_tenant_id and d.id = restore_deal.row_id
    for no key update;
  if v_deal.id is null then
    raise exception 'There is no deal % in this organisation.', row_id using errcode = 'NTFND';
  end if;
  if v_deal.deleted_at is null then
    raise exception 'Deal "%" is not deleted.', v_deal.title using errcode = 'STATE';
  end if;
  if v_deal.primary_lead_id is not null and exists (
    select 1 from app_public.deals d
    where d.tenant_id = v_tenant_id and d.primary_lead_id = v_deal.primary_lead_id and d.deleted_at is null
  ) then
    raise exception 'Its lead was converted again since this deal was deleted; delete that deal first to restore this one.' using errcode = 'STATE';
  end if;
  update app_public.deals d set deleted_at = null
    where d.tenant_id = v_tenant_id and d.id = v_deal.id
    returning * into v_deal;
  return v_deal;
end;
$$;

COMMENT ON FUNCTION app_public.restore_deal(row_id uuid) IS 'Brings back a deleted deal. CONFLICT when it is not deleted, or when its lead has another live deal (converted again since). Members and above.';

CREATE FUNCTION app_public.resume_campaign(campaign_id uuid) RETURNS app_public.campaigns
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
begin
  if v_campaign.status <> 'paused' then
    raise exception 'Campaign "%" is %, not paused; only a paused campaign can be resumed.', v_campaign.name, v_campaign.status
      using errcode = 'STATE';
  end if;
  perform app_private.resume_campaign_row(v_campaign.tenant_id, v_campaign.id);
  select c.* into v_campaign from app_public.campaigns c where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  return v_campaign;
end;
$$;

COMMENT ON FUNCTION app_public.resume_campaign(campaign_id uuid) IS 'Resumes a paused campaign (whoever paused it): enrollments continue where they stopped and new members of its target lists are enrolled. If the pause came from the plan limit or billing and that is not resolved, the next send pauses it again with the reason.';

CREATE FUNCTION app_public.resume_email_account(email_account_id uuid) RETURNS app_public.email_accounts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_inbox app_public.email_accounts;
  v_ids uuid[];
begin
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins of this organisation can resume an inbox.' using errcode = 'DNIED';
  end if;
  select ea.* into v_inbox from app_public.email_accounts ea
    where ea.tenant_id = v_tenant_id and ea.id = resume_email_account.email_account_id
    for no key update;
  if v_inbox.id is null then
    raise exception 'There is no inbox % in this organisation.', email_account_id using errcode = 'NTFND';
  end if;
  if v_inbox.status not in ('paused', 'error') then
    raise exception 'Inbox % is %; only a paused inbox or one in error can be resumed.', v_inbox.email, v_inbox.status using errcode = 'STATE';
  end if;
  update app_public.email_accounts ea set status = 'active'
    where ea.tenant_id = v_tenant_id and ea.id = v_inbox.id
    returning * into v_inbox;
  -- Sequences waiting for this inbox (a message booked on it, or pinned to it) try again now.
  select coalesce(array_agg(e.id), '{}') into v_ids
    from app_public.campaign_enrollments e
    left join app_public.messages m on m.tenant_id = v_tenant_id and m.id = e.current_message_id
    where e.tenant_id = v_tenant_id and e.status = 'active'
      and (e.email_account_id = v_inbox.id or (m.email_account_id = v_inbox.id and m.status = 'queued'));
  perform app_private.schedule_enrollments(v_tenant_id, v_ids);
  return v_inbox;
end;
$$;

COMMENT ON FUNCTION app_public.resume_email_account(email_account_id uuid) IS 'Resumes an inbox the platform stopped (repeated SMTP login failures) or that was paused: it is active again, the reason is cleared, and the sequences waiting for it try again now. Owners and admins.';

CREATE FUNCTION app_public.revoke_api_key(api_key_id uuid) RETURNS app_public.api_keys
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.revoke_api_key(api_key_id uuid) IS 'Revokes an API key (owners and admins): it is refused from the next request on. Revoking a revoked key changes nothing.';

CREATE FUNCTION app_public.revoke_invitation(invitation_id uuid) RETURNS app_public.invitations
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_invitation app_public.invitations;
  -- The tenant as a value: Citus refuses the CASE of current_tenant_id() in an UPDATE's WHERE.
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('members');
  if not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can revoke invitations.' using errcode = 'DNIED';
  end if;
  update app_public.invitations i set revoked_at = now()
    where i.tenant_id = v_tenant_id and i.id = invitation_id
      and i.accepted_at is null and i.revoked_at is null
    returning * into v_invitation;
  if v_invitation.id is null then
    raise exception 'There is no open invitation %.', invitation_id using errcode = 'NTFND';
  end if;
  return v_invitation;
end;
$$;

COMMENT ON FUNCTION app_public.revoke_invitation(invitation_id uuid) IS 'Cancels an open invitation; its link stops working at once.';

CREATE FUNCTION app_public.rotate_api_key(api_key_id uuid, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.rotate_api_key(api_key_id uuid, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) IS 'Replaces an API key''s secret (owners and admins): the old secret is refused from the next request on; the answer holds the new one, shown this once. Name, scopes and expiry stay.';

CREATE FUNCTION app_public.rotate_domain_dkim_key(domain_id uuid) RETURNS app_public.domains
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
declare
  v_domain app_public.domains;
  v_selector text;
  v_key app_private.dkim_key_pool;
  v_waiting text;
  v_tenant_id uuid;
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if not app_public.has_tenant_role('admin') then
    raise exception 'Rotating a domain''s DKIM key needs the admin or owner role.' using errcode = 'DNIED';
  end if;
  -- The tenant as a value, so that on Citus the locking query names it.
  v_tenant_id := app_public.current_tenant_id();
  select * into v_domain from app_public.domains d
    where d.tenant_id = v_tenant_id and d.id = rotate_domain_dkim_key.domain_id
    for update;
  if not found then
    raise exception 'There is no domain % in this organisation.', domain_id using errcode = 'NTFND';
  end if;
  select r ->> 'name' into v_waiting from jsonb_array_elements(v_domain.dns_records -> 'records') r
    where r ->> 'record_type' = 'DKIM' and (r ->> 'role' = 'next' or r -> 'public_key' = 'null'::jsonb)
    limit 1;
  if v_waiting is not null then
    raise exception 'A new DKIM key (%.%) is still waiting to be published and verified; publish it before rotating again.', v_waiting, v_domain.domain
      using errcode = 'STATE';
  end if;
  v_selector := left(regexp_replace(v_domain.dkim_selector, '-[0-9]{14}$', ''), 48) || '-' || to_char(now() at time zone 'UTC', 'YYYYMMDDHH24MISS');
  if exists (select 1 from app_private.domain_dkim_keys k where k.tenant_id = v_domain.tenant_id and k.domain_id = v_domain.id and k.selector = v_selector) then
    raise exception 'The DKIM key of % was rotated a moment ago; try again in a second.', v_domain.domain using errcode = 'STATE';
  end if;

  v_key := app_private.take_dkim_key(v_domain.tenant_id, v_domain.id);
  if v_key.id is not null then
    delete from app_private.dkim_key_pool p where p.id = v_key.id;
    insert into app_private.domain_dkim_keys (tenant_id, domain_id, selector, private_key_encrypted, public_key, key_bits)
      values (v_domain.tenant_id, v_domain.id, v_selector, v_key.private_key_encrypted, v_key.public_key, v_key.key_bits);
  else
    perform app_private.add_job(v_domain.tenant_id, 'generate_dkim_key',
      json_build_object('tenant_id', v_domain.tenant_id, 'domain_id', v_domain.id, 'selector', v_selector),
      job_key => 'generate_dkim_key:' || v_domain.id || ':' || v_selector, max_attempts => 10);
  end if;
  update app_public.domains d
    set dns_records = jsonb_set(d.dns_records, '{records}',
      (d.dns_records -> 'records') || jsonb_build_array(app_private.dkim_record(d.id, v_selector, v_key.public_key, 'next')))
    where d.tenant_id = v_domain.tenant_id and d.id = v_domain.id
    returning * into v_domain;
  if v_key.id is not null then
    perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id);
  end if;
  return v_domain;
end;
$_$;

COMMENT ON FUNCTION app_public.rotate_domain_dkim_key(domain_id uuid) IS 'Starts a DKIM key rotation (admins and owners): a new key under a new selector is added to dnsRecords with role "next". Mail stays signed with the current key until the new record is published and verifies; then the new key signs and the old record may be removed.';

CREATE FUNCTION app_public.search_leads(query text) RETURNS SETOF app_public.leads
    LANGUAGE plpgsql STABLE STRICT
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_query tsquery;
begin
  if length(trim(query)) = 0 then
    raise exception 'Enter something to search for.' using errcode = 'INVAL';
  end if;
  if length(query) > 500 then
    raise exception 'A search is at most 500 characters long; this one has %.', length(query) using errcode = 'INVAL';
  end if;
  v_query := websearch_to_tsquery('simple', query);
  -- Only stop words or punctuation: nothing can match.
  if numnode(v_query) = 0 then
    return;
  end if;
  return query
    select l.*
    from app_public.leads l
    where l.tenant_id = app_public.current_tenant_id()
      and l.search @@ v_query
    order by ts_rank_cd(l.search, v_query) desc, l.created desc, l.id;
end;
$$;

COMMENT ON FUNCTION app_public.search_leads(query text) IS 'Leads matching a full-text search over names, email, company and title, best matches first. Supports words, "quoted phrases", OR and -excluded words (e.g. `ada "head of sales" -globex`). Combine with filter, first/after and aggregates like any connection.';

CREATE FUNCTION app_public.send_reply(message_id uuid, text text DEFAULT NULL::text, html text DEFAULT NULL::text) RETURNS app_public.messages
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(app_private.conversation_of_message(message_id));
  v_original app_public.messages;
  v_lead app_public.leads;
  v_account record;
  v_to text;
  v_block text;
  v_text text := nullif(btrim(send_reply.text), '');
  v_html text := nullif(btrim(send_reply.html), '');
  v_now timestamptz := app_private.engine_now();
  v_id uuid;
  v_rfc_id text;
  v_references text;
  v_subject text;
  v_user_id uuid := app_public.current_user_id();
  v_reply app_public.messages;
begin
  if v_text is null and v_html is null then
    raise exception 'A reply needs text or html.' using errcode = 'INVAL';
  end if;
  if length(v_text) > 100000 or length(v_html) > 500000 then
    raise exception 'A reply is at most 100,000 characters of text and 500,000 of HTML.' using errcode = 'INVAL';
  end if;
  select m.* into v_original from app_public.messages m
    where m.tenant_id = v_conversation.tenant_id and m.id = send_reply.message_id;
  select l.* into v_lead from app_public.leads l
    where l.tenant_id = v_conversation.tenant_id and l.id = v_conversation.lead_id;
  if v_original.rfc_message_id is null then
    raise exception 'Message % has not been sent yet, so there is nothing to answer.', message_id using errcode = 'STATE';
  end if;
  -- The lead's address as they wrote from it, else the one we wrote to.
  v_to := case when v_original.direction = 'inbound' then v_original.from_email::text else v_original.to_email::text end;
  v_to := coalesce(v_to, v_lead.email::text);
  if v_conversation.email_account_id is null then
    raise exception 'The inbox of this conversation was deleted; the reply cannot be sent from it.' using errcode = 'STATE';
  end if;
  v_block := app_private.inbox_unusable_reason(v_conversation.tenant_id, v_conversation.email_account_id);
  if v_block is not null then
    raise exception 'The reply cannot be sent: %.', v_block using errcode = 'STATE';
  end if;
  v_block := app_private.lead_block_reason(v_conversation.tenant_id, v_to, v_lead.status);
  if v_block is not null then
    raise exception 'The reply was not queued: %. Unsubscribed, bounced and suppressed leads get no mail from the platform, replies included.', v_block
      using errcode = 'STATE';
  end if;
  perform app_private.book_reply_capacity(v_conversation.tenant_id, v_conversation.email_account_id, v_now);
  perform app_private.consume_usage(v_conversation.tenant_id, 'emails_sent', 1);

  select ea.email::text as email, d.domain::text as domain into v_account
    from app_public.email_accounts ea
    join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
    where ea.tenant_id = v_conversation.tenant_id and ea.id = v_conversation.email_account_id;
  v_id := app_public.uuid_v7(v_now);
  v_rfc_id := v_id::text || '@' || v_account.domain;
  -- References: the answered message's own References, then its Message-ID (RFC 5322 §3.6.4).
  v_references := btrim(concat_ws(' ', v_original.references_header, '<' || v_original.rfc_message_id || '>'));
  v_subject := app_private.reply_subject(coalesce(v_conversation.subject, v_original.subject));
  insert into app_public.messages (tenant_id, id, direction, message_type, status, email_account_id, lead_id, parent_message_id,
                                   from_email, to_email, subject, rfc_message_id, in_reply_to, references_header, body_text, scheduled_for)
    values (v_conversation.tenant_id, v_id, 'outbound', 'email', 'queued', v_conversation.email_account_id, v_lead.id, v_original.id,
            v_account.email, v_to, v_subject, v_rfc_id, v_original.rfc_message_id, nullif(v_references, ''), v_text, v_now);
  select m.* into v_reply from app_public.messages m where m.tenant_id = v_conversation.tenant_id and m.id = v_id;
  perform app_private.link_conversation_message(v_conversation.tenant_id, v_conversation.id, v_id, 'outbound', v_reply.created,
    v_html, v_user_id);
  perform app_private.queue_reply_send(v_conversation.tenant_id, v_id);
  return v_reply;
end;
$$;

COMMENT ON FUNCTION app_public.send_reply(message_id uuid, text text, html text) IS 'Answers a message of a conversation (messageId: usually the lead''s) with text and/or html: queued now and sent within seconds from the conversation''s inbox, DKIM-signed, as "Re: <the thread''s subject>" with In-Reply-To and References pointing at the answered message, and kept in the conversation. Takes a place in the inbox''s daily cap and the plan''s monthly emails; refused (nothing queued) when the cap is reached, the inbox cannot send, or the lead is unsubscribed, bounced or suppressed. It does not move the lead''s campaign sequence. Members and above.';

CREATE FUNCTION app_public.send_webhook_test_event(subscription_id uuid) RETURNS app_public.webhook_deliveries
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_subscription app_public.webhook_subscriptions := app_private.lock_webhook_subscription(subscription_id);
  v_event_id uuid := gen_random_uuid();
  v_created timestamptz := clock_timestamp();
  v_delivery app_public.webhook_deliveries;
begin
  if not v_subscription.enabled then
    raise exception 'This webhook is disabled; enable it before sending a test event.' using errcode = 'STATE';
  end if;
  insert into app_public.webhook_events (tenant_id, id, event_type, data, created)
    values (v_subscription.tenant_id, v_event_id, 'webhook.test',
            jsonb_build_object('subscription_id', v_subscription.id, 'message', 'A test event from PenguinMails.'), v_created);
  insert into app_public.webhook_deliveries (tenant_id, webhook_subscription_id, event_id, event_created, next_attempt_at)
    values (v_subscription.tenant_id, v_subscription.id, v_event_id, v_created, v_created)
    returning * into v_delivery;
  perform app_private.queue_webhook_delivery(v_subscription.tenant_id, v_subscription.id);
  return v_delivery;
end;
$$;

COMMENT ON FUNCTION app_public.send_webhook_test_event(subscription_id uuid) IS 'Sends a webhook.test event to one subscription (after its pending deliveries). Owners and admins; returns the delivery to follow in the log.';

CREATE FUNCTION app_public.set_domain_ip_assignment_status(assignment_id uuid, status text, reason text DEFAULT NULL::text) RETURNS app_public.domain_ip_assignments
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old app_public.domain_ip_assignments;
  v_assignment app_public.domain_ip_assignments;
begin
  perform app_private.require_infrastructure_manager();
  if status is null or status not in ('scheduled', 'warming', 'active', 'expired') then
    raise exception 'Unknown assignment status "%"; use warming, active or expired.', status using errcode = 'INVAL';
  end if;
  -- Found across tenants, then locked by its key (Citus locks rows only in a
  -- query that names its tenant).
  select * into v_old from app_public.domain_ip_assignments a where a.id = assignment_id;
  select * into v_old from app_public.domain_ip_assignments a where a.tenant_id = v_old.tenant_id and a.id = v_old.id for update;
  if not found then
    raise exception 'There is no domain IP assignment %.', assignment_id using errcode = 'NTFND';
  end if;
  update app_public.domain_ip_assignments a
    set status = set_domain_ip_assignment_status.status, status_reason = coalesce(reason, a.status_reason)
    where a.tenant_id = v_old.tenant_id and a.id = v_old.id
    returning * into v_assignment;
  -- The last domain leaving an assigned (never warmed) IP returns it to the pool.
  -- (Counted first: Citus refuses a function reading a tenant table inside
  -- an update of a reference table.)
  if v_assignment.status = 'expired' and app_private.live_assignment_count(v_assignment.smtp_ip_address_id) = 0 then
    update app_public.smtp_ip_addresses ip
      set status = 'available', status_reason = 'Its last domain assignment ended.'
      where ip.id = v_assignment.smtp_ip_address_id and ip.status = 'assigned';
  end if;
  perform app_private.audit_infrastructure('domain_ip.' || v_assignment.status, 'domain_ip_assignments', v_assignment.id, v_assignment.tenant_id,
    jsonb_build_object('from', v_old.status, 'to', v_assignment.status), reason);
  return v_assignment;
end;
$$;

COMMENT ON FUNCTION app_public.set_domain_ip_assignment_status(assignment_id uuid, status text, reason text) IS '@enumArg status domain_ip_assignments.status
Staff (infrastructure.manage): moves a domain IP assignment through scheduled → warming → active → expired.';

CREATE FUNCTION app_public.set_lead_interest_status(conversation_id uuid, interest_status text) RETURNS app_public.leads
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(conversation_id);
  v_lead app_public.leads;
  v_status text := nullif(btrim(set_lead_interest_status.interest_status), '');
  v_user_id uuid := app_public.current_user_id();
  v_staff boolean;
begin
  if v_status is not null and v_status not in ('interested', 'not_interested', 'meeting_booked', 'out_of_office', 'wrong_person') then
    raise exception 'Unknown interest status "%"; use interested, not_interested, meeting_booked, out_of_office or wrong_person (or null to clear it).', v_status
      using errcode = 'INVAL';
  end if;
  select l.* into v_lead from app_public.leads l
    where l.tenant_id = v_conversation.tenant_id and l.id = v_conversation.lead_id
    for no key update;
  if v_lead.interest_status is distinct from v_status then
    -- Staff acting in an access session are not members (as tg__audit tells them apart).
    select not exists (select 1 from app_public.tenant_users tu
                       where tu.tenant_id = v_lead.tenant_id and tu.user_id = v_user_id and tu.deleted_at is null)
      into v_staff;
    update app_public.leads l set interest_status = v_status
      where l.tenant_id = v_lead.tenant_id and l.id = v_lead.id;
    insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
      values (v_lead.tenant_id, v_user_id, v_staff, 'leads.interest_status', 'leads', v_lead.id::text,
              jsonb_build_object('interest_status', jsonb_build_object('from', v_lead.interest_status, 'to', v_status),
                                 'conversation_id', v_conversation.id));
  end if;
  select l.* into v_lead from app_public.leads l where l.tenant_id = v_conversation.tenant_id and l.id = v_conversation.lead_id;
  return v_lead;
end;
$$;

COMMENT ON FUNCTION app_public.set_lead_interest_status(conversation_id uuid, interest_status text) IS '@enumArg interest_status leads.interest_status
Sets the interest of a conversation''s lead (interested, not_interested, meeting_booked, out_of_office, wrong_person; null clears it), recorded in the audit log with who did it and from which conversation. Members and above.';

CREATE FUNCTION app_public.set_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text DEFAULT NULL::text) RETURNS app_public.smtp_ip_addresses
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  perform app_private.require_infrastructure_manager();
  return app_private.change_smtp_ip_status(smtp_ip_address_id, status, reason, false);
end;
$$;

COMMENT ON FUNCTION app_public.set_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text) IS '@enumArg status smtp_ip_addresses.status
Staff (infrastructure.manage): moves a sending IP through its lifecycle: available → assigned/warming → warmed; warmed/warming → degraded → burned; any → quarantined → available. Quarantining or burning moves its domains to healthy IPs.';

CREATE TABLE app_public.system_config (
    key text NOT NULL,
    value jsonb,
    description text,
    category text,
    is_sensitive boolean DEFAULT false NOT NULL,
    updated_by uuid,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT system_config_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT system_config_description_check CHECK ((length(description) <= 500)),
    CONSTRAINT system_config_key_check CHECK ((key ~ '^[a-z][a-z0-9_.-]{1,254}$'::text)),
    CONSTRAINT system_config_sensitive_value_hidden CHECK (((NOT is_sensitive) OR (value IS NULL)))
);

ALTER TABLE ONLY app_public.system_config FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.system_config IS 'Platform-wide configuration for staff. Sensitive values are kept in app_private and never exposed.';

CREATE FUNCTION app_public.set_system_config(key text, value jsonb, is_sensitive boolean DEFAULT false, description text DEFAULT NULL::text, category text DEFAULT NULL::text) RETURNS app_public.system_config
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

COMMENT ON FUNCTION app_public.set_system_config(key text, value jsonb, is_sensitive boolean, description text, category text) IS 'Sets a system configuration value (staff with system_config.manage). A sensitive value is stored in app_private and is never readable again through the API.';

CREATE TABLE app_public.vps_instances (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    hostwinds_instance_id text,
    ip_address inet,
    region text,
    status text DEFAULT 'provisioning'::text NOT NULL,
    monthly_cost numeric(10,2),
    approximate_cost numeric(8,2),
    hostwinds_billing_day integer,
    current_billing_period_start timestamp with time zone,
    current_billing_period_end timestamp with time zone,
    decommission_scheduled_for timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    status_reason text,
    status_changed_at timestamp with time zone,
    CONSTRAINT vps_instances_approximate_cost_check CHECK ((approximate_cost >= (0)::numeric)),
    CONSTRAINT vps_instances_hostwinds_billing_day_check CHECK (((hostwinds_billing_day >= 1) AND (hostwinds_billing_day <= 31))),
    CONSTRAINT vps_instances_monthly_cost_check CHECK ((monthly_cost >= (0)::numeric)),
    CONSTRAINT vps_instances_region_check CHECK ((length(region) <= 50)),
    CONSTRAINT vps_instances_status_check CHECK ((status = ANY (ARRAY['active'::text, 'provisioning'::text, 'scheduled_decommission'::text, 'decommissioned'::text]))),
    CONSTRAINT vps_instances_status_reason_check CHECK ((length(status_reason) <= 500))
);

ALTER TABLE ONLY app_public.vps_instances FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.vps_instances IS 'A sending server run by the platform (staff only).';

COMMENT ON COLUMN app_public.vps_instances.status IS 'provisioning → active → scheduled_decommission → decommissioned (or back to active); changed with setVpsInstanceStatus.';

COMMENT ON COLUMN app_public.vps_instances.approximate_cost IS 'Monthly cost attributed to the tenants it serves, for profitability analysis.';

COMMENT ON COLUMN app_public.vps_instances.status_reason IS 'Why the server last changed status.';

CREATE FUNCTION app_public.set_vps_instance_status(vps_instance_id uuid, status text, reason text DEFAULT NULL::text, decommission_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS app_public.vps_instances
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_old app_public.vps_instances;
  v_vps app_public.vps_instances;
  v_ip record;
begin
  perform app_private.require_infrastructure_manager();
  if status is null or status not in ('active', 'provisioning', 'scheduled_decommission', 'decommissioned') then
    raise exception 'Unknown server status "%"; use active, scheduled_decommission or decommissioned.', status using errcode = 'INVAL';
  end if;
  if decommission_at is not null and status <> 'scheduled_decommission' then
    raise exception 'decommissionAt only goes with the scheduled_decommission status.' using errcode = 'INVAL';
  end if;
  if decommission_at is not null and decommission_at <= now() then
    raise exception 'decommissionAt must be in the future (got %).', decommission_at using errcode = 'INVAL';
  end if;
  select * into v_old from app_public.vps_instances v where v.id = vps_instance_id for update;
  if not found then
    raise exception 'There is no server %.', vps_instance_id using errcode = 'NTFND';
  end if;
  update app_public.vps_instances v
    set status = set_vps_instance_status.status,
        status_reason = reason,
        decommission_scheduled_for = case when set_vps_instance_status.status = 'scheduled_decommission' then decommission_at else v.decommission_scheduled_for end
    where v.id = v_old.id
    returning * into v_vps;
  if v_vps.status = 'decommissioned' then
    for v_ip in select ip.id from app_public.smtp_ip_addresses ip where ip.vps_instance_id = v_vps.id and ip.status <> 'burned' loop
      perform app_private.change_smtp_ip_status(v_ip.id, 'burned', format('Server %s decommissioned', coalesce(v_vps.hostwinds_instance_id, v_vps.id::text)));
    end loop;
  end if;
  perform app_private.audit_infrastructure('vps_instance.' || v_vps.status, 'vps_instances', v_vps.id, null,
    jsonb_build_object('from', v_old.status, 'to', v_vps.status, 'decommission_scheduled_for', v_vps.decommission_scheduled_for), reason);
  return v_vps;
end;
$$;

COMMENT ON FUNCTION app_public.set_vps_instance_status(vps_instance_id uuid, status text, reason text, decommission_at timestamp with time zone) IS 'Staff (infrastructure.manage): moves a server through provisioning → active → scheduled_decommission (on decommissionAt, default in 30 days) → decommissioned, or back to active. Decommissioning retires its IPs and is refused while they send for tenant domains.';

CREATE FUNCTION app_public.smtp_ip_addresses_daily_allowance(ip app_public.smtp_ip_addresses) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select app_private.ip_allowance(ip.status, ip.daily_limit, ip.warmup_started_at, now());
$$;

COMMENT ON FUNCTION app_public.smtp_ip_addresses_daily_allowance(ip app_public.smtp_ip_addresses) IS 'How many messages this IP may send today (UTC); null means no cap.';

CREATE FUNCTION app_public.soft_delete_crm_account(row_id uuid) RETURNS app_public.crm_accounts
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_now timestamptz := now();
  v_account app_public.crm_accounts;
begin
  update app_public.crm_accounts a set deleted_at = v_now
    where a.tenant_id = v_tenant_id and a.id = soft_delete_crm_account.row_id and a.deleted_at is null
    returning * into v_account;
  if v_account.id is null then
    raise exception 'There is no CRM account % in this organisation (or it is already deleted).', row_id using errcode = 'NTFND';
  end if;
  return v_account;
end;
$$;

COMMENT ON FUNCTION app_public.soft_delete_crm_account(row_id uuid) IS 'Deletes a CRM account softly: the account is no longer returned by any query of the API (lists, lookups, relations), its deals, leads and sub-accounts keep their link to it, and restoreCrmAccount brings it back. NOT_FOUND when there is no such live account. Members and above.';

CREATE FUNCTION app_public.soft_delete_deal(row_id uuid) RETURNS app_public.deals
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_tenant_id uuid := app_private.crm_tenant_for_change();
  v_now timestamptz := now();
  v_deal app_public.deals;
begin
  update app_public.deals d set deleted_at = v_now
    where d.tenant_id = v_tenant_id and d.id = soft_delete_deal.row_id and d.deleted_at is null
    returning * into v_deal;
  if v_deal.id is null then
    raise exception 'There is no deal % in this organisation (or it is already deleted).', row_id using errcode = 'NTFND';
  end if;
  return v_deal;
end;
$$;

COMMENT ON FUNCTION app_public.soft_delete_deal(row_id uuid) IS 'Deletes a deal softly: the deal is no longer returned by any query of the API (lists, lookups, relations) and restoreDeal brings it back; nothing is removed (its deal contacts and activities stay as they are). NOT_FOUND when there is no such live deal. Members and above.';

CREATE FUNCTION app_public.start_campaign(campaign_id uuid) RETURNS app_public.campaigns
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_campaign app_public.campaigns := app_private.lock_campaign_for_change(campaign_id);
  v_problems text[];
  v_limit text;
begin
  if v_campaign.status = 'paused' then
    raise exception 'Campaign "%" is paused; resume it instead of starting it again.', v_campaign.name using errcode = 'STATE';
  elsif v_campaign.status <> 'draft' then
    raise exception 'Campaign "%" is %; only a draft campaign can be started.', v_campaign.name, v_campaign.status using errcode = 'STATE';
  end if;
  v_problems := app_private.campaign_start_problems(v_campaign.tenant_id, v_campaign.id);
  if cardinality(v_problems) > 0 then
    v_limit := app_private.campaign_limit_problem(v_campaign.tenant_id);
    if v_limit is not null then
      v_problems := v_problems || v_limit;
    end if;
    raise exception 'Campaign "%" cannot start: %', v_campaign.name, array_to_string(v_problems, ' ')
      using errcode = 'INVAL', detail = to_json(v_problems)::text;
  end if;
  perform app_private.consume_usage(v_campaign.tenant_id, 'campaigns_started', 1);

  update app_public.templates t set is_started = true
    where t.tenant_id = v_campaign.tenant_id and not t.is_started
      and t.id in (select s.template_id from app_public.campaign_sequence_steps s
                   where s.tenant_id = v_campaign.tenant_id and s.campaign_id = v_campaign.id);

  if v_campaign.scheduled_for is not null and v_campaign.scheduled_for > app_private.engine_now() then
    update app_public.campaigns c set status = 'scheduled'
      where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
    perform app_private.queue_campaign_start(v_campaign.tenant_id, v_campaign.id, v_campaign.scheduled_for);
  else
    perform app_private.begin_campaign(v_campaign.tenant_id, v_campaign.id);
  end if;
  select c.* into v_campaign from app_public.campaigns c where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id;
  return v_campaign;
end;
$$;

COMMENT ON FUNCTION app_public.start_campaign(campaign_id uuid) IS 'Starts a draft campaign: checks that it can send (inboxes with a verified domain and DKIM key, an email step with a template and a subject, a non-empty audience, the plan''s campaign starts) and names every problem at once; counts a campaign start against the plan; then sends now, or at `scheduled` when that is in the future.';

CREATE FUNCTION app_public.tenant_stats(since date DEFAULT NULL::date, until date DEFAULT NULL::date) RETURNS app_public.message_stats
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
#variable_conflict use_column
begin
  return (
  select app_hidden.stats_with_rates(sum(s.sent)::bigint, sum(s.delivered)::bigint, sum(s.opened)::bigint, sum(s.clicked)::bigint,
    sum(s.replied)::bigint, sum(s.bounced)::bigint, sum(s.failed)::bigint, sum(s.unsubscribed)::bigint, sum(s.complained)::bigint,
    sum(s.opens_total)::bigint, sum(s.clicks_total)::bigint)
  from app_public.campaign_stats_daily s
  where s.tenant_id = app_public.current_tenant_id()
    and (since is null or s.day >= since) and (until is null or s.day <= until)
  );
end;
$$;

COMMENT ON FUNCTION app_public.tenant_stats(since date, until date) IS 'Statistics of all your organisation''s campaigns (optionally between two UTC days, inclusive).';

CREATE FUNCTION app_public.tenants_my_roles(tenant app_public.tenants) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case when tenant.id = app_public.current_tenant_id() then app_public.current_tenant_roles() end;
$$;

COMMENT ON FUNCTION app_public.tenants_my_roles(tenant app_public.tenants) IS 'Your roles in this tenant.';

CREATE FUNCTION app_public.usage_periods_usage(period app_public.usage_periods) RETURNS app_public.usage_figures
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
  select case
    when period.closed_at is not null then
      row(period.emails_sent, period.campaigns_started, period.warmups, period.contacts,
          period.domains, period.email_accounts, period.users)::app_public.usage_figures
    else
      row(app_private.metered_usage(period.tenant_id, 'emails_sent', period.period_start),
          app_private.metered_usage(period.tenant_id, 'campaigns_started', period.period_start),
          app_private.metered_usage(period.tenant_id, 'warmups', period.period_start),
          app_private.gauge_value(period.tenant_id, 'contacts'),
          app_private.gauge_value(period.tenant_id, 'domains'),
          app_private.gauge_value(period.tenant_id, 'email_accounts'),
          app_private.gauge_value(period.tenant_id, 'users'))::app_public.usage_figures
  end
  where period.tenant_id = app_public.current_tenant_id();
$$;

COMMENT ON FUNCTION app_public.usage_periods_usage(period app_public.usage_periods) IS 'Usage in this billing period: live figures while the period is open, the final figures recorded at roll-over once it is closed. Counted events (emails_sent, campaigns_started, warmups) belong to the period; contacts, domains, email_accounts and users are what existed (at close, for a closed period).';

CREATE FUNCTION app_public.verify_domain(domain_id uuid) RETURNS app_public.domains
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_domain app_public.domains;
  -- The tenant as a value: Citus refuses the CASE of current_tenant_id() in an UPDATE's WHERE.
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('domains');
  if not app_public.has_tenant_role('member') then
    raise exception 'Checking a domain''s DNS needs the member role or above in this organisation.' using errcode = 'DNIED';
  end if;
  update app_public.domains d
    set verification_status = case when d.verification_status = 'pending' and not exists (
          select 1 from jsonb_array_elements(d.dns_records -> 'records') r where r -> 'value' = 'null'::jsonb
        ) then 'verifying' else d.verification_status end
    where d.tenant_id = v_tenant_id and d.id = verify_domain.domain_id
    returning * into v_domain;
  if not found then
    raise exception 'There is no domain % in this organisation.', domain_id using errcode = 'NTFND';
  end if;
  perform app_private.queue_domain_verification(v_domain.tenant_id, v_domain.id);
  return v_domain;
end;
$$;

COMMENT ON FUNCTION app_public.verify_domain(domain_id uuid) IS 'Checks the domain''s DNS records now (in the background, usually within seconds): watch verificationStatus and each record''s status in dnsRecords.';

CREATE FUNCTION app_public.verify_email(token text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_token app_private.email_verification_tokens;
  v_now timestamptz := now();
begin
  select t.* into v_token from app_private.email_verification_tokens t where t.token_hash = app_private.hash_token(verify_email.token) for update;
  if v_token.id is null then
    raise exception 'This confirmation link is not valid.' using errcode = 'NTFND';
  elsif v_token.used_at is not null or v_token.expires_at <= v_now then
    raise exception 'This confirmation link has expired or was already used. Ask for a new one.' using errcode = 'EXPRD';
  end if;
  update app_public.users u set email_verified_at = v_now where u.id = v_token.user_id and u.email_verified_at is null;
  update app_private.email_verification_tokens t set used_at = v_now, updated = v_now where t.user_id = v_token.user_id and t.used_at is null;
  return true;
end;
$$;

COMMENT ON FUNCTION app_public.verify_email(token text) IS 'Confirms an account''s email address with the token of the emailed link (requestEmailVerification); the link works once.';

CREATE TABLE app_private.api_key_secrets (
    secret_hash bytea NOT NULL,
    tenant_id uuid NOT NULL,
    api_key_id uuid NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT api_key_secrets_secret_hash_check CHECK ((length(secret_hash) = 32))
);

ALTER TABLE ONLY app_private.api_key_secrets FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.api_key_secrets IS 'The SHA-256 of each API key''s current secret and the key it belongs to. Replaced on rotation; never reachable by an API role.';

CREATE TABLE app_private.auth_throttle (
    scope text NOT NULL,
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL,
    CONSTRAINT auth_throttle_hits_check CHECK ((hits >= 0)),
    CONSTRAINT auth_throttle_key_check CHECK (((length(key) >= 1) AND (length(key) <= 100))),
    CONSTRAINT auth_throttle_scope_check CHECK ((scope = ANY (ARRAY['reset:user'::text, 'reset:client'::text, 'register:email'::text, 'register:client'::text, 'api:key'::text])))
);

ALTER TABLE ONLY app_private.auth_throttle FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.auth_throttle IS 'Hits per fixed time window for throttled auth operations (password reset emails per account and per client address); rows of past windows are overwritten, and removed by cleanup_expired_tokens.';

CREATE TABLE app_private.declarative_state (
    id integer NOT NULL,
    hash text NOT NULL,
    applied_at timestamp with time zone NOT NULL,
    CONSTRAINT declarative_state_id_check CHECK ((id = 1))
);

ALTER TABLE ONLY app_private.declarative_state FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.declarative_state IS 'Hash of the functions/ and policies/ files last applied, so an unchanged folder is not re-applied.';

CREATE TABLE app_private.domain_dkim_keys (
    tenant_id uuid NOT NULL,
    domain_id uuid NOT NULL,
    selector text NOT NULL,
    private_key_encrypted bytea NOT NULL,
    public_key text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    key_bits integer,
    retired_at timestamp with time zone,
    CONSTRAINT domain_dkim_keys_key_bits_check CHECK ((key_bits >= 1024))
);

ALTER TABLE ONLY app_private.domain_dkim_keys FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.domain_dkim_keys IS 'DKIM key pairs; the private key is encrypted by the application key (AES-256-GCM) and only the worker decrypts it.';

COMMENT ON COLUMN app_private.domain_dkim_keys.private_key_encrypted IS 'PKCS#8 PEM of the RSA private key, sealed with makeSecretBox (PM_SECRETS_KEY): version byte, IV, tag, ciphertext.';

COMMENT ON COLUMN app_private.domain_dkim_keys.public_key IS 'Base64 SubjectPublicKeyInfo (DER): the p= value of the DKIM TXT record.';

COMMENT ON COLUMN app_private.domain_dkim_keys.retired_at IS 'When a rotated key replaced this one for signing; mail is signed with the domain''s dkim_selector, whose key is never retired.';

CREATE TABLE app_private.email_account_credentials (
    tenant_id uuid NOT NULL,
    email_account_id uuid NOT NULL,
    smtp_password_encrypted bytea,
    imap_password_encrypted bytea,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    oauth_refresh_token_encrypted bytea,
    oauth_access_token_encrypted bytea,
    oauth_access_expires_at timestamp with time zone
);

ALTER TABLE ONLY app_private.email_account_credentials FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.email_account_credentials IS 'SMTP/IMAP passwords encrypted with the application key (AES-256-GCM); decrypted only inside the worker.';

COMMENT ON COLUMN app_private.email_account_credentials.oauth_refresh_token_encrypted IS 'The OAuth refresh token of a Google or Microsoft inbox, sealed with the application key; read only by the worker.';

COMMENT ON COLUMN app_private.email_account_credentials.oauth_access_token_encrypted IS 'The current OAuth access token (XOAUTH2 login), sealed; renewed by the worker before oauth_access_expires_at.';

CREATE TABLE app_private.email_verification_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.email_verification_tokens FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.email_verification_tokens IS 'Emailed links that confirm an account''s address (SHA-256 of the token; single use, 24 hours).';

CREATE TABLE app_private.engine_clock (
    id integer NOT NULL,
    offset_by interval DEFAULT '00:00:00'::interval NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT engine_clock_id_check CHECK ((id = 1))
);

ALTER TABLE ONLY app_private.engine_clock FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.engine_clock IS 'Offset of the sending engine''s clock from real time (one row; zero in production, moved by tests through advance_engine_clock).';

CREATE TABLE app_private.invitation_tokens (
    tenant_id uuid NOT NULL,
    invitation_id uuid NOT NULL,
    token_hash bytea NOT NULL
);

ALTER TABLE ONLY app_private.invitation_tokens FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.invitation_tokens IS 'SHA-256 of each invitation token; the token itself is only ever sent by email.';

CREATE TABLE app_private.job_outbox (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    identifier text NOT NULL,
    payload json NOT NULL,
    queue_name text,
    run_at timestamp with time zone,
    max_attempts integer,
    job_key text,
    priority integer,
    job_key_mode text,
    created timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);

ALTER TABLE ONLY app_private.job_outbox FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.job_outbox IS 'Jobs queued by triggers running on a Citus worker node, waiting to be moved into graphile-worker''s queue on the coordinator (the arguments of graphile_worker.add_job).';

CREATE TABLE app_private.login_failures (
    user_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    client text NOT NULL,
    failed_attempts integer DEFAULT 0 NOT NULL,
    first_failed_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone,
    CONSTRAINT login_failures_client_check CHECK (((length(client) >= 1) AND (length(client) <= 100))),
    CONSTRAINT login_failures_failed_attempts_check CHECK ((failed_attempts >= 0))
);

ALTER TABLE ONLY app_private.login_failures FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.login_failures IS 'Consecutive failed sign-ins per user, organisation and client address, and the lockout they caused (the organisation''s max_login_attempts and lockout_minutes).';

CREATE TABLE app_private.message_handovers (
    tenant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    attempt integer NOT NULL,
    handed_over timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT message_handovers_attempt_check CHECK ((attempt > 0))
);

ALTER TABLE ONLY app_private.message_handovers FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.message_handovers IS 'One row per SMTP attempt whose final "." was about to be written (committed before it is written): the server may have that attempt''s message. Read by resolve_interrupted_send; a message''s rows go when it leaves "sending" (trigger _600_forget_handovers).';

CREATE TABLE app_private.oauth_states (
    tenant_id uuid NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    provider text NOT NULL,
    state_hash bytea NOT NULL,
    code_verifier_encrypted bytea NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT oauth_states_provider_check CHECK ((provider = ANY (ARRAY['google'::text, 'microsoft'::text])))
);

ALTER TABLE ONLY app_private.oauth_states FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.oauth_states IS 'One OAuth connection started by a tenant admin (startInboxOAuth): SHA-256 of the `state` sent to the provider, bound to the tenant, the user and a short expiry, used once by the callback; the PKCE code verifier sealed with the application key.';

COMMENT ON COLUMN app_private.oauth_states.used_at IS 'When the callback consumed this state; a used state is refused (no replay).';

CREATE TABLE app_private.password_reset_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.password_reset_tokens FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.password_reset_tokens IS 'Password reset tokens, stored as SHA-256 hashes of the emailed token; single use, short-lived.';

CREATE TABLE app_private.pending_registrations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email public.citext NOT NULL,
    password_hash text NOT NULL,
    name text,
    tenant_name text NOT NULL,
    token_hash bytea NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    confirmed_at timestamp with time zone,
    CONSTRAINT pending_registrations_email_check CHECK ((length((email)::text) <= 254)),
    CONSTRAINT pending_registrations_name_check CHECK ((length(name) <= 200)),
    CONSTRAINT pending_registrations_tenant_name_check CHECK (((length(tenant_name) >= 1) AND (length(tenant_name) <= 200)))
);

ALTER TABLE ONLY app_private.pending_registrations FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.pending_registrations IS 'A sign-up waiting for its email to be confirmed: the password''s bcrypt hash, the organisation''s name and the SHA-256 of the emailed token. The account and organisation are created when the link is used (app_hidden.confirm_registration).';

CREATE TABLE app_private.privacy_salts (
    tenant_id uuid NOT NULL,
    salt bytea DEFAULT public.gen_random_bytes(32) NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT privacy_salts_salt_check CHECK ((octet_length(salt) = 32))
);

ALTER TABLE ONLY app_private.privacy_salts FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.privacy_salts IS 'One random salt per tenant for the hashes of erased addresses, kept in the suppression list as <hex sha256(salt || lower(address))>@erased.invalid (app_private.erased_address); a hash from one tenant says nothing in another, and without the salt (no API role reads it) an address cannot be tested against it.';

CREATE TABLE app_private.resource_counts (
    tenant_id uuid NOT NULL,
    resource text NOT NULL,
    value integer DEFAULT 0 NOT NULL,
    shard smallint DEFAULT 0 NOT NULL,
    CONSTRAINT resource_counts_resource_check CHECK ((resource = ANY (ARRAY['contacts'::text, 'domains'::text, 'email_accounts'::text, 'users'::text]))),
    CONSTRAINT resource_counts_shard_check CHECK ((((shard >= 0) AND (shard <= 15)) AND ((shard = 0) OR (resource = 'contacts'::text)))),
    CONSTRAINT resource_counts_value_check CHECK (((value >= 0) OR (resource = 'contacts'::text)))
);

ALTER TABLE ONLY app_private.resource_counts FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.resource_counts IS 'Current number of leads, domains, email accounts and members per tenant, for plan limits: the sum over shards (contacts use 16, the others shard 0).';

CREATE TABLE app_private.stripe_events (
    id text NOT NULL,
    type text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    processed_at timestamp with time zone,
    tenant_id uuid,
    payload jsonb NOT NULL,
    error text,
    outcome text,
    CONSTRAINT stripe_events_id_check CHECK ((id ~ '^evt_[A-Za-z0-9]+$'::text)),
    CONSTRAINT stripe_events_outcome_check CHECK ((outcome = ANY (ARRAY['applied'::text, 'stale'::text, 'unknown_customer'::text, 'ignored'::text, 'failed'::text])))
);

ALTER TABLE ONLY app_private.stripe_events FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.stripe_events IS 'Every Stripe webhook event, stored once by id: a replay is a no-op.';

COMMENT ON COLUMN app_private.stripe_events.tenant_id IS 'The tenant the event was applied to, when it named one (no foreign key: the log outlives tenants).';

COMMENT ON COLUMN app_private.stripe_events.outcome IS 'applied; stale (older than the state already applied); unknown_customer (no tenant has that customer or subscription); ignored (event type not handled); failed (see error).';

CREATE TABLE app_private.system_secrets (
    key text NOT NULL,
    value jsonb NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.system_secrets FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.system_secrets IS 'Values of sensitive system_config keys (e.g. the platform Stripe account).';

CREATE TABLE app_private.two_factor_recovery_codes (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    code_hash bytea NOT NULL,
    used_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.two_factor_recovery_codes FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.two_factor_recovery_codes IS 'Single-use recovery codes of a user''s two-factor authentication, stored as SHA-256 hashes; shown once, when enrolment is confirmed.';

CREATE TABLE app_private.usage_counters (
    tenant_id uuid NOT NULL,
    period_start timestamp with time zone NOT NULL,
    metric text NOT NULL,
    shard smallint NOT NULL,
    value bigint DEFAULT 0 NOT NULL,
    CONSTRAINT usage_counters_metric_check CHECK ((metric = ANY (ARRAY['emails_sent'::text, 'campaigns_started'::text, 'warmups'::text]))),
    CONSTRAINT usage_counters_shard_check CHECK (((shard >= 0) AND (shard <= 63))),
    CONSTRAINT usage_counters_value_check CHECK ((value >= 0))
);

ALTER TABLE ONLY app_private.usage_counters FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.usage_counters IS 'Sharded event counters per tenant and billing period (sum over shards = usage).';

CREATE TABLE app_private.user_secrets (
    user_id uuid NOT NULL,
    password_hash text,
    password_changed_at timestamp with time zone,
    failed_login_attempts integer DEFAULT 0 NOT NULL,
    first_failed_login_at timestamp with time zone,
    locked_until timestamp with time zone,
    last_login_at timestamp with time zone,
    CONSTRAINT user_secrets_failed_login_attempts_check CHECK ((failed_login_attempts >= 0))
);

ALTER TABLE ONLY app_private.user_secrets FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.user_secrets IS 'Password hash (bcrypt via pgcrypto) and login lockout state; never exposed.';

COMMENT ON COLUMN app_private.user_secrets.failed_login_attempts IS 'No longer used: failed sign-ins are counted per organisation and client in app_private.login_failures.';

COMMENT ON COLUMN app_private.user_secrets.locked_until IS 'No longer used: lockouts are per organisation and client in app_private.login_failures.';

CREATE TABLE app_private.user_sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason text,
    CONSTRAINT user_sessions_revoked_check CHECK (((revoked_at IS NULL) = (revoked_reason IS NULL))),
    CONSTRAINT user_sessions_revoked_reason_check CHECK ((revoked_reason = ANY (ARRAY['logout'::text, 'logout_everywhere'::text, 'password_changed'::text, 'password_reset'::text, 'account_deleted'::text])))
);

ALTER TABLE ONLY app_private.user_sessions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.user_sessions IS 'One row per signed session token (its sid claim): open until it expires or is revoked (signed out, password changed or reset). Every request checks its session here.';

CREATE TABLE app_private.user_two_factor (
    user_id uuid NOT NULL,
    secret_sealed bytea NOT NULL,
    confirmed_at timestamp with time zone,
    last_used_step bigint DEFAULT 0 NOT NULL,
    failed_attempts integer DEFAULT 0 NOT NULL,
    locked_until timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_two_factor_failed_attempts_check CHECK ((failed_attempts >= 0))
);

ALTER TABLE ONLY app_private.user_two_factor FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.user_two_factor IS 'A user''s TOTP secret (AES-256-GCM sealed by the API server; the database never sees it in clear), whether enrolment was confirmed, the last 30-second step a code was accepted for (no code is accepted twice) and the lockout after wrong codes.';

CREATE TABLE app_private.webhook_delivery_leases (
    tenant_id uuid NOT NULL,
    subscription_id uuid NOT NULL,
    holder text NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY app_private.webhook_delivery_leases FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.webhook_delivery_leases IS 'Which webhook_deliver job posts a subscription''s deliveries now, until when: a job takes the lease before it posts and gives it back when it stops; a lease whose holder died ends at expires_at.';

CREATE TABLE app_private.webhook_secrets (
    tenant_id uuid NOT NULL,
    subscription_id uuid NOT NULL,
    secret_encrypted bytea NOT NULL,
    previous_secret_encrypted bytea,
    previous_expires_at timestamp with time zone,
    updated timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.webhook_secrets FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.webhook_secrets IS 'Signing secrets of webhook subscriptions (whsec_…), AES-256-GCM sealed; the previous one stays valid until previous_expires_at after a rotation.';

CREATE TABLE app_private.worker_pools (
    pool_id text NOT NULL,
    hostname text NOT NULL,
    pid integer NOT NULL,
    started timestamp with time zone DEFAULT now() NOT NULL,
    last_seen timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_private.worker_pools FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_private.worker_pools IS 'graphile-worker pools (their locked_by ids) run by live or dead worker processes. A live one holds the advisory lock worker_lock_key(pool_id); release_dead_workers() frees the jobs of the others and forgets them.';

CREATE TABLE app_public.audit_log (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id bigint NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    actor_user_id uuid,
    actor_is_staff boolean DEFAULT false NOT NULL,
    action text NOT NULL,
    table_name text,
    record_id text,
    changes jsonb,
    reason text,
    CONSTRAINT audit_log_action_check CHECK (((length(action) >= 1) AND (length(action) <= 100)))
);

ALTER TABLE ONLY app_public.audit_log FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.audit_log IS 'Who did what in a tenant: membership and role changes, security-relevant settings, deletions and every staff access.';

ALTER TABLE app_public.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE app_public.campaign_email_accounts (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    campaign_id uuid NOT NULL,
    email_account_id uuid NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_public.campaign_email_accounts FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaign_email_accounts IS 'The inboxes a campaign rotates through.';

CREATE TABLE app_public.campaign_enrollments (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    campaign_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    current_step_order integer DEFAULT 1 NOT NULL,
    next_run_at timestamp with time zone,
    email_account_id uuid,
    thread_message_id uuid,
    steps_completed integer DEFAULT 0 NOT NULL,
    enrolled_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    stop_reason text,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    current_message_id uuid,
    CONSTRAINT campaign_enrollments_current_step_order_check CHECK ((current_step_order >= 1)),
    CONSTRAINT campaign_enrollments_status_check CHECK ((status = ANY (ARRAY['active'::text, 'paused'::text, 'completed'::text, 'replied'::text, 'unsubscribed'::text, 'bounced'::text, 'failed'::text, 'cancelled'::text]))),
    CONSTRAINT campaign_enrollments_steps_completed_check CHECK ((steps_completed >= 0))
);

ALTER TABLE ONLY app_public.campaign_enrollments FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaign_enrollments IS 'A lead''s run through a campaign''s sequence: the next step to execute and when. A lead is enrolled at most once per campaign.';

COMMENT ON COLUMN app_public.campaign_enrollments.email_account_id IS 'The inbox this lead''s thread is sent from (chosen by rotation at the first email, then kept).';

COMMENT ON COLUMN app_public.campaign_enrollments.thread_message_id IS 'The first message sent to this lead, which follow-ups reply to.';

COMMENT ON COLUMN app_public.campaign_enrollments.current_message_id IS 'The message being delivered for the current email step (queued with a booked slot, sending, or waiting for a retry); null between steps.';

CREATE TABLE app_public.campaign_sequence_steps (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    campaign_id uuid NOT NULL,
    step_order integer NOT NULL,
    step_type text NOT NULL,
    email_account_id uuid,
    template_id uuid,
    subject_override text,
    from_name_override text,
    wait_duration_hours integer,
    wait_until timestamp with time zone,
    condition_type text,
    condition_value text,
    send_condition text,
    is_active boolean DEFAULT true NOT NULL,
    executed_count integer DEFAULT 0 NOT NULL,
    last_executed_at timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaign_sequence_steps_condition_type_check CHECK ((((step_type = 'condition'::text) = (condition_type IS NOT NULL)) AND ((condition_type IS NULL) OR (condition_type = ANY (ARRAY['opened'::text, 'not_opened'::text, 'clicked'::text, 'not_clicked'::text, 'replied'::text, 'not_replied'::text]))))),
    CONSTRAINT campaign_sequence_steps_condition_value_check CHECK (((condition_value IS NULL) OR (condition_value = ANY (ARRAY['stop'::text, 'skip'::text])) OR (condition_value ~ '^[1-9][0-9]?$'::text))),
    CONSTRAINT campaign_sequence_steps_email_needs_template CHECK (((step_type <> 'email'::text) OR (template_id IS NOT NULL))),
    CONSTRAINT campaign_sequence_steps_executed_count_check CHECK ((executed_count >= 0)),
    CONSTRAINT campaign_sequence_steps_from_name_override_check CHECK ((length(from_name_override) <= 100)),
    CONSTRAINT campaign_sequence_steps_step_order_check CHECK (((step_order >= 1) AND (step_order <= 100))),
    CONSTRAINT campaign_sequence_steps_step_type_check CHECK ((step_type = ANY (ARRAY['email'::text, 'wait'::text, 'condition'::text]))),
    CONSTRAINT campaign_sequence_steps_subject_override_check CHECK ((length(subject_override) <= 500)),
    CONSTRAINT campaign_sequence_steps_wait_duration_hours_check CHECK (((wait_duration_hours >= 1) AND (wait_duration_hours <= 8760))),
    CONSTRAINT campaign_sequence_steps_wait_needs_duration CHECK (((step_type <> 'wait'::text) OR (num_nonnulls(wait_duration_hours, wait_until) = 1)))
);

ALTER TABLE ONLY app_public.campaign_sequence_steps FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaign_sequence_steps IS 'One step of a campaign''s sequence, run in step_order for each enrollment: email (send a template), wait (hours or until a date) or condition.';

COMMENT ON COLUMN app_public.campaign_sequence_steps.condition_type IS 'For condition steps: what must be true of the lead''s messages in this campaign so far (opened, clicked, replied or their negations).';

COMMENT ON COLUMN app_public.campaign_sequence_steps.condition_value IS 'What happens when the condition is false: stop (default) ends the sequence, skip jumps over the next step, a number jumps to that step.';

CREATE TABLE app_public.campaign_stats_daily (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    campaign_id uuid NOT NULL,
    day date NOT NULL,
    shard smallint DEFAULT 0 NOT NULL,
    sent bigint DEFAULT 0 NOT NULL,
    delivered bigint DEFAULT 0 NOT NULL,
    opened bigint DEFAULT 0 NOT NULL,
    clicked bigint DEFAULT 0 NOT NULL,
    replied bigint DEFAULT 0 NOT NULL,
    bounced bigint DEFAULT 0 NOT NULL,
    failed bigint DEFAULT 0 NOT NULL,
    unsubscribed bigint DEFAULT 0 NOT NULL,
    complained bigint DEFAULT 0 NOT NULL,
    opens_total bigint DEFAULT 0 NOT NULL,
    clicks_total bigint DEFAULT 0 NOT NULL,
    CONSTRAINT campaign_stats_daily_bounced_check CHECK ((bounced >= 0)),
    CONSTRAINT campaign_stats_daily_clicked_check CHECK ((clicked >= 0)),
    CONSTRAINT campaign_stats_daily_clicks_total_check CHECK ((clicks_total >= 0)),
    CONSTRAINT campaign_stats_daily_complained_check CHECK ((complained >= 0)),
    CONSTRAINT campaign_stats_daily_delivered_check CHECK ((delivered >= 0)),
    CONSTRAINT campaign_stats_daily_failed_check CHECK ((failed >= 0)),
    CONSTRAINT campaign_stats_daily_opened_check CHECK ((opened >= 0)),
    CONSTRAINT campaign_stats_daily_opens_total_check CHECK ((opens_total >= 0)),
    CONSTRAINT campaign_stats_daily_replied_check CHECK ((replied >= 0)),
    CONSTRAINT campaign_stats_daily_sent_check CHECK ((sent >= 0)),
    CONSTRAINT campaign_stats_daily_shard_check CHECK (((shard >= 0) AND (shard <= 7))),
    CONSTRAINT campaign_stats_daily_unsubscribed_check CHECK ((unsubscribed >= 0))
);

ALTER TABLE ONLY app_public.campaign_stats_daily FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaign_stats_daily IS '@name campaign_daily_stat
Daily campaign counters (UTC days): messages sent, delivered, opened, clicked, replied, bounced (each message counted once, on the day it happened), unsubscribes, complaints and total opens/clicks. Sum over shards and days.';

COMMENT ON COLUMN app_public.campaign_stats_daily.shard IS 'Spreads concurrent writers over several rows; always sum over shards.';

CREATE TABLE app_public.campaign_step_variants (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    step_id uuid NOT NULL,
    label text NOT NULL,
    subject text NOT NULL,
    weight integer DEFAULT 1 NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaign_step_variants_label_check CHECK ((label ~ '^[A-Z]$'::text)),
    CONSTRAINT campaign_step_variants_subject_check CHECK (((length(subject) >= 1) AND (length(subject) <= 500))),
    CONSTRAINT campaign_step_variants_weight_check CHECK (((weight >= 1) AND (weight <= 100)))
);

ALTER TABLE ONLY app_public.campaign_step_variants FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaign_step_variants IS 'A/B subject variants of an email step; each enrollment gets one variant, chosen by weight and stable for that lead.';

CREATE TABLE app_public.campaign_targets (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    campaign_id uuid NOT NULL,
    contact_list_id uuid,
    lead_id uuid,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT campaign_targets_one_target CHECK ((num_nonnulls(contact_list_id, lead_id) = 1))
);

ALTER TABLE ONLY app_public.campaign_targets FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.campaign_targets IS 'Who a campaign targets: contact lists (static or dynamic) and individual leads.';

CREATE TABLE app_public.companies (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    workspace_name text,
    logo_url text,
    status text DEFAULT 'active'::text NOT NULL,
    industry text,
    company_size text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT companies_company_size_check CHECK ((company_size = ANY (ARRAY['small'::text, 'medium'::text, 'large'::text, 'enterprise'::text]))),
    CONSTRAINT companies_industry_check CHECK ((length(industry) <= 100)),
    CONSTRAINT companies_logo_url_check CHECK ((logo_url ~ '^https?://'::text)),
    CONSTRAINT companies_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT companies_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text, 'archived'::text]))),
    CONSTRAINT companies_workspace_name_check CHECK ((workspace_name ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text))
);

ALTER TABLE ONLY app_public.companies FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.companies IS 'A workspace inside a tenant: groups domains and campaigns for one brand or client.';

CREATE TABLE app_public.contact_list_members (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    list_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_public.contact_list_members FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.contact_list_members IS 'Membership of a lead in a static contact list.';

CREATE TABLE app_public.conversation_messages (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    conversation_id uuid NOT NULL,
    message_id uuid NOT NULL,
    direction text NOT NULL,
    message_created timestamp with time zone NOT NULL,
    read_at timestamp with time zone,
    reply_html text,
    sent_by uuid,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT conversation_messages_direction_check CHECK ((direction = ANY (ARRAY['inbound'::text, 'outbound'::text]))),
    CONSTRAINT conversation_messages_reply_html_check CHECK ((length(reply_html) <= 500000))
);

ALTER TABLE ONLY app_public.conversation_messages FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.conversation_messages IS 'Which messages a conversation holds (a message is in one conversation at most), in both directions, and whether a member has read the lead''s ones (markConversationRead, markMessageRead).';

COMMENT ON COLUMN app_public.conversation_messages.message_created IS 'The message''s own time (messages.created), for ordering without reading messages.';

COMMENT ON COLUMN app_public.conversation_messages.read_at IS 'When a member marked this inbound message read; null is unread. Outbound messages are never unread.';

COMMENT ON COLUMN app_public.conversation_messages.reply_html IS 'The HTML a member wrote for a reply sent from the platform (the message keeps its text in messages.body_text).';

COMMENT ON COLUMN app_public.conversation_messages.sent_by IS 'The member who wrote this reply from the platform; null for campaign messages and the lead''s.';

CREATE TABLE app_public.custom_field_definitions (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    label text NOT NULL,
    field_type text DEFAULT 'text'::text NOT NULL,
    options text[],
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT custom_field_definitions_check CHECK (((field_type = 'select'::text) = (options IS NOT NULL))),
    CONSTRAINT custom_field_definitions_field_type_check CHECK ((field_type = ANY (ARRAY['text'::text, 'number'::text, 'boolean'::text, 'date'::text, 'select'::text]))),
    CONSTRAINT custom_field_definitions_key_check CHECK ((key ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT custom_field_definitions_label_check CHECK (((length(label) >= 1) AND (length(label) <= 100))),
    CONSTRAINT custom_field_definitions_options_check CHECK (((options IS NULL) OR ((cardinality(options) >= 1) AND (cardinality(options) <= 200))))
);

ALTER TABLE ONLY app_public.custom_field_definitions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.custom_field_definitions IS 'The custom fields a tenant keeps on leads (Reachly), with their type.';

CREATE TABLE app_public.deal_contacts (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    deal_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    role text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid DEFAULT app_public.current_user_id(),
    CONSTRAINT deal_contacts_role_check CHECK ((role = ANY (ARRAY['decision_maker'::text, 'influencer'::text, 'champion'::text, 'user'::text, 'other'::text])))
);

ALTER TABLE ONLY app_public.deal_contacts FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.deal_contacts IS 'The people (leads) involved in a deal and their role.';

CREATE TABLE app_public.email_events (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT app_public.uuid_v7() NOT NULL,
    created timestamp with time zone GENERATED ALWAYS AS (app_public.uuid_v7_time(id)) STORED NOT NULL,
    message_id uuid NOT NULL,
    campaign_id uuid,
    lead_id uuid,
    event_type text NOT NULL,
    ip_address inet,
    user_agent text,
    link_url text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT email_events_event_type_check CHECK ((event_type = ANY (ARRAY['sent'::text, 'delivered'::text, 'deferred'::text, 'open'::text, 'click'::text, 'reply'::text, 'bounce'::text, 'complaint'::text, 'unsubscribe'::text, 'failed'::text]))),
    CONSTRAINT email_events_link_url_check CHECK ((length(link_url) <= 2000)),
    CONSTRAINT email_events_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT email_events_user_agent_check CHECK ((length(user_agent) <= 1000))
)
PARTITION BY RANGE (id);

ALTER TABLE ONLY app_public.email_events FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.email_events IS 'What happened to a message: sent, delivered, opens, clicks, replies, bounces, complaints and unsubscribes (one row each; opens and clicks may repeat).';

CREATE TABLE app_public.feature_flags (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    key text NOT NULL,
    description text,
    is_enabled boolean DEFAULT false NOT NULL,
    rollout_percentage integer DEFAULT 0 NOT NULL,
    updated_by uuid,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT feature_flags_key_check CHECK ((key ~ '^[a-z][a-z0-9_.-]{1,99}$'::text)),
    CONSTRAINT feature_flags_rollout_percentage_check CHECK (((rollout_percentage >= 0) AND (rollout_percentage <= 100)))
);

ALTER TABLE ONLY app_public.feature_flags FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.feature_flags IS 'A platform feature flag, rolled out to a deterministic percentage of tenants.';

CREATE TABLE app_public.folders (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone,
    CONSTRAINT folders_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100)))
);

ALTER TABLE ONLY app_public.folders FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.folders IS 'A folder to organise templates (seed folders had no tenant_id; every tenant owns its folders here).';

ALTER TABLE app_public.folders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.folders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE app_public.payments (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    subscription_id uuid NOT NULL,
    initiated_by_user_id uuid,
    amount numeric(10,2) NOT NULL,
    currency text DEFAULT 'USD'::text NOT NULL,
    status text NOT NULL,
    processed_at timestamp with time zone,
    description text,
    stripe_invoice_id text,
    stripe_payment_intent_id text,
    billing_period_start timestamp with time zone,
    billing_period_end timestamp with time zone,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT payments_amount_check CHECK ((amount >= (0)::numeric)),
    CONSTRAINT payments_check CHECK (((billing_period_end IS NULL) OR (billing_period_end > billing_period_start))),
    CONSTRAINT payments_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT payments_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text, 'refunded'::text])))
);

ALTER TABLE ONLY app_public.payments FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.payments IS 'A payment (or failed attempt) against a subscription, usually recorded from a Stripe invoice.';

CREATE TABLE app_public.permissions (
    id integer NOT NULL,
    name text NOT NULL,
    description text,
    category text DEFAULT 'general'::text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT permissions_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT permissions_name_check CHECK ((name ~ '^[a-z_]+\.[a-z_]+$'::text))
);

ALTER TABLE ONLY app_public.permissions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.permissions IS 'A platform permission such as tenants.read or infrastructure.manage.';

CREATE TABLE app_public.platform_audit_log (
    id bigint NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    actor_user_id uuid,
    action text NOT NULL,
    target_tenant_id uuid,
    table_name text,
    record_id text,
    changes jsonb,
    reason text,
    CONSTRAINT platform_audit_log_action_check CHECK (((length(action) >= 1) AND (length(action) <= 100)))
);

ALTER TABLE ONLY app_public.platform_audit_log FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.platform_audit_log IS 'Changes to the platform and staff actions: every insert, update (changed columns) and delete of plans, feature_flags, permissions, staff_roles, staff_role_permissions, staff_members, vps_instances and smtp_ip_addresses (action "<table>.<insert|update|delete>", changes {"before", "after"}; for servers and IPs, their status, counters and reputation findings are left out: lifecycle steps are logged as vps_instance.*, smtp_ip.* and domain_ip.* by their functions); system configuration changes (system_config.set, sensitive values redacted); staff access sessions and every operation in them; IP lifecycle steps and staff billing changes; organisations closed, reopened and purged (tenant.closed, tenant.reopened, tenant.purged) and accounts deleted by their users (user.deleted). actor_user_id is the user who made the change, null for the platform itself (a job, a migration). Readable by staff with audit.read.';

ALTER TABLE app_public.platform_audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.platform_audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE app_public.staff_members (
    user_id uuid NOT NULL,
    role_id integer NOT NULL,
    notes text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_public.staff_members FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.staff_members IS 'Users who are platform staff, with their staff role.';

CREATE TABLE app_public.staff_role_permissions (
    role_id integer NOT NULL,
    permission_id integer NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY app_public.staff_role_permissions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.staff_role_permissions IS 'Which permissions each staff role grants.';

CREATE TABLE app_public.staff_roles (
    id integer NOT NULL,
    name text NOT NULL,
    description text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT staff_roles_name_check CHECK (((length(name) >= 1) AND (length(name) <= 50)))
);

ALTER TABLE ONLY app_public.staff_roles FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.staff_roles IS 'A named bundle of platform permissions (support, operator, billing, superadmin).';

CREATE TABLE app_public.subscription_addons (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    subscription_id uuid NOT NULL,
    addon_type text NOT NULL,
    quantity integer DEFAULT 1 NOT NULL,
    price_monthly numeric(10,2),
    stripe_price_id text,
    stripe_subscription_item_id text,
    is_active boolean DEFAULT true NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT subscription_addons_price_monthly_check CHECK ((price_monthly >= (0)::numeric)),
    CONSTRAINT subscription_addons_quantity_check CHECK ((quantity > 0)),
    CONSTRAINT subscription_addons_type_check CHECK ((addon_type = ANY (ARRAY['max_users'::text, 'max_domains'::text, 'max_campaigns_per_month'::text, 'max_email_accounts'::text, 'max_emails_per_month'::text, 'max_warmups'::text, 'max_contacts'::text, 'max_storage_gb'::text])))
);

ALTER TABLE ONLY app_public.subscription_addons FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.subscription_addons IS '@name billing_subscription_addon
An add-on bought on top of a plan: raises the limit named by addon_type by quantity.';

CREATE TABLE app_public.suppressions (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email app_public.email_address,
    domain app_public.hostname,
    reason text DEFAULT 'manual'::text NOT NULL,
    note text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT suppressions_check CHECK ((num_nonnulls(email, domain) = 1)),
    CONSTRAINT suppressions_reason_check CHECK ((reason = ANY (ARRAY['unsubscribed'::text, 'bounced'::text, 'complained'::text, 'manual'::text])))
);

ALTER TABLE ONLY app_public.suppressions FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.suppressions IS 'Addresses or whole domains the tenant must never email, whether or not they are leads.';

CREATE TABLE app_public.tags (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id bigint NOT NULL,
    value text NOT NULL,
    name text,
    description text,
    is_default boolean DEFAULT false NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone,
    CONSTRAINT tags_name_check CHECK ((length(name) <= 100)),
    CONSTRAINT tags_value_check CHECK (((length(value) >= 1) AND (length(value) <= 50)))
);

ALTER TABLE ONLY app_public.tags FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.tags IS 'A tag for templates. Default tags are copied into each new tenant (seed tags had a nullable tenant_id).';

ALTER TABLE app_public.tags ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.tags_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE app_public.template_folders (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id bigint NOT NULL,
    template_id uuid NOT NULL,
    folder_id bigint NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone
);

ALTER TABLE ONLY app_public.template_folders FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.template_folders IS 'Places a template in a folder.';

ALTER TABLE app_public.template_folders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.template_folders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE app_public.template_tags (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id bigint NOT NULL,
    template_id uuid NOT NULL,
    tag_id bigint NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone
);

ALTER TABLE ONLY app_public.template_tags FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.template_tags IS 'Attaches a tag to a template.';

ALTER TABLE app_public.template_tags ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME app_public.template_tags_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE app_public.templates (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    subject text,
    content text,
    text_content text,
    variables jsonb DEFAULT '[]'::jsonb NOT NULL,
    category text,
    is_started boolean DEFAULT false NOT NULL,
    is_archived boolean DEFAULT false NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    created_by uuid DEFAULT app_public.current_user_id(),
    updated_by uuid,
    CONSTRAINT templates_category_check CHECK ((length(category) <= 50)),
    CONSTRAINT templates_content_check CHECK ((length(content) <= 500000)),
    CONSTRAINT templates_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT templates_subject_check CHECK ((length(subject) <= 255)),
    CONSTRAINT templates_text_content_check CHECK ((length(text_content) <= 500000)),
    CONSTRAINT templates_variables_shape CHECK ((jsonb_typeof(variables) = 'array'::text))
);

ALTER TABLE ONLY app_public.templates FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.templates IS 'An email template: subject, HTML body (content) and text body written in Liquid, with declared variables and their fallbacks.';

COMMENT ON COLUMN app_public.templates.content IS 'HTML body (seed column name). Liquid syntax; {{ lead.first_name | default: "there" }}; spintax {a|b}.';

COMMENT ON COLUMN app_public.templates.variables IS '[{"name": "first_name", "fallback": "there", "required": false}, …]: declared per-lead variables.';

COMMENT ON COLUMN app_public.templates.is_started IS 'True once a started campaign uses the template.';

CREATE TABLE app_public.tenant_config (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    stripe_customer_id text,
    billing_email app_public.email_address,
    billing_address jsonb,
    notify_on_billing_changes boolean DEFAULT false NOT NULL,
    notify_on_system_updates boolean DEFAULT false NOT NULL,
    notify_on_security_alerts boolean DEFAULT false NOT NULL,
    theme_primary_color text,
    theme_logo_url text,
    theme_favicon_url text,
    ui_sidebar_default_collapsed boolean DEFAULT false NOT NULL,
    ui_date_format text,
    ui_timezone text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    safety_bounce_rate numeric(6,5) DEFAULT 0.05 NOT NULL,
    safety_complaint_rate numeric(6,5) DEFAULT 0.003 NOT NULL,
    safety_min_sample integer DEFAULT 100 NOT NULL,
    safety_window_days integer DEFAULT 7 NOT NULL,
    CONSTRAINT tenant_config_billing_address_check CHECK (((billing_address IS NULL) OR (jsonb_typeof(billing_address) = 'object'::text))),
    CONSTRAINT tenant_config_safety_bounce_rate_bounds CHECK (((safety_bounce_rate >= 0.01) AND (safety_bounce_rate <= 0.10))),
    CONSTRAINT tenant_config_safety_complaint_rate_bounds CHECK (((safety_complaint_rate >= 0.0005) AND (safety_complaint_rate <= 0.003))),
    CONSTRAINT tenant_config_safety_min_sample_bounds CHECK (((safety_min_sample >= 20) AND (safety_min_sample <= 10000))),
    CONSTRAINT tenant_config_safety_window_days_bounds CHECK (((safety_window_days >= 1) AND (safety_window_days <= 30))),
    CONSTRAINT tenant_config_stripe_customer_id_check CHECK ((stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'::text)),
    CONSTRAINT tenant_config_theme_favicon_url_check CHECK (((theme_favicon_url ~ '^https?://'::text) AND (length(theme_favicon_url) <= 500))),
    CONSTRAINT tenant_config_theme_logo_url_check CHECK (((theme_logo_url ~ '^https?://'::text) AND (length(theme_logo_url) <= 500))),
    CONSTRAINT tenant_config_theme_primary_color_check CHECK ((theme_primary_color ~ '^#[0-9A-Fa-f]{6}$'::text)),
    CONSTRAINT tenant_config_ui_date_format_check CHECK ((length(ui_date_format) <= 20)),
    CONSTRAINT tenant_config_ui_timezone_check CHECK ((length(ui_timezone) <= 50))
);

ALTER TABLE ONLY app_public.tenant_config FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.tenant_config IS 'Tenant-wide configuration: billing contact, notifications and branding.';

COMMENT ON COLUMN app_public.tenant_config.safety_bounce_rate IS 'A sending campaign pauses itself when more than this fraction of its messages bounced over the safety window (default 0.05 = 5%; the platform allows 0.01 to 0.10).';

COMMENT ON COLUMN app_public.tenant_config.safety_complaint_rate IS 'A sending campaign pauses itself when spam complaints exceed this fraction of its messages sent over the safety window (default 0.003 = 0.3%, the ceiling Gmail and Yahoo set for bulk senders; the platform allows 0.0005 to 0.003).';

COMMENT ON COLUMN app_public.tenant_config.safety_min_sample IS 'The bounce and complaint rates are only judged once the window holds at least this many messages (default 100; the platform allows 20 to 10000).';

COMMENT ON COLUMN app_public.tenant_config.safety_window_days IS 'The rolling window of the safety rates, in UTC days including today (default 7; the platform allows 1 to 30).';

CREATE TABLE app_public.tenant_policies (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    password_min_length integer DEFAULT 8 NOT NULL,
    password_require_uppercase boolean DEFAULT false NOT NULL,
    password_require_numbers boolean DEFAULT false NOT NULL,
    password_require_symbols boolean DEFAULT false NOT NULL,
    session_timeout_hours integer DEFAULT 8 NOT NULL,
    max_login_attempts integer DEFAULT 5 NOT NULL,
    lockout_minutes integer DEFAULT 15 NOT NULL,
    two_factor_required boolean DEFAULT false NOT NULL,
    company_allow_member_invites boolean DEFAULT true NOT NULL,
    company_require_email_verification boolean DEFAULT true NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT tenant_policies_lockout_minutes_check CHECK (((lockout_minutes >= 1) AND (lockout_minutes <= 1440))),
    CONSTRAINT tenant_policies_max_login_attempts_check CHECK (((max_login_attempts >= 1) AND (max_login_attempts <= 100))),
    CONSTRAINT tenant_policies_password_min_length_check CHECK (((password_min_length >= 8) AND (password_min_length <= 128))),
    CONSTRAINT tenant_policies_session_timeout_hours_check CHECK (((session_timeout_hours >= 1) AND (session_timeout_hours <= 720)))
);

ALTER TABLE ONLY app_public.tenant_policies FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.tenant_policies IS 'Tenant security policies: password rules, session lifetime and login lockout, enforced by the auth functions.';

COMMENT ON COLUMN app_public.tenant_policies.lockout_minutes IS 'How long an account stays locked after max_login_attempts failures (not in the seed; needed to make lockout expire).';

COMMENT ON COLUMN app_public.tenant_policies.two_factor_required IS 'Members without two-factor authentication get no access to the organisation except to set it up.';

COMMENT ON COLUMN app_public.tenant_policies.company_require_email_verification IS 'Members whose account email is not confirmed (users.email_verified_at) get no access to the organisation until they confirm it (requestEmailVerification, verifyEmail). Accounts made by sign-up or by accepting an invitation are confirmed by that emailed link.';

CREATE TABLE app_public.user_preferences (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid DEFAULT app_public.current_user_id() NOT NULL,
    theme text DEFAULT 'light'::text NOT NULL,
    language text DEFAULT 'en'::text NOT NULL,
    timezone text DEFAULT 'UTC'::text NOT NULL,
    email_notifications boolean DEFAULT true NOT NULL,
    push_notifications boolean DEFAULT true NOT NULL,
    weekly_reports boolean DEFAULT false NOT NULL,
    marketing_emails boolean DEFAULT false NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_preferences_language_check CHECK ((language ~ '^[a-z]{2}(-[A-Z]{2})?$'::text)),
    CONSTRAINT user_preferences_theme_check CHECK ((theme = ANY (ARRAY['light'::text, 'dark'::text, 'system'::text]))),
    CONSTRAINT user_preferences_timezone_check CHECK ((length(timezone) <= 100))
);

ALTER TABLE ONLY app_public.user_preferences FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.user_preferences IS 'A user''s personal preferences, visible to that user only.';

CREATE TABLE app_public.webhook_events (
    tenant_id uuid DEFAULT app_public.current_tenant_id() NOT NULL,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    event_type text NOT NULL,
    campaign_id uuid,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    created timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT webhook_events_data_check CHECK ((jsonb_typeof(data) = 'object'::text)),
    CONSTRAINT webhook_events_event_type_check CHECK (((event_type ~ '^[a-z_]+\.[a-z_]+$'::text) AND (length(event_type) <= 100)))
);

ALTER TABLE ONLY app_public.webhook_events FORCE ROW LEVEL SECURITY;

COMMENT ON TABLE app_public.webhook_events IS 'Events recorded for webhook subscriptions, in the transaction that caused them; written only when an enabled subscription wants them. The id is the webhook-id header of every delivery of the event, replays included.';

COMMENT ON COLUMN app_public.webhook_events.campaign_id IS 'The campaign the event belongs to, for subscriptions filtered by campaign (no foreign key: events outlive campaigns).';

COMMENT ON COLUMN app_public.webhook_events.data IS 'The payload''s `data` object.';

ALTER TABLE ONLY app_private.api_key_secrets
    ADD CONSTRAINT api_key_secrets_pkey PRIMARY KEY (secret_hash);

ALTER TABLE ONLY app_private.auth_throttle
    ADD CONSTRAINT auth_throttle_pkey PRIMARY KEY (scope, key);

ALTER TABLE ONLY app_private.declarative_state
    ADD CONSTRAINT declarative_state_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.dkim_key_pool
    ADD CONSTRAINT dkim_key_pool_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.domain_dkim_keys
    ADD CONSTRAINT domain_dkim_keys_pkey PRIMARY KEY (tenant_id, domain_id, selector);

ALTER TABLE ONLY app_private.email_account_credentials
    ADD CONSTRAINT email_account_credentials_pkey PRIMARY KEY (tenant_id, email_account_id);

ALTER TABLE ONLY app_private.email_verification_tokens
    ADD CONSTRAINT email_verification_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.email_verification_tokens
    ADD CONSTRAINT email_verification_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY app_private.engine_clock
    ADD CONSTRAINT engine_clock_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.invitation_tokens
    ADD CONSTRAINT invitation_tokens_pkey PRIMARY KEY (tenant_id, invitation_id);

ALTER TABLE ONLY app_private.invitation_tokens
    ADD CONSTRAINT invitation_tokens_tenant_token_key UNIQUE (tenant_id, token_hash);

ALTER TABLE ONLY app_private.job_outbox
    ADD CONSTRAINT job_outbox_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_private.login_failures
    ADD CONSTRAINT login_failures_pkey PRIMARY KEY (user_id, tenant_id, client);

ALTER TABLE ONLY app_private.message_handovers
    ADD CONSTRAINT message_handovers_pkey PRIMARY KEY (tenant_id, message_id, attempt);

ALTER TABLE ONLY app_private.oauth_states
    ADD CONSTRAINT oauth_states_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_private.oauth_states
    ADD CONSTRAINT oauth_states_state_hash_key UNIQUE (tenant_id, state_hash);

ALTER TABLE ONLY app_private.password_reset_tokens
    ADD CONSTRAINT password_reset_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.password_reset_tokens
    ADD CONSTRAINT password_reset_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY app_private.pending_registrations
    ADD CONSTRAINT pending_registrations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.pending_registrations
    ADD CONSTRAINT pending_registrations_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY app_private.privacy_salts
    ADD CONSTRAINT privacy_salts_pkey PRIMARY KEY (tenant_id);

ALTER TABLE ONLY app_private.resource_counts
    ADD CONSTRAINT resource_counts_pkey PRIMARY KEY (tenant_id, resource, shard);

ALTER TABLE ONLY app_private.staff_access_sessions
    ADD CONSTRAINT staff_access_sessions_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_private.stripe_events
    ADD CONSTRAINT stripe_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.system_secrets
    ADD CONSTRAINT system_secrets_pkey PRIMARY KEY (key);

ALTER TABLE ONLY app_private.two_factor_challenges
    ADD CONSTRAINT two_factor_challenges_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.two_factor_challenges
    ADD CONSTRAINT two_factor_challenges_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY app_private.two_factor_recovery_codes
    ADD CONSTRAINT two_factor_recovery_codes_code_hash_key UNIQUE (code_hash);

ALTER TABLE ONLY app_private.two_factor_recovery_codes
    ADD CONSTRAINT two_factor_recovery_codes_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.usage_counters
    ADD CONSTRAINT usage_counters_pkey PRIMARY KEY (tenant_id, period_start, metric, shard);

ALTER TABLE ONLY app_private.user_secrets
    ADD CONSTRAINT user_secrets_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY app_private.user_sessions
    ADD CONSTRAINT user_sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_private.user_two_factor
    ADD CONSTRAINT user_two_factor_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY app_private.webhook_delivery_leases
    ADD CONSTRAINT webhook_delivery_leases_pkey PRIMARY KEY (tenant_id, subscription_id);

ALTER TABLE ONLY app_private.webhook_secrets
    ADD CONSTRAINT webhook_secrets_pkey PRIMARY KEY (tenant_id, subscription_id);

ALTER TABLE ONLY app_private.worker_pools
    ADD CONSTRAINT worker_pools_pkey PRIMARY KEY (pool_id);

ALTER TABLE ONLY app_public.activities
    ADD CONSTRAINT activities_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.api_keys
    ADD CONSTRAINT api_keys_prefix_key UNIQUE (tenant_id, prefix);

ALTER TABLE ONLY app_public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.campaign_email_accounts
    ADD CONSTRAINT campaign_email_accounts_pkey PRIMARY KEY (tenant_id, campaign_id, email_account_id);

ALTER TABLE ONLY app_public.campaign_enrollments
    ADD CONSTRAINT campaign_enrollments_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.campaign_sequence_steps
    ADD CONSTRAINT campaign_sequence_steps_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.campaign_stats_daily
    ADD CONSTRAINT campaign_stats_daily_pkey PRIMARY KEY (tenant_id, campaign_id, day, shard);

ALTER TABLE ONLY app_public.campaign_step_variants
    ADD CONSTRAINT campaign_step_variants_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.campaign_targets
    ADD CONSTRAINT campaign_targets_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.campaigns
    ADD CONSTRAINT campaigns_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.companies
    ADD CONSTRAINT companies_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.contact_list_members
    ADD CONSTRAINT contact_list_members_pkey PRIMARY KEY (tenant_id, list_id, lead_id);

ALTER TABLE ONLY app_public.contact_lists
    ADD CONSTRAINT contact_lists_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.conversation_messages
    ADD CONSTRAINT conversation_messages_message_key UNIQUE (tenant_id, message_id);

ALTER TABLE ONLY app_public.conversation_messages
    ADD CONSTRAINT conversation_messages_pkey PRIMARY KEY (tenant_id, conversation_id, message_id);

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_root_key UNIQUE (tenant_id, root_message_id);

ALTER TABLE ONLY app_public.crm_accounts
    ADD CONSTRAINT crm_accounts_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.custom_field_definitions
    ADD CONSTRAINT custom_field_definitions_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.deal_contacts
    ADD CONSTRAINT deal_contacts_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.domain_ip_assignments
    ADD CONSTRAINT domain_ip_assignments_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.domains
    ADD CONSTRAINT domains_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.email_accounts
    ADD CONSTRAINT email_accounts_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.email_events
    ADD CONSTRAINT email_events_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.feature_flags
    ADD CONSTRAINT feature_flags_key_key UNIQUE (key);

ALTER TABLE ONLY app_public.feature_flags
    ADD CONSTRAINT feature_flags_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.folders
    ADD CONSTRAINT folders_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.invitations
    ADD CONSTRAINT invitations_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.lead_imports
    ADD CONSTRAINT lead_imports_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.leads
    ADD CONSTRAINT leads_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.payments
    ADD CONSTRAINT payments_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.permissions
    ADD CONSTRAINT permissions_name_key UNIQUE (name);

ALTER TABLE ONLY app_public.permissions
    ADD CONSTRAINT permissions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.plans
    ADD CONSTRAINT plans_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.plans
    ADD CONSTRAINT plans_slug_key UNIQUE (slug);

ALTER TABLE ONLY app_public.platform_audit_log
    ADD CONSTRAINT platform_audit_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.smtp_ip_addresses
    ADD CONSTRAINT smtp_ip_addresses_ip_address_key UNIQUE (ip_address);

ALTER TABLE ONLY app_public.smtp_ip_addresses
    ADD CONSTRAINT smtp_ip_addresses_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.staff_members
    ADD CONSTRAINT staff_members_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY app_public.staff_role_permissions
    ADD CONSTRAINT staff_role_permissions_pkey PRIMARY KEY (role_id, permission_id);

ALTER TABLE ONLY app_public.staff_roles
    ADD CONSTRAINT staff_roles_name_key UNIQUE (name);

ALTER TABLE ONLY app_public.staff_roles
    ADD CONSTRAINT staff_roles_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.subscription_addons
    ADD CONSTRAINT subscription_addons_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.subscriptions
    ADD CONSTRAINT subscriptions_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.suppressions
    ADD CONSTRAINT suppressions_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.system_config
    ADD CONSTRAINT system_config_pkey PRIMARY KEY (key);

ALTER TABLE ONLY app_public.tags
    ADD CONSTRAINT tags_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.template_folders
    ADD CONSTRAINT template_folders_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.template_tags
    ADD CONSTRAINT template_tags_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.templates
    ADD CONSTRAINT templates_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.tenant_config
    ADD CONSTRAINT tenant_config_pkey PRIMARY KEY (tenant_id);

ALTER TABLE ONLY app_public.tenant_policies
    ADD CONSTRAINT tenant_policies_pkey PRIMARY KEY (tenant_id);

ALTER TABLE ONLY app_public.tenant_users
    ADD CONSTRAINT tenant_users_pkey PRIMARY KEY (tenant_id, user_id);

ALTER TABLE ONLY app_public.tenants
    ADD CONSTRAINT tenants_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.usage_periods
    ADD CONSTRAINT usage_periods_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.user_preferences
    ADD CONSTRAINT user_preferences_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.user_preferences
    ADD CONSTRAINT user_preferences_user_id_key UNIQUE (user_id);

ALTER TABLE ONLY app_public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.vps_instances
    ADD CONSTRAINT vps_instances_hostwinds_instance_id_key UNIQUE (hostwinds_instance_id);

ALTER TABLE ONLY app_public.vps_instances
    ADD CONSTRAINT vps_instances_pkey PRIMARY KEY (id);

ALTER TABLE ONLY app_public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_webhook_subscription_id_event__key UNIQUE (tenant_id, webhook_subscription_id, event_id);

ALTER TABLE ONLY app_public.webhook_events
    ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (tenant_id, id);

ALTER TABLE ONLY app_public.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_pkey PRIMARY KEY (tenant_id, id);

CREATE INDEX api_key_secrets_key_idx ON app_private.api_key_secrets USING btree (tenant_id, api_key_id);

CREATE INDEX dkim_key_pool_claimed_idx ON app_private.dkim_key_pool USING btree (claimed_tenant_id, claimed_domain_id) WHERE (claimed_domain_id IS NOT NULL);

CREATE INDEX dkim_key_pool_unclaimed_idx ON app_private.dkim_key_pool USING btree (created) WHERE (claimed_domain_id IS NULL);

CREATE INDEX email_verification_tokens_user_id_idx ON app_private.email_verification_tokens USING btree (user_id);

CREATE INDEX oauth_states_state_hash_idx ON app_private.oauth_states USING btree (state_hash);

CREATE INDEX oauth_states_user_idx ON app_private.oauth_states USING btree (user_id);

CREATE INDEX password_reset_tokens_expires_idx ON app_private.password_reset_tokens USING btree (expires_at);

CREATE INDEX password_reset_tokens_user_idx ON app_private.password_reset_tokens USING btree (user_id);

CREATE INDEX pending_registrations_email_idx ON app_private.pending_registrations USING btree (email);

CREATE INDEX pending_registrations_expires_idx ON app_private.pending_registrations USING btree (expires_at);

CREATE INDEX staff_access_sessions_staff_idx ON app_private.staff_access_sessions USING btree (staff_user_id, tenant_id, expires_at);

CREATE INDEX staff_access_sessions_tenant_idx ON app_private.staff_access_sessions USING btree (tenant_id);

CREATE INDEX stripe_events_tenant_idx ON app_private.stripe_events USING btree (tenant_id);

CREATE INDEX two_factor_challenges_user_id_idx ON app_private.two_factor_challenges USING btree (user_id);

CREATE INDEX two_factor_recovery_codes_user_id_idx ON app_private.two_factor_recovery_codes USING btree (user_id);

CREATE INDEX user_sessions_user_id_idx ON app_private.user_sessions USING btree (user_id);

CREATE INDEX activities_deal_idx ON app_public.activities USING btree (tenant_id, deal_id, occurred_at DESC);

CREATE INDEX activities_lead_idx ON app_public.activities USING btree (tenant_id, lead_id, occurred_at DESC);

CREATE INDEX activities_user_idx ON app_public.activities USING btree (user_id);

CREATE INDEX api_keys_created_by_idx ON app_public.api_keys USING btree (created_by);

CREATE INDEX audit_log_actor_idx ON app_public.audit_log USING btree (actor_user_id);

CREATE INDEX audit_log_tenant_occurred_idx ON app_public.audit_log USING btree (tenant_id, occurred_at DESC);

CREATE INDEX campaign_email_accounts_account_idx ON app_public.campaign_email_accounts USING btree (tenant_id, email_account_id);

CREATE INDEX campaign_enrollments_account_idx ON app_public.campaign_enrollments USING btree (tenant_id, email_account_id);

CREATE INDEX campaign_enrollments_current_message_idx ON app_public.campaign_enrollments USING btree (tenant_id, current_message_id);

CREATE INDEX campaign_enrollments_lead_idx ON app_public.campaign_enrollments USING btree (tenant_id, lead_id);

CREATE UNIQUE INDEX campaign_enrollments_lead_key ON app_public.campaign_enrollments USING btree (tenant_id, campaign_id, lead_id);

CREATE INDEX campaign_enrollments_status_idx ON app_public.campaign_enrollments USING btree (tenant_id, campaign_id, status);

CREATE INDEX campaign_enrollments_thread_idx ON app_public.campaign_enrollments USING btree (tenant_id, thread_message_id);

CREATE INDEX campaign_sequence_steps_account_idx ON app_public.campaign_sequence_steps USING btree (tenant_id, email_account_id);

CREATE UNIQUE INDEX campaign_sequence_steps_order_key ON app_public.campaign_sequence_steps USING btree (tenant_id, campaign_id, step_order);

CREATE INDEX campaign_sequence_steps_template_idx ON app_public.campaign_sequence_steps USING btree (tenant_id, template_id);

CREATE INDEX campaign_stats_daily_day_idx ON app_public.campaign_stats_daily USING btree (tenant_id, day);

CREATE UNIQUE INDEX campaign_step_variants_label_key ON app_public.campaign_step_variants USING btree (tenant_id, step_id, label);

CREATE INDEX campaign_targets_lead_idx ON app_public.campaign_targets USING btree (tenant_id, lead_id);

CREATE UNIQUE INDEX campaign_targets_lead_key ON app_public.campaign_targets USING btree (tenant_id, campaign_id, lead_id);

CREATE INDEX campaign_targets_list_idx ON app_public.campaign_targets USING btree (tenant_id, contact_list_id);

CREATE UNIQUE INDEX campaign_targets_list_key ON app_public.campaign_targets USING btree (tenant_id, campaign_id, contact_list_id);

CREATE INDEX campaigns_company_idx ON app_public.campaigns USING btree (tenant_id, company_id);

CREATE INDEX campaigns_created_by_idx ON app_public.campaigns USING btree (created_by);

CREATE INDEX campaigns_status_idx ON app_public.campaigns USING btree (tenant_id, status);

CREATE INDEX campaigns_updated_by_idx ON app_public.campaigns USING btree (updated_by);

CREATE UNIQUE INDEX companies_workspace_name_key ON app_public.companies USING btree (tenant_id, workspace_name);

CREATE INDEX contact_list_members_lead_idx ON app_public.contact_list_members USING btree (tenant_id, lead_id);

CREATE UNIQUE INDEX contact_lists_name_key ON app_public.contact_lists USING btree (tenant_id, name);

CREATE INDEX conversation_messages_sent_by_idx ON app_public.conversation_messages USING btree (sent_by);

CREATE INDEX conversation_messages_thread_idx ON app_public.conversation_messages USING btree (tenant_id, conversation_id, message_created DESC);

CREATE INDEX conversations_account_idx ON app_public.conversations USING btree (tenant_id, email_account_id, last_message_at DESC);

CREATE INDEX conversations_campaign_idx ON app_public.conversations USING btree (tenant_id, campaign_id, last_message_at DESC);

CREATE INDEX conversations_enrollment_idx ON app_public.conversations USING btree (tenant_id, enrollment_id);

CREATE INDEX conversations_last_message_idx ON app_public.conversations USING btree (tenant_id, last_message_id);

CREATE INDEX conversations_lead_idx ON app_public.conversations USING btree (tenant_id, lead_id);

CREATE INDEX conversations_recent_idx ON app_public.conversations USING btree (tenant_id, last_message_at DESC, id DESC);

CREATE INDEX crm_accounts_created_by_idx ON app_public.crm_accounts USING btree (created_by);

CREATE INDEX crm_accounts_domain_idx ON app_public.crm_accounts USING btree (tenant_id, domain);

CREATE INDEX crm_accounts_name_idx ON app_public.crm_accounts USING btree (tenant_id, name);

CREATE INDEX crm_accounts_parent_idx ON app_public.crm_accounts USING btree (tenant_id, parent_account_id);

CREATE INDEX crm_accounts_updated_by_idx ON app_public.crm_accounts USING btree (updated_by);

CREATE UNIQUE INDEX custom_field_definitions_key ON app_public.custom_field_definitions USING btree (tenant_id, key);

CREATE INDEX deal_contacts_created_by_idx ON app_public.deal_contacts USING btree (created_by);

CREATE UNIQUE INDEX deal_contacts_key ON app_public.deal_contacts USING btree (tenant_id, deal_id, lead_id);

CREATE INDEX deal_contacts_lead_idx ON app_public.deal_contacts USING btree (tenant_id, lead_id);

CREATE INDEX deals_account_idx ON app_public.deals USING btree (tenant_id, crm_account_id);

CREATE INDEX deals_created_by_idx ON app_public.deals USING btree (created_by);

CREATE INDEX deals_expected_close_idx ON app_public.deals USING btree (tenant_id, expected_close_date);

CREATE INDEX deals_owner_idx ON app_public.deals USING btree (owner_user_id);

CREATE INDEX deals_primary_lead_idx ON app_public.deals USING btree (tenant_id, primary_lead_id);

CREATE INDEX deals_source_campaign_idx ON app_public.deals USING btree (tenant_id, source_campaign_id);

CREATE INDEX deals_stage_idx ON app_public.deals USING btree (tenant_id, stage);

CREATE INDEX deals_updated_by_idx ON app_public.deals USING btree (updated_by);

CREATE INDEX domain_ip_assignments_domain_idx ON app_public.domain_ip_assignments USING btree (tenant_id, domain_id);

CREATE INDEX domain_ip_assignments_flagged_idx ON app_public.domain_ip_assignments USING btree (flagged_at) WHERE (flagged_at IS NOT NULL);

CREATE INDEX domain_ip_assignments_ip_idx ON app_public.domain_ip_assignments USING btree (smtp_ip_address_id);

CREATE UNIQUE INDEX domain_ip_assignments_live_key ON app_public.domain_ip_assignments USING btree (tenant_id, domain_id, smtp_ip_address_id) WHERE (status <> 'expired'::text);

CREATE INDEX domains_company_idx ON app_public.domains USING btree (tenant_id, company_id);

CREATE UNIQUE INDEX domains_domain_key ON app_public.domains USING btree (tenant_id, domain);

CREATE INDEX domains_next_check_idx ON app_public.domains USING btree (dns_next_check_at);

CREATE UNIQUE INDEX domains_one_primary ON app_public.domains USING btree (tenant_id, company_id) WHERE is_primary;

CREATE INDEX email_accounts_domain_idx ON app_public.email_accounts USING btree (tenant_id, domain_id);

CREATE UNIQUE INDEX email_accounts_email_key ON app_public.email_accounts USING btree (tenant_id, email);

CREATE INDEX email_events_campaign_idx ON ONLY app_public.email_events USING btree (tenant_id, campaign_id, created);

CREATE INDEX email_events_lead_idx ON ONLY app_public.email_events USING btree (tenant_id, lead_id);

CREATE INDEX email_events_message_idx ON ONLY app_public.email_events USING btree (tenant_id, message_id);

CREATE INDEX feature_flags_updated_by_idx ON app_public.feature_flags USING btree (updated_by);

CREATE UNIQUE INDEX folders_name_key ON app_public.folders USING btree (tenant_id, name);

CREATE INDEX invitations_expires_idx ON app_public.invitations USING btree (expires_at) WHERE ((accepted_at IS NULL) AND (revoked_at IS NULL));

CREATE INDEX invitations_invited_by_idx ON app_public.invitations USING btree (invited_by);

CREATE UNIQUE INDEX invitations_one_open_per_email ON app_public.invitations USING btree (tenant_id, email) WHERE ((accepted_at IS NULL) AND (revoked_at IS NULL));

CREATE INDEX lead_imports_created_by_idx ON app_public.lead_imports USING btree (created_by);

CREATE INDEX lead_imports_list_idx ON app_public.lead_imports USING btree (tenant_id, contact_list_id);

CREATE INDEX leads_created_by_idx ON app_public.leads USING btree (created_by);

CREATE INDEX leads_created_idx ON app_public.leads USING btree (tenant_id, created);

CREATE INDEX leads_crm_account_idx ON app_public.leads USING btree (tenant_id, crm_account_id);

CREATE INDEX leads_custom_fields_idx ON app_public.leads USING gin (custom_fields jsonb_path_ops);

CREATE UNIQUE INDEX leads_email_key ON app_public.leads USING btree (tenant_id, email);

CREATE INDEX leads_search_idx ON app_public.leads USING gin (search);

CREATE INDEX leads_status_idx ON app_public.leads USING btree (tenant_id, status);

CREATE INDEX leads_updated_by_idx ON app_public.leads USING btree (updated_by);

CREATE INDEX messages_account_idx ON ONLY app_public.messages USING btree (tenant_id, email_account_id, created);

CREATE INDEX messages_campaign_idx ON ONLY app_public.messages USING btree (tenant_id, campaign_id, created);

CREATE INDEX messages_enrollment_idx ON ONLY app_public.messages USING btree (tenant_id, enrollment_id);

CREATE INDEX messages_lead_idx ON ONLY app_public.messages USING btree (tenant_id, lead_id);

CREATE INDEX messages_parent_idx ON ONLY app_public.messages USING btree (tenant_id, parent_message_id);

CREATE INDEX messages_rfc_message_id_idx ON ONLY app_public.messages USING btree (rfc_message_id);

CREATE INDEX messages_status_idx ON ONLY app_public.messages USING btree (tenant_id, status, created);

CREATE INDEX messages_step_idx ON ONLY app_public.messages USING btree (tenant_id, step_id);

CREATE INDEX messages_variant_idx ON ONLY app_public.messages USING btree (tenant_id, variant_id);

CREATE INDEX payments_initiated_by_idx ON app_public.payments USING btree (initiated_by_user_id);

CREATE UNIQUE INDEX payments_stripe_invoice_key ON app_public.payments USING btree (tenant_id, stripe_invoice_id);

CREATE INDEX payments_subscription_idx ON app_public.payments USING btree (tenant_id, subscription_id);

CREATE INDEX platform_audit_log_actor_idx ON app_public.platform_audit_log USING btree (actor_user_id);

CREATE INDEX platform_audit_log_occurred_idx ON app_public.platform_audit_log USING btree (occurred_at DESC);

CREATE INDEX platform_audit_log_target_tenant_idx ON app_public.platform_audit_log USING btree (target_tenant_id);

CREATE INDEX smtp_ip_addresses_status_idx ON app_public.smtp_ip_addresses USING btree (status);

CREATE INDEX smtp_ip_addresses_vps_idx ON app_public.smtp_ip_addresses USING btree (vps_instance_id);

CREATE INDEX staff_members_role_idx ON app_public.staff_members USING btree (role_id);

CREATE INDEX staff_role_permissions_permission_idx ON app_public.staff_role_permissions USING btree (permission_id);

CREATE INDEX subscription_addons_subscription_idx ON app_public.subscription_addons USING btree (tenant_id, subscription_id);

CREATE INDEX subscriptions_billing_contact_idx ON app_public.subscriptions USING btree (billing_contact_user_id);

CREATE UNIQUE INDEX subscriptions_one_current_per_tenant ON app_public.subscriptions USING btree (tenant_id) WHERE (status <> 'canceled'::text);

CREATE INDEX subscriptions_pending_plan_idx ON app_public.subscriptions USING btree (pending_plan_id);

CREATE INDEX subscriptions_period_end_idx ON app_public.subscriptions USING btree (current_period_end) WHERE (status <> 'canceled'::text);

CREATE INDEX subscriptions_plan_idx ON app_public.subscriptions USING btree (plan_id);

CREATE UNIQUE INDEX subscriptions_stripe_id_key ON app_public.subscriptions USING btree (tenant_id, stripe_subscription_id);

CREATE INDEX subscriptions_stripe_lookup_idx ON app_public.subscriptions USING btree (stripe_subscription_id);

CREATE UNIQUE INDEX suppressions_domain_key ON app_public.suppressions USING btree (tenant_id, domain);

CREATE UNIQUE INDEX suppressions_email_key ON app_public.suppressions USING btree (tenant_id, email);

CREATE INDEX system_config_updated_by_idx ON app_public.system_config USING btree (updated_by);

CREATE UNIQUE INDEX tags_value_key ON app_public.tags USING btree (tenant_id, value);

CREATE INDEX template_folders_folder_idx ON app_public.template_folders USING btree (tenant_id, folder_id);

CREATE UNIQUE INDEX template_folders_key ON app_public.template_folders USING btree (tenant_id, template_id, folder_id);

CREATE UNIQUE INDEX template_tags_key ON app_public.template_tags USING btree (tenant_id, template_id, tag_id);

CREATE INDEX template_tags_tag_idx ON app_public.template_tags USING btree (tenant_id, tag_id);

CREATE INDEX templates_created_by_idx ON app_public.templates USING btree (created_by);

CREATE UNIQUE INDEX templates_name_key ON app_public.templates USING btree (tenant_id, name);

CREATE INDEX templates_updated_by_idx ON app_public.templates USING btree (updated_by);

CREATE INDEX tenant_config_stripe_customer_idx ON app_public.tenant_config USING btree (stripe_customer_id) WHERE (stripe_customer_id IS NOT NULL);

CREATE INDEX tenant_users_user_id_idx ON app_public.tenant_users USING btree (user_id);

CREATE INDEX usage_periods_due_idx ON app_public.usage_periods USING btree (period_end) WHERE (closed_at IS NULL);

CREATE UNIQUE INDEX usage_periods_one_open ON app_public.usage_periods USING btree (tenant_id) WHERE (closed_at IS NULL);

CREATE INDEX usage_periods_plan_idx ON app_public.usage_periods USING btree (plan_id);

CREATE UNIQUE INDEX usage_periods_start_key ON app_public.usage_periods USING btree (tenant_id, period_start);

CREATE INDEX usage_periods_subscription_idx ON app_public.usage_periods USING btree (tenant_id, subscription_id);

CREATE UNIQUE INDEX users_email_key ON app_public.users USING btree (email) WHERE (deleted_at IS NULL);

CREATE INDEX webhook_deliveries_event_idx ON app_public.webhook_deliveries USING btree (tenant_id, event_id);

CREATE INDEX webhook_deliveries_queue_idx ON app_public.webhook_deliveries USING btree (tenant_id, webhook_subscription_id, status, event_created, event_id);

CREATE INDEX webhook_events_created_idx ON app_public.webhook_events USING btree (tenant_id, created);

CREATE INDEX webhook_subscriptions_campaign_idx ON app_public.webhook_subscriptions USING btree (tenant_id, campaign_id);

CREATE TRIGGER _210_dns_record AFTER INSERT OR UPDATE OF public_key ON app_private.domain_dkim_keys FOR EACH ROW EXECUTE FUNCTION app_private.tg__dkim_key_record();

CREATE TRIGGER _050_api_key BEFORE INSERT ON app_public.lead_imports FOR EACH ROW EXECUTE FUNCTION app_private.tg_lead_imports__api_key();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.activities FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.api_keys FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.campaign_enrollments FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.campaign_sequence_steps FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.campaigns FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.companies FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.contact_lists FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.conversation_messages FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.conversations FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.crm_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.deals FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.domain_ip_assignments FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.domains FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.email_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.feature_flags FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.folders FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.leads FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.messages FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.plans FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.smtp_ip_addresses FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.staff_members FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.subscription_addons FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.subscriptions FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.system_config FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.tags FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.template_folders FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.template_tags FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.templates FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.tenant_config FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.tenant_policies FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.tenant_users FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.tenants FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.user_preferences FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.vps_instances FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.webhook_deliveries FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _100_timestamps BEFORE UPDATE ON app_public.webhook_subscriptions FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.campaigns FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.crm_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.deals FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.feature_flags FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.leads FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.system_config FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _110_updated_by BEFORE UPDATE ON app_public.templates FOR EACH ROW EXECUTE FUNCTION app_private.tg__updated_by();

CREATE TRIGGER _200_no_cycle BEFORE INSERT OR UPDATE OF parent_account_id ON app_public.crm_accounts FOR EACH ROW WHEN ((new.parent_account_id IS NOT NULL)) EXECUTE FUNCTION app_private.tg_crm_accounts__no_cycle();

CREATE TRIGGER _200_oauth_inbox_reactivation BEFORE UPDATE OF status ON app_public.email_accounts FOR EACH ROW WHEN (((new.status = 'active'::text) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION app_private.tg__oauth_inbox_reactivation();

CREATE TRIGGER _200_static_only BEFORE INSERT OR UPDATE ON app_public.contact_list_members FOR EACH ROW EXECUTE FUNCTION app_private.tg_contact_list_members__static_only();

CREATE TRIGGER _200_status_forward BEFORE UPDATE OF status ON app_public.messages FOR EACH ROW EXECUTE FUNCTION app_private.tg_messages__status_forward();

CREATE TRIGGER _200_status_transition BEFORE UPDATE OF status ON app_public.campaigns FOR EACH ROW EXECUTE FUNCTION app_private.tg_campaigns__status_transition();

CREATE TRIGGER _200_validate BEFORE INSERT OR UPDATE OF contact_list_id, column_mapping ON app_public.lead_imports FOR EACH ROW EXECUTE FUNCTION app_private.tg_lead_imports__validate();

CREATE TRIGGER _200_validate_filter BEFORE INSERT OR UPDATE OF filter_criteria, is_dynamic ON app_public.contact_lists FOR EACH ROW EXECUTE FUNCTION app_private.tg_contact_lists__validate_filter();

CREATE TRIGGER _200_warmup BEFORE INSERT OR UPDATE OF timezone, warmup_enabled, daily_count, daily_count_date ON app_public.email_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg__email_account_warmup();

CREATE TRIGGER _210_dns_records BEFORE INSERT ON app_public.domains FOR EACH ROW EXECUTE FUNCTION app_private.tg__domain_dns_records();

CREATE TRIGGER _210_safety_resume BEFORE UPDATE OF status ON app_public.campaigns FOR EACH ROW EXECUTE FUNCTION app_private.tg_campaigns__safety_resume();

CREATE TRIGGER _210_safety_state BEFORE UPDATE ON app_public.email_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg_email_accounts__safety_state();

CREATE TRIGGER _220_dkim_key AFTER INSERT ON app_public.domains FOR EACH ROW EXECUTE FUNCTION app_private.tg__domain_dkim_key();

CREATE TRIGGER _220_lifecycle BEFORE INSERT OR UPDATE OF status ON app_public.domain_ip_assignments FOR EACH ROW EXECUTE FUNCTION app_private.tg__domain_ip_assignment_lifecycle();

CREATE TRIGGER _220_lifecycle BEFORE UPDATE OF status ON app_public.smtp_ip_addresses FOR EACH ROW EXECUTE FUNCTION app_private.tg__smtp_ip_lifecycle();

CREATE TRIGGER _220_lifecycle BEFORE UPDATE OF status ON app_public.vps_instances FOR EACH ROW EXECUTE FUNCTION app_private.tg__vps_instance_lifecycle();

CREATE TRIGGER _230_assigned_count AFTER INSERT OR DELETE OR UPDATE OF status, smtp_ip_address_id ON app_public.domain_ip_assignments FOR EACH ROW EXECUTE FUNCTION app_private.tg__ip_assigned_count();

CREATE TRIGGER _300_display_name AFTER INSERT OR UPDATE OF name ON app_public.tenants FOR EACH ROW EXECUTE FUNCTION app_private.tg__display_name('The organisation name');

CREATE TRIGGER _300_display_name AFTER INSERT OR UPDATE OF name ON app_public.users FOR EACH ROW EXECUTE FUNCTION app_private.tg__display_name('Your name');

CREATE TRIGGER _300_enabled BEFORE UPDATE OF enabled ON app_public.webhook_subscriptions FOR EACH ROW EXECUTE FUNCTION app_private.tg_webhook_subscriptions__enabled();

CREATE TRIGGER _500_check_completion AFTER UPDATE OF status ON app_public.campaign_enrollments FOR EACH ROW EXECUTE FUNCTION app_private.tg_campaign_enrollments__check_completion();

CREATE TRIGGER _500_queue AFTER INSERT ON app_public.lead_imports FOR EACH ROW WHEN ((new.status = 'pending'::text)) EXECUTE FUNCTION app_private.tg_lead_imports__queue();

CREATE TRIGGER _500_rollup AFTER INSERT ON app_public.email_events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_email_events__rollup();

CREATE TRIGGER _500_rollup_insert AFTER INSERT ON app_public.messages REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_messages__rollup();

CREATE TRIGGER _500_rollup_update AFTER UPDATE ON app_public.messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_messages__rollup();

CREATE TRIGGER _510_reschedule_start AFTER UPDATE OF scheduled_for ON app_public.campaigns FOR EACH ROW EXECUTE FUNCTION app_private.tg_campaigns__reschedule_start();

CREATE TRIGGER _600_forget_handovers AFTER UPDATE OF status ON app_public.messages FOR EACH ROW WHEN (((old.status = 'sending'::text) AND (new.status IS DISTINCT FROM 'sending'::text))) EXECUTE FUNCTION app_private.tg_messages__forget_handovers();

CREATE TRIGGER _600_safety_insert AFTER INSERT ON app_public.campaign_stats_daily FOR EACH ROW WHEN (((new.sent > 0) OR (new.bounced > 0) OR (new.complained > 0))) EXECUTE FUNCTION app_private.tg_campaign_stats_daily__safety();

CREATE TRIGGER _600_safety_update AFTER UPDATE ON app_public.campaign_stats_daily FOR EACH ROW WHEN (((new.sent > old.sent) OR (new.bounced > old.bounced) OR (new.complained > old.complained))) EXECUTE FUNCTION app_private.tg_campaign_stats_daily__safety();

CREATE TRIGGER _700_conversation_inbound AFTER INSERT ON app_public.messages FOR EACH ROW WHEN (((new.direction = 'inbound'::text) AND (new.parent_message_id IS NOT NULL) AND (new.message_type = ANY (ARRAY['email'::text, 'auto_reply'::text])))) EXECUTE FUNCTION app_private.tg_messages__conversation();

CREATE TRIGGER _700_conversation_sent AFTER UPDATE OF status ON app_public.messages FOR EACH ROW WHEN (((old.status = 'sending'::text) AND (new.status = 'sent'::text) AND (new.enrollment_id IS NOT NULL))) EXECUTE FUNCTION app_private.tg_messages__conversation();

CREATE TRIGGER _800_activity AFTER UPDATE OF stage ON app_public.deals FOR EACH ROW WHEN ((old.stage IS DISTINCT FROM new.stage)) EXECUTE FUNCTION app_private.tg_deals__activity();

CREATE TRIGGER _800_activity AFTER INSERT ON app_public.email_events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_email_events__activity();

CREATE TRIGGER _800_activity AFTER UPDATE OF status ON app_public.leads FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION app_private.tg_leads__activity();

CREATE TRIGGER _800_gauge_delete AFTER DELETE ON app_public.domains REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_count('domains');

CREATE TRIGGER _800_gauge_delete AFTER DELETE ON app_public.email_accounts REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_count('email_accounts');

CREATE TRIGGER _800_gauge_delete AFTER DELETE ON app_public.leads REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_count('contacts');

CREATE TRIGGER _800_gauge_delete AFTER DELETE ON app_public.tenant_users REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_members();

CREATE TRIGGER _800_gauge_insert AFTER INSERT ON app_public.domains REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_count('domains');

CREATE TRIGGER _800_gauge_insert AFTER INSERT ON app_public.email_accounts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_count('email_accounts');

CREATE TRIGGER _800_gauge_insert AFTER INSERT ON app_public.leads REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_count('contacts');

CREATE TRIGGER _800_gauge_insert AFTER INSERT ON app_public.tenant_users REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_members();

CREATE TRIGGER _800_gauge_update AFTER UPDATE ON app_public.tenant_users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg__gauge_members();

CREATE TRIGGER _800_reserve_seats AFTER INSERT ON app_public.invitations REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.tg_invitations__reserve_seats();

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.companies FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('companies');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.domains FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('domains');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.email_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('email_accounts');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.invitations FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('invitations');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.subscription_addons FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('subscription_addons');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.subscriptions FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('subscriptions');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.tenant_config FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('tenant_config');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.tenant_policies FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('tenant_policies');

CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.tenant_users FOR EACH ROW EXECUTE FUNCTION app_private.tg__audit('tenant_users');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.feature_flags FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('feature_flags', 'updated_by');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.permissions FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('permissions');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.plans FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('plans');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.smtp_ip_addresses FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('smtp_ip_addresses', 'status', 'status_reason', 'status_changed_at', 'auto_quarantined', 'warmup_started_at', 'daily_count', 'daily_count_date', 'assigned_count', 'reputation_state', 'last_reputation_check', 'last_reputation_check_at', 'provider_blacklist_status');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.staff_members FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('staff_members');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.staff_role_permissions FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('staff_role_permissions');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.staff_roles FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('staff_roles');

CREATE TRIGGER _900_platform_audit AFTER INSERT OR DELETE OR UPDATE ON app_public.vps_instances FOR EACH ROW EXECUTE FUNCTION app_private.tg__platform_audit('vps_instances', 'status', 'status_reason', 'status_changed_at', 'decommission_scheduled_for');

CREATE TRIGGER _900_webhook_event AFTER UPDATE OF status ON app_public.campaigns FOR EACH ROW EXECUTE FUNCTION app_private.tg_campaigns__webhook();

CREATE TRIGGER _900_webhook_event AFTER UPDATE OF verification_status ON app_public.domains FOR EACH ROW EXECUTE FUNCTION app_private.tg_domains__webhook();

CREATE TRIGGER _900_webhook_event AFTER UPDATE OF status ON app_public.email_accounts FOR EACH ROW EXECUTE FUNCTION app_private.tg_email_accounts__webhook();

CREATE TRIGGER _900_webhook_event AFTER INSERT ON app_public.email_events FOR EACH ROW EXECUTE FUNCTION app_private.tg_email_events__webhook();

CREATE TRIGGER _900_webhook_event AFTER UPDATE OF status ON app_public.lead_imports FOR EACH ROW EXECUTE FUNCTION app_private.tg_lead_imports__webhook();

CREATE TRIGGER _900_webhook_event AFTER UPDATE OF status, interest_status ON app_public.leads FOR EACH ROW EXECUTE FUNCTION app_private.tg_leads__webhook();

CREATE TRIGGER deal_owner_is_member BEFORE INSERT OR UPDATE OF owner_user_id ON app_public.deals FOR EACH ROW EXECUTE FUNCTION app_private.deal_owner_is_member();

CREATE TRIGGER email_account_on_own_domain AFTER INSERT OR UPDATE OF email, domain_id ON app_public.email_accounts FOR EACH ROW EXECUTE FUNCTION app_private.email_account_on_own_domain();

ALTER TABLE ONLY app_private.domain_dkim_keys
    ADD CONSTRAINT domain_dkim_keys_tenant_id_domain_id_fkey FOREIGN KEY (tenant_id, domain_id) REFERENCES app_public.domains(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.email_account_credentials
    ADD CONSTRAINT email_account_credentials_tenant_id_email_account_id_fkey FOREIGN KEY (tenant_id, email_account_id) REFERENCES app_public.email_accounts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.email_verification_tokens
    ADD CONSTRAINT email_verification_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.invitation_tokens
    ADD CONSTRAINT invitation_tokens_tenant_id_invitation_id_fkey FOREIGN KEY (tenant_id, invitation_id) REFERENCES app_public.invitations(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.job_outbox
    ADD CONSTRAINT job_outbox_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.login_failures
    ADD CONSTRAINT login_failures_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.message_handovers
    ADD CONSTRAINT message_handovers_tenant_id_message_id_fkey FOREIGN KEY (tenant_id, message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.oauth_states
    ADD CONSTRAINT oauth_states_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.oauth_states
    ADD CONSTRAINT oauth_states_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.password_reset_tokens
    ADD CONSTRAINT password_reset_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.privacy_salts
    ADD CONSTRAINT privacy_salts_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.resource_counts
    ADD CONSTRAINT resource_counts_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.staff_access_sessions
    ADD CONSTRAINT staff_access_sessions_staff_user_id_fkey FOREIGN KEY (staff_user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.staff_access_sessions
    ADD CONSTRAINT staff_access_sessions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.system_secrets
    ADD CONSTRAINT system_secrets_key_fkey FOREIGN KEY (key) REFERENCES app_public.system_config(key) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.two_factor_challenges
    ADD CONSTRAINT two_factor_challenges_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.two_factor_recovery_codes
    ADD CONSTRAINT two_factor_recovery_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.usage_counters
    ADD CONSTRAINT usage_counters_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.user_secrets
    ADD CONSTRAINT user_secrets_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.user_sessions
    ADD CONSTRAINT user_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.user_two_factor
    ADD CONSTRAINT user_two_factor_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.webhook_delivery_leases
    ADD CONSTRAINT webhook_delivery_leases_tenant_id_subscription_id_fkey FOREIGN KEY (tenant_id, subscription_id) REFERENCES app_public.webhook_subscriptions(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_private.webhook_secrets
    ADD CONSTRAINT webhook_secrets_tenant_id_subscription_id_fkey FOREIGN KEY (tenant_id, subscription_id) REFERENCES app_public.webhook_subscriptions(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.activities
    ADD CONSTRAINT activities_tenant_id_deal_id_fkey FOREIGN KEY (tenant_id, deal_id) REFERENCES app_public.deals(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.activities
    ADD CONSTRAINT activities_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.activities
    ADD CONSTRAINT activities_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.activities
    ADD CONSTRAINT activities_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.api_keys
    ADD CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.api_keys
    ADD CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.audit_log
    ADD CONSTRAINT audit_log_actor_user_id_fkey FOREIGN KEY (actor_user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.audit_log
    ADD CONSTRAINT audit_log_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_email_accounts
    ADD CONSTRAINT campaign_email_accounts_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_email_accounts
    ADD CONSTRAINT campaign_email_accounts_tenant_id_email_account_id_fkey FOREIGN KEY (tenant_id, email_account_id) REFERENCES app_public.email_accounts(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_enrollments
    ADD CONSTRAINT campaign_enrollments_current_message_fkey FOREIGN KEY (tenant_id, current_message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE SET NULL (current_message_id);

ALTER TABLE ONLY app_public.campaign_enrollments
    ADD CONSTRAINT campaign_enrollments_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_enrollments
    ADD CONSTRAINT campaign_enrollments_tenant_id_email_account_id_fkey FOREIGN KEY (tenant_id, email_account_id) REFERENCES app_public.email_accounts(tenant_id, id) ON DELETE SET NULL (email_account_id);

ALTER TABLE ONLY app_public.campaign_enrollments
    ADD CONSTRAINT campaign_enrollments_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_enrollments
    ADD CONSTRAINT campaign_enrollments_tenant_id_thread_message_id_fkey FOREIGN KEY (tenant_id, thread_message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE SET NULL (thread_message_id);

ALTER TABLE ONLY app_public.campaign_sequence_steps
    ADD CONSTRAINT campaign_sequence_steps_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_sequence_steps
    ADD CONSTRAINT campaign_sequence_steps_tenant_id_email_account_id_fkey FOREIGN KEY (tenant_id, email_account_id) REFERENCES app_public.email_accounts(tenant_id, id) ON DELETE SET NULL (email_account_id);

ALTER TABLE ONLY app_public.campaign_sequence_steps
    ADD CONSTRAINT campaign_sequence_steps_tenant_id_template_id_fkey FOREIGN KEY (tenant_id, template_id) REFERENCES app_public.templates(tenant_id, id);

ALTER TABLE ONLY app_public.campaign_stats_daily
    ADD CONSTRAINT campaign_stats_daily_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_step_variants
    ADD CONSTRAINT campaign_step_variants_tenant_id_step_id_fkey FOREIGN KEY (tenant_id, step_id) REFERENCES app_public.campaign_sequence_steps(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_targets
    ADD CONSTRAINT campaign_targets_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_targets
    ADD CONSTRAINT campaign_targets_tenant_id_contact_list_id_fkey FOREIGN KEY (tenant_id, contact_list_id) REFERENCES app_public.contact_lists(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaign_targets
    ADD CONSTRAINT campaign_targets_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaigns
    ADD CONSTRAINT campaigns_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.campaigns
    ADD CONSTRAINT campaigns_tenant_id_company_id_fkey FOREIGN KEY (tenant_id, company_id) REFERENCES app_public.companies(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaigns
    ADD CONSTRAINT campaigns_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.campaigns
    ADD CONSTRAINT campaigns_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.companies
    ADD CONSTRAINT companies_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.contact_list_members
    ADD CONSTRAINT contact_list_members_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.contact_list_members
    ADD CONSTRAINT contact_list_members_tenant_id_list_id_fkey FOREIGN KEY (tenant_id, list_id) REFERENCES app_public.contact_lists(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.contact_lists
    ADD CONSTRAINT contact_lists_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.conversation_messages
    ADD CONSTRAINT conversation_messages_sent_by_fkey FOREIGN KEY (sent_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.conversation_messages
    ADD CONSTRAINT conversation_messages_tenant_id_conversation_id_fkey FOREIGN KEY (tenant_id, conversation_id) REFERENCES app_public.conversations(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.conversation_messages
    ADD CONSTRAINT conversation_messages_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.conversation_messages
    ADD CONSTRAINT conversation_messages_tenant_id_message_id_fkey FOREIGN KEY (tenant_id, message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE SET NULL (campaign_id);

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_email_account_id_fkey FOREIGN KEY (tenant_id, email_account_id) REFERENCES app_public.email_accounts(tenant_id, id) ON DELETE SET NULL (email_account_id);

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_enrollment_id_fkey FOREIGN KEY (tenant_id, enrollment_id) REFERENCES app_public.campaign_enrollments(tenant_id, id) ON DELETE SET NULL (enrollment_id);

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_last_message_id_fkey FOREIGN KEY (tenant_id, last_message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE SET NULL (last_message_id);

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.conversations
    ADD CONSTRAINT conversations_tenant_id_root_message_id_fkey FOREIGN KEY (tenant_id, root_message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.crm_accounts
    ADD CONSTRAINT crm_accounts_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.crm_accounts
    ADD CONSTRAINT crm_accounts_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.crm_accounts
    ADD CONSTRAINT crm_accounts_tenant_id_parent_account_id_fkey FOREIGN KEY (tenant_id, parent_account_id) REFERENCES app_public.crm_accounts(tenant_id, id) ON DELETE SET NULL (parent_account_id);

ALTER TABLE ONLY app_public.crm_accounts
    ADD CONSTRAINT crm_accounts_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.custom_field_definitions
    ADD CONSTRAINT custom_field_definitions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.deal_contacts
    ADD CONSTRAINT deal_contacts_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.deal_contacts
    ADD CONSTRAINT deal_contacts_tenant_id_deal_id_fkey FOREIGN KEY (tenant_id, deal_id) REFERENCES app_public.deals(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.deal_contacts
    ADD CONSTRAINT deal_contacts_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_owner_user_id_fkey FOREIGN KEY (owner_user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_tenant_id_crm_account_id_fkey FOREIGN KEY (tenant_id, crm_account_id) REFERENCES app_public.crm_accounts(tenant_id, id) ON DELETE SET NULL (crm_account_id);

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_tenant_id_primary_lead_id_fkey FOREIGN KEY (tenant_id, primary_lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE SET NULL (primary_lead_id);

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_tenant_id_source_campaign_id_fkey FOREIGN KEY (tenant_id, source_campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE SET NULL (source_campaign_id);

ALTER TABLE ONLY app_public.deals
    ADD CONSTRAINT deals_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.domain_ip_assignments
    ADD CONSTRAINT domain_ip_assignments_smtp_ip_address_id_fkey FOREIGN KEY (smtp_ip_address_id) REFERENCES app_public.smtp_ip_addresses(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.domain_ip_assignments
    ADD CONSTRAINT domain_ip_assignments_tenant_id_domain_id_fkey FOREIGN KEY (tenant_id, domain_id) REFERENCES app_public.domains(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.domains
    ADD CONSTRAINT domains_tenant_id_company_id_fkey FOREIGN KEY (tenant_id, company_id) REFERENCES app_public.companies(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.domains
    ADD CONSTRAINT domains_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.email_accounts
    ADD CONSTRAINT email_accounts_tenant_id_domain_id_fkey FOREIGN KEY (tenant_id, domain_id) REFERENCES app_public.domains(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE app_public.email_events
    ADD CONSTRAINT email_events_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id);

ALTER TABLE app_public.email_events
    ADD CONSTRAINT email_events_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE SET NULL (lead_id);

ALTER TABLE app_public.email_events
    ADD CONSTRAINT email_events_tenant_id_message_id_fkey FOREIGN KEY (tenant_id, message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.feature_flags
    ADD CONSTRAINT feature_flags_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.folders
    ADD CONSTRAINT folders_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.invitations
    ADD CONSTRAINT invitations_invited_by_fkey FOREIGN KEY (invited_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.invitations
    ADD CONSTRAINT invitations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.lead_imports
    ADD CONSTRAINT lead_imports_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.lead_imports
    ADD CONSTRAINT lead_imports_tenant_id_contact_list_id_fkey FOREIGN KEY (tenant_id, contact_list_id) REFERENCES app_public.contact_lists(tenant_id, id) ON DELETE SET NULL (contact_list_id);

ALTER TABLE ONLY app_public.lead_imports
    ADD CONSTRAINT lead_imports_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.leads
    ADD CONSTRAINT leads_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.leads
    ADD CONSTRAINT leads_tenant_id_crm_account_id_fkey FOREIGN KEY (tenant_id, crm_account_id) REFERENCES app_public.crm_accounts(tenant_id, id) ON DELETE SET NULL (crm_account_id);

ALTER TABLE ONLY app_public.leads
    ADD CONSTRAINT leads_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.leads
    ADD CONSTRAINT leads_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id);

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_email_account_id_fkey FOREIGN KEY (tenant_id, email_account_id) REFERENCES app_public.email_accounts(tenant_id, id) ON DELETE SET NULL (email_account_id);

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_enrollment_id_fkey FOREIGN KEY (tenant_id, enrollment_id) REFERENCES app_public.campaign_enrollments(tenant_id, id);

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES app_public.leads(tenant_id, id) ON DELETE SET NULL (lead_id);

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_parent_message_id_fkey FOREIGN KEY (tenant_id, parent_message_id) REFERENCES app_public.messages(tenant_id, id) ON DELETE SET NULL (parent_message_id);

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_step_id_fkey FOREIGN KEY (tenant_id, step_id) REFERENCES app_public.campaign_sequence_steps(tenant_id, id) ON DELETE SET NULL (step_id);

ALTER TABLE app_public.messages
    ADD CONSTRAINT messages_tenant_id_variant_id_fkey FOREIGN KEY (tenant_id, variant_id) REFERENCES app_public.campaign_step_variants(tenant_id, id) ON DELETE SET NULL (variant_id);

ALTER TABLE ONLY app_public.payments
    ADD CONSTRAINT payments_initiated_by_user_id_fkey FOREIGN KEY (initiated_by_user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.payments
    ADD CONSTRAINT payments_tenant_id_subscription_id_fkey FOREIGN KEY (tenant_id, subscription_id) REFERENCES app_public.subscriptions(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.platform_audit_log
    ADD CONSTRAINT platform_audit_log_actor_user_id_fkey FOREIGN KEY (actor_user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.platform_audit_log
    ADD CONSTRAINT platform_audit_log_target_tenant_id_fkey FOREIGN KEY (target_tenant_id) REFERENCES app_public.tenants(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.smtp_ip_addresses
    ADD CONSTRAINT smtp_ip_addresses_vps_instance_id_fkey FOREIGN KEY (vps_instance_id) REFERENCES app_public.vps_instances(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.staff_members
    ADD CONSTRAINT staff_members_role_id_fkey FOREIGN KEY (role_id) REFERENCES app_public.staff_roles(id);

ALTER TABLE ONLY app_public.staff_members
    ADD CONSTRAINT staff_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.staff_role_permissions
    ADD CONSTRAINT staff_role_permissions_permission_id_fkey FOREIGN KEY (permission_id) REFERENCES app_public.permissions(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.staff_role_permissions
    ADD CONSTRAINT staff_role_permissions_role_id_fkey FOREIGN KEY (role_id) REFERENCES app_public.staff_roles(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.subscription_addons
    ADD CONSTRAINT subscription_addons_tenant_id_subscription_id_fkey FOREIGN KEY (tenant_id, subscription_id) REFERENCES app_public.subscriptions(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.subscriptions
    ADD CONSTRAINT subscriptions_billing_contact_user_id_fkey FOREIGN KEY (billing_contact_user_id) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.subscriptions
    ADD CONSTRAINT subscriptions_pending_plan_id_fkey FOREIGN KEY (pending_plan_id) REFERENCES app_public.plans(id);

ALTER TABLE ONLY app_public.subscriptions
    ADD CONSTRAINT subscriptions_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES app_public.plans(id);

ALTER TABLE ONLY app_public.subscriptions
    ADD CONSTRAINT subscriptions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.suppressions
    ADD CONSTRAINT suppressions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.system_config
    ADD CONSTRAINT system_config_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.tags
    ADD CONSTRAINT tags_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.template_folders
    ADD CONSTRAINT template_folders_tenant_id_folder_id_fkey FOREIGN KEY (tenant_id, folder_id) REFERENCES app_public.folders(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.template_folders
    ADD CONSTRAINT template_folders_tenant_id_template_id_fkey FOREIGN KEY (tenant_id, template_id) REFERENCES app_public.templates(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.template_tags
    ADD CONSTRAINT template_tags_tenant_id_tag_id_fkey FOREIGN KEY (tenant_id, tag_id) REFERENCES app_public.tags(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.template_tags
    ADD CONSTRAINT template_tags_tenant_id_template_id_fkey FOREIGN KEY (tenant_id, template_id) REFERENCES app_public.templates(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.templates
    ADD CONSTRAINT templates_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.templates
    ADD CONSTRAINT templates_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.templates
    ADD CONSTRAINT templates_updated_by_fkey FOREIGN KEY (updated_by) REFERENCES app_public.users(id) ON DELETE SET NULL;

ALTER TABLE ONLY app_public.tenant_config
    ADD CONSTRAINT tenant_config_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.tenant_policies
    ADD CONSTRAINT tenant_policies_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.tenant_users
    ADD CONSTRAINT tenant_users_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.tenant_users
    ADD CONSTRAINT tenant_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.usage_periods
    ADD CONSTRAINT usage_periods_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES app_public.plans(id);

ALTER TABLE ONLY app_public.usage_periods
    ADD CONSTRAINT usage_periods_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.usage_periods
    ADD CONSTRAINT usage_periods_tenant_id_subscription_id_fkey FOREIGN KEY (tenant_id, subscription_id) REFERENCES app_public.subscriptions(tenant_id, id) ON DELETE SET NULL (subscription_id);

ALTER TABLE ONLY app_public.user_preferences
    ADD CONSTRAINT user_preferences_user_id_fkey FOREIGN KEY (user_id) REFERENCES app_public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES app_public.webhook_events(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_webhook_subscription_id_fkey FOREIGN KEY (tenant_id, webhook_subscription_id) REFERENCES app_public.webhook_subscriptions(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.webhook_events
    ADD CONSTRAINT webhook_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_tenant_id_campaign_id_fkey FOREIGN KEY (tenant_id, campaign_id) REFERENCES app_public.campaigns(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE ONLY app_public.webhook_subscriptions
    ADD CONSTRAINT webhook_subscriptions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES app_public.tenants(id) ON DELETE CASCADE;

ALTER TABLE app_private.api_key_secrets ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.auth_throttle ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.declarative_state ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.dkim_key_pool ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.domain_dkim_keys ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.email_account_credentials ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.email_verification_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.engine_clock ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.invitation_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.job_outbox ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.login_failures ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.message_handovers ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.oauth_states ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.password_reset_tokens ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.pending_registrations ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.privacy_salts ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.resource_counts ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.staff_access_sessions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.stripe_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.system_secrets ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.two_factor_challenges ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.two_factor_recovery_codes ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.usage_counters ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.user_secrets ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.user_sessions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.user_two_factor ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.webhook_delivery_leases ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.webhook_secrets ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_private.worker_pools ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.activities ENABLE ROW LEVEL SECURITY;

CREATE POLICY analytics_read ON app_public.activities FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.activities IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.api_keys FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.api_keys IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.audit_log FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.audit_log IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.campaign_email_accounts FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaign_email_accounts IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the campaigns:read scope.';

CREATE POLICY analytics_read ON app_public.campaign_enrollments FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaign_enrollments IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the campaigns:read scope.';

CREATE POLICY analytics_read ON app_public.campaign_sequence_steps FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaign_sequence_steps IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the campaigns:read scope.';

CREATE POLICY analytics_read ON app_public.campaign_stats_daily FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('analytics'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaign_stats_daily IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the analytics:read scope.';

CREATE POLICY analytics_read ON app_public.campaign_step_variants FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaign_step_variants IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the campaigns:read scope.';

CREATE POLICY analytics_read ON app_public.campaign_targets FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaign_targets IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the campaigns:read scope.';

CREATE POLICY analytics_read ON app_public.campaigns FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.campaigns IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the campaigns:read scope.';

CREATE POLICY analytics_read ON app_public.companies FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.companies IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.contact_list_members FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('lists'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.contact_list_members IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the lists:read scope.';

CREATE POLICY analytics_read ON app_public.contact_lists FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('lists'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.contact_lists IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the lists:read scope.';

CREATE POLICY analytics_read ON app_public.conversation_messages FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.conversation_messages IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the leads:read scope.';

CREATE POLICY analytics_read ON app_public.conversations FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.conversations IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the leads:read scope.';

CREATE POLICY analytics_read ON app_public.crm_accounts FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.crm_accounts IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.custom_field_definitions FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.custom_field_definitions IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the leads:read scope.';

CREATE POLICY analytics_read ON app_public.deal_contacts FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.deal_contacts IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.deals FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.deals IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.domain_ip_assignments FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.domain_ip_assignments IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the domains:read scope.';

CREATE POLICY analytics_read ON app_public.domains FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.domains IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the domains:read scope.';

CREATE POLICY analytics_read ON app_public.email_accounts FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.email_accounts IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the domains:read scope.';

CREATE POLICY analytics_read ON app_public.email_events FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('analytics'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.email_events IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the analytics:read scope.';

CREATE POLICY analytics_read ON app_public.feature_flags FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.feature_flags IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.folders FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.folders IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the templates:read scope.';

CREATE POLICY analytics_read ON app_public.invitations FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.invitations IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.lead_imports FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.lead_imports IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the leads:read scope.';

CREATE POLICY analytics_read ON app_public.leads FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.leads IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the leads:read scope.';

CREATE POLICY analytics_read ON app_public.messages FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('analytics'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.messages IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the analytics:read scope.';

CREATE POLICY analytics_read ON app_public.payments FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.payments IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the billing:read scope.';

CREATE POLICY analytics_read ON app_public.permissions FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.permissions IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.plans FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.plans IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the billing:read scope.';

CREATE POLICY analytics_read ON app_public.platform_audit_log FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.platform_audit_log IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.smtp_ip_addresses FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.smtp_ip_addresses IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the domains:read scope.';

CREATE POLICY analytics_read ON app_public.staff_members FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.staff_members IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.staff_role_permissions FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.staff_role_permissions IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.staff_roles FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.staff_roles IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.subscription_addons FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.subscription_addons IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the billing:read scope.';

CREATE POLICY analytics_read ON app_public.subscriptions FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.subscriptions IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the billing:read scope.';

CREATE POLICY analytics_read ON app_public.suppressions FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.suppressions IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the leads:read scope.';

CREATE POLICY analytics_read ON app_public.system_config FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.system_config IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.tags FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.tags IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the templates:read scope.';

CREATE POLICY analytics_read ON app_public.template_folders FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.template_folders IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the templates:read scope.';

CREATE POLICY analytics_read ON app_public.template_tags FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.template_tags IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the templates:read scope.';

CREATE POLICY analytics_read ON app_public.templates FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.templates IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the templates:read scope.';

CREATE POLICY analytics_read ON app_public.tenant_config FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.tenant_config IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.tenant_policies FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.tenant_policies IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.tenant_users FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.tenant_users IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.tenants FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.tenants IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.usage_periods FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.usage_periods IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the billing:read scope.';

CREATE POLICY analytics_read ON app_public.user_preferences FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.user_preferences IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.users FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.users IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.vps_instances FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.without_api_key()));

COMMENT ON POLICY analytics_read ON app_public.vps_instances IS 'The read-only analytics role reads all rows (no secrets live in this schema). No API key reaches this table.';

CREATE POLICY analytics_read ON app_public.webhook_deliveries FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('webhooks'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.webhook_deliveries IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the webhooks:read scope.';

CREATE POLICY analytics_read ON app_public.webhook_events FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('webhooks'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.webhook_events IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the webhooks:read scope.';

CREATE POLICY analytics_read ON app_public.webhook_subscriptions FOR SELECT TO penguinmails_analytics USING ((true AND app_hidden.api_key_allows('webhooks'::text, 'read'::text)));

COMMENT ON POLICY analytics_read ON app_public.webhook_subscriptions IS 'The read-only analytics role reads all rows (no secrets live in this schema). An API key needs the webhooks:read scope.';

ALTER TABLE app_public.api_keys ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.audit_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY audit_readers ON app_public.platform_audit_log FOR SELECT USING ((app_public.current_staff_has_permission('audit.read'::text) AND app_hidden.without_api_key()));

COMMENT ON POLICY audit_readers ON app_public.platform_audit_log IS 'Only staff with audit.read. No API key reaches this table.';

CREATE POLICY billing_staff ON app_public.subscription_addons USING ((app_public.current_staff_has_permission('billing.manage'::text) AND (tenant_id = app_public.current_tenant_id()) AND app_hidden.api_key_allows('billing'::text, 'write'::text))) WITH CHECK ((app_public.current_staff_has_permission('billing.manage'::text) AND (tenant_id = app_public.current_tenant_id()) AND app_hidden.api_key_allows('billing'::text, 'write'::text)));

COMMENT ON POLICY billing_staff ON app_public.subscription_addons IS 'Staff with billing.manage may add or change add-ons of the tenant they hold an access session into. An API key needs the billing:write scope.';

CREATE POLICY billing_staff ON app_public.subscriptions USING ((app_public.current_staff_has_permission('billing.manage'::text) AND (tenant_id = app_public.current_tenant_id()) AND app_hidden.api_key_allows('billing'::text, 'write'::text))) WITH CHECK ((app_public.current_staff_has_permission('billing.manage'::text) AND (tenant_id = app_public.current_tenant_id()) AND app_hidden.api_key_allows('billing'::text, 'write'::text)));

COMMENT ON POLICY billing_staff ON app_public.subscriptions IS 'Staff with billing.manage may change the subscription of the tenant they hold an access session into. An API key needs the billing:write scope.';

ALTER TABLE app_public.campaign_email_accounts ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.campaign_enrollments ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.campaign_sequence_steps ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.campaign_stats_daily ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.campaign_step_variants ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.campaign_targets ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.campaigns ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.companies ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.contact_list_members ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.contact_lists ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.conversation_messages ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.conversations ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.crm_accounts ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.custom_field_definitions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.deal_contacts ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.deals ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.domain_ip_assignments ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.domains ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.email_accounts ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.email_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.feature_flags ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.folders ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.invitations ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.lead_imports ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.leads ENABLE ROW LEVEL SECURITY;

CREATE POLICY manage ON app_public.domain_ip_assignments USING ((app_public.current_staff_has_permission('infrastructure.manage'::text) AND (tenant_id = app_public.current_tenant_id()) AND app_hidden.api_key_allows('domains'::text, 'write'::text))) WITH CHECK ((app_public.current_staff_has_permission('infrastructure.manage'::text) AND (tenant_id = app_public.current_tenant_id()) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY manage ON app_public.domain_ip_assignments IS 'Staff with infrastructure.manage change assignments of the tenant they hold an access session into; across tenants they use the IP pool functions, which check the permission and write the platform audit log. An API key needs the domains:write scope.';

CREATE POLICY manage ON app_public.feature_flags USING ((app_public.current_staff_has_permission('feature_flags.manage'::text) AND app_hidden.without_api_key())) WITH CHECK ((app_public.current_staff_has_permission('feature_flags.manage'::text) AND app_hidden.without_api_key()));

COMMENT ON POLICY manage ON app_public.feature_flags IS 'Only staff with feature_flags.manage see and change flag definitions. No API key reaches this table.';

CREATE POLICY manage ON app_public.plans USING ((app_public.current_staff_has_permission('plans.manage'::text) AND app_hidden.api_key_allows('billing'::text, 'write'::text))) WITH CHECK ((app_public.current_staff_has_permission('plans.manage'::text) AND app_hidden.api_key_allows('billing'::text, 'write'::text)));

COMMENT ON POLICY manage ON app_public.plans IS 'Only staff with plans.manage create or change plans. An API key needs the billing:write scope.';

CREATE POLICY manage ON app_public.smtp_ip_addresses USING ((app_public.current_staff_has_permission('infrastructure.manage'::text) AND app_hidden.api_key_allows('domains'::text, 'write'::text))) WITH CHECK ((app_public.current_staff_has_permission('infrastructure.manage'::text) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY manage ON app_public.smtp_ip_addresses IS 'Only staff with infrastructure.manage change IPs; status changes go through the lifecycle functions. An API key needs the domains:write scope.';

CREATE POLICY manage ON app_public.staff_members USING ((app_public.current_staff_has_permission('staff.manage'::text) AND app_hidden.without_api_key())) WITH CHECK ((app_public.current_staff_has_permission('staff.manage'::text) AND app_hidden.without_api_key()));

COMMENT ON POLICY manage ON app_public.staff_members IS 'Only staff with staff.manage add, change or remove staff. No API key reaches this table.';

CREATE POLICY manage ON app_public.system_config FOR SELECT USING ((app_public.current_staff_has_permission('system_config.manage'::text) AND app_hidden.without_api_key()));

COMMENT ON POLICY manage ON app_public.system_config IS 'Only staff with system_config.manage read system configuration; values of sensitive keys are never stored here. No API key reaches this table.';

CREATE POLICY manage ON app_public.vps_instances USING ((app_public.current_staff_has_permission('infrastructure.manage'::text) AND app_hidden.without_api_key())) WITH CHECK ((app_public.current_staff_has_permission('infrastructure.manage'::text) AND app_hidden.without_api_key()));

COMMENT ON POLICY manage ON app_public.vps_instances IS 'Only staff with infrastructure.manage. No API key reaches this table.';

ALTER TABLE app_public.messages ENABLE ROW LEVEL SECURITY;

CREATE POLICY own_preferences ON app_public.user_preferences USING (((user_id = app_public.current_user_id()) AND app_hidden.without_api_key())) WITH CHECK (((user_id = app_public.current_user_id()) AND app_hidden.without_api_key()));

COMMENT ON POLICY own_preferences ON app_public.user_preferences IS 'Only the user themselves can see or change their preferences. No API key reaches this table.';

ALTER TABLE app_public.payments ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.permissions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.plans ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.platform_audit_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY select_assigned ON app_public.smtp_ip_addresses FOR SELECT USING (((id = ANY (app_hidden.assigned_ip_ids())) AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY select_assigned ON app_public.smtp_ip_addresses IS 'A tenant sees the IPs currently assigned to its domains. An API key needs the domains:read scope.';

CREATE POLICY select_current ON app_public.tenants FOR SELECT USING (((id = app_public.current_tenant_id()) AND app_hidden.without_api_key()));

COMMENT ON POLICY select_current ON app_public.tenants IS 'Only the tenant named by your token, while you may act in it. No API key reaches this table.';

CREATE POLICY select_self_and_colleagues ON app_public.users FOR SELECT USING (((id = ANY (app_hidden.visible_user_ids())) AND app_hidden.without_api_key()));

COMMENT ON POLICY select_self_and_colleagues ON app_public.users IS 'You see your own account and the members of your current tenant. No API key reaches this table.';

CREATE POLICY select_self_or_manager ON app_public.staff_members FOR SELECT USING ((((user_id = app_public.current_user_id()) OR app_public.current_staff_has_permission('staff.manage'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY select_self_or_manager ON app_public.staff_members IS 'Staff see their own record; staff managers see everyone''s. No API key reaches this table.';

CREATE POLICY select_signed_in ON app_public.permissions FOR SELECT USING (((app_public.current_user_id() IS NOT NULL) AND app_hidden.without_api_key()));

COMMENT ON POLICY select_signed_in ON app_public.permissions IS 'The permission catalogue is public to signed-in users. No API key reaches this table.';

CREATE POLICY select_signed_in ON app_public.plans FOR SELECT USING (((app_public.current_user_id() IS NOT NULL) AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY select_signed_in ON app_public.plans IS 'Every signed-in user can read the plans. An API key needs the billing:read scope.';

CREATE POLICY select_signed_in ON app_public.staff_role_permissions FOR SELECT USING (((app_public.current_user_id() IS NOT NULL) AND app_hidden.without_api_key()));

COMMENT ON POLICY select_signed_in ON app_public.staff_role_permissions IS 'Which role grants what is public to signed-in users. No API key reaches this table.';

CREATE POLICY select_signed_in ON app_public.staff_roles FOR SELECT USING (((app_public.current_user_id() IS NOT NULL) AND app_hidden.without_api_key()));

COMMENT ON POLICY select_signed_in ON app_public.staff_roles IS 'The staff role catalogue is public to signed-in users. No API key reaches this table.';

ALTER TABLE app_public.smtp_ip_addresses ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.staff_members ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.staff_role_permissions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.staff_roles ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.subscription_addons ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.subscriptions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.suppressions ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.system_config ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.tags ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.template_folders ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.template_tags ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.templates ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.tenant_config ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_delete ON app_public.campaign_email_accounts FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.campaign_email_accounts IS 'Only the current tenant''s rows, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_delete ON app_public.campaign_sequence_steps FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.campaign_sequence_steps IS 'Only the current tenant''s rows, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_delete ON app_public.campaign_step_variants FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.campaign_step_variants IS 'Only the current tenant''s rows, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_delete ON app_public.campaign_targets FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.campaign_targets IS 'Only the current tenant''s rows, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_delete ON app_public.campaigns FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.campaigns IS 'Only the current tenant''s rows, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_delete ON app_public.companies FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_delete ON app_public.companies IS 'Only the current tenant''s rows, by its admins and above. No API key reaches this table.';

CREATE POLICY tenant_delete ON app_public.contact_list_members FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.contact_list_members IS 'Only the current tenant''s rows, by its members and above. An API key needs the lists:write scope.';

CREATE POLICY tenant_delete ON app_public.contact_lists FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.contact_lists IS 'Only the current tenant''s rows, by its members and above. An API key needs the lists:write scope.';

CREATE POLICY tenant_delete ON app_public.custom_field_definitions FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.custom_field_definitions IS 'Only the current tenant''s rows, by its admins and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_delete ON app_public.deal_contacts FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_delete ON app_public.deal_contacts IS 'Only the current tenant''s rows, by its members and above. No API key reaches this table.';

CREATE POLICY tenant_delete ON app_public.domains FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.domains IS 'Only the current tenant''s rows, by its admins and above. An API key needs the domains:write scope.';

CREATE POLICY tenant_delete ON app_public.email_accounts FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.email_accounts IS 'Only the current tenant''s rows, by its admins and above. An API key needs the domains:write scope.';

CREATE POLICY tenant_delete ON app_public.folders FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.folders IS 'Only the current tenant''s rows, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_delete ON app_public.lead_imports FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.lead_imports IS 'Only the current tenant''s rows, by its members and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_delete ON app_public.leads FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.leads IS 'Only the current tenant''s rows, by its members and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_delete ON app_public.suppressions FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.suppressions IS 'Only the current tenant''s rows, by its members and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_delete ON app_public.tags FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.tags IS 'Only the current tenant''s rows, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_delete ON app_public.template_folders FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.template_folders IS 'Only the current tenant''s rows, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_delete ON app_public.template_tags FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.template_tags IS 'Only the current tenant''s rows, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_delete ON app_public.templates FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.templates IS 'Only the current tenant''s rows, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_delete ON app_public.tenant_config FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_delete ON app_public.tenant_config IS 'Only the current tenant''s rows, by its admins and above. No API key reaches this table.';

CREATE POLICY tenant_delete ON app_public.tenant_policies FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_delete ON app_public.tenant_policies IS 'Only the current tenant''s rows, by its admins and above. No API key reaches this table.';

CREATE POLICY tenant_delete ON app_public.webhook_subscriptions FOR DELETE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'write'::text)));

COMMENT ON POLICY tenant_delete ON app_public.webhook_subscriptions IS 'Only the current tenant''s rows, by its admins and above. An API key needs the webhooks:write scope.';

CREATE POLICY tenant_insert ON app_public.campaign_email_accounts FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.campaign_email_accounts IS 'Only into the current tenant, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_insert ON app_public.campaign_sequence_steps FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.campaign_sequence_steps IS 'Only into the current tenant, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_insert ON app_public.campaign_step_variants FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.campaign_step_variants IS 'Only into the current tenant, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_insert ON app_public.campaign_targets FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.campaign_targets IS 'Only into the current tenant, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_insert ON app_public.campaigns FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.campaigns IS 'Only into the current tenant, by its members and above. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_insert ON app_public.companies FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_insert ON app_public.companies IS 'Only into the current tenant, by its admins and above. No API key reaches this table.';

CREATE POLICY tenant_insert ON app_public.contact_list_members FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.contact_list_members IS 'Only into the current tenant, by its members and above. An API key needs the lists:write scope.';

CREATE POLICY tenant_insert ON app_public.contact_lists FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.contact_lists IS 'Only into the current tenant, by its members and above. An API key needs the lists:write scope.';

CREATE POLICY tenant_insert ON app_public.crm_accounts FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_insert ON app_public.crm_accounts IS 'Only into the current tenant, by its members and above. No API key reaches this table.';

CREATE POLICY tenant_insert ON app_public.custom_field_definitions FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.custom_field_definitions IS 'Only into the current tenant, by its admins and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_insert ON app_public.deal_contacts FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_insert ON app_public.deal_contacts IS 'Only into the current tenant, by its members and above. No API key reaches this table.';

CREATE POLICY tenant_insert ON app_public.deals FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_insert ON app_public.deals IS 'Only into the current tenant, by its members and above. No API key reaches this table.';

CREATE POLICY tenant_insert ON app_public.domains FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.domains IS 'Only into the current tenant, by its admins and above. An API key needs the domains:write scope.';

CREATE POLICY tenant_insert ON app_public.email_accounts FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.email_accounts IS 'Only into the current tenant, by its admins and above. An API key needs the domains:write scope.';

CREATE POLICY tenant_insert ON app_public.folders FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.folders IS 'Only into the current tenant, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_insert ON app_public.lead_imports FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.lead_imports IS 'Only into the current tenant, by its members and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_insert ON app_public.leads FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.leads IS 'Only into the current tenant, by its members and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_insert ON app_public.suppressions FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.suppressions IS 'Only into the current tenant, by its members and above. An API key needs the leads:write scope.';

CREATE POLICY tenant_insert ON app_public.tags FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.tags IS 'Only into the current tenant, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_insert ON app_public.template_folders FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.template_folders IS 'Only into the current tenant, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_insert ON app_public.template_tags FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.template_tags IS 'Only into the current tenant, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_insert ON app_public.templates FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.templates IS 'Only into the current tenant, by its members and above. An API key needs the templates:write scope.';

CREATE POLICY tenant_insert ON app_public.tenant_config FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_insert ON app_public.tenant_config IS 'Only into the current tenant, by its admins and above. No API key reaches this table.';

CREATE POLICY tenant_insert ON app_public.tenant_policies FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_insert ON app_public.tenant_policies IS 'Only into the current tenant, by its admins and above. No API key reaches this table.';

CREATE POLICY tenant_insert ON app_public.webhook_subscriptions FOR INSERT WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'write'::text)));

COMMENT ON POLICY tenant_insert ON app_public.webhook_subscriptions IS 'Only into the current tenant, by its admins and above. An API key needs the webhooks:write scope.';

ALTER TABLE app_public.tenant_policies ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_select ON app_public.activities FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.activities IS 'Rows of the current tenant, for its viewers and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.api_keys FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.api_keys IS 'Rows of the current tenant, for its admins and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.audit_log FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.audit_log IS 'Rows of the current tenant, for its admins and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.campaign_email_accounts FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaign_email_accounts IS 'Rows of the current tenant, for its viewers and above. An API key needs the campaigns:read scope.';

CREATE POLICY tenant_select ON app_public.campaign_enrollments FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaign_enrollments IS 'Rows of the current tenant, for its viewers and above. An API key needs the campaigns:read scope.';

CREATE POLICY tenant_select ON app_public.campaign_sequence_steps FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaign_sequence_steps IS 'Rows of the current tenant, for its viewers and above. An API key needs the campaigns:read scope.';

CREATE POLICY tenant_select ON app_public.campaign_stats_daily FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('analytics'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaign_stats_daily IS 'Rows of the current tenant, for its viewers and above. An API key needs the analytics:read scope.';

CREATE POLICY tenant_select ON app_public.campaign_step_variants FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaign_step_variants IS 'Rows of the current tenant, for its viewers and above. An API key needs the campaigns:read scope.';

CREATE POLICY tenant_select ON app_public.campaign_targets FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaign_targets IS 'Rows of the current tenant, for its viewers and above. An API key needs the campaigns:read scope.';

CREATE POLICY tenant_select ON app_public.campaigns FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.campaigns IS 'Rows of the current tenant, for its viewers and above. An API key needs the campaigns:read scope.';

CREATE POLICY tenant_select ON app_public.companies FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.companies IS 'Rows of the current tenant, for its viewers and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.contact_list_members FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('lists'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.contact_list_members IS 'Rows of the current tenant, for its viewers and above. An API key needs the lists:read scope.';

CREATE POLICY tenant_select ON app_public.contact_lists FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('lists'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.contact_lists IS 'Rows of the current tenant, for its viewers and above. An API key needs the lists:read scope.';

CREATE POLICY tenant_select ON app_public.conversation_messages FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.conversation_messages IS 'Rows of the current tenant, for its viewers and above. An API key needs the leads:read scope.';

CREATE POLICY tenant_select ON app_public.conversations FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.conversations IS 'Rows of the current tenant, for its viewers and above. An API key needs the leads:read scope.';

CREATE POLICY tenant_select ON app_public.crm_accounts FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND (deleted_at IS NULL) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.crm_accounts IS 'Live accounts (deleted_at null) of the current tenant, for its viewers and above; deleted ones come back through restoreCrmAccount. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.custom_field_definitions FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.custom_field_definitions IS 'Rows of the current tenant, for its viewers and above. An API key needs the leads:read scope.';

CREATE POLICY tenant_select ON app_public.deal_contacts FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.deal_contacts IS 'Rows of the current tenant, for its viewers and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.deals FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND (deleted_at IS NULL) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.deals IS 'Live deals (deleted_at null) of the current tenant, for its viewers and above; deleted ones come back through restoreDeal. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.domain_ip_assignments FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.domain_ip_assignments IS 'Rows of the current tenant, for its viewers and above. An API key needs the domains:read scope.';

CREATE POLICY tenant_select ON app_public.domains FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.domains IS 'Rows of the current tenant, for its viewers and above. An API key needs the domains:read scope.';

CREATE POLICY tenant_select ON app_public.email_accounts FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('domains'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.email_accounts IS 'Rows of the current tenant, for its viewers and above. An API key needs the domains:read scope.';

CREATE POLICY tenant_select ON app_public.email_events FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('analytics'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.email_events IS 'Rows of the current tenant, for its viewers and above. An API key needs the analytics:read scope.';

CREATE POLICY tenant_select ON app_public.folders FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.folders IS 'Rows of the current tenant, for its viewers and above. An API key needs the templates:read scope.';

CREATE POLICY tenant_select ON app_public.invitations FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.invitations IS 'Rows of the current tenant, for its admins and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.lead_imports FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.lead_imports IS 'Rows of the current tenant, for its viewers and above. An API key needs the leads:read scope.';

CREATE POLICY tenant_select ON app_public.leads FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.leads IS 'Rows of the current tenant, for its viewers and above. An API key needs the leads:read scope.';

CREATE POLICY tenant_select ON app_public.messages FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('analytics'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.messages IS 'Rows of the current tenant, for its viewers and above. An API key needs the analytics:read scope.';

CREATE POLICY tenant_select ON app_public.payments FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.payments IS 'Rows of the current tenant, for its admins and above. An API key needs the billing:read scope.';

CREATE POLICY tenant_select ON app_public.subscription_addons FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.subscription_addons IS 'Rows of the current tenant, for its viewers and above. An API key needs the billing:read scope.';

CREATE POLICY tenant_select ON app_public.subscriptions FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.subscriptions IS 'Rows of the current tenant, for its viewers and above. An API key needs the billing:read scope.';

CREATE POLICY tenant_select ON app_public.suppressions FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('leads'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.suppressions IS 'Rows of the current tenant, for its viewers and above. An API key needs the leads:read scope.';

CREATE POLICY tenant_select ON app_public.tags FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.tags IS 'Rows of the current tenant, for its viewers and above. An API key needs the templates:read scope.';

CREATE POLICY tenant_select ON app_public.template_folders FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.template_folders IS 'Rows of the current tenant, for its viewers and above. An API key needs the templates:read scope.';

CREATE POLICY tenant_select ON app_public.template_tags FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.template_tags IS 'Rows of the current tenant, for its viewers and above. An API key needs the templates:read scope.';

CREATE POLICY tenant_select ON app_public.templates FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('templates'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.templates IS 'Rows of the current tenant, for its viewers and above. An API key needs the templates:read scope.';

CREATE POLICY tenant_select ON app_public.tenant_config FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.tenant_config IS 'Rows of the current tenant, for its viewers and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.tenant_policies FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.tenant_policies IS 'Rows of the current tenant, for its viewers and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.tenant_users FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_select ON app_public.tenant_users IS 'Rows of the current tenant, for its viewers and above. No API key reaches this table.';

CREATE POLICY tenant_select ON app_public.usage_periods FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('viewer'::text)) AND app_hidden.api_key_allows('billing'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.usage_periods IS 'Rows of the current tenant, for its viewers and above. An API key needs the billing:read scope.';

CREATE POLICY tenant_select ON app_public.webhook_deliveries FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.webhook_deliveries IS 'Rows of the current tenant, for its members and above. An API key needs the webhooks:read scope.';

CREATE POLICY tenant_select ON app_public.webhook_events FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.webhook_events IS 'Rows of the current tenant, for its members and above. An API key needs the webhooks:read scope.';

CREATE POLICY tenant_select ON app_public.webhook_subscriptions FOR SELECT USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'read'::text)));

COMMENT ON POLICY tenant_select ON app_public.webhook_subscriptions IS 'Rows of the current tenant, for its members and above. An API key needs the webhooks:read scope.';

CREATE POLICY tenant_update ON app_public.campaign_email_accounts FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.campaign_email_accounts IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_update ON app_public.campaign_sequence_steps FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.campaign_sequence_steps IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_update ON app_public.campaign_step_variants FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.campaign_step_variants IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_update ON app_public.campaign_targets FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.campaign_targets IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_update ON app_public.campaigns FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('campaigns'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.campaigns IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the campaigns:write scope.';

CREATE POLICY tenant_update ON app_public.companies FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key())) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_update ON app_public.companies IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. No API key reaches this table.';

CREATE POLICY tenant_update ON app_public.contact_list_members FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.contact_list_members IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the lists:write scope.';

CREATE POLICY tenant_update ON app_public.contact_lists FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('lists'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.contact_lists IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the lists:write scope.';

CREATE POLICY tenant_update ON app_public.crm_accounts FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key())) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_update ON app_public.crm_accounts IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. No API key reaches this table.';

CREATE POLICY tenant_update ON app_public.custom_field_definitions FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.custom_field_definitions IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. An API key needs the leads:write scope.';

CREATE POLICY tenant_update ON app_public.deal_contacts FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key())) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_update ON app_public.deal_contacts IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. No API key reaches this table.';

CREATE POLICY tenant_update ON app_public.deals FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key())) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_update ON app_public.deals IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. No API key reaches this table.';

CREATE POLICY tenant_update ON app_public.domains FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.domains IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. An API key needs the domains:write scope.';

CREATE POLICY tenant_update ON app_public.email_accounts FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('domains'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.email_accounts IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. An API key needs the domains:write scope.';

CREATE POLICY tenant_update ON app_public.folders FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.folders IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the templates:write scope.';

CREATE POLICY tenant_update ON app_public.lead_imports FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.lead_imports IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the leads:write scope.';

CREATE POLICY tenant_update ON app_public.leads FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.leads IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the leads:write scope.';

CREATE POLICY tenant_update ON app_public.suppressions FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('leads'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.suppressions IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the leads:write scope.';

CREATE POLICY tenant_update ON app_public.tags FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.tags IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the templates:write scope.';

CREATE POLICY tenant_update ON app_public.template_folders FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.template_folders IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the templates:write scope.';

CREATE POLICY tenant_update ON app_public.template_tags FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.template_tags IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the templates:write scope.';

CREATE POLICY tenant_update ON app_public.templates FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('member'::text)) AND app_hidden.api_key_allows('templates'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.templates IS 'Only the current tenant''s rows, by its members and above; a row cannot be moved to another tenant. An API key needs the templates:write scope.';

CREATE POLICY tenant_update ON app_public.tenant_config FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key())) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_update ON app_public.tenant_config IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. No API key reaches this table.';

CREATE POLICY tenant_update ON app_public.tenant_policies FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key())) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY tenant_update ON app_public.tenant_policies IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. No API key reaches this table.';

CREATE POLICY tenant_update ON app_public.webhook_subscriptions FOR UPDATE USING (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'write'::text))) WITH CHECK (((tenant_id = app_public.current_tenant_id_for_role('admin'::text)) AND app_hidden.api_key_allows('webhooks'::text, 'write'::text)));

COMMENT ON POLICY tenant_update ON app_public.webhook_subscriptions IS 'Only the current tenant''s rows, by its admins and above; a row cannot be moved to another tenant. An API key needs the webhooks:write scope.';

ALTER TABLE app_public.tenant_users ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.tenants ENABLE ROW LEVEL SECURITY;

CREATE POLICY update_by_owner ON app_public.tenants FOR UPDATE USING (((id = app_public.current_tenant_id_for_role('owner'::text)) AND app_hidden.without_api_key()));

COMMENT ON POLICY update_by_owner ON app_public.tenants IS 'Only an owner may rename the tenant. No API key reaches this table.';

CREATE POLICY update_self ON app_public.users FOR UPDATE USING (((id = app_public.current_user_id()) AND app_hidden.without_api_key()));

COMMENT ON POLICY update_self ON app_public.users IS 'You may edit only your own profile. No API key reaches this table.';

ALTER TABLE app_public.usage_periods ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.user_preferences ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.users ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.vps_instances ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.webhook_deliveries ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.webhook_events ENABLE ROW LEVEL SECURITY;

ALTER TABLE app_public.webhook_subscriptions ENABLE ROW LEVEL SECURITY;

GRANT USAGE ON SCHEMA app_hidden TO penguinmails_anonymous;
GRANT USAGE ON SCHEMA app_hidden TO penguinmails_member;
GRANT USAGE ON SCHEMA app_hidden TO penguinmails_analytics;

GRANT USAGE ON SCHEMA app_public TO penguinmails_anonymous;
GRANT USAGE ON SCHEMA app_public TO penguinmails_member;
GRANT USAGE ON SCHEMA app_public TO penguinmails_analytics;

REVOKE USAGE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO penguinmails_anonymous;
GRANT USAGE ON SCHEMA public TO penguinmails_member;
GRANT USAGE ON SCHEMA public TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_hidden.accept_invitation(token text, password text, name text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.accept_invitation(token text, password text, name text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.accept_invitation(token text, password text, name text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.api_key_allows(area text, access text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.api_key_allows(area text, access text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.api_key_allows(area text, access text) TO penguinmails_member;
GRANT ALL ON FUNCTION app_hidden.api_key_allows(area text, access text) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_hidden.api_key_allows_scopes(scopes text[], area text, access text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.api_key_allows_scopes(scopes text[], area text, access text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.api_key_allows_scopes(scopes text[], area text, access text) TO penguinmails_member;
GRANT ALL ON FUNCTION app_hidden.api_key_allows_scopes(scopes text[], area text, access text) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_hidden.assigned_ip_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.assigned_ip_ids() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.choose_variant(tenant_id uuid, step_id uuid, lead_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.choose_variant(tenant_id uuid, step_id uuid, lead_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.confirm_registration(token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.confirm_registration(token text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.confirm_registration(token text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.confirm_two_factor(matched_step bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.confirm_two_factor(matched_step bigint) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.create_webhook_subscription(url text, event_types text[], campaign_id uuid, description text, enabled boolean, secret_encrypted bytea) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.create_webhook_subscription(url text, event_types text[], campaign_id uuid, description text, enabled boolean, secret_encrypted bytea) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.current_api_key_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.current_api_key_id() TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.current_api_key_id() TO penguinmails_member;
GRANT ALL ON FUNCTION app_hidden.current_api_key_id() TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_hidden.disable_two_factor(matched_step bigint, code text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.disable_two_factor(matched_step bigint, code text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.dns_record_problem(r jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.dns_record_problem(r jsonb) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.dns_records_problem(doc jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.dns_records_problem(doc jsonb) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.enter_api_key(api_key_id uuid, tenant_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.enter_api_key(api_key_id uuid, tenant_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.enter_request(user_id uuid, tenant_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.enter_request(user_id uuid, tenant_id uuid) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.enter_request(user_id uuid, tenant_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.enter_session(session_id uuid, user_id uuid, tenant_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.enter_session(session_id uuid, user_id uuid, tenant_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.lead_filter_sql(filter jsonb, depth integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.lead_filter_sql(filter jsonb, depth integer) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.lead_import_fields() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.lead_import_fields() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.login(email text, password text, requested_tenant uuid, client_ip text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.login(email text, password text, requested_tenant uuid, client_ip text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.login(email text, password text, requested_tenant uuid, client_ip text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.my_two_factor_secret() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.my_two_factor_secret() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.open_session(user_id uuid, expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.open_session(user_id uuid, expires_at timestamp with time zone) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.open_session(user_id uuid, expires_at timestamp with time zone) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.register(email text, password text, name text, tenant_name text, client_ip text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.register(email text, password text, name text, tenant_name text, client_ip text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.register(email text, password text, name text, tenant_name text, client_ip text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.render_context(tenant_id uuid, step_id uuid, lead_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.render_context(tenant_id uuid, step_id uuid, lead_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.request_password_reset(email text, client_ip text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.request_password_reset(email text, client_ip text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.request_password_reset(email text, client_ip text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.require_api_scope(area text, access text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.require_api_scope(area text, access text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.require_api_scope(area text, access text) TO penguinmails_member;
GRANT ALL ON FUNCTION app_hidden.require_api_scope(area text, access text) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_hidden.rotate_webhook_secret(subscription_id uuid, secret_encrypted bytea, overlap interval) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.rotate_webhook_secret(subscription_id uuid, secret_encrypted bytea, overlap interval) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.set_email_account_credentials(email_account_id uuid, smtp_password_encrypted bytea, imap_password_encrypted bytea) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.set_email_account_credentials(email_account_id uuid, smtp_password_encrypted bytea, imap_password_encrypted bytea) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.start_two_factor_enrollment(secret_sealed bytea) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.start_two_factor_enrollment(secret_sealed bytea) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.stats_with_rates(sent bigint, delivered bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, failed bigint, unsubscribed bigint, complained bigint, opens_total bigint, clicks_total bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.stats_with_rates(sent bigint, delivered bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, failed bigint, unsubscribed bigint, complained bigint, opens_total bigint, clicks_total bigint) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.switch_tenant(target_tenant uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.switch_tenant(target_tenant uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.two_factor_challenge_secret(challenge text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.two_factor_challenge_secret(challenge text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.two_factor_challenge_secret(challenge text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.verify_two_factor_login(challenge text, matched_step bigint, code text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.verify_two_factor_login(challenge text, matched_step bigint, code text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.verify_two_factor_login(challenge text, matched_step bigint, code text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.visible_user_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.visible_user_ids() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_hidden.without_api_key() FROM PUBLIC;
GRANT ALL ON FUNCTION app_hidden.without_api_key() TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_hidden.without_api_key() TO penguinmails_member;
GRANT ALL ON FUNCTION app_hidden.without_api_key() TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_private.active_tenant_ids(user_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.add_billing_period(starts_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.add_campaign_stats(deltas jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.add_job(tenant_id uuid, identifier text, payload json, queue_name text, run_at timestamp with time zone, max_attempts integer, job_key text, priority integer, job_key_mode text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.advance_after_send(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.advance_engine_clock(by_interval interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.api_key_prefix(key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.api_key_scopes() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_public.current_tenant_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_tenant_id() TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.current_tenant_id() TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.current_tenant_id() TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.subscriptions TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.subscriptions TO penguinmails_member;

GRANT UPDATE(plan_id) ON TABLE app_public.subscriptions TO penguinmails_staff;

GRANT UPDATE(pending_plan_id) ON TABLE app_public.subscriptions TO penguinmails_staff;

GRANT UPDATE(status) ON TABLE app_public.subscriptions TO penguinmails_staff;

GRANT UPDATE(cancel_at_period_end) ON TABLE app_public.subscriptions TO penguinmails_staff;

GRANT UPDATE(billing_contact_user_id) ON TABLE app_public.subscriptions TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_private.apply_cancellation(tenant_id uuid, at_period_end boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.apply_dunning(grace interval, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.apply_plan_change(tenant_id uuid, plan_slug text, at_period_end boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.apply_stripe_invoice(event jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.apply_stripe_subscription(event jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.apply_tenant_policies(tbl regclass, write_role text, read_role text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_keeps_an_owner(tenant_id uuid, except_user uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_may_manage_api_keys() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_may_manage_billing() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_may_send(tenant_id uuid, metric text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_password_policy(password text, tenant_ids uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_seats_for_invitations(tenant_id uuid, invited bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_staff_billing(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.assert_transition(entity text, label text, from_status text, to_status text) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.domain_ip_assignments TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.domain_ip_assignments TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.assign_ip(tenant_id uuid, domain_id uuid, smtp_ip_address_id uuid, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.audit_api_key(tenant_id uuid, api_key_id uuid, action text, changes jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.audit_infrastructure(action text, table_name text, record_id uuid, tenant_id uuid, changes jsonb, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.automated_agent(user_agent text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.begin_campaign(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.begin_inbox_oauth(provider text, state text, code_verifier_encrypted bytea, ttl_seconds integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.book_email_send(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamp with time zone, OUT message_id uuid, OUT send_at timestamp with time zone, OUT retry_at timestamp with time zone, OUT wait_reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.book_reply_capacity(tenant_id uuid, email_account_id uuid, now_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.bounce_type(status text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_audience(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_housekeeping() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_limit_problem(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_safety_figures(tenant_id uuid, campaign_id uuid, window_days integer, baseline jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_schedule(tenant_id uuid, campaign_id uuid, OUT next_send_at timestamp with time zone, OUT idle_reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_start_problems(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_status_transition_allowed(from_status text, to_status text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.campaign_totals(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.smtp_ip_addresses TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.smtp_ip_addresses TO penguinmails_member;
GRANT DELETE ON TABLE app_public.smtp_ip_addresses TO penguinmails_staff;

GRANT INSERT(vps_instance_id),UPDATE(vps_instance_id) ON TABLE app_public.smtp_ip_addresses TO penguinmails_staff;

GRANT INSERT(ip_address) ON TABLE app_public.smtp_ip_addresses TO penguinmails_staff;

GRANT INSERT(approximate_cost),UPDATE(approximate_cost) ON TABLE app_public.smtp_ip_addresses TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_private.change_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text, automatic boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.check_campaign_safety(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.check_results_problem(checks jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.claim_message(tenant_id uuid, message_id uuid, subject text, body_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.claim_reply(tenant_id uuid, message_id uuid, subject text, body_text text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.claim_webhook_lease(tenant_id uuid, subscription_id uuid, holder text, ttl interval, OUT claimed boolean, OUT held_until timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_public.uuid_v7(ts timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.uuid_v7(ts timestamp with time zone) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.uuid_v7(ts timestamp with time zone) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.uuid_v7(ts timestamp with time zone) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.uuid_v7_time(id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.uuid_v7_time(id uuid) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.uuid_v7_time(id uuid) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.uuid_v7_time(id uuid) TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.messages TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.messages TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.claimed_message(tenant_id uuid, message_id uuid, outcome text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.cleanup_expired_tokens() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.close_usage_period(tenant_id uuid, period_id uuid, ends_at timestamp with time zone) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.tenants TO penguinmails_member;
GRANT SELECT ON TABLE app_public.tenants TO penguinmails_analytics;

GRANT UPDATE(name) ON TABLE app_public.tenants TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.closed_tenants_owned_by(user_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.complete_campaign_if_done(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.complete_ip_warmups(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_public.current_user_id() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_user_id() TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.current_user_id() TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.current_user_id() TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.lead_imports TO penguinmails_member;
GRANT SELECT ON TABLE app_public.lead_imports TO penguinmails_analytics;

GRANT INSERT(file_name) ON TABLE app_public.lead_imports TO penguinmails_member;

GRANT INSERT(byte_size) ON TABLE app_public.lead_imports TO penguinmails_member;

GRANT INSERT(contact_list_id) ON TABLE app_public.lead_imports TO penguinmails_member;

GRANT INSERT(column_mapping) ON TABLE app_public.lead_imports TO penguinmails_member;

GRANT INSERT(update_existing) ON TABLE app_public.lead_imports TO penguinmails_member;

GRANT INSERT(keep_unmapped) ON TABLE app_public.lead_imports TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.complete_lead_import(tenant_id uuid, import_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.condition_holds(tenant_id uuid, campaign_id uuid, lead_id uuid, condition_type text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.connect_oauth_inbox(tenant_id uuid, user_id uuid, provider text, email text, smtp_settings jsonb, imap_settings jsonb, refresh_token_encrypted bytea, access_token_encrypted bytea, access_expires_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.consume_oauth_state(state text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.consume_usage(tenant_id uuid, metric text, amount integer) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.conversations TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.conversations TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.conversation_for_change(conversation_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.conversation_of_message(message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.count_usage_event(tenant_id uuid, period_start timestamp with time zone, metric text, amount integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.create_tenant(name text, owner_user_id uuid, plan_slug text) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.users TO penguinmails_member;
GRANT SELECT ON TABLE app_public.users TO penguinmails_analytics;

GRANT UPDATE(name) ON TABLE app_public.users TO penguinmails_member;

GRANT UPDATE(family_name) ON TABLE app_public.users TO penguinmails_member;

GRANT UPDATE(given_name) ON TABLE app_public.users TO penguinmails_member;

GRANT UPDATE(picture) ON TABLE app_public.users TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.create_user(email text, password text, name text, email_verified boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.crm_subject(tenant_id uuid, lead_id uuid, deal_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.crm_tenant_for_change() FROM PUBLIC;

GRANT SELECT ON TABLE app_public.plans TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.plans TO penguinmails_member;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(slug) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(description),UPDATE(description) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_users),UPDATE(max_users) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_domains),UPDATE(max_domains) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_campaigns_per_month),UPDATE(max_campaigns_per_month) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(api_rate_limit),UPDATE(api_rate_limit) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_email_accounts),UPDATE(max_email_accounts) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_emails_per_month),UPDATE(max_emails_per_month) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_warmups),UPDATE(max_warmups) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_contacts),UPDATE(max_contacts) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(max_storage_gb),UPDATE(max_storage_gb) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(api_access),UPDATE(api_access) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(priority_support),UPDATE(priority_support) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(advanced_analytics),UPDATE(advanced_analytics) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(white_label),UPDATE(white_label) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(price_monthly),UPDATE(price_monthly) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(price_yearly),UPDATE(price_yearly) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(stripe_price_id),UPDATE(stripe_price_id) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(notes),UPDATE(notes) ON TABLE app_public.plans TO penguinmails_staff;

GRANT INSERT(is_active),UPDATE(is_active) ON TABLE app_public.plans TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_private.current_plan_of(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.current_session_id() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.deal_owner_is_member() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.deliverability_setting(key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.delivery_envelope(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.disconnect_inbox_oauth(email_account_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.display_name_problem(name text, what text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.dkim_pool_shortfall() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.dkim_record(domain_id uuid, selector text, public_key text, role text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.dns_check_delay(domain_status text, domain_attempts integer, error_attempts integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.dns_records_fingerprint(doc jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.domain_check_plan(tenant_id uuid, domain_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.domain_check_sql(domain regtype, expression text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.domain_suffixes(domain text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.drain_job_outbox() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.drop_monthly_partition(partition regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.effective_limit(tenant_id uuid, metric text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.email_account_on_own_domain() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.email_step_action(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.emit_webhook_event(tenant_id uuid, event_type text, campaign_id uuid, data jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.end_subscription(tenant_id uuid, subscription_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.engine_now() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.engine_run_at(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.engine_task_identifiers() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.enroll_campaign_audience(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.enrollment_job_key(enrollment_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.ensure_monthly_partitions(parent regclass, from_month date, to_month date) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.erased_address(tenant_id uuid, email text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.expected_dns_records(domain text, domain_id uuid, selector text, public_key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.expired_partitions(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.fail_lead_import(tenant_id uuid, import_id uuid, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.fallback_plan() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.find_thread_parent(tenant_id uuid, email_account_id uuid, message_type text, in_reply_to text, reference_ids text[], dsn jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.gauge_change(tenant_id uuid, resource text, delta bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.gauge_value(tenant_id uuid, resource text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.hash_password(password text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.hash_recovery_code(code text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.hash_token(token text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.imap_poll_target(tenant_id uuid, email_account_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.inbox_allowance(warmup_enabled boolean, warmup_started_at timestamp with time zone, daily_limit integer, timezone text, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.inbox_daily_allowance(tenant_id uuid, email_account_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.inbox_remaining(tenant_id uuid, email_account_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.inbox_unusable_reason(tenant_id uuid, email_account_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.install_dkim_key(tenant_id uuid, domain_id uuid, selector text, public_key text, private_key_encrypted bytea, key_bits integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.ip_allowance(status text, daily_limit integer, warmup_started_at timestamp with time zone, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.ip_daily_allowance(smtp_ip_address_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.ip_warmup_ramp(day_number integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.ip_warmup_target() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.is_metered(metric text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.is_time_zone(name text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.lead_block_reason(tenant_id uuid, email text, status text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.lifecycle_next(entity text, from_status text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.limit_column(metric text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.limit_exceeded_message(plan_name text, metric text, limit_value bigint, used bigint, requested bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.link_conversation_message(tenant_id uuid, conversation_id uuid, message_id uuid, direction text, message_created timestamp with time zone, reply_html text, sent_by uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.live_assignment_count(smtp_ip_address_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.live_staff_access_session(user_id uuid, tenant_id uuid, staff_permissions text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.live_two_factor_challenge(token text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.local_day(at timestamp with time zone, timezone text) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.campaigns TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(company_id),UPDATE(company_id) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(description),UPDATE(description) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(scheduled_for),UPDATE(scheduled_for) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(timezone),UPDATE(timezone) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(use_lead_timezone),UPDATE(use_lead_timezone) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(send_days),UPDATE(send_days) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(send_window_start),UPDATE(send_window_start) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(send_window_end),UPDATE(send_window_end) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(min_gap_seconds),UPDATE(min_gap_seconds) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(max_gap_seconds),UPDATE(max_gap_seconds) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(daily_limit),UPDATE(daily_limit) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(stop_on_reply),UPDATE(stop_on_reply) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(track_opens),UPDATE(track_opens) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(track_clicks),UPDATE(track_clicks) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(include_unsubscribe_link),UPDATE(include_unsubscribe_link) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(from_name),UPDATE(from_name) ON TABLE app_public.campaigns TO penguinmails_member;

GRANT INSERT(reply_to),UPDATE(reply_to) ON TABLE app_public.campaigns TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.lock_campaign_for_change(campaign_id uuid) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.webhook_subscriptions TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.webhook_subscriptions TO penguinmails_member;

GRANT UPDATE(description) ON TABLE app_public.webhook_subscriptions TO penguinmails_member;

GRANT UPDATE(event_types) ON TABLE app_public.webhook_subscriptions TO penguinmails_member;

GRANT UPDATE(campaign_id) ON TABLE app_public.webhook_subscriptions TO penguinmails_member;

GRANT UPDATE(enabled) ON TABLE app_public.webhook_subscriptions TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.lock_webhook_subscription(subscription_id uuid) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.api_keys TO penguinmails_member;
GRANT SELECT ON TABLE app_public.api_keys TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_private.locked_api_key(tenant_id uuid, api_key_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.locked_current_subscription(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.lockless_budget_left(budget_key text, amount bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.mark_handed_over(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.membership_roles(user_id uuid, tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.mentions(haystack text, needle text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.message_status_rank(status text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.metered_usage(tenant_id uuid, metric text, period_start timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.missing_account_setup(user_id uuid, tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.move_domains_off_ip(smtp_ip_address_id uuid, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.new_api_key() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.new_token() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.next_local_midnight(at timestamp with time zone, time_zone text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.next_send_window(at timestamp with time zone, time_zone text, send_days smallint[], window_start time without time zone, window_end time without time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.normalize_message_id(raw text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.oauth_inbox_defaults(provider text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.oauth_reconnect_required(tenant_id uuid, email_account_id uuid, error text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.oauth_tokens(tenant_id uuid, email_account_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.on_coordinator() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.open_two_factor_challenge(user_id uuid, tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.open_usage_period(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.password_policy_violation(password text, tenant_ids uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.pause_tenant_campaigns(tenant_id uuid, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.plan_by_slug(plan_slug text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.prepare_lead_import(tenant_id uuid, import_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.prepare_reply_send(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.privacy_request_tenant(email text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.privacy_subject(tenant_id uuid, email text, OUT lead_ids uuid[], OUT enrollment_ids uuid[], OUT message_ids uuid[], OUT name_terms text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.purge_tenant(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.purge_webhook_history(at timestamp with time zone, batch integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_campaign_start(tenant_id uuid, campaign_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_dkim_pool_refill() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_domain_verification(tenant_id uuid, domain_id uuid, run_at timestamp with time zone, keep_earlier boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_due_domain_checks(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_imap_poll(tenant_id uuid, email_account_id uuid, run_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_imap_polls() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_reply_send(tenant_id uuid, message_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_reputation_checks() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_safety_pause_notice(tenant_id uuid, campaign_id uuid, email_account_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_stalled_webhook_deliveries(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_stripe_sync(tenant_id uuid, subscription_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_tenant_purges() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.queue_webhook_delivery(tenant_id uuid, subscription_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.raise_limit_exceeded(plan_name text, metric text, limit_value bigint, used bigint, requested bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.rebuild_campaign_stats(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.receive_stripe_event(event jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_bounce(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_deferral(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text, inbox_error text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_delivery(tenant_id uuid, message_id uuid, smtp_response text) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.domains TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.domains TO penguinmails_member;

GRANT INSERT(company_id),UPDATE(company_id) ON TABLE app_public.domains TO penguinmails_member;

GRANT INSERT(domain) ON TABLE app_public.domains TO penguinmails_member;

GRANT INSERT(is_primary),UPDATE(is_primary) ON TABLE app_public.domains TO penguinmails_member;

GRANT INSERT(dkim_selector) ON TABLE app_public.domains TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.record_domain_check(tenant_id uuid, domain_id uuid, checks jsonb, fingerprint text, planned_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_email_event(tenant_id uuid, message_id uuid, event_type text, ip_address inet, user_agent text, link_url text, metadata jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_fqdn(name text, domain text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_imap_failure(tenant_id uuid, email_account_id uuid, error text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_imap_progress(tenant_id uuid, email_account_id uuid, uid_validity bigint, last_uid bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_inbound_message(tenant_id uuid, email_account_id uuid, message_type text, rfc_message_id text, in_reply_to text, reference_ids text[], from_email text, to_email text, subject text, body_text text, dsn jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_ip_reputation(smtp_ip_address_id uuid, results jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_lead_import_columns(tenant_id uuid, import_id uuid, unmapped text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_send_failure(tenant_id uuid, message_id uuid, reason text, inbox_error text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_smtp_auth_failure(tenant_id uuid, message_id uuid, smtp_response text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_staff_billing_action(tenant_id uuid, action text, reason text, changes jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_staff_operation(user_id uuid, tenant_id uuid, operation jsonb, request_id text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_stripe_customer(tenant_id uuid, stripe_customer_id text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_stripe_subscription(tenant_id uuid, subscription_id uuid, stripe_subscription_id text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_unconfirmed(tenant_id uuid, message_id uuid, reason text, explanation text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.record_webhook_attempt(tenant_id uuid, delivery_id uuid, succeeded boolean, response_code integer, response_body text, duration_ms integer, error text, retry_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.recount_ip_assignments(smtp_ip_address_ids uuid[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.reenter_request() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.refresh_conversation(tenant_id uuid, conversation_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.release_dead_workers(include_unregistered boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.release_message_partition(lower_id uuid, upper_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.release_orphaned_dkim_claims() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.release_orphaned_jobs(pool_id text, known_job_ids bigint[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.release_webhook_lease(tenant_id uuid, subscription_id uuid, holder text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.reply_subject(subject text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.reply_to_send(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.report_lead_import_progress(tenant_id uuid, import_id uuid, rows_read integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.reputation_results_problem(results jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.require_infrastructure_manager() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.reset_daily_counts(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.resolve_interrupted_send(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.resume_campaign_row(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.resume_tenant_campaigns(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.retention_days(key text, fallback integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.revoke_sessions(user_id uuid, reason text, keep_session_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.roll_over_due_periods(at timestamp with time zone, batch_size integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.roll_over_tenant(tenant_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.rollout_bucket(flag_key text, tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.run_enrollment(tenant_id uuid, enrollment_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.schedule_enrollment(tenant_id uuid, enrollment_id uuid, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.schedule_enrollments(tenant_id uuid, enrollment_ids uuid[], at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.send_lock_key(message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.send_max_attempts() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.send_retry_delay(attempt integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.session_claims(for_user uuid, in_tenant uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.set_engine_clock(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.set_payment_state(tenant_id uuid, subscription_id uuid, status text, at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.set_read(tenant_id uuid, conversation_id uuid, message_id uuid, read boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.smtp_auth_failure_limit() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.spend_lockless_budget(budget_key text, amount bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.staff_permissions_of(user_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.start_lead_import(tenant_id uuid, import_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.start_scheduled_campaign(tenant_id uuid, campaign_id uuid) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.usage_periods TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.usage_periods TO penguinmails_member;

REVOKE ALL ON FUNCTION app_private.start_usage_period(tenant_id uuid, subscription_id uuid, starts_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.stop_enrollment(tenant_id uuid, enrollment_id uuid, status text, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.store_oauth_access(tenant_id uuid, email_account_id uuid, access_token_encrypted bytea, access_expires_at timestamp with time zone, refresh_token_encrypted bytea) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.stripe_event_is_newer(sub app_public.subscriptions, created timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.stripe_subscription_for(customer_id text, stripe_subscription_id text, link boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.stripe_subscription_status(stripe_status text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.stripe_sync_state(for_tenant uuid, for_subscription uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.stripe_time(seconds text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.suppress_lead(tenant_id uuid, lead_id uuid, reason text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.take_dkim_key(tenant_id uuid, domain_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tenant_closure_grace() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tenant_purge_plan() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tenant_purge_tables() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tenant_roles_of(user_id uuid, tenant_id uuid, staff_permissions text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tenant_usage(tenant_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__audit() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__display_name() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__dkim_key_record() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__domain_dkim_key() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__domain_dns_records() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__domain_ip_assignment_lifecycle() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__email_account_warmup() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__gauge_count() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__gauge_members() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__ip_assigned_count() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__job_request_id() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__oauth_inbox_reactivation() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__platform_audit() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__smtp_ip_lifecycle() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__updated() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__updated_by() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg__vps_instance_lifecycle() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_campaign_enrollments__check_completion() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_campaign_stats_daily__safety() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_campaigns__reschedule_start() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_campaigns__safety_resume() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_campaigns__status_transition() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_campaigns__webhook() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_contact_list_members__static_only() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_contact_lists__validate_filter() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_crm_accounts__no_cycle() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_deals__activity() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_domains__webhook() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_email_accounts__safety_state() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_email_accounts__webhook() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_email_events__activity() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_email_events__rollup() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_email_events__webhook() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_invitations__reserve_seats() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_lead_imports__api_key() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_lead_imports__queue() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_lead_imports__validate() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_lead_imports__webhook() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_leads__activity() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_leads__webhook() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_messages__conversation() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_messages__forget_handovers() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_messages__rollup() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_messages__status_forward() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tg_webhook_subscriptions__enabled() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.thread_into_conversation(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.throttle_hit(scope text, key text, max_hits integer, per interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.track_engagement(tenant_id uuid, message_id uuid, event_type text, ip_address inet, user_agent text, link_url text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.track_unsubscribe(tenant_id uuid, message_id uuid, ip_address inet, user_agent text, method text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.tracked_message(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.two_factor_attempt(user_id uuid, matched_step bigint, code text, allow_recovery boolean, policy_tenant uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.two_factor_enabled(user_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.unsubscribe_preview(tenant_id uuid, message_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.usage_lockless_budget() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.usage_lockless_margin() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.usage_metrics() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.usage_noun(metric text, quantity bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.use_api_key(secret_hash bytea, client_ip text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.uuid_v7_floor(ts timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.validated_api_key_scopes(scopes text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.warmup_ramp(day_number integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.warmup_tick(at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.webhook_lead_state(lead jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.webhook_subscribers(tenant_id uuid, event_type text, campaign_id uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.website_domain(website text) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.without_terms(value text, terms text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.worker_dead_after() FROM PUBLIC;

REVOKE ALL ON FUNCTION app_private.worker_lock_key(pool_id text) FROM PUBLIC;

GRANT SELECT ON TABLE app_public.activities TO penguinmails_member;
GRANT SELECT ON TABLE app_public.activities TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.add_crm_note(body text, lead_id uuid, deal_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.add_crm_note(body text, lead_id uuid, deal_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.add_crm_task(title text, lead_id uuid, deal_id uuid, due_at timestamp with time zone, body text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.add_crm_task(title text, lead_id uuid, deal_id uuid, due_at timestamp with time zone, body text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.assign_smtp_ip_to_domain(domain_id uuid, smtp_ip_address_id uuid, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.assign_smtp_ip_to_domain(domain_id uuid, smtp_ip_address_id uuid, reason text) TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.campaigns_idle_reason(campaign app_public.campaigns) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.campaigns_idle_reason(campaign app_public.campaigns) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.campaigns_next_send_at(campaign app_public.campaigns) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.campaigns_next_send_at(campaign app_public.campaigns) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.campaigns_stats(campaign app_public.campaigns, since date, until date) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.campaigns_stats(campaign app_public.campaigns, since date, until date) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.cancel_campaign(campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.cancel_campaign(campaign_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.cancel_subscription(at_period_end boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.cancel_subscription(at_period_end boolean) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.cancel_tenant_subscription(tenant_id uuid, at_period_end boolean, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.cancel_tenant_subscription(tenant_id uuid, at_period_end boolean, reason text) TO penguinmails_staff;

GRANT SELECT ON TABLE app_public.tenant_users TO penguinmails_member;
GRANT SELECT ON TABLE app_public.tenant_users TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.change_member_roles(user_id uuid, roles text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.change_member_roles(user_id uuid, roles text[]) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.change_password(old_password text, new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.change_password(old_password text, new_password text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.change_plan(plan_slug text, at_period_end boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.change_plan(plan_slug text, at_period_end boolean) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.change_tenant_plan(tenant_id uuid, plan_slug text, at_period_end boolean, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.change_tenant_plan(tenant_id uuid, plan_slug text, at_period_end boolean, reason text) TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.close_tenant(confirm_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.close_tenant(confirm_name text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.close_tenant_access(tenant_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.close_tenant_access(tenant_id uuid) TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.complete_crm_task(activity_id uuid, completed boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.complete_crm_task(activity_id uuid, completed boolean) TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.contact_lists TO penguinmails_member;
GRANT SELECT ON TABLE app_public.contact_lists TO penguinmails_analytics;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.contact_lists TO penguinmails_member;

GRANT INSERT(description),UPDATE(description) ON TABLE app_public.contact_lists TO penguinmails_member;

GRANT INSERT(is_dynamic),UPDATE(is_dynamic) ON TABLE app_public.contact_lists TO penguinmails_member;

GRANT INSERT(filter_criteria),UPDATE(filter_criteria) ON TABLE app_public.contact_lists TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.contact_lists_lead_count(list app_public.contact_lists) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.contact_lists_lead_count(list app_public.contact_lists) TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.leads TO penguinmails_member;
GRANT SELECT ON TABLE app_public.leads TO penguinmails_analytics;

GRANT INSERT(email),UPDATE(email) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(first_name),UPDATE(first_name) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(last_name),UPDATE(last_name) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(company),UPDATE(company) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(title),UPDATE(title) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(phone),UPDATE(phone) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(website),UPDATE(website) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(timezone),UPDATE(timezone) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(status),UPDATE(status) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(source),UPDATE(source) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(custom_fields),UPDATE(custom_fields) ON TABLE app_public.leads TO penguinmails_member;

GRANT INSERT(crm_account_id),UPDATE(crm_account_id) ON TABLE app_public.leads TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.contact_lists_leads(list app_public.contact_lists) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.contact_lists_leads(list app_public.contact_lists) TO penguinmails_member;

GRANT SELECT ON TABLE app_public.deals TO penguinmails_member;
GRANT SELECT ON TABLE app_public.deals TO penguinmails_analytics;

GRANT INSERT(title),UPDATE(title) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(value),UPDATE(value) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(currency),UPDATE(currency) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(probability),UPDATE(probability) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(stage),UPDATE(stage) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(primary_lead_id),UPDATE(primary_lead_id) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(crm_account_id),UPDATE(crm_account_id) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(owner_user_id),UPDATE(owner_user_id) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(source_campaign_id),UPDATE(source_campaign_id) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(expected_close_date),UPDATE(expected_close_date) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(actual_close_date),UPDATE(actual_close_date) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(deal_source),UPDATE(deal_source) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(description),UPDATE(description) ON TABLE app_public.deals TO penguinmails_member;

GRANT INSERT(notes),UPDATE(notes) ON TABLE app_public.deals TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.convert_lead_to_deal(lead_id uuid, stage text, title text, value numeric, currency text, expected_close_date date) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.convert_lead_to_deal(lead_id uuid, stage text, title text, value numeric, currency text, expected_close_date date) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.create_api_key(name text, scopes text[], expires_at timestamp with time zone, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.create_api_key(name text, scopes text[], expires_at timestamp with time zone, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.current_staff_has_permission(permission text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_staff_has_permission(permission text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.current_staff_has_permission(permission text) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.current_staff_has_permission(permission text) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.current_tenant() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_tenant() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.current_tenant_id_for_role(minimum text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_tenant_id_for_role(minimum text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.current_tenant_id_for_role(minimum text) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.current_tenant_id_for_role(minimum text) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.current_tenant_roles() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_tenant_roles() TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.current_tenant_roles() TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.current_tenant_roles() TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.current_usage() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.current_usage() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public."current_user"() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public."current_user"() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.daily_stats(campaign_id uuid, since date, until date) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.daily_stats(campaign_id uuid, since date, until date) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.deals_timeline(deal app_public.deals) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.deals_timeline(deal app_public.deals) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.delete_my_account(password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.delete_my_account(password text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.domains_records_to_publish(domain app_public.domains) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.domains_records_to_publish(domain app_public.domains) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.domains_records_to_publish(domain app_public.domains) TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.email_accounts TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(domain_id) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(email) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(from_name),UPDATE(from_name) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(provider),UPDATE(provider) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(imap_settings),UPDATE(imap_settings) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(smtp_settings),UPDATE(smtp_settings) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(status),UPDATE(status) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(timezone),UPDATE(timezone) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(daily_limit),UPDATE(daily_limit) ON TABLE app_public.email_accounts TO penguinmails_member;

GRANT INSERT(warmup_enabled),UPDATE(warmup_enabled) ON TABLE app_public.email_accounts TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.email_accounts_daily_allowance(account app_public.email_accounts) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.email_accounts_daily_allowance(account app_public.email_accounts) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.email_accounts_daily_allowance(account app_public.email_accounts) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.email_accounts_imap_auth_configured(account app_public.email_accounts) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.email_accounts_imap_auth_configured(account app_public.email_accounts) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.email_accounts_smtp_auth_configured(account app_public.email_accounts) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.email_accounts_smtp_auth_configured(account app_public.email_accounts) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.email_accounts_warmup_day(account app_public.email_accounts) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.email_accounts_warmup_day(account app_public.email_accounts) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.email_accounts_warmup_day(account app_public.email_accounts) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.enabled_features() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.enabled_features() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.erase_personal_data(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.erase_personal_data(email text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.export_personal_data(email text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.export_personal_data(email text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.feature_enabled(flag_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.feature_enabled(flag_key text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.has_tenant_role(minimum text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.has_tenant_role(minimum text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.has_tenant_role(minimum text) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.has_tenant_role(minimum text) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.inbox_conversations(campaign_id uuid, email_account_id uuid, unread boolean, lead_status text, interest_status text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.inbox_conversations(campaign_id uuid, email_account_id uuid, unread boolean, lead_status text, interest_status text) TO penguinmails_member;

GRANT SELECT ON TABLE app_public.invitations TO penguinmails_member;
GRANT SELECT ON TABLE app_public.invitations TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.invite_member(email text, roles text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.invite_member(email text, roles text[]) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.leads_timeline(lead app_public.leads) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.leads_timeline(lead app_public.leads) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.logout() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.logout() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.logout_everywhere() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.logout_everywhere() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.mark_conversation_read(conversation_id uuid, read boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.mark_conversation_read(conversation_id uuid, read boolean) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.mark_message_read(message_id uuid, read boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.mark_message_read(message_id uuid, read boolean) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.my_closed_tenants() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_closed_tenants() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.my_memberships() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.my_memberships() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.open_tenant_access(tenant_id uuid, reason text, access_mode text, minutes integer) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.open_tenant_access(tenant_id uuid, reason text, access_mode text, minutes integer) TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.pause_campaign(campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.pause_campaign(campaign_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.remove_member(user_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.remove_member(user_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.reopen_tenant(tenant_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reopen_tenant(tenant_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.replay_webhook_deliveries(subscription_id uuid, from_time timestamp with time zone, to_time timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.replay_webhook_deliveries(subscription_id uuid, from_time timestamp with time zone, to_time timestamp with time zone) TO penguinmails_member;

GRANT SELECT ON TABLE app_public.webhook_deliveries TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.webhook_deliveries TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.replay_webhook_delivery(delivery_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.replay_webhook_delivery(delivery_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.request_email_verification() FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.request_email_verification() TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.reset_password(token text, new_password text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.reset_password(token text, new_password text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.reset_password(token text, new_password text) TO penguinmails_member;

GRANT SELECT ON TABLE app_public.crm_accounts TO penguinmails_member;
GRANT SELECT ON TABLE app_public.crm_accounts TO penguinmails_analytics;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(domain),UPDATE(domain) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(industry),UPDATE(industry) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(street),UPDATE(street) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(city),UPDATE(city) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(state),UPDATE(state) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(country),UPDATE(country) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(postal_code),UPDATE(postal_code) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(parent_account_id),UPDATE(parent_account_id) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(custom_fields),UPDATE(custom_fields) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(company_size),UPDATE(company_size) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(employee_count),UPDATE(employee_count) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(annual_revenue),UPDATE(annual_revenue) ON TABLE app_public.crm_accounts TO penguinmails_member;

GRANT INSERT(revenue_currency),UPDATE(revenue_currency) ON TABLE app_public.crm_accounts TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.restore_crm_account(row_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.restore_crm_account(row_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.restore_deal(row_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.restore_deal(row_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.resume_campaign(campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.resume_campaign(campaign_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.resume_email_account(email_account_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.resume_email_account(email_account_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.revoke_api_key(api_key_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.revoke_api_key(api_key_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.revoke_invitation(invitation_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.revoke_invitation(invitation_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.rotate_api_key(api_key_id uuid, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.rotate_api_key(api_key_id uuid, OUT key_id uuid, OUT key_prefix text, OUT key_scopes text[], OUT key_expires_at timestamp with time zone, OUT secret text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.rotate_domain_dkim_key(domain_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.rotate_domain_dkim_key(domain_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.search_leads(query text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.search_leads(query text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.send_reply(message_id uuid, text text, html text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.send_reply(message_id uuid, text text, html text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.send_webhook_test_event(subscription_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.send_webhook_test_event(subscription_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.set_domain_ip_assignment_status(assignment_id uuid, status text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_domain_ip_assignment_status(assignment_id uuid, status text, reason text) TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.set_lead_interest_status(conversation_id uuid, interest_status text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_lead_interest_status(conversation_id uuid, interest_status text) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.set_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text) TO penguinmails_staff;

GRANT SELECT ON TABLE app_public.system_config TO penguinmails_staff;
GRANT SELECT ON TABLE app_public.system_config TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.set_system_config(key text, value jsonb, is_sensitive boolean, description text, category text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_system_config(key text, value jsonb, is_sensitive boolean, description text, category text) TO penguinmails_staff;

GRANT SELECT ON TABLE app_public.vps_instances TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(hostwinds_instance_id),UPDATE(hostwinds_instance_id) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(ip_address),UPDATE(ip_address) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(region),UPDATE(region) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(status) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(monthly_cost),UPDATE(monthly_cost) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(approximate_cost),UPDATE(approximate_cost) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(hostwinds_billing_day),UPDATE(hostwinds_billing_day) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(current_billing_period_start),UPDATE(current_billing_period_start) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(current_billing_period_end),UPDATE(current_billing_period_end) ON TABLE app_public.vps_instances TO penguinmails_staff;

GRANT INSERT(decommission_scheduled_for),UPDATE(decommission_scheduled_for) ON TABLE app_public.vps_instances TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.set_vps_instance_status(vps_instance_id uuid, status text, reason text, decommission_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.set_vps_instance_status(vps_instance_id uuid, status text, reason text, decommission_at timestamp with time zone) TO penguinmails_staff;

REVOKE ALL ON FUNCTION app_public.smtp_ip_addresses_daily_allowance(ip app_public.smtp_ip_addresses) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.smtp_ip_addresses_daily_allowance(ip app_public.smtp_ip_addresses) TO penguinmails_member;
GRANT ALL ON FUNCTION app_public.smtp_ip_addresses_daily_allowance(ip app_public.smtp_ip_addresses) TO penguinmails_analytics;

REVOKE ALL ON FUNCTION app_public.soft_delete_crm_account(row_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.soft_delete_crm_account(row_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.soft_delete_deal(row_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.soft_delete_deal(row_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.start_campaign(campaign_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.start_campaign(campaign_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.tenant_stats(since date, until date) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.tenant_stats(since date, until date) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.tenants_my_roles(tenant app_public.tenants) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.tenants_my_roles(tenant app_public.tenants) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.usage_periods_usage(period app_public.usage_periods) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.usage_periods_usage(period app_public.usage_periods) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.verify_domain(domain_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.verify_domain(domain_id uuid) TO penguinmails_member;

REVOKE ALL ON FUNCTION app_public.verify_email(token text) FROM PUBLIC;
GRANT ALL ON FUNCTION app_public.verify_email(token text) TO penguinmails_anonymous;
GRANT ALL ON FUNCTION app_public.verify_email(token text) TO penguinmails_member;

GRANT SELECT ON TABLE app_public.audit_log TO penguinmails_member;
GRANT SELECT ON TABLE app_public.audit_log TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.campaign_email_accounts TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.campaign_email_accounts TO penguinmails_member;

GRANT INSERT(campaign_id) ON TABLE app_public.campaign_email_accounts TO penguinmails_member;

GRANT INSERT(email_account_id) ON TABLE app_public.campaign_email_accounts TO penguinmails_member;

GRANT SELECT ON TABLE app_public.campaign_enrollments TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.campaign_enrollments TO penguinmails_member;

GRANT SELECT ON TABLE app_public.campaign_sequence_steps TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(campaign_id) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(step_order),UPDATE(step_order) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(step_type),UPDATE(step_type) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(email_account_id),UPDATE(email_account_id) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(template_id),UPDATE(template_id) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(subject_override),UPDATE(subject_override) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(from_name_override),UPDATE(from_name_override) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(wait_duration_hours),UPDATE(wait_duration_hours) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(wait_until),UPDATE(wait_until) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(condition_type),UPDATE(condition_type) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(condition_value),UPDATE(condition_value) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(send_condition),UPDATE(send_condition) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT INSERT(is_active),UPDATE(is_active) ON TABLE app_public.campaign_sequence_steps TO penguinmails_member;

GRANT SELECT ON TABLE app_public.campaign_stats_daily TO penguinmails_member;
GRANT SELECT ON TABLE app_public.campaign_stats_daily TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.campaign_step_variants TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.campaign_step_variants TO penguinmails_member;

GRANT INSERT(step_id) ON TABLE app_public.campaign_step_variants TO penguinmails_member;

GRANT INSERT(label),UPDATE(label) ON TABLE app_public.campaign_step_variants TO penguinmails_member;

GRANT INSERT(subject),UPDATE(subject) ON TABLE app_public.campaign_step_variants TO penguinmails_member;

GRANT INSERT(weight),UPDATE(weight) ON TABLE app_public.campaign_step_variants TO penguinmails_member;

GRANT SELECT ON TABLE app_public.campaign_targets TO penguinmails_analytics;
GRANT SELECT,DELETE ON TABLE app_public.campaign_targets TO penguinmails_member;

GRANT INSERT(campaign_id) ON TABLE app_public.campaign_targets TO penguinmails_member;

GRANT INSERT(contact_list_id) ON TABLE app_public.campaign_targets TO penguinmails_member;

GRANT INSERT(lead_id) ON TABLE app_public.campaign_targets TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.companies TO penguinmails_member;
GRANT SELECT ON TABLE app_public.companies TO penguinmails_analytics;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.companies TO penguinmails_member;

GRANT INSERT(workspace_name),UPDATE(workspace_name) ON TABLE app_public.companies TO penguinmails_member;

GRANT INSERT(logo_url),UPDATE(logo_url) ON TABLE app_public.companies TO penguinmails_member;

GRANT INSERT(status),UPDATE(status) ON TABLE app_public.companies TO penguinmails_member;

GRANT INSERT(industry),UPDATE(industry) ON TABLE app_public.companies TO penguinmails_member;

GRANT INSERT(company_size),UPDATE(company_size) ON TABLE app_public.companies TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.contact_list_members TO penguinmails_member;
GRANT SELECT ON TABLE app_public.contact_list_members TO penguinmails_analytics;

GRANT INSERT(list_id) ON TABLE app_public.contact_list_members TO penguinmails_member;

GRANT INSERT(lead_id) ON TABLE app_public.contact_list_members TO penguinmails_member;

GRANT SELECT ON TABLE app_public.conversation_messages TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.conversation_messages TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.custom_field_definitions TO penguinmails_member;
GRANT SELECT ON TABLE app_public.custom_field_definitions TO penguinmails_analytics;

GRANT INSERT(key) ON TABLE app_public.custom_field_definitions TO penguinmails_member;

GRANT INSERT(label),UPDATE(label) ON TABLE app_public.custom_field_definitions TO penguinmails_member;

GRANT INSERT(field_type),UPDATE(field_type) ON TABLE app_public.custom_field_definitions TO penguinmails_member;

GRANT INSERT(options),UPDATE(options) ON TABLE app_public.custom_field_definitions TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.deal_contacts TO penguinmails_member;
GRANT SELECT ON TABLE app_public.deal_contacts TO penguinmails_analytics;

GRANT INSERT(deal_id) ON TABLE app_public.deal_contacts TO penguinmails_member;

GRANT INSERT(lead_id) ON TABLE app_public.deal_contacts TO penguinmails_member;

GRANT INSERT(role),UPDATE(role) ON TABLE app_public.deal_contacts TO penguinmails_member;

GRANT SELECT ON TABLE app_public.email_events TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.email_events TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.feature_flags TO penguinmails_staff;
GRANT SELECT ON TABLE app_public.feature_flags TO penguinmails_analytics;

GRANT INSERT(key) ON TABLE app_public.feature_flags TO penguinmails_staff;

GRANT INSERT(description),UPDATE(description) ON TABLE app_public.feature_flags TO penguinmails_staff;

GRANT INSERT(is_enabled),UPDATE(is_enabled) ON TABLE app_public.feature_flags TO penguinmails_staff;

GRANT INSERT(rollout_percentage),UPDATE(rollout_percentage) ON TABLE app_public.feature_flags TO penguinmails_staff;

GRANT INSERT(updated_by),UPDATE(updated_by) ON TABLE app_public.feature_flags TO penguinmails_staff;

GRANT SELECT,DELETE ON TABLE app_public.folders TO penguinmails_member;
GRANT SELECT ON TABLE app_public.folders TO penguinmails_analytics;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.folders TO penguinmails_member;

GRANT SELECT ON TABLE app_public.payments TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.payments TO penguinmails_member;

GRANT SELECT ON TABLE app_public.permissions TO penguinmails_member;
GRANT SELECT ON TABLE app_public.permissions TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.platform_audit_log TO penguinmails_staff;
GRANT SELECT ON TABLE app_public.platform_audit_log TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.staff_members TO penguinmails_member;
GRANT DELETE ON TABLE app_public.staff_members TO penguinmails_staff;
GRANT SELECT ON TABLE app_public.staff_members TO penguinmails_analytics;

GRANT INSERT(user_id) ON TABLE app_public.staff_members TO penguinmails_staff;

GRANT INSERT(role_id),UPDATE(role_id) ON TABLE app_public.staff_members TO penguinmails_staff;

GRANT INSERT(notes),UPDATE(notes) ON TABLE app_public.staff_members TO penguinmails_staff;

GRANT SELECT ON TABLE app_public.staff_role_permissions TO penguinmails_member;
GRANT SELECT ON TABLE app_public.staff_role_permissions TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.staff_roles TO penguinmails_member;
GRANT SELECT ON TABLE app_public.staff_roles TO penguinmails_analytics;

GRANT SELECT ON TABLE app_public.subscription_addons TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.subscription_addons TO penguinmails_member;
GRANT DELETE ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(tenant_id) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(subscription_id) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(addon_type) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(quantity),UPDATE(quantity) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(price_monthly),UPDATE(price_monthly) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(stripe_price_id) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(stripe_subscription_item_id) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT INSERT(is_active),UPDATE(is_active) ON TABLE app_public.subscription_addons TO penguinmails_staff;

GRANT SELECT,DELETE ON TABLE app_public.suppressions TO penguinmails_member;
GRANT SELECT ON TABLE app_public.suppressions TO penguinmails_analytics;

GRANT INSERT(email) ON TABLE app_public.suppressions TO penguinmails_member;

GRANT INSERT(domain) ON TABLE app_public.suppressions TO penguinmails_member;

GRANT INSERT(reason) ON TABLE app_public.suppressions TO penguinmails_member;

GRANT INSERT(note),UPDATE(note) ON TABLE app_public.suppressions TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.tags TO penguinmails_member;
GRANT SELECT ON TABLE app_public.tags TO penguinmails_analytics;

GRANT INSERT(value),UPDATE(value) ON TABLE app_public.tags TO penguinmails_member;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.tags TO penguinmails_member;

GRANT INSERT(description),UPDATE(description) ON TABLE app_public.tags TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.template_folders TO penguinmails_member;
GRANT SELECT ON TABLE app_public.template_folders TO penguinmails_analytics;

GRANT INSERT(template_id) ON TABLE app_public.template_folders TO penguinmails_member;

GRANT INSERT(folder_id) ON TABLE app_public.template_folders TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.template_tags TO penguinmails_member;
GRANT SELECT ON TABLE app_public.template_tags TO penguinmails_analytics;

GRANT INSERT(template_id) ON TABLE app_public.template_tags TO penguinmails_member;

GRANT INSERT(tag_id) ON TABLE app_public.template_tags TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.templates TO penguinmails_member;
GRANT SELECT ON TABLE app_public.templates TO penguinmails_analytics;

GRANT INSERT(name),UPDATE(name) ON TABLE app_public.templates TO penguinmails_member;

GRANT INSERT(subject),UPDATE(subject) ON TABLE app_public.templates TO penguinmails_member;

GRANT INSERT(content),UPDATE(content) ON TABLE app_public.templates TO penguinmails_member;

GRANT INSERT(text_content),UPDATE(text_content) ON TABLE app_public.templates TO penguinmails_member;

GRANT INSERT(variables),UPDATE(variables) ON TABLE app_public.templates TO penguinmails_member;

GRANT INSERT(category),UPDATE(category) ON TABLE app_public.templates TO penguinmails_member;

GRANT INSERT(is_archived),UPDATE(is_archived) ON TABLE app_public.templates TO penguinmails_member;

GRANT SELECT ON TABLE app_public.tenant_config TO penguinmails_member;
GRANT SELECT ON TABLE app_public.tenant_config TO penguinmails_analytics;

GRANT UPDATE(billing_email) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(billing_address) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(notify_on_billing_changes) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(notify_on_system_updates) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(notify_on_security_alerts) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(theme_primary_color) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(theme_logo_url) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(theme_favicon_url) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(ui_sidebar_default_collapsed) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(ui_date_format) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(ui_timezone) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(safety_bounce_rate) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(safety_complaint_rate) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(safety_min_sample) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT UPDATE(safety_window_days) ON TABLE app_public.tenant_config TO penguinmails_member;

GRANT SELECT ON TABLE app_public.tenant_policies TO penguinmails_member;
GRANT SELECT ON TABLE app_public.tenant_policies TO penguinmails_analytics;

GRANT UPDATE(password_min_length) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(password_require_uppercase) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(password_require_numbers) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(password_require_symbols) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(session_timeout_hours) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(max_login_attempts) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(lockout_minutes) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(two_factor_required) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(company_allow_member_invites) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT UPDATE(company_require_email_verification) ON TABLE app_public.tenant_policies TO penguinmails_member;

GRANT SELECT,DELETE ON TABLE app_public.user_preferences TO penguinmails_member;
GRANT SELECT ON TABLE app_public.user_preferences TO penguinmails_analytics;

GRANT INSERT(theme),UPDATE(theme) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT INSERT(language),UPDATE(language) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT INSERT(timezone),UPDATE(timezone) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT INSERT(email_notifications),UPDATE(email_notifications) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT INSERT(push_notifications),UPDATE(push_notifications) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT INSERT(weekly_reports),UPDATE(weekly_reports) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT INSERT(marketing_emails),UPDATE(marketing_emails) ON TABLE app_public.user_preferences TO penguinmails_member;

GRANT SELECT ON TABLE app_public.webhook_events TO penguinmails_analytics;
GRANT SELECT ON TABLE app_public.webhook_events TO penguinmails_member;

ALTER DEFAULT PRIVILEGES FOR ROLE penguinmails_owner REVOKE ALL ON FUNCTIONS  FROM PUBLIC;
