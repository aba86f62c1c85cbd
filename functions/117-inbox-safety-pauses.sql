--------------------------------------------------------------------------------
-- Inbox safety pauses: an inbox pauses itself when the bounce or complaint
-- rate of its messages (of every campaign, and replies) passes the tenant's
-- limit, by the same rule and settings as a campaign (safety_verdict and
-- tenant_config.safety_*, functions/116-safety-pauses.sql):
--
--   bounce rate    = bounced / (sent + bounced)   > safety_bounce_rate
--   complaint rate = complained / sent            > safety_complaint_rate
--
-- over the last safety_window_days UTC days of the inbox's daily rollup
-- (app_private.email_account_stats_daily, kept here by triggers on messages
-- and email_events), once the window holds safety_min_sample messages.
-- Crossing a limit pauses the inbox (status paused, safety_pause naming the
-- rate, paused_at, pause_reason in words): the inbox.error webhook event
-- carries the reason (functions/270-webhooks.sql) and the safety_pause_notice
-- job emails the tenant's owners and admins. A paused inbox cannot send
-- (inbox_unusable_reason): the engine books nothing more on it, its campaigns
-- rotate to their other inboxes, and the messages already booked on it wait.
-- resumeEmailAccount resumes it; that stores the inbox's totals in
-- safety_baseline, and until that day leaves the window the rates count only
-- messages since the resume.
--
-- Citus: every function reads and writes one tenant's rows (tenant_id = the
-- argument or the row's tenant) and queues jobs through app_private.add_job.
--------------------------------------------------------------------------------

create or replace function app_private.add_email_account_stats(deltas jsonb) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
-- deltas: [{tenant_id, email_account_id, day, metric (sent, bounced, complained), n}, ...]
begin
  insert into app_private.email_account_stats_daily as s (tenant_id, email_account_id, day, sent, bounced, complained)
  select d.tenant_id, d.email_account_id, d.day,
    coalesce(sum(d.n) filter (where d.metric = 'sent'), 0), coalesce(sum(d.n) filter (where d.metric = 'bounced'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'complained'), 0)
  from jsonb_to_recordset(deltas) as d (tenant_id uuid, email_account_id uuid, day date, metric text, n bigint)
  group by d.tenant_id, d.email_account_id, d.day
  on conflict on constraint email_account_stats_daily_pkey do update set
    sent = s.sent + excluded.sent,
    bounced = s.bounced + excluded.bounced,
    complained = s.complained + excluded.complained;
end;
$$;
comment on function app_private.add_email_account_stats(jsonb) is 'Adds counter deltas to the daily inbox rollup (one upsert per inbox and day).';

create or replace function app_private.tg_messages__inbox_rollup() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_deltas jsonb;
begin
  if tg_op = 'INSERT' then
    select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'email_account_id', email_account_id, 'day', day, 'metric', metric, 'n', n))
      into v_deltas
      from (
        select m.tenant_id, m.email_account_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
        from new_rows m
        cross join lateral (values ('sent', m.sent_at), ('bounced', m.bounced_at)) as x (metric, at)
        where m.direction = 'outbound' and m.email_account_id is not null and x.at is not null
        group by 1, 2, 3, 4
      ) d;
  else
    select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'email_account_id', email_account_id, 'day', day, 'metric', metric, 'n', n))
      into v_deltas
      from (
        select n.tenant_id, n.email_account_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
        from new_rows n
        join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
        cross join lateral (values
          ('sent', case when o.sent_at is null then n.sent_at end),
          ('bounced', case when o.bounced_at is null then n.bounced_at end)) as x (metric, at)
        where n.direction = 'outbound' and n.email_account_id is not null and x.at is not null
        group by 1, 2, 3, 4
      ) d;
  end if;
  if v_deltas is not null then
    perform app_private.add_email_account_stats(v_deltas);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_messages__inbox_rollup() is 'Counts each outbound message''s send and bounce into its inbox''s daily rollup (email_account_stats_daily), once each.';
create or replace trigger _510_inbox_rollup_insert
  after insert on app_public.messages
  referencing new table as new_rows
  for each statement execute function app_private.tg_messages__inbox_rollup();
create or replace trigger _510_inbox_rollup_update
  after update on app_public.messages
  referencing new table as new_rows old table as old_rows
  for each statement execute function app_private.tg_messages__inbox_rollup();

create or replace function app_private.tg_email_events__inbox_complaint() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_inbox uuid;
begin
  select m.email_account_id into v_inbox from app_public.messages m
    where m.tenant_id = new.tenant_id and m.id = new.message_id and m.direction = 'outbound';
  if v_inbox is not null then
    perform app_private.add_email_account_stats(jsonb_build_array(jsonb_build_object(
      'tenant_id', new.tenant_id, 'email_account_id', v_inbox, 'day', (new.created at time zone 'UTC')::date, 'metric', 'complained', 'n', 1)));
  end if;
  return null;
