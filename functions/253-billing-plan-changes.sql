--------------------------------------------------------------------------------
-- Plan changes and cancellation, for a tenant's owners and admins (their own
-- tenant) and for staff with billing.manage (any tenant).
--
--   change_plan(slug, at_period_end): an upgrade (a dearer plan) applies now
--   unless at_period_end is true; a downgrade waits for the end of the period
--   (pending_plan_id) unless at_period_end is false. Moving to the Free plan
--   is a cancellation. Choosing the current plan again undoes a scheduled
--   change or cancellation. A downgrade is never refused because the tenant
--   has more than the new plan allows: it keeps its data and cannot add more
--   until it is under the limit (current_usage shows used > limit).
--   cancel_subscription(at_period_end): at the end of the period (default) or
--   now; either way the tenant continues on the Free plan.
--
--   billing_interval (month or year; null keeps the current one): yearly
--   billing needs the plan's price_yearly (and stripe_price_id_yearly when
--   the plan is billed through Stripe). A change of interval applies now,
--   with the plan it names (Stripe starts a new billing period and prorates
--   the unused time); combined with atPeriodEnd true it is refused.
--
-- Paid plans are billed through Stripe (plans.stripe_price_id, or
-- stripe_price_id_yearly for yearly billing): each change queues the
-- billing_stripe_sync job, which makes Stripe match this row.
--------------------------------------------------------------------------------

create or replace function app_private.queue_stripe_sync(tenant_id uuid, subscription_id uuid) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if not exists (
    select 1 from app_public.subscriptions s
    left join app_public.plans p on p.id = s.plan_id
    left join app_public.plans pp on pp.id = s.pending_plan_id
    where s.tenant_id = queue_stripe_sync.tenant_id and s.id = queue_stripe_sync.subscription_id
      and (s.stripe_subscription_id is not null or p.stripe_price_id is not null or pp.stripe_price_id is not null
           or p.stripe_price_id_yearly is not null or pp.stripe_price_id_yearly is not null)
  ) then
    return false;
  end if;
  perform app_private.add_job(tenant_id,
    'billing_stripe_sync',
    json_build_object('tenant_id', tenant_id, 'subscription_id', subscription_id),
    queue_name => 'billing:' || tenant_id::text,
    job_key => 'billing_stripe_sync:' || subscription_id::text,
    max_attempts => 25);
  return true;
end;
$$;
comment on function app_private.queue_stripe_sync(uuid, uuid) is 'Queues the job that makes Stripe match a subscription (one job per subscription; one tenant''s jobs run in order). Subscriptions that never touch Stripe are skipped.';

create or replace function app_private.plan_by_slug(plan_slug text) returns app_public.plans
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_plan app_public.plans;
begin
  select p.* into v_plan from app_public.plans p where p.slug = plan_slug and p.is_active;
  if v_plan.id is null then
    raise exception 'There is no plan "%". Choose one of: %.', coalesce(plan_slug, ''),
        (select string_agg(p.slug, ', ' order by coalesce(p.price_monthly, 0), p.slug) from app_public.plans p where p.is_active)
      using errcode = 'NTFND';
  end if;
  return v_plan;
end;
$$;
comment on function app_private.plan_by_slug(text) is 'The active plan with this slug; NOT_FOUND naming the available plans otherwise.';

create or replace function app_private.locked_current_subscription(tenant_id uuid) returns app_public.subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_sub app_public.subscriptions;
begin
  select s.* into v_sub from app_public.subscriptions s
    where s.tenant_id = locked_current_subscription.tenant_id and s.status <> 'canceled'
    for update;
  if v_sub.id is null then
    raise exception 'This organisation has no current subscription.' using errcode = 'NTFND';
  end if;
  return v_sub;
end;
$$;
comment on function app_private.locked_current_subscription(uuid) is 'The tenant''s current subscription, locked for a change.';

create or replace function app_private.apply_cancellation(tenant_id uuid, at_period_end boolean) returns app_public.subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_sub app_public.subscriptions := app_private.locked_current_subscription(tenant_id);
  v_plan app_public.plans;
  v_result app_public.subscriptions;
