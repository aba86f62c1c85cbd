--! Previous: sha1:354527926fcb232652c456ce955df4a8d97a3bed
--! Hash: sha1:bbd949697632e389a874a44fdaad2f95d10bf58f
--! Message: Google and Microsoft inboxes over OAuth: single-use PKCE states, sealed tokens, the inbox's OAuth state

--! split: 1-current.sql
-- Enter migration here

--! split: 3-oauth-inboxes.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- Google and Microsoft inboxes over OAuth 2.0 (issue 18): the state of each
-- connection started, the sealed tokens of connected inboxes, and the
-- connection status on the inbox.
--------------------------------------------------------------------------------

create table if not exists app_private.oauth_states (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  provider text not null constraint oauth_states_provider_check check (provider in ('google', 'microsoft')),
  state_hash bytea not null,
  code_verifier_encrypted bytea not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint oauth_states_state_hash_key unique (tenant_id, state_hash)
);
create index if not exists oauth_states_state_hash_idx on app_private.oauth_states (state_hash);
create index if not exists oauth_states_user_idx on app_private.oauth_states (user_id);
comment on table app_private.oauth_states is 'One OAuth connection started by a tenant admin (startInboxOAuth): SHA-256 of the `state` sent to the provider, bound to the tenant, the user and a short expiry, used once by the callback; the PKCE code verifier sealed with the application key.';
comment on column app_private.oauth_states.used_at is 'When the callback consumed this state; a used state is refused (no replay).';

alter table app_private.email_account_credentials
  add column if not exists oauth_refresh_token_encrypted bytea,
  add column if not exists oauth_access_token_encrypted bytea,
  add column if not exists oauth_access_expires_at timestamptz;
comment on column app_private.email_account_credentials.oauth_refresh_token_encrypted is 'The OAuth refresh token of a Google or Microsoft inbox, sealed with the application key; read only by the worker.';
comment on column app_private.email_account_credentials.oauth_access_token_encrypted is 'The current OAuth access token (XOAUTH2 login), sealed; renewed by the worker before oauth_access_expires_at.';

alter table app_public.email_accounts
  add column if not exists oauth_status text
    constraint email_accounts_oauth_status_check check (oauth_status in ('connected', 'reconnect_required', 'disconnected')),
  add column if not exists oauth_connected_at timestamptz;
comment on column app_public.email_accounts.oauth_status is 'For an inbox connected over OAuth (Google, Microsoft): connected; reconnect_required (the provider refused to renew access, e.g. consent revoked or password changed: sends are stopped, connect it again); disconnected. Null for an inbox with a password.';
comment on column app_public.email_accounts.oauth_connected_at is 'When the inbox was last connected over OAuth.';
