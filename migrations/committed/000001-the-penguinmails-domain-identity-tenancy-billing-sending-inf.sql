--! Previous: -
--! Hash: sha1:19f4830a979db3fbf20aebbd9fc2305ed068cab9
--! Message: The PenguinMails domain: identity, tenancy, billing, sending infrastructure, audience, content, campaigns, messages, CRM

--! split: 001-schemas.sql
--------------------------------------------------------------------------------
-- Schemas, extensions and the few building blocks that column definitions
-- depend on (domains, uuid v7). Everything else that is behaviour (functions,
-- triggers) lives in functions/, everything that is access (RLS, policies,
-- grants) lives in policies/; both are re-applied after every migration.
--------------------------------------------------------------------------------

create extension if not exists pgcrypto with schema public;
create extension if not exists citext with schema public;

-- Nobody but the owner creates objects anywhere.
revoke all on schema public from public;
grant usage on schema public to penguinmails_anonymous, penguinmails_member, penguinmails_analytics;
alter default privileges revoke all on sequences from public;
alter default privileges revoke all on functions from public;

-- app_public: exposed through GraphQL. app_hidden: callable by the API roles
-- but not exposed. app_private: secrets and internals, never granted to any
-- API role.
create schema app_public;
comment on schema app_public is 'PenguinMails domain, exposed through the GraphQL API.';
create schema app_hidden;
comment on schema app_hidden is 'Helpers the API roles may call (e.g. from their own queries) but that are not part of the GraphQL API.';
create schema app_private;
comment on schema app_private is 'Secrets (password hashes, encrypted credentials, DKIM keys, tokens) and internals; no API role may use it.';

grant usage on schema app_public, app_hidden to penguinmails_anonymous, penguinmails_member, penguinmails_analytics;
revoke all on schema app_private from public;

--------------------------------------------------------------------------------
-- Value domains: one definition of "a valid email" / "a valid host name".
--------------------------------------------------------------------------------

create domain app_public.email_address as citext
  constraint email_address_format check (
    length(value) <= 254
    and value ~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'
  );
comment on domain app_public.email_address is 'A case-insensitive email address (local@domain, at most 254 characters).';

create domain app_public.hostname as citext
  constraint hostname_format check (
    length(value) <= 253
    and value ~ '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
  );
comment on domain app_public.hostname is 'A fully qualified, case-insensitive DNS name such as mail.example.com (no trailing dot).';

--------------------------------------------------------------------------------
-- Time-ordered ids. Messages and events are partitioned by the time encoded in
-- their UUIDv7 id, so the primary key (tenant_id, id) contains the partition
-- key and foreign keys to them stay two columns wide.
--------------------------------------------------------------------------------

create function app_public.uuid_v7(ts timestamptz default clock_timestamp()) returns uuid
  language sql volatile parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
        placing substring(int8send(floor(extract(epoch from ts) * 1000)::bigint) from 3)
        from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid;
$$;
comment on function app_public.uuid_v7(timestamptz) is 'A version 7 UUID whose first 48 bits are the given time in milliseconds (default: now).';

