--------------------------------------------------------------------------------
-- Automatic safety pauses.
--
-- Campaigns: every time a campaign's daily rollup (campaign_stats_daily,
-- functions/095-analytics.sql) counts a message sent, a bounce or a
-- complaint (one upsert per campaign, day and shard per statement), its rates
-- over the tenant's rolling window are judged against the tenant's limits
-- (tenant_config.safety_*, defaults from the mailbox providers' bulk-sender
-- guidance, bounded by the platform with CHECK constraints):
--
--   bounce rate    = bounced / (sent + bounced)   > safety_bounce_rate (5%)
--   complaint rate = complained / sent            > safety_complaint_rate (0.3%)
--
-- over the rollup days of the last safety_window_days UTC days (7), once the
-- window holds safety_min_sample messages (100). A message refused at SMTP
-- time is never "sent"; one that bounced later (a DSN) counts in both, so the
-- bounce rate errs low by at most itself. Crossing a limit pauses the campaign
-- (paused_by system, pause_reason in words, safety_pause naming the rate): the
-- campaign.paused webhook event carries the reason (functions/270-webhooks.sql)
-- and the safety_pause_notice job emails the tenant's owners and admins (the
-- safety_pause notification, functions/295-notifications.sql).
-- Billing's resume_tenant_campaigns leaves such a campaign paused; resuming it
-- (resumeCampaign) stores the campaign's totals in safety_baseline, and until
-- that day leaves the window the rates count only messages since the resume.
--
-- The rule itself (which rate is over its limit, on what sample) is
-- safety_verdict, shared with the inbox safety pause
-- (functions/117-inbox-safety-pauses.sql: an inbox whose messages of every
-- campaign pass the same limits pauses itself the same way).
--
-- Inboxes: a refused SMTP login (deliver.ts → record_smtp_auth_failure) counts
-- in email_accounts.smtp_auth_failures; a message sent resets it. At
-- smtp_auth_failure_limit() failures in a row the inbox stops sending (status
-- error, pause_reason; the inbox.error webhook event and an email to the
-- admins): its queued messages are re-booked, which waits while the inbox
-- cannot send (run_enrollment, book_email_send), so no further login is tried
-- until resumeEmailAccount.
--
-- Citus: every function reads and writes one tenant's rows (tenant_id = the
-- argument) and queues jobs through app_private.add_job.
--------------------------------------------------------------------------------

create or replace function app_private.smtp_auth_failure_limit() returns integer
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select 3;
$$;
comment on function app_private.smtp_auth_failure_limit() is 'Refused SMTP logins in a row after which an inbox stops sending until it is resumed.';

create or replace function app_private.queue_safety_pause_notice(tenant_id uuid, campaign_id uuid, email_account_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(tenant_id, 'safety_pause_notice',
    json_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'email_account_id', email_account_id),
    max_attempts => 5);
end;
$$;
comment on function app_private.queue_safety_pause_notice(uuid, uuid, uuid) is 'Queues the email telling the tenant''s owners and admins (those who did not turn the safety_pause notification off) that a campaign or an inbox was paused automatically.';

create or replace function app_private.safety_verdict(
  sent bigint, bounced bigint, complained bigint,
  bounce_limit numeric, complaint_limit numeric, min_sample integer, window_days integer
) returns table (kind text, finding text)
  language plpgsql stable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_attempts bigint := coalesce(sent, 0) + coalesce(bounced, 0);
begin
  if v_attempts < min_sample then
    return;
  end if;
  if bounced::numeric / v_attempts > bounce_limit then
    return query select 'bounce_rate'::text,
      format('%s of the last %s messages bounced (%s%%), above your limit of %s%% (safety window: %s days)',
             bounced, v_attempts, round(100 * bounced::numeric / v_attempts, 2), round(100 * bounce_limit, 3)::float8, window_days);
  elsif sent >= min_sample and complained::numeric / sent > complaint_limit then
    return query select 'complaint_rate'::text,
      format('%s of the last %s messages sent were reported as spam (%s%%), above your limit of %s%% (safety window: %s days)',
             complained, sent, round(100 * complained::numeric / sent, 2), round(100 * complaint_limit, 3)::float8, window_days);
  end if;
