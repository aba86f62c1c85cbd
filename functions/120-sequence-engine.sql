--------------------------------------------------------------------------------
-- Sending engine, part 3: running a sequence. Every active enrollment has one
-- campaign_step job (job_key per enrollment). The job calls run_enrollment(),
-- which locks the enrollment and executes steps from current_step_order on:
--
--   wait       moves to the next step and reschedules the job for later;
--   condition  checks this campaign's messages to the lead (opened, clicked,
--              replied or not) and continues, stops, skips a step or jumps;
--   email      books a send: the sending window (lead's or campaign's time
--              zone), the campaign's daily limit, the inbox (rotation for the
--              first email, then the enrollment's own inbox), the inbox's
--              daily cap (counted in its local day, reset lazily), for a
--              platform inbox the daily allowance of one of its domain's
--              pool IPs (functions/225), and a random gap after the
--              inbox's previous send. The booking is a queued
--              message with scheduled_for = its slot; when the slot is now the
--              job goes on to deliver it (part 4), otherwise it is
--              rescheduled for the slot (or for when the window opens, the
--              cap resets, the inbox is free again).
--
-- It returns what the job must do next: send (a message id), wait (until),
-- done, stopped (the enrollment ended), idle (the campaign is not sending) or
-- busy (another worker is sending this enrollment's message right now).
--------------------------------------------------------------------------------

create or replace function app_hidden.choose_variant(tenant_id uuid, step_id uuid, lead_id uuid) returns uuid
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_winner uuid;
begin
  -- A decided A/B test (functions/121-ab-winners.sql): the winner in force.
  select d.winner_variant_id into v_winner from app_public.campaign_step_ab_decisions d
    where d.tenant_id = choose_variant.tenant_id and d.step_id = choose_variant.step_id
    order by d.decided_at desc, d.id desc
    limit 1;
  if v_winner is not null then
    return v_winner;
  end if;
  return (
  with v as (
    select v.id, v.label,
           sum(v.weight) over (order by v.label) as upto,
           sum(v.weight) over () as total
    from app_public.campaign_step_variants v
    where v.tenant_id = choose_variant.tenant_id and v.step_id = choose_variant.step_id
  )
  select v.id from v
  where v.upto > mod(mod(hashtextextended(choose_variant.step_id::text || ':' || choose_variant.lead_id::text, 0), v.total) + v.total, v.total)
  order by v.upto
  limit 1
  );
end;
$$;
comment on function app_hidden.choose_variant(uuid, uuid, uuid) is 'The A/B variant of an email step a lead gets: the winner once the step''s A/B test is decided (campaign_step_ab_decisions), else chosen by weight from a hash of step and lead, so it is stable (the preview and every retry agree). Null when the step has no variants. Only a message''s booking calls it: a booked message keeps its variant.';

create or replace function app_private.condition_holds(tenant_id uuid, campaign_id uuid, lead_id uuid, condition_type text) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select case condition_holds.condition_type
    when 'opened' then x.opened when 'not_opened' then not x.opened
    when 'clicked' then x.clicked when 'not_clicked' then not x.clicked
    when 'replied' then x.replied when 'not_replied' then not x.replied
  end
  from (
    select coalesce(bool_or(m.opened_at is not null), false) as opened,
           coalesce(bool_or(m.clicked_at is not null), false) as clicked,
           coalesce(bool_or(m.replied_at is not null), false) as replied
    from app_public.messages m
    where m.tenant_id = condition_holds.tenant_id and m.lead_id = condition_holds.lead_id
      and m.campaign_id = condition_holds.campaign_id and m.direction = 'outbound'
  ) x
  );
end;
$$;
comment on function app_private.condition_holds(uuid, uuid, uuid, text) is 'Whether a condition step''s test (opened, not_opened, clicked, not_clicked, replied, not_replied) is true of this campaign''s messages to the lead so far.';