create function app_public.uuid_v7_time(id uuid) returns timestamptz
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select to_timestamp((('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint) / 1000.0);
$$;
comment on function app_public.uuid_v7_time(uuid) is 'The creation time encoded in a version 7 UUID.';

create function app_private.uuid_v7_floor(ts timestamptz) returns uuid
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select (lpad(to_hex(floor(extract(epoch from ts) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid;
$$;
comment on function app_private.uuid_v7_floor(timestamptz) is 'The smallest UUIDv7 at the given time: a partition bound.';

--------------------------------------------------------------------------------
-- Bookkeeping for the declarative folders (functions/, policies/).
--------------------------------------------------------------------------------

create table app_private.declarative_state (
  id integer primary key check (id = 1),
  hash text not null,
  applied_at timestamptz not null
);
comment on table app_private.declarative_state is 'Hash of the functions/ and policies/ files last applied, so an unchanged folder is not re-applied.';

--! split: 002-identity.sql
--------------------------------------------------------------------------------
-- Identity and tenancy: users, tenants, memberships, invitations and the
-- secrets that go with them (seed 000/001 + seed 004's invitations and
-- password reset tokens).
--------------------------------------------------------------------------------

create table app_public.users (
  id uuid primary key default gen_random_uuid(),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  deleted timestamptz,
  name text check (length(name) <= 200),
  family_name text check (length(family_name) <= 100),
  given_name text check (length(given_name) <= 100),
  email app_public.email_address not null,
  picture text check (picture ~ '^https?://'),
  email_verified timestamptz
);
comment on table app_public.users is 'A person who can sign in. Global: one user may belong to several tenants.';
comment on column app_public.users.deleted is 'Set when the account is closed; a deleted user can no longer sign in.';
comment on column app_public.users.email_verified is 'When the user proved they own the address.';
-- One live account per address; a closed account frees the address.
create unique index users_email_key on app_public.users (email) where deleted is null;

create table app_public.tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  deleted timestamptz,
  compute_id uuid not null default gen_random_uuid()
);
comment on table app_public.tenants is 'An organisation: the unit of isolation, billing and limits.';
comment on column app_public.tenants.compute_id is 'Which compute/shard the tenant lives on (seed 000); today every tenant shares one database.';

create table app_public.tenant_users (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  user_id uuid not null references app_public.users (id) on delete cascade,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  deleted timestamptz,
  roles text[] not null default '{member}',
  email app_public.email_address not null,
  primary key (tenant_id, user_id),
  constraint tenant_users_roles_check check (
    cardinality(roles) >= 1 and roles <@ array['owner', 'admin', 'member', 'viewer']::text[]
  )
);
comment on table app_public.tenant_users is 'Membership of a user in a tenant with their roles (owner, admin, member, viewer). A removed member keeps the row with `deleted` set and loses access at once.';
comment on column app_public.tenant_users.roles is 'Tenant roles: owner > admin > member > viewer. Seed 004''s CRM roles map as admin→admin, manager→admin, sales_rep→member, viewer→viewer.';
create index tenant_users_user_id_idx on app_public.tenant_users (user_id);

create function app_public.current_user_id() returns uuid
  language sql stable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select nullif(current_setting('app.current_user_id', true), '')::uuid;
$$;
comment on function app_public.current_user_id() is 'The signed-in user, from the verified token (null when anonymous).';

--------------------------------------------------------------------------------
-- Platform staff (seed 000): roles, permissions and who is staff. Staff reach
-- into a tenant only through an explicit, audited access session.
--------------------------------------------------------------------------------

create table app_public.permissions (
  id integer primary key,
  name text not null unique check (name ~ '^[a-z_]+\.[a-z_]+$'),
  description text,
  category text not null default 'general' check (length(category) <= 50),
  created timestamptz not null default now()
);
comment on table app_public.permissions is 'A platform permission such as tenants.read or infrastructure.manage.';

create table app_public.staff_roles (
  id integer primary key,
  name text not null unique check (length(name) between 1 and 50),
  description text,
  created timestamptz not null default now()
);
comment on table app_public.staff_roles is 'A named bundle of platform permissions (support, operator, billing, superadmin).';

create table app_public.staff_role_permissions (
  role_id integer not null references app_public.staff_roles (id) on delete cascade,
  permission_id integer not null references app_public.permissions (id) on delete cascade,
  created timestamptz not null default now(),
  primary key (role_id, permission_id)
);
comment on table app_public.staff_role_permissions is 'Which permissions each staff role grants.';
create index staff_role_permissions_permission_idx on app_public.staff_role_permissions (permission_id);

create table app_public.staff_members (
  user_id uuid primary key references app_public.users (id) on delete cascade,
  role_id integer not null references app_public.staff_roles (id),
  notes text,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_public.staff_members is 'Users who are platform staff, with their staff role.';
create index staff_members_role_idx on app_public.staff_members (role_id);

create function app_public.current_staff_has_permission(permission text) returns boolean
  language sql stable parallel safe security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select exists (
    select 1
    from app_public.staff_members sm
    join app_public.users u on u.id = sm.user_id and u.deleted is null
    join app_public.staff_role_permissions srp on srp.role_id = sm.role_id
    join app_public.permissions p on p.id = srp.permission_id
    where sm.user_id = app_public.current_user_id()
      and p.name = permission
  );
$$;
comment on function app_public.current_staff_has_permission(text) is 'True when the signed-in user is staff and their staff role grants the named permission.';

--------------------------------------------------------------------------------
-- The request context. PostGraphile sets app.current_user_id and
-- app.current_tenant_id from the verified JWT; these helpers only return a
-- tenant while the user is an active member of it (or a staff member holding
-- an open, permitted access session), so revoking a membership takes effect on
-- the very next statement. They are defined here, not in functions/, because
-- column defaults depend on them.
--------------------------------------------------------------------------------


create table app_private.staff_access_sessions (
  id uuid primary key default gen_random_uuid(),
  staff_user_id uuid not null references app_public.users (id) on delete cascade,
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  access_mode text not null check (access_mode in ('read', 'write')),
  reason text not null check (length(reason) between 5 and 500),
  created timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  check (expires_at > created)
);
comment on table app_private.staff_access_sessions is 'A staff member''s explicit, time-boxed and audited access to one tenant.';
create index staff_access_sessions_staff_idx on app_private.staff_access_sessions (staff_user_id, tenant_id, expires_at);
create index staff_access_sessions_tenant_idx on app_private.staff_access_sessions (tenant_id);

create function app_public.current_tenant_roles() returns text[]
  language sql stable parallel safe security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(
    (
      select tu.roles
      from app_public.tenant_users tu
      join app_public.tenants t on t.id = tu.tenant_id and t.deleted is null
      join app_public.users u on u.id = tu.user_id and u.deleted is null
      where tu.tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid
        and tu.user_id = app_public.current_user_id()
        and tu.deleted is null
    ),
    (
      select case when bool_or(s.access_mode = 'write') then array['admin'] else array['viewer'] end
      from app_private.staff_access_sessions s
      join app_public.tenants t on t.id = s.tenant_id and t.deleted is null
      where app_public.current_staff_has_permission(case s.access_mode when 'write' then 'tenants.write' else 'tenants.read' end)
        and s.tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid
        and s.staff_user_id = app_public.current_user_id()
        and s.revoked_at is null
        and s.expires_at > now()
      having count(*) > 0
    ),
    '{}'::text[]
  );
$$;
comment on function app_public.current_tenant_roles() is 'The signed-in user''s roles in the tenant named by the token: their membership roles, or viewer/admin for a staff access session; empty when neither is live.';

create function app_public.current_tenant_id() returns uuid
  language sql stable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when cardinality(app_public.current_tenant_roles()) > 0
    then nullif(current_setting('app.current_tenant_id', true), '')::uuid
  end;
$$;
comment on function app_public.current_tenant_id() is 'The tenant of this request, only while the user is an active member of it (or holds a live staff access session); null otherwise. Every tenant policy compares against it.';

create function app_public.has_tenant_role(minimum text) returns boolean
  language sql stable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select app_public.current_tenant_roles() && case minimum
    when 'viewer' then array['owner', 'admin', 'member', 'viewer']
    when 'member' then array['owner', 'admin', 'member']
    when 'admin' then array['owner', 'admin']
    when 'owner' then array['owner']
  end;
$$;
comment on function app_public.has_tenant_role(text) is 'True when the current user holds at least the given tenant role (owner > admin > member > viewer).';

-- (tenant_users existed before the helper that reads it.)
alter table app_public.tenant_users alter column tenant_id set default app_public.current_tenant_id();

--------------------------------------------------------------------------------
-- Per-user and per-tenant settings (seed 001).
--------------------------------------------------------------------------------

create table app_public.user_preferences (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null unique default app_public.current_user_id() references app_public.users (id) on delete cascade,
  theme text not null default 'light' check (theme in ('light', 'dark', 'system')),
  language text not null default 'en' check (language ~ '^[a-z]{2}(-[A-Z]{2})?$'),
  timezone text not null default 'UTC' check (length(timezone) <= 100),
  email_notifications boolean not null default true,
  push_notifications boolean not null default true,
  weekly_reports boolean not null default false,
  marketing_emails boolean not null default false,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_public.user_preferences is 'A user''s personal preferences, visible to that user only.';

create table app_public.tenant_config (
  tenant_id uuid primary key default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  stripe_customer_id text check (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
  billing_email app_public.email_address,
  billing_address jsonb check (billing_address is null or jsonb_typeof(billing_address) = 'object'),
  notify_on_billing_changes boolean not null default false,
  notify_on_system_updates boolean not null default false,
  notify_on_security_alerts boolean not null default false,
  theme_primary_color text check (theme_primary_color ~ '^#[0-9A-Fa-f]{6}$'),
  theme_logo_url text check (theme_logo_url ~ '^https?://' and length(theme_logo_url) <= 500),
  theme_favicon_url text check (theme_favicon_url ~ '^https?://' and length(theme_favicon_url) <= 500),
  ui_sidebar_default_collapsed boolean not null default false,
  ui_date_format text check (length(ui_date_format) <= 20),
  ui_timezone text check (length(ui_timezone) <= 50),
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_public.tenant_config is 'Tenant-wide configuration: billing contact, notifications and branding.';

create table app_public.tenant_policies (
  tenant_id uuid primary key default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  password_min_length integer not null default 8 check (password_min_length between 8 and 128),
  password_require_uppercase boolean not null default false,
  password_require_numbers boolean not null default false,
  password_require_symbols boolean not null default false,
  session_timeout_hours integer not null default 8 check (session_timeout_hours between 1 and 720),
  max_login_attempts integer not null default 5 check (max_login_attempts between 1 and 100),
  lockout_minutes integer not null default 15 check (lockout_minutes between 1 and 1440),
  two_factor_required boolean not null default false,
  company_default_status text not null default 'active' check (company_default_status in ('active', 'inactive')),
  company_allow_member_invites boolean not null default true,
  company_auto_approve_members boolean not null default false,
  company_require_email_verification boolean not null default true,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_public.tenant_policies is 'Tenant security policies: password rules, session lifetime and login lockout, enforced by the auth functions.';
comment on column app_public.tenant_policies.lockout_minutes is 'How long an account stays locked after max_login_attempts failures (not in the seed; needed to make lockout expire).';

--------------------------------------------------------------------------------
-- Invitations (seed 004). The token itself is a secret: only its hash is
-- stored, in app_private.
--------------------------------------------------------------------------------

create table app_public.invitations (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email app_public.email_address not null,
  roles text[] not null default '{member}',
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  revoked_at timestamptz,
  invited_by uuid references app_public.users (id) on delete set null,
  metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint invitations_roles_check check (
    cardinality(roles) >= 1 and roles <@ array['admin', 'member', 'viewer']::text[]
  ),
  check (expires_at > created),
  check (accepted_at is null or revoked_at is null)
);
comment on table app_public.invitations is 'An invitation to join a tenant. At most one open invitation per tenant and email.';
-- Seed 004 puts `expires_at > CURRENT_TIMESTAMP` in this index predicate, which
-- PostgreSQL rejects (predicates must be immutable). Instead, inviting again
-- revokes the previous open invitation, and expiry is checked on acceptance.
create unique index invitations_one_open_per_email on app_public.invitations (tenant_id, email)
  where accepted_at is null and revoked_at is null;
create index invitations_invited_by_idx on app_public.invitations (invited_by);
create index invitations_expires_idx on app_public.invitations (expires_at) where accepted_at is null and revoked_at is null;

create table app_private.invitation_tokens (
  tenant_id uuid not null,
  invitation_id uuid not null,
  token_hash bytea not null unique,
  primary key (tenant_id, invitation_id),
  foreign key (tenant_id, invitation_id) references app_public.invitations (tenant_id, id) on delete cascade
);
comment on table app_private.invitation_tokens is 'SHA-256 of each invitation token; the token itself is only ever sent by email.';

--------------------------------------------------------------------------------
-- Secrets of users: password hash, lockout state, reset tokens.
--------------------------------------------------------------------------------

create table app_private.user_secrets (
  user_id uuid primary key references app_public.users (id) on delete cascade,
  password_hash text,
  password_changed_at timestamptz,
  failed_login_attempts integer not null default 0 check (failed_login_attempts >= 0),
  first_failed_login_at timestamptz,
  locked_until timestamptz,
  last_login_at timestamptz
);
comment on table app_private.user_secrets is 'Password hash (bcrypt via pgcrypto) and login lockout state; never exposed.';

create table app_private.password_reset_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  token_hash bytea not null unique,
  expires_at timestamptz not null,
  used_at timestamptz,
  created timestamptz not null default now()
);
comment on table app_private.password_reset_tokens is 'Seed 004''s password reset tokens, stored as SHA-256 hashes.';
create index password_reset_tokens_user_idx on app_private.password_reset_tokens (user_id);
create index password_reset_tokens_expires_idx on app_private.password_reset_tokens (expires_at);

--! split: 003-workspaces-settings.sql
--------------------------------------------------------------------------------
-- Workspaces, platform settings, feature flags and the audit trail.
--------------------------------------------------------------------------------

create table app_public.companies (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  workspace_name text check (workspace_name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  logo_url text check (logo_url ~ '^https?://'),
  status text not null default 'active',
  industry text check (length(industry) <= 100),
  company_size text check (company_size in ('small', 'medium', 'large', 'enterprise')),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint companies_status_check check (status in ('active', 'inactive', 'archived'))
);
comment on table app_public.companies is 'A workspace inside a tenant (seed 001 "companies"): groups domains and campaigns for one brand or client.';
-- Seed 001 makes workspace_name globally unique; tenant-owned keys include
-- tenant_id (isolation and sharding), so it is unique within the tenant.
create unique index companies_workspace_name_key on app_public.companies (tenant_id, workspace_name);

create table app_public.feature_flags (
  id uuid primary key default gen_random_uuid(),
  key text not null unique check (key ~ '^[a-z][a-z0-9_.-]{1,99}$'),
  description text,
  is_enabled boolean not null default false,
  rollout_percentage integer not null default 0 check (rollout_percentage between 0 and 100),
  updated_by uuid references app_public.users (id) on delete set null,
  updated timestamptz not null default now()
);
comment on table app_public.feature_flags is 'A platform feature flag, rolled out to a deterministic percentage of tenants.';
create index feature_flags_updated_by_idx on app_public.feature_flags (updated_by);

create table app_public.system_config (
  key text primary key check (key ~ '^[a-z][a-z0-9_.-]{1,254}$'),
  value jsonb,
  description text check (length(description) <= 500),
  category text check (length(category) <= 50),
  is_sensitive boolean not null default false,
  updated_by uuid references app_public.users (id) on delete set null,
  updated timestamptz not null default now(),
  -- A sensitive value never sits in this readable table: it lives in
  -- app_private.system_secrets and this row only documents that it exists.
  constraint system_config_sensitive_value_hidden check (not is_sensitive or value is null)
);
comment on table app_public.system_config is 'Platform-wide configuration for staff. Sensitive values are kept in app_private and never exposed.';
create index system_config_updated_by_idx on app_public.system_config (updated_by);

create table app_private.system_secrets (
  key text primary key references app_public.system_config (key) on delete cascade,
  value jsonb not null,
  updated timestamptz not null default now()
);
comment on table app_private.system_secrets is 'Values of sensitive system_config keys (e.g. the platform Stripe account).';

--------------------------------------------------------------------------------
-- Audit trail. Tenant-scoped entries are visible to the tenant's owners and
-- admins (including every staff access to their data); platform entries are
-- for staff with audit.read.
--------------------------------------------------------------------------------

create table app_public.audit_log (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id bigint generated always as identity,
  occurred_at timestamptz not null default now(),
  actor_user_id uuid references app_public.users (id) on delete set null,
  actor_is_staff boolean not null default false,
  action text not null check (length(action) between 1 and 100),
  table_name text,
  record_id text,
  changes jsonb,
  reason text,
  primary key (tenant_id, id)
);
comment on table app_public.audit_log is 'Who did what in a tenant: membership and role changes, security-relevant settings, deletions and every staff access.';
create index audit_log_tenant_occurred_idx on app_public.audit_log (tenant_id, occurred_at desc);
create index audit_log_actor_idx on app_public.audit_log (actor_user_id);

create table app_public.platform_audit_log (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  actor_user_id uuid references app_public.users (id) on delete set null,
  action text not null check (length(action) between 1 and 100),
  target_tenant_id uuid references app_public.tenants (id) on delete set null,
  table_name text,
  record_id text,
  changes jsonb,
  reason text
);
comment on table app_public.platform_audit_log is 'Staff actions across the platform: plan, flag, infrastructure and permission changes, and tenant access sessions.';
create index platform_audit_log_occurred_idx on app_public.platform_audit_log (occurred_at desc);
create index platform_audit_log_actor_idx on app_public.platform_audit_log (actor_user_id);
create index platform_audit_log_target_tenant_idx on app_public.platform_audit_log (target_tenant_id);

--! split: 004-billing.sql
--------------------------------------------------------------------------------
-- Plans, subscriptions, add-ons, payments and usage per billing period.
--------------------------------------------------------------------------------

create table app_public.plans (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,99}$'),
  description text,
  max_users integer check (max_users >= 0),
  max_domains integer check (max_domains >= 0),
  max_campaigns_per_month integer check (max_campaigns_per_month >= 0),
  api_rate_limit integer check (api_rate_limit >= 0),
  max_email_accounts integer check (max_email_accounts >= 0),
  max_emails_per_month integer check (max_emails_per_month >= 0),
  max_warmups integer check (max_warmups >= 0),
  max_contacts integer check (max_contacts >= 0),
  max_storage_gb integer check (max_storage_gb >= 0),
  api_access boolean not null default false,
  priority_support boolean not null default false,
  advanced_analytics boolean not null default false,
  white_label boolean not null default false,
  price_monthly integer check (price_monthly >= 0),
  price_yearly integer check (price_yearly >= 0),
  stripe_price_id text,
  notes text,
  is_active boolean not null default true,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_public.plans is 'A subscription plan and its limits. A null limit means unlimited; prices are in cents.';

create table app_public.subscriptions (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  plan_id uuid not null references app_public.plans (id),
  pending_plan_id uuid references app_public.plans (id),
  status text not null default 'active',
  current_period_start timestamptz not null default date_trunc('day', now()),
  current_period_end timestamptz not null default date_trunc('day', now()) + interval '1 month',
  cancel_at_period_end boolean not null default false,
  canceled_at timestamptz,
  past_due_since timestamptz,
  billing_contact_user_id uuid references app_public.users (id) on delete set null,
  stripe_subscription_id text check (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
  stripe_updated_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint subscriptions_status_check check (status in ('active', 'past_due', 'canceled', 'unpaid')),
  check (current_period_end > current_period_start)
);
comment on table app_public.subscriptions is 'A tenant''s subscription to a plan; pending_plan_id takes effect at the end of the current period.';
comment on column app_public.subscriptions.stripe_updated_at is 'Creation time of the last Stripe event applied, so an older event delivered late cannot undo a newer one.';
create unique index subscriptions_one_current_per_tenant on app_public.subscriptions (tenant_id) where status <> 'canceled';
create unique index subscriptions_stripe_id_key on app_public.subscriptions (tenant_id, stripe_subscription_id);
create index subscriptions_stripe_lookup_idx on app_public.subscriptions (stripe_subscription_id);
create index subscriptions_plan_idx on app_public.subscriptions (plan_id);
create index subscriptions_pending_plan_idx on app_public.subscriptions (pending_plan_id);
create index subscriptions_billing_contact_idx on app_public.subscriptions (billing_contact_user_id);
create index subscriptions_period_end_idx on app_public.subscriptions (current_period_end) where status <> 'canceled';

create table app_public.subscription_addons (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  subscription_id uuid not null,
  addon_type text not null,
  quantity integer not null default 1 check (quantity > 0),
  price_monthly numeric(10, 2) check (price_monthly >= 0),
  stripe_price_id text,
  stripe_subscription_item_id text,
  is_active boolean not null default true,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, subscription_id) references app_public.subscriptions (tenant_id, id) on delete cascade,
  -- Each add-on raises one plan limit by `quantity`.
  constraint subscription_addons_type_check check (addon_type in (
    'max_users', 'max_domains', 'max_campaigns_per_month', 'max_email_accounts',
    'max_emails_per_month', 'max_warmups', 'max_contacts', 'max_storage_gb'
  ))
);
comment on table app_public.subscription_addons is 'An add-on bought on top of a plan: raises the limit named by addon_type by quantity.';
create index subscription_addons_subscription_idx on app_public.subscription_addons (tenant_id, subscription_id);

create table app_public.payments (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  subscription_id uuid not null,
  initiated_by_user_id uuid references app_public.users (id) on delete set null,
  amount numeric(10, 2) not null check (amount >= 0),
  currency text not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  status text not null,
  processed timestamptz,
  description text,
  stripe_invoice_id text,
  stripe_payment_intent_id text,
  billing_period_start timestamptz,
  billing_period_end timestamptz,
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, subscription_id) references app_public.subscriptions (tenant_id, id) on delete cascade,
  constraint payments_status_check check (status in ('pending', 'succeeded', 'failed', 'refunded')),
  check (billing_period_end is null or billing_period_end > billing_period_start)
);
comment on table app_public.payments is 'A payment (or failed attempt) against a subscription, usually recorded from a Stripe invoice.';
create unique index payments_stripe_invoice_key on app_public.payments (tenant_id, stripe_invoice_id);
create index payments_subscription_idx on app_public.payments (tenant_id, subscription_id);
create index payments_initiated_by_idx on app_public.payments (initiated_by_user_id);

create table app_public.usage_periods (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  subscription_id uuid,
  plan_id uuid references app_public.plans (id),
  period_start timestamptz not null,
  period_end timestamptz not null,
  closed_at timestamptz,
  -- Final figures, written when the period closes (open periods: see the
  -- usage computed column, which reads the live counters).
  emails_sent bigint check (emails_sent >= 0),
  campaigns_started integer check (campaigns_started >= 0),
  warmups integer check (warmups >= 0),
  contacts integer check (contacts >= 0),
  domains integer check (domains >= 0),
  email_accounts integer check (email_accounts >= 0),
  users integer check (users >= 0),
  primary key (tenant_id, id),
  foreign key (tenant_id, subscription_id) references app_public.subscriptions (tenant_id, id) on delete set null (subscription_id),
  check (period_end > period_start)
);
comment on table app_public.usage_periods is 'One row per tenant and billing period; closed periods keep the final usage figures.';
create unique index usage_periods_start_key on app_public.usage_periods (tenant_id, period_start);
create unique index usage_periods_one_open on app_public.usage_periods (tenant_id) where closed_at is null;
create index usage_periods_subscription_idx on app_public.usage_periods (tenant_id, subscription_id);
create index usage_periods_plan_idx on app_public.usage_periods (plan_id);

-- Metered counters. Each metric is split over shards so that concurrent
-- senders update different rows; the total is the sum of the shards.
create table app_private.usage_counters (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  period_start timestamptz not null,
  metric text not null check (metric in ('emails_sent', 'campaigns_started', 'warmups')),
  shard smallint not null check (shard between 0 and 63),
  value bigint not null default 0 check (value >= 0),
  primary key (tenant_id, period_start, metric, shard)
);
comment on table app_private.usage_counters is 'Sharded event counters per tenant and billing period (sum over shards = usage).';

-- Gauges: how many of each limited resource a tenant has right now, kept by
-- statement-level triggers; the row lock is what makes limit checks exact.
create table app_private.resource_counts (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  resource text not null check (resource in ('contacts', 'domains', 'email_accounts', 'users')),
  value integer not null default 0 check (value >= 0),
  primary key (tenant_id, resource)
);
comment on table app_private.resource_counts is 'Current number of leads, domains, email accounts and members per tenant, for plan limits.';

create table app_private.stripe_events (
  id text primary key check (id ~ '^evt_[A-Za-z0-9]+$'),
  type text not null,
  created_at timestamptz not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  tenant_id uuid references app_public.tenants (id) on delete set null,
  payload jsonb not null,
  error text
);
comment on table app_private.stripe_events is 'Every Stripe webhook event, stored once by id: a replay is a no-op.';
create index stripe_events_tenant_idx on app_private.stripe_events (tenant_id);

--! split: 005-sending-infrastructure.sql
--------------------------------------------------------------------------------
-- Sending infrastructure: the platform's servers and IPs (staff), the tenant's
-- domains and inboxes, and their secrets.
--------------------------------------------------------------------------------

create table app_public.vps_instances (
  id uuid primary key default gen_random_uuid(),
  hostwinds_instance_id text unique,
  ip_address inet,
  region text check (length(region) <= 50),
  status text not null default 'provisioning',
  monthly_cost numeric(10, 2) check (monthly_cost >= 0),
  approximate_cost numeric(8, 2) check (approximate_cost >= 0),
  hostwinds_billing_day integer check (hostwinds_billing_day between 1 and 31),
  current_billing_period_start timestamptz,
  current_billing_period_end timestamptz,
  decommission_scheduled_for timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  constraint vps_instances_status_check check (status in ('active', 'provisioning', 'scheduled_decommission', 'decommissioned'))
);
comment on table app_public.vps_instances is 'A sending server run by the platform (staff only).';
comment on column app_public.vps_instances.approximate_cost is 'Cost attributed to tenants for profitability analysis (seed 001).';

create table app_public.smtp_ip_addresses (
  id uuid primary key default gen_random_uuid(),
  vps_instance_id uuid references app_public.vps_instances (id) on delete cascade,
  ip_address inet not null unique,
  status text not null default 'available',
  reputation_state text not null default 'good',
  approximate_cost numeric(6, 2) check (approximate_cost >= 0),
  last_reputation_check timestamptz,
  assigned_count integer not null default 0 check (assigned_count >= 0),
  provider_blacklist_status jsonb not null default '{}' check (jsonb_typeof(provider_blacklist_status) = 'object'),
  warmup_started_at timestamptz,
  daily_limit integer check (daily_limit >= 0),
  daily_count integer not null default 0 check (daily_count >= 0),
  daily_count_date date,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  constraint smtp_ip_addresses_status_check check (status in ('available', 'assigned', 'warming', 'warmed', 'degraded', 'burned', 'quarantined')),
  constraint smtp_ip_addresses_reputation_state_check check (reputation_state in ('good', 'fair', 'poor', 'critical'))
);
comment on table app_public.smtp_ip_addresses is 'A sending IP and its lifecycle: available → assigned/warming → warmed, or degraded/burned/quarantined.';
comment on column app_public.smtp_ip_addresses.provider_blacklist_status is 'Result of the last DNSBL check per zone, e.g. {"zen.spamhaus.org": {"listed": false, "checked_at": …}}.';
create index smtp_ip_addresses_vps_idx on app_public.smtp_ip_addresses (vps_instance_id);
create index smtp_ip_addresses_status_idx on app_public.smtp_ip_addresses (status);

create table app_public.domains (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  company_id uuid,
  domain app_public.hostname not null,
  verification_status text not null default 'pending',
  dns_records jsonb not null default '{"records": []}',
  is_primary boolean not null default false,
  verified timestamptz,
  dkim_selector text not null default 'pm' check (dkim_selector ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  mailu_domain text,
  dns_ttl_observed integer check (dns_ttl_observed >= 0),
  dns_last_verified_at timestamptz,
  dns_verification_error text,
  dns_verification_attempts integer not null default 0 check (dns_verification_attempts >= 0),
  dns_next_check_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, company_id) references app_public.companies (tenant_id, id) on delete cascade,
  constraint domains_verification_status_check check (verification_status in ('pending', 'verifying', 'verified', 'failed', 'error')),
  constraint domains_dns_records_shape check (
    jsonb_typeof(dns_records) = 'object' and jsonb_typeof(dns_records -> 'records') = 'array'
  )
);
comment on table app_public.domains is 'A sending domain with the DNS records it must publish (seed 001 dns_records document) and their verification state.';
comment on column app_public.domains.dns_records is '{"records": [{record_type, name, value, ttl, verification_status, last_verified_at, verification_attempts, verification_error, source, …}]} as in seed 001.';
comment on column app_public.domains.verified is 'When all required records last verified; null while not verified.';
create unique index domains_domain_key on app_public.domains (tenant_id, domain);
create unique index domains_one_primary on app_public.domains (tenant_id, company_id) where is_primary;
create index domains_company_idx on app_public.domains (tenant_id, company_id);
create index domains_next_check_idx on app_public.domains (dns_next_check_at);

create table app_private.domain_dkim_keys (
  tenant_id uuid not null,
  domain_id uuid not null,
  selector text not null,
  private_key_encrypted bytea not null,
  public_key text not null,
  created timestamptz not null default now(),
  primary key (tenant_id, domain_id, selector),
  foreign key (tenant_id, domain_id) references app_public.domains (tenant_id, id) on delete cascade
);
comment on table app_private.domain_dkim_keys is 'DKIM key pairs; the private key is encrypted by the application key (AES-256-GCM) and only the worker decrypts it.';

create table app_public.domain_ip_assignments (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  domain_id uuid not null,
  smtp_ip_address_id uuid not null references app_public.smtp_ip_addresses (id) on delete cascade,
  status text not null default 'scheduled',
  assigned timestamptz not null default now(),
  expires timestamptz,
  warmup_state text not null default 'unwarmed',
  last_sent timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, domain_id) references app_public.domains (tenant_id, id) on delete cascade,
  constraint domain_ip_assignments_status_check check (status in ('active', 'warming', 'scheduled', 'expired')),
  constraint domain_ip_assignments_warmup_state_check check (warmup_state in ('unwarmed', 'warming', 'warmed'))
);
comment on table app_public.domain_ip_assignments is 'Which platform IPs send for which tenant domain (managed by staff, readable by the tenant).';
create unique index domain_ip_assignments_live_key on app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id) where status <> 'expired';
create index domain_ip_assignments_domain_idx on app_public.domain_ip_assignments (tenant_id, domain_id);
create index domain_ip_assignments_ip_idx on app_public.domain_ip_assignments (smtp_ip_address_id);

create table app_public.email_accounts (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  domain_id uuid not null,
  email app_public.email_address not null,
  from_name text check (length(from_name) <= 100),
  provider text not null default 'mailu' check (provider in ('mailu', 'smtp', 'google', 'microsoft')),
  vault_key_path text check (length(vault_key_path) <= 500),
  imap_settings jsonb not null default '{}',
  smtp_settings jsonb not null default '{}',
  status text not null default 'active',
  timezone text not null default 'UTC' check (length(timezone) <= 64),
  daily_limit integer not null default 50 check (daily_limit between 0 and 10000),
  daily_count integer not null default 0 check (daily_count >= 0),
  daily_count_date date,
  warmup_enabled boolean not null default true,
  warmup_started_at timestamptz,
  last_warmed timestamptz,
  last_sent_at timestamptz,
  last_error text,
  imap_last_uid bigint check (imap_last_uid >= 0),
  imap_uid_validity bigint,
  last_polled_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, domain_id) references app_public.domains (tenant_id, id) on delete cascade,
  constraint email_accounts_status_check check (status in ('active', 'paused', 'disabled', 'error')),
  -- Connection settings only; passwords are never stored in these documents.
  constraint email_accounts_smtp_settings_shape check (
    jsonb_typeof(smtp_settings) = 'object' and not smtp_settings ?| array['password', 'pass', 'secret']
  ),
  constraint email_accounts_imap_settings_shape check (
    jsonb_typeof(imap_settings) = 'object' and not imap_settings ?| array['password', 'pass', 'secret']
  )
);
comment on table app_public.email_accounts is 'A sending inbox: SMTP/IMAP connection settings (credentials are stored encrypted elsewhere), daily cap and warm-up state.';
comment on column app_public.email_accounts.smtp_settings is '{"host", "port", "secure" (implicit TLS), "require_tls", "username"}; the password is set with setEmailAccountCredentials.';
comment on column app_public.email_accounts.daily_count is 'Messages sent on daily_count_date (the account''s local day); resets at local midnight.';
create unique index email_accounts_email_key on app_public.email_accounts (tenant_id, email);
create index email_accounts_domain_idx on app_public.email_accounts (tenant_id, domain_id);

create table app_private.email_account_credentials (
  tenant_id uuid not null,
  email_account_id uuid not null,
  smtp_password_encrypted bytea,
  imap_password_encrypted bytea,
  updated timestamptz not null default now(),
  primary key (tenant_id, email_account_id),
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete cascade
);
comment on table app_private.email_account_credentials is 'SMTP/IMAP passwords encrypted with the application key (AES-256-GCM); decrypted only inside the worker.';

--! split: 006-audience-content.sql
--------------------------------------------------------------------------------
-- Audience (leads, custom fields, static and dynamic lists, suppressions,
-- imports) and content (templates, folders, tags).
--------------------------------------------------------------------------------

create table app_public.leads (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email app_public.email_address not null,
  name text check (length(name) <= 200),
  first_name text check (length(first_name) <= 100),
  last_name text check (length(last_name) <= 100),
  company text check (length(company) <= 200),
  title text check (length(title) <= 200),
  phone text check (length(phone) <= 50),
  website text check (length(website) <= 500),
  timezone text check (length(timezone) <= 64),
  status text not null default 'active',
  source text check (length(source) <= 50),
  custom_fields jsonb not null default '{}',
  unsubscribed_at timestamptz,
  bounced_at timestamptz,
  replied_at timestamptz,
  last_contacted_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  updated_by uuid references app_public.users (id) on delete set null,
  search tsvector generated always as (
    setweight(to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')), 'A')
    || setweight(to_tsvector('simple', coalesce(email::text, '') || ' ' || coalesce(company, '')), 'B')
    || setweight(to_tsvector('simple', coalesce(title, '')), 'C')
  ) stored,
  primary key (tenant_id, id),
  constraint leads_status_check check (status in (
    'active', 'replied', 'interested', 'not_interested',
    'unsubscribed', 'bounced', 'complained', 'do_not_contact'
  )),
  constraint leads_custom_fields_object check (jsonb_typeof(custom_fields) = 'object')
);
comment on table app_public.leads is 'A contact that campaigns can reach; unique per tenant and (case-insensitive) email.';
comment on column app_public.leads.status is 'active, replied, interested, not_interested; unsubscribed, bounced, complained and do_not_contact are never enrolled or sent to.';
comment on column app_public.leads.custom_fields is 'Tenant-defined fields (see custom_field_definitions), usable in templates as {{ lead.custom.<key> }}.';
comment on column app_public.leads.search is 'Full-text document over names, email, company and title.';
create unique index leads_email_key on app_public.leads (tenant_id, email);
create index leads_status_idx on app_public.leads (tenant_id, status);
create index leads_created_idx on app_public.leads (tenant_id, created);
create index leads_custom_fields_idx on app_public.leads using gin (custom_fields jsonb_path_ops);
create index leads_search_idx on app_public.leads using gin (search);
create index leads_created_by_idx on app_public.leads (created_by);
create index leads_updated_by_idx on app_public.leads (updated_by);

create table app_public.custom_field_definitions (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  key text not null check (key ~ '^[a-z][a-z0-9_]{0,62}$'),
  label text not null check (length(label) between 1 and 100),
  field_type text not null default 'text' check (field_type in ('text', 'number', 'boolean', 'date', 'select')),
  options text[] check (options is null or cardinality(options) between 1 and 200),
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  check ((field_type = 'select') = (options is not null))
);
comment on table app_public.custom_field_definitions is 'The custom fields a tenant keeps on leads (Reachly), with their type.';
create unique index custom_field_definitions_key on app_public.custom_field_definitions (tenant_id, key);

create table app_public.contact_lists (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 255),
  description text,
  is_dynamic boolean not null default false,
  filter_criteria jsonb,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint contact_lists_dynamic_has_filter check (is_dynamic = (filter_criteria is not null))
);
comment on table app_public.contact_lists is 'A list of leads: static (explicit members) or dynamic (filter_criteria evaluated in SQL when used).';
comment on column app_public.contact_lists.filter_criteria is 'For dynamic lists: {"all"|"any": [{"field": "status"|"company"|…|"custom.<key>", "op": "eq"|"neq"|"in"|"contains"|"starts_with"|"gt"|"lt"|"exists", "value": …}, nested groups…]}.';
create unique index contact_lists_name_key on app_public.contact_lists (tenant_id, name);

create table app_public.contact_list_members (
  tenant_id uuid not null default app_public.current_tenant_id(),
  list_id uuid not null,
  lead_id uuid not null,
  created timestamptz not null default now(),
  primary key (tenant_id, list_id, lead_id),
  foreign key (tenant_id, list_id) references app_public.contact_lists (tenant_id, id) on delete cascade,
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade
);
comment on table app_public.contact_list_members is 'Membership of a lead in a static contact list.';
create index contact_list_members_lead_idx on app_public.contact_list_members (tenant_id, lead_id);

create table app_public.suppressions (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email app_public.email_address,
  domain app_public.hostname,
  reason text not null default 'manual' check (reason in ('unsubscribed', 'bounced', 'complained', 'manual')),
  note text,
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  check (num_nonnulls(email, domain) = 1)
);
comment on table app_public.suppressions is 'Addresses or whole domains the tenant must never email, whether or not they are leads.';
create unique index suppressions_email_key on app_public.suppressions (tenant_id, email);
create unique index suppressions_domain_key on app_public.suppressions (tenant_id, domain);

create table app_public.lead_imports (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  status text not null default 'pending',
  file_name text not null check (length(file_name) between 1 and 255),
  byte_size bigint check (byte_size >= 0),
  contact_list_id uuid,
  column_mapping jsonb check (column_mapping is null or jsonb_typeof(column_mapping) = 'object'),
  update_existing boolean not null default false,
  total_rows integer not null default 0 check (total_rows >= 0),
  imported_rows integer not null default 0 check (imported_rows >= 0),
  updated_rows integer not null default 0 check (updated_rows >= 0),
  skipped_rows integer not null default 0 check (skipped_rows >= 0),
  errors jsonb not null default '[]' check (jsonb_typeof(errors) = 'array'),
  started_at timestamptz,
  finished_at timestamptz,
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, contact_list_id) references app_public.contact_lists (tenant_id, id) on delete set null (contact_list_id),
  constraint lead_imports_status_check check (status in ('pending', 'processing', 'completed', 'failed'))
);
comment on table app_public.lead_imports is 'A CSV import of leads processed by the worker; errors lists the first rejected rows with their reason.';
create index lead_imports_list_idx on app_public.lead_imports (tenant_id, contact_list_id);
create index lead_imports_created_by_idx on app_public.lead_imports (created_by);

--------------------------------------------------------------------------------
-- Content.
--------------------------------------------------------------------------------

create table app_public.templates (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  subject text check (length(subject) <= 255),
  content text check (length(content) <= 500000),
  text_content text check (length(text_content) <= 500000),
  variables jsonb not null default '[]',
  category text check (length(category) <= 50),
  is_started boolean not null default false,
  is_archived boolean not null default false,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  updated_by uuid references app_public.users (id) on delete set null,
  primary key (tenant_id, id),
  constraint templates_variables_shape check (jsonb_typeof(variables) = 'array')
);
comment on table app_public.templates is 'An email template: subject, HTML body (content) and text body written in Liquid, with declared variables and their fallbacks.';
comment on column app_public.templates.content is 'HTML body (seed column name). Liquid syntax; {{ lead.first_name | default: "there" }}; spintax {a|b}.';
comment on column app_public.templates.variables is '[{"name": "first_name", "fallback": "there", "required": false}, …]: declared per-lead variables.';
comment on column app_public.templates.is_started is 'True once a started campaign uses the template (seed 000).';
create unique index templates_name_key on app_public.templates (tenant_id, name);
create index templates_created_by_idx on app_public.templates (created_by);
create index templates_updated_by_idx on app_public.templates (updated_by);

create table app_public.folders (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id bigint generated always as identity,
  name text not null check (length(name) between 1 and 100),
  created timestamptz not null default now(),
  updated timestamptz,
  primary key (tenant_id, id)
);
comment on table app_public.folders is 'A folder to organise templates (seed folders had no tenant_id; every tenant owns its folders here).';
create unique index folders_name_key on app_public.folders (tenant_id, name);

create table app_public.template_folders (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id bigint generated always as identity,
  template_id uuid not null,
  folder_id bigint not null,
  created timestamptz not null default now(),
  updated timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, template_id) references app_public.templates (tenant_id, id) on delete cascade,
  foreign key (tenant_id, folder_id) references app_public.folders (tenant_id, id) on delete cascade
);
comment on table app_public.template_folders is 'Places a template in a folder.';
create unique index template_folders_key on app_public.template_folders (tenant_id, template_id, folder_id);
create index template_folders_folder_idx on app_public.template_folders (tenant_id, folder_id);

create table app_public.tags (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id bigint generated always as identity,
  value text not null check (length(value) between 1 and 50),
  name text check (length(name) <= 100),
  description text,
  is_default boolean not null default false,
  created timestamptz not null default now(),
  updated timestamptz,
  primary key (tenant_id, id)
);
comment on table app_public.tags is 'A tag for templates. Default tags are copied into each new tenant (seed tags had a nullable tenant_id).';
create unique index tags_value_key on app_public.tags (tenant_id, value);

create table app_public.template_tags (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id bigint generated always as identity,
  template_id uuid not null,
  tag_id bigint not null,
  created timestamptz not null default now(),
  updated timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, template_id) references app_public.templates (tenant_id, id) on delete cascade,
  foreign key (tenant_id, tag_id) references app_public.tags (tenant_id, id) on delete cascade
);
comment on table app_public.template_tags is 'Attaches a tag to a template.';
create unique index template_tags_key on app_public.template_tags (tenant_id, template_id, tag_id);
create index template_tags_tag_idx on app_public.template_tags (tenant_id, tag_id);

--! split: 007-campaigns.sql
--------------------------------------------------------------------------------
-- Campaigns and sequences: definitions, targets, A/B variants, inbox rotation
-- and each lead's enrollment (its position in the sequence).
--------------------------------------------------------------------------------

create table app_public.campaigns (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  company_id uuid,
  name text not null check (length(name) between 1 and 200),
  description text,
  status text not null default 'draft',
  scheduled timestamptz,
  started timestamptz,
  paused_at timestamptz,
  completed timestamptz,
  cancelled_at timestamptz,
  timezone text not null default 'UTC' check (length(timezone) <= 64),
  use_lead_timezone boolean not null default true,
  send_days smallint[] not null default '{1,2,3,4,5}',
  send_window_start time not null default '09:00',
  send_window_end time not null default '17:00',
  min_gap_seconds integer not null default 60 check (min_gap_seconds >= 0),
  max_gap_seconds integer not null default 300,
  daily_limit integer check (daily_limit > 0),
  stop_on_reply boolean not null default true,
  track_opens boolean not null default true,
  track_clicks boolean not null default true,
  include_unsubscribe_link boolean not null default true,
  from_name text check (length(from_name) <= 100),
  reply_to app_public.email_address,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  updated_by uuid references app_public.users (id) on delete set null,
  primary key (tenant_id, id),
  foreign key (tenant_id, company_id) references app_public.companies (tenant_id, id) on delete cascade,
  constraint campaigns_status_check check (status in ('draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled')),
  constraint campaigns_send_days_check check (
    cardinality(send_days) between 1 and 7 and send_days <@ array[1, 2, 3, 4, 5, 6, 7]::smallint[]
  ),
  constraint campaigns_send_window_check check (send_window_end > send_window_start),
  constraint campaigns_gap_check check (max_gap_seconds >= min_gap_seconds)
);
comment on table app_public.campaigns is 'An outreach campaign: a sequence of steps sent to its targets within sending windows. Lifecycle: draft → scheduled/sending ⇄ paused → completed, or cancelled.';
comment on column app_public.campaigns.send_days is 'ISO days of the week on which mail may go out (1 = Monday … 7 = Sunday).';
comment on column app_public.campaigns.use_lead_timezone is 'Apply the sending window in each lead''s time zone when known, else in the campaign''s.';
comment on column app_public.campaigns.min_gap_seconds is 'Smallest random gap between two sends from one inbox.';
create index campaigns_company_idx on app_public.campaigns (tenant_id, company_id);
create index campaigns_status_idx on app_public.campaigns (tenant_id, status);
create index campaigns_created_by_idx on app_public.campaigns (created_by);
create index campaigns_updated_by_idx on app_public.campaigns (updated_by);

create table app_public.campaign_email_accounts (
  tenant_id uuid not null default app_public.current_tenant_id(),
  campaign_id uuid not null,
  email_account_id uuid not null,
  created timestamptz not null default now(),
  primary key (tenant_id, campaign_id, email_account_id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade,
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete cascade
);
comment on table app_public.campaign_email_accounts is 'The inboxes a campaign rotates through.';
create index campaign_email_accounts_account_idx on app_public.campaign_email_accounts (tenant_id, email_account_id);

create table app_public.campaign_sequence_steps (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  campaign_id uuid not null,
  step_order integer not null check (step_order between 1 and 100),
  step_type text not null,
  email_account_id uuid,
  template_id uuid,
  subject_override text check (length(subject_override) <= 500),
  from_name_override text check (length(from_name_override) <= 100),
  wait_duration_hours integer check (wait_duration_hours between 1 and 8760),
  wait_until_date timestamptz,
  condition_type text,
  condition_value text,
  send_condition text,
  is_active boolean not null default true,
  executed_count integer not null default 0 check (executed_count >= 0),
  last_executed timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade,
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete set null (email_account_id),
  foreign key (tenant_id, template_id) references app_public.templates (tenant_id, id),
  constraint campaign_sequence_steps_step_type_check check (step_type in ('email', 'wait', 'condition')),
  constraint campaign_sequence_steps_email_needs_template check (step_type <> 'email' or template_id is not null),
  constraint campaign_sequence_steps_wait_needs_duration check (
    step_type <> 'wait' or num_nonnulls(wait_duration_hours, wait_until_date) = 1
  ),
  constraint campaign_sequence_steps_condition_type_check check (
    (step_type = 'condition') = (condition_type is not null)
    and (condition_type is null or condition_type in ('opened', 'not_opened', 'clicked', 'not_clicked', 'replied', 'not_replied'))
  ),
  constraint campaign_sequence_steps_condition_value_check check (
    condition_value is null or condition_value in ('stop', 'skip') or condition_value ~ '^[1-9][0-9]?$'
  )
);
comment on table app_public.campaign_sequence_steps is 'One step of a campaign''s sequence, run in step_order for each enrollment: email (send a template), wait (hours or until a date) or condition.';
comment on column app_public.campaign_sequence_steps.condition_type is 'For condition steps: what must be true of the lead''s messages in this campaign so far (opened, clicked, replied or their negations).';
comment on column app_public.campaign_sequence_steps.condition_value is 'What happens when the condition is false: stop (default) ends the sequence, skip jumps over the next step, a number jumps to that step.';
create unique index campaign_sequence_steps_order_key on app_public.campaign_sequence_steps (tenant_id, campaign_id, step_order);
create index campaign_sequence_steps_account_idx on app_public.campaign_sequence_steps (tenant_id, email_account_id);
create index campaign_sequence_steps_template_idx on app_public.campaign_sequence_steps (tenant_id, template_id);

create table app_public.campaign_step_variants (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  step_id uuid not null,
  label text not null check (label ~ '^[A-Z]$'),
  subject text not null check (length(subject) between 1 and 500),
  weight integer not null default 1 check (weight between 1 and 100),
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, step_id) references app_public.campaign_sequence_steps (tenant_id, id) on delete cascade
);
comment on table app_public.campaign_step_variants is 'A/B subject variants of an email step; each enrollment gets one variant, chosen by weight and stable for that lead.';
create unique index campaign_step_variants_label_key on app_public.campaign_step_variants (tenant_id, step_id, label);

create table app_public.campaign_targets (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  campaign_id uuid not null,
  contact_list_id uuid,
  lead_id uuid,
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade,
  foreign key (tenant_id, contact_list_id) references app_public.contact_lists (tenant_id, id) on delete cascade,
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade,
  constraint campaign_targets_one_target check (num_nonnulls(contact_list_id, lead_id) = 1)
);
comment on table app_public.campaign_targets is 'Who a campaign targets: contact lists (static or dynamic) and individual leads.';
create unique index campaign_targets_list_key on app_public.campaign_targets (tenant_id, campaign_id, contact_list_id);
create unique index campaign_targets_lead_key on app_public.campaign_targets (tenant_id, campaign_id, lead_id);
create index campaign_targets_list_idx on app_public.campaign_targets (tenant_id, contact_list_id);
create index campaign_targets_lead_idx on app_public.campaign_targets (tenant_id, lead_id);

create table app_public.campaign_enrollments (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  campaign_id uuid not null,
  lead_id uuid not null,
  status text not null default 'active',
  current_step_order integer not null default 1 check (current_step_order >= 1),
  next_run_at timestamptz,
  email_account_id uuid,
  thread_message_id uuid,
  steps_completed integer not null default 0 check (steps_completed >= 0),
  enrolled_at timestamptz not null default now(),
  completed_at timestamptz,
  stop_reason text,
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade,
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade,
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete set null (email_account_id),
  constraint campaign_enrollments_status_check check (status in (
    'active', 'paused', 'completed', 'replied', 'unsubscribed', 'bounced', 'failed', 'cancelled'
  ))
);
comment on table app_public.campaign_enrollments is 'A lead''s run through a campaign''s sequence: the next step to execute and when. A lead is enrolled at most once per campaign.';
comment on column app_public.campaign_enrollments.email_account_id is 'The inbox this lead''s thread is sent from (chosen by rotation at the first email, then kept).';
comment on column app_public.campaign_enrollments.thread_message_id is 'The first message sent to this lead, which follow-ups reply to.';
create unique index campaign_enrollments_lead_key on app_public.campaign_enrollments (tenant_id, campaign_id, lead_id);
create index campaign_enrollments_lead_idx on app_public.campaign_enrollments (tenant_id, lead_id);
create index campaign_enrollments_account_idx on app_public.campaign_enrollments (tenant_id, email_account_id);
create index campaign_enrollments_status_idx on app_public.campaign_enrollments (tenant_id, campaign_id, status);
create index campaign_enrollments_thread_idx on app_public.campaign_enrollments (tenant_id, thread_message_id);

--! split: 008-messages-events.sql
--------------------------------------------------------------------------------
-- The message store (replaces seed 000's inbox_message_refs and Reachly's
-- campaign_messages) and email events. Both are append-heavy, so both are
-- range-partitioned by month on their UUIDv7 id, whose leading 48 bits are
-- the creation time: the primary key (tenant_id, id) contains the partition
-- key, lookups by id prune to one partition, and `created` is derived from the
-- id so the two can never disagree.
--------------------------------------------------------------------------------

create table app_public.messages (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default app_public.uuid_v7(),
  created timestamptz not null generated always as (app_public.uuid_v7_time(id)) stored,
  updated timestamptz not null default now(),
  direction text not null,
  message_type text not null default 'email',
  status text not null,
  email_account_id uuid,
  campaign_id uuid,
  enrollment_id uuid,
  step_id uuid,
  variant_id uuid,
  lead_id uuid,
  parent_message_id uuid,
  from_email citext check (length(from_email) <= 254),
  to_email citext check (length(to_email) <= 254),
  subject text check (length(subject) <= 998),
  rfc_message_id text check (length(rfc_message_id) <= 998),
  in_reply_to text check (length(in_reply_to) <= 998),
  references_header text,
  content_storage_key text check (length(content_storage_key) <= 500),
  body_text text,
  send_attempts integer not null default 0 check (send_attempts >= 0),
  scheduled_for timestamptz,
  processed timestamptz,
  sent_at timestamptz,
  delivered_at timestamptz,
  opened_at timestamptz,
  clicked_at timestamptz,
  replied_at timestamptz,
  bounced_at timestamptz,
  error_message text,
  smtp_response text,
  primary key (tenant_id, id),
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete set null (email_account_id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id),
  foreign key (tenant_id, enrollment_id) references app_public.campaign_enrollments (tenant_id, id),
  foreign key (tenant_id, step_id) references app_public.campaign_sequence_steps (tenant_id, id) on delete set null (step_id),
  foreign key (tenant_id, variant_id) references app_public.campaign_step_variants (tenant_id, id) on delete set null (variant_id),
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete set null (lead_id),
  foreign key (tenant_id, parent_message_id) references app_public.messages (tenant_id, id) on delete set null (parent_message_id),
  constraint messages_direction_check check (direction in ('inbound', 'outbound')),
  constraint messages_message_type_check check (message_type in ('email', 'bounce', 'auto_reply')),
  constraint messages_status_check check (status in (
    'queued', 'sending', 'sent', 'delivered', 'opened', 'clicked', 'replied',
    'bounced', 'failed', 'cancelled', 'received'
  )),
  constraint messages_inbound_status check ((direction = 'inbound') = (status = 'received'))
) partition by range (id);
comment on table app_public.messages is 'Every outbound and inbound email. Outbound status moves forward only: queued → sending → sent → delivered → opened → clicked → replied, or to bounced/failed/cancelled. Inbound messages are threaded to what they answer via parent_message_id.';
comment on column app_public.messages.rfc_message_id is 'The Message-ID header (without angle brackets).';
comment on column app_public.messages.content_storage_key is 'Where the full raw message is kept (seed 000: content database); null when only body_text is kept.';
comment on column app_public.messages.send_attempts is 'SMTP attempts so far (temporary failures are retried with backoff).';
create index messages_campaign_idx on app_public.messages (tenant_id, campaign_id, created);
create index messages_enrollment_idx on app_public.messages (tenant_id, enrollment_id);
create index messages_step_idx on app_public.messages (tenant_id, step_id);
create index messages_variant_idx on app_public.messages (tenant_id, variant_id);
create index messages_lead_idx on app_public.messages (tenant_id, lead_id);
create index messages_account_idx on app_public.messages (tenant_id, email_account_id, created);
create index messages_parent_idx on app_public.messages (tenant_id, parent_message_id);
create index messages_status_idx on app_public.messages (tenant_id, status, created);
create index messages_rfc_message_id_idx on app_public.messages (rfc_message_id);

create table app_public.email_events (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default app_public.uuid_v7(),
  created timestamptz not null generated always as (app_public.uuid_v7_time(id)) stored,
  message_id uuid not null,
  campaign_id uuid,
  lead_id uuid,
  event_type text not null,
  ip_address inet,
  user_agent text check (length(user_agent) <= 1000),
  link_url text check (length(link_url) <= 2000),
  metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
  primary key (tenant_id, id),
  foreign key (tenant_id, message_id) references app_public.messages (tenant_id, id) on delete cascade,
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id),
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete set null (lead_id),
  constraint email_events_event_type_check check (event_type in (
    'sent', 'delivered', 'deferred', 'open', 'click', 'reply', 'bounce', 'complaint', 'unsubscribe', 'failed'
  ))
) partition by range (id);
comment on table app_public.email_events is 'What happened to a message: sent, delivered, opens, clicks, replies, bounces, complaints and unsubscribes (one row each; opens and clicks may repeat).';
create index email_events_message_idx on app_public.email_events (tenant_id, message_id);
create index email_events_campaign_idx on app_public.email_events (tenant_id, campaign_id, created);
create index email_events_lead_idx on app_public.email_events (tenant_id, lead_id);

alter table app_public.campaign_enrollments
  add foreign key (tenant_id, thread_message_id) references app_public.messages (tenant_id, id) on delete set null (thread_message_id);

--------------------------------------------------------------------------------
-- Monthly partitions. This function creates structure, so it lives with the
-- structure; a scheduled job calls it to stay ahead of time.
--------------------------------------------------------------------------------

create function app_private.ensure_monthly_partitions(
  parent regclass,
  from_month date,
  to_month date
) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.ensure_monthly_partitions(regclass, date, date) is 'Creates the missing monthly partitions (UTC months, bounded by UUIDv7 ids) of a partitioned table; returns how many it created.';

select app_private.ensure_monthly_partitions('app_public.messages', (now() - interval '12 months')::date, (now() + interval '3 months')::date);
select app_private.ensure_monthly_partitions('app_public.email_events', (now() - interval '12 months')::date, (now() + interval '3 months')::date);

--! split: 009-crm.sql
--------------------------------------------------------------------------------
-- CRM pipeline (seed 004), folded into the shared schema: seed 004 isolates
-- tenants with a schema each; here every row carries tenant_id under RLS like
-- the rest of the product. Seed 004's "companies" become crm_accounts (the name
-- companies is the workspaces table), its "contacts" are our leads, and its
-- audit fields (created_by/updated_by) and soft delete (deleted_at) are kept.
--------------------------------------------------------------------------------

create table app_public.crm_accounts (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 255),
  domain app_public.hostname,
  industry text check (length(industry) <= 100),
  street text check (length(street) <= 255),
  city text check (length(city) <= 100),
  state text check (length(state) <= 100),
  country text check (length(country) <= 100),
  postal_code text check (length(postal_code) <= 20),
  parent_account_id uuid,
  custom_fields jsonb not null default '{}' check (jsonb_typeof(custom_fields) = 'object'),
  company_size text check (company_size in ('1-10', '11-50', '51-200', '201-1000', '1001-5000', '5000+')),
  employee_count integer check (employee_count >= 0),
  annual_revenue numeric(15, 2) check (annual_revenue >= 0),
  revenue_currency text not null default 'USD' check (revenue_currency ~ '^[A-Z]{3}$'),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  updated_by uuid references app_public.users (id) on delete set null,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  deleted_at timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, parent_account_id) references app_public.crm_accounts (tenant_id, id) on delete set null (parent_account_id),
  check (parent_account_id is distinct from id)
);
comment on table app_public.crm_accounts is 'A customer organisation in the CRM (seed 004 companies), possibly part of a parent account.';
comment on column app_public.crm_accounts.deleted_at is 'Soft delete: set instead of deleting so deals keep their history.';
create index crm_accounts_parent_idx on app_public.crm_accounts (tenant_id, parent_account_id);
create index crm_accounts_domain_idx on app_public.crm_accounts (tenant_id, domain);
create index crm_accounts_name_idx on app_public.crm_accounts (tenant_id, name);
create index crm_accounts_created_by_idx on app_public.crm_accounts (created_by);
create index crm_accounts_updated_by_idx on app_public.crm_accounts (updated_by);