begin
  select p.* into v_plan from app_public.plans p where p.id = v_sub.plan_id;
  if v_plan.id = (app_private.fallback_plan()).id then
    raise exception 'The % plan is free: there is nothing to cancel.', v_plan.name using errcode = 'INVAL';
  end if;
  if coalesce(at_period_end, true) then
    if v_sub.cancel_at_period_end then
      raise exception 'Your % plan already ends on %.', v_plan.name, to_char(v_sub.current_period_end at time zone 'UTC', 'YYYY-MM-DD')
        using errcode = 'INVAL';
    end if;
    update app_public.subscriptions s set cancel_at_period_end = true, pending_plan_id = null
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
    perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
    return v_result;
  end if;
  v_result := app_private.end_subscription(v_sub.tenant_id, v_sub.id, now());
  perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
  return v_result;
end;
$$;
comment on function app_private.apply_cancellation(uuid, boolean) is 'Cancels the tenant''s paid subscription at the end of the period (default) or now (then the Free plan starts at once). Returns the current subscription afterwards.';

drop function if exists app_private.apply_plan_change(uuid, text, boolean);
create or replace function app_private.apply_plan_change(tenant_id uuid, plan_slug text, at_period_end boolean, billing_interval text default null)
  returns app_public.subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_target app_public.plans := app_private.plan_by_slug(plan_slug);
  v_sub app_public.subscriptions := app_private.locked_current_subscription(tenant_id);
  v_current app_public.plans;
  v_interval text;
  v_later boolean;
  v_result app_public.subscriptions;
begin
  select p.* into v_current from app_public.plans p where p.id = v_sub.plan_id;
  if v_sub.status = 'unpaid' then
    raise exception 'The payment for your % plan is overdue: pay the open invoice before changing plans.', v_current.name using errcode = 'STATE';
  end if;
  v_interval := coalesce(billing_interval, v_sub.billing_interval);

  if v_target.id = v_sub.plan_id and v_interval = v_sub.billing_interval then
    if v_sub.pending_plan_id is null and not v_sub.cancel_at_period_end then
      raise exception 'You are already on the % plan%.', v_current.name, case v_interval when 'year' then ', billed yearly' else '' end
        using errcode = 'INVAL';
    end if;
    -- Staying: undo the scheduled change or cancellation.
    update app_public.subscriptions s set pending_plan_id = null, cancel_at_period_end = false
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
    perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
    return v_result;
  end if;

  if v_target.id = (app_private.fallback_plan()).id then
    return app_private.apply_cancellation(tenant_id, coalesce(at_period_end, true));
  end if;
  perform app_private.assert_billable_at(v_target, v_interval);

  if v_interval <> v_sub.billing_interval then
    if at_period_end then
      raise exception 'A change of billing interval applies now (Stripe starts a new billing period): leave atPeriodEnd out or set it to false.'
        using errcode = 'INVAL';
    end if;
    v_later := false;
  else
    -- Dearer or cheaper at the same interval.
    v_later := coalesce(at_period_end,
      coalesce(app_private.plan_price(v_target, v_interval), 0) <= coalesce(app_private.plan_price(v_current, v_interval), 0));
  end if;
  if v_later then
    update app_public.subscriptions s set pending_plan_id = v_target.id, cancel_at_period_end = false
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
  else
    update app_public.subscriptions s set plan_id = v_target.id, billing_interval = v_interval, pending_plan_id = null, cancel_at_period_end = false
      where s.tenant_id = v_sub.tenant_id and s.id = v_sub.id
      returning * into v_result;
    update app_public.usage_periods up set plan_id = v_target.id
      where up.tenant_id = v_sub.tenant_id and up.closed_at is null;
  end if;
  perform app_private.queue_stripe_sync(v_sub.tenant_id, v_sub.id);
  return v_result;
end;
$$;
comment on function app_private.apply_plan_change(uuid, text, boolean, text) is 'Changes the tenant''s plan and/or billing interval now or at the end of the period (see the top of functions/253-billing-plan-changes.sql).';

create or replace function app_private.assert_may_manage_billing() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('billing');
  if app_public.current_tenant_id() is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can change the plan or cancel the subscription.' using errcode = 'DNIED';
  end if;
end;
$$;
comment on function app_private.assert_may_manage_billing() is 'Refuses (FORBIDDEN) unless the caller is an owner or admin of the current tenant.';

