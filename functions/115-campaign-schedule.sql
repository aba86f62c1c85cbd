--------------------------------------------------------------------------------
-- Why a campaign is not sending right now, and when it will send next, read
-- from the same rules the engine books with (functions/120): its status and
-- pause reason (a plan limit or dunning pauses with the reason), the next due
-- enrollment, the sending window, the campaign's daily limit, its inboxes'
-- daily caps (warm-up included) and usability, and the daily allowance of
-- the pool IPs platform inboxes send through. Computed on read: nothing is
-- stored, so the answer is current even while no job runs.
--------------------------------------------------------------------------------

create or replace function app_private.campaign_schedule(
  tenant_id uuid,
  campaign_id uuid,
  out next_send_at timestamptz,
  out idle_reason text
)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  c app_public.campaigns;
  v_now timestamptz := app_private.engine_now();
  v_due timestamptz;
  v_next timestamptz;
  v_active bigint;
  v_open timestamptz;
  v_day_start timestamptz;
  v_booked bigint;
  v_usable integer;
  v_remaining integer;
  v_caps text;
  v_unusable text;
  v_midnight timestamptz;
  v_ip_blocked boolean;
begin
  select x.* into c from app_public.campaigns x where x.tenant_id = campaign_schedule.tenant_id and x.id = campaign_schedule.campaign_id;
  if c.id is null then
    return;
  end if;
  case c.status
    when 'draft' then
      idle_reason := 'Draft: nothing is sent until the campaign is started (startCampaign).';
      return;
    when 'scheduled' then
      next_send_at := c.scheduled_for;
      idle_reason := format('Scheduled to start at %s.', c.scheduled_for);
      return;
    when 'paused' then
      idle_reason := format('Paused by %s: %s', coalesce(c.paused_by, 'a user'), coalesce(c.pause_reason, 'resume it with resumeCampaign.'));
      return;
    when 'completed' then
      idle_reason := 'Completed: every enrolled lead has finished the sequence.';
      return;
    when 'cancelled' then
      idle_reason := 'Cancelled.';
      return;
    else
      null; -- sending: below
  end case;

  select min(e.next_run_at), count(*) into v_next, v_active
    from app_public.campaign_enrollments e
    where e.tenant_id = c.tenant_id and e.campaign_id = c.id and e.status = 'active';
  if v_active = 0 then
    idle_reason := 'Every enrolled lead has finished; the campaign completes shortly.';
    return;
  end if;
  v_due := greatest(v_now, coalesce(v_next, v_now));
  if v_due > v_now then
    idle_reason := format('Waiting: the next step of a lead is due at %s (a wait step, or the gap between messages).', v_due);
  end if;

  -- The sending window, in the campaign's time zone.
  v_open := app_private.next_send_window(v_due, c.timezone, c.send_days, c.send_window_start, c.send_window_end);
  if v_open > v_due then
    v_due := v_open;
    idle_reason := format('Outside the sending window (%s to %s on days %s, %s%s); it opens at %s.',
      to_char(c.send_window_start, 'HH24:MI'), to_char(c.send_window_end, 'HH24:MI'), array_to_string(c.send_days, ','), c.timezone,
      case when c.use_lead_timezone then '; leads with a time zone follow their own' else '' end, v_open);
  end if;

  -- The campaign's daily limit (messages booked on the campaign's local day).
  if c.daily_limit is not null then
    v_day_start := (v_due at time zone c.timezone)::date::timestamp at time zone c.timezone;
    select count(*) into v_booked from app_public.messages m
      where m.tenant_id = c.tenant_id and m.campaign_id = c.id and m.direction = 'outbound'
        and m.id >= app_private.uuid_v7_floor(v_day_start) and m.created >= v_day_start and m.status <> 'cancelled';
    if v_booked >= c.daily_limit then
      v_due := app_private.next_send_window(app_private.next_local_midnight(v_due, c.timezone), c.timezone, c.send_days, c.send_window_start, c.send_window_end);
      idle_reason := format('The campaign''s daily limit of %s messages is reached; it sends again at %s.', c.daily_limit, v_due);
    end if;
  end if;

  -- Its inboxes: usable ones with room left today (allowance = daily limit, or the warm-up ramp).
  select count(*) filter (where u.reason is null),
         coalesce(sum(u.remaining) filter (where u.reason is null), 0),
         string_agg(format('%s %s a day%s', u.email, u.allowance, case when u.warmup_enabled then ' (warm-up)' else '' end), ', ' order by u.email)
           filter (where u.reason is null),
         string_agg(u.reason, '; ' order by u.email) filter (where u.reason is not null),
         min(app_private.next_local_midnight(v_due, u.timezone)) filter (where u.reason is null),
         -- Every inbox with room left sends through pool IPs that have none.
         coalesce(bool_and(u.ip_room = 0) filter (where u.reason is null and u.remaining > 0), false)
    into v_usable, v_remaining, v_caps, v_unusable, v_midnight, v_ip_blocked
    from (
      select ea.email::text as email, ea.timezone, ea.warmup_enabled,
             app_private.inbox_unusable_reason(ea.tenant_id, ea.id) as reason,
             coalesce(app_private.inbox_daily_allowance(ea.tenant_id, ea.id, v_due), 0) as allowance,
             app_private.inbox_remaining(ea.tenant_id, ea.id, v_due) as remaining,
             case when ea.provider = 'mailu' then app_private.domain_ip_room(ea.tenant_id, ea.domain_id, v_due) end as ip_room
        from app_public.campaign_email_accounts a
        join app_public.email_accounts ea on ea.tenant_id = a.tenant_id and ea.id = a.email_account_id
        where a.tenant_id = c.tenant_id and a.campaign_id = c.id
    ) u;
  if v_usable = 0 then
    next_send_at := null;
    idle_reason := format('No inbox of the campaign can send (%s); the engine pauses the campaign at its next step.', coalesce(v_unusable, 'it has no inbox'));
    return;
  end if;
  if v_remaining = 0 then
    v_due := app_private.next_send_window(v_midnight, c.timezone, c.send_days, c.send_window_start, c.send_window_end);
    idle_reason := format('Every inbox reached its daily cap (%s); sending resumes at %s.', v_caps, v_due);
  elsif v_ip_blocked then
    -- Pool IPs count UTC days (functions/225-ip-send-path.sql).
    v_due := app_private.next_send_window(((app_private.local_day(v_due, 'UTC') + 1)::timestamp at time zone 'UTC'),
      c.timezone, c.send_days, c.send_window_start, c.send_window_end);
    idle_reason := format('Every sending IP of the inboxes'' domains reached its daily allowance (new allowances at %s) or cannot send (quarantined, burned or blocklisted).', v_due);
  end if;

  next_send_at := v_due;
  if v_due <= v_now then
    idle_reason := null; -- due now: sending
  end if;
