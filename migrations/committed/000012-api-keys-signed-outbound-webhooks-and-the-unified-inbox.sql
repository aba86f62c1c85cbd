--! Previous: sha1:776bbadb805446e10fff62bd3947eca519c73524
--! Hash: sha1:05a535c1308f5cec803f5b3a7c854bb22d250bf1
--! Message: API keys, signed outbound webhooks and the unified inbox

--! split: 2-api-keys.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- API keys: long-lived credentials of a tenant for integrations, used as
-- `Authorization: Bearer pm_…` on /graphql and POST /imports/leads. The key
-- row is the tenant's (admins list it through the API); the SHA-256 of its
-- secret sits in app_private, out of every API role's reach
-- (functions/052-api-keys.sql, policies/055-api-keys.sql).
--------------------------------------------------------------------------------

create table if not exists app_public.api_keys (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  prefix text not null check (prefix ~ '^pm_[A-Za-z0-9]{8}$'),
  scopes text[] not null check (
    cardinality(scopes) > 0 and scopes <@ array[
      'leads:read', 'leads:write', 'lists:read', 'lists:write', 'templates:read', 'templates:write',
      'campaigns:read', 'campaigns:write', 'analytics:read', 'domains:read', 'domains:write',
      'webhooks:read', 'webhooks:write', 'billing:read'
    ]::text[]
  ),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  last_used_ip text check (length(last_used_ip) <= 100),
  created_by uuid default app_public.current_user_id() references app_public.users (id) on delete set null,
  rotated_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint api_keys_prefix_key unique (tenant_id, prefix)
);
comment on table app_public.api_keys is 'An API key of the organisation: a name, the scopes it acts with, an optional expiry and when and from where it was last used. Its secret is shown once, by createApiKey or rotateApiKey, and only its hash is kept. Admins and owners manage keys; a key cannot.';
comment on column app_public.api_keys.prefix is 'The visible start of the key (`pm_` and 8 characters), to recognise it; the rest of the key is never shown again.';
comment on column app_public.api_keys.scopes is 'What the key may do, as `area:read` or `area:write` (write includes read) for the areas leads, lists, templates, campaigns, analytics (read only), domains (domains and inboxes), webhooks and billing (read only).';
comment on column app_public.api_keys.expires_at is 'When the key stops working; null: it does not expire.';
comment on column app_public.api_keys.revoked_at is 'When the key was revoked; it is refused from the next request on.';
comment on column app_public.api_keys.last_used_at is 'When the key was last used, to the minute (recorded at most once a minute, and whenever the client address changes).';
comment on column app_public.api_keys.last_used_ip is 'The client address of the key''s last use.';
comment on column app_public.api_keys.created_by is 'The admin who created the key.';
comment on column app_public.api_keys.rotated_at is 'When the key''s secret was last replaced (rotateApiKey); the previous secret stopped working then.';
create index if not exists api_keys_created_by_idx on app_public.api_keys (created_by);

-- The secrets' hashes, looked up by hash at the start of every API-key
-- request. No tenant in its key (the hash finds the tenant), so on Citus it is
-- a reference table like the sessions; no foreign key to api_keys (a reference
-- table cannot reference a distributed one): the lookup joins the key row.
create table if not exists app_private.api_key_secrets (
  secret_hash bytea primary key check (length(secret_hash) = 32),
  tenant_id uuid not null,
  api_key_id uuid not null,
  created timestamptz not null default now()
);
create index if not exists api_key_secrets_key_idx on app_private.api_key_secrets (tenant_id, api_key_id);
comment on table app_private.api_key_secrets is 'The SHA-256 of each API key''s current secret and the key it belongs to. Replaced on rotation; never reachable by an API role.';

comment on column app_public.plans.api_access is 'Whether the plan''s organisations may use API keys (seeded: Starter, Pro and Enterprise; not Free).';
comment on column app_public.plans.api_rate_limit is 'Requests per minute each API key of the plan''s organisations may make (fixed one-minute windows); null: unlimited.';

-- Each API key's per-minute budget is counted like the auth throttles
-- (app_private.throttle_hit). A wider rule, so no row can break it; the lead
-- validates it in the next committed migration.
alter table app_private.auth_throttle drop constraint if exists auth_throttle_scope_check;
alter table app_private.auth_throttle add constraint auth_throttle_scope_check
  check (scope in ('reset:user', 'reset:client', 'register:email', 'register:client', 'api:key')) not valid;

-- An import uploaded with an API key is processed as that key (its scopes,
-- while it stays live) rather than as a user. No foreign key: keys are never
-- deleted (only revoked), and an index for one on this table would need a
-- migration of its own.
alter table app_public.lead_imports add column if not exists api_key_id uuid;
comment on column app_public.lead_imports.api_key_id is 'The API key that uploaded the file (null when a signed-in user did); the import runs with that key''s access.';

--! split: 3-webhooks.sql
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

--! split: 4-conversations.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- The unified inbox: conversations (a thread with a lead, both directions),
-- which messages belong to each and whether they were read, and the lead's
-- interest as a member judged it. Kept by functions/157-conversations.sql.
--------------------------------------------------------------------------------

