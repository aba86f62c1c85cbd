--------------------------------------------------------------------------------
-- The unified inbox: conversations with leads, replies sent from the platform,
-- read state and the lead's interest.
--
-- Threads. A conversation starts when a lead first answers (a reply or an
-- auto-reply that record_inbound_message threaded to one of our messages; a
-- bounce never starts one). Its root is the first email of the campaign
-- enrollment the answer belongs to (campaign_enrollments.thread_message_id),
-- so the campaign emails of that thread, the lead's answers and our replies
-- are one conversation; the enrollment's later emails join it when sent.
--
-- Replies (send_reply). Queued by a member, sent by the `send_reply` job
-- through the conversation's inbox, over the campaign engine's delivery path
-- (src/sending/deliver.ts; functions/130-delivery.sql): the same send lock,
-- claim, hand-over mark and outcome recording, so a reply is handed to the
-- SMTP server at most once across worker crashes, exactly like a campaign
-- email. A reply has no campaign, enrollment or step: it never moves a
-- sequence, never counts in campaign statistics or a campaign's daily limit,
-- and records no `reply` event (only the lead's answers do). Decisions:
--  * The inbox's daily cap: a reply takes a place in it when it is queued
--    (email_accounts.daily_count, as book_email_send does for campaign
--    emails). When the cap is reached the reply is refused (STATE) and nothing
--    is queued: a member sees at once that it did not go out, instead of a
--    reply going out tomorrow without anyone noticing.
--  * The plan's monthly emails: counted when queued (LIMIT when refused).
--  * Suppressed leads: no reply to a lead that is unsubscribed, bounced,
--    complained or do-not-contact, or whose address or domain is on the
--    suppression list (STATE), checked when queued and again right before
--    sending. Some platforms let a direct answer through; we do not, because
--    an unsubscribe must stop all mail and a member can still write from
--    their own mail client.
--  * No List-Unsubscribe header and no tracking on a reply: it is one person
--    answering another.
--------------------------------------------------------------------------------

create or replace function app_private.refresh_conversation(tenant_id uuid, conversation_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_count integer;
  v_unread integer;
  v_last record;
begin
  select count(*)::integer, (count(*) filter (where cm.direction = 'inbound' and cm.read_at is null))::integer
    into v_count, v_unread
    from app_public.conversation_messages cm
    where cm.tenant_id = refresh_conversation.tenant_id and cm.conversation_id = refresh_conversation.conversation_id;
  select cm.message_id, cm.message_created, cm.direction into v_last
    from app_public.conversation_messages cm
    where cm.tenant_id = refresh_conversation.tenant_id and cm.conversation_id = refresh_conversation.conversation_id
    order by cm.message_created desc, cm.message_id desc
    limit 1;
  update app_public.conversations c
    set message_count = v_count, unread_count = v_unread,
        last_message_id = v_last.message_id, last_message_at = v_last.message_created, last_direction = v_last.direction
    where c.tenant_id = refresh_conversation.tenant_id and c.id = refresh_conversation.conversation_id;
end;
$$;
comment on function app_private.refresh_conversation(uuid, uuid) is 'Recomputes a conversation''s summary (message and unread counts, newest message) from its messages.';

create or replace function app_private.link_conversation_message(
  tenant_id uuid,
  conversation_id uuid,
  message_id uuid,
  direction text,
  message_created timestamptz,
  reply_html text default null,
  sent_by uuid default null
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  insert into app_public.conversation_messages (tenant_id, conversation_id, message_id, direction, message_created, reply_html, sent_by)
    values (link_conversation_message.tenant_id, link_conversation_message.conversation_id, link_conversation_message.message_id,
            link_conversation_message.direction, link_conversation_message.message_created,
            link_conversation_message.reply_html, link_conversation_message.sent_by)
    on conflict do nothing;
  perform app_private.refresh_conversation(link_conversation_message.tenant_id, link_conversation_message.conversation_id);
end;
$$;
comment on function app_private.link_conversation_message(uuid, uuid, uuid, text, timestamptz, text, uuid) is 'Puts a message into a conversation (once) and refreshes the conversation''s summary.';

create or replace function app_private.thread_into_conversation(tenant_id uuid, message_id uuid) returns uuid
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_message app_public.messages;
  v_parent app_public.messages;
  v_root app_public.messages;
  v_root_id uuid;
  v_conversation_id uuid;
  v_new uuid := app_public.uuid_v7();
  v_thread uuid;
  v_earlier record;
begin
  select m.* into v_message from app_public.messages m
    where m.tenant_id = thread_into_conversation.tenant_id and m.id = thread_into_conversation.message_id;
  if v_message.parent_message_id is null then
    return null;
  end if;
  select m.* into v_parent from app_public.messages m
    where m.tenant_id = thread_into_conversation.tenant_id and m.id = v_message.parent_message_id;
  -- The parent already belongs to a conversation (a campaign email of a
  -- thread the lead answered before, or a reply of ours).
  select cm.conversation_id into v_conversation_id from app_public.conversation_messages cm
    where cm.tenant_id = thread_into_conversation.tenant_id and cm.message_id = v_parent.id;
  if v_conversation_id is null then
    if v_parent.enrollment_id is not null then
      select e.thread_message_id into v_thread from app_public.campaign_enrollments e
        where e.tenant_id = thread_into_conversation.tenant_id and e.id = v_parent.enrollment_id;
    end if;
    v_root_id := coalesce(v_thread, v_parent.id);
    select c.id into v_conversation_id from app_public.conversations c
      where c.tenant_id = thread_into_conversation.tenant_id and c.root_message_id = v_root_id;
    if v_conversation_id is null then
      select m.* into v_root from app_public.messages m
        where m.tenant_id = thread_into_conversation.tenant_id and m.id = v_root_id;
      insert into app_public.conversations (tenant_id, id, lead_id, email_account_id, campaign_id, enrollment_id, root_message_id, subject)
        values (thread_into_conversation.tenant_id, v_new, v_parent.lead_id, v_parent.email_account_id, v_parent.campaign_id,
                v_parent.enrollment_id, v_root_id, v_root.subject)
        on conflict do nothing;
      select c.id into v_conversation_id from app_public.conversations c
        where c.tenant_id = thread_into_conversation.tenant_id and c.root_message_id = v_root_id;
      -- The thread so far: the enrollment's emails that went out (or the parent alone).
      for v_earlier in
        select m.id, m.created from app_public.messages m
          where m.tenant_id = thread_into_conversation.tenant_id and m.direction = 'outbound'
            and m.enrollment_id = v_parent.enrollment_id and m.status not in ('queued', 'sending', 'cancelled', 'failed')
        union
        select v_parent.id, v_parent.created
      loop
        insert into app_public.conversation_messages (tenant_id, conversation_id, message_id, direction, message_created)
          values (thread_into_conversation.tenant_id, v_conversation_id, v_earlier.id, 'outbound', v_earlier.created)
          on conflict do nothing;
      end loop;
    end if;
  end if;
  perform app_private.link_conversation_message(thread_into_conversation.tenant_id, v_conversation_id, v_message.id,
    v_message.direction, v_message.created);
  return v_conversation_id;
end;
$$;
comment on function app_private.thread_into_conversation(uuid, uuid) is 'Puts an inbound answer into its conversation: the one of the message it answers, else the one of its campaign thread, started (with the thread''s emails so far) when there is none.';

create or replace function app_private.tg_messages__conversation() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_conversation_id uuid;
begin
  if new.direction = 'inbound' then
    perform app_private.thread_into_conversation(new.tenant_id, new.id);
  elsif new.enrollment_id is not null then
    -- A campaign email of a thread the lead already answered (the campaign
    -- does not stop on reply) joins the conversation once it went out.
    select c.id into v_conversation_id from app_public.conversations c
      where c.tenant_id = new.tenant_id and c.enrollment_id = new.enrollment_id
      limit 1;
    if v_conversation_id is not null then
      perform app_private.link_conversation_message(new.tenant_id, v_conversation_id, new.id, 'outbound', new.created);
    end if;
  end if;
  return null;
end;
$$;
comment on function app_private.tg_messages__conversation() is 'Keeps conversations: an inbound answer (reply or auto-reply) joins or starts its conversation; a campaign email sent in a thread that has one joins it.';
create or replace trigger _700_conversation_inbound
  after insert on app_public.messages
  for each row when (new.direction = 'inbound' and new.parent_message_id is not null and new.message_type in ('email', 'auto_reply'))
  execute function app_private.tg_messages__conversation();
create or replace trigger _700_conversation_sent
  after update of status on app_public.messages
  for each row when (old.status = 'sending' and new.status = 'sent' and new.enrollment_id is not null)
  execute function app_private.tg_messages__conversation();

--------------------------------------------------------------------------------
-- Listing and read state.
--------------------------------------------------------------------------------

create or replace function app_public.inbox_conversations(
  campaign_id uuid default null,
  email_account_id uuid default null,
  unread boolean default null,
  lead_status text default null,
  interest_status text default null
) returns setof app_public.conversations
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  -- A value: the tenant as a parameter routes the query to one shard on Citus.
  v_tenant_id uuid := app_public.current_tenant_id();
begin
  return query
    select c.*
    from app_public.conversations c
    join app_public.leads l on l.tenant_id = v_tenant_id and l.id = c.lead_id
    where c.tenant_id = v_tenant_id
      and (inbox_conversations.campaign_id is null or c.campaign_id = inbox_conversations.campaign_id)
      and (inbox_conversations.email_account_id is null or c.email_account_id = inbox_conversations.email_account_id)
      and (inbox_conversations.unread is null or (c.unread_count > 0) = inbox_conversations.unread)
      and (inbox_conversations.lead_status is null or l.status = inbox_conversations.lead_status)
      and (inbox_conversations.interest_status is null or l.interest_status = inbox_conversations.interest_status)
    order by c.last_message_at desc nulls last, c.id desc;
end;
$$;
comment on function app_public.inbox_conversations(uuid, uuid, boolean, text, text) is E'@enumArg lead_status leads.status\n@enumArg interest_status leads.interest_status\nThe unified inbox: conversations with leads, newest message first, optionally only those of a campaign, of an inbox (emailAccountId), with or without unread messages (unread), or whose lead has a status (leadStatus: active, replied…) or an interest status (interestStatus: interested, not_interested, meeting_booked, out_of_office, wrong_person). Each has its lead, inbox, last message and unread count; its messages are conversationMessages.';

create or replace function app_private.conversation_for_change(conversation_id uuid) returns app_public.conversations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_conversation app_public.conversations;
begin
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can answer leads and change conversations.' using errcode = 'DNIED';
  end if;
  perform app_hidden.require_api_scope('leads');
  select c.* into v_conversation from app_public.conversations c
    where c.tenant_id = v_tenant_id and c.id = conversation_for_change.conversation_id
    for no key update;
  if v_conversation.id is null then
    raise exception 'There is no conversation % in this organisation.', conversation_id using errcode = 'NTFND';
  end if;
  return v_conversation;
end;
$$;
comment on function app_private.conversation_for_change(uuid) is 'Checks that the caller may change conversations (member and above) and locks the conversation of the current tenant; NTFND when there is none.';

create or replace function app_private.conversation_of_message(message_id uuid) returns uuid
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_conversation_id uuid;
begin
  select cm.conversation_id into v_conversation_id from app_public.conversation_messages cm
    where cm.tenant_id = v_tenant_id and cm.message_id = conversation_of_message.message_id;
  if v_conversation_id is null then
    if exists (select 1 from app_public.messages m where m.tenant_id = v_tenant_id and m.id = conversation_of_message.message_id) then
      raise exception 'Message % is not part of a conversation: only the messages of a thread a lead answered can be answered or marked read here.', message_id
        using errcode = 'STATE';
    end if;
    raise exception 'There is no message % in this organisation.', message_id using errcode = 'NTFND';
  end if;
  return v_conversation_id;
end;
$$;
comment on function app_private.conversation_of_message(uuid) is 'The conversation of a message of the current tenant; NTFND when there is no such message, STATE when it belongs to no conversation.';

create or replace function app_private.set_read(tenant_id uuid, conversation_id uuid, message_id uuid, read boolean) returns app_public.conversations
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  -- Values: Citus takes no function call over a row's columns in an UPDATE.
  v_read_at timestamptz := case when coalesce(set_read.read, true) then now() end;
  v_conversation app_public.conversations;
begin
  if v_read_at is null then
    update app_public.conversation_messages cm set read_at = null
      where cm.tenant_id = set_read.tenant_id and cm.conversation_id = set_read.conversation_id
        and (set_read.message_id is null or cm.message_id = set_read.message_id) and cm.direction = 'inbound';
  else
    update app_public.conversation_messages cm set read_at = v_read_at
      where cm.tenant_id = set_read.tenant_id and cm.conversation_id = set_read.conversation_id
        and (set_read.message_id is null or cm.message_id = set_read.message_id) and cm.direction = 'inbound'
        and cm.read_at is null;
  end if;
  perform app_private.refresh_conversation(set_read.tenant_id, set_read.conversation_id);
  select c.* into v_conversation from app_public.conversations c
    where c.tenant_id = set_read.tenant_id and c.id = set_read.conversation_id;
  return v_conversation;
end;
$$;
comment on function app_private.set_read(uuid, uuid, uuid, boolean) is 'Marks the lead''s messages of a conversation (all, or one) read or unread and returns the conversation with its new unread count.';

create or replace function app_public.mark_conversation_read(conversation_id uuid, read boolean default true) returns app_public.conversations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(conversation_id);
begin
  return app_private.set_read(v_conversation.tenant_id, v_conversation.id, null, read);
end;
$$;
comment on function app_public.mark_conversation_read(uuid, boolean) is 'Marks every message the lead wrote in a conversation read (or unread with read: false). Members and above.';

create or replace function app_public.mark_message_read(message_id uuid, read boolean default true) returns app_public.conversations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(app_private.conversation_of_message(message_id));
begin
  return app_private.set_read(v_conversation.tenant_id, v_conversation.id, message_id, read);
end;
$$;
comment on function app_public.mark_message_read(uuid, boolean) is 'Marks one message of a conversation read (or unread with read: false) and returns its conversation. Members and above.';

--------------------------------------------------------------------------------
-- The lead's interest.
--------------------------------------------------------------------------------

create or replace function app_public.set_lead_interest_status(conversation_id uuid, interest_status text) returns app_public.leads
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(conversation_id);
  v_lead app_public.leads;
  v_status text := nullif(btrim(set_lead_interest_status.interest_status), '');
  v_user_id uuid := app_public.current_user_id();
  v_staff boolean;
begin
  if v_status is not null and v_status not in ('interested', 'not_interested', 'meeting_booked', 'out_of_office', 'wrong_person') then
    raise exception 'Unknown interest status "%"; use interested, not_interested, meeting_booked, out_of_office or wrong_person (or null to clear it).', v_status
      using errcode = 'INVAL';
  end if;
  select l.* into v_lead from app_public.leads l
    where l.tenant_id = v_conversation.tenant_id and l.id = v_conversation.lead_id
    for no key update;
  if v_lead.interest_status is distinct from v_status then
    -- Staff acting in an access session are not members (as tg__audit tells them apart).
    select not exists (select 1 from app_public.tenant_users tu
                       where tu.tenant_id = v_lead.tenant_id and tu.user_id = v_user_id and tu.deleted_at is null)
      into v_staff;
    update app_public.leads l set interest_status = v_status
      where l.tenant_id = v_lead.tenant_id and l.id = v_lead.id;
    insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes)
      values (v_lead.tenant_id, v_user_id, v_staff, 'leads.interest_status', 'leads', v_lead.id::text,
              jsonb_build_object('interest_status', jsonb_build_object('from', v_lead.interest_status, 'to', v_status),
                                 'conversation_id', v_conversation.id));
  end if;
  select l.* into v_lead from app_public.leads l where l.tenant_id = v_conversation.tenant_id and l.id = v_conversation.lead_id;
  return v_lead;
end;
$$;
comment on function app_public.set_lead_interest_status(uuid, text) is E'@enumArg interest_status leads.interest_status\nSets the interest of a conversation''s lead (interested, not_interested, meeting_booked, out_of_office, wrong_person; null clears it), recorded in the audit log with who did it and from which conversation. Members and above.';

--------------------------------------------------------------------------------
-- Replies from the platform.
--------------------------------------------------------------------------------

create or replace function app_private.reply_subject(subject text) returns text
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select left(case when coalesce(subject, '') ~* '^\s*re:' then btrim(subject) else 'Re: ' || coalesce(nullif(btrim(subject), ''), '(no subject)') end, 998);
$$;
comment on function app_private.reply_subject(text) is 'The subject of an answer: "Re: " and the thread''s subject, unless it starts with "Re:" already.';

create or replace function app_private.book_reply_capacity(tenant_id uuid, email_account_id uuid, now_at timestamptz) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  ea app_public.email_accounts;
  v_today date;
  v_used integer;
  v_allowance integer;
begin
  -- Under the inbox's row lock, like book_email_send (functions/120).
  select x.* into ea from app_public.email_accounts x
    where x.tenant_id = book_reply_capacity.tenant_id and x.id = book_reply_capacity.email_account_id
    for no key update;
  v_today := app_private.local_day(now_at, ea.timezone);
  v_used := case when ea.daily_count_date = v_today then ea.daily_count else 0 end;
  v_allowance := coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, now_at), 0);
  if v_used >= v_allowance then
    raise exception 'Inbox % reached its daily cap of % messages (campaign emails and replies) for today; the reply was not queued. Send it after midnight in the inbox''s time zone (%), or raise the inbox''s daily limit.',
      ea.email, v_allowance, ea.timezone using errcode = 'STATE';
  end if;
  update app_public.email_accounts x set daily_count = v_used + 1, daily_count_date = v_today
    where x.tenant_id = ea.tenant_id and x.id = ea.id;
