--! Previous: sha1:37e5b4ef1fbb7de530a8c9432d24d04ef27865ff
--! Hash: sha1:ddf0b15452d0f1891457f7ca1eddc820cf836dd5
--! Message: notifications: per-kind mutes, weekly report log; unused notify switches dropped

--! split: 1-current.sql
-- Enter migration here

--! split: 4-notifications.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

--------------------------------------------------------------------------------
-- Notifications (functions/295-notifications.sql, workers/notices/): the
-- emails the platform sends members about their organisation's events, and
-- the weekly report. What each preference column does is in its comment.
--------------------------------------------------------------------------------

-- Per kind opt-out, set by the one-click unsubscribe link of each notification.
alter table app_public.user_preferences add column if not exists muted_notifications text[] not null default '{}';
alter table app_public.user_preferences drop constraint if exists user_preferences_muted_notifications_check;
alter table app_public.user_preferences add constraint user_preferences_muted_notifications_check
  check (muted_notifications <@ array['reply_received', 'campaign_completed', 'safety_pause', 'domain_verification_failed', 'payment_failed']::text[]) not valid;

comment on column app_public.user_preferences.email_notifications is 'Master switch of the event notifications emailed to this user (reply received, campaign completed, campaign or inbox paused automatically, domain verification failed, payment failed), in every organisation they belong to. Default true. The weekly report has its own switch (weekly_reports).';
comment on column app_public.user_preferences.weekly_reports is 'Whether this user receives the weekly report (Mondays, 08:00 UTC) of each organisation they belong to: per campaign, messages sent, opened, clicked, replied and bounced over the previous ISO week. Default false. Its unsubscribe link turns this off.';
comment on column app_public.user_preferences.muted_notifications is 'Kinds of event notification this user turned off one by one (the unsubscribe link of such an email adds its kind): reply_received, campaign_completed, safety_pause, domain_verification_failed, payment_failed. Applies while email_notifications is on.';

comment on column app_public.tenant_config.notify_on_billing_changes is 'Whether the organisation''s owners and admins are emailed when a payment fails (each subject to their own email_notifications and muted_notifications). Default false.';

-- Nothing on the platform sends system-update or security-alert emails: the
-- switches of a feature that does not exist are removed (API fields
-- TenantConfig.notifyOnSystemUpdates and notifyOnSecurityAlerts, which
-- changed nothing).
-- squawk-ignore ban-drop-column
alter table app_public.tenant_config drop column if exists notify_on_system_updates;
-- squawk-ignore ban-drop-column
alter table app_public.tenant_config drop column if exists notify_on_security_alerts;

create table if not exists app_private.weekly_report_deliveries (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  user_id uuid not null references app_public.users (id) on delete cascade,
  week_start date not null check (extract(isodow from week_start) = 1),
  sent_at timestamptz not null default now(),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, user_id, week_start)
);
comment on table app_private.weekly_report_deliveries is 'One row per weekly report emailed: the organisation, the member and the Monday (UTC) of the week the report was sent in. The weekly_report job claims the row in the transaction that sends the email, so a rerun of the job sends nobody the same week twice.';
create index if not exists weekly_report_deliveries_user_idx on app_private.weekly_report_deliveries (user_id);
