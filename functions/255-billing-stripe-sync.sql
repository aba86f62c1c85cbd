--------------------------------------------------------------------------------
-- Outgoing Stripe calls (workers/billing-stripe-sync.ts) are driven by the
-- database: the job reads what Stripe should look like for a subscription
-- (stripe_sync_state) and records the ids Stripe hands back. Reading the
-- desired state at run time makes the job idempotent and order-proof: a
-- retry, or a job for an older change, converges on the latest state.
--------------------------------------------------------------------------------

create or replace function app_private.stripe_sync_state(for_tenant uuid, for_subscription uuid)
  returns table (
    tenant_id uuid,
    tenant_name text,
    billing_email text,
    stripe_customer_id text,
    subscription_id uuid,
    status text,
    stripe_subscription_id text,
    price_id text,
    proration_behavior text,
    cancel_at_period_end boolean,
    version text
  )
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  select s.tenant_id, t.name, coalesce(tc.billing_email, owner.email)::text, tc.stripe_customer_id,
         s.id, s.status, s.stripe_subscription_id,
         -- The price of the subscription's interval: monthly or yearly.
         case when s.billing_interval = 'year' then coalesce(pp.stripe_price_id_yearly, p.stripe_price_id_yearly)
              else coalesce(pp.stripe_price_id, p.stripe_price_id) end,
         -- A scheduled downgrade is billed from the next invoice, without proration.
         case when s.pending_plan_id is not null then 'none' else 'create_prorations' end,
         s.cancel_at_period_end,
         to_char(s.updated at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
  from app_public.subscriptions s
  join app_public.tenants t on t.id = s.tenant_id
  join app_public.plans p on p.id = s.plan_id
  left join app_public.plans pp on pp.id = s.pending_plan_id
  left join app_public.tenant_config tc on tc.tenant_id = s.tenant_id
  left join lateral (
    select u.email from app_public.tenant_users tu join app_public.users u on u.id = tu.user_id
    where tu.tenant_id = s.tenant_id and tu.deleted_at is null and 'owner' = any (tu.roles)
    order by tu.created limit 1
  ) owner on true
  where s.tenant_id = stripe_sync_state.for_tenant and s.id = stripe_sync_state.for_subscription;
end;
$$;
comment on function app_private.stripe_sync_state(uuid, uuid) is 'What Stripe should hold for a subscription: customer, price (the plan''s monthly or yearly Stripe price, as billing_interval says; of the pending plan if a downgrade is scheduled), proration, cancel_at_period_end, or cancellation; `version` changes whenever the row does (idempotency keys).';

create or replace function app_private.record_stripe_customer(tenant_id uuid, stripe_customer_id text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_existing text;
begin
  select tc.stripe_customer_id into v_existing from app_public.tenant_config tc
    where tc.tenant_id = record_stripe_customer.tenant_id for update;
  if not found then
    raise exception 'Tenant % has no configuration row.', tenant_id using errcode = 'NTFND';
  end if;
  if v_existing is not null and v_existing <> stripe_customer_id then
    raise exception 'Tenant % is already Stripe customer %, not %.', tenant_id, v_existing, stripe_customer_id using errcode = 'STATE';
  end if;
  update app_public.tenant_config tc set stripe_customer_id = record_stripe_customer.stripe_customer_id
    where tc.tenant_id = record_stripe_customer.tenant_id and tc.stripe_customer_id is null;
end;
$$;
comment on function app_private.record_stripe_customer(uuid, text) is 'Records the Stripe customer created for a tenant (refuses to replace a different one).';

create or replace function app_private.record_stripe_subscription(tenant_id uuid, subscription_id uuid, stripe_subscription_id text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_existing text;
begin
  select s.stripe_subscription_id into v_existing from app_public.subscriptions s
    where s.tenant_id = record_stripe_subscription.tenant_id and s.id = record_stripe_subscription.subscription_id for update;
  if not found then
    raise exception 'There is no subscription % for tenant %.', subscription_id, tenant_id using errcode = 'NTFND';
  end if;
  if v_existing is not null and v_existing <> stripe_subscription_id then
    raise exception 'Subscription % is already Stripe subscription %, not %.', subscription_id, v_existing, stripe_subscription_id using errcode = 'STATE';
  end if;
  update app_public.subscriptions s set stripe_subscription_id = record_stripe_subscription.stripe_subscription_id
    where s.tenant_id = record_stripe_subscription.tenant_id and s.id = record_stripe_subscription.subscription_id
      and s.stripe_subscription_id is null;
end;
$$;
comment on function app_private.record_stripe_subscription(uuid, uuid, text) is 'Records the Stripe subscription created for one of ours (refuses to replace a different one).';