alter table app_public.leads add column crm_account_id uuid;
alter table app_public.leads
  add foreign key (tenant_id, crm_account_id) references app_public.crm_accounts (tenant_id, id) on delete set null (crm_account_id);
comment on column app_public.leads.crm_account_id is 'The CRM account this lead works for (seed 004 contacts.company_id).';
create index leads_crm_account_idx on app_public.leads (tenant_id, crm_account_id);

create table app_public.deals (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  title text not null check (length(title) between 1 and 200),
  value numeric(12, 2) check (value >= 0),
  currency text not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  probability numeric(5, 2) check (probability between 0 and 100),
  stage text not null default 'lead',
  primary_lead_id uuid,
  crm_account_id uuid,
  owner_user_id uuid references app_public.users (id) on delete set null,
  source_campaign_id uuid,
  expected_close_date date,
  actual_close_date date,
  deal_source text check (length(deal_source) <= 100),
  description text,
  notes text,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  updated_by uuid references app_public.users (id) on delete set null,
  deleted_at timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, primary_lead_id) references app_public.leads (tenant_id, id) on delete set null (primary_lead_id),
  foreign key (tenant_id, crm_account_id) references app_public.crm_accounts (tenant_id, id) on delete set null (crm_account_id),
  foreign key (tenant_id, source_campaign_id) references app_public.campaigns (tenant_id, id) on delete set null (source_campaign_id),
  constraint deals_stage_check check (stage in ('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost')),
  check ((stage in ('won', 'lost')) = (actual_close_date is not null))
);
comment on table app_public.deals is 'A sales opportunity in the pipeline, typically created from a lead that replied.';
comment on column app_public.deals.stage is 'lead → qualified → proposal → negotiation → won | lost; a closed deal has actual_close_date.';
create index deals_primary_lead_idx on app_public.deals (tenant_id, primary_lead_id);
create index deals_account_idx on app_public.deals (tenant_id, crm_account_id);
create index deals_owner_idx on app_public.deals (owner_user_id);
create index deals_source_campaign_idx on app_public.deals (tenant_id, source_campaign_id);
create index deals_stage_idx on app_public.deals (tenant_id, stage);
create index deals_expected_close_idx on app_public.deals (tenant_id, expected_close_date);
create index deals_created_by_idx on app_public.deals (created_by);
create index deals_updated_by_idx on app_public.deals (updated_by);

