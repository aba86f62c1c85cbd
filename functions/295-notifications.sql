--------------------------------------------------------------------------------
-- Notifications: the emails members get about their organisation's events,
-- and the weekly report (workers/notices/).
--
-- Each event queues one send_notification job in the transaction that
-- caused it (a trigger, or the function that records it), keyed by the kind
-- and the row, so the same event is never queued twice while waiting:
--
--   reply_received              record_inbound_message stored a reply
--                               (functions/155); subject: the inbound message
--   campaign_completed          a campaign became completed; subject: the campaign
--   safety_pause                a campaign or inbox was paused automatically
--                               (functions/116, its own safety_pause_notice job)
--   domain_verification_failed  a domain's verification became failed
--   payment_failed              a payment was recorded as failed (Stripe
--                               invoice.payment_failed, functions/254)
--   webhook_disabled            a webhook was disabled after a delivery failed
--                               for its whole retry schedule (functions/270,
--                               its own webhook_disabled_notice job)
--
-- Who gets what (notification_recipients) is decided when the job runs, so a
-- preference changed in between counts:
--   * reply_received and campaign_completed go to the campaign's creator
--     while they are a member; otherwise (no campaign, or its creator left)
--     to the owners and admins;
--   * safety_pause, domain_verification_failed and webhook_disabled go to the
--     owners and admins;
--   * payment_failed goes to the owners and admins, only when the
--     organisation's tenant_config.notify_on_billing_changes is on;
--   * each person only if their user_preferences.email_notifications is on
--     (default) and the kind is not in their muted_notifications;
--   * the weekly report goes to every member whose weekly_reports is on.
-- Members removed, users deleted and closed organisations get nothing.
--
-- Citus: the triggers touch only their row's tenant and queue jobs through
-- app_private.add_job.
--------------------------------------------------------------------------------

create or replace function app_private.notification_kinds() returns text[]
  language sql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
  select array['reply_received', 'campaign_completed', 'safety_pause', 'domain_verification_failed', 'payment_failed', 'webhook_disabled']::text[];
$$;
comment on function app_private.notification_kinds() is 'The kinds of event notification (the values user_preferences.muted_notifications may hold); the weekly report is the kind weekly_report, switched by user_preferences.weekly_reports.';

create or replace function app_private.queue_notification(tenant_id uuid, kind text, subject_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if kind is null or not (kind = any (app_private.notification_kinds())) or kind in ('safety_pause', 'webhook_disabled') then
    raise exception 'Unknown notification kind "%".', kind using errcode = 'INVAL';
  end if;
  perform app_private.add_job(tenant_id, 'send_notification',
    json_build_object('tenant_id', tenant_id, 'kind', kind, 'subject_id', subject_id),
    job_key => 'notification:' || kind || ':' || subject_id::text, max_attempts => 5);
end;
$$;
comment on function app_private.queue_notification(uuid, text, uuid) is 'Queues the send_notification job of one event (kind, and the row it is about), once while it waits. Safety pauses and disabled webhooks have their own jobs (queue_safety_pause_notice, webhook_disabled_notice).';

-- One trigger function for every event notification: the kind is the
-- trigger's argument, the row it is about is the changed row.
create or replace function app_private.tg__queue_notification() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.queue_notification(new.tenant_id, tg_argv[0], new.id);
  return null;
end;
$$;
comment on function app_private.tg__queue_notification() is 'Queues the notification whose kind is the trigger''s first argument, about the new row (its tenant_id and id).';

-- A campaign becomes completed.
create or replace trigger _900_notify_completed
  after update of status on app_public.campaigns
  for each row when (new.status = 'completed' and old.status <> 'completed')
  execute function app_private.tg__queue_notification('campaign_completed');

-- A domain's verification becomes failed (a temporary DNS error is status
-- error and notifies nobody).
create or replace trigger _900_notify_verification_failed
  after update of verification_status on app_public.domains
  for each row when (new.verification_status = 'failed' and old.verification_status <> 'failed')
  execute function app_private.tg__queue_notification('domain_verification_failed');

