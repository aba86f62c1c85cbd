--! Previous: sha1:84e5ce3264450a7e791fc6586896a1038292bad5
--! Hash: sha1:07c6ed9ad066588e104f6e96ad9977b72ebca392
--! Message: webhook_disabled, a notification kind: the disabled-webhook notice obeys preferences

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- A new kind of notification, webhook_disabled: the notice to owners and
-- admins that a webhook was disabled after a delivery failed for its whole
-- retry schedule. It used to go to every owner and admin whatever their
-- preferences and without an unsubscribe link; as a kind of its own it obeys
-- email_notifications and can be muted. The check is widened NOT VALID (every
-- row it held still passes) and validated by the next migration, in a
-- transaction of its own.
alter table app_public.user_preferences drop constraint if exists user_preferences_muted_notifications_check;
alter table app_public.user_preferences add constraint user_preferences_muted_notifications_check
  check (muted_notifications <@ array['reply_received', 'campaign_completed', 'safety_pause', 'domain_verification_failed', 'payment_failed', 'webhook_disabled']::text[]) not valid;

comment on column app_public.user_preferences.email_notifications is 'Master switch of the event notifications emailed to this user (reply received, campaign completed, campaign or inbox paused automatically, domain verification failed, payment failed, webhook disabled), in every organisation they belong to. Default true. The weekly report has its own switch (weekly_reports).';
comment on column app_public.user_preferences.muted_notifications is 'Kinds of event notification this user turned off one by one (the unsubscribe link of such an email adds its kind): reply_received, campaign_completed, safety_pause, domain_verification_failed, payment_failed, webhook_disabled. Applies while email_notifications is on.';