end;
$$;
comment on function app_private.book_reply_capacity(uuid, uuid, timestamptz) is 'Takes one place in the inbox''s daily cap for a reply (the count campaign emails use), or refuses with STATE when the cap is reached.';

create or replace function app_private.queue_reply_send(tenant_id uuid, message_id uuid, at timestamptz default null) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(tenant_id, 'send_reply', json_build_object('tenant_id', tenant_id, 'message_id', message_id),
    run_at => case when at is null then null else app_private.engine_run_at(at) end,
    job_key => 'send_reply:' || message_id::text);
end;
$$;
comment on function app_private.queue_reply_send(uuid, uuid, timestamptz) is 'Queues (or moves) the send_reply job of a reply, at an engine time (default now).';

create or replace function app_public.send_reply(message_id uuid, text text default null, html text default null) returns app_public.messages
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_conversation app_public.conversations := app_private.conversation_for_change(app_private.conversation_of_message(message_id));
  v_original app_public.messages;
  v_lead app_public.leads;
  v_account record;
  v_to text;
  v_block text;
  v_text text := nullif(btrim(send_reply.text), '');
  v_html text := nullif(btrim(send_reply.html), '');
  v_now timestamptz := app_private.engine_now();
  v_id uuid;
  v_rfc_id text;
  v_references text;
  v_subject text;
  v_user_id uuid := app_public.current_user_id();
  v_reply app_public.messages;
