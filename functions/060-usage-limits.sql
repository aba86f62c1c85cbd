--------------------------------------------------------------------------------
-- Plan limits and metered usage. A limit is the plan's column plus every
-- active add-on of that type; null means unlimited. Metered events (emails
-- sent, campaigns started, warm-ups) are counted per billing period in
-- sharded counters so concurrent senders do not queue on one row; gauges
-- (contacts, domains, email accounts, members) are in
-- functions/250-billing-gauges.sql; the contacts gauge uses the scheme below
-- too, with its own lock and budget key.
--
-- Exactness without a hot row. Writers far from the limit take the tenant's
-- metric lock in SHARED mode (they do not wait for each other) and add to the
-- counter shard of their backend; near the limit they take it EXCLUSIVELY,
-- which waits until every shared holder has committed or rolled back, and
-- re-count. A shared ("lockless") writer must re-read the usage after taking
-- the lock and find more than N·B remaining, where N is the most transactions
-- that can be open at once (max_connections + max_prepared_transactions) and
-- B the most one transaction may add without the exclusive lock
-- (usage_lockless_budget(), tracked per transaction). Why that is exact: take
-- the last shared re-read R before an exclusive holder (or now). Everything
-- committed before it is in R's count u; everything added later by shared
-- writers comes from transactions open at that moment (no shared writer reads
-- after R), at most N of them, at most B each, so the total stays at most
-- u + N·B < limit. An exclusive holder sees every committed event (no shared
-- holder is left) and checks exactly. A per-transaction budget also means a
-- transaction that sends many messages eventually asks for the exclusive
-- lock while holding the shared one; two such transactions meeting at the
-- limit make PostgreSQL pick one as a deadlock victim (40P01, retried) -- the
-- limit still holds. The count must be re-read with a fresh snapshot, so the
-- function refuses to run under REPEATABLE READ or SERIALIZABLE.
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
  -- Static SQL (a CASE over the limit columns), not EXECUTE: its plan is
  -- cached, and every claimed email asks (benchmark figure 6).
  return query
    select p.name::text,
           case when l.value is null then null
                else l.value + coalesce((
                  select sum(a.quantity) from app_public.subscription_addons a
                  where a.tenant_id = effective_limit.tenant_id and a.subscription_id = s.id and a.is_active and a.addon_type = v_column), 0)
           end
    from app_public.subscriptions s
    join app_public.plans p on p.id = s.plan_id
    cross join lateral (select case v_column
        when 'max_emails_per_month' then p.max_emails_per_month::bigint
        when 'max_campaigns_per_month' then p.max_campaigns_per_month::bigint
        when 'max_warmups' then p.max_warmups::bigint
        when 'max_contacts' then p.max_contacts::bigint
        when 'max_domains' then p.max_domains::bigint
        when 'max_email_accounts' then p.max_email_accounts::bigint
        when 'max_users' then p.max_users::bigint
      end as value) l
    where s.tenant_id = effective_limit.tenant_id and s.status <> 'canceled';
end;
$$;
comment on function app_private.effective_limit(uuid, text) is 'The tenant''s current plan name and its limit for a metric, add-ons included (null limit: unlimited). No row when the tenant has no current subscription.';

create or replace function app_private.open_usage_period(tenant_id uuid) returns timestamptz
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select up.period_start from app_public.usage_periods up
  where up.tenant_id = open_usage_period.tenant_id and up.closed_at is null
  );
end;
$$;
comment on function app_private.open_usage_period(uuid) is 'Start of the tenant''s open billing period.';

create or replace function app_private.metered_usage(tenant_id uuid, metric text, period_start timestamptz default null) returns bigint
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select coalesce(sum(c.value), 0)::bigint from app_private.usage_counters c
  where c.tenant_id = metered_usage.tenant_id and c.metric = metered_usage.metric
    and c.period_start = coalesce(metered_usage.period_start, app_private.open_usage_period(metered_usage.tenant_id))
  );
end;
$$;
comment on function app_private.metered_usage(uuid, text, timestamptz) is 'Events counted so far in a billing period (default: the open one).';

