--------------------------------------------------------------------------------
-- The subscription lifecycle: billing periods and their usage rows, the
-- period roll-over, ending a subscription (with the Free plan to fall back
-- on), and payment state (active → past_due → unpaid, and back on payment).
--
-- Every tenant always has exactly one current (not canceled) subscription:
-- ending one starts a Free subscription at the same instant, so limits and
-- metering never meet a tenant without a plan, and the data stays (above the
-- Free limits a tenant keeps what it has but cannot add).
--------------------------------------------------------------------------------

create or replace function app_private.fallback_plan() returns app_public.plans
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_plan app_public.plans;
begin
  select p.* into v_plan from app_public.plans p where p.slug = 'free';
  if v_plan.id is null then
    raise exception 'The Free plan (slug "free"), which ended subscriptions fall back to, does not exist.' using errcode = 'STATE';
  end if;
  return v_plan;
end;
$$;
comment on function app_private.fallback_plan() is 'The plan a tenant falls back to when its subscription ends: the Free plan (slug free).';

create or replace function app_private.add_billing_period(starts_at timestamptz) returns timestamptz
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select starts_at + interval '1 month';
$$;
comment on function app_private.add_billing_period(timestamptz) is 'End of a monthly billing period that starts at the given instant (calendar month; Jan 31 → Feb 28).';

--------------------------------------------------------------------------------
-- Usage periods.
--------------------------------------------------------------------------------

create or replace function app_private.close_usage_period(tenant_id uuid, period_id uuid, ends_at timestamptz) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_period app_public.usage_periods;
  v_emails_sent bigint;
  v_campaigns_started bigint;
  v_warmups bigint;
begin
  select up.* into v_period from app_public.usage_periods up
    where up.tenant_id = close_usage_period.tenant_id and up.id = close_usage_period.period_id and up.closed_at is null
    for update;
  if v_period.id is null then
    raise exception 'Usage period % of tenant % is not open.', period_id, tenant_id using errcode = 'STATE';
  end if;
  -- The figures are computed before the update, as values: Citus refuses
  -- functions reading tables (stable) taking a column inside an UPDATE.
  v_emails_sent := app_private.metered_usage(v_period.tenant_id, 'emails_sent', v_period.period_start);
  v_campaigns_started := app_private.metered_usage(v_period.tenant_id, 'campaigns_started', v_period.period_start);
  v_warmups := app_private.metered_usage(v_period.tenant_id, 'warmups', v_period.period_start);
  update app_public.usage_periods up set
      closed_at = now(),
      period_end = ends_at,
      emails_sent = v_emails_sent,
      campaigns_started = v_campaigns_started,
      warmups = v_warmups,
      contacts = app_private.gauge_value(v_period.tenant_id, 'contacts'),
      domains = app_private.gauge_value(v_period.tenant_id, 'domains'),
      email_accounts = app_private.gauge_value(v_period.tenant_id, 'email_accounts'),
      users = app_private.gauge_value(v_period.tenant_id, 'users')
    where up.tenant_id = v_period.tenant_id and up.id = v_period.id;
end;
$$;
comment on function app_private.close_usage_period(uuid, uuid, timestamptz) is 'Closes a usage period at ends_at and records its final figures: events counted in the period, and the gauges (contacts, domains, inboxes, members) at that moment.';

create or replace function app_private.start_usage_period(tenant_id uuid, subscription_id uuid, starts_at timestamptz)
  returns app_public.usage_periods
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_sub app_public.subscriptions;
  v_period app_public.usage_periods;
  v_end timestamptz;
  v_month_end timestamptz;
begin
  select s.* into v_sub from app_public.subscriptions s
    where s.tenant_id = start_usage_period.tenant_id and s.id = start_usage_period.subscription_id;
  -- The end as a value: Citus refuses a non-immutable function inside CASE.
  -- Usage periods are monthly: a yearly subscription's year is metered month by month.
  v_month_end := app_private.add_billing_period(starts_at);
  v_end := case when v_sub.current_period_end <= starts_at then v_month_end
                when v_sub.billing_interval = 'year' then least(v_sub.current_period_end, v_month_end)
                else v_sub.current_period_end end;
  insert into app_public.usage_periods (tenant_id, subscription_id, plan_id, period_start, period_end)
    values (start_usage_period.tenant_id, v_sub.id, v_sub.plan_id, starts_at, v_end)
    returning * into v_period;
  return v_period;
end;
$$;
comment on function app_private.start_usage_period(uuid, uuid, timestamptz) is 'Opens the tenant''s next usage period at starts_at, ending with the subscription''s current period (or a month later if that has already passed); under a yearly subscription, at most a month later.';

--------------------------------------------------------------------------------
-- Ending a subscription.
--------------------------------------------------------------------------------