end;
$$;
comment on function app_private.tg_email_events__inbox_complaint() is 'Counts a spam complaint into the daily rollup of the inbox that sent the message.';
create or replace trigger _510_inbox_complaint
  after insert on app_public.email_events
  for each row when (new.event_type = 'complaint')
  execute function app_private.tg_email_events__inbox_complaint();

drop function if exists app_private.email_account_safety_figures(uuid, uuid, integer, jsonb);
drop function if exists app_private.email_account_totals(uuid, uuid);

create or replace function app_private.email_account_rollup_sums(tenant_id uuid, email_account_id uuid, since date) returns jsonb
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
    from app_private.email_account_stats_daily s
    where s.tenant_id = email_account_rollup_sums.tenant_id and s.email_account_id = email_account_rollup_sums.email_account_id
      and (email_account_rollup_sums.since is null or s.day >= email_account_rollup_sums.since);
  return v_sums;
end;
$$;
comment on function app_private.email_account_rollup_sums(uuid, uuid, date) is 'An inbox''s sent, bounced and complained counts from its daily rollup since a UTC day (null: all time), with today''s UTC day. All time, it is the safety baseline stored when the inbox is resumed after a safety pause.';

create or replace function app_private.check_email_account_safety(tenant_id uuid, email_account_id uuid) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_inbox app_public.email_accounts;
  v_verdict record;
  v_kind text;
  v_reason text;
  v_now timestamptz := app_private.engine_now();
begin
  select ea.* into v_inbox from app_public.email_accounts ea
    where ea.tenant_id = check_email_account_safety.tenant_id and ea.id = check_email_account_safety.email_account_id;
  if v_inbox.status is distinct from 'active' then
    return null;
  end if;
  select * into v_verdict from app_private.safety_breach(v_inbox.tenant_id, null, v_inbox.id, v_inbox.safety_baseline);
  if v_verdict.kind is null then
    return null;
  end if;
  v_kind := v_verdict.kind;
  v_reason := left(format('Paused automatically: %s, counting this inbox''s messages of every campaign. %s', v_verdict.finding,
                          case v_kind when 'bounce_rate' then 'Remove invalid addresses from the audiences it sends to, then resume the inbox (resumeEmailAccount).'
                                      else 'Review who you are emailing from it and what you send, then resume the inbox (resumeEmailAccount).' end), 1000);
  update app_public.email_accounts ea
    set status = 'paused', paused_at = v_now, pause_reason = v_reason, safety_pause = v_kind
    where ea.tenant_id = v_inbox.tenant_id and ea.id = v_inbox.id and ea.status = 'active';
  if not found then
    return null;
  end if;
  perform app_private.queue_safety_pause_notice(v_inbox.tenant_id, null, v_inbox.id);
  return v_reason;
end;
$$;
comment on function app_private.check_email_account_safety(uuid, uuid) is 'Judges an active inbox''s bounce and complaint rates (its messages of every campaign) over the tenant''s safety window against its limits (safety_verdict, tenant_config.safety_*) and pauses it with the reason when one is crossed. Returns the reason when it paused the inbox, else null.';

create or replace function app_private.tg_email_account_stats_daily__safety() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.check_email_account_safety(new.tenant_id, new.email_account_id);
  return null;
end;
$$;
comment on function app_private.tg_email_account_stats_daily__safety() is 'When an inbox''s rollup counts a message sent, a bounce or a complaint, judges the inbox''s safety rates (check_email_account_safety).';
create or replace trigger _600_safety_insert
  after insert on app_private.email_account_stats_daily
  for each row when (new.sent > 0 or new.bounced > 0 or new.complained > 0)
  execute function app_private.tg_email_account_stats_daily__safety();
create or replace trigger _600_safety_update
  after update on app_private.email_account_stats_daily
  for each row when (new.sent > old.sent or new.bounced > old.bounced or new.complained > old.complained)
  execute function app_private.tg_email_account_stats_daily__safety();

create or replace function app_private.tg_email_accounts__safety_resume() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if old.status = 'paused' and new.status <> 'paused' then
    if old.safety_pause is not null then
      new.safety_baseline := app_private.email_account_rollup_sums(new.tenant_id, new.id, null);
    end if;
    new.safety_pause := null;
  end if;
  return new;
end;
$$;
comment on function app_private.tg_email_accounts__safety_resume() is 'When an inbox leaves a safety pause, stores its totals as the safety baseline (its rates then count messages since this moment) and clears safety_pause.';
create or replace trigger _211_safety_resume
  before update of status on app_public.email_accounts
  for each row execute function app_private.tg_email_accounts__safety_resume();