-- A payment is recorded as failed (whether it is sent depends on
-- tenant_config.notify_on_billing_changes when the job runs).
create or replace trigger _900_notify_failed_insert
  after insert on app_public.payments
  for each row when (new.status = 'failed')
  execute function app_private.tg__queue_notification('payment_failed');
create or replace trigger _900_notify_failed_update
  after update of status on app_public.payments
  for each row when (new.status = 'failed' and old.status <> 'failed')
  execute function app_private.tg__queue_notification('payment_failed');

-- The per-kind trigger functions these replace.
drop function if exists app_private.tg_campaigns__notify_completed();
drop function if exists app_private.tg_domains__notify_verification_failed();
drop function if exists app_private.tg_payments__notify_failed();

create or replace function app_private.notification_recipients(tenant_id uuid, kind text, campaign_id uuid default null)
  returns table (user_id uuid, email text)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := notification_recipients.tenant_id;
  v_kind text := notification_recipients.kind;
  v_weekly boolean := notification_recipients.kind = 'weekly_report';
  v_creator uuid;
  v_billing boolean;
begin
  if v_kind is null or not (v_kind = any (app_private.notification_kinds()) or v_weekly) then
    raise exception 'Unknown notification kind "%".', v_kind using errcode = 'INVAL';
  end if;
  if v_kind = 'payment_failed' then
    select c.notify_on_billing_changes into v_billing from app_public.tenant_config c where c.tenant_id = v_tenant_id;
    if not coalesce(v_billing, false) then
      return;
    end if;
  end if;
  if v_kind in ('reply_received', 'campaign_completed') and notification_recipients.campaign_id is not null then
    select tu.user_id into v_creator
      from app_public.campaigns c
      join app_public.tenant_users tu on tu.tenant_id = v_tenant_id and tu.user_id = c.created_by and tu.deleted_at is null
      where c.tenant_id = v_tenant_id and c.id = notification_recipients.campaign_id;
  end if;
  return query
    select tu.user_id, tu.email::text
    from app_public.tenant_users tu
    join app_public.tenants t on t.id = v_tenant_id and t.deleted_at is null
    join app_public.users u on u.id = tu.user_id and u.deleted_at is null
    left join app_public.user_preferences p on p.user_id = tu.user_id
    where tu.tenant_id = v_tenant_id and tu.deleted_at is null
      and (v_weekly
           or (v_creator is not null and tu.user_id = v_creator)
           or (v_creator is null and tu.roles && array['owner', 'admin']::text[]))
      and (case when v_weekly then coalesce(p.weekly_reports, false)
                else coalesce(p.email_notifications, true) and not coalesce(v_kind = any (p.muted_notifications), false) end)
    order by tu.email;
end;
$$;
comment on function app_private.notification_recipients(uuid, text, uuid) is 'Who is emailed a notification of this kind (or weekly_report) in this organisation now, with the address of their membership: see functions/295-notifications.sql for the rules. campaign_id: the campaign a reply or completion is about.';

create or replace function app_private.unsubscribe_notifications(user_id uuid, kind text) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_user_id uuid := unsubscribe_notifications.user_id;
  v_kind text := unsubscribe_notifications.kind;
  v_changed integer;
begin
  if v_kind is null or not (v_kind = any (app_private.notification_kinds()) or v_kind = 'weekly_report') then
    raise exception 'Unknown notification kind "%".', v_kind using errcode = 'INVAL';
  end if;
  if not exists (select 1 from app_public.users u where u.id = v_user_id and u.deleted_at is null) then
    return false;
  end if;
  insert into app_public.user_preferences (user_id) values (v_user_id) on conflict (user_id) do nothing;
  if v_kind = 'weekly_report' then
    update app_public.user_preferences p set weekly_reports = false
      where p.user_id = v_user_id and p.weekly_reports;
  else
    update app_public.user_preferences p set muted_notifications = array_append(p.muted_notifications, v_kind)
      where p.user_id = v_user_id and not (v_kind = any (p.muted_notifications));
  end if;
  get diagnostics v_changed = row_count;
  return v_changed > 0;
