--! Previous: sha1:52ffd9f107967b50622750e4ca43352421c5c119
--! Hash: sha1:87e855b9efc295fc6999000f114eeb253930b722
--! Message: Plan features: yearly billing (billing_interval, yearly Stripe price), priority_support and max_storage_gb dropped

--! split: 1-current.sql
-- Enter migration here

--! split: 3-plan-features.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Plan features (issue 16, item 8): every column of app_public.plans either
-- does something or goes. price_yearly becomes yearly billing through Stripe
-- (a yearly Stripe price per plan, a billing interval per subscription);
-- advanced_analytics gates the day-by-day analytics (policies/095); the
-- support desk and storage quota that priority_support and max_storage_gb
-- promised do not exist, so both columns are dropped.

-- Yearly billing.
alter table app_public.plans add column if not exists stripe_price_id_yearly text;
comment on column app_public.plans.stripe_price_id is 'The Stripe price of the plan billed monthly (price_monthly); null for plans not billed through Stripe.';
comment on column app_public.plans.stripe_price_id_yearly is 'The Stripe price of the plan billed yearly (price_yearly); a plan billed through Stripe can be chosen yearly only when it is set.';
comment on column app_public.plans.price_monthly is 'Price per month in cents, for subscriptions billed monthly.';
comment on column app_public.plans.price_yearly is 'Price per year in cents, for subscriptions billed yearly; null: the plan cannot be billed yearly.';

alter table app_public.subscriptions add column if not exists billing_interval text not null default 'month';
alter table app_public.subscriptions drop constraint if exists subscriptions_billing_interval_check;
alter table app_public.subscriptions add constraint subscriptions_billing_interval_check
  check (billing_interval in ('month', 'year')) not valid;
comment on column app_public.subscriptions.billing_interval is 'How the plan is billed: month (price_monthly, plans.stripe_price_id) or year (price_yearly, plans.stripe_price_id_yearly). A yearly subscription''s period is a year; usage periods, and the monthly limits they meter, stay monthly.';

-- Advanced analytics.
comment on column app_public.plans.advanced_analytics is 'Whether the organisation sees its analytics day by day (campaign_daily_stats rows, dailyStats, statistics between two days); totals are on every plan.';

-- Priority support and the storage quota: never had an effect. Add-ons of
-- type max_storage_gb raised a limit nothing enforced; they are deleted (a
-- billed one also has a Stripe subscription item, which this does not touch:
-- an operator removes it in Stripe).
delete from app_public.subscription_addons where addon_type = 'max_storage_gb';
alter table app_public.subscription_addons drop constraint if exists subscription_addons_type_check;
alter table app_public.subscription_addons add constraint subscription_addons_type_check check (addon_type in (
  'max_users', 'max_domains', 'max_campaigns_per_month', 'max_email_accounts',
  'max_emails_per_month', 'max_warmups', 'max_contacts'
)) not valid;
-- The API fields Plan.prioritySupport and Plan.maxStorageGb go with them
-- (docs/api.md's changelog): they promised what nothing delivered.
-- squawk-ignore ban-drop-column
alter table app_public.plans drop column if exists priority_support;
-- squawk-ignore ban-drop-column
alter table app_public.plans drop column if exists max_storage_gb;
update app_public.plans set description = 'Unlimited sending with white label.'
  where slug = 'enterprise' and description = 'Unlimited sending with white label and priority support.';