create or replace function app_private.stop_enrollment(tenant_id uuid, enrollment_id uuid, status text, reason text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  update app_public.campaign_enrollments e
    set status = stop_enrollment.status, stop_reason = stop_enrollment.reason, next_run_at = null, completed_at = app_private.engine_now()
    where e.tenant_id = stop_enrollment.tenant_id and e.id = stop_enrollment.enrollment_id and e.status in ('active', 'paused');
end;
$$;
comment on function app_private.stop_enrollment(uuid, uuid, text, text) is 'Ends an active enrollment with a status (completed, failed, cancelled…) and the reason.';

create or replace function app_private.inbox_remaining_of(
  warmup_enabled boolean, warmup_started_at timestamptz, daily_limit integer, timezone text,
  daily_count integer, daily_count_date date, at timestamptz
) returns integer
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- plpgsql: inbox_allowance is defined by a later file (200-warmup.sql).
  return greatest(
    coalesce(app_private.inbox_allowance(warmup_enabled, warmup_started_at, daily_limit, timezone, at), 0)
      - case when daily_count_date = app_private.local_day(at, timezone) then daily_count else 0 end,
    0);
end;
$$;
comment on function app_private.inbox_remaining_of(boolean, timestamptz, integer, text, integer, date, timestamptz) is 'inbox_remaining from the inbox''s columns, for a query that already has its row (the rotation in book_email_send reads every inbox of the campaign once, not three times).';

create or replace function app_private.inbox_remaining(tenant_id uuid, email_account_id uuid, at timestamptz) returns integer
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return (
    select app_private.inbox_remaining_of(ea.warmup_enabled, ea.warmup_started_at, ea.daily_limit, ea.timezone,
                                          ea.daily_count, ea.daily_count_date, inbox_remaining.at)
    from app_public.email_accounts ea
    where ea.tenant_id = inbox_remaining.tenant_id and ea.id = inbox_remaining.email_account_id
  );
end;
$$;
comment on function app_private.inbox_remaining(uuid, uuid, timestamptz) is 'How many more messages the inbox may send on its local day of `at` (its allowance minus daily_count; a count from an earlier day is stale and counts as zero).';

create or replace function app_private.book_email_send(
  tenant_id uuid,
  enrollment_id uuid,
  step_id uuid,
  now_at timestamptz,
  out message_id uuid,
  out send_at timestamptz,
  out retry_at timestamptz,
  out wait_reason text
)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  e app_public.campaign_enrollments;
  c app_public.campaigns;
  s app_public.campaign_sequence_steps;
  l app_public.leads;
  ea app_public.email_accounts;
  v_existing app_public.messages;
  v_tz text;
  v_open timestamptz;
  v_inbox uuid;
  v_day_start timestamptz;
  v_booked bigint;
  v_today date;
  v_used integer;
  v_allowance integer;
  v_counts boolean;
  v_slot timestamptz;
  v_gap integer;
  v_reasons text;
  v_pool record;
  v_ip_id uuid;
begin
  select x.* into e from app_public.campaign_enrollments x where x.tenant_id = book_email_send.tenant_id and x.id = book_email_send.enrollment_id;
  select x.* into c from app_public.campaigns x where x.tenant_id = e.tenant_id and x.id = e.campaign_id;
  select x.* into s from app_public.campaign_sequence_steps x where x.tenant_id = e.tenant_id and x.id = book_email_send.step_id;
  select x.* into l from app_public.leads x where x.tenant_id = e.tenant_id and x.id = e.lead_id;
  if e.current_message_id is not null then
    select x.* into v_existing from app_public.messages x where x.tenant_id = e.tenant_id and x.id = e.current_message_id;
  end if;

  -- The sending window, in the lead's time zone when known and wanted.
  v_tz := case when c.use_lead_timezone and app_private.is_time_zone(l.timezone) then l.timezone else c.timezone end;
  v_open := app_private.next_send_window(now_at, v_tz, c.send_days, c.send_window_start, c.send_window_end);
  if v_open > now_at then
    retry_at := v_open;
    wait_reason := format('outside the sending window (%s to %s on days %s, %s)',
      to_char(c.send_window_start, 'HH24:MI'), to_char(c.send_window_end, 'HH24:MI'), array_to_string(c.send_days, ','), v_tz);
    return;
  end if;

  -- The campaign's daily limit (messages booked today in the campaign's time zone).
  if c.daily_limit is not null and v_existing.id is null then
    v_day_start := (now_at at time zone c.timezone)::date::timestamp at time zone c.timezone;
    select count(*) into v_booked from app_public.messages m
      where m.tenant_id = c.tenant_id and m.campaign_id = c.id and m.direction = 'outbound'
        and m.id >= app_private.uuid_v7_floor(v_day_start) and m.created >= v_day_start and m.status <> 'cancelled';
    if v_booked >= c.daily_limit then
      retry_at := app_private.next_local_midnight(now_at, c.timezone);
      wait_reason := format('the campaign''s daily limit of %s messages is reached', c.daily_limit);
      return;
    end if;
  end if;

  -- The inbox: the message's, the step's, the enrollment's, or by rotation.
  v_inbox := coalesce(v_existing.email_account_id, s.email_account_id, e.email_account_id);
  if v_inbox is null then
    -- The campaign's inboxes first, then each function once per inbox: with
    -- the calls in a WHERE clause the planner may push them into the scan of
    -- all the tenant's inboxes (benchmark finding: ~10x the calls).
    with inboxes as materialized (
      select ea2.id, ea2.next_send_at, ea2.email,
             app_private.inbox_unusable_reason(ea2.tenant_id, ea2.id) as unusable,
             app_private.inbox_remaining_of(ea2.warmup_enabled, ea2.warmup_started_at, ea2.daily_limit, ea2.timezone,
                                            ea2.daily_count, ea2.daily_count_date, now_at) as remaining
        from app_public.campaign_email_accounts a
        join app_public.email_accounts ea2 on ea2.tenant_id = a.tenant_id and ea2.id = a.email_account_id
        where a.tenant_id = c.tenant_id and a.campaign_id = c.id
    )
    select i.id into v_inbox
      from inboxes i
      where i.unusable is null and i.remaining > 0
      order by i.remaining desc, i.next_send_at asc nulls first, i.email
      limit 1;
    if v_inbox is null then
      select min(app_private.next_local_midnight(now_at, ea2.timezone)) into retry_at
        from app_public.campaign_email_accounts a
        join app_public.email_accounts ea2 on ea2.tenant_id = a.tenant_id and ea2.id = a.email_account_id
        where a.tenant_id = c.tenant_id and a.campaign_id = c.id
          and app_private.inbox_unusable_reason(ea2.tenant_id, ea2.id) is null;
      if retry_at is not null then
        wait_reason := 'every inbox of the campaign reached its daily cap';
        return;
      end if;
      -- No inbox can send at all any more (disabled, domain unverified…).
      select string_agg(app_private.inbox_unusable_reason(a.tenant_id, a.email_account_id), '; ' order by a.created) into v_reasons
        from app_public.campaign_email_accounts a where a.tenant_id = c.tenant_id and a.campaign_id = c.id;
      update app_public.campaigns x set status = 'paused', paused_at = now_at, paused_by = 'system',
          pause_reason = left(format('No inbox of this campaign can send: %s. Fix the inboxes, then resume the campaign.',
                                     coalesce(v_reasons, 'it has no inbox')), 1000)
        where x.tenant_id = c.tenant_id and x.id = c.id and x.status = 'sending';
      wait_reason := 'the campaign was paused: no inbox can send';
      return;
    end if;
  else
    v_reasons := app_private.inbox_unusable_reason(e.tenant_id, v_inbox);
    if v_reasons is not null then
      retry_at := now_at + interval '1 hour';
      wait_reason := format('the lead''s inbox cannot send (%s)', v_reasons);
      return;
    end if;
  end if;

  -- The inbox's daily cap and pacing, under its row lock.
  select x.* into ea from app_public.email_accounts x where x.tenant_id = e.tenant_id and x.id = v_inbox for no key update;
  v_today := app_private.local_day(now_at, ea.timezone);
  v_used := case when ea.daily_count_date = v_today then ea.daily_count else 0 end;
  -- A message booked earlier today already counts; a new one (or one booked
  -- on an earlier day, then paused) needs a place in today's cap.
  v_counts := v_existing.id is null or app_private.local_day(v_existing.scheduled_for, ea.timezone) is distinct from v_today;
  if v_counts then
    v_allowance := coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, now_at), 0);
    if v_used >= v_allowance then
      retry_at := app_private.next_local_midnight(now_at, ea.timezone);
      wait_reason := format('inbox %s reached its daily cap of %s', ea.email, v_allowance);
      return;
    end if;
  end if;
  v_slot := greatest(now_at, coalesce(ea.next_send_at, now_at));
  if v_slot > now_at
     and (app_private.local_day(v_slot, ea.timezone) <> v_today
          or app_private.next_send_window(v_slot, v_tz, c.send_days, c.send_window_start, c.send_window_end) <> v_slot) then
    -- The inbox's next free slot is outside today's window: come back then.
    retry_at := app_private.next_send_window(v_slot, v_tz, c.send_days, c.send_window_start, c.send_window_end);
    wait_reason := format('inbox %s is busy until %s', ea.email, v_slot);
    return;
  end if;

  -- A platform inbox whose domain has IPs takes a unit of one IP's daily
  -- allowance (functions/225-ip-send-path.sql); a message re-booked on the
  -- same UTC day keeps the IP it already counted on.
  if ea.provider = 'mailu' then
    v_pool := app_private.reserve_sending_ip(ea.tenant_id, ea.domain_id, now_at,
      case when app_private.local_day(v_existing.scheduled_for, 'UTC') = app_private.local_day(now_at, 'UTC') then v_existing.smtp_ip_address_id end);
    if v_pool.retry_at is not null then
      retry_at := v_pool.retry_at;
      wait_reason := format('inbox %s: %s', ea.email, v_pool.wait_reason);
      return;
    end if;
    v_ip_id := v_pool.smtp_ip_address_id;
  end if;

  v_gap := c.min_gap_seconds + floor(random() * (c.max_gap_seconds - c.min_gap_seconds + 1))::integer;
  update app_public.email_accounts x
    set daily_count = v_used + case when v_counts then 1 else 0 end,
        daily_count_date = v_today,
        next_send_at = v_slot + make_interval(secs => v_gap)
    where x.tenant_id = ea.tenant_id and x.id = ea.id;

  if v_existing.id is null then
    insert into app_public.messages (tenant_id, id, direction, status, email_account_id, campaign_id, enrollment_id, step_id,
                                     variant_id, lead_id, from_email, to_email, scheduled_for, smtp_ip_address_id)
      values (e.tenant_id, app_public.uuid_v7(now_at), 'outbound', 'queued', ea.id, c.id, e.id, s.id,
              app_hidden.choose_variant(e.tenant_id, s.id, l.id), l.id, ea.email, l.email, v_slot, v_ip_id)
      returning id into message_id;
  else
    update app_public.messages x set scheduled_for = v_slot, error_message = null, smtp_ip_address_id = v_ip_id
      where x.tenant_id = v_existing.tenant_id and x.id = v_existing.id;
    message_id := v_existing.id;
  end if;
  update app_public.campaign_enrollments x
    set current_message_id = book_email_send.message_id,
        email_account_id = coalesce(x.email_account_id, case when s.email_account_id is null then ea.id end)
    where x.tenant_id = e.tenant_id and x.id = e.id;
  send_at := v_slot;
