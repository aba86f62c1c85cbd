--! Previous: sha1:9f8ed1ad26f40ba61cbaa1a83dd573b5d91feefe
--! Hash: sha1:86023306aef006ed07551736a99a4a402ae103ab
--! Message: Sign-ups wait for their email to be confirmed, so register no longer reveals which emails have accounts

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Sign-ups waiting for their email to be confirmed. `register` no longer
-- says whether an email has an account: it always answers "check your
-- inbox" and emails either a confirmation link (a new address: the account
-- and organisation are created when the link is used) or a note that the
-- address already has an account. The password is kept only as its bcrypt
-- hash, the link's token only as its SHA-256.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table if not exists app_private.pending_registrations (
  id uuid primary key default gen_random_uuid(),
  email citext not null check (length(email) <= 254),
  password_hash text not null,
  name text check (length(name) <= 200),
  tenant_name text not null check (length(tenant_name) between 1 and 200),
  token_hash bytea not null unique,
  created timestamptz not null default now(),
  expires_at timestamptz not null,
  confirmed_at timestamptz
);
create index if not exists pending_registrations_email_idx on app_private.pending_registrations (email);
create index if not exists pending_registrations_expires_idx on app_private.pending_registrations (expires_at);
comment on table app_private.pending_registrations is 'A sign-up waiting for its email to be confirmed: the password''s bcrypt hash, the organisation''s name and the SHA-256 of the emailed token. The account and organisation are created when the link is used (app_hidden.confirm_registration).';

-- The four-argument register signed the new user in at once, and so said
-- whether an email had an account; functions/050 defines its replacement.
drop function if exists app_hidden.register(text, text, text, text);

-- Sign-ups are throttled like reset emails (app_private.throttle_hit). A
-- wider rule, so no row can break it; validated in the next migration.
alter table app_private.auth_throttle drop constraint if exists auth_throttle_scope_check;
alter table app_private.auth_throttle add constraint auth_throttle_scope_check
  check (scope in ('reset:user', 'reset:client', 'register:email', 'register:client')) not valid;