create or replace function app_private.assert_staff_billing(tenant_id uuid) returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if not app_public.current_staff_has_permission('billing.manage') then
    raise exception 'Changing another organisation''s plan requires the billing.manage staff permission.' using errcode = 'DNIED';
  end if;
  if not exists (select 1 from app_public.tenants t where t.id = assert_staff_billing.tenant_id and t.deleted_at is null) then
    raise exception 'There is no tenant %.', tenant_id using errcode = 'NTFND';
  end if;
end;
$$;
comment on function app_private.assert_staff_billing(uuid) is 'Refuses unless the caller is staff with billing.manage and the tenant exists.';

create or replace function app_private.record_staff_billing_action(tenant_id uuid, action text, reason text, changes jsonb) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, table_name, reason, changes)
    values (app_public.current_user_id(), action, tenant_id, 'subscriptions', nullif(btrim(reason), ''), changes);
end;
$$;
comment on function app_private.record_staff_billing_action(uuid, text, text, jsonb) is 'Writes a staff billing change to the platform audit log (the tenant''s own audit log gets the row changes from the subscriptions audit trigger).';

drop function if exists app_public.change_plan(text, boolean);
create or replace function app_public.change_plan(plan_slug text, at_period_end boolean default null, billing_interval text default null)
  returns app_public.subscriptions
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.assert_may_manage_billing();
  return app_private.apply_plan_change(app_public.current_tenant_id(), plan_slug, at_period_end, billing_interval);
end;
$$;
comment on function app_public.change_plan(text, boolean, text) is E'@enumArg billing_interval subscriptions.billing_interval\nOwners and admins: switch to another plan (free, starter, pro, enterprise) and/or billing interval (billingInterval: month or year; left out, the current one). Upgrades apply now and downgrades at the end of the billing period unless atPeriodEnd says otherwise; a change of billing interval applies now. The Free plan means cancelling. Choosing your current plan and interval undoes a scheduled change or cancellation. Returns the current subscription.';

create or replace function app_public.cancel_subscription(at_period_end boolean default true) returns app_public.subscriptions
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.assert_may_manage_billing();
  return app_private.apply_cancellation(app_public.current_tenant_id(), at_period_end);
end;
$$;
comment on function app_public.cancel_subscription(boolean) is E'@name cancel_billing_subscription\nOwners and admins: cancel the paid plan at the end of the billing period (default) or now; your organisation then continues on the Free plan and keeps its data. Returns the current subscription.';

drop function if exists app_public.change_tenant_plan(uuid, text, boolean, text);
create or replace function app_public.change_tenant_plan(tenant_id uuid, plan_slug text, at_period_end boolean default null, reason text default null,
    billing_interval text default null)
  returns app_public.subscriptions
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_result app_public.subscriptions;
begin
  perform app_private.assert_staff_billing(tenant_id);
  v_result := app_private.apply_plan_change(tenant_id, plan_slug, at_period_end, billing_interval);
  perform app_private.record_staff_billing_action(tenant_id, 'billing.plan_changed', reason,
    jsonb_build_object('plan', plan_slug, 'at_period_end', at_period_end, 'billing_interval', billing_interval));
  return v_result;
end;
$$;
comment on function app_public.change_tenant_plan(uuid, text, boolean, text, text) is E'@enumArg billing_interval subscriptions.billing_interval\nStaff with billing.manage: change any tenant''s plan and/or billing interval, with the same rules as changePlan; recorded in the platform audit log.';

create or replace function app_public.cancel_tenant_subscription(tenant_id uuid, at_period_end boolean default true, reason text default null)
  returns app_public.subscriptions
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_result app_public.subscriptions;
begin
  perform app_private.assert_staff_billing(tenant_id);
  v_result := app_private.apply_cancellation(tenant_id, at_period_end);
  perform app_private.record_staff_billing_action(tenant_id, 'billing.subscription_canceled', reason,
    jsonb_build_object('at_period_end', at_period_end));
  return v_result;
end;
$$;
comment on function app_public.cancel_tenant_subscription(uuid, boolean, text) is E'@name cancel_tenant_billing_subscription\nStaff with billing.manage: cancel any tenant''s paid subscription (at period end by default, or now); recorded in the platform audit log.';
