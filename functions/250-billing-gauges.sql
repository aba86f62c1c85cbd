--------------------------------------------------------------------------------
-- Gauges: how many contacts (leads), sending domains, email accounts and
-- active members each tenant has, in app_private.resource_counts, kept exact
-- by statement-level triggers with transition tables (one grouped pass per
-- statement, so a bulk insert of 100k leads costs one pass, not 100k), and
-- checked against the plan at the moment of the write.
--
-- Domains, inboxes and members: the gauge row is updated in the same
-- statement that adds the rows and stays locked until commit, so two
-- transactions adding rows for one tenant serialise on it: the second sees
-- the first's total and cannot overshoot. Contacts, written far more often
-- (API, imports, CRM syncs), are sharded per backend and kept exact like
-- metered usage (functions/060-usage-limits.sql): far from the limit writers
-- share a lock and do not wait for each other; near it they take it
-- exclusively and count exactly.
-- Only growth is checked: after a downgrade, a tenant above its new limit
-- keeps everything it has and can delete freely, but cannot add until it is
-- back under the limit. tenant_id never changes on these tables (composite
-- foreign keys and RLS forbid it), so inserts and deletes are all that count,
-- plus membership changes (tenant_users.deleted_at) for members.
--
-- Members: every active membership (any role) takes a seat. Open invitations
-- reserve a seat too: inviting is refused when members + open, unexpired
-- invitations would exceed the limit, so an accepted invitation normally fits;
-- accepting is checked again against the members gauge (after a downgrade it
-- may not fit any more).
--------------------------------------------------------------------------------

-- (It returned the new value once; a return type cannot be replaced in place.)
drop function if exists app_private.gauge_change(uuid, text, bigint);
create function app_private.gauge_change(tenant_id uuid, resource text, delta bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_used bigint;
  v_plan text;
  v_limit bigint;
  v_lock bigint;
  v_budget_key text;
  v_exact boolean;
  v_shard integer;
begin
  if delta = 0 then
    return;
  end if;
  if resource <> 'contacts' then
    -- One row per tenant, locked until commit: writers of one tenant queue here.
    if delta < 0 then
      update app_private.resource_counts rc set value = rc.value + delta
        where rc.tenant_id = gauge_change.tenant_id and rc.resource = gauge_change.resource and rc.shard = 0;
      return;
    end if;
    insert into app_private.resource_counts as rc (tenant_id, resource, value)
      values (gauge_change.tenant_id, gauge_change.resource, delta)
    on conflict on constraint resource_counts_pkey do update set value = rc.value + excluded.value
    returning rc.value into v_used;
    select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(gauge_change.tenant_id, gauge_change.resource) l;
    if v_limit is not null and v_used > v_limit then
      perform app_private.raise_limit_exceeded(v_plan, resource, v_limit, v_used - delta, delta);
    end if;
    return;
  end if;

  -- Contacts: sharded, exact the way consume_usage is (functions/060-usage-limits.sql).
  if delta > 0 then
    select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(gauge_change.tenant_id, 'contacts') l;
  end if;
  if v_limit is not null then
    v_lock := hashtextextended('gauge:' || tenant_id::text || ':contacts', 0);
    v_budget_key := 'gauge:' || tenant_id::text || ':contacts';
    v_used := app_private.gauge_value(tenant_id, 'contacts');
    v_exact := true;
    if app_private.lockless_budget_left(v_budget_key, delta) and v_limit - v_used > app_private.usage_lockless_margin() then
      perform pg_advisory_xact_lock_shared(v_lock);
      v_used := app_private.gauge_value(tenant_id, 'contacts');
      v_exact := v_limit - v_used <= app_private.usage_lockless_margin();
    end if;
    if not v_exact then
      perform app_private.spend_lockless_budget(v_budget_key, delta);
    else
      -- Near the limit (or past this transaction's budget): wait for every writer in flight, then count exactly.
      perform pg_advisory_xact_lock(v_lock);
      v_used := app_private.gauge_value(tenant_id, 'contacts');
      if v_used + delta > v_limit then
        perform app_private.raise_limit_exceeded(v_plan, 'contacts', v_limit, v_used, delta);
      end if;
    end if;
  end if;
  if delta < 0 then
    -- Into a shard that exists (this backend's if it has one): an insert here
    -- would fail while the tenant itself is being deleted. Chosen first, then
    -- updated by its key: on Citus (where this runs in a trigger on a shard)
    -- an UPDATE filtered by a subquery is refused.
    select x.shard into v_shard from app_private.resource_counts x
      where x.tenant_id = gauge_change.tenant_id and x.resource = 'contacts'
      order by x.shard = pg_backend_pid() % 16 desc, x.shard
      limit 1;
    update app_private.resource_counts rc set value = rc.value + delta
      where rc.tenant_id = gauge_change.tenant_id and rc.resource = 'contacts' and rc.shard = v_shard;
    return;
  end if;
  insert into app_private.resource_counts as rc (tenant_id, resource, shard, value)
    values (gauge_change.tenant_id, 'contacts', pg_backend_pid() % 16, delta)
  on conflict on constraint resource_counts_pkey do update set value = rc.value + excluded.value;
end;
$$;
comment on function app_private.gauge_change(uuid, text, bigint) is 'Adds delta to a tenant''s gauge and, when it would grow past the plan limit, raises PLAN_LIMIT_REACHED so the statement that grew it is undone. Domains, inboxes and members: one row locked until commit. Contacts: the backend''s shard, exact under concurrency like consume_usage.';

create or replace function app_private.gauge_value(tenant_id uuid, resource text) returns bigint
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select coalesce((select sum(rc.value) from app_private.resource_counts rc
                   where rc.tenant_id = gauge_value.tenant_id and rc.resource = gauge_value.resource), 0)::bigint
  );
end;
$$;
comment on function app_private.gauge_value(uuid, text) is 'How many of a resource (contacts, domains, email_accounts, users) the tenant has now (the sum over its shards).';

create or replace function app_private.tg__gauge_count() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  r record;
begin
  if tg_op = 'INSERT' then
    for r in select n.tenant_id, count(*) as n from new_rows n group by n.tenant_id order by n.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, tg_argv[0], r.n);
    end loop;
  elsif tg_op = 'DELETE' then
    for r in select o.tenant_id, count(*) as n from old_rows o group by o.tenant_id order by o.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, tg_argv[0], -r.n);
    end loop;
  end if;
  return null;
