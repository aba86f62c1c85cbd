--! Previous: sha1:d9fa66fa2dc843513fcef12ade48cdd214713dc9
--! Hash: sha1:66c180b96c37caf9e0387e8b47a7bd12371c2115
--! Message: Automatic safety pauses: tenant thresholds within platform bounds, what a pause leaves on campaigns and inboxes; the platform audit log's comment says what it records

--! split: 1-current.sql
-- Enter migration here

--! split: 2-safety-pauses.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- Automatic safety pauses (functions/116-safety-pauses.sql): the tenant's
-- thresholds, within platform bounds, and what a pause leaves on campaigns and
-- inboxes. New columns with constant defaults: no table rewrite, and their
-- CHECKs hold for every existing row (the default is inside the bounds).
--------------------------------------------------------------------------------

alter table app_public.tenant_config
  add column if not exists safety_bounce_rate numeric(6, 5) not null default 0.05
    constraint tenant_config_safety_bounce_rate_bounds check (safety_bounce_rate between 0.01 and 0.10),
  add column if not exists safety_complaint_rate numeric(6, 5) not null default 0.003
    constraint tenant_config_safety_complaint_rate_bounds check (safety_complaint_rate between 0.0005 and 0.003),
  add column if not exists safety_min_sample integer not null default 100
    constraint tenant_config_safety_min_sample_bounds check (safety_min_sample between 20 and 10000),
  add column if not exists safety_window_days integer not null default 7
    constraint tenant_config_safety_window_days_bounds check (safety_window_days between 1 and 30);
comment on column app_public.tenant_config.safety_bounce_rate is 'A sending campaign pauses itself when more than this fraction of its messages bounced over the safety window (default 0.05 = 5%; the platform allows 0.01 to 0.10).';
comment on column app_public.tenant_config.safety_complaint_rate is 'A sending campaign pauses itself when spam complaints exceed this fraction of its messages sent over the safety window (default 0.003 = 0.3%, the ceiling Gmail and Yahoo set for bulk senders; the platform allows 0.0005 to 0.003).';
comment on column app_public.tenant_config.safety_min_sample is 'The bounce and complaint rates are only judged once the window holds at least this many messages (default 100; the platform allows 20 to 10000).';
comment on column app_public.tenant_config.safety_window_days is 'The rolling window of the safety rates, in UTC days including today (default 7; the platform allows 1 to 30).';

alter table app_public.campaigns
  add column if not exists safety_pause text
    constraint campaigns_safety_pause_check check (safety_pause in ('bounce_rate', 'complaint_rate')),
  add column if not exists safety_baseline jsonb
    constraint campaigns_safety_baseline_check check (jsonb_typeof(safety_baseline) = 'object');
comment on column app_public.campaigns.safety_pause is 'Which rate paused the campaign automatically (bounce_rate, complaint_rate); null otherwise. Billing never resumes such a campaign; only resumeCampaign does.';
comment on column app_public.campaigns.safety_baseline is 'The campaign''s totals (sent, bounced, complained) and UTC day when it was last resumed after a safety pause: the rates then count only messages since that resume.';

alter table app_public.email_accounts
  add column if not exists smtp_auth_failures integer not null default 0
    constraint email_accounts_smtp_auth_failures_check check (smtp_auth_failures >= 0),
  add column if not exists paused_at timestamptz,
  add column if not exists pause_reason text
    constraint email_accounts_pause_reason_length check (length(pause_reason) <= 1000);
comment on column app_public.email_accounts.smtp_auth_failures is 'SMTP logins refused in a row since the inbox last sent a message; at 3 the inbox stops sending (status error) until resumeEmailAccount.';
comment on column app_public.email_accounts.paused_at is 'When the platform stopped this inbox''s sending (repeated SMTP login failures); null when it is not stopped.';
comment on column app_public.email_accounts.pause_reason is 'Why the platform stopped this inbox''s sending, in words a user can act on; cleared when the inbox is resumed.';

--------------------------------------------------------------------------------
-- The platform audit log is written by triggers (functions/020-platform.sql):
-- its comment says what it holds.
--------------------------------------------------------------------------------

comment on table app_public.platform_audit_log is 'Changes to the platform and staff actions: every insert, update (changed columns) and delete of plans, feature_flags, permissions, staff_roles, staff_role_permissions, staff_members, vps_instances and smtp_ip_addresses (action "<table>.<insert|update|delete>", changes {"before", "after"}; for servers and IPs, their status, counters and reputation findings are left out: lifecycle steps are logged as vps_instance.*, smtp_ip.* and domain_ip.* by their functions); system configuration changes (system_config.set, sensitive values redacted); staff access sessions and every operation in them; IP lifecycle steps and staff billing changes. actor_user_id is the user who made the change, null for the platform itself (a job, a migration). Readable by staff with audit.read.';
