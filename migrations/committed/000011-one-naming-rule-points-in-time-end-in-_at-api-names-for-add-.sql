--! Previous: sha1:39a3e7536e87ca5d4d506b50469639371dcc6cd3
--! Hash: sha1:776bbadb805446e10fff62bd3947eca519c73524
--! Message: One naming rule: points in time end in _at; API names for add-ons, daily stats and outreach summaries

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- One naming rule for points in time (docs/CONVENTIONS.md): a column that
-- records when something happened ends in _at; the row bookkeeping pair
-- created/updated is the only exception; bounds are *_start/*_end, limits
-- *_until/*_since/*_for. Soft delete is deleted_at everywhere, and the
-- spelling is "cancelled". Renaming a column only changes the catalogue
-- (no rewrite, a brief ACCESS EXCLUSIVE lock per table); the API fields
-- change name with it (docs/api.md lists each rename). The functions,
-- policies and API that use these names are deployed with this migration.
--------------------------------------------------------------------------------
-- squawk-ignore-file renaming-column
set local lock_timeout = '5s';
set local statement_timeout = '10min';

alter table app_public.tenants rename column deleted to deleted_at;
alter table app_public.users rename column deleted to deleted_at;
alter table app_public.users rename column email_verified to email_verified_at;
alter table app_public.tenant_users rename column deleted to deleted_at;
alter table app_public.subscriptions rename column canceled_at to cancelled_at;
alter table app_public.payments rename column processed to processed_at;
alter table app_public.campaigns rename column scheduled to scheduled_for;
alter table app_public.campaigns rename column started to started_at;
alter table app_public.campaigns rename column completed to completed_at;
alter table app_public.campaign_sequence_steps rename column wait_until_date to wait_until;
alter table app_public.campaign_sequence_steps rename column last_executed to last_executed_at;
alter table app_public.messages rename column processed to processed_at;
alter table app_public.domains rename column verified to verified_at;
alter table app_public.email_accounts rename column last_warmed to last_warmed_at;
alter table app_public.smtp_ip_addresses rename column last_reputation_check to last_reputation_check_at;
alter table app_public.domain_ip_assignments rename column assigned to assigned_at;
alter table app_public.domain_ip_assignments rename column expires to expires_at;
alter table app_public.domain_ip_assignments rename column last_sent to last_sent_at;

-- The GraphQL names of three objects (docs/api.md, "Changelog"): add-ons
-- are named after the billing subscription they extend ("Subscription" is
-- GraphQL's root type for subscriptions), the daily rollup and the
-- statistics type get singular names.
comment on table app_public.subscription_addons is E'@name billing_subscription_addon\nAn add-on bought on top of a plan: raises the limit named by addon_type by quantity.';
comment on table app_public.campaign_stats_daily is E'@name campaign_daily_stat\nDaily campaign counters (UTC days): messages sent, delivered, opened, clicked, replied, bounced (each message counted once, on the day it happened), unsubscribes, complaints and total opens/clicks. Sum over shards and days.';
comment on type app_public.message_stats is E'@name outreach_summary\nOutreach statistics; rates are fractions of messages sent (0–1, null before anything was sent).';