end;
$$;
comment on function app_private.unsubscribe_notifications(uuid, text) is 'The one-click unsubscribe of a notification email: weekly_report turns the user''s weekly_reports off; any other kind is added to their muted_notifications. Returns whether anything changed (false: already off, or no such user).';

create or replace function app_private.queue_weekly_reports(at timestamptz) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_week date := date_trunc('week', at at time zone 'UTC')::date;
  v_tenant uuid;
  v_count integer := 0;
begin
  for v_tenant in
    select distinct tu.tenant_id
    from app_public.tenant_users tu
    join app_public.tenants t on t.id = tu.tenant_id and t.deleted_at is null
    join app_public.user_preferences p on p.user_id = tu.user_id and p.weekly_reports
    where tu.deleted_at is null
    order by 1
  loop
    perform app_private.add_job(v_tenant, 'weekly_report',
      json_build_object('tenant_id', v_tenant, 'week_start', v_week),
      job_key => 'weekly_report:' || v_tenant::text || ':' || v_week::text, max_attempts => 5);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.queue_weekly_reports(timestamptz) is 'Queues one weekly_report job per open organisation with a member who wants the weekly report, for the ISO week (UTC) holding "at"; returns how many.';

create or replace function app_private.weekly_report(tenant_id uuid, week_start date)
  returns table (campaign_id uuid, campaign_name text, sent bigint, opened bigint, clicked bigint, replied bigint, bounced bigint)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := weekly_report.tenant_id;
  v_from date := weekly_report.week_start - 7;
  v_to date := weekly_report.week_start;
begin
  return query
    select c.id, c.name, sum(s.sent)::bigint, sum(s.opened)::bigint, sum(s.clicked)::bigint,
           sum(s.replied)::bigint, sum(s.bounced)::bigint
    from app_public.campaign_stats_daily s
    join app_public.campaigns c on c.tenant_id = v_tenant_id and c.id = s.campaign_id
    where s.tenant_id = v_tenant_id and s.day >= v_from and s.day < v_to
    group by c.id, c.name
    having sum(s.sent) + sum(s.opened) + sum(s.clicked) + sum(s.replied) + sum(s.bounced) > 0
    order by c.name, c.id;
end;
$$;
comment on function app_private.weekly_report(uuid, date) is 'The weekly report of an organisation for the week starting week_start (a Monday): per campaign with any activity in the 7 UTC days before it, the messages sent, opened, clicked, replied and bounced, summed from campaign_stats_daily.';

create or replace function app_private.claim_weekly_report(tenant_id uuid, user_id uuid, week_start date) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_claimed integer;
begin
  -- An INSERT of its own, not one in a CTE: Citus cannot plan the latter.
  insert into app_private.weekly_report_deliveries (tenant_id, user_id, week_start)
    values (claim_weekly_report.tenant_id, claim_weekly_report.user_id, claim_weekly_report.week_start)
    on conflict do nothing;
  get diagnostics v_claimed = row_count;
  return v_claimed > 0;
end;
$$;
comment on function app_private.claim_weekly_report(uuid, uuid, date) is 'Records that this member is sent this week''s report; false when they already were (the caller then sends nothing). Called in the transaction that sends the email, so a failed send records nothing.';

create or replace function app_private.claim_notification(tenant_id uuid, notice text, user_id uuid) returns boolean
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_claimed integer;
begin
  -- An INSERT of its own, not one in a CTE: Citus cannot plan the latter.
  insert into app_private.notification_deliveries (tenant_id, notice, user_id)
    values (claim_notification.tenant_id, claim_notification.notice, claim_notification.user_id)
    on conflict do nothing;
  get diagnostics v_claimed = row_count;
  return v_claimed > 0;
end;
$$;
comment on function app_private.claim_notification(uuid, text, uuid) is 'Records that this member is sent this notice (job:<id> of the job sending it); false when they already were (the caller then sends nothing). Called in the transaction that sends the email, so a failed send records nothing and its retry sends it.';
