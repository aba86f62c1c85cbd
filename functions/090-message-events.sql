--------------------------------------------------------------------------------
-- The message lifecycle. An outbound message's status only moves forward:
--   queued → sending → sent → delivered → opened → clicked → replied
-- and may end in bounced, failed or cancelled instead. Everything that
-- happens to a message is an email_events row recorded through
-- record_email_event(), which advances the status and applies the
-- consequences: a reply stops the sequence, a bounce, complaint or
-- unsubscribe suppresses the lead and stops every sequence it is in.
--------------------------------------------------------------------------------

create or replace function app_private.message_status_rank(status text) returns integer
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select case status
    when 'queued' then 0 when 'sending' then 1 when 'sent' then 2 when 'delivered' then 3
    when 'opened' then 4 when 'clicked' then 5 when 'replied' then 6
    when 'bounced' then 7 when 'failed' then 7 when 'cancelled' then 7
    when 'received' then 0
  end;
$$;
comment on function app_private.message_status_rank(text) is 'Order of outbound message statuses; bounced, failed and cancelled are terminal.';

create or replace function app_private.tg_messages__status_forward() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.status is distinct from old.status then
    if old.status in ('bounced', 'failed', 'cancelled', 'received') then
      raise exception 'Message % is % and cannot become %.', old.id, old.status, new.status using errcode = 'STATE';
    end if;
    -- sending -> queued is the one step back: the SMTP server deferred the
    -- attempt (4xx, connection refused), so nothing was delivered yet.
    if new.status not in ('bounced', 'failed', 'cancelled')
       and not (old.status = 'sending' and new.status = 'queued')
       and app_private.message_status_rank(new.status) < app_private.message_status_rank(old.status) then
      raise exception 'Message % cannot go back from % to %.', old.id, old.status, new.status using errcode = 'STATE';
    end if;
    if new.status in ('bounced', 'failed', 'cancelled') and old.status = 'replied' then
      raise exception 'Message % was replied to and cannot become %.', old.id, new.status using errcode = 'STATE';
    end if;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_messages__status_forward() is 'Refuses status changes that go backwards or leave a terminal status (except sending -> queued when an attempt was deferred).';
create or replace trigger _200_status_forward
  before update of status on app_public.messages
  for each row execute function app_private.tg_messages__status_forward();

