--------------------------------------------------------------------------------
-- Closing an organisation, reopening it, purging it; deleting one's account.
--
--   open ── closeTenant (an owner) ──▶ closed ── purge_after passes ──▶ purged
--     ▲                                  │        (tenant_purge job)
--     └──────── reopenTenant (an owner) ─┘
--
-- Closed: tenants.deleted_at is set, so no member session, API key or staff
-- access session acts in it any more (membership_roles, enter_api_key and
-- live_staff_access_session read only live tenants); its campaigns were
-- paused and its queued replies cancelled; the paid subscription ended at
-- once and Stripe is told (billing_stripe_sync); inbox polls and DNS checks
-- skip it. Its owners still sign in (to a session without a tenant) and can
-- reopen it until purge_after; the campaigns stay paused until resumed.
-- Purged: every row of the tenant is deleted from every table that has a
-- tenant_id, but the tenant row itself, its subscriptions and its payments
-- (the billing records the law asks us to keep).
--------------------------------------------------------------------------------

create or replace function app_private.soft_delete_grace() returns interval
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select interval '30 days';
$$;
comment on function app_private.soft_delete_grace() is 'How long a soft-deleted row can be restored before it is deleted for good: a closed organisation (reopenTenant), a deal or CRM account (restoreDeal, restoreCrmAccount), a removed membership (invited again). docs/privacy.md lists each table.';

create or replace function app_public.close_tenant(confirm_name text)
  returns table (tenant_id uuid, tenant_name text, closed_at timestamptz, purge_after timestamptz)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_tenant app_public.tenants;
  v_now timestamptz := now();
  v_purge_after timestamptz := now() + app_private.soft_delete_grace();
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
comment on function app_public.close_tenant(text) is E'@resultTypeName TenantClosure\nCloses the current organisation (owners; confirm with its exact name): its campaigns pause at once, replies not yet sent are cancelled, a paid subscription ends now (Stripe is told), and no member or API key can act in it any more. Its owners can reopen it for 30 days (reopenTenant); then its data is deleted for good, except its subscriptions and payments.';

create or replace function app_private.closed_tenants_owned_by(user_id uuid) returns setof app_public.tenants
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.closed_tenants_owned_by(uuid) is 'The closed organisations this user owns that can still be reopened.';

create or replace function app_public.my_closed_tenants()
  returns table (tenant_id uuid, tenant_name text, closed_at timestamptz, purge_after timestamptz)
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_hidden.current_api_key_id() is not null then
    return;
  end if;
  return query select t.id, t.name, t.deleted_at, t.purge_after from app_private.closed_tenants_owned_by(app_public.current_user_id()) t;
end;
$$;
comment on function app_public.my_closed_tenants() is E'@resultTypeName ClosedTenant\nThe organisations you own that were closed and can still be reopened (reopenTenant), with the date their data will be deleted.';

create or replace function app_public.reopen_tenant(tenant_id uuid) returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_public.reopen_tenant(uuid) is 'Reopens an organisation you own that was closed less than 30 days ago: members and API keys can act in it again (switchTenant to it). Its campaigns stay paused until resumed; the subscription is on the Free plan (changePlan to upgrade again).';

--------------------------------------------------------------------------------
-- The purge.
--------------------------------------------------------------------------------

create or replace function app_private.tenant_purge_plan()
  returns table (step text, schema_name text, table_name text, columns text[])
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.tenant_purge_plan() is 'How purge_tenant empties a tenant''s rows: first "clear" steps (references to set null, where keys form a loop), then a "delete" step per table with a tenant_id (every app_public/app_private table but tenants, subscriptions and payments), each after the tables that reference it.';

create or replace function app_private.tenant_purge_tables() returns table (schema_name text, table_name text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query select p.schema_name, p.table_name from app_private.tenant_purge_plan() p where p.step = 'delete';
end;
$$;
comment on function app_private.tenant_purge_tables() is 'The tables purge_tenant empties of a tenant''s rows, in the order it deletes them.';

create or replace function app_private.purge_tenant(tenant_id uuid) returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
$$;
comment on function app_private.purge_tenant(uuid) is 'Deletes every row of a closed tenant whose grace period is over, in every table but the tenant row, its subscriptions and its payments; fails (changing nothing) if any row would be left. Returns how many rows were deleted; 0 for a tenant not due.';

create or replace function app_private.queue_tenant_purges() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
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
comment on function app_private.queue_tenant_purges() is 'Run daily (tenant_purge_sweep): queues a tenant_purge job for each closed organisation whose grace period is over (at most 100 a run). Returns how many.';

--------------------------------------------------------------------------------
-- Deleting one's own account.
--------------------------------------------------------------------------------

-- Moved to app_hidden (plugins/reauthentication.ts): a wrong password is returned, so that it is counted.
drop function if exists app_public.delete_my_account(text);
create or replace function app_hidden.delete_my_account(password text)
  returns table (error_code text, error_message text)
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_user_id uuid := app_public.current_user_id();
  v_error record;
  v_sole text;
  v_memberships integer;
  v_now timestamptz := now();
  v_anonymous text := format('deleted-%s@deleted.invalid', app_public.current_user_id());
begin
  if v_user_id is null or app_hidden.current_api_key_id() is not null then
    raise exception 'Sign in to delete your account.' using errcode = 'DNIED';
  end if;
  select c.* into v_error from app_private.confirm_password(v_user_id, password, app_public.current_tenant_id(), 'Incorrect password.') c;
  if v_error.error_code is not null then
    return query select v_error.error_code, v_error.error_message;
    return;
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
  return query select null::text, null::text;
end;
$$;
comment on function app_hidden.delete_my_account(text) is 'Deletes your account (confirm with your password; a wrong one is returned as an error row and counted, app_private.confirm_password): your memberships end, every session is signed out, and your name and email address are erased. Refused while you are the only owner of an open organisation.';