create or replace function app_private.usage_noun(metric text, quantity bigint) returns text
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case metric
    when 'emails_sent' then case when quantity = 1 then 'email per month' else 'emails per month' end
    when 'campaigns_started' then case when quantity = 1 then 'campaign start per month' else 'campaign starts per month' end
    when 'warmups' then case when quantity = 1 then 'inbox warming up' else 'inboxes warming up' end
    when 'contacts' then case when quantity = 1 then 'contact' else 'contacts' end
    when 'domains' then case when quantity = 1 then 'sending domain' else 'sending domains' end
    when 'email_accounts' then case when quantity = 1 then 'email account' else 'email accounts' end
    when 'users' then case when quantity = 1 then 'member' else 'members' end
  end;
$$;
comment on function app_private.usage_noun(text, bigint) is 'What a quantity of a metric is called in messages ("1 sending domain", "500 emails per month").';

create or replace function app_private.limit_exceeded_message(
  plan_name text,
  metric text,
  limit_value bigint,
  used bigint,
  requested bigint default 1
) returns text
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select format('Your %s plan allows %s %s; %s already used%s. Upgrade the plan or buy an add-on to go further.',
    plan_name, to_char(limit_value, 'FM999,999,999,990'), app_private.usage_noun(metric, limit_value),
    to_char(used, 'FM999,999,999,990'),
    case when requested > 1 then format(', so %s more do not fit', to_char(requested, 'FM999,999,999,990')) else '' end);
$$;
comment on function app_private.limit_exceeded_message(text, text, bigint, bigint, bigint) is 'The PLAN_LIMIT_REACHED message: names the plan, the limit and the current usage (and how many were asked for, when more than one).';