end;
$$;
comment on function app_private.safety_verdict(bigint, bigint, bigint, numeric, numeric, integer, integer) is 'The one rule of the automatic safety pauses of campaigns and inboxes: given the messages sent, bounced and complained about in the safety window and the organisation''s limits (tenant_config.safety_*), which rate is over its limit (bounce_rate: bounced / (sent + bounced), once sent + bounced reaches min_sample; complaint_rate: complained / sent, once sent reaches min_sample) and the finding in words; no row when none is.';

drop function if exists app_private.campaign_safety_figures(uuid, uuid, integer, jsonb);
drop function if exists app_private.campaign_totals(uuid, uuid);

create or replace function app_private.campaign_rollup_sums(tenant_id uuid, campaign_id uuid, since date) returns jsonb
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_sums jsonb;
begin
  select jsonb_build_object('day', (now() at time zone 'UTC')::date, 'sent', coalesce(sum(s.sent), 0),
                            'bounced', coalesce(sum(s.bounced), 0), 'complained', coalesce(sum(s.complained), 0))
    into v_sums
    from app_public.campaign_stats_daily s
    where s.tenant_id = campaign_rollup_sums.tenant_id and s.campaign_id = campaign_rollup_sums.campaign_id
      and (campaign_rollup_sums.since is null or s.day >= campaign_rollup_sums.since);
  return v_sums;
end;
$$;
comment on function app_private.campaign_rollup_sums(uuid, uuid, date) is 'A campaign''s sent, bounced and complained counts from its daily rollup since a UTC day (null: all time), with today''s UTC day. All time, it is the safety baseline stored when the campaign is resumed after a safety pause.';

