--------------------------------------------------------------------------------
-- Sending engine, part 4: delivering one message, exactly once in effect.
--
--   queued ──claim──▶ sending ──SMTP 250──▶ sent            (record_delivery)
--     ▲                 │  ├──4xx / no connection──▶ queued  (record_deferral, backoff)
--     └─────────────────┘  ├──5xx to RCPT/DATA──▶ bounced    (record_bounce: suppresses)
--                          └──anything final──▶ failed       (record_send_failure)
--
-- The worker takes a session advisory lock on the message (send_lock_key),
-- then claims it (queued → sending, one more attempt, committed on its own)
-- before it opens the SMTP connection, and records the outcome afterwards.
-- Right before it writes the final "." of DATA it commits a hand-over mark
-- (mark_handed_over). If the worker dies in between, the message stays
-- "sending" with a free lock (the lock died with its connection), and the
-- retried job resolves it (resolve_interrupted_send): without a mark the
-- server cannot have the message and it goes out again; with one the server
-- may have it, and it is recorded as sent, unconfirmed, never sent again (a
-- duplicate cold email is worse than a missing confirmation). A connection
-- lost after the final "." is the same case (record_unconfirmed). See
-- docs/sending.md.
--
-- Plan limits: the first claim of a message counts one email against the
-- plan (consume_usage). When the plan refuses, the message stays queued with
-- the reason, and the tenant's campaigns are paused by the system with that
-- reason; resuming them (by the tenant, or by billing through
-- resume_tenant_campaigns) picks the message up again. Nothing is dropped.
--------------------------------------------------------------------------------

create or replace function app_private.send_max_attempts() returns integer
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select 6;
$$;
comment on function app_private.send_max_attempts() is 'SMTP attempts per message before a temporary failure becomes final.';

create or replace function app_private.send_retry_delay(attempt integer) returns interval
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select least(interval '5 minutes' * power(2, greatest(attempt, 1) - 1), interval '6 hours');
$$;
comment on function app_private.send_retry_delay(integer) is 'Exponential backoff after the n-th deferred attempt: 5 min, 10, 20, 40, 80 min…, at most 6 hours.';

create or replace function app_private.default_rfc_message_id(message_id uuid, domain text) returns text
  language sql immutable parallel safe
as $$
  select message_id::text || '@' || domain;
$$;
comment on function app_private.default_rfc_message_id(uuid, text) is 'The Message-ID a message is sent with unless it has its own: its id at the sending domain.';

-- Its columns changed (oauth_status): a new return type needs a new function, dropped once.
do $$
begin
  if exists (select 1 from pg_proc p where p.oid = to_regprocedure('app_private.delivery_envelope(uuid, uuid)')
             and not 'oauth_status' = any (p.proargnames)) then
    drop function app_private.delivery_envelope(uuid, uuid);
  end if;
end;
$$;
create or replace function app_private.delivery_envelope(tenant_id uuid, message_id uuid)
  returns table (
    id uuid,
    status text,
    step_id uuid,
    lead_id uuid,
    campaign_id uuid,
    enrollment_id uuid,
    send_attempts integer,
    email_account_id uuid,
    from_email text,
    to_email text,
    reply_to text,
    smtp_settings jsonb,
    smtp_password_encrypted bytea,
    domain text,
    dkim_selector text,
    dkim_private_key_encrypted bytea,
    rfc_message_id text,
    thread_rfc_message_id text,
    source_address text,
    oauth_status text
  )
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  select m.id, m.status, m.step_id, m.lead_id, m.campaign_id, m.enrollment_id, m.send_attempts,
         ea.id, ea.email::text, m.to_email::text, c.reply_to::text,
         ea.smtp_settings, cr.smtp_password_encrypted,
         d.domain::text, d.dkim_selector, k.private_key_encrypted,
         coalesce(m.rfc_message_id, app_private.default_rfc_message_id(m.id, d.domain::text)),
         nullif(t.rfc_message_id, coalesce(m.rfc_message_id, app_private.default_rfc_message_id(m.id, d.domain::text))),
         host(ip.ip_address),
         ea.oauth_status
  from app_public.messages m
  join app_public.email_accounts ea on ea.tenant_id = m.tenant_id and ea.id = m.email_account_id
  join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
  left join app_public.campaigns c on c.tenant_id = m.tenant_id and c.id = m.campaign_id
  left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
  left join app_private.domain_dkim_keys k on k.tenant_id = d.tenant_id and k.domain_id = d.id and k.selector = d.dkim_selector
  left join app_public.campaign_enrollments e on e.tenant_id = m.tenant_id and e.id = m.enrollment_id
  left join app_public.messages t on t.tenant_id = e.tenant_id and t.id = e.thread_message_id
  left join app_public.smtp_ip_addresses ip on ip.id = m.smtp_ip_address_id
  where m.tenant_id = delivery_envelope.tenant_id and m.id = delivery_envelope.message_id;
