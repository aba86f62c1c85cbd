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
  app_public.change_plan(text, boolean),
  app_public.cancel_subscription(boolean)
to penguinmails_member;

grant execute on function
  app_public.change_tenant_plan(uuid, text, boolean, text),
  app_public.cancel_tenant_subscription(uuid, boolean, text)
to penguinmails_staff;
