--------------------------------------------------------------------------------
-- Plan limits and metered usage. A limit is the plan's column plus every
-- active add-on of that type; null means unlimited. Metered events (emails
-- sent, campaigns started, warm-ups) are counted per billing period in
-- sharded counters so concurrent senders do not queue on one row.
--
-- Exactness without a hot row: a writer only takes the tenant's advisory lock
-- when the remaining allowance is small. Far from the limit, at most
-- max_connections transactions can be in flight, each adding `amount`, so a
-- writer that saw more than max_connections * amount remaining cannot push
-- the total over the limit; near the limit, writers serialise on the lock and
-- re-count.
--------------------------------------------------------------------------------

create or replace function app_private.limit_column(metric text) returns text
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case metric
    when 'emails_sent' then 'max_emails_per_month'
    when 'campaigns_started' then 'max_campaigns_per_month'
    when 'warmups' then 'max_warmups'
    when 'contacts' then 'max_contacts'
    when 'domains' then 'max_domains'
    when 'email_accounts' then 'max_email_accounts'
    when 'users' then 'max_users'
  end;
$$;
comment on function app_private.limit_column(text) is 'The plan column (and add-on type) that limits a usage metric.';

create or replace function app_private.effective_limit(tenant_id uuid, metric text)
  returns table (plan_name text, limit_value bigint)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_column text := app_private.limit_column(metric);
begin
  if v_column is null then
    raise exception 'Unknown usage metric "%".', metric using errcode = 'INVAL';
  end if;
  return query execute format($q$
    select p.name::text,
           case when p.%1$I is null then null
                else p.%1$I::bigint + coalesce((
                  select sum(a.quantity) from app_public.subscription_addons a
                  where a.tenant_id = s.tenant_id and a.subscription_id = s.id and a.is_active and a.addon_type = %2$L), 0)
           end
    from app_public.subscriptions s
    join app_public.plans p on p.id = s.plan_id
    where s.tenant_id = $1 and s.status <> 'canceled'
  $q$, v_column, v_column) using effective_limit.tenant_id;
end;
$$;
comment on function app_private.effective_limit(uuid, text) is 'The tenant''s current plan name and its limit for a metric, add-ons included (null limit: unlimited).';

create or replace function app_private.open_usage_period(tenant_id uuid) returns timestamptz
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select up.period_start from app_public.usage_periods up
  where up.tenant_id = open_usage_period.tenant_id and up.closed_at is null;
$$;
comment on function app_private.open_usage_period(uuid) is 'Start of the tenant''s open billing period.';

create or replace function app_private.metered_usage(tenant_id uuid, metric text, period_start timestamptz default null) returns bigint
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(sum(c.value), 0)::bigint from app_private.usage_counters c
  where c.tenant_id = metered_usage.tenant_id and c.metric = metered_usage.metric
    and c.period_start = coalesce(metered_usage.period_start, app_private.open_usage_period(metered_usage.tenant_id));
$$;
comment on function app_private.metered_usage(uuid, text, timestamptz) is 'Events counted so far in a billing period (default: the open one).';

create or replace function app_private.limit_exceeded_message(plan_name text, metric text, limit_value bigint, used bigint) returns text
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select format('Your %s plan allows %s %s; %s already used. Upgrade the plan or buy an add-on to go further.',
    plan_name, to_char(limit_value, 'FM999,999,999,990'),
    case metric
      when 'emails_sent' then 'emails per month'
      when 'campaigns_started' then 'campaign starts per month'
      when 'warmups' then 'inboxes warming up'
      when 'contacts' then 'contacts'
      when 'domains' then 'sending domains'
      when 'email_accounts' then 'email accounts'
      when 'users' then 'members'
    end,
    to_char(used, 'FM999,999,999,990'));
$$;
comment on function app_private.limit_exceeded_message(text, text, bigint, bigint) is 'The PLAN_LIMIT_REACHED message: names the plan, the limit and the current usage.';

create or replace function app_private.consume_usage(tenant_id uuid, metric text, amount integer default 1) returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_period timestamptz := app_private.open_usage_period(tenant_id);
  v_plan text;
  v_limit bigint;
  v_used bigint;
begin
  if metric not in ('emails_sent', 'campaigns_started', 'warmups') then
    raise exception 'Metric "%" is not metered.', metric using errcode = 'INVAL';
  end if;
  if v_period is null then
    raise exception 'This organisation has no open billing period.' using errcode = 'LIMIT';
  end if;
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(tenant_id, metric) l;
  if v_plan is null then
    raise exception 'This organisation has no active subscription.' using errcode = 'LIMIT';
  end if;
  if v_limit is not null then
    v_used := app_private.metered_usage(tenant_id, metric, v_period);
    if v_limit - v_used <= current_setting('max_connections')::bigint * amount then
      perform pg_advisory_xact_lock(hashtextextended('usage:' || tenant_id::text || ':' || metric, 0));
      v_used := app_private.metered_usage(tenant_id, metric, v_period);
    end if;
    if v_used + amount > v_limit then
      raise exception '%', app_private.limit_exceeded_message(v_plan, metric, v_limit, v_used)
        using errcode = 'LIMIT', detail = json_build_object('metric', metric, 'limit', v_limit, 'used', v_used)::text;
    end if;
  end if;
  insert into app_private.usage_counters as c (tenant_id, period_start, metric, shard, value)
    values (consume_usage.tenant_id, v_period, metric, floor(random() * 16)::smallint, amount)
  on conflict on constraint usage_counters_pkey do update set value = c.value + excluded.value;
  return coalesce(v_used, 0) + amount;
end;
$$;
comment on function app_private.consume_usage(uuid, text, integer) is 'Counts `amount` of a metered event in the open period, refusing (LIMIT, nothing counted) when it would exceed the plan limit. Exact under concurrency; see the header of this file.';