-- Suppress an address (and stop everything in flight to it) for a reason.
create or replace function app_private.suppress_lead(tenant_id uuid, lead_id uuid, reason text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_email citext;
  v_lead_status text := case reason when 'unsubscribed' then 'unsubscribed' when 'bounced' then 'bounced'
                                     when 'complained' then 'complained' else 'do_not_contact' end;
  v_now timestamptz := now();
begin
  update app_public.leads l set
      status = v_lead_status,
      unsubscribed_at = case when reason = 'unsubscribed' then coalesce(l.unsubscribed_at, v_now) else l.unsubscribed_at end,
      bounced_at = case when reason = 'bounced' then coalesce(l.bounced_at, v_now) else l.bounced_at end
    where l.tenant_id = suppress_lead.tenant_id and l.id = suppress_lead.lead_id
    returning l.email into v_email;
  if v_email is null then
    return;
  end if;
  insert into app_public.suppressions (tenant_id, email, reason)
    values (suppress_lead.tenant_id, v_email, reason)
  on conflict (tenant_id, email) do nothing;
  update app_public.campaign_enrollments e set status = reason, stop_reason = reason, next_run_at = null, completed_at = now()
    where e.tenant_id = suppress_lead.tenant_id and e.lead_id = suppress_lead.lead_id and e.status in ('active', 'paused')
      and reason in ('unsubscribed', 'bounced');
  update app_public.campaign_enrollments e set status = 'cancelled', stop_reason = reason, next_run_at = null, completed_at = now()
    where e.tenant_id = suppress_lead.tenant_id and e.lead_id = suppress_lead.lead_id and e.status in ('active', 'paused');
  update app_public.messages m set status = 'cancelled', error_message = 'Recipient is suppressed (' || reason || ').'
    where m.tenant_id = suppress_lead.tenant_id and m.lead_id = suppress_lead.lead_id and m.direction = 'outbound' and m.status = 'queued';
end;
$$;
comment on function app_private.suppress_lead(uuid, uuid, text) is 'Marks a lead unsubscribed/bounced/complained, adds its address to the suppression list, ends its active enrollments and cancels its queued messages.';

-- smtp_response was added: a new argument list needs a new function.
drop function if exists app_private.record_email_event(uuid, uuid, text, inet, text, text, jsonb);
create or replace function app_private.record_email_event(
  tenant_id uuid,
  message_id uuid,
  event_type text,
  ip_address inet default null,
  user_agent text default null,
  link_url text default null,
  metadata jsonb default '{}',
  smtp_response text default null
) returns uuid
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_message app_public.messages;
  v_event_id uuid;
  v_stop_on_reply boolean;
  -- A value, not now(): Citus refuses a function call inside CASE or
  -- coalesce in an UPDATE of a distributed table.
  v_now timestamptz := now();
begin
  select m.* into v_message from app_public.messages m
    where m.tenant_id = record_email_event.tenant_id and m.id = record_email_event.message_id
    for update;
  if v_message.id is null then
    raise exception 'There is no message %.', message_id using errcode = 'NTFND';
  end if;

  insert into app_public.email_events (tenant_id, message_id, campaign_id, lead_id, event_type, ip_address, user_agent, link_url, metadata)
    values (v_message.tenant_id, v_message.id, v_message.campaign_id, v_message.lead_id, event_type,
            record_email_event.ip_address, left(record_email_event.user_agent, 1000), left(record_email_event.link_url, 2000),
            coalesce(record_email_event.metadata, '{}'))
    returning id into v_event_id;

  -- Opens and clicks by self-declared automated clients (link scanners,
  -- crawlers; see app_private.automated_agent) are kept as evidence only.
  if event_type in ('open', 'click') and coalesce(metadata ->> 'automated', 'false') = 'true' then
    return v_event_id;
  end if;

  -- Advance the message (never backwards; terminal states stay terminal).
  update app_public.messages m set
      status = case
        when m.status in ('bounced', 'failed', 'cancelled') then m.status
        when event_type = 'sent' and m.status in ('queued', 'sending') then 'sent'
        when event_type = 'delivered' and app_private.message_status_rank(m.status) < 3 then 'delivered'
        when event_type = 'open' and app_private.message_status_rank(m.status) < 4 then 'opened'
        when event_type = 'click' and app_private.message_status_rank(m.status) < 5 then 'clicked'
        when event_type = 'reply' and m.status <> 'replied' then 'replied'
        when event_type = 'bounce' and m.status <> 'replied' then 'bounced'
        when event_type = 'failed' and m.status in ('queued', 'sending') then 'failed'
        when event_type = 'deferred' and m.status = 'sending' then 'queued'
        else m.status
      end,
      sent_at = case when event_type = 'sent' then coalesce(m.sent_at, v_now) else m.sent_at end,
      delivered_at = case when event_type = 'delivered' then coalesce(m.delivered_at, v_now) else m.delivered_at end,
      opened_at = case when event_type in ('open', 'click') then coalesce(m.opened_at, v_now) else m.opened_at end,
      clicked_at = case when event_type = 'click' then coalesce(m.clicked_at, v_now) else m.clicked_at end,
      replied_at = case when event_type = 'reply' then coalesce(m.replied_at, v_now) else m.replied_at end,
      bounced_at = case when event_type = 'bounce' then coalesce(m.bounced_at, v_now) else m.bounced_at end,
      -- In the same UPDATE as the status: every UPDATE of messages runs its rollup triggers.
      smtp_response = coalesce(left(record_email_event.smtp_response, 1000), m.smtp_response)
    where m.tenant_id = v_message.tenant_id and m.id = v_message.id;

  -- Consequences for the lead and its sequences.
  if v_message.lead_id is not null then
    if event_type = 'reply' then
      update app_public.leads l set
          replied_at = coalesce(l.replied_at, v_now),
          status = case when l.status = 'active' then 'replied' else l.status end
        where l.tenant_id = v_message.tenant_id and l.id = v_message.lead_id;
      select c.stop_on_reply into v_stop_on_reply from app_public.campaigns c
        where c.tenant_id = v_message.tenant_id and c.id = v_message.campaign_id;
      -- A reply to a message of no campaign (a reply sent from the inbox)
      -- stops nothing: other queued inbox replies to the lead must go out.
      if v_message.campaign_id is not null and coalesce(v_stop_on_reply, true) then
        update app_public.campaign_enrollments e set status = 'replied', stop_reason = 'replied', next_run_at = null, completed_at = now()
          where e.tenant_id = v_message.tenant_id and e.lead_id = v_message.lead_id
            and e.campaign_id is not distinct from v_message.campaign_id and e.status in ('active', 'paused');
        update app_public.messages m set status = 'cancelled', error_message = 'The lead replied.'
          where m.tenant_id = v_message.tenant_id and m.lead_id = v_message.lead_id
            and m.campaign_id is not distinct from v_message.campaign_id and m.direction = 'outbound' and m.status = 'queued';
      end if;
    elsif event_type = 'bounce' and coalesce(metadata ->> 'bounce_type', 'hard') = 'hard' then
      perform app_private.suppress_lead(v_message.tenant_id, v_message.lead_id, 'bounced');
    elsif event_type = 'complaint' then
      perform app_private.suppress_lead(v_message.tenant_id, v_message.lead_id, 'complained');
    elsif event_type = 'unsubscribe' then
      perform app_private.suppress_lead(v_message.tenant_id, v_message.lead_id, 'unsubscribed');
    end if;
    if event_type = 'sent' then
      update app_public.leads l set last_contacted_at = now()
        where l.tenant_id = v_message.tenant_id and l.id = v_message.lead_id;
    end if;
  end if;
  return v_event_id;
end;
$$;
comment on function app_private.record_email_event(uuid, uuid, text, inet, text, text, jsonb, text) is 'Records what happened to a message and applies it: advances the status (forward only), stores the SMTP server''s answer when given (smtp_response), stops the sequence on reply (if the campaign says so), and on a hard bounce, complaint or unsubscribe suppresses the lead everywhere. Opens and clicks with metadata {"automated": true} are recorded but change nothing. The one way events are written.';
