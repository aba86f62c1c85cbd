--------------------------------------------------------------------------------
-- Billing. Tenants read their own subscription, add-ons, payments and usage;
-- changes come from Stripe (worker/webhook, as owner), plan functions, or
-- staff with billing.manage. Members never write billing rows directly.
--------------------------------------------------------------------------------

create policy select_signed_in on app_public.plans for select using (app_public.current_user_id() is distinct from null);
comment on policy select_signed_in on app_public.plans is 'Every signed-in user can read the plans.';
create policy manage on app_public.plans for all
  using (app_public.current_staff_has_permission('plans.manage'))
  with check (app_public.current_staff_has_permission('plans.manage'));
comment on policy manage on app_public.plans is 'Only staff with plans.manage create or change plans.';
grant select on app_public.plans to penguinmails_member;
grant insert (name, slug, description, max_users, max_domains, max_campaigns_per_month, api_rate_limit,
    max_email_accounts, max_emails_per_month, max_warmups, max_contacts, api_access,
    advanced_analytics, white_label, price_monthly, price_yearly, stripe_price_id, stripe_price_id_yearly, notes, is_active),
  update (name, description, max_users, max_domains, max_campaigns_per_month, api_rate_limit,
    max_email_accounts, max_emails_per_month, max_warmups, max_contacts, api_access,
    advanced_analytics, white_label, price_monthly, price_yearly, stripe_price_id, stripe_price_id_yearly, notes, is_active)
  on app_public.plans to penguinmails_staff;

select app_private.apply_tenant_policies('app_public.subscriptions', write_role => null);
select app_private.apply_tenant_policies('app_public.subscription_addons', write_role => null);
select app_private.apply_tenant_policies('app_public.payments', write_role => null, read_role => 'admin');
select app_private.apply_tenant_policies('app_public.usage_periods', write_role => null);
grant select on app_public.subscriptions, app_public.subscription_addons, app_public.payments, app_public.usage_periods
  to penguinmails_member;

-- Staff reach a tenant's rows only inside an access session into it (which
-- current_tenant_id() names, and every operation of which is audited): no
-- policy lets staff read or write billing rows of other tenants.
create policy billing_staff on app_public.subscriptions for all
  using (app_public.current_staff_has_permission('billing.manage') and tenant_id = app_public.current_tenant_id())
  with check (app_public.current_staff_has_permission('billing.manage') and tenant_id = app_public.current_tenant_id());
comment on policy billing_staff on app_public.subscriptions is 'Staff with billing.manage may change the subscription of the tenant they hold an access session into.';
create policy billing_staff on app_public.subscription_addons for all
  using (app_public.current_staff_has_permission('billing.manage') and tenant_id = app_public.current_tenant_id())
  with check (app_public.current_staff_has_permission('billing.manage') and tenant_id = app_public.current_tenant_id());
comment on policy billing_staff on app_public.subscription_addons is 'Staff with billing.manage may add or change add-ons of the tenant they hold an access session into.';
grant update (plan_id, pending_plan_id, billing_interval, status, cancel_at_period_end, billing_contact_user_id)
  on app_public.subscriptions to penguinmails_staff;
grant insert (tenant_id, subscription_id, addon_type, quantity, price_monthly, stripe_price_id, stripe_subscription_item_id, is_active),
  update (quantity, price_monthly, is_active), delete
  on app_public.subscription_addons to penguinmails_staff;

--------------------------------------------------------------------------------
-- Billing operations. Usage is readable by every member of the tenant; plan
-- changes and cancellation check the caller's role inside (owners and admins
-- of the tenant, or staff with billing.manage for any tenant). Everything
-- else (roll-over, dunning, Stripe webhooks and sync) runs as the owner role
-- from the worker and the webhook route, never from the API roles.
--------------------------------------------------------------------------------

grant execute on function
  app_public.current_usage(),
  app_public.usage_periods_usage(app_public.usage_periods),
  app_public.change_plan(text, boolean, text),
  app_public.cancel_subscription(boolean)
to penguinmails_member;

grant execute on function
  app_public.change_tenant_plan(uuid, text, boolean, text, text),
  app_public.cancel_tenant_subscription(uuid, boolean, text)
to penguinmails_staff;