end;
$$;
comment on function app_private.delivery_envelope(uuid, uuid) is 'What the worker needs to deliver a message: addresses, the inbox''s SMTP settings and encrypted password, the domain''s DKIM selector and encrypted key, its Message-ID and the thread''s first Message-ID, the pool IP to connect from (source_address, null outside the IP pool), and the inbox''s OAuth status (null: SMTP password). Owner only (secrets, still encrypted).';

create or replace function app_private.claim_message(tenant_id uuid, message_id uuid, subject text, body_text text) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_campaign_status text;
  v_lead app_public.leads;
  v_block text;
  v_refused text;
  v_rfc_message_id text;
  v_thread_rfc_message_id text;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = claim_message.tenant_id and x.id = claim_message.message_id
    for no key update;
  if m.id is null or m.status <> 'queued' then
    return 'gone';
  end if;
  select c.status into v_campaign_status from app_public.campaigns c where c.tenant_id = m.tenant_id and c.id = m.campaign_id;
  if v_campaign_status is distinct from 'sending' then
    return 'paused';
  end if;
  select l.* into v_lead from app_public.leads l where l.tenant_id = m.tenant_id and l.id = m.lead_id;
  v_block := app_private.lead_block_reason(m.tenant_id, m.to_email::text, v_lead.status);
  if v_block is not null then
    update app_public.messages x set status = 'cancelled', error_message = format('Not sent: %s.', v_block)
      where x.tenant_id = m.tenant_id and x.id = m.id;
    perform app_private.stop_enrollment(m.tenant_id, m.enrollment_id, 'cancelled', format('Not sent: %s.', v_block));
    return 'gone';
  end if;
  if m.send_attempts = 0 then
    begin
      perform app_private.consume_usage(m.tenant_id, 'emails_sent', 1);
    exception when sqlstate 'LIMIT' then
      get stacked diagnostics v_refused = message_text;
      update app_public.messages x set error_message = left('Waiting: ' || v_refused, 2000)
        where x.tenant_id = m.tenant_id and x.id = m.id;
      perform app_private.pause_tenant_campaigns(m.tenant_id, v_refused);
      return 'limit';
    end;
  end if;
  -- Its Message-ID, and the thread's first one (a follow-up answers it), as delivery_envelope gives them.
  select coalesce(m.rfc_message_id, app_private.default_rfc_message_id(m.id, d.domain::text)), t.rfc_message_id
    into v_rfc_message_id, v_thread_rfc_message_id
    from app_public.email_accounts ea
    join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
    left join app_public.campaign_enrollments e on e.tenant_id = m.tenant_id and e.id = m.enrollment_id
    left join app_public.messages t on t.tenant_id = e.tenant_id and t.id = e.thread_message_id
    where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  v_thread_rfc_message_id := nullif(v_thread_rfc_message_id, v_rfc_message_id);
  update app_public.messages x
    set status = 'sending',
        send_attempts = x.send_attempts + 1,
        processed_at = now(),
        subject = left(claim_message.subject, 998),
        body_text = claim_message.body_text,
        rfc_message_id = v_rfc_message_id,
        in_reply_to = v_thread_rfc_message_id,
        references_header = v_thread_rfc_message_id,
        error_message = null
    where x.tenant_id = m.tenant_id and x.id = m.id;
  return 'claimed';
end;
$$;
comment on function app_private.claim_message(uuid, uuid, text, text) is 'Claims a queued message for one SMTP attempt (queued → sending) and stores what is being sent. Returns claimed; gone (no longer queued, or the recipient is suppressed now); paused (the campaign is not sending); or limit (the plan refused the email: the message stays queued and the tenant''s campaigns are paused with the reason). The first attempt counts against the plan.';

create or replace function app_private.claimed_message(tenant_id uuid, message_id uuid, outcome text) returns app_public.messages
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x where x.tenant_id = claimed_message.tenant_id and x.id = claimed_message.message_id;
  if m.status is distinct from 'sending' then
    raise exception 'Message % is %, not sending; only a claimed message can %.', message_id, coalesce(m.status, 'missing'), outcome
      using errcode = 'STATE';
  end if;
  return m;
end;
$$;
comment on function app_private.claimed_message(uuid, uuid, text) is 'The message being sent (status sending), or STATE naming what was attempted (`outcome`) when it is not.';

