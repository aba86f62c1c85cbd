--------------------------------------------------------------------------------
-- Authentication and membership. Every rule lives here: password policy,
-- lockout, session lifetime, invitations, roles. Operations that hand out a
-- session return its claims from app_hidden (the API signs them into a JWT);
-- the rest are ordinary mutations in app_public.
--
-- Error codes (SQLSTATE) the API turns into stable GraphQL codes:
--   CREDS wrong credentials · LOCKD locked out · WEAKP weak password
--   TAKEN already exists · EXPRD token expired or used · DNIED forbidden
--   NTFND not found · INVAL invalid input
--------------------------------------------------------------------------------

-- The effective password policy for a set of tenants: the strictest of each rule.
create or replace function app_private.password_policy_violation(password text, tenant_ids uuid[]) returns text
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.password_policy_violation(text, uuid[]) is 'Why a password breaks the strictest policy of the given tenants, or null when it complies.';

create or replace function app_private.assert_password_policy(password text, tenant_ids uuid[]) returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.assert_password_policy(text, uuid[]) is 'Raises INVAL for a password over 72 bytes (bcrypt ignores the rest), and WEAKP with the broken rule when the password does not satisfy the tenants'' policies.';

create or replace function app_private.active_tenant_ids(user_id uuid) returns uuid[]
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select coalesce(array_agg(tu.tenant_id), '{}')
  from app_public.tenant_users tu join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
  where tu.user_id = active_tenant_ids.user_id and tu.deleted_at is null
  );
end;
$$;
comment on function app_private.active_tenant_ids(uuid) is 'The tenants a user is an active member of.';

-- Claims of a session in a tenant: lifetime from the tenant's policy.
create or replace function app_private.session_claims(for_user uuid, in_tenant uuid)
  returns table (role text, user_id uuid, tenant_id uuid, expires_at timestamptz)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.session_claims(uuid, uuid) is 'The claims of a session for a user in a tenant; it lasts the tenant''s session_timeout_hours.';

create or replace function app_private.hash_token(token text) returns bytea
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select public.digest(token, 'sha256');
$$;
comment on function app_private.hash_token(text) is 'How single-use tokens are stored: SHA-256 of the token.';

create or replace function app_private.new_token() returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select translate(encode(public.gen_random_bytes(32), 'base64'), '+/=', '-_');
$$;
comment on function app_private.new_token() is 'A new 256-bit random token, URL-safe.';

--------------------------------------------------------------------------------
-- Register, log in, switch tenant.
--------------------------------------------------------------------------------

create or replace function app_hidden.register(email text, password text, name text, tenant_name text, client_ip text default null)
  returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
$$;
comment on function app_hidden.register(text, text, text, text, text) is 'Starts a sign-up: emails a confirmation link valid 24 hours (a new address; the account and its organisation on the Free plan are created when the link is used) or a note that the address already has an account. Always returns true, with the same work either way; emails are throttled silently.';

create or replace function app_hidden.confirm_registration(token text)
  returns table (role text, user_id uuid, tenant_id uuid, expires_at timestamptz)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.confirm_registration(text) is 'Completes a sign-up from its emailed link: creates the account (email confirmed) and its organisation on the Free plan, and returns a session in it.';

-- One failed password for (user, organisation, client): counted against the
-- policy of policy_tenant, locking after max_login_attempts for lockout_minutes.
-- The caller returns its error instead of raising it, so that the count is committed.
create or replace function app_private.record_login_failure(user_id uuid, tenant_id uuid, client text, policy_tenant uuid)
  returns app_private.login_failures
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_policy app_public.tenant_policies;
  v_failures app_private.login_failures;
  -- Values, not calls, in the upsert below: Citus accepts only immutable
  -- expressions in the DO UPDATE SET of a distributed table.
  v_now timestamptz := now();
  v_lock_until timestamptz;
  v_max integer;
begin
  select p.* into v_policy from app_public.tenant_policies p where p.tenant_id = policy_tenant;
  v_lock_until := v_now + make_interval(mins => coalesce(v_policy.lockout_minutes, 15));
  v_max := coalesce(v_policy.max_login_attempts, 5);
  insert into app_private.login_failures as f (user_id, tenant_id, client, failed_attempts, first_failed_at, locked_until)
    values (record_login_failure.user_id, record_login_failure.tenant_id, record_login_failure.client, 1, v_now,
            case when 1 >= v_max then v_lock_until end)
  on conflict (user_id, tenant_id, client) do update set
    -- A lock that has run out starts a new count.
    failed_attempts = case when f.locked_until <= v_now then 1 else f.failed_attempts + 1 end,
    first_failed_at = case when f.locked_until <= v_now then v_now else f.first_failed_at end,
    locked_until = case when (case when f.locked_until <= v_now then 1 else f.failed_attempts + 1 end) >= v_max
                        then v_lock_until end
  returning * into v_failures;
  return v_failures;