create table app_public.deal_contacts (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default gen_random_uuid(),
  deal_id uuid not null,
  lead_id uuid not null,
  role text check (role in ('decision_maker', 'influencer', 'champion', 'user', 'other')),
  created timestamptz not null default now(),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  primary key (tenant_id, id),
  foreign key (tenant_id, deal_id) references app_public.deals (tenant_id, id) on delete cascade,
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade
);
comment on table app_public.deal_contacts is 'The people (leads) involved in a deal and their role.';
create unique index deal_contacts_key on app_public.deal_contacts (tenant_id, deal_id, lead_id);
create index deal_contacts_lead_idx on app_public.deal_contacts (tenant_id, lead_id);
create index deal_contacts_created_by_idx on app_public.deal_contacts (created_by);

--! split: 010-reference-data.sql
--------------------------------------------------------------------------------
-- Reference data every installation starts with: platform permissions, staff
-- roles and the four plans. Changing these later is a new migration.
--------------------------------------------------------------------------------

insert into app_public.permissions (id, name, category, description) values
  (1, 'tenants.read', 'tenants', 'Open read-only access sessions into a tenant''s data.'),
  (2, 'tenants.write', 'tenants', 'Open read-write access sessions into a tenant''s data (acts as a tenant admin).'),
  (3, 'infrastructure.manage', 'infrastructure', 'Manage VPS instances, sending IPs and domain IP assignments.'),
  (4, 'plans.manage', 'billing', 'Create and change plans.'),
  (5, 'billing.manage', 'billing', 'Change tenants'' subscriptions and add-ons.'),
  (6, 'feature_flags.manage', 'platform', 'Create and roll out feature flags.'),
  (7, 'system_config.manage', 'platform', 'Read and change system configuration, including sensitive values.'),
  (8, 'staff.manage', 'platform', 'Add and remove staff members and change their roles.'),
  (9, 'audit.read', 'platform', 'Read the platform audit log.');

