--------------------------------------------------------------------------------
-- Google and Microsoft inboxes over OAuth 2.0 (src/oauth/).
--
-- Connect: startInboxOAuth (plugins/inbox-oauth.ts) records a state with
-- begin_inbox_oauth (hash only, bound to the tenant, the user and a short
-- expiry); the provider sends the browser back to GET /oauth/callback, which
-- consumes the state once (consume_oauth_state), exchanges the code and
-- creates or updates the inbox for the address the provider names
-- (connect_oauth_inbox). Tokens are sealed with the application key in the
-- API server and stored in app_private.email_account_credentials; nothing
-- returns them to the API.
--
-- Use: the worker reads them (oauth_tokens), stores renewed access tokens
-- (store_oauth_access) and, when the provider refuses to renew them for good,
-- stops the inbox (oauth_reconnect_required).
--
-- Disconnect: disconnect_inbox_oauth stops the inbox at once and hands the
-- sealed tokens to the API server once, for revocation at the provider.
--------------------------------------------------------------------------------

create or replace function app_private.oauth_inbox_defaults(provider text) returns jsonb
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- A new connected inbox starts warming up towards 100 a day, far below the
  -- providers' published per-mailbox limits (Google Workspace 2,000 messages
  -- a day, Exchange Online 10,000 recipients; email_accounts_provider_daily_cap
  -- and email_accounts_daily_limit_check hold every inbox to them).
  select case provider
    when 'google' then jsonb_build_object('daily_limit', 100, 'warmup_enabled', true)
    when 'microsoft' then jsonb_build_object('daily_limit', 100, 'warmup_enabled', true)
  end;
$$;
comment on function app_private.oauth_inbox_defaults(text) is 'Daily cap and warm-up of an inbox first connected over OAuth, per provider.';

create or replace function app_private.begin_inbox_oauth(provider text, state text, code_verifier_encrypted bytea, ttl_seconds integer) returns timestamptz
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.begin_inbox_oauth(text, text, bytea, integer) is 'Records a new OAuth connection of the caller''s tenant (owners and admins): the SHA-256 of its state, the sealed PKCE verifier, and when it expires (returned). Called by the API server on its owner connection, entered as the caller.';

create or replace function app_private.consume_oauth_state(state text)
  returns table (tenant_id uuid, user_id uuid, provider text, code_verifier_encrypted bytea, expired boolean)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.consume_oauth_state(text) is 'Uses up an OAuth state at the callback: its tenant, user, provider and sealed PKCE verifier. Unknown (NTFND) and already used (STATE) states are refused; an expired one is used up and returned with expired = true for the caller to refuse. Run by the API server''s callback in a transaction of its own, so the state is used up even when the rest fails.';

