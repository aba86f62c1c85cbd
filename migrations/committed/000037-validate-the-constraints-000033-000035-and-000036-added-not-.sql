--! Previous: sha1:87e855b9efc295fc6999000f114eeb253930b722
--! Hash: sha1:39082adc88fdf8f0ba38886dbb7f86bce4a3a28b
--! Message: Validate the constraints 000033, 000035 and 000036 added NOT VALID

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

-- Validate what 000033 (A/B winners), 000035 (inbox safety pauses) and 000036
-- (plan features) added NOT VALID: in a transaction of its own, validation
-- takes only a SHARE UPDATE EXCLUSIVE lock while it scans.
alter table app_public.campaign_step_variants validate constraint campaign_step_variants_body_html_check;
alter table app_public.campaign_step_variants validate constraint campaign_step_variants_body_text_check;
alter table app_public.campaign_step_variants validate constraint campaign_step_variants_differs_check;
alter table app_public.campaign_sequence_steps validate constraint campaign_sequence_steps_ab_winner_metric_check;
alter table app_public.campaign_sequence_steps validate constraint campaign_sequence_steps_ab_min_sends_check;
alter table app_public.campaign_sequence_steps validate constraint campaign_sequence_steps_ab_decide_after_check;
alter table app_public.email_accounts validate constraint email_accounts_safety_pause_check;
alter table app_public.email_accounts validate constraint email_accounts_safety_pause_status_check;
alter table app_public.email_accounts validate constraint email_accounts_safety_baseline_check;
alter table app_public.subscriptions validate constraint subscriptions_billing_interval_check;
alter table app_public.subscription_addons validate constraint subscription_addons_type_check;