begin
  if v_text is null and v_html is null then
    raise exception 'A reply needs text or html.' using errcode = 'INVAL';
  end if;
  if length(v_text) > 100000 or length(v_html) > 500000 then
    raise exception 'A reply is at most 100,000 characters of text and 500,000 of HTML.' using errcode = 'INVAL';
  end if;
  select m.* into v_original from app_public.messages m
    where m.tenant_id = v_conversation.tenant_id and m.id = send_reply.message_id;
  select l.* into v_lead from app_public.leads l
    where l.tenant_id = v_conversation.tenant_id and l.id = v_conversation.lead_id;
  if v_original.rfc_message_id is null then
    raise exception 'Message % has not been sent yet, so there is nothing to answer.', message_id using errcode = 'STATE';
  end if;
  -- The lead's address as they wrote from it, else the one we wrote to.
  v_to := case when v_original.direction = 'inbound' then v_original.from_email::text else v_original.to_email::text end;
  v_to := coalesce(v_to, v_lead.email::text);
  if v_conversation.email_account_id is null then
    raise exception 'The inbox of this conversation was deleted; the reply cannot be sent from it.' using errcode = 'STATE';
  end if;
  v_block := app_private.inbox_unusable_reason(v_conversation.tenant_id, v_conversation.email_account_id);
  if v_block is not null then
    raise exception 'The reply cannot be sent: %.', v_block using errcode = 'STATE';
  end if;
  v_block := app_private.lead_block_reason(v_conversation.tenant_id, v_to, v_lead.status);
  if v_block is not null then
    raise exception 'The reply was not queued: %. Unsubscribed, bounced and suppressed leads get no mail from the platform, replies included.', v_block
      using errcode = 'STATE';
  end if;
  perform app_private.book_reply_capacity(v_conversation.tenant_id, v_conversation.email_account_id, v_now);
  perform app_private.consume_usage(v_conversation.tenant_id, 'emails_sent', 1);

  select ea.email::text as email, d.domain::text as domain into v_account
    from app_public.email_accounts ea
    join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
    where ea.tenant_id = v_conversation.tenant_id and ea.id = v_conversation.email_account_id;
  v_id := app_public.uuid_v7(v_now);
  v_rfc_id := app_private.default_rfc_message_id(v_id, v_account.domain);
  -- References: the answered message's own References, then its Message-ID (RFC 5322 §3.6.4).
  v_references := btrim(concat_ws(' ', v_original.references_header, '<' || v_original.rfc_message_id || '>'));
  v_subject := app_private.reply_subject(coalesce(v_conversation.subject, v_original.subject));
  insert into app_public.messages (tenant_id, id, direction, message_type, status, email_account_id, lead_id, parent_message_id,
                                   from_email, to_email, subject, rfc_message_id, in_reply_to, references_header, body_text, scheduled_for)
    values (v_conversation.tenant_id, v_id, 'outbound', 'email', 'queued', v_conversation.email_account_id, v_lead.id, v_original.id,
            v_account.email, v_to, v_subject, v_rfc_id, v_original.rfc_message_id, nullif(v_references, ''), v_text, v_now);
  select m.* into v_reply from app_public.messages m where m.tenant_id = v_conversation.tenant_id and m.id = v_id;
  perform app_private.link_conversation_message(v_conversation.tenant_id, v_conversation.id, v_id, 'outbound', v_reply.created,
    v_html, v_user_id);
  perform app_private.queue_reply_send(v_conversation.tenant_id, v_id);
  return v_reply;