create or replace function app_private.end_subscription(tenant_id uuid, subscription_id uuid, at timestamptz)
  returns app_public.subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old app_public.subscriptions;
  v_new app_public.subscriptions;
  v_period app_public.usage_periods;
begin
  update app_public.subscriptions s set
      status = 'canceled',
      cancelled_at = at,
      cancel_at_period_end = false,
      pending_plan_id = null,
      past_due_since = null
    where s.tenant_id = end_subscription.tenant_id and s.id = end_subscription.subscription_id and s.status <> 'canceled'
    returning * into v_old;
  if v_old.id is null then
    raise exception 'Subscription % is not current; there is nothing to end.', subscription_id using errcode = 'STATE';
  end if;

  insert into app_public.subscriptions (tenant_id, plan_id, status, current_period_start, current_period_end, billing_contact_user_id)
    values (v_old.tenant_id, (app_private.fallback_plan()).id, 'active', at, app_private.add_billing_period(at), v_old.billing_contact_user_id)
    returning * into v_new;

  select up.* into v_period from app_public.usage_periods up
    where up.tenant_id = end_subscription.tenant_id and up.closed_at is null
    for update;
  if v_period.id is null then
    perform app_private.start_usage_period(v_new.tenant_id, v_new.id, at);
  elsif v_period.period_start < at then
    perform app_private.close_usage_period(v_period.tenant_id, v_period.id, at);
    perform app_private.start_usage_period(v_new.tenant_id, v_new.id, at);
  else
    -- The period has only just begun: it becomes the Free plan's.
    update app_public.usage_periods up set subscription_id = v_new.id, plan_id = v_new.plan_id, period_end = v_new.current_period_end
      where up.tenant_id = v_period.tenant_id and up.id = v_period.id;
  end if;
  return v_new;
end;
$$;
comment on function app_private.end_subscription(uuid, uuid, timestamptz) is 'Cancels a current subscription at the given instant and starts a Free one at the same instant (with a new usage period), so the tenant keeps its data and is never without a plan. Returns the Free subscription.';

--------------------------------------------------------------------------------
-- Payment state (dunning).
--------------------------------------------------------------------------------

create or replace function app_private.set_payment_state(tenant_id uuid, subscription_id uuid, status text, at timestamptz)
  returns app_public.subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_before app_public.subscriptions;
  v_after app_public.subscriptions;
begin
  if status not in ('active', 'past_due', 'unpaid') then
    raise exception 'Payment state must be active, past_due or unpaid, not "%".', status using errcode = 'INVAL';
  end if;
  select s.* into v_before from app_public.subscriptions s
    where s.tenant_id = set_payment_state.tenant_id and s.id = set_payment_state.subscription_id
    for update;
  -- Only a payment lifts "unpaid": a later "past_due" from Stripe does not.
  if v_before.id is null or v_before.status = 'canceled' or v_before.status = status
     or (v_before.status = 'unpaid' and status = 'past_due') then
    return v_before;
  end if;
  update app_public.subscriptions s set
      status = set_payment_state.status,
      past_due_since = case when set_payment_state.status = 'active' then null else coalesce(s.past_due_since, at) end
    where s.tenant_id = v_before.tenant_id and s.id = v_before.id
    returning * into v_after;
  if status = 'unpaid' then
    perform app_private.pause_tenant_campaigns(v_after.tenant_id, format(
      'Payment overdue since %s: sending is suspended until the open invoice is paid.',
      to_char(v_after.past_due_since at time zone 'UTC', 'YYYY-MM-DD')));
  elsif status = 'active' and v_before.status = 'unpaid' then
    perform app_private.resume_tenant_campaigns(v_after.tenant_id);
  end if;
  return v_after;
end;
$$;
comment on function app_private.set_payment_state(uuid, uuid, text, timestamptz) is 'Moves a subscription between active, past_due and unpaid: past_due_since is set on the first missed payment and cleared by a payment; becoming unpaid pauses the tenant''s campaigns, and a payment that ends "unpaid" resumes what that pause stopped. Canceled subscriptions are left alone, and only a payment lifts "unpaid".';

create or replace function app_private.apply_dunning(grace interval, at timestamptz default now())
  returns table (tenant_id uuid, subscription_id uuid)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  r record;
begin
  if grace is null or grace < interval '0' then
    raise exception 'The dunning grace period must be zero or more, not %.', grace using errcode = 'INVAL';
  end if;
  -- Candidates across tenants, each then locked by its key (Citus locks rows
  -- only in a query that names its tenant) and skipped if another run has it.
  for r in
    select s.tenant_id, s.id from app_public.subscriptions s
    where s.status = 'past_due' and s.past_due_since <= at - grace
    order by s.past_due_since
  loop
    perform 1 from app_public.subscriptions s
      where s.tenant_id = r.tenant_id and s.id = r.id and s.status = 'past_due' and s.past_due_since <= at - grace
      for update skip locked;
    continue when not found;
    perform app_private.set_payment_state(r.tenant_id, r.id, 'unpaid', at);
    tenant_id := r.tenant_id;
    subscription_id := r.id;
    return next;
  end loop;