end;
$$;
comment on function app_private.campaign_schedule(uuid, uuid) is 'When a campaign sends next and, when that is not now, why: its status, the next due enrollment, the sending window, its daily limit, its inboxes'' daily caps (warm-up included) and usability, and the daily allowance of their pool IPs.';

create or replace function app_public.campaigns_next_send_at(campaign app_public.campaigns) returns timestamptz
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select s.next_send_at from app_private.campaign_schedule(campaign.tenant_id, campaign.id) s
  where campaign.tenant_id = app_public.current_tenant_id();
$$;
comment on function app_public.campaigns_next_send_at(app_public.campaigns) is E'@behavior -aggregate\nWhen the campaign sends its next message (now or earlier: it is sending); null when it will not send (draft, paused, finished, no usable inbox). See idleReason.';

create or replace function app_public.campaigns_idle_reason(campaign app_public.campaigns) returns text
  language sql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select s.idle_reason from app_private.campaign_schedule(campaign.tenant_id, campaign.id) s
  where campaign.tenant_id = app_public.current_tenant_id();
$$;
comment on function app_public.campaigns_idle_reason(app_public.campaigns) is E'@behavior -aggregate\nWhy the campaign is not sending right now, in a sentence (draft, scheduled, paused and why, waiting for a step, outside the sending window, daily limit, inboxes at their daily cap or unusable); null while it is sending.';
