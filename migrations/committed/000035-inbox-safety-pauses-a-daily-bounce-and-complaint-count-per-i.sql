--! Previous: sha1:2d2d22fc0cf74e57db814c5389674eb3d4fa1c8f
--! Hash: sha1:52ffd9f107967b50622750e4ca43352421c5c119
--! Message: Inbox safety pauses: a daily bounce and complaint count per inbox, and the inbox's pause reason and resume baseline

--! split: 1-current.sql
-- Enter migration here

--! split: 5-inbox-pauses.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

--------------------------------------------------------------------------------
-- Inbox safety pauses (issue 16, item 2): an inbox whose bounce or complaint
-- rate over the tenant's safety window passes the tenant's limit (the same
-- tenant_config.safety_* as campaigns) pauses itself
-- (functions/117-inbox-safety-pauses.sql). Its messages of every campaign
-- count, from a daily rollup per inbox kept by triggers on messages and
-- email_events; the rollup starts empty (messages sent before this migration
-- do not count).
--------------------------------------------------------------------------------

create table if not exists app_private.email_account_stats_daily (
  tenant_id uuid not null,
  email_account_id uuid not null,
  day date not null,
  sent bigint not null default 0 check (sent >= 0),
  bounced bigint not null default 0 check (bounced >= 0),
  complained bigint not null default 0 check (complained >= 0),
  primary key (tenant_id, email_account_id, day),
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete cascade
);
comment on table app_private.email_account_stats_daily is 'Daily counters of an inbox''s outbound messages (UTC days), over every campaign and reply: sent, bounced (each message counted once, on the day it happened) and spam complaints (on the day reported). The inbox safety pause judges its rates from them.';

alter table app_public.email_accounts
  add column if not exists safety_pause text,
  add column if not exists safety_baseline jsonb;
alter table app_public.email_accounts drop constraint if exists email_accounts_safety_pause_check;
alter table app_public.email_accounts add constraint email_accounts_safety_pause_check
  check (safety_pause in ('bounce_rate', 'complaint_rate')) not valid;
alter table app_public.email_accounts drop constraint if exists email_accounts_safety_pause_status_check;
alter table app_public.email_accounts add constraint email_accounts_safety_pause_status_check
  check (safety_pause is null or status = 'paused') not valid;
alter table app_public.email_accounts drop constraint if exists email_accounts_safety_baseline_check;
alter table app_public.email_accounts add constraint email_accounts_safety_baseline_check
  check (jsonb_typeof(safety_baseline) = 'object') not valid;
comment on column app_public.email_accounts.safety_pause is 'Which rate paused the inbox automatically (bounce_rate, complaint_rate: its messages of every campaign over the safety window passed the organisation''s limit); null otherwise. Only resumeEmailAccount resumes it.';
comment on column app_public.email_accounts.safety_baseline is 'The inbox''s totals (sent, bounced, complained) and UTC day when it was last resumed after a safety pause: the rates then count only messages since that resume.';
comment on column app_public.email_accounts.paused_at is 'When the platform stopped this inbox''s sending (SMTP logins refused several times in a row, its OAuth provider refusing access for good, or its bounce or complaint rate over the limit: safety_pause); null when it is not stopped.';

comment on column app_public.tenant_config.safety_bounce_rate is 'A sending campaign, or an inbox, pauses itself when more than this fraction of its messages bounced over the safety window (default 0.05 = 5%; the platform allows 0.01 to 0.10).';
comment on column app_public.tenant_config.safety_complaint_rate is 'A sending campaign, or an inbox, pauses itself when spam complaints exceed this fraction of its messages sent over the safety window (default 0.003 = 0.3%, the ceiling Gmail and Yahoo set for bulk senders; the platform allows 0.0005 to 0.003).';