end;
$$;
comment on function app_private.apply_dunning(interval, timestamptz) is 'Dunning: subscriptions past due for longer than the grace period become unpaid (campaigns paused, sends refused). Returns the subscriptions it changed; safe to run at any time and more than once.';

--------------------------------------------------------------------------------
-- Roll-over.
--------------------------------------------------------------------------------

create or replace function app_private.roll_over_tenant(tenant_id uuid, at timestamptz default now()) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_period app_public.usage_periods;
  v_sub app_public.subscriptions;
  v_closed integer := 0;
  v_next timestamptz;
  v_next_end timestamptz;
  v_boundary boolean;
begin
  loop
    select up.* into v_period from app_public.usage_periods up
      where up.tenant_id = roll_over_tenant.tenant_id and up.closed_at is null
      for update;
    exit when v_period.id is null or v_period.period_end > at;
    v_next := v_period.period_end;
    -- As a value: Citus refuses a non-immutable function inside CASE in an
    -- UPDATE of a distributed table.
    select s.* into v_sub from app_public.subscriptions s
      where s.tenant_id = roll_over_tenant.tenant_id and s.status <> 'canceled'
      for update;
    v_next_end := app_private.add_billing_interval(v_next, coalesce(v_sub.billing_interval, 'month'));
    -- Whether this usage period's end is also the subscription period's
    -- (ours not yet moved, or one Stripe has already moved on to start here):
    -- always for monthly billing; once a year for yearly billing, whose
    -- scheduled plan change or cancellation waits for the year's end.
    v_boundary := v_sub.id is not null and (v_sub.current_period_end <= v_next or v_sub.current_period_start >= v_next);

    if v_sub.id is not null and v_sub.cancel_at_period_end and v_boundary then
      -- Ends the subscription, closes this period and opens the Free one.
      perform app_private.end_subscription(v_sub.tenant_id, v_sub.id, v_next);
    else
      if v_sub.id is not null then
        update app_public.subscriptions s set
            plan_id = case when v_boundary then coalesce(s.pending_plan_id, s.plan_id) else s.plan_id end,
            pending_plan_id = case when v_boundary then null else s.pending_plan_id end,
            -- Stripe moves the period of the subscriptions it bills (webhooks);
            -- ours move here.
            current_period_start = case when s.current_period_end <= v_next then v_next else s.current_period_start end,
            current_period_end = case when s.current_period_end <= v_next then v_next_end else s.current_period_end end
          where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
      end if;
      perform app_private.close_usage_period(v_period.tenant_id, v_period.id, v_next);
      if v_sub.id is null then
        -- Cannot normally happen (see the top of this file); heal it.
        insert into app_public.subscriptions (tenant_id, plan_id, status, current_period_start, current_period_end)
          values (v_period.tenant_id, (app_private.fallback_plan()).id, 'active', v_next, app_private.add_billing_period(v_next))
          returning * into v_sub;
      end if;
      perform app_private.start_usage_period(v_sub.tenant_id, v_sub.id, v_next);
    end if;
    v_closed := v_closed + 1;
  end loop;
  return v_closed;
end;
$$;
comment on function app_private.roll_over_tenant(uuid, timestamptz) is 'Closes every usage period of the tenant that ended by `at` (final figures recorded); at the end of the subscription''s period (every month, or every year for yearly billing) applies the pending plan or ends subscriptions set to cancel at period end (falling back to Free), moving the period of subscriptions Stripe does not bill by their interval; and opens the next (monthly) usage period. Idempotent, safe to run late (catches up period by period) and concurrently (the open period row is locked).';

create or replace function app_private.roll_over_due_periods(at timestamptz default now(), batch_size integer default 1000)
  returns table (tenant_id uuid, periods_closed integer, error text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant uuid;
begin
  for v_tenant in
    select up.tenant_id from app_public.usage_periods up
    where up.closed_at is null and up.period_end <= at
    order by up.period_end
    limit batch_size
  loop
    tenant_id := v_tenant;
    begin
      periods_closed := app_private.roll_over_tenant(v_tenant, at);
      error := null;
    exception when others then
      periods_closed := 0;
      error := sqlerrm;
    end;
    return next;
  end loop;
end;
$$;
comment on function app_private.roll_over_due_periods(timestamptz, integer) is 'Rolls over every tenant whose open usage period has ended (one subtransaction per tenant, so one failure does not hold back the others); returns what happened per tenant.';
