--------------------------------------------------------------------------------
-- Users and tenants: creation (used by registration, invitations, the demo
-- seed and tests) and the "who am I" queries.
--------------------------------------------------------------------------------

create or replace function app_private.hash_password(password text) returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  -- bcrypt; the cost can be lowered per database for tests (app.password_hash_cost).
  select public.crypt(password, public.gen_salt('bf', coalesce(nullif(current_setting('app.password_hash_cost', true), '')::int, 10)));
$$;
comment on function app_private.hash_password(text) is 'bcrypt hash of a password (pgcrypto).';

create or replace function app_private.create_user(
  email text,
  password text default null,
  name text default null,
  email_verified boolean default false
) returns app_public.users
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.create_user(text, text, text, boolean) is 'Creates a user with their secrets and default preferences. Password rules are checked by the callers, which know the tenant policy.';

create or replace function app_private.create_tenant(
  name text,
  owner_user_id uuid,
  plan_slug text default 'free'
) returns app_public.tenants
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.create_tenant(text, uuid, text) is 'Creates a tenant with its owner membership, default settings, default workspace and tags, a subscription to the given plan and its first usage period.';

create or replace function app_public.current_user() returns app_public.users
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select u.* from app_public.users u where u.id = app_public.current_user_id() and u.deleted_at is null;
$$;
comment on function app_public.current_user() is 'The signed-in user, or null.';

create or replace function app_public.current_tenant() returns app_public.tenants
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select t.* from app_public.tenants t where t.id = app_public.current_tenant_id();
$$;
comment on function app_public.current_tenant() is 'The tenant this request acts in, or null when the token names no tenant the user may access.';

create or replace function app_public.tenants_my_roles(tenant app_public.tenants) returns text[]
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when tenant.id = app_public.current_tenant_id() then app_public.current_tenant_roles() end;
$$;
comment on function app_public.tenants_my_roles(app_public.tenants) is 'Your roles in this tenant.';

--------------------------------------------------------------------------------
-- Display names (users.name, tenants.name) appear in the platform's own
-- emails (invitations): keep them names, not messages.
--------------------------------------------------------------------------------

create or replace function app_private.display_name_problem(name text, what text) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case
    when name is null then null
    when length(name) > 100 then format('%s must be at most 100 characters long.', what)
    when name ~ '[\x01-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]'
      then format('%s cannot contain line breaks, tabs, control or text-direction characters.', what)
    when name ~* '(://|\mwww\.|[a-z0-9-]+\.[a-z]{2,}(/|\M)|[<>@])'
      then format('%s cannot contain web or email addresses (or < > @).', what)
  end;
$$;
comment on function app_private.display_name_problem(text, text) is 'Why a display name is not acceptable (over 100 characters, control or text-direction characters, a URL, domain or email address), or null.';

create or replace function app_private.tg__display_name() returns trigger
  language plpgsql volatile security definer -- the API roles cannot reach app_private
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_problem text := app_private.display_name_problem(new.name, tg_argv[0]);
begin
  if v_problem is not null then
    raise exception '%', v_problem using errcode = 'INVAL', column = 'name';
  end if;
  return null;
end;
$$;
comment on function app_private.tg__display_name() is 'Trigger (after insert or update of name; after row-level security has answered): refuses names that display_name_problem rejects, with INVAL. Names stored before the rule are checked when they change.';

drop trigger if exists _300_display_name on app_public.users;
create trigger _300_display_name after insert or update of name on app_public.users
  for each row execute function app_private.tg__display_name('Your name');
drop trigger if exists _300_display_name on app_public.tenants;
create trigger _300_display_name after insert or update of name on app_public.tenants
  for each row execute function app_private.tg__display_name('The organisation name');