create or replace function app_private.raise_limit_exceeded(
  plan_name text,
  metric text,
  limit_value bigint,
  used bigint,
  requested bigint default 1
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  raise exception '%', app_private.limit_exceeded_message(plan_name, metric, limit_value, used, requested)
    using errcode = 'LIMIT',
          detail = json_build_object('metric', metric, 'plan', plan_name, 'limit', limit_value, 'used', used, 'requested', requested)::text;
end;
$$;
comment on function app_private.raise_limit_exceeded(text, text, bigint, bigint, bigint) is 'Raises the PLAN_LIMIT_REACHED error (SQLSTATE LIMIT) with a machine-readable DETAIL {metric, plan, limit, used, requested}.';

create or replace function app_private.usage_lockless_budget() returns bigint
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select 25::bigint;
$$;
comment on function app_private.usage_lockless_budget() is 'B: how many events of one metric one transaction may count without the exclusive lock (see the header of functions/060-usage-limits.sql).';

create or replace function app_private.usage_lockless_margin() returns bigint
  language sql stable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select (current_setting('max_connections')::bigint + current_setting('max_prepared_transactions')::bigint)
         * app_private.usage_lockless_budget();
$$;
comment on function app_private.usage_lockless_margin() is 'N·B: writers count without the exclusive lock only while more than this much of the limit remains.';

create or replace function app_private.lockless_budget_left(budget_key text, amount bigint) returns boolean
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce((nullif(current_setting('penguinmails.usage_lockless', true), '')::jsonb ->> budget_key)::bigint, 0) + amount
         <= app_private.usage_lockless_budget();
$$;
comment on function app_private.lockless_budget_left(text, bigint) is 'True while this transaction may still add `amount` to the counter named `budget_key` under the shared lock (B per transaction; see the header).';

create or replace function app_private.spend_lockless_budget(budget_key text, amount bigint) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select set_config('penguinmails.usage_lockless',
    jsonb_set(coalesce(nullif(current_setting('penguinmails.usage_lockless', true), ''), '{}')::jsonb, array[budget_key],
              to_jsonb(coalesce((nullif(current_setting('penguinmails.usage_lockless', true), '')::jsonb ->> budget_key)::bigint, 0) + amount))::text,
    true);
$$;
comment on function app_private.spend_lockless_budget(text, bigint) is 'Records, for the rest of the transaction, that `amount` was added to `budget_key` under the shared lock.';

create or replace function app_private.assert_may_send(tenant_id uuid, metric text) returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_subscription app_public.subscriptions;
  v_plan text;
begin
  select s.* into v_subscription from app_public.subscriptions s
    where s.tenant_id = assert_may_send.tenant_id and s.status <> 'canceled';
  if v_subscription.id is null then
    raise exception 'This organisation has no active subscription; choose a plan to continue.' using errcode = 'LIMIT';
  end if;
  if v_subscription.status = 'unpaid' and metric in ('emails_sent', 'campaigns_started') then
    select p.name into v_plan from app_public.plans p where p.id = v_subscription.plan_id;
    raise exception 'Sending is suspended: the payment for your % plan is overdue (since %). Pay the open invoice or update your payment method; sending resumes as soon as the payment succeeds.',
        v_plan, to_char(coalesce(v_subscription.past_due_since, v_subscription.updated) at time zone 'UTC', 'YYYY-MM-DD')
      using errcode = 'LIMIT',
            detail = json_build_object('metric', metric, 'plan', v_plan, 'status', 'unpaid')::text;
  end if;
end;
$$;
comment on function app_private.assert_may_send(uuid, text) is 'Refuses (LIMIT) metered work for a tenant without a current subscription, and sends or campaign starts while the subscription is unpaid (dunning).';

create or replace function app_private.count_usage_event(tenant_id uuid, period_start timestamptz, metric text, amount integer) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  -- One shard per backend: a transaction that counts several times always
  -- updates the same row, so two of them cannot deadlock on shard rows.
  insert into app_private.usage_counters as c (tenant_id, period_start, metric, shard, value)
    values (count_usage_event.tenant_id, count_usage_event.period_start, count_usage_event.metric,
            (pg_backend_pid() % 16)::smallint, amount)
  on conflict on constraint usage_counters_pkey do update set value = c.value + excluded.value;
end;
$$;
comment on function app_private.count_usage_event(uuid, timestamptz, text, integer) is 'Adds to this backend''s shard of a metered counter.';

create or replace function app_private.consume_usage(tenant_id uuid, metric text, amount integer default 1) returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_period timestamptz;
  v_plan text;
  v_limit bigint;
  v_used bigint;
  v_lock bigint;
  v_spent_key text;
begin
  if metric is null or metric not in ('emails_sent', 'campaigns_started', 'warmups') then
    raise exception 'Metric "%" is not metered; expected emails_sent, campaigns_started or warmups.', metric using errcode = 'INVAL';
  end if;
  if amount is null or amount < 1 then
    raise exception 'Usage is counted in positive amounts, not %.', amount using errcode = 'INVAL';
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'consume_usage needs READ COMMITTED (it re-reads the count after locking), not %.', current_setting('transaction_isolation')
      using errcode = '25001';
  end if;
  perform app_private.assert_may_send(tenant_id, metric);
  v_period := app_private.open_usage_period(tenant_id);
  if v_period is null then
    raise exception 'This organisation has no open billing period.' using errcode = 'LIMIT';
  end if;
  select l.plan_name, l.limit_value into v_plan, v_limit from app_private.effective_limit(tenant_id, metric) l;

  if v_limit is null then
    perform app_private.count_usage_event(tenant_id, v_period, metric, amount);
    return app_private.metered_usage(tenant_id, metric, v_period);
  end if;

  v_lock := hashtextextended('usage:' || tenant_id::text || ':' || metric, 0);
  v_spent_key := tenant_id::text || ':' || metric;
  v_used := app_private.metered_usage(tenant_id, metric, v_period);
  if app_private.lockless_budget_left(v_spent_key, amount) and v_limit - v_used > app_private.usage_lockless_margin() then
    perform pg_advisory_xact_lock_shared(v_lock);
    v_used := app_private.metered_usage(tenant_id, metric, v_period);
    if v_limit - v_used > app_private.usage_lockless_margin() then
      perform app_private.spend_lockless_budget(v_spent_key, amount);
      perform app_private.count_usage_event(tenant_id, v_period, metric, amount);
      return v_used + amount;
    end if;
  end if;

  -- Near the limit (or past this transaction's budget): wait for every
  -- writer in flight, then count exactly.
  perform pg_advisory_xact_lock(v_lock);
  v_used := app_private.metered_usage(tenant_id, metric, v_period);
  if v_used + amount > v_limit then
    perform app_private.raise_limit_exceeded(v_plan, metric, v_limit, v_used, amount);
  end if;
  perform app_private.count_usage_event(tenant_id, v_period, metric, amount);
  return v_used + amount;
end;
$$;
comment on function app_private.consume_usage(uuid, text, integer) is 'Counts `amount` of a metered event (emails_sent, campaigns_started, warmups) in the open period and returns the new total; refuses with LIMIT (nothing counted) when it would exceed the plan limit, or when sending while the subscription is unpaid. Exact under concurrency; see the header of functions/060-usage-limits.sql.';