end;
$$;
comment on function app_private.book_email_send(uuid, uuid, uuid, timestamptz) is 'Books the send of an email step for an enrollment (window, campaign daily limit, inbox rotation, inbox daily cap, the daily allowance of a pool IP for platform inboxes, random gap): either a queued message with its slot (message_id, send_at), or when to try again and why (retry_at, wait_reason). Re-books the enrollment''s queued message when its slot went stale. Pauses the campaign when none of its inboxes can send any more.';

create or replace function app_private.email_step_action(tenant_id uuid, enrollment_id uuid, step_id uuid, now_at timestamptz)
  returns table (action text, message_id uuid, run_at timestamptz, detail text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_booking record;
begin
  v_booking := app_private.book_email_send(tenant_id, enrollment_id, step_id, now_at);
  if v_booking.message_id is null then
    if v_booking.retry_at is null then
      return query select 'idle'::text, null::uuid, null::timestamptz, v_booking.wait_reason;
      return;
    end if;
    perform app_private.schedule_enrollment(tenant_id, enrollment_id, v_booking.retry_at);
    return query select 'wait'::text, null::uuid, v_booking.retry_at, v_booking.wait_reason;
    return;
  end if;
  if v_booking.send_at > now_at then
    perform app_private.schedule_enrollment(tenant_id, enrollment_id, v_booking.send_at);
    return query select 'wait'::text, v_booking.message_id, v_booking.send_at, 'the message is booked for the inbox''s next free slot'::text;
    return;
  end if;
  return query select 'send'::text, v_booking.message_id, v_booking.send_at, null::text;
end;
$$;
comment on function app_private.email_step_action(uuid, uuid, uuid, timestamptz) is 'Books an email step and turns the booking into the job''s next action (send now, or wait and reschedule).';

create or replace function app_private.advance_after_send(tenant_id uuid, message_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  m app_public.messages;
  v_order integer;
begin
  select x.* into m from app_public.messages x where x.tenant_id = advance_after_send.tenant_id and x.id = advance_after_send.message_id;
  select s.step_order into v_order from app_public.campaign_sequence_steps s where s.tenant_id = m.tenant_id and s.id = m.step_id;
  update app_public.campaign_enrollments e
    set current_message_id = null,
        thread_message_id = coalesce(e.thread_message_id, m.id),
        current_step_order = coalesce(v_order, e.current_step_order) + 1,
        steps_completed = e.steps_completed + 1
    where e.tenant_id = m.tenant_id and e.id = m.enrollment_id and e.current_message_id = m.id;
  if found then
    update app_public.campaign_sequence_steps s set executed_count = s.executed_count + 1, last_executed_at = app_private.engine_now()
      where s.tenant_id = m.tenant_id and s.id = m.step_id;
  end if;
end;
$$;
comment on function app_private.advance_after_send(uuid, uuid) is 'After an email step''s message went out: the enrollment moves past that step (the first message becomes the thread follow-ups answer).';

create or replace function app_private.send_lock_key(message_id uuid) returns bigint
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select hashtextextended('penguinmails:send:' || message_id::text, 0);
$$;
comment on function app_private.send_lock_key(uuid) is 'The advisory lock a worker holds (session level) while it hands a message to the SMTP server; free while the message is "sending" means that worker is gone.';

create or replace function app_private.run_enrollment(tenant_id uuid, enrollment_id uuid)
  returns table (action text, message_id uuid, run_at timestamptz, detail text)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := app_private.engine_now();
  e app_public.campaign_enrollments;
  c app_public.campaigns;
  l app_public.leads;
  s app_public.campaign_sequence_steps;
  m app_public.messages;
  v_until timestamptz;
  v_next integer;
  v_block text;
  v_guard integer := 0;
  v_ip_sends boolean;
begin
  select x.* into e from app_public.campaign_enrollments x
    where x.tenant_id = run_enrollment.tenant_id and x.id = run_enrollment.enrollment_id
    for no key update;
  if e.id is null then
    return query select 'stopped'::text, null::uuid, null::timestamptz, 'the enrollment no longer exists'::text;
    return;
  end if;
  if e.status <> 'active' then
    return query select 'stopped'::text, null::uuid, null::timestamptz, format('the enrollment is %s', e.status);
    return;
  end if;
  select x.* into c from app_public.campaigns x where x.tenant_id = e.tenant_id and x.id = e.campaign_id;
  if c.status <> 'sending' then
    -- Paused, scheduled or over: resume_campaign reschedules it.
    return query select 'idle'::text, null::uuid, null::timestamptz, format('the campaign is %s', c.status);
    return;
  end if;
  select x.* into l from app_public.leads x where x.tenant_id = e.tenant_id and x.id = e.lead_id;

  loop
    v_guard := v_guard + 1;
    if v_guard > 200 then
      perform app_private.stop_enrollment(e.tenant_id, e.id, 'failed',
        'The sequence ran more than 200 steps without waiting or sending; check its condition jumps.');
      return query select 'stopped'::text, null::uuid, null::timestamptz, 'the sequence loops'::text;
      return;
    end if;

    -- The message of the current step, if one is booked or on its way.
    if e.current_message_id is not null then
      select x.* into m from app_public.messages x where x.tenant_id = e.tenant_id and x.id = e.current_message_id;
      if m.status = 'queued' then
        if m.scheduled_for > v_now then
          perform app_private.schedule_enrollment(e.tenant_id, e.id, m.scheduled_for);
          return query select 'wait'::text, m.id, m.scheduled_for, 'the message is booked for later'::text;
          return;
        end if;
        -- Read apart: in the condition below, Citus would send the call (it
        -- reads the IPs, a reference table) into the inbox lookup's shard query.
        v_ip_sends := app_private.message_ip_sends(m.tenant_id, m.email_account_id, m.smtp_ip_address_id);
        if m.scheduled_for is null or m.scheduled_for < v_now - interval '10 minutes'
           or not exists (select 1 from app_public.email_accounts ea
                          where ea.tenant_id = e.tenant_id and ea.id = m.email_account_id and ea.status = 'active')
           or not v_ip_sends then
          -- Its slot went by (paused, plan limit, outage), its inbox stopped
          -- sending meanwhile (repeated SMTP login failures), or its pool IP
          -- was quarantined, burned, blocklisted or taken off its domain:
          -- book a fresh one, which waits while the inbox (or every IP of
          -- its domain) cannot send.
          return query select * from app_private.email_step_action(e.tenant_id, e.id, m.step_id, v_now);
          return;
        end if;
        return query select 'send'::text, m.id, m.scheduled_for, null::text;
        return;
      elsif m.status = 'sending' then
        -- Free lock: the worker that claimed it died between claiming and
        -- recording the outcome. Never send twice: see resolve_interrupted_send.
        if pg_try_advisory_xact_lock(app_private.send_lock_key(m.id)) then
          perform app_private.resolve_interrupted_send(e.tenant_id, m.id);
          select x.* into e from app_public.campaign_enrollments x where x.tenant_id = e.tenant_id and x.id = e.id;
          continue;
        end if;
        return query select 'busy'::text, m.id, null::timestamptz, 'another worker is handing this message to the SMTP server'::text;
        return;
      elsif m.status in ('sent', 'delivered', 'opened', 'clicked', 'replied') then
        perform app_private.advance_after_send(e.tenant_id, m.id);
        select x.* into e from app_public.campaign_enrollments x where x.tenant_id = e.tenant_id and x.id = e.id;
        continue;
      else
        perform app_private.stop_enrollment(e.tenant_id, e.id,
          case m.status when 'bounced' then 'bounced' when 'failed' then 'failed' else 'cancelled' end,
          coalesce(m.error_message, format('Its message was %s.', coalesce(m.status, 'deleted'))));
        return query select 'stopped'::text, m.id, null::timestamptz, format('its message was %s', coalesce(m.status, 'deleted'));
        return;
      end if;
    end if;

    select x.* into s from app_public.campaign_sequence_steps x
      where x.tenant_id = e.tenant_id and x.campaign_id = e.campaign_id and x.step_order >= e.current_step_order and x.is_active
      order by x.step_order
      limit 1;
    if s.id is null then
      perform app_private.stop_enrollment(e.tenant_id, e.id, 'completed', null);
      return query select 'done'::text, null::uuid, null::timestamptz, 'the sequence is complete'::text;
      return;
    end if;

    if s.step_type = 'wait' then
      v_until := coalesce(s.wait_until, v_now + make_interval(hours => s.wait_duration_hours));
      update app_public.campaign_enrollments x
        set current_step_order = s.step_order + 1, steps_completed = x.steps_completed + 1
        where x.tenant_id = e.tenant_id and x.id = e.id
        returning * into e;
      update app_public.campaign_sequence_steps x set executed_count = x.executed_count + 1, last_executed_at = v_now
        where x.tenant_id = s.tenant_id and x.id = s.id;
      if v_until > v_now then
        perform app_private.schedule_enrollment(e.tenant_id, e.id, v_until);
        return query select 'wait'::text, null::uuid, v_until, format('step %s waits', s.step_order);
        return;
      end if;

    elsif s.step_type = 'condition' then
      if app_private.condition_holds(e.tenant_id, e.campaign_id, e.lead_id, s.condition_type) then
        v_next := s.step_order + 1;
      elsif coalesce(s.condition_value, 'stop') = 'stop' then
        update app_public.campaign_sequence_steps x set executed_count = x.executed_count + 1, last_executed_at = v_now
          where x.tenant_id = s.tenant_id and x.id = s.id;
        perform app_private.stop_enrollment(e.tenant_id, e.id, 'completed',
          format('Step %s: the condition "%s" was not met, so the sequence stopped there.', s.step_order, replace(s.condition_type, '_', ' ')));
        return query select 'done'::text, null::uuid, null::timestamptz, format('condition at step %s not met', s.step_order);
        return;
      elsif s.condition_value = 'skip' then
        v_next := s.step_order + 2;
      else
        v_next := s.condition_value::integer;
      end if;
      update app_public.campaign_enrollments x
        set current_step_order = v_next, steps_completed = x.steps_completed + 1
        where x.tenant_id = e.tenant_id and x.id = e.id
        returning * into e;
      update app_public.campaign_sequence_steps x set executed_count = x.executed_count + 1, last_executed_at = v_now
        where x.tenant_id = s.tenant_id and x.id = s.id;

    else -- email
      select x.* into l from app_public.leads x where x.tenant_id = e.tenant_id and x.id = e.lead_id;
      v_block := app_private.lead_block_reason(l.tenant_id, l.email::text, l.status);
      if v_block is not null then
        perform app_private.stop_enrollment(e.tenant_id, e.id, 'cancelled', format('Not sent: %s.', v_block));
        return query select 'stopped'::text, null::uuid, null::timestamptz, v_block;
        return;
      end if;
      return query select * from app_private.email_step_action(e.tenant_id, e.id, s.id, v_now);
      return;
    end if;
  end loop;
end;
$$;
comment on function app_private.run_enrollment(uuid, uuid) is 'The campaign_step job''s decision: runs an enrollment''s sequence from its current step until it must send (returns the message), wait (already rescheduled), or stop. Never sends a message that another worker claimed and may have handed to SMTP.';