end;
$$;
comment on function app_private.tg__gauge_count() is 'Statement-level trigger: counts inserted/deleted rows per tenant into the gauge named by the trigger argument.';

create or replace function app_private.tg__gauge_members() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  r record;
begin
  if tg_op = 'INSERT' then
    for r in select n.tenant_id, count(*) as delta from new_rows n where n.deleted_at is null
             group by n.tenant_id order by n.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, 'users', r.delta);
    end loop;
  elsif tg_op = 'DELETE' then
    for r in select o.tenant_id, count(*) as delta from old_rows o where o.deleted_at is null
             group by o.tenant_id order by o.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, 'users', -r.delta);
    end loop;
  else
    for r in select x.tenant_id, sum(x.d) as delta from (
               select n.tenant_id, 1 as d from new_rows n where n.deleted_at is null
               union all
               select o.tenant_id, -1 from old_rows o where o.deleted_at is null
             ) x group by x.tenant_id having sum(x.d) <> 0 order by x.tenant_id loop
      perform app_private.gauge_change(r.tenant_id, 'users', r.delta);
    end loop;
  end if;
  return null;
end;
$$;
comment on function app_private.tg__gauge_members() is 'Statement-level trigger: keeps the users gauge equal to the active (not deleted) memberships per tenant.';

do $$
declare
  t record;
begin
  for t in select * from (values ('leads', 'contacts'), ('domains', 'domains'), ('email_accounts', 'email_accounts')) as v (tbl, resource) loop
    execute format('create or replace trigger _800_gauge_insert after insert on app_public.%I referencing new table as new_rows '
                   'for each statement execute function app_private.tg__gauge_count(%L)', t.tbl, t.resource);
    execute format('create or replace trigger _800_gauge_delete after delete on app_public.%I referencing old table as old_rows '
                   'for each statement execute function app_private.tg__gauge_count(%L)', t.tbl, t.resource);
  end loop;
end;
$$;

create or replace trigger _800_gauge_insert after insert on app_public.tenant_users
  referencing new table as new_rows for each statement execute function app_private.tg__gauge_members();
create or replace trigger _800_gauge_update after update on app_public.tenant_users
  referencing old table as old_rows new table as new_rows for each statement execute function app_private.tg__gauge_members();
create or replace trigger _800_gauge_delete after delete on app_public.tenant_users
  referencing old table as old_rows for each statement execute function app_private.tg__gauge_members();

-- Invitations reserve seats.
create or replace function app_private.assert_seats_for_invitations(tenant_id uuid, invited bigint) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_members bigint;
  v_open bigint;
  v_plan text;
  v_limit bigint;
begin
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(assert_seats_for_invitations.tenant_id, 'users') l;
  if v_limit is null then
    return;
  end if;
  -- Lock the members gauge: invitations and acceptances of one tenant queue here.
  insert into app_private.resource_counts as rc (tenant_id, resource, value)
    values (assert_seats_for_invitations.tenant_id, 'users', 0)
  on conflict on constraint resource_counts_pkey do update set value = rc.value
  returning rc.value into v_members;
  select count(*) into v_open from app_public.invitations i
    where i.tenant_id = assert_seats_for_invitations.tenant_id
      and i.accepted_at is null and i.revoked_at is null and i.expires_at > now();
  if v_members + v_open > v_limit then
    raise exception 'Your % plan allows % %; % already taken (% active, % invited). Upgrade the plan, buy an add-on or revoke an open invitation to invite more.',
        v_plan, v_limit, app_private.usage_noun('users', v_limit), v_members + v_open - invited, v_members, v_open - invited
      using errcode = 'LIMIT',
            detail = json_build_object('metric', 'users', 'plan', v_plan, 'limit', v_limit, 'used', v_members + v_open - invited,
                                       'members', v_members, 'open_invitations', v_open - invited, 'requested', invited)::text;
  end if;
end;
$$;
comment on function app_private.assert_seats_for_invitations(uuid, bigint) is 'Refuses (PLAN_LIMIT_REACHED) new invitations when active members plus open invitations would exceed the plan''s member limit.';

create or replace function app_private.tg_invitations__reserve_seats() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  r record;
begin
  for r in select n.tenant_id, count(*) as n from new_rows n
           where n.accepted_at is null and n.revoked_at is null
           group by n.tenant_id order by n.tenant_id loop
    perform app_private.assert_seats_for_invitations(r.tenant_id, r.n);
  end loop;
  return null;
end;
$$;
comment on function app_private.tg_invitations__reserve_seats() is 'Statement-level trigger: an open invitation reserves a member seat.';

create or replace trigger _800_reserve_seats after insert on app_public.invitations
  referencing new table as new_rows for each statement execute function app_private.tg_invitations__reserve_seats();