-- A new nullable column: no rewrite. The constraint is NOT VALID (the column
-- is null everywhere); the next migration validates it.
alter table app_public.leads add column if not exists interest_status text;
alter table app_public.leads drop constraint if exists leads_interest_status_check;
alter table app_public.leads add constraint leads_interest_status_check
  check (interest_status in ('interested', 'not_interested', 'meeting_booked', 'out_of_office', 'wrong_person')) not valid;
comment on column app_public.leads.interest_status is 'How interested the lead is, as a member judged it from a conversation (setLeadInterestStatus): interested, not_interested, meeting_booked, out_of_office or wrong_person; null until someone says.';

create table if not exists app_public.conversations (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default app_public.uuid_v7(),
  lead_id uuid not null,
  email_account_id uuid,
  campaign_id uuid,
  enrollment_id uuid,
  root_message_id uuid not null,
  subject text check (length(subject) <= 998),
  last_message_id uuid,
  last_message_at timestamptz,
  last_direction text check (last_direction in ('inbound', 'outbound')),
  message_count integer not null default 0 check (message_count >= 0),
  unread_count integer not null default 0 check (unread_count >= 0),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint conversations_root_key unique (tenant_id, root_message_id),
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade,
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete set null (email_account_id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete set null (campaign_id),
  foreign key (tenant_id, enrollment_id) references app_public.campaign_enrollments (tenant_id, id) on delete set null (enrollment_id),
  foreign key (tenant_id, root_message_id) references app_public.messages (tenant_id, id) on delete cascade,
  foreign key (tenant_id, last_message_id) references app_public.messages (tenant_id, id) on delete set null (last_message_id)
);
comment on table app_public.conversations is 'A thread with a lead in one inbox, both directions: started when the lead first answers (a reply or an auto-reply to a campaign message), then holding the campaign messages of that thread, the lead''s answers and the replies members send from the platform (sendReply). Kept by the database; list them newest first with inboxConversations.';
comment on column app_public.conversations.root_message_id is 'The first outbound message of the thread (the campaign''s first email to the lead in this enrollment).';
comment on column app_public.conversations.enrollment_id is 'The campaign enrollment whose emails form the thread (later emails of it join the conversation when sent).';
comment on column app_public.conversations.subject is 'The thread''s subject (of its first message); replies from the platform use "Re: " and this.';
comment on column app_public.conversations.last_message_id is 'The newest message of the conversation, either direction.';
comment on column app_public.conversations.last_message_at is 'When the newest message was written or received (conversations are listed newest first by this).';
comment on column app_public.conversations.last_direction is 'inbound when the lead wrote last, outbound when we did.';
comment on column app_public.conversations.unread_count is 'Messages from the lead nobody has marked read yet.';

create index if not exists conversations_recent_idx on app_public.conversations (tenant_id, last_message_at desc, id desc);
create index if not exists conversations_lead_idx on app_public.conversations (tenant_id, lead_id);
create index if not exists conversations_account_idx on app_public.conversations (tenant_id, email_account_id, last_message_at desc);
create index if not exists conversations_campaign_idx on app_public.conversations (tenant_id, campaign_id, last_message_at desc);
create index if not exists conversations_enrollment_idx on app_public.conversations (tenant_id, enrollment_id);
create index if not exists conversations_last_message_idx on app_public.conversations (tenant_id, last_message_id);

create table if not exists app_public.conversation_messages (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  conversation_id uuid not null,
  message_id uuid not null,
  direction text not null check (direction in ('inbound', 'outbound')),
  message_created timestamptz not null,
  read_at timestamptz,
  reply_html text check (length(reply_html) <= 500000),
  sent_by uuid references app_public.users (id) on delete set null,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, conversation_id, message_id),
  constraint conversation_messages_message_key unique (tenant_id, message_id),
  foreign key (tenant_id, conversation_id) references app_public.conversations (tenant_id, id) on delete cascade,
  foreign key (tenant_id, message_id) references app_public.messages (tenant_id, id) on delete cascade
);
comment on table app_public.conversation_messages is 'Which messages a conversation holds (a message is in one conversation at most), in both directions, and whether a member has read the lead''s ones (markConversationRead, markMessageRead).';
comment on column app_public.conversation_messages.message_created is 'The message''s own time (messages.created), for ordering without reading messages.';
comment on column app_public.conversation_messages.read_at is 'When a member marked this inbound message read; null is unread. Outbound messages are never unread.';
comment on column app_public.conversation_messages.reply_html is 'The HTML a member wrote for a reply sent from the platform (the message keeps its text in messages.body_text).';
comment on column app_public.conversation_messages.sent_by is 'The member who wrote this reply from the platform; null for campaign messages and the lead''s.';

create index if not exists conversation_messages_thread_idx on app_public.conversation_messages (tenant_id, conversation_id, message_created desc);
create index if not exists conversation_messages_sent_by_idx on app_public.conversation_messages (sent_by);
