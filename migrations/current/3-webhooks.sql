--------------------------------------------------------------------------------
-- Signed outbound webhooks (Standard Webhooks). A tenant subscribes an
-- endpoint to event types; triggers on the tables where things happen write
-- an event and one delivery per matching subscription in the same
-- transaction (functions/270-webhooks.sql); the webhook_deliver job posts
-- them in event order per subscription (workers/webhooks/deliver.ts).
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '10min';

create table if not exists app_public.webhook_subscriptions (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  url text not null,
  description text,
  event_types text[] not null default '{}',
  campaign_id uuid,
  enabled boolean not null default true,
  disabled_at timestamptz,
  disabled_reason text,
  consecutive_failures integer not null default 0,
  secret_rotated_at timestamptz,
  previous_secret_expires_at timestamptz,
  created_by uuid default app_public.current_user_id(),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete cascade,
  constraint webhook_subscriptions_url_check check (url ~ '^https?://[^\s/?#@]+' and length(url) <= 2000),
  constraint webhook_subscriptions_description_check check (length(description) <= 500),
  constraint webhook_subscriptions_event_types_check check (event_types <@ array[
    'email.sent', 'email.opened', 'email.clicked', 'email.replied', 'email.bounced', 'email.unsubscribed', 'email.complained',
    'lead.status_changed', 'campaign.started', 'campaign.paused', 'campaign.resumed', 'campaign.completed', 'campaign.cancelled',
    'domain.verified', 'domain.failed', 'inbox.error', 'import.completed', 'import.failed']),
  constraint webhook_subscriptions_disabled_check check (enabled or disabled_at is not null),
  constraint webhook_subscriptions_disabled_reason_check check (length(disabled_reason) <= 1000),
  constraint webhook_subscriptions_consecutive_failures_check check (consecutive_failures >= 0)
);
create index if not exists webhook_subscriptions_campaign_idx on app_public.webhook_subscriptions (tenant_id, campaign_id);
comment on table app_public.webhook_subscriptions is E'@behavior -insert\nAn endpoint that receives this organisation''s events as signed HTTP POSTs (Standard Webhooks). Create one with addWebhookSubscription (its signing secret is shown once); owners and admins manage them, members read them.';
comment on column app_public.webhook_subscriptions.url is 'Where events are POSTed: https (plain http only outside production). Fixed at creation; create a new subscription to change it.';
comment on column app_public.webhook_subscriptions.event_types is 'The event types delivered; empty means every type.';
comment on column app_public.webhook_subscriptions.campaign_id is 'When set, only events of this campaign (email.* and campaign.*) are delivered.';
comment on column app_public.webhook_subscriptions.enabled is 'Whether events are recorded and delivered. Turned off by the platform after a delivery failed for its whole retry schedule (about a day); turning it back on resumes the deliveries left pending, in order.';
comment on column app_public.webhook_subscriptions.disabled_reason is 'Why the platform disabled the subscription (null when a member disabled it or it is enabled).';
comment on column app_public.webhook_subscriptions.consecutive_failures is 'Failed delivery attempts since the last successful one.';
comment on column app_public.webhook_subscriptions.previous_secret_expires_at is 'After a rotation: until then, deliveries carry a signature with the previous secret too.';

-- The signing secrets, sealed with the application key (src/crypto/secrets.ts) like inbox passwords.
create table if not exists app_private.webhook_secrets (
  tenant_id uuid not null,
  subscription_id uuid not null,
  secret_encrypted bytea not null,
  previous_secret_encrypted bytea,
  previous_expires_at timestamptz,
  updated timestamptz not null default now(),
  primary key (tenant_id, subscription_id),
  foreign key (tenant_id, subscription_id) references app_public.webhook_subscriptions (tenant_id, id) on delete cascade
);
comment on table app_private.webhook_secrets is 'Signing secrets of webhook subscriptions (whsec_…), AES-256-GCM sealed; the previous one stays valid until previous_expires_at after a rotation.';

create table if not exists app_public.webhook_events (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  event_type text not null,
  campaign_id uuid,
  data jsonb not null default '{}',
  created timestamptz not null default clock_timestamp(),
  primary key (tenant_id, id),
  constraint webhook_events_event_type_check check (event_type ~ '^[a-z_]+\.[a-z_]+$' and length(event_type) <= 100),
  constraint webhook_events_data_check check (jsonb_typeof(data) = 'object')
);
create index if not exists webhook_events_created_idx on app_public.webhook_events (tenant_id, created);
comment on table app_public.webhook_events is 'Events recorded for webhook subscriptions, in the transaction that caused them; written only when an enabled subscription wants them. The id is the webhook-id header of every delivery of the event, replays included.';
comment on column app_public.webhook_events.campaign_id is 'The campaign the event belongs to, for subscriptions filtered by campaign (no foreign key: events outlive campaigns).';
comment on column app_public.webhook_events.data is 'The payload''s `data` object.';

create table if not exists app_public.webhook_deliveries (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  webhook_subscription_id uuid not null,
  event_id uuid not null,
  event_created timestamptz not null,
  status text not null default 'pending',
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_attempt_at timestamptz,
  response_code integer,
  response_body text,
  duration_ms integer,
  error text,
  completed_at timestamptz,
  replayed_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, webhook_subscription_id, event_id),
  foreign key (tenant_id, webhook_subscription_id) references app_public.webhook_subscriptions (tenant_id, id) on delete cascade,
  foreign key (tenant_id, event_id) references app_public.webhook_events (tenant_id, id) on delete cascade,
  constraint webhook_deliveries_status_check check (status in ('pending', 'succeeded', 'failed')),
  constraint webhook_deliveries_attempts_check check (attempts >= 0),
  constraint webhook_deliveries_response_body_check check (length(response_body) <= 2000),
  constraint webhook_deliveries_error_check check (length(error) <= 1000),
  constraint webhook_deliveries_duration_check check (duration_ms >= 0)
);
create index if not exists webhook_deliveries_queue_idx on app_public.webhook_deliveries (tenant_id, webhook_subscription_id, status, event_created, event_id);
create index if not exists webhook_deliveries_event_idx on app_public.webhook_deliveries (tenant_id, event_id);
comment on table app_public.webhook_deliveries is 'The delivery log: one row per event and subscription, with the outcome of its last attempt. Pending deliveries of a subscription are attempted in event order.';
comment on column app_public.webhook_deliveries.status is 'pending (waiting or retrying), succeeded (a 2xx answer) or failed (every retry failed; replay it to try again).';
comment on column app_public.webhook_deliveries.attempts is 'Attempts since the delivery was created or last replayed.';
comment on column app_public.webhook_deliveries.next_attempt_at is 'When a pending delivery is tried next (after a failure: exponential backoff with jitter).';
comment on column app_public.webhook_deliveries.response_code is 'The HTTP status of the last attempt (null when no answer came: timeout, refused connection or address).';
comment on column app_public.webhook_deliveries.response_body is 'The first 2000 characters of the last answer''s body.';
comment on column app_public.webhook_deliveries.duration_ms is 'How long the last attempt took, in milliseconds.';
comment on column app_public.webhook_deliveries.error is 'Why the last attempt failed, when no HTTP answer explains it.';
comment on column app_public.webhook_deliveries.event_created is 'The event''s time, copied for ordering a subscription''s deliveries.';
