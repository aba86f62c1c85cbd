--------------------------------------------------------------------------------
-- Webhooks: owners and admins manage subscriptions (creation and secret
-- rotation through the API server, which seals the secret; test events and
-- replays through SQL functions that check the role themselves); members
-- read subscriptions, events and the delivery log. Nobody writes events or
-- deliveries but the triggers and the worker.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.webhook_subscriptions', write_role => 'admin', read_role => 'member');
grant select, delete on app_public.webhook_subscriptions to penguinmails_member;
grant update (description, event_types, campaign_id, enabled) on app_public.webhook_subscriptions to penguinmails_member;

select app_private.apply_tenant_policies('app_public.webhook_events', write_role => null, read_role => 'member');
grant select on app_public.webhook_events to penguinmails_member;

select app_private.apply_tenant_policies('app_public.webhook_deliveries', write_role => null, read_role => 'member');
grant select on app_public.webhook_deliveries to penguinmails_member;

grant execute on function
  app_hidden.create_webhook_subscription(text, text[], uuid, text, boolean, bytea),
  app_hidden.rotate_webhook_secret(uuid, bytea, interval),
  app_public.send_webhook_test_event(uuid),
  app_public.replay_webhook_delivery(uuid),
  app_public.replay_webhook_deliveries(uuid, timestamptz, timestamptz)
to penguinmails_member;
