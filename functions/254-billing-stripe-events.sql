--------------------------------------------------------------------------------
-- Stripe webhooks, applied in SQL. The API verifies the signature on the raw
-- body and hands the event to receive_stripe_event(), which stores it once
-- (the event id is the primary key: a replay, or a duplicate delivered at the
-- same moment, waits on the first one's row and then does nothing) and
-- applies it in the same transaction.
--
-- Handled: invoice.paid (payment row, subscription active again, period),
-- invoice.payment_failed (failed payment row, past_due), and
-- customer.subscription.created/updated/deleted (status, plan and billing
-- interval by plans.stripe_price_id (monthly) or stripe_price_id_yearly
-- (yearly), period, cancel_at_period_end). Tenants are found by
-- subscriptions.stripe_subscription_id, else by
-- tenant_config.stripe_customer_id. Events are compared with
-- subscriptions.stripe_updated_at (the creation time of the last event
-- applied), so an event delivered late never undoes a newer state; an
-- invoice's payment row is recorded whatever its age. Both the current API
-- shape (invoice.parent.subscription_details, items[].current_period_*) and
-- the older one (invoice.subscription, current_period_* on the subscription)
-- are read.
--------------------------------------------------------------------------------

create or replace function app_private.stripe_time(seconds text) returns timestamptz
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when seconds ~ '^[0-9]{1,12}$' then to_timestamp(seconds::bigint) end;
$$;
comment on function app_private.stripe_time(text) is 'A Stripe timestamp (Unix seconds) as timestamptz; null when absent or malformed.';

create or replace function app_private.stripe_subscription_for(customer_id text, stripe_subscription_id text, link boolean)
  returns app_public.subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_sub app_public.subscriptions;
  v_tenants uuid[];
begin
  if stripe_subscription_id is not null then
    -- Found across tenants, then locked by its key: Citus locks rows only in
    -- a query that names its tenant.
    select s.* into v_sub from app_public.subscriptions s
      where s.stripe_subscription_id = stripe_subscription_for.stripe_subscription_id
      order by (s.status = 'canceled'), s.created desc
      limit 1;
    if v_sub.id is not null then
      select s.* into v_sub from app_public.subscriptions s
        where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
        for update;
      return v_sub;
    end if;
  end if;
  if customer_id is null then
    return null;
  end if;
  select array_agg(tc.tenant_id) into v_tenants from app_public.tenant_config tc where tc.stripe_customer_id = customer_id;
  if cardinality(v_tenants) > 1 then
    raise exception 'Stripe customer % belongs to % tenants; it must belong to one.', customer_id, cardinality(v_tenants) using errcode = 'STATE';
  end if;
  if v_tenants is null then
    return null;
  end if;
  select s.* into v_sub from app_public.subscriptions s
    where s.tenant_id = v_tenants[1] and s.status <> 'canceled'
    for update;
  if link and v_sub.id is not null and v_sub.stripe_subscription_id is null and stripe_subscription_id is not null then
    update app_public.subscriptions s set stripe_subscription_id = stripe_subscription_for.stripe_subscription_id
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_sub;
  end if;
  return v_sub;
end;
$$;
comment on function app_private.stripe_subscription_for(text, text, boolean) is 'The subscription a Stripe event is about (locked): by Stripe subscription id, else the current subscription of the tenant owning the Stripe customer (linked to the Stripe subscription when `link` is set). Null for unknown customers.';

create or replace function app_private.stripe_event_is_newer(sub app_public.subscriptions, created timestamptz) returns boolean
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select sub.stripe_updated_at is null or created >= sub.stripe_updated_at;
$$;
comment on function app_private.stripe_event_is_newer(app_public.subscriptions, timestamptz) is 'True when an event created at `created` is not older than the last Stripe event applied to the subscription.';

create or replace function app_private.stripe_subscription_status(stripe_status text) returns text
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return case stripe_status
    when 'active' then 'active'
    when 'trialing' then 'active'
    when 'past_due' then 'past_due'
    when 'incomplete' then 'past_due'
    when 'unpaid' then 'unpaid'
    when 'paused' then 'unpaid'
    when 'canceled' then 'canceled'
    when 'incomplete_expired' then 'canceled'
  end;
end;
$$;
comment on function app_private.stripe_subscription_status(text) is 'Our status for a Stripe subscription status: trialing counts as active, incomplete as past_due (first payment pending), paused as unpaid, incomplete_expired as canceled; null when unknown.';

create or replace function app_private.apply_stripe_invoice(event jsonb)
  returns table (tenant_id uuid, outcome text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_invoice jsonb := event -> 'data' -> 'object';
  v_created timestamptz := app_private.stripe_time(event ->> 'created');
  v_paid boolean := (event ->> 'type') = 'invoice.paid';
  v_sub app_public.subscriptions;
  v_period_start timestamptz;
  v_period_end timestamptz;
  v_amount numeric;
begin
  if v_invoice ->> 'id' is null or v_invoice ->> 'id' !~ '^in_' then
    raise exception 'Event % carries no invoice id.', event ->> 'id' using errcode = 'INVAL';
  end if;
  v_sub := app_private.stripe_subscription_for(
    v_invoice ->> 'customer',
    coalesce(v_invoice ->> 'subscription', v_invoice #>> '{parent,subscription_details,subscription}'),
    false);
  if v_sub.id is null then
    return query select null::uuid, 'unknown_customer'::text;
    return;
  end if;

  v_period_start := coalesce(app_private.stripe_time(v_invoice #>> '{lines,data,0,period,start}'), app_private.stripe_time(v_invoice ->> 'period_start'));
  v_period_end := coalesce(app_private.stripe_time(v_invoice #>> '{lines,data,0,period,end}'), app_private.stripe_time(v_invoice ->> 'period_end'));
  if v_period_end <= v_period_start then
    v_period_start := null;
    v_period_end := null;
  end if;
  v_amount := coalesce((v_invoice ->> case when v_paid then 'amount_paid' else 'amount_due' end)::numeric, 0) / 100;

  insert into app_public.payments as pay (tenant_id, subscription_id, amount, currency, status, processed_at, description,
      stripe_invoice_id, stripe_payment_intent_id, billing_period_start, billing_period_end)
    values (v_sub.tenant_id, v_sub.id, v_amount, upper(coalesce(v_invoice ->> 'currency', 'usd')),
      case when v_paid then 'succeeded' else 'failed' end,
      coalesce(app_private.stripe_time(v_invoice #>> '{status_transitions,paid_at}'), v_created),
      'Stripe invoice ' || coalesce(v_invoice ->> 'number', v_invoice ->> 'id'),
      v_invoice ->> 'id',
      coalesce(v_invoice ->> 'payment_intent', v_invoice #>> '{payments,data,0,payment,payment_intent}'),
      v_period_start, v_period_end)
  on conflict (tenant_id, stripe_invoice_id) do update set
      -- A success is final; a late failure notice does not undo it.
      status = case when pay.status = 'succeeded' then pay.status else excluded.status end,
      amount = case when pay.status = 'succeeded' then pay.amount else excluded.amount end,
      processed_at = case when pay.status = 'succeeded' then pay.processed_at else excluded.processed_at end,
      stripe_payment_intent_id = coalesce(pay.stripe_payment_intent_id, excluded.stripe_payment_intent_id),
      billing_period_start = coalesce(pay.billing_period_start, excluded.billing_period_start),
      billing_period_end = coalesce(pay.billing_period_end, excluded.billing_period_end);

  if v_sub.status = 'canceled' or not app_private.stripe_event_is_newer(v_sub, v_created) then
    return query select v_sub.tenant_id, 'stale'::text;
    return;
  end if;

  update app_public.subscriptions s set
      stripe_updated_at = v_created,
      current_period_start = case when v_paid and v_period_end > s.current_period_end then v_period_start else s.current_period_start end,
      current_period_end = case when v_paid and v_period_end > s.current_period_end then v_period_end else s.current_period_end end
    where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
  perform app_private.set_payment_state(v_sub.tenant_id, v_sub.id, case when v_paid then 'active' else 'past_due' end, v_created);
  return query select v_sub.tenant_id, 'applied'::text;
end;
$$;
comment on function app_private.apply_stripe_invoice(jsonb) is 'invoice.paid / invoice.payment_failed: records the payment (succeeded or failed, once per invoice; a success is never undone) and, unless a newer event was applied, moves the subscription to active (with the paid period) or past_due.';

create or replace function app_private.apply_stripe_subscription(event jsonb)
  returns table (tenant_id uuid, outcome text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_object jsonb := event -> 'data' -> 'object';
  v_created timestamptz := app_private.stripe_time(event ->> 'created');
  v_sub app_public.subscriptions;
  v_status text;
  v_price text;
  v_plan app_public.plans;
  v_interval text;
  v_period_start timestamptz;
  v_period_end timestamptz;
begin
  if v_object ->> 'id' is null or v_object ->> 'id' !~ '^sub_' then
    raise exception 'Event % carries no subscription id.', event ->> 'id' using errcode = 'INVAL';
  end if;
  v_status := case when event ->> 'type' = 'customer.subscription.deleted' then 'canceled'
                   else app_private.stripe_subscription_status(v_object ->> 'status') end;
  if v_status is null then
    raise exception 'Stripe subscription status "%" is not one we know.', v_object ->> 'status' using errcode = 'INVAL';
  end if;
  v_sub := app_private.stripe_subscription_for(v_object ->> 'customer', v_object ->> 'id', true);
  if v_sub.id is null then
    return query select null::uuid, 'unknown_customer'::text;
    return;
  end if;
  if v_sub.status = 'canceled' or not app_private.stripe_event_is_newer(v_sub, v_created) then
    return query select v_sub.tenant_id, 'stale'::text;
    return;
  end if;

  if v_status = 'canceled' then
    update app_public.subscriptions s set stripe_updated_at = v_created
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
    perform app_private.end_subscription(v_sub.tenant_id, v_sub.id,
      greatest(coalesce(app_private.stripe_time(v_object ->> 'ended_at'), v_created), v_sub.current_period_start));
    return query select v_sub.tenant_id, 'applied'::text;
    return;
  end if;

  v_price := coalesce(v_object #>> '{items,data,0,price,id}', v_object #>> '{plan,id}');
  if v_price is not null then
    select p.* into v_plan from app_public.plans p
      where p.stripe_price_id = v_price or p.stripe_price_id_yearly = v_price
      order by p.is_active desc limit 1;
    if v_plan.id is null then
      raise exception 'No plan has the Stripe price %; set it as a plan''s stripe_price_id (monthly) or stripe_price_id_yearly (yearly).', v_price
        using errcode = 'INVAL';
    end if;
    v_interval := case when v_plan.stripe_price_id_yearly = v_price then 'year' else 'month' end;
  end if;
  v_period_start := coalesce(app_private.stripe_time(v_object #>> '{items,data,0,current_period_start}'), app_private.stripe_time(v_object ->> 'current_period_start'));
  v_period_end := coalesce(app_private.stripe_time(v_object #>> '{items,data,0,current_period_end}'), app_private.stripe_time(v_object ->> 'current_period_end'));

  update app_public.subscriptions s set
      stripe_updated_at = v_created,
      -- Stripe bills a scheduled downgrade from the next invoice: the pending
      -- plan's price in Stripe does not change our plan before period end.
      plan_id = case when v_plan.id is null or v_plan.id = s.pending_plan_id then s.plan_id else v_plan.id end,
      pending_plan_id = case when v_plan.id is null or v_plan.id = s.pending_plan_id then s.pending_plan_id else null end,
      -- The interval is the price's: a scheduled downgrade keeps the interval.
      billing_interval = coalesce(v_interval, s.billing_interval),
      cancel_at_period_end = coalesce((v_object ->> 'cancel_at_period_end')::boolean, s.cancel_at_period_end)
                             or v_object ->> 'cancel_at' is not null,
      current_period_start = case when v_period_end > v_period_start then v_period_start else s.current_period_start end,
      current_period_end = case when v_period_end > v_period_start then v_period_end else s.current_period_end end
    where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id;
  update app_public.usage_periods up set plan_id = (select s.plan_id from app_public.subscriptions s where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id)
    where up.tenant_id = v_sub.tenant_id and up.closed_at is null and up.subscription_id = v_sub.id;
  perform app_private.set_payment_state(v_sub.tenant_id, v_sub.id, v_status, v_created);
  return query select v_sub.tenant_id, 'applied'::text;
end;
$$;
comment on function app_private.apply_stripe_subscription(jsonb) is 'customer.subscription.created/updated/deleted: applies status (deleted or canceled ends the subscription; the tenant continues on Free), plan and billing interval (by plans.stripe_price_id for monthly, stripe_price_id_yearly for yearly), period and cancel_at_period_end, unless a newer event was applied already.';

create or replace function app_private.receive_stripe_event(event jsonb) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_id text := event ->> 'id';
  v_type text := event ->> 'type';
  v_created timestamptz := app_private.stripe_time(event ->> 'created');
  v_tenant uuid;
  v_outcome text;
  v_inserted boolean;
begin
  if v_id is null or v_id !~ '^evt_[A-Za-z0-9]+$' or v_type is null or v_created is null then
    raise exception 'A Stripe event needs an id (evt_…), a type and a created time.' using errcode = 'INVAL';
  end if;
  insert into app_private.stripe_events (id, type, created_at, payload)
    values (v_id, v_type, v_created, event)
  on conflict on constraint stripe_events_pkey do nothing
  returning true into v_inserted;
  if v_inserted is null then
    return 'duplicate';
  end if;

  begin
    if v_type in ('invoice.paid', 'invoice.payment_failed') then
      select r.tenant_id, r.outcome into v_tenant, v_outcome from app_private.apply_stripe_invoice(event) r;
    elsif v_type in ('customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted') then
      select r.tenant_id, r.outcome into v_tenant, v_outcome from app_private.apply_stripe_subscription(event) r;
    else
      v_outcome := 'ignored';
    end if;
    update app_private.stripe_events e set processed_at = now(), tenant_id = v_tenant, outcome = v_outcome
      where e.id = v_id;
  exception when sqlstate 'INVAL' or sqlstate 'NTFND' or sqlstate 'STATE' then
    -- A permanent problem with this event (bad data, missing configuration):
    -- kept with its error for an operator, acknowledged so Stripe stops
    -- retrying. Anything else propagates: nothing is stored, Stripe retries.
    update app_private.stripe_events e set processed_at = now(), outcome = 'failed', error = sqlerrm
      where e.id = v_id;
    return 'failed';
  end;
  return v_outcome;
end;
$$;
comment on function app_private.receive_stripe_event(jsonb) is 'Stores a verified Stripe event once and applies it; returns applied, stale, unknown_customer, ignored, failed, or duplicate (already received: nothing done).';