create or replace function app_private.safety_breach(tenant_id uuid, campaign_id uuid, email_account_id uuid, baseline jsonb)
  returns table (kind text, finding text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_config app_public.tenant_config;
  v_window_from date;
  v_resumed boolean;
  v_sums jsonb;
  v_baseline jsonb;
begin
  select tc.* into v_config from app_public.tenant_config tc where tc.tenant_id = safety_breach.tenant_id;
  if v_config.tenant_id is null then
    return; -- every tenant has its row (create_tenant); nothing to judge by without it
  end if;
  -- The window: the last safety_window_days UTC days; after a resume from a
  -- safety pause whose day is still in the window, the messages since then
  -- (the all-time sums less the baseline taken at the resume).
  v_window_from := (now() at time zone 'UTC')::date - (greatest(v_config.safety_window_days, 1) - 1);
  v_resumed := baseline is not null and (baseline ->> 'day')::date >= v_window_from;
  v_sums := case when safety_breach.campaign_id is not null
                 then app_private.campaign_rollup_sums(safety_breach.tenant_id, safety_breach.campaign_id, case when not v_resumed then v_window_from end)
                 else app_private.email_account_rollup_sums(safety_breach.tenant_id, safety_breach.email_account_id, case when not v_resumed then v_window_from end)
            end;
  v_baseline := case when v_resumed then baseline else '{"sent": 0, "bounced": 0, "complained": 0}' end;
  return query
    select v.kind, v.finding
    from app_private.safety_verdict(
      greatest((v_sums ->> 'sent')::bigint - (v_baseline ->> 'sent')::bigint, 0),
      greatest((v_sums ->> 'bounced')::bigint - (v_baseline ->> 'bounced')::bigint, 0),
      greatest((v_sums ->> 'complained')::bigint - (v_baseline ->> 'complained')::bigint, 0),
      v_config.safety_bounce_rate, v_config.safety_complaint_rate, v_config.safety_min_sample, v_config.safety_window_days) v;
end;
$$;
comment on function app_private.safety_breach(uuid, uuid, uuid, jsonb) is 'The safety limit a campaign (campaign_id) or an inbox (email_account_id, campaign_id null) has crossed, judged by safety_verdict on its rollup over the tenant''s safety window (or since its last resume after a safety pause, baseline, when that is more recent) against the tenant''s limits; no row when none is.';

create or replace function app_private.check_campaign_safety(tenant_id uuid, campaign_id uuid) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_campaign app_public.campaigns;
  v_verdict record;
  v_kind text;
  v_reason text;
  v_now timestamptz := app_private.engine_now();
begin
  select c.* into v_campaign from app_public.campaigns c
    where c.tenant_id = check_campaign_safety.tenant_id and c.id = check_campaign_safety.campaign_id;
  if v_campaign.status is distinct from 'sending' then
    return null;
  end if;
  select * into v_verdict from app_private.safety_breach(v_campaign.tenant_id, v_campaign.id, null, v_campaign.safety_baseline);
  if v_verdict.kind is null then
    return null;
  end if;
  v_kind := v_verdict.kind;
  v_reason := format('Paused automatically: %s. %s', v_verdict.finding,
                     case v_kind when 'bounce_rate' then 'Remove invalid addresses from the audience, then resume the campaign.'
                                 else 'Review who you are emailing and what you send, then resume the campaign.' end);
  update app_public.campaigns c
    set status = 'paused', paused_at = v_now, paused_by = 'system', pause_reason = left(v_reason, 1000), safety_pause = v_kind
    where c.tenant_id = v_campaign.tenant_id and c.id = v_campaign.id and c.status = 'sending';
  if not found then
    return null;
  end if;
  perform app_private.queue_safety_pause_notice(v_campaign.tenant_id, v_campaign.id, null);
  return v_reason;
end;
$$;
comment on function app_private.check_campaign_safety(uuid, uuid) is 'Judges a sending campaign''s bounce and complaint rates over the tenant''s safety window against its limits (tenant_config.safety_*) and pauses it with the reason when one is crossed (on a sample of at least safety_min_sample messages). Returns the reason when it paused the campaign, else null.';

create or replace function app_private.tg_campaign_stats_daily__safety() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.check_campaign_safety(new.tenant_id, new.campaign_id);
  return null;
end;
$$;
comment on function app_private.tg_campaign_stats_daily__safety() is 'When a campaign''s rollup counts a message sent, a bounce or a complaint, judges the campaign''s safety rates (check_campaign_safety): a limit is crossed by a bounce, or by the send that completes the minimum sample.';
create or replace trigger _600_safety_insert
  after insert on app_public.campaign_stats_daily
  for each row when (new.sent > 0 or new.bounced > 0 or new.complained > 0)
  execute function app_private.tg_campaign_stats_daily__safety();
create or replace trigger _600_safety_update
  after update on app_public.campaign_stats_daily
  for each row when (new.sent > old.sent or new.bounced > old.bounced or new.complained > old.complained)
  execute function app_private.tg_campaign_stats_daily__safety();

create or replace function app_private.tg_campaigns__safety_resume() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if old.status = 'paused' and new.status <> 'paused' then
    if old.safety_pause is not null then
      new.safety_baseline := app_private.campaign_rollup_sums(new.tenant_id, new.id, null);
    end if;
    new.safety_pause := null;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_campaigns__safety_resume() is 'When a campaign leaves a safety pause, stores its totals as the safety baseline (its rates then count messages since this moment) and clears safety_pause.';
create or replace trigger _210_safety_resume
  before update of status on app_public.campaigns
  for each row execute function app_private.tg_campaigns__safety_resume();

--------------------------------------------------------------------------------
-- Inboxes whose SMTP login keeps failing.
--------------------------------------------------------------------------------

create or replace function app_private.record_smtp_auth_failure(tenant_id uuid, message_id uuid, smtp_response text) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_inbox uuid;
  v_failures integer;
  v_status text;
  v_host text;
  v_now timestamptz := app_private.engine_now();
begin
  select m.email_account_id into v_inbox from app_public.messages m
    where m.tenant_id = record_smtp_auth_failure.tenant_id and m.id = record_smtp_auth_failure.message_id;
  if v_inbox is null then
    return false;
  end if;
  update app_public.email_accounts ea set smtp_auth_failures = ea.smtp_auth_failures + 1
    where ea.tenant_id = record_smtp_auth_failure.tenant_id and ea.id = v_inbox
    returning ea.smtp_auth_failures, ea.status, ea.smtp_settings ->> 'host' into v_failures, v_status, v_host;
  if v_status is distinct from 'active' or v_failures < app_private.smtp_auth_failure_limit() then
    return false;
  end if;
  update app_public.email_accounts ea
    set status = 'error', paused_at = v_now,
        pause_reason = left(format('Sending stopped: the SMTP server %s refused the login %s times in a row (last answer: %s). '
                                   'Correct the SMTP username or password (setEmailAccountCredentials), then resume the inbox (resumeEmailAccount).',
                                   coalesce(v_host, '(no host)'), v_failures, coalesce(smtp_response, 'none')), 1000),
        last_error = left(format('SMTP login to %s failed %s times in a row: %s', coalesce(v_host, '(no host)'), v_failures,
                                 coalesce(smtp_response, 'no answer')), 1000)
    where ea.tenant_id = record_smtp_auth_failure.tenant_id and ea.id = v_inbox;
  perform app_private.queue_safety_pause_notice(record_smtp_auth_failure.tenant_id, null, v_inbox);
  return true;
end;
$$;
comment on function app_private.record_smtp_auth_failure(uuid, uuid, text) is 'The SMTP server refused the login of the inbox sending this message: counts it, and at smtp_auth_failure_limit() in a row stops the inbox (status error, pause_reason, an email to the admins). Returns whether it stopped the inbox.';

create or replace function app_private.tg_email_accounts__safety_state() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if new.last_sent_at is distinct from old.last_sent_at then
    new.smtp_auth_failures := 0; -- the server took a message: the login works
  end if;
  if new.status = 'active' and old.status <> 'active' then
    new.smtp_auth_failures := 0;
    new.paused_at := null;
    new.pause_reason := null;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_email_accounts__safety_state() is 'A sent message resets an inbox''s count of refused SMTP logins; an inbox becoming active again forgets why it was stopped.';
create or replace trigger _210_safety_state
  before update on app_public.email_accounts
  for each row execute function app_private.tg_email_accounts__safety_state();

create or replace function app_public.resume_email_account(email_account_id uuid) returns app_public.email_accounts
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_inbox app_public.email_accounts;
  v_ids uuid[];
begin
  perform app_hidden.require_api_scope('domains');
  if v_tenant_id is null or not app_public.has_tenant_role('admin') then
    raise exception 'Only owners and admins of this organisation can resume an inbox.' using errcode = 'DNIED';
  end if;
  select ea.* into v_inbox from app_public.email_accounts ea
    where ea.tenant_id = v_tenant_id and ea.id = resume_email_account.email_account_id
    for no key update;
  if v_inbox.id is null then
    raise exception 'There is no inbox % in this organisation.', email_account_id using errcode = 'NTFND';
  end if;
  if v_inbox.status not in ('paused', 'error') then
    raise exception 'Inbox % is %; only a paused inbox or one in error can be resumed.', v_inbox.email, v_inbox.status using errcode = 'STATE';
  end if;
  update app_public.email_accounts ea set status = 'active'
    where ea.tenant_id = v_tenant_id and ea.id = v_inbox.id
    returning * into v_inbox;
  -- Sequences waiting for this inbox (a message booked on it, or pinned to it) try again now.
  select coalesce(array_agg(e.id), '{}') into v_ids
    from app_public.campaign_enrollments e
    left join app_public.messages m on m.tenant_id = v_tenant_id and m.id = e.current_message_id
    where e.tenant_id = v_tenant_id and e.status = 'active'
      and (e.email_account_id = v_inbox.id or (m.email_account_id = v_inbox.id and m.status = 'queued'));
  perform app_private.schedule_enrollments(v_tenant_id, v_ids);
  return v_inbox;
end;
$$;
comment on function app_public.resume_email_account(uuid) is 'Resumes an inbox the platform stopped (repeated SMTP login failures, or a bounce or complaint rate over the limit: functions/117) or that was paused: it is active again, the reason is cleared, and the sequences waiting for it try again now. Owners and admins.';