insert into app_public.staff_roles (id, name, description) values
  (1, 'support', 'Customer support: read-only access to tenants on request.'),
  (2, 'operator', 'Runs the sending infrastructure.'),
  (3, 'billing', 'Handles plans, subscriptions and payments.'),
  (4, 'superadmin', 'Every permission.');

insert into app_public.staff_role_permissions (role_id, permission_id)
select r.role_id, p.id
from (values
  (1, 'tenants.read'), (1, 'audit.read'),
  (2, 'infrastructure.manage'), (2, 'tenants.read'), (2, 'audit.read'),
  (3, 'plans.manage'), (3, 'billing.manage'), (3, 'tenants.read')
) as r (role_id, permission_name)
join app_public.permissions p on p.name = r.permission_name
union all
select 4, id from app_public.permissions;

insert into app_public.plans (
  slug, name, description, max_users, max_domains, max_campaigns_per_month, api_rate_limit,
  max_email_accounts, max_emails_per_month, max_warmups, max_contacts, max_storage_gb,
  api_access, priority_support, advanced_analytics, white_label, price_monthly, price_yearly
) values
  ('free', 'Free', 'Try PenguinMails with one inbox.',
    1, 1, 2, 60, 1, 500, 1, 500, 1, false, false, false, false, 0, 0),
  ('starter', 'Starter', 'For founders doing their own outreach.',
    3, 3, 20, 300, 5, 10000, 5, 10000, 5, true, false, false, false, 3900, 39000),
  ('pro', 'Pro', 'For sales teams running many campaigns.',
    10, 10, 100, 1200, 25, 100000, 25, 100000, 25, true, true, true, false, 9900, 99000),
  ('enterprise', 'Enterprise', 'Unlimited sending with white label and priority support.',
    null, null, null, 6000, null, null, null, null, 250, true, true, true, true, 49900, 499000);
