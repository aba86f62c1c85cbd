--! Previous: sha1:9abf820133fedbb47d6696e46a459ddd9a9dc0d4
--! Hash: sha1:9a4712e0561498a5ab0963020adaa3f092674ab8
--! Message: Two-factor authentication (TOTP secrets sealed, recovery codes hashed, single-use login challenges) and email verification; the unused auto-approve and default-status tenant policies are dropped

--! split: 1-current.sql
-- Enter migration here

--! split: 4-two-factor.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Two-factor authentication (TOTP, RFC 6238): the secret, sealed by the API
-- server with the application key; the codes are checked there
-- (src/auth/totp.ts), and every decision about them here (functions/053).
create table if not exists app_private.user_two_factor (
  user_id uuid primary key references app_public.users (id) on delete cascade,
  secret_sealed bytea not null,
  confirmed_at timestamptz,
  last_used_step bigint not null default 0,
  failed_attempts integer not null default 0 check (failed_attempts >= 0),
  locked_until timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
comment on table app_private.user_two_factor is 'A user''s TOTP secret (AES-256-GCM sealed by the API server; the database never sees it in clear), whether enrolment was confirmed, the last 30-second step a code was accepted for (no code is accepted twice) and the lockout after wrong codes.';

create table if not exists app_private.two_factor_recovery_codes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  code_hash bytea not null unique,
  used_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
create index if not exists two_factor_recovery_codes_user_id_idx on app_private.two_factor_recovery_codes (user_id);
comment on table app_private.two_factor_recovery_codes is 'Single-use recovery codes of a user''s two-factor authentication, stored as SHA-256 hashes; shown once, when enrolment is confirmed.';

create table if not exists app_private.two_factor_challenges (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  tenant_id uuid,
  token_hash bytea not null unique,
  expires_at timestamptz not null,
  used_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
create index if not exists two_factor_challenges_user_id_idx on app_private.two_factor_challenges (user_id);
comment on table app_private.two_factor_challenges is 'A sign-in whose password was right, waiting for the second factor: single use, five minutes. tenant_id is the organisation the session will be in (no foreign key: this table is global, tenants are distributed on Citus).';

-- Email verification on demand, for an account whose address is not yet
-- confirmed (tenant_policies.company_require_email_verification, enforced by
-- enter_request): a single-use emailed link, like a password reset's.
create table if not exists app_private.email_verification_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  token_hash bytea not null unique,
  expires_at timestamptz not null,
  used_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now()
);
create index if not exists email_verification_tokens_user_id_idx on app_private.email_verification_tokens (user_id);
comment on table app_private.email_verification_tokens is 'Emailed links that confirm an account''s address (SHA-256 of the token; single use, 24 hours).';
comment on column app_public.tenant_policies.company_require_email_verification is 'Members whose account email is not confirmed (users.email_verified_at) get no access to the organisation until they confirm it (requestEmailVerification, verifyEmail). Accounts made by sign-up or by accepting an invitation are confirmed by that emailed link.';
comment on column app_public.tenant_policies.two_factor_required is 'Members without two-factor authentication get no access to the organisation except to set it up.';

-- Policies that described behaviour the platform does not have: there are no
-- join requests to approve and memberships have no status (people join by
-- invitation only). Removed rather than left claiming it.
-- squawk-ignore ban-drop-column
alter table app_public.tenant_policies drop column if exists company_auto_approve_members;
-- squawk-ignore ban-drop-column
alter table app_public.tenant_policies drop column if exists company_default_status;
