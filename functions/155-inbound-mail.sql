--------------------------------------------------------------------------------
-- Inbound mail: what the IMAP poller (src/imap/) found in an inbox. The poller
-- parses a message and says what kind it is (email, auto_reply or a delivery
-- status notification); this file decides what it means for our data: which
-- of our outbound messages it answers, whether it is stored, and which event
-- it records through record_email_event().
--
-- Rules:
--  * A message is ours to keep only when it answers one of our outbound
--    messages in the same tenant (In-Reply-To, then References from the most
--    recent; for a DSN first the original Message-ID it reports on, and as a
--    last resort the failed recipient's latest message from this inbox).
--    Anything else in the inbox is the owner's private mail and is ignored.
--  * A reply records a `reply` event on the message it answers (which stops
--    the sequence when the campaign stops on reply).
--  * An auto-reply (out of office, vacation, autoresponder) is stored, threaded,
--    as message_type auto_reply and records nothing: it is not engagement and
--    must not stop a sequence.
--  * A DSN is stored as message_type bounce. Action failed records a `bounce`
--    event, hard for 5.x.x (the lead is suppressed), soft for 4.x.x or an
--    unknown status; Action delayed records `deferred`; delivered, relayed and
--    expanded record `delivered`.
--  * A feedback report (RFC 5965, a recipient marked our mail as spam) is
--    matched by the Message-ID of the original it carries (else by the
--    message a signed tracking link in that original names, verified by the
--    poller) and records a
--    `complaint` event (the lead is suppressed) when its Feedback-Type is a
--    complaint (abuse, fraud, virus, other); not-spam and authentication
--    failure reports record nothing. The report itself is not stored as a
--    message: it is no part of the conversation. One complaint per message.
--  * Idempotent by Message-ID within the tenant: a re-poll, or the same mail
--    reaching two of the tenant's inboxes, is stored and counted once.
--------------------------------------------------------------------------------

create or replace function app_private.normalize_message_id(raw text) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select nullif(left(btrim(raw, e' \t\r\n<>'), 998), '');
$$;
comment on function app_private.normalize_message_id(text) is 'A Message-ID as messages.rfc_message_id keeps it: without angle brackets or surrounding white space; null when empty.';

create or replace function app_private.bounce_type(status text) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  -- RFC 3463: class 5 is a permanent failure, class 4 a persistent transient
  -- one. Without a status we cannot tell, so the lead is not suppressed.
  select case when status ~ '^5\.' then 'hard' else 'soft' end;
$$;
comment on function app_private.bounce_type(text) is 'hard for an RFC 3463 permanent failure (5.x.x), soft for a transient (4.x.x) or unknown status.';

create or replace function app_private.find_thread_parent(
  tenant_id uuid,
  email_account_id uuid,
  message_type text,
  in_reply_to text,
  reference_ids text[],
  dsn jsonb
) returns table (parent_id uuid, matched_by text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_candidates text[] := '{}';
  v_sources text[] := '{}';
  v_id text;
  v_tracked_id uuid;
begin
  if message_type in ('bounce', 'complaint') and app_private.normalize_message_id(dsn ->> 'original_message_id') is not null then
    v_candidates := v_candidates || app_private.normalize_message_id(dsn ->> 'original_message_id');
    v_sources := v_sources || 'original_message_id'::text;
  end if;
  if app_private.normalize_message_id(in_reply_to) is not null then
    v_candidates := v_candidates || app_private.normalize_message_id(in_reply_to);
    v_sources := v_sources || 'in_reply_to'::text;
  end if;
  -- References lists the thread oldest first; the nearest ancestor is last.
  for v_id in select app_private.normalize_message_id(r) from unnest(reference_ids) with ordinality as x (r, n) order by n desc loop
    if v_id is not null then
      v_candidates := v_candidates || v_id;
      v_sources := v_sources || 'references'::text;
    end if;
  end loop;

  return query
    select m.id, v_sources[c.n]
    from unnest(v_candidates) with ordinality as c (rfc_id, n)
    join app_public.messages m on m.rfc_message_id = c.rfc_id
    where m.tenant_id = find_thread_parent.tenant_id and m.direction = 'outbound'
    order by c.n
    limit 1;
  if found then
    return;
  end if;

  -- A feedback report whose original kept one of our signed tracking links
  -- (List-Unsubscribe, pixel, click) when its Message-ID did not match: the
  -- poller verified the token and that it names this tenant.
  if message_type = 'complaint' and dsn ->> 'tracked_message_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    v_tracked_id := (dsn ->> 'tracked_message_id')::uuid;
    return query
      select m.id, 'tracking_token'::text
      from app_public.messages m
      where m.tenant_id = find_thread_parent.tenant_id and m.id = v_tracked_id and m.direction = 'outbound';
    if found then
      return;
    end if;
  end if;

  -- A DSN that quotes no usable header: the recipient that failed, and the
  -- latest message this inbox sent to it in the last 30 days.
  if message_type = 'bounce' and nullif(dsn ->> 'final_recipient', '') is not null then
    return query
      select m.id, 'final_recipient'::text
      from app_public.messages m
      where m.tenant_id = find_thread_parent.tenant_id and m.email_account_id = find_thread_parent.email_account_id
        and m.direction = 'outbound' and m.created > now() - interval '30 days'
        and m.to_email = (dsn ->> 'final_recipient')::citext
        and m.status not in ('queued', 'sending', 'cancelled')
      order by m.created desc
      limit 1;
  end if;
end;
$$;
comment on function app_private.find_thread_parent(uuid, uuid, text, text, text[], jsonb) is 'The outbound message of the tenant that an inbound message answers, and which header matched: a DSN''s or feedback report''s original Message-ID, In-Reply-To, References (nearest first), for a feedback report the message its verified tracking token names (dsn.tracked_message_id), or for a DSN the failed recipient''s latest message from this inbox.';

create or replace function app_private.record_inbound_message(
  tenant_id uuid,
  email_account_id uuid,
  message_type text,
  rfc_message_id text,
  in_reply_to text,
  reference_ids text[],
  from_email text,
  to_email text,
  subject text,
  body_text text,
  dsn jsonb default null
) returns table (outcome text, inbound_message_id uuid, parent_message_id uuid, event_id uuid)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  -- Parameters share names with messages columns: always qualified below.
  v_type text := record_inbound_message.message_type;
  v_dsn jsonb := record_inbound_message.dsn;
  v_rfc_id text := app_private.normalize_message_id(record_inbound_message.rfc_message_id);
  v_from text := left(btrim(record_inbound_message.from_email), 254);
  v_parent_id uuid;
  v_parent app_public.messages;
  v_matched_by text;
  v_inbound_id uuid;
  v_event_id uuid;
  v_event text;
  v_outcome text;
  v_action text := lower(coalesce(record_inbound_message.dsn ->> 'action', 'failed'));
  v_status text := nullif(record_inbound_message.dsn ->> 'status', '');
  -- The References header, computed here: Citus refuses a subquery inside
  -- INSERT … VALUES.
  v_references text := nullif(array_to_string(array(
    select '<' || app_private.normalize_message_id(r) || '>'
    from unnest(record_inbound_message.reference_ids) with ordinality as x (r, n)
    where app_private.normalize_message_id(r) is not null order by n), ' '), '');
begin
  if v_type is null or v_type not in ('email', 'auto_reply', 'bounce', 'complaint') then
    raise exception 'Unknown inbound message type "%"; expected email, auto_reply, bounce or complaint.', v_type using errcode = 'INVAL';
  end if;
  if v_rfc_id is null then
    raise exception 'An inbound message needs a Message-ID to be recorded exactly once.' using errcode = 'INVAL';
  end if;
  if v_type = 'bounce' and (v_dsn is null or jsonb_typeof(v_dsn) <> 'object') then
    raise exception 'A bounce needs its delivery status (an object with action, status, final_recipient…).' using errcode = 'INVAL';
  end if;
  if v_type = 'complaint' and (v_dsn is null or jsonb_typeof(v_dsn) <> 'object' or nullif(v_dsn ->> 'feedback_type', '') is null) then
    raise exception 'A complaint needs its feedback report (an object with feedback_type, original_message_id…).' using errcode = 'INVAL';
  end if;
  if v_type = 'bounce' and v_action not in ('failed', 'delayed', 'delivered', 'relayed', 'expanded') then
    raise exception 'Unknown DSN action "%"; expected failed, delayed, delivered, relayed or expanded (RFC 3464).', v_action using errcode = 'INVAL';
  end if;
  if not exists (select 1 from app_public.email_accounts ea
                 where ea.tenant_id = record_inbound_message.tenant_id and ea.id = record_inbound_message.email_account_id) then
    raise exception 'There is no inbox % in this tenant.', record_inbound_message.email_account_id using errcode = 'NTFND';
  end if;

  -- One transaction at a time per (tenant, Message-ID), so a message polled
  -- from two inboxes at once is still stored once.
  perform pg_advisory_xact_lock(hashtextextended('inbound:' || record_inbound_message.tenant_id::text || ':' || v_rfc_id, 0));

  select m.id into v_inbound_id from app_public.messages m
    where m.rfc_message_id = v_rfc_id and m.tenant_id = record_inbound_message.tenant_id and m.direction = 'inbound'
    limit 1;
  if v_inbound_id is not null then
    return query select 'duplicate'::text, v_inbound_id, null::uuid, null::uuid;
    return;
  end if;
  if exists (select 1 from app_public.messages m
             where m.rfc_message_id = v_rfc_id and m.tenant_id = record_inbound_message.tenant_id and m.direction = 'outbound') then
    -- A copy of something we sent (e.g. the provider files sent mail in the inbox).
    return query select 'own'::text, null::uuid, null::uuid, null::uuid;
    return;
  end if;

  select p.parent_id, p.matched_by into v_parent_id, v_matched_by
    from app_private.find_thread_parent(record_inbound_message.tenant_id, record_inbound_message.email_account_id, v_type,
                                        record_inbound_message.in_reply_to, record_inbound_message.reference_ids, v_dsn) p;
  if v_parent_id is null then
    return query select 'unmatched'::text, null::uuid, null::uuid, null::uuid;
    return;
  end if;
  select m.* into v_parent from app_public.messages m
    where m.tenant_id = record_inbound_message.tenant_id and m.id = v_parent_id;

  if v_type = 'complaint' then
    if lower(v_dsn ->> 'feedback_type') not in ('abuse', 'fraud', 'virus', 'other') then
      return query select 'feedback'::text, null::uuid, v_parent.id, null::uuid;
      return;
    end if;
    -- One complaint per message, whichever report (or resend of it) comes first.
    perform 1 from app_public.messages m
      where m.tenant_id = v_parent.tenant_id and m.id = v_parent.id for update;
    if exists (select 1 from app_public.email_events e
               where e.tenant_id = v_parent.tenant_id and e.message_id = v_parent.id and e.event_type = 'complaint') then
      return query select 'duplicate'::text, null::uuid, v_parent.id, null::uuid;
      return;
    end if;
    v_event_id := app_private.record_email_event(v_parent.tenant_id, v_parent.id, 'complaint', null, null, null,
      jsonb_strip_nulls(jsonb_build_object(
        'feedback_type', lower(v_dsn ->> 'feedback_type'),
        'user_agent', left(v_dsn ->> 'user_agent', 255),
        'source_ip', left(v_dsn ->> 'source_ip', 45),
        'arrival_date', left(v_dsn ->> 'arrival_date', 100),
        'reported_domain', left(v_dsn ->> 'reported_domain', 255),
        'report_message_id', v_rfc_id,
        'reported_by', v_from,
        'matched_by', v_matched_by)));
    return query select 'complaint'::text, null::uuid, v_parent.id, v_event_id;
    return;
  end if;

  insert into app_public.messages (
      tenant_id, direction, message_type, status, email_account_id, campaign_id, enrollment_id, step_id, lead_id,
      parent_message_id, from_email, to_email, subject, rfc_message_id, in_reply_to, references_header, body_text, processed_at)
    values (
      v_parent.tenant_id, 'inbound', v_type, 'received', record_inbound_message.email_account_id,
      v_parent.campaign_id, v_parent.enrollment_id, v_parent.step_id, v_parent.lead_id, v_parent.id,
      v_from, left(btrim(record_inbound_message.to_email), 254), left(record_inbound_message.subject, 998), v_rfc_id,
      app_private.normalize_message_id(record_inbound_message.in_reply_to), v_references,
      record_inbound_message.body_text, now())
    returning id into v_inbound_id;

  if v_type = 'email' then
    v_outcome := 'reply';
    v_event_id := app_private.record_email_event(v_parent.tenant_id, v_parent.id, 'reply', null, null, null,
      jsonb_build_object('inbound_message_id', v_inbound_id, 'matched_by', v_matched_by, 'from', v_from));
    perform app_private.queue_notification(v_parent.tenant_id, 'reply_received', v_inbound_id);
  elsif v_type = 'auto_reply' then
    v_outcome := 'auto_reply';
  else
    v_event := case v_action when 'failed' then 'bounce' when 'delayed' then 'deferred' else 'delivered' end;
    v_outcome := v_event;
    v_event_id := app_private.record_email_event(v_parent.tenant_id, v_parent.id, v_event, null, null, null,
      jsonb_strip_nulls(jsonb_build_object(
        'bounce_type', case when v_event = 'bounce' then app_private.bounce_type(v_status) end,
        'status', v_status,
        'action', v_action,
        'diagnostic_code', left(v_dsn ->> 'diagnostic_code', 1000),
        'final_recipient', v_dsn ->> 'final_recipient',
        'remote_mta', v_dsn ->> 'remote_mta',
        'reporting_mta', v_dsn ->> 'reporting_mta',
        'detected_by', v_dsn ->> 'detected_by',
        'inbound_message_id', v_inbound_id,
        'matched_by', v_matched_by)));
  end if;
  return query select v_outcome, v_inbound_id, v_parent.id, v_event_id;
end;
$$;
comment on function app_private.record_inbound_message(uuid, uuid, text, text, text, text[], text, text, text, text, jsonb) is 'Stores a message found in an inbox when it answers one of the tenant''s outbound messages, threaded to it, and records what it means: a reply event (and the reply_received notification), nothing for an auto-reply, a bounce/deferred/delivered event from a DSN (bounce_type hard for 5.x.x), or a complaint event from a feedback report (passed in dsn; the report is not stored; one complaint per message). Idempotent by Message-ID within the tenant. Returns the outcome: reply, auto_reply, bounce, deferred, delivered, complaint, feedback (a report that is no complaint), duplicate, own or unmatched.';
