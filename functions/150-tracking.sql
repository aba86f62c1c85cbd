--------------------------------------------------------------------------------
-- Tracking endpoints (open pixel, click redirect, one-click unsubscribe).
-- The HTTP routes in src/tracking/ verify the signed token (which names the
-- tenant and the message) before calling these functions, so these functions
-- trust their (tenant_id, message_id) and only check that the message is one
-- of ours. Every event goes through record_email_event().
--------------------------------------------------------------------------------

create or replace function app_private.automated_agent(user_agent text) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- Only clients that say what they are: crawlers, link expanders, security
  -- scanners and HTTP libraries. Image proxies that fetch on behalf of a
  -- person opening the message (GoogleImageProxy, YahooMailProxy) are real
  -- opens; Apple Mail Privacy Protection cannot be told apart honestly.
  select lower((regexp_match(user_agent,
    '(bot\M|crawler|spider|scanner|prefetch|preview|facebookexternalhit|slackbot|whatsapp|barracuda|mimecast|proofpoint|'
    'python-requests|python-urllib|curl/|wget/|go-http-client|okhttp|java/|libwww|httpclient|headlesschrome|phantomjs)', 'i'))[1]);
$$;
comment on function app_private.automated_agent(text) is 'The signature of a self-declared automated client (crawler, link scanner, HTTP library) found in a User-Agent, or null for a person''s mail client or browser.';

create or replace function app_private.tracked_message(tenant_id uuid, message_id uuid) returns app_public.messages
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_row app_public.messages;
begin
  select m.* into v_row from app_public.messages m
  where m.tenant_id = tracked_message.tenant_id and m.id = tracked_message.message_id and m.direction = 'outbound';
  return v_row;
end;
$$;
comment on function app_private.tracked_message(uuid, uuid) is 'The outbound message a tracking token points at, or null when it does not exist (any more).';

create or replace function app_private.track_engagement(
  tenant_id uuid,
  message_id uuid,
  event_type text,
  ip_address inet default null,
  user_agent text default null,
  link_url text default null
) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_agent text := app_private.automated_agent(user_agent);
begin
  if event_type not in ('open', 'click') then
    raise exception 'A tracking endpoint records opens and clicks, not "%".', event_type using errcode = 'INVAL';
  end if;
  if (app_private.tracked_message(tenant_id, message_id)).id is null then
    return false;
  end if;
  perform app_private.record_email_event(
    tenant_id, message_id, event_type, ip_address, user_agent, link_url,
    case when v_agent is not null then jsonb_build_object('automated', true, 'agent', v_agent) else '{}'::jsonb end);
  return true;
end;
$$;
comment on function app_private.track_engagement(uuid, uuid, text, inet, text, text) is 'Records an open or a click from the tracking endpoints. Requests from self-declared automated clients are recorded with metadata {automated, agent} and do not advance the message. Returns false (and records nothing) when the message is not an outbound message of the tenant.';

create or replace function app_private.unsubscribe_preview(tenant_id uuid, message_id uuid)
  returns table (recipient text, sender text, already_unsubscribed boolean)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  m := app_private.tracked_message(unsubscribe_preview.tenant_id, unsubscribe_preview.message_id);
  if m.id is null then
    return;
  end if;
  -- Every table named with the tenant argument: one shard's query on Citus.
  return query
  select
    -- Masked: the page is shown to whoever holds the link (it may have been forwarded).
    regexp_replace(m.to_email::text, '^(.)[^@]*', '\1•••'),
    coalesce(nullif(c.from_name, ''), nullif(ea.from_name, ''), t.name),
    exists (select 1 from app_public.suppressions s where s.tenant_id = unsubscribe_preview.tenant_id and s.email = m.to_email)
  from app_public.tenants t
  left join app_public.campaigns c on c.tenant_id = t.id and c.id = m.campaign_id
  left join app_public.email_accounts ea on ea.tenant_id = t.id and ea.id = m.email_account_id
  where t.id = unsubscribe_preview.tenant_id;
end;
$$;
comment on function app_private.unsubscribe_preview(uuid, uuid) is 'What the unsubscribe confirmation page shows: the masked recipient, who sent the message, and whether the address is already unsubscribed. No row when the message does not exist.';

create or replace function app_private.track_unsubscribe(
  tenant_id uuid,
  message_id uuid,
  ip_address inet default null,
  user_agent text default null,
  method text default 'one_click'
) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_message app_public.messages;
begin
  if method not in ('one_click', 'confirmation_page') then
    raise exception 'Unknown unsubscribe method "%"; expected one_click or confirmation_page.', method using errcode = 'INVAL';
  end if;
  -- Lock the message so two simultaneous requests record one unsubscribe.
  select m.* into v_message from app_public.messages m
    where m.tenant_id = track_unsubscribe.tenant_id and m.id = track_unsubscribe.message_id and m.direction = 'outbound'
    for update;
  if v_message.id is null then
    return 'unknown_message';
  end if;
  if exists (select 1 from app_public.email_events e
             where e.tenant_id = v_message.tenant_id and e.message_id = v_message.id and e.event_type = 'unsubscribe') then
    return 'already_unsubscribed';
  end if;
  perform app_private.record_email_event(v_message.tenant_id, v_message.id, 'unsubscribe', ip_address, user_agent, null,
    jsonb_build_object('method', method));
  -- The address itself is suppressed too, even when the message has no lead
  -- (any more) or the lead's address changed since.
  if v_message.to_email is not null then
    begin
      insert into app_public.suppressions (tenant_id, email, reason)
        values (v_message.tenant_id, v_message.to_email, 'unsubscribed')
      on conflict (tenant_id, email) do nothing;
    exception when check_violation then
      null; -- not a plain address (nothing could be sent to it either); the lead is suppressed above
    end;
  end if;
  return 'unsubscribed';
end;
$$;
comment on function app_private.track_unsubscribe(uuid, uuid, inet, text, text) is 'Unsubscribes the recipient of a message (RFC 8058 one-click, or the confirmation page): records one unsubscribe event (the lead is unsubscribed, suppressed and its sequences stopped) and suppresses the address. Idempotent: returns unsubscribed, already_unsubscribed or unknown_message.';