end;
$$;
comment on function app_private.record_login_failure(uuid, uuid, text, uuid) is 'Counts one failed password of a user for an organisation (the nil UUID: none) and a client, under the policy of policy_tenant; returns the row, whose locked_until is set once that policy''s max_login_attempts is reached.';

-- The password a signed-in user (or an invitation to an existing account)
-- gives to confirm a sensitive step: changePassword, deleteMyAccount,
-- acceptInvitation. Wrong passwords count like sign-in failures, per account
-- (client 'reauthentication', no organisation) under the policy of the
-- organisation the step is made in, so a stolen session cannot guess the
-- password without limit. Returns the error (LOCKD or CREDS) instead of raising it.
create or replace function app_private.confirm_password(user_id uuid, password text, policy_tenant uuid, wrong_password_message text)
  returns table (error_code text, error_message text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hash text;
  v_failures app_private.login_failures;
  c_nobody constant uuid := '00000000-0000-0000-0000-000000000000';
begin
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = confirm_password.user_id for update;
  select f.* into v_failures from app_private.login_failures f
    where f.user_id = confirm_password.user_id and f.tenant_id = c_nobody and f.client = 'reauthentication';
  if v_failures.locked_until > now() then
    perform app_private.hash_password(coalesce(password, '')); -- as long as any other answer
  elsif v_hash is not null and password is not null and v_hash = public.crypt(password, v_hash) then
    delete from app_private.login_failures f
      where f.user_id = confirm_password.user_id and f.tenant_id = c_nobody and f.client = 'reauthentication';
    return query select null::text, null::text;
    return;
  else
    -- The policy that counts is the organisation's; the count is the account's.
    v_failures := app_private.record_login_failure(confirm_password.user_id, c_nobody, 'reauthentication', policy_tenant);
    if v_failures.locked_until is null then
      return query select 'CREDS', wrong_password_message;
      return;
    end if;
  end if;
  return query select 'LOCKD', format('Too many wrong passwords. Try again after %s UTC.', to_char(v_failures.locked_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI'));
end;
$$;
comment on function app_private.confirm_password(uuid, text, uuid, text) is 'Checks the password a user gives to confirm a sensitive step. Wrong ones are counted per account; after the policy tenant''s max_login_attempts the check is locked for its lockout_minutes (LOCKD). Returns (null, null) when right, else (CREDS, wrong_password_message) or LOCKD: the caller returns the error, so the count is committed.';

-- The result gained two_factor_challenge: a changed result type needs a drop (once).
do $$
begin
  if exists (select 1 from pg_proc p where p.oid = to_regprocedure('app_hidden.login(text, text, uuid, text)')
             and not 'two_factor_challenge' = any (p.proargnames)) then
    drop function app_hidden.login(text, text, uuid, text);
  end if;
end;
$$;
create or replace function app_hidden.login(email text, password text, requested_tenant uuid default null, client_ip text default null)
  returns table (role text, user_id uuid, tenant_id uuid, expires_at timestamptz, error_code text, error_message text, two_factor_challenge text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
-- Failures are returned, not raised, so that the failed-attempt counter is
-- committed; the API turns error_code into a GraphQL error.
--
-- Lockouts are per (user, organisation, client address): failures count
-- against the policy of the organisation being signed in to and lock only
-- that organisation, for that client. A stranger guessing from their own
-- address locks themselves out, not the owner signing in from theirs; and a
-- strict organisation cannot lock its members out of their other ones.
declare
  v_user app_public.users;
  v_user_id uuid;
  v_secrets app_private.user_secrets;
  v_tenant_id uuid;
  v_client text := coalesce(nullif(left(trim(client_ip), 100), ''), 'unknown');
  v_failures app_private.login_failures;
begin
  select u.* into v_user from app_public.users u where u.email = login.email::citext and u.deleted_at is null;
  -- An unknown email runs the same lookups below, for a user id no row has,
  -- then the same bcrypt as a wrong password, so accounts cannot be probed by
  -- the answer's time either. (On Citus the membership lookup reaches every
  -- shard: skipping it made unknown emails measurably faster.)
  v_user_id := coalesce(v_user.id, '00000000-0000-0000-0000-000000000000');
  select s.* into v_secrets from app_private.user_secrets s where s.user_id = v_user_id for update;

  -- The tenant to sign in to: the one asked for, or the user's oldest membership.
  select tu.tenant_id into v_tenant_id
    from app_public.tenant_users tu join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
    where tu.user_id = v_user_id and tu.deleted_at is null and (requested_tenant is null or tu.tenant_id = requested_tenant)
    order by tu.created limit 1;

  select f.* into v_failures from app_private.login_failures f
    where f.user_id = v_user_id and f.tenant_id = coalesce(v_tenant_id, '00000000-0000-0000-0000-000000000000') and f.client = v_client;
  if v_user.id is null then
    -- One bcrypt at the cost real hashes are made with (app_private.hash_password).
    perform app_private.hash_password(coalesce(password, ''));
    return query select null::text, null::uuid, null::uuid, null::timestamptz, 'CREDS', 'Incorrect email or password.', null::text;
    return;
  end if;
  if v_failures.locked_until > now() then
    perform app_private.hash_password(coalesce(password, '')); -- as long as any other answer
    return query select null::text, null::uuid, null::uuid, null::timestamptz, 'LOCKD',
      format('Too many failed sign-in attempts. Try again after %s UTC.', to_char(v_failures.locked_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI')), null::text;
    return;
  end if;

  if v_secrets.password_hash is null or v_secrets.password_hash <> public.crypt(coalesce(password, ''), v_secrets.password_hash) then
    v_failures := app_private.record_login_failure(v_user.id, coalesce(v_tenant_id, '00000000-0000-0000-0000-000000000000'), v_client, v_tenant_id);
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
comment on function app_hidden.login(text, text, uuid, text) is 'Checks credentials for a session in the chosen tenant (default: the first one). For a user with two-factor authentication it returns no session but error_code TWOFA and a single-use two_factor_challenge (five minutes) for verify_two_factor_login. After the tenant''s max_login_attempts consecutive failures from one client address, that client is locked out of that tenant for lockout_minutes (other clients and other tenants are not).';

create or replace function app_hidden.switch_tenant(target_tenant uuid)
  returns table (role text, user_id uuid, tenant_id uuid, expires_at timestamptz)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.switch_tenant(uuid) is 'A session in another tenant the signed-in user belongs to (or holds a staff access session for).';

-- The result column `joined` became `joined_at`: a changed result type needs a drop (once).
do $$
begin
  if exists (select 1 from pg_proc p where p.oid = to_regprocedure('app_public.my_memberships()') and 'joined' = any (p.proargnames)) then
    drop function app_public.my_memberships();
  end if;
end;
$$;
create or replace function app_public.my_memberships()
  returns table (tenant_id uuid, tenant_name text, roles text[], joined_at timestamptz)
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select t.id, t.name, tu.roles, tu.created
  from app_public.tenant_users tu join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
  where tu.user_id = app_public.current_user_id() and tu.deleted_at is null
  order by tu.created;
$$;
comment on function app_public.my_memberships() is E'@resultTypeName Membership\nThe organisations you belong to and your roles in each: what switchTenant can switch to.';

--------------------------------------------------------------------------------
-- Invitations.
--------------------------------------------------------------------------------

create or replace function app_public.invite_member(email text, roles text[] default '{member}') returns app_public.invitations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.invite_member(text, text[]) is 'Invites someone by email with the given roles (default member). Owners and admins may invite; members may invite members and viewers when the tenant policy allows. Replaces any open invitation for that email and emails a link valid for 7 days.';

create or replace function app_public.revoke_invitation(invitation_id uuid) returns app_public.invitations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.revoke_invitation(uuid) is 'Cancels an open invitation; its link stops working at once.';

-- The result gained error_code and error_message (a wrong password is returned, to be counted): a changed result type needs a drop (once).
do $$
begin
  if exists (select 1 from pg_proc p where p.oid = to_regprocedure('app_hidden.accept_invitation(text, text, text)')
             and not 'error_code' = any (p.proargnames)) then
    drop function app_hidden.accept_invitation(text, text, text);
  end if;
end;
$$;
create or replace function app_hidden.accept_invitation(token text, password text default null, name text default null)
  returns table (role text, user_id uuid, tenant_id uuid, expires_at timestamptz, error_code text, error_message text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_invitation app_public.invitations;
  v_user app_public.users;
  v_error record;
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
    -- An existing account proves itself with its password (or by being signed in);
    -- wrong ones are counted (the error is returned, so the count is committed).
    select c.* into v_error from app_private.confirm_password(v_user.id, password, v_invitation.tenant_id,
      format('An account with %s exists: enter its password to accept.', v_invitation.email)) c;
    if v_error.error_code is not null then
      return query select null::text, null::uuid, null::uuid, null::timestamptz, v_error.error_code, v_error.error_message;
      return;
    end if;
  end if;

  insert into app_public.tenant_users as tu (tenant_id, user_id, roles, email)
    values (v_invitation.tenant_id, v_user.id, v_invitation.roles, v_user.email)
  on conflict on constraint tenant_users_pkey do update set roles = excluded.roles, deleted_at = null;
  update app_public.invitations i set accepted_at = now()
    where i.tenant_id = v_invitation.tenant_id and i.id = v_invitation.id;
  update app_public.users u set email_verified_at = now() where u.id = v_user.id and u.email_verified_at is null;
  return query select c.*, null::text, null::text from app_private.session_claims(v_user.id, v_invitation.tenant_id) c;
end;
$$;
comment on function app_hidden.accept_invitation(text, text, text) is 'Accepts an invitation by its emailed token: creates the account if needed (checking the tenant''s password policy), adds the membership and returns a session in that tenant. For an existing account not signed in, a wrong password is returned as error_code CREDS (or LOCKD) and counted (app_private.confirm_password).';

--------------------------------------------------------------------------------
-- Members and roles.
--------------------------------------------------------------------------------

create or replace function app_private.assert_keeps_an_owner(tenant_id uuid, except_user uuid) returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.assert_keeps_an_owner(uuid, uuid) is 'Raises unless the tenant keeps another active owner besides the given user.';

create or replace function app_public.change_member_roles(user_id uuid, roles text[]) returns app_public.tenant_users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.change_member_roles(uuid, text[]) is 'Sets a member''s roles. Admins move people between member and viewer; only owners grant or remove admin and owner; the last owner cannot step down.';

create or replace function app_public.remove_member(user_id uuid) returns app_public.tenant_users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.remove_member(uuid) is 'Removes a member (or yourself) from the organisation. Their access ends with their next request, whatever their token says.';

--------------------------------------------------------------------------------
-- Passwords.
--------------------------------------------------------------------------------

-- One hit in a fixed window; true while the scope's key stays within max_hits.
create or replace function app_private.throttle_hit(scope text, key text, max_hits integer, per interval) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.throttle_hit(text, text, integer, interval) is 'Counts one hit for (scope, key) in the current fixed window of length per; true while the window holds at most max_hits.';

create or replace function app_hidden.request_password_reset(email text, client_ip text default null) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_hidden.request_password_reset(text, text) is 'Emails a password reset link (valid one hour) if an account exists, at most 3 an hour per account and 10 requests an hour per client address (silently). Always returns true.';

create or replace function app_public.reset_password(token text, new_password text) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.reset_password(text, text) is 'Sets a new password with an emailed reset token (single use, one hour), checked against the strictest policy of the user''s organisations; also lifts a lockout and ends every session of the account.';

-- Moved to app_hidden (plugins/reauthentication.ts): a wrong current password is returned, so that it is counted.
drop function if exists app_public.change_password(text, text);
create or replace function app_hidden.change_password(old_password text, new_password text)
  returns table (error_code text, error_message text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_user_id uuid := app_public.current_user_id();
  v_error record;
  v_hash text;
begin
  if v_user_id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in first.' using errcode = 'DNIED';
  end if;
  select c.* into v_error
    from app_private.confirm_password(v_user_id, old_password, app_public.current_tenant_id(), 'Your current password is not correct.') c;
  if v_error.error_code is not null then
    return query select v_error.error_code, v_error.error_message;
    return;
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
  return query select null::text, null::text;
end;
$$;
comment on function app_hidden.change_password(text, text) is 'Changes your password after checking the current one (wrong ones are counted and lock the check like sign-in failures, returned as an error row), against the strictest policy of your organisations; your other sessions end.';

--------------------------------------------------------------------------------
-- Maintenance: expired tokens and invitations.
--------------------------------------------------------------------------------

create or replace function app_private.cleanup_expired_tokens() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.cleanup_expired_tokens() is 'Deletes expired password reset tokens, the tokens of closed invitations, expired sessions, sign-ups, two-factor challenges and email confirmation links, old throttle windows and stale sign-in failures; run by the scheduled maintenance job.';
