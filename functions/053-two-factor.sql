--------------------------------------------------------------------------------
-- Two-factor authentication with TOTP (RFC 6238: SHA-1, 30-second steps, six
-- digits). The secret is sealed by the API server with the application key
-- (src/crypto/secrets.ts), so only the server computes codes
-- (src/auth/totp.ts): it tells these functions which 30-second step a code
-- matched (or none), and everything else is decided here: a step is accepted
-- once only (no replay), recovery codes once each, wrong codes lock the
-- second factor like wrong passwords lock a sign-in, and a challenge is single
-- use and short-lived. The plugin calling them is plugins/two-factor.ts.
--
-- A wrong code is answered with a row (error_code, error_message), not an
-- exception, so that the failure counter is committed.
--
-- Organisations with tenant_policies.two_factor_required (or
-- company_require_email_verification): enter_request
-- (functions/001-request-context.sql) refuses their members without it, but
-- for the operations that set it up.
--------------------------------------------------------------------------------

create or replace function app_private.two_factor_enabled(user_id uuid) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return exists (
    select 1 from app_private.user_two_factor f
    where f.user_id = two_factor_enabled.user_id and f.confirmed_at is not null
  );
end;
$$;
comment on function app_private.two_factor_enabled(uuid) is 'Whether the user has confirmed two-factor authentication.';

create or replace function app_private.missing_account_setup(user_id uuid, tenant_id uuid) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.missing_account_setup(uuid, uuid) is 'What the tenant''s policy requires of the user''s account that it lacks: ''email_verification'' (company_require_email_verification and no confirmed email), ''two_factor'' (two_factor_required and none confirmed), or null.';

create or replace function app_private.hash_recovery_code(code text) returns bytea
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Case, spaces and dashes do not matter when a code is typed.
  select public.digest(lower(regexp_replace(code, '[^A-Za-z0-9]', '', 'g')), 'sha256');
$$;
comment on function app_private.hash_recovery_code(text) is 'How recovery codes are stored: SHA-256 of the code, lower case, without spaces or dashes.';

-- One attempt at the second factor: a step the server matched, or a recovery code.
create or replace function app_private.two_factor_attempt(user_id uuid, matched_step bigint, code text, allow_recovery boolean, policy_tenant uuid)
  returns table (error_code text, error_message text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.two_factor_attempt(uuid, bigint, text, boolean, uuid) is 'Decides one attempt at a user''s second factor: accepts a TOTP step later than the last accepted one, or (when allowed) an unused recovery code, which it spends; otherwise counts a failure and locks the second factor for the tenant''s lockout_minutes after max_login_attempts. Returns (null, null) on success, else an error code and message.';

--------------------------------------------------------------------------------
-- Enrolment, confirmation, disabling: the signed-in user's own.
--------------------------------------------------------------------------------

create or replace function app_hidden.start_two_factor_enrollment(secret_sealed bytea) returns text
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.start_two_factor_enrollment(bytea) is 'Stores a new, unconfirmed TOTP secret (sealed by the API server) for the signed-in user, replacing an unconfirmed one; refused while two-factor authentication is on. Returns the user''s email (the label of the otpauth URI).';

create or replace function app_hidden.my_two_factor_secret()
  returns table (secret_sealed bytea, confirmed boolean)
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  if app_public.current_user_id() is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  return query select f.secret_sealed, f.confirmed_at is not null
    from app_private.user_two_factor f where f.user_id = app_public.current_user_id();
end;
$$;
comment on function app_hidden.my_two_factor_secret() is 'The signed-in user''s sealed TOTP secret, for the API server to check a code against (no row: none).';

create or replace function app_hidden.confirm_two_factor(matched_step bigint)
  returns table (recovery_codes text[], error_code text, error_message text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.confirm_two_factor(bigint) is 'Turns on two-factor authentication for the signed-in user once a code of the new secret is right (the API server passes the 30-second step it matched, or null); returns ten single-use recovery codes, stored hashed. A wrong code is returned as an error row and counted.';

create or replace function app_hidden.disable_two_factor(matched_step bigint, code text)
  returns table (error_code text, error_message text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.disable_two_factor(bigint, text) is 'Turns off two-factor authentication for the signed-in user after a valid code or recovery code; deletes the secret and the recovery codes. A wrong code is returned as an error row and counted.';

--------------------------------------------------------------------------------
-- Sign-in: login (functions/050-auth.sql) answers a user with two-factor
-- authentication with a challenge instead of a session.
--------------------------------------------------------------------------------

create or replace function app_private.open_two_factor_challenge(user_id uuid, tenant_id uuid) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.open_two_factor_challenge(uuid, uuid) is 'A single-use challenge (valid five minutes) for a sign-in whose password was right; verify_two_factor_login completes it.';

create or replace function app_private.live_two_factor_challenge(token text) returns app_private.two_factor_challenges
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.live_two_factor_challenge(text) is 'The unused, unexpired challenge with this token; raises NTFND or EXPRD otherwise.';

create or replace function app_hidden.two_factor_challenge_secret(challenge text) returns bytea
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_challenge app_private.two_factor_challenges := app_private.live_two_factor_challenge(challenge);
begin
  return (select f.secret_sealed from app_private.user_two_factor f where f.user_id = v_challenge.user_id);
end;
$$;
comment on function app_hidden.two_factor_challenge_secret(text) is 'The sealed TOTP secret of the user a live sign-in challenge belongs to, for the API server to check a code against.';

create or replace function app_hidden.verify_two_factor_login(challenge text, matched_step bigint, code text)
  returns table (role text, user_id uuid, tenant_id uuid, expires_at timestamptz, error_code text, error_message text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.verify_two_factor_login(text, bigint, text) is 'Completes a sign-in challenge with the second factor (the TOTP step the API server matched, or a recovery code, which is spent) and returns the session''s claims; the challenge is then used. A wrong code is returned as an error row and counted towards the lockout.';

--------------------------------------------------------------------------------
-- Email verification on demand (tenant_policies.company_require_email_verification).
--------------------------------------------------------------------------------

create or replace function app_public.request_email_verification() returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.request_email_verification() is 'Emails you a link (single use, 24 hours) that confirms your account''s email address; at most 3 an hour, silently. Refused when it is already confirmed.';

create or replace function app_public.verify_email(token text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.verify_email(text) is 'Confirms an account''s email address with the token of the emailed link (requestEmailVerification); the link works once.';
