--------------------------------------------------------------------------------
-- Outbound webhooks: events recorded in the transaction that causes them.
--
-- Triggers on the tables where things happen (email_events, leads,
-- campaigns, domains, email_accounts, lead_imports) call
-- app_private.emit_webhook_event, which writes one webhook_events row and one
-- webhook_deliveries row per enabled subscription that wants the event, and
-- queues the subscription's webhook_deliver job: a rolled-back change leaves
-- no event and no job. A tenant without a matching enabled subscription pays
-- one index look-up of its subscriptions and writes nothing.
--
-- The triggers call emit_webhook_event directly (it writes nothing when no
-- subscription matches), except the one on email_events, which asks
-- webhook_subscribers first: its payload needs the message read.
--
-- Citus: every trigger reads and writes only its row's tenant
-- (tenant_id = the row's tenant) and queues jobs through app_private.add_job.
--------------------------------------------------------------------------------

create or replace function app_private.webhook_subscribers(tenant_id uuid, event_type text, campaign_id uuid) returns uuid[]
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return array(
    select s.id from app_public.webhook_subscriptions s
    where s.tenant_id = webhook_subscribers.tenant_id and s.enabled
      and (s.event_types = '{}' or webhook_subscribers.event_type = any (s.event_types))
      and (s.campaign_id is null or s.campaign_id = webhook_subscribers.campaign_id)
    order by s.id
  );
end;
$$;
comment on function app_private.webhook_subscribers(uuid, text, uuid) is 'The enabled webhook subscriptions of the tenant that want this event type (of this campaign, when a subscription is filtered by campaign).';

create or replace function app_private.queue_webhook_delivery(tenant_id uuid, subscription_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- No job key: a keyed job is one row every transaction recording an event
  -- for the subscription would lock until it commits (a queue of writers, and
  -- a deadlock with a transaction that locks the same lead in the other
  -- order). No named queue either: one job at a time posts because it holds
  -- the subscription's lease (claim_webhook_lease), and a job that finds the
  -- lease taken, or nothing due, ends at once.
  perform app_private.add_job(queue_webhook_delivery.tenant_id, 'webhook_deliver',
    json_build_object('tenant_id', queue_webhook_delivery.tenant_id, 'subscription_id', queue_webhook_delivery.subscription_id));
end;
$$;
comment on function app_private.queue_webhook_delivery(uuid, uuid) is 'Queues a webhook_deliver job for a subscription, without a job key so concurrent writers never wait for each other; the job posts only while it holds the subscription''s lease.';

create or replace function app_private.emit_webhook_event(tenant_id uuid, event_type text, campaign_id uuid, data jsonb) returns uuid
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_event_id uuid;
  v_created timestamptz := clock_timestamp();
  v_subscription_id uuid;
begin
  foreach v_subscription_id in array app_private.webhook_subscribers(emit_webhook_event.tenant_id, emit_webhook_event.event_type,
                                                                     emit_webhook_event.campaign_id)
  loop
    if v_event_id is null then
      v_event_id := gen_random_uuid();
      insert into app_public.webhook_events (tenant_id, id, event_type, campaign_id, data, created)
        values (emit_webhook_event.tenant_id, v_event_id, emit_webhook_event.event_type, emit_webhook_event.campaign_id,
                emit_webhook_event.data, v_created);
    end if;
    insert into app_public.webhook_deliveries (tenant_id, webhook_subscription_id, event_id, event_created, next_attempt_at)
      values (emit_webhook_event.tenant_id, v_subscription_id, v_event_id, v_created, v_created);
    perform app_private.queue_webhook_delivery(emit_webhook_event.tenant_id, v_subscription_id);
  end loop;
  return v_event_id;
end;
$$;
comment on function app_private.emit_webhook_event(uuid, text, uuid, jsonb) is 'Records a webhook event for every enabled subscription of the tenant that wants it (one delivery each, its job queued), in the caller''s transaction; writes nothing and returns null when none does.';

--------------------------------------------------------------------------------
-- The triggers.
--------------------------------------------------------------------------------

create or replace function app_private.tg_email_events__webhook() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_type text := case new.event_type
    when 'sent' then 'email.sent' when 'open' then 'email.opened' when 'click' then 'email.clicked'
    when 'reply' then 'email.replied' when 'bounce' then 'email.bounced'
    when 'unsubscribe' then 'email.unsubscribed' when 'complaint' then 'email.complained' end;
  v_message app_public.messages;
  v_reply app_public.messages;
  v_data jsonb;
begin
  if v_type is null or (new.event_type in ('open', 'click') and coalesce(new.metadata ->> 'automated', 'false') = 'true')
     or cardinality(app_private.webhook_subscribers(new.tenant_id, v_type, new.campaign_id)) = 0 then
    return null;
  end if;
  select m.* into v_message from app_public.messages m where m.tenant_id = new.tenant_id and m.id = new.message_id;
  -- record_email_event inserts the event before it advances the message (which
  -- it holds locked), so opened_at is still null at the first open.
  if new.event_type = 'open' and v_message.opened_at is not null then
    return null;
  end if;
  v_data := jsonb_build_object(
    'message_id', new.message_id, 'campaign_id', new.campaign_id, 'lead_id', new.lead_id,
    'email_account_id', v_message.email_account_id, 'to', v_message.to_email, 'from', v_message.from_email,
    'subject', v_message.subject, 'occurred_at', new.created);
  if new.event_type = 'click' then
    v_data := v_data || jsonb_build_object('url', new.link_url);
  elsif new.event_type = 'bounce' then
    v_data := v_data || jsonb_build_object('bounce_type', coalesce(new.metadata ->> 'bounce_type', 'hard'),
      'status', new.metadata ->> 'status', 'diagnostic_code', new.metadata ->> 'diagnostic_code');
  elsif new.event_type = 'reply' then
    select m.* into v_reply from app_public.messages m
      where m.tenant_id = new.tenant_id and m.id = (new.metadata ->> 'inbound_message_id')::uuid;
    v_data := v_data || jsonb_build_object(
      'reply', jsonb_build_object('message_id', v_reply.id, 'from', v_reply.from_email, 'subject', v_reply.subject,
                                  'text', v_reply.body_text, 'rfc_message_id', v_reply.rfc_message_id),
      'thread', jsonb_build_object('message_id', v_message.id, 'rfc_message_id', v_message.rfc_message_id,
                                   'in_reply_to', v_reply.in_reply_to, 'references', v_reply.references_header));
  end if;
  perform app_private.emit_webhook_event(new.tenant_id, v_type, new.campaign_id, v_data);
  return null;
end;
$$;
comment on function app_private.tg_email_events__webhook() is 'Webhook events of a message: email.sent, email.opened (first open only), email.clicked, email.replied (with the reply''s text and thread), email.bounced (hard/soft), email.unsubscribed, email.complained. Opens and clicks of automated clients are not events.';
create or replace trigger _900_webhook_event
  after insert on app_public.email_events
  for each row execute function app_private.tg_email_events__webhook();

-- The lead columns whose change is a lead.status_changed event (the
-- trigger below fires on updates of these columns only: list a new one there
-- too): the status the engine keeps, and the interest status a user sets from
-- a conversation (functions/157-conversations.sql).
create or replace function app_private.webhook_lead_state(lead jsonb) returns jsonb
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select jsonb_build_object('status', lead -> 'status', 'interest_status', lead -> 'interest_status');
$$;
comment on function app_private.webhook_lead_state(jsonb) is 'The part of a lead (as JSON) whose change is a lead.status_changed webhook event, and which the event reports as previous and current.';

create or replace function app_private.tg_leads__webhook() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb := app_private.webhook_lead_state(to_jsonb(old));
  v_new jsonb := app_private.webhook_lead_state(to_jsonb(new));
begin
  if v_old is distinct from v_new then
    perform app_private.emit_webhook_event(new.tenant_id, 'lead.status_changed', null,
      jsonb_build_object('lead_id', new.id, 'email', new.email, 'previous', v_old, 'current', v_new));
  end if;
  return null;
end;
$$;
comment on function app_private.tg_leads__webhook() is 'The lead.status_changed webhook event, when a column of webhook_lead_state changes.';
create or replace trigger _900_webhook_event
  after update of status, interest_status on app_public.leads
  for each row execute function app_private.tg_leads__webhook();

create or replace function app_private.tg_campaigns__webhook() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_type text := case
    when new.status = 'sending' and old.status = 'paused' then 'campaign.resumed'
    when new.status = 'sending' then 'campaign.started'
    when new.status = 'paused' then 'campaign.paused'
    when new.status = 'completed' then 'campaign.completed'
    when new.status = 'cancelled' then 'campaign.cancelled' end;
begin
  if new.status is distinct from old.status and v_type is not null then
    perform app_private.emit_webhook_event(new.tenant_id, v_type, new.id,
      jsonb_build_object('campaign_id', new.id, 'name', new.name, 'status', new.status, 'previous_status', old.status,
                         'paused_by', new.paused_by, 'pause_reason', new.pause_reason));
  end if;
  return null;
end;
$$;
comment on function app_private.tg_campaigns__webhook() is 'Webhook events of a campaign''s status: campaign.started, paused, resumed, completed, cancelled.';
create or replace trigger _900_webhook_event
  after update of status on app_public.campaigns
  for each row execute function app_private.tg_campaigns__webhook();

create or replace function app_private.tg_domains__webhook() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_type text := case new.verification_status when 'verified' then 'domain.verified' when 'failed' then 'domain.failed' end;
begin
  if new.verification_status is distinct from old.verification_status and v_type is not null then
    perform app_private.emit_webhook_event(new.tenant_id, v_type, null,
      jsonb_build_object('domain_id', new.id, 'domain', new.domain, 'status', new.verification_status,
                         'previous_status', old.verification_status, 'error', new.dns_verification_error));
  end if;
  return null;
end;
$$;
comment on function app_private.tg_domains__webhook() is 'Webhook events of domain verification: domain.verified, domain.failed.';
create or replace trigger _900_webhook_event
  after update of verification_status on app_public.domains
  for each row execute function app_private.tg_domains__webhook();

create or replace function app_private.tg_email_accounts__webhook() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.status = 'error' and old.status is distinct from 'error' then
    perform app_private.emit_webhook_event(new.tenant_id, 'inbox.error', null,
      jsonb_build_object('email_account_id', new.id, 'email', new.email, 'error', new.last_error, 'previous_status', old.status,
                         'status', new.status, 'pause_reason', new.pause_reason, 'safety_pause', null));
  elsif new.safety_pause is not null and old.safety_pause is null then
    -- Paused automatically for its bounce or complaint rate (functions/117).
    perform app_private.emit_webhook_event(new.tenant_id, 'inbox.error', null,
      jsonb_build_object('email_account_id', new.id, 'email', new.email, 'error', new.pause_reason, 'previous_status', old.status,
                         'status', new.status, 'pause_reason', new.pause_reason, 'safety_pause', new.safety_pause));
  end if;
  return null;
end;
$$;
comment on function app_private.tg_email_accounts__webhook() is 'The inbox.error webhook event, when an inbox enters the error status or is paused automatically for its bounce or complaint rate (safety_pause).';
create or replace trigger _900_webhook_event
  after update of status on app_public.email_accounts
  for each row execute function app_private.tg_email_accounts__webhook();

create or replace function app_private.tg_lead_imports__webhook() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_type text := case new.status when 'completed' then 'import.completed' when 'failed' then 'import.failed' end;
begin
  if new.status is distinct from old.status and v_type is not null then
    perform app_private.emit_webhook_event(new.tenant_id, v_type, null,
      jsonb_build_object('import_id', new.id, 'file_name', new.file_name, 'contact_list_id', new.contact_list_id,
                         'total_rows', new.total_rows, 'imported_rows', new.imported_rows, 'updated_rows', new.updated_rows,
                         'skipped_rows', new.skipped_rows, 'failure_reason', new.failure_reason));
  end if;
  return null;
end;
$$;
comment on function app_private.tg_lead_imports__webhook() is 'Webhook events of a lead import: import.completed, import.failed.';
create or replace trigger _900_webhook_event
  after update of status on app_public.lead_imports
  for each row execute function app_private.tg_lead_imports__webhook();

--------------------------------------------------------------------------------
-- Subscriptions: creation and rotation (their secrets are sealed by the API
-- server, plugins/webhook-subscriptions.ts), re-enabling.
--------------------------------------------------------------------------------

create or replace function app_hidden.create_webhook_subscription(
  url text, event_types text[], campaign_id uuid, description text, enabled boolean, secret_encrypted bytea
) returns uuid
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_id uuid := gen_random_uuid();
  v_enabled boolean := coalesce(create_webhook_subscription.enabled, true);
  v_disabled_at timestamptz := case when v_enabled then null else now() end;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  if campaign_id is not null and not exists (select 1 from app_public.campaigns c
                                             where c.tenant_id = v_tenant_id and c.id = create_webhook_subscription.campaign_id) then
    raise exception 'There is no campaign % in this organisation.', campaign_id using errcode = 'NTFND';
  end if;
  insert into app_public.webhook_subscriptions (tenant_id, id, url, event_types, campaign_id, description, enabled, disabled_at, created_by)
    values (v_tenant_id, v_id, create_webhook_subscription.url, coalesce(create_webhook_subscription.event_types, '{}'),
            create_webhook_subscription.campaign_id, create_webhook_subscription.description, v_enabled, v_disabled_at,
            app_public.current_user_id());
  insert into app_private.webhook_secrets (tenant_id, subscription_id, secret_encrypted)
    values (v_tenant_id, v_id, create_webhook_subscription.secret_encrypted);
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'webhook_subscription.created', 'webhook_subscriptions', v_id::text,
            jsonb_build_object('url', create_webhook_subscription.url, 'event_types', create_webhook_subscription.event_types));
  return v_id;
end;
$$;
comment on function app_hidden.create_webhook_subscription(text, text[], uuid, text, boolean, bytea) is 'Creates a webhook subscription with its sealed signing secret (addWebhookSubscription). Owners and admins only; audited.';

create or replace function app_hidden.rotate_webhook_secret(subscription_id uuid, secret_encrypted bytea, overlap interval)
returns timestamptz
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_now timestamptz := now();
  v_expires timestamptz;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  if overlap is null or overlap < interval '0' or overlap > interval '7 days' then
    raise exception 'The overlap of the old secret must be between 0 and 7 days.' using errcode = 'INVAL';
  end if;
  v_expires := v_now + overlap;
  perform 1 from app_public.webhook_subscriptions s
    where s.tenant_id = v_tenant_id and s.id = rotate_webhook_secret.subscription_id for update;
  if not found then
    raise exception 'There is no webhook subscription % in this organisation.', subscription_id using errcode = 'NTFND';
  end if;
  update app_private.webhook_secrets ws set
      previous_secret_encrypted = ws.secret_encrypted,
      previous_expires_at = v_expires,
      secret_encrypted = rotate_webhook_secret.secret_encrypted,
      updated = v_now
    where ws.tenant_id = v_tenant_id and ws.subscription_id = rotate_webhook_secret.subscription_id;
  update app_public.webhook_subscriptions s set secret_rotated_at = v_now, previous_secret_expires_at = v_expires
    where s.tenant_id = v_tenant_id and s.id = rotate_webhook_secret.subscription_id;
  insert into app_public.audit_log (tenant_id, actor_user_id, action, table_name, record_id, changes)
    values (v_tenant_id, app_public.current_user_id(), 'webhook_subscription.secret_rotated', 'webhook_subscriptions',
            subscription_id::text, jsonb_build_object('previous_valid_until', v_expires));
  return v_expires;
end;
$$;
comment on function app_hidden.rotate_webhook_secret(uuid, bytea, interval) is 'Replaces a subscription''s signing secret (rotateWebhookSecret); deliveries are signed with the old one too until now + overlap. Owners and admins only; audited.';

create or replace function app_private.tg_webhook_subscriptions__enabled() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.enabled and not old.enabled then
    new.disabled_at := null;
    new.disabled_reason := null;
    new.consecutive_failures := 0;
    -- Deliveries left pending while it was disabled go out now, in order.
    perform app_private.queue_webhook_delivery(new.tenant_id, new.id);
  elsif old.enabled and not new.enabled and new.disabled_at is null then
    new.disabled_at := now();
  end if;
  return new;
end;
$$;
comment on function app_private.tg_webhook_subscriptions__enabled() is 'Enabling a subscription clears why it was disabled and resumes its pending deliveries; disabling it records when.';
create or replace trigger _300_enabled
  before update of enabled on app_public.webhook_subscriptions
  for each row execute function app_private.tg_webhook_subscriptions__enabled();

--------------------------------------------------------------------------------
-- Test events and replays.
--------------------------------------------------------------------------------

create or replace function app_private.lock_webhook_subscription(subscription_id uuid) returns app_public.webhook_subscriptions
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_subscription app_public.webhook_subscriptions;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  select s.* into v_subscription from app_public.webhook_subscriptions s
    where s.tenant_id = v_tenant_id and s.id = lock_webhook_subscription.subscription_id for update;
  if v_subscription.id is null then
    raise exception 'There is no webhook subscription % in this organisation.', subscription_id using errcode = 'NTFND';
  end if;
  return v_subscription;
end;
$$;
comment on function app_private.lock_webhook_subscription(uuid) is 'The current tenant''s subscription, locked, for an owner or admin; DNIED or NTFND otherwise.';

create or replace function app_public.send_webhook_test_event(subscription_id uuid) returns app_public.webhook_deliveries
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_subscription app_public.webhook_subscriptions := app_private.lock_webhook_subscription(subscription_id);
  v_event_id uuid := gen_random_uuid();
  v_created timestamptz := clock_timestamp();
  v_delivery app_public.webhook_deliveries;
begin
  if not v_subscription.enabled then
    raise exception 'This webhook is disabled; enable it before sending a test event.' using errcode = 'STATE';
  end if;
  insert into app_public.webhook_events (tenant_id, id, event_type, data, created)
    values (v_subscription.tenant_id, v_event_id, 'webhook.test',
            jsonb_build_object('subscription_id', v_subscription.id, 'message', 'A test event from PenguinMails.'), v_created);
  insert into app_public.webhook_deliveries (tenant_id, webhook_subscription_id, event_id, event_created, next_attempt_at)
    values (v_subscription.tenant_id, v_subscription.id, v_event_id, v_created, v_created)
    returning * into v_delivery;
  perform app_private.queue_webhook_delivery(v_subscription.tenant_id, v_subscription.id);
  return v_delivery;
end;
$$;
comment on function app_public.send_webhook_test_event(uuid) is 'Sends a webhook.test event to one subscription (after its pending deliveries). Owners and admins; returns the delivery to follow in the log.';

create or replace function app_public.replay_webhook_delivery(delivery_id uuid) returns app_public.webhook_deliveries
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_delivery app_public.webhook_deliveries;
  v_now timestamptz := now();
begin
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins can manage webhooks.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('webhooks');
  select d.* into v_delivery from app_public.webhook_deliveries d
    where d.tenant_id = v_tenant_id and d.id = replay_webhook_delivery.delivery_id;
  if v_delivery.id is null then
    raise exception 'There is no webhook delivery % in this organisation.', delivery_id using errcode = 'NTFND';
  end if;
  perform app_private.lock_webhook_subscription(v_delivery.webhook_subscription_id);
  if v_delivery.status = 'pending' then
    raise exception 'This delivery is still pending; it is retried on its own.' using errcode = 'STATE';
  end if;
  update app_public.webhook_deliveries d set status = 'pending', attempts = 0, next_attempt_at = v_now, completed_at = null,
      replayed_at = v_now
    where d.tenant_id = v_tenant_id and d.id = v_delivery.id
    returning * into v_delivery;
  perform app_private.queue_webhook_delivery(v_tenant_id, v_delivery.webhook_subscription_id);
  return v_delivery;
end;
$$;
comment on function app_public.replay_webhook_delivery(uuid) is 'Delivers a succeeded or failed delivery again, with the same webhook-id (its event''s id) and body. It goes out in its event''s place in the order, before newer pending deliveries. Owners and admins.';

create or replace function app_public.replay_webhook_deliveries(subscription_id uuid, from_time timestamptz, to_time timestamptz)
returns integer
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_subscription app_public.webhook_subscriptions := app_private.lock_webhook_subscription(subscription_id);
  v_now timestamptz := now();
  v_count integer;
begin
  if from_time is null or to_time is null or to_time <= from_time then
    raise exception 'Give a time range whose end is after its start.' using errcode = 'INVAL';
  end if;
  update app_public.webhook_deliveries d set status = 'pending', attempts = 0, next_attempt_at = v_now, completed_at = null,
      replayed_at = v_now
    where d.tenant_id = v_subscription.tenant_id and d.webhook_subscription_id = v_subscription.id and d.status <> 'pending'
      and d.event_created >= from_time and d.event_created < to_time;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    perform app_private.queue_webhook_delivery(v_subscription.tenant_id, v_subscription.id);
  end if;
  return v_count;
end;
$$;
comment on function app_public.replay_webhook_deliveries(uuid, timestamptz, timestamptz) is 'Delivers again every finished delivery of a subscription whose event happened in [fromTime, toTime), each with its original webhook-id, in event order. Returns how many. Owners and admins.';

--------------------------------------------------------------------------------
-- The worker's side (workers/webhooks/deliver.ts).
--------------------------------------------------------------------------------

create or replace function app_private.claim_webhook_lease(tenant_id uuid, subscription_id uuid, holder text, ttl interval,
                                                           out claimed boolean, out held_until timestamptz)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_holder text;
  v_now timestamptz := clock_timestamp();
begin
  -- A lease another holder has is seen without locking its row: jobs of a
  -- busy subscription end here without writing anything (ON CONFLICT DO
  -- UPDATE would lock the row, a WAL record and a wait each, even when its
  -- WHERE then fails).
  select l.holder, l.expires_at into v_holder, held_until from app_private.webhook_delivery_leases l
    where l.tenant_id = claim_webhook_lease.tenant_id and l.subscription_id = claim_webhook_lease.subscription_id;
  if found and v_holder <> claim_webhook_lease.holder and held_until >= v_now then
    claimed := false;
    return;
  end if;
  -- The subscription was deleted (by its tenant, or with the tenant) after
  -- the job was queued: nothing to deliver, and no lease to take.
  if not exists (select 1 from app_public.webhook_subscriptions s
                 where s.tenant_id = claim_webhook_lease.tenant_id and s.id = claim_webhook_lease.subscription_id) then
    claimed := false;
    held_until := null;
    return;
  end if;
  -- Taken when free, expired, or already this holder's (then extended).
  insert into app_private.webhook_delivery_leases as l (tenant_id, subscription_id, holder, expires_at)
    values (claim_webhook_lease.tenant_id, claim_webhook_lease.subscription_id, claim_webhook_lease.holder,
            v_now + claim_webhook_lease.ttl)
    -- v_now, not clock_timestamp(): Citus takes only constants here.
    on conflict (tenant_id, subscription_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
      where l.holder = excluded.holder or l.expires_at < v_now
    returning l.expires_at into held_until;
  claimed := found;
  if not claimed then
    select l.expires_at into held_until from app_private.webhook_delivery_leases l
      where l.tenant_id = claim_webhook_lease.tenant_id and l.subscription_id = claim_webhook_lease.subscription_id;
  end if;
end;
$$;
comment on function app_private.claim_webhook_lease(uuid, uuid, text, interval) is 'Takes (or extends) the lease on posting a subscription''s deliveries for ttl: claimed, and until when the lease is held (by this holder, or by the one that has it). Not claimed, with no time, when the subscription no longer exists.';

create or replace function app_private.release_webhook_lease(tenant_id uuid, subscription_id uuid, holder text) returns void
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  delete from app_private.webhook_delivery_leases l
  where l.tenant_id = release_webhook_lease.tenant_id and l.subscription_id = release_webhook_lease.subscription_id
    and l.holder = release_webhook_lease.holder;
$$;
comment on function app_private.release_webhook_lease(uuid, uuid, text) is 'Gives back a subscription''s delivery lease, if this holder still has it.';

create or replace function app_private.queue_stalled_webhook_deliveries(at timestamptz default now())
  returns table (tenant_id uuid, subscription_id uuid)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A job queued per event normally posts it within seconds. A delivery due
  -- for over a minute with no live lease on its subscription lost its job
  -- (its worker died holding the lease, and the job that found the lease
  -- taken ended): queue one.
  for tenant_id, subscription_id in
    select s.tenant_id, s.id from app_public.webhook_subscriptions s
    where s.enabled
      and exists (select 1 from app_public.webhook_deliveries d
                  where d.tenant_id = s.tenant_id and d.webhook_subscription_id = s.id and d.status = 'pending'
                    and d.next_attempt_at < queue_stalled_webhook_deliveries.at - interval '1 minute')
      and not exists (select 1 from app_private.webhook_delivery_leases l
                      where l.tenant_id = s.tenant_id and l.subscription_id = s.id and l.expires_at > queue_stalled_webhook_deliveries.at)
    limit 5000
  loop
    perform app_private.queue_webhook_delivery(queue_stalled_webhook_deliveries.tenant_id, queue_stalled_webhook_deliveries.subscription_id);
    return next;
  end loop;
end;
$$;
comment on function app_private.queue_stalled_webhook_deliveries(timestamptz) is 'Run every minute: queues webhook_deliver for each enabled subscription with a delivery due for over a minute and no live lease (its job was lost with a worker); returns the subscriptions it queued a job for.';

create or replace function app_private.record_webhook_attempt(
  tenant_id uuid, delivery_id uuid, succeeded boolean, response_code integer, response_body text, duration_ms integer,
  error text, retry_at timestamptz
) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := now();
  v_subscription_id uuid;
  v_status text := case when succeeded then 'succeeded' when retry_at is null then 'failed' else 'pending' end;
  v_completed timestamptz := case when succeeded or retry_at is null then now() end;
  v_body text := left(response_body, 2000);
  v_error text := left(error, 1000);
  v_disabled boolean := false;
begin
  update app_public.webhook_deliveries d set
      status = v_status, attempts = d.attempts + 1, last_attempt_at = v_now, next_attempt_at = record_webhook_attempt.retry_at,
      response_code = record_webhook_attempt.response_code, response_body = v_body,
      duration_ms = record_webhook_attempt.duration_ms, error = v_error, completed_at = v_completed
    where d.tenant_id = record_webhook_attempt.tenant_id and d.id = record_webhook_attempt.delivery_id and d.status = 'pending'
    returning d.webhook_subscription_id into v_subscription_id;
  if v_subscription_id is null then
    return false;
  end if;
  if succeeded then
    update app_public.webhook_subscriptions s set consecutive_failures = 0
      where s.tenant_id = record_webhook_attempt.tenant_id and s.id = v_subscription_id and s.consecutive_failures <> 0;
  elsif retry_at is not null then
    update app_public.webhook_subscriptions s set consecutive_failures = s.consecutive_failures + 1
      where s.tenant_id = record_webhook_attempt.tenant_id and s.id = v_subscription_id;
  else
    -- A delivery failed for its whole retry schedule: the endpoint is
    -- considered gone. The subscription stops (later deliveries stay pending
    -- until it is enabled again) and the organisation's admins are told.
    update app_public.webhook_subscriptions s set consecutive_failures = s.consecutive_failures + 1, enabled = false,
        disabled_at = v_now,
        disabled_reason = 'Disabled automatically: a delivery failed on every attempt of its retry schedule.'
      where s.tenant_id = record_webhook_attempt.tenant_id and s.id = v_subscription_id and s.enabled;
    v_disabled := found;
    if v_disabled then
      perform app_private.add_job(record_webhook_attempt.tenant_id, 'webhook_disabled_notice',
        json_build_object('tenant_id', record_webhook_attempt.tenant_id, 'subscription_id', v_subscription_id));
    end if;
  end if;
  return v_disabled;
end;
$$;
comment on function app_private.record_webhook_attempt(uuid, uuid, boolean, integer, text, integer, text, timestamptz) is 'Records the outcome of one delivery attempt: succeeded, retried at retry_at, or (retry_at null) failed for good, which disables the subscription and queues the notice to its admins. Returns whether it disabled the subscription.';