create or replace function app_private.connect_oauth_inbox(
  tenant_id uuid,
  user_id uuid,
  provider text,
  email text,
  smtp_settings jsonb,
  imap_settings jsonb,
  refresh_token_encrypted bytea,
  access_token_encrypted bytea,
  access_expires_at timestamptz
) returns uuid
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
  -- The user who started the connection must still be an owner or admin there
  -- (a removed member's row keeps its roles, marked deleted), of an open organisation.
  select tu.roles into v_roles from app_public.tenant_users tu
    join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
    where tu.tenant_id = connect_oauth_inbox.tenant_id and tu.user_id = connect_oauth_inbox.user_id and tu.deleted_at is null;
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
comment on function app_private.connect_oauth_inbox(uuid, uuid, text, text, jsonb, jsonb, bytea, bytea, timestamptz) is 'Creates or updates the inbox of the address a provider granted OAuth access to (its domain must be one of the tenant''s), with the provider''s SMTP/IMAP settings and defaults, and stores the sealed tokens; active and connected again. The user who started the connection must still be an owner or admin. Audited. Returns the inbox id.';

create or replace function app_private.oauth_tokens(tenant_id uuid, email_account_id uuid)
  returns table (provider text, email text, status text, oauth_status text, refresh_token_encrypted bytea,
                 access_token_encrypted bytea, access_expires_at timestamptz)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.oauth_tokens(uuid, uuid) is 'The OAuth state of an inbox and its sealed tokens, for the worker (owner only).';

create or replace function app_private.store_oauth_access(
  tenant_id uuid, email_account_id uuid, access_token_encrypted bytea, access_expires_at timestamptz, refresh_token_encrypted bytea
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.store_oauth_access(uuid, uuid, bytea, timestamptz, bytea) is 'Stores a renewed access token (and the refresh token when the provider rotated it) of a still connected inbox.';

create or replace function app_private.oauth_reconnect_required(tenant_id uuid, email_account_id uuid, error text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.oauth_reconnect_required(uuid, uuid, text) is 'The provider refused for good to renew an inbox''s access (consent revoked, password changed): the inbox stops sending (status error, oauth_status reconnect_required) with the reason in last_error and pause_reason, until it is connected again; the inbox.error webhook event and an email to the owners and admins tell the tenant. Audited once.';

create or replace function app_private.disconnect_inbox_oauth(email_account_id uuid)
  returns table (provider text, refresh_token_encrypted bytea, access_token_encrypted bytea)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.disconnect_inbox_oauth(uuid) is 'Disconnects an OAuth inbox of the caller''s tenant (owners and admins): it stops sending at once (status disabled), its tokens are deleted and returned sealed, once, to the API server for revocation at the provider. Audited.';

create or replace function app_private.tg__oauth_inbox_reactivation() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.status = 'active' and old.status is distinct from 'active'
     and new.oauth_status in ('reconnect_required', 'disconnected') and old.oauth_status is not distinct from new.oauth_status then
    raise exception 'Inbox % lost its connection to %; connect it again (startInboxOAuth) to send from it.', new.email, initcap(new.provider)
      using errcode = 'STATE';
  end if;
  return new;
end;
$$;
comment on function app_private.tg__oauth_inbox_reactivation() is 'An OAuth inbox whose connection is gone (reconnect_required, disconnected) cannot be set active again by hand: only connecting it again does that.';

create or replace trigger _200_oauth_inbox_reactivation
  before update of status on app_public.email_accounts
  for each row when (new.status = 'active' and old.status is distinct from new.status)
  execute function app_private.tg__oauth_inbox_reactivation();

create or replace function app_private.queue_oauth_renewals(within interval default interval '15 minutes')
  returns table (tenant_id uuid, email_account_id uuid)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_until timestamptz := now() + within;
begin
  -- Access tokens live about an hour. Renewing them ahead keeps sends and
  -- polls from waiting on the provider, and finds withdrawn consent (the inbox
  -- stops with the reason) before a message is due rather than at its send.
  for tenant_id, email_account_id in
    select ea.tenant_id, ea.id
    from app_public.email_accounts ea
    join app_public.tenants t on t.id = ea.tenant_id and t.deleted_at is null -- not a closed organisation
    join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
    where ea.status = 'active' and ea.oauth_status = 'connected'
      and cr.oauth_refresh_token_encrypted is not null
      and (cr.oauth_access_expires_at is null or cr.oauth_access_expires_at < v_until)
    limit 5000
  loop
    -- One pending renewal per inbox; three attempts with graphile-worker's
    -- backoff, and the next sweep queues it again.
    perform app_private.add_job(queue_oauth_renewals.tenant_id, 'oauth_renew_access',
      json_build_object('tenant_id', queue_oauth_renewals.tenant_id, 'email_account_id', queue_oauth_renewals.email_account_id),
      max_attempts => 3, job_key => 'oauth_renew_access:' || queue_oauth_renewals.email_account_id, job_key_mode => 'preserve_run_at');
    return next;
  end loop;
end;
$$;
comment on function app_private.queue_oauth_renewals(interval) is 'Run every five minutes: queues oauth_renew_access for each active inbox connected over OAuth whose access token is missing or expires within `within` (15 minutes), in organisations that are not closed; returns the inboxes queued.';