end;
$$;
comment on function app_public.send_reply(uuid, text, text) is 'Answers a message of a conversation (messageId: usually the lead''s) with text and/or html: queued now and sent within seconds from the conversation''s inbox, DKIM-signed, as "Re: <the thread''s subject>" with In-Reply-To and References pointing at the answered message, and kept in the conversation. Takes a place in the inbox''s daily cap and the plan''s monthly emails; refused (nothing queued) when the cap is reached, the inbox cannot send, or the lead is unsubscribed, bounced or suppressed. It does not move the lead''s campaign sequence. Members and above.';

--------------------------------------------------------------------------------
-- The send_reply job (workers/send-reply.ts) over the delivery path of
-- functions/130-delivery.sql.
--------------------------------------------------------------------------------

create or replace function app_private.reply_to_send(tenant_id uuid, message_id uuid)
  returns table (status text, from_name text, subject text, body_text text, reply_html text, in_reply_to text, references_header text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
    select m.status, ea.from_name::text, m.subject, m.body_text, cm.reply_html, m.in_reply_to, m.references_header
    from app_public.messages m
    join app_public.conversation_messages cm on cm.tenant_id = m.tenant_id and cm.message_id = m.id
    left join app_public.email_accounts ea on ea.tenant_id = m.tenant_id and ea.id = m.email_account_id
    where m.tenant_id = reply_to_send.tenant_id and m.id = reply_to_send.message_id
      and m.direction = 'outbound' and m.campaign_id is null;
end;
$$;
comment on function app_private.reply_to_send(uuid, uuid) is 'What the send_reply job puts into a reply: the inbox''s sender name, subject, text and HTML as the member wrote them, and the threading headers.';

create or replace function app_private.prepare_reply_send(tenant_id uuid, message_id uuid) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = prepare_reply_send.tenant_id and x.id = prepare_reply_send.message_id;
  if m.status = 'sending' then
    -- A free send lock: the worker that claimed it died before recording the
    -- outcome. resolve_interrupted_send decides, never sending twice.
    if not pg_try_advisory_xact_lock(app_private.send_lock_key(m.id)) then
      return 'busy';
    end if;
    perform app_private.resolve_interrupted_send(m.tenant_id, m.id);
    select x.* into m from app_public.messages x where x.tenant_id = prepare_reply_send.tenant_id and x.id = prepare_reply_send.message_id;
  end if;
  if m.status = 'queued' and m.scheduled_for > app_private.engine_now() + interval '1 second' then
    perform app_private.queue_reply_send(m.tenant_id, m.id, m.scheduled_for);
    return 'wait';
  end if;
  return coalesce(m.status, 'gone');
end;
$$;
comment on function app_private.prepare_reply_send(uuid, uuid) is 'The send_reply job''s first step: resolves an attempt a dead worker left "sending" (as campaign emails are), re-queues a reply whose retry is due later (wait), and returns the status: queued means send now.';

create or replace function app_private.claim_reply(tenant_id uuid, message_id uuid, subject text, body_text text) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_lead_status text;
  v_block text;
begin
  select x.* into m from app_public.messages x
    where x.tenant_id = claim_reply.tenant_id and x.id = claim_reply.message_id
    for no key update;
  if m.id is null or m.status <> 'queued' then
    return 'gone';
  end if;
  select l.status into v_lead_status from app_public.leads l where l.tenant_id = m.tenant_id and l.id = m.lead_id;
  v_block := app_private.lead_block_reason(m.tenant_id, m.to_email::text, v_lead_status);
  if v_block is not null then
    update app_public.messages x set status = 'cancelled', error_message = format('Not sent: %s.', v_block)
      where x.tenant_id = m.tenant_id and x.id = m.id;
    return 'gone';
  end if;
  update app_public.messages x
    set status = 'sending',
        send_attempts = x.send_attempts + 1,
        processed_at = now(),
        subject = left(claim_reply.subject, 998),
        body_text = claim_reply.body_text,
        error_message = null
    where x.tenant_id = m.tenant_id and x.id = m.id;
  return 'claimed';
end;
$$;
comment on function app_private.claim_reply(uuid, uuid, text, text) is 'Claims a queued reply for one SMTP attempt (queued → sending), like claim_message for campaign emails but without a campaign: gone when it is no longer queued or the lead is suppressed now (the reply is cancelled). Its plan usage and daily-cap place were taken when it was queued.';