create or replace function app_private.record_delivery(tenant_id uuid, message_id uuid, smtp_response text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  m := app_private.claimed_message(record_delivery.tenant_id, record_delivery.message_id, 'be recorded as delivered');
  perform app_private.record_email_event(m.tenant_id, m.id, 'sent',
    metadata => jsonb_build_object('smtp_response', left(smtp_response, 500), 'attempt', m.send_attempts),
    smtp_response => record_delivery.smtp_response);
  update app_public.email_accounts ea set last_sent_at = app_private.engine_now()
    where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  perform app_private.record_ip_send(m.tenant_id, m.email_account_id, m.smtp_ip_address_id, app_private.engine_now());
  perform app_private.advance_after_send(m.tenant_id, m.id);
end;
$$;
comment on function app_private.record_delivery(uuid, uuid, text) is 'The SMTP server accepted a claimed message: records the sent event with the server''s answer, notes the send on the domain''s assignment of the pool IP that carried it (if any), and moves the enrollment past the step.';

create or replace function app_private.mark_handed_over(tenant_id uuid, message_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  -- Durable even where commits are asynchronous: a mark lost in a crash would
  -- turn "the server may have it" into "send it again".
  perform set_config('synchronous_commit', 'on', true);
  m := app_private.claimed_message(mark_handed_over.tenant_id, mark_handed_over.message_id, 'be handed over');
  insert into app_private.message_handovers (tenant_id, message_id, attempt)
    values (m.tenant_id, m.id, m.send_attempts)
    on conflict do nothing;
end;
$$;
comment on function app_private.mark_handed_over(uuid, uuid) is 'Called by the worker holding the message''s send lock, on that connection and committed on its own, right before it writes the final "." of the SMTP DATA: from here on the server may have this attempt''s message, so a crash makes it "sent, unconfirmed" instead of a retry. STATE when the message is not being sent any more (the worker then does not write the dot).';

create or replace function app_private.tg_messages__forget_handovers() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  delete from app_private.message_handovers h where h.tenant_id = new.tenant_id and h.message_id = new.id;
  return null;
end;
$$;
comment on function app_private.tg_messages__forget_handovers() is 'A message that is no longer being sent needs no hand-over mark (the next attempt, if any, gets its own): the table holds only messages in flight.';
create or replace trigger _600_forget_handovers
  after update of status on app_public.messages
  for each row when (old.status = 'sending' and new.status is distinct from 'sending')
  execute function app_private.tg_messages__forget_handovers();

create or replace function app_private.record_unconfirmed(tenant_id uuid, message_id uuid, reason text, explanation text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = record_unconfirmed.tenant_id and x.id = record_unconfirmed.message_id
    for no key update;
  if m.status is distinct from 'sending' then
    return;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'sent',
    metadata => jsonb_build_object('unconfirmed', true, 'attempt', m.send_attempts, 'reason', left(reason, 500)));
  update app_public.messages x set error_message = left(explanation, 2000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  update app_public.email_accounts ea set last_sent_at = coalesce(ea.last_sent_at, m.processed_at)
    where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  perform app_private.record_ip_send(m.tenant_id, m.email_account_id, m.smtp_ip_address_id, m.processed_at);
  perform app_private.advance_after_send(m.tenant_id, m.id);
end;
$$;
comment on function app_private.record_unconfirmed(uuid, uuid, text, text) is 'A claimed message whose final "." was written but whose answer never came: recorded as sent with metadata.unconfirmed = true and the reason, never sent again (a duplicate cold email is worse than a missing confirmation), and the sequence goes on.';

create or replace function app_private.resolve_interrupted_send(tenant_id uuid, message_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = resolve_interrupted_send.tenant_id and x.id = resolve_interrupted_send.message_id
    for no key update;
  if m.status is distinct from 'sending' then
    return;
  end if;
  if exists (select 1 from app_private.message_handovers h
             where h.tenant_id = m.tenant_id and h.message_id = m.id and h.attempt = m.send_attempts) then
    perform app_private.record_unconfirmed(m.tenant_id, m.id,
      'the worker stopped after writing the end of the message and before the SMTP server answered',
      'Delivery not confirmed: the worker stopped after handing this message to the SMTP server and before the server answered. It was not sent again, because a duplicate is worse than a missing confirmation.');
    return;
  end if;
  -- No mark: the final "." was never written, so the server discarded the
  -- unfinished message (RFC 5321 §4.1.1.4). It goes out again now.
  if m.send_attempts >= app_private.send_max_attempts() then
    perform app_private.record_send_failure(m.tenant_id, m.id,
      format('Not sent: the worker stopped during each of %s attempts, before the SMTP server had the message; check the worker''s logs and resume the sequence by hand if it should still go out.', m.send_attempts));
    return;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'deferred',
    metadata => jsonb_build_object('attempt', m.send_attempts, 'interrupted', true,
      'reason', 'the worker stopped before the SMTP server had the message'));
  update app_public.messages x
    set scheduled_for = app_private.engine_now(),
        error_message = format('Attempt %s was interrupted before the SMTP server had the message (the worker stopped); it is sent again.', m.send_attempts)
    where x.tenant_id = m.tenant_id and x.id = m.id;
end;
$$;
comment on function app_private.resolve_interrupted_send(uuid, uuid) is 'A message left "sending" by a worker that is gone (its send lock is free). With a hand-over mark for its current attempt the server may have it: sent, unconfirmed, never sent again. Without one the server cannot have it: back to queued for now (attempts permitting), so it goes out once.';

create or replace function app_private.record_send_failure(tenant_id uuid, message_id uuid, reason text, inbox_error text default null) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x where x.tenant_id = record_send_failure.tenant_id and x.id = record_send_failure.message_id;
  if m.status is null or m.status not in ('queued', 'sending') then
    return;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'failed', metadata => jsonb_build_object('reason', left(reason, 1000)));
  update app_public.messages x set error_message = left(reason, 2000) where x.tenant_id = m.tenant_id and x.id = m.id;
  if inbox_error is not null then
    update app_public.email_accounts ea set last_error = left(inbox_error, 1000)
      where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  end if;
  perform app_private.stop_enrollment(m.tenant_id, m.enrollment_id, 'failed', left(reason, 1000));
end;
$$;
comment on function app_private.record_send_failure(uuid, uuid, text, text) is 'A message cannot be delivered (its template does not render, the server refused the sender, retries ran out): the message fails with the reason, the lead''s sequence stops as failed, and an inbox problem is noted on the inbox.';

create or replace function app_private.record_deferral(
  tenant_id uuid,
  message_id uuid,
  smtp_code integer,
  smtp_response text,
  inbox_error text default null
) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_next timestamptz;
begin
  m := app_private.claimed_message(record_deferral.tenant_id, record_deferral.message_id, 'be deferred');
  if inbox_error is not null then
    update app_public.email_accounts ea set last_error = left(inbox_error, 1000)
      where ea.tenant_id = m.tenant_id and ea.id = m.email_account_id;
  end if;
  if m.send_attempts >= app_private.send_max_attempts() then
    perform app_private.record_send_failure(m.tenant_id, m.id,
      format('Gave up after %s attempts; the last answer was: %s', m.send_attempts, coalesce(smtp_response, 'no answer')));
    return null;
  end if;
  perform app_private.record_email_event(m.tenant_id, m.id, 'deferred',
    metadata => jsonb_build_object('smtp_code', smtp_code, 'smtp_response', left(smtp_response, 500), 'attempt', m.send_attempts));
  v_next := app_private.engine_now() + app_private.send_retry_delay(m.send_attempts);
  update app_public.messages x
    set scheduled_for = v_next,
        smtp_response = left(record_deferral.smtp_response, 1000),
        error_message = left(format('Attempt %s was deferred (%s); the next attempt is at %s.',
          m.send_attempts, coalesce(record_deferral.smtp_response, 'no answer'), to_char(v_next at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')), 2000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  perform app_private.schedule_enrollment(m.tenant_id, m.enrollment_id, v_next);
  return v_next;
end;
$$;
comment on function app_private.record_deferral(uuid, uuid, integer, text, text) is 'A temporary SMTP failure (4xx, no connection, timeout): the message goes back to queued and the enrollment retries after an exponential backoff, until send_max_attempts() attempts have failed. Returns the next attempt''s time (null when it gave up).';

create or replace function app_private.record_bounce(tenant_id uuid, message_id uuid, smtp_code integer, smtp_response text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  m := app_private.claimed_message(record_bounce.tenant_id, record_bounce.message_id, 'bounce at SMTP time');
  update app_public.messages x
    set smtp_response = left(record_bounce.smtp_response, 1000),
        error_message = left(format('The recipient''s server refused the message: %s', coalesce(record_bounce.smtp_response, smtp_code::text)), 2000)
    where x.tenant_id = m.tenant_id and x.id = m.id;
  -- A hard bounce suppresses the lead and stops every sequence it is in.
  perform app_private.record_email_event(m.tenant_id, m.id, 'bounce',
    metadata => jsonb_build_object('bounce_type', 'hard', 'smtp_code', smtp_code, 'smtp_response', left(smtp_response, 500), 'source', 'smtp'));
end;
$$;
comment on function app_private.record_bounce(uuid, uuid, integer, text) is 'A permanent SMTP refusal of the recipient or the message (5xx): the message bounces, which suppresses the lead and ends its sequences.';
