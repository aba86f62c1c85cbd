--! Previous: sha1:c1acd1f706fdfe86de378d2b13a80575f8f37e11
--! Hash: sha1:14eedd1814d68edf8afad26fce5329a2312e7cb9
--! Message: notification_deliveries: a retried notification job emails only those it had not reached

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Who has been sent which notification: a notification job that failed
-- halfway (one member's email refused) used to email every member again on
-- its retry. Each email is now recorded in the transaction that sends it.
create table if not exists app_private.notification_deliveries (
  tenant_id uuid not null references app_public.tenants (id) on delete cascade,
  notice text not null check (length(notice) between 1 and 200),
  user_id uuid not null references app_public.users (id) on delete cascade,
  sent_at timestamptz not null default now(),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, notice, user_id)
);
comment on table app_private.notification_deliveries is 'One row per notification email sent: the organisation, the notice (the job that sends it, job:<id>, the same on every retry) and the member. The job claims the row in the transaction that sends the email, so a retry after a failure emails only those who did not get it. Rows older than 30 days are purged by the retention job.';
create index if not exists notification_deliveries_user_idx on app_private.notification_deliveries (user_id);
