set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- API keys: long-lived credentials of a tenant for integrations, used as
-- `Authorization: Bearer pm_…` on /graphql and POST /imports/leads. The key
-- row is the tenant's (admins list it through the API); the SHA-256 of its
-- secret sits in app_private, out of every API role's reach
-- (functions/052-api-keys.sql, policies/055-api-keys.sql).
--------------------------------------------------------------------------------

create table if not exists app_public.api_keys (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  prefix text not null check (prefix ~ '^pm_[A-Za-z0-9]{8}$'),
  scopes text[] not null check (
    cardinality(scopes) > 0 and scopes <@ array[
      'leads:read', 'leads:write', 'lists:read', 'lists:write', 'templates:read', 'templates:write',
      'campaigns:read', 'campaigns:write', 'analytics:read', 'domains:read', 'domains:write',
      'webhooks:read', 'webhooks:write', 'billing:read'
    ]::text[]
  ),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  last_used_ip text check (length(last_used_ip) <= 100),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  rotated_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint api_keys_prefix_key unique (tenant_id, prefix)
);
comment on table app_public.api_keys is 'An API key of the organisation: a name, the scopes it acts with, an optional expiry and when and from where it was last used. Its secret is shown once, by createApiKey or rotateApiKey, and only its hash is kept. Admins and owners manage keys; a key cannot.';
comment on column app_public.api_keys.prefix is 'The visible start of the key (`pm_` and 8 characters), to recognise it; the rest of the key is never shown again.';
comment on column app_public.api_keys.scopes is 'What the key may do, as `area:read` or `area:write` (write includes read) for the areas leads, lists, templates, campaigns, analytics (read only), domains (domains and inboxes), webhooks and billing (read only).';
comment on column app_public.api_keys.expires_at is 'When the key stops working; null: it does not expire.';
comment on column app_public.api_keys.revoked_at is 'When the key was revoked; it is refused from the next request on.';
comment on column app_public.api_keys.last_used_at is 'When the key was last used, to the minute (recorded at most once a minute, and whenever the client address changes).';
comment on column app_public.api_keys.last_used_ip is 'The client address of the key''s last use.';
comment on column app_public.api_keys.created_by is 'The admin who created the key.';
comment on column app_public.api_keys.rotated_at is 'When the key''s secret was last replaced (rotateApiKey); the previous secret stopped working then.';
create index if not exists api_keys_created_by_idx on app_public.api_keys (created_by);

-- The secrets' hashes, looked up by hash at the start of every API-key
-- request. No tenant in its key (the hash finds the tenant), so on Citus it is
-- a reference table like the sessions; no foreign key to api_keys (a reference
-- table cannot reference a distributed one): the lookup joins the key row.
create table if not exists app_private.api_key_secrets (
  secret_hash bytea primary key check (length(secret_hash) = 32),
  tenant_id uuid not null,
  api_key_id uuid not null,
  created timestamptz not null default now()
);
create index if not exists api_key_secrets_key_idx on app_private.api_key_secrets (tenant_id, api_key_id);
comment on table app_private.api_key_secrets is 'The SHA-256 of each API key''s current secret and the key it belongs to. Replaced on rotation; never reachable by an API role.';

comment on column app_public.plans.api_access is 'Whether the plan''s organisations may use API keys (seeded: Starter, Pro and Enterprise; not Free).';
comment on column app_public.plans.api_rate_limit is 'Requests per minute each API key of the plan''s organisations may make (fixed one-minute windows); null: unlimited.';

-- Each API key's per-minute budget is counted like the auth throttles
-- (app_private.throttle_hit). A wider rule, so no row can break it; the lead
-- validates it in the next committed migration.
alter table app_private.auth_throttle drop constraint if exists auth_throttle_scope_check;
alter table app_private.auth_throttle add constraint auth_throttle_scope_check
  check (scope in ('reset:user', 'reset:client', 'register:email', 'register:client', 'api:key')) not valid;

-- An import uploaded with an API key is processed as that key (its scopes,
-- while it stays live) rather than as a user. No foreign key: keys are never
-- deleted (only revoked), and an index for one on this table would need a
-- migration of its own.
alter table app_public.lead_imports add column if not exists api_key_id uuid;
comment on column app_public.lead_imports.api_key_id is 'The API key that uploaded the file (null when a signed-in user did); the import runs with that key''s access.';
