--------------------------------------------------------------------------------
-- Billing intervals: a subscription is billed monthly (plans.price_monthly,
-- plans.stripe_price_id) or yearly (plans.price_yearly,
-- plans.stripe_price_id_yearly), subscriptions.billing_interval. A yearly
-- subscription's period is a year; its usage periods stay monthly, so the
-- monthly limits (emails, campaign starts) are metered per month whatever the
-- interval (functions/252: start_usage_period, roll_over_tenant).
--------------------------------------------------------------------------------

create or replace function app_private.add_billing_interval(starts_at timestamptz, billing_interval text) returns timestamptz
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select starts_at + case when billing_interval = 'year' then interval '1 year' else interval '1 month' end;
$$;
comment on function app_private.add_billing_interval(timestamptz, text) is 'End of a billing period of the given interval (month or year) that starts at the given instant (calendar arithmetic: Jan 31 + 1 month = Feb 28, Feb 29 + 1 year = Feb 28).';

create or replace function app_private.plan_price(plan app_public.plans, billing_interval text) returns integer
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when billing_interval = 'year' then plan.price_yearly else plan.price_monthly end;
$$;
comment on function app_private.plan_price(app_public.plans, text) is 'The plan''s price in cents for one billing period of the interval (price_yearly for year, price_monthly for month); null when the plan has no price for it.';

create or replace function app_private.plan_stripe_price(plan app_public.plans, billing_interval text) returns text
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select case when billing_interval = 'year' then plan.stripe_price_id_yearly else plan.stripe_price_id end;
$$;
comment on function app_private.plan_stripe_price(app_public.plans, text) is 'The Stripe price that bills the plan at the interval (stripe_price_id_yearly for year, stripe_price_id for month).';

create or replace function app_private.assert_billable_at(plan app_public.plans, billing_interval text) returns void
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if billing_interval is null or billing_interval not in ('month', 'year') then
    raise exception 'The billing interval must be month or year, not "%".', coalesce(billing_interval, '') using errcode = 'INVAL';
  end if;
  if billing_interval = 'year' and (plan.price_yearly is null or (plan.stripe_price_id is not null and plan.stripe_price_id_yearly is null)) then
    raise exception 'The % plan cannot be billed yearly; choose monthly billing.', plan.name using errcode = 'INVAL';
  end if;
end;
$$;
comment on function app_private.assert_billable_at(app_public.plans, text) is 'Refuses (INVALID_INPUT) an interval other than month or year, and yearly billing of a plan without a yearly price (price_yearly, and stripe_price_id_yearly when the plan is billed through Stripe).';
