--! Previous: sha1:07c6ed9ad066588e104f6e96ad9977b72ebca392
--! Hash: sha1:add8751cff8312812fb289b2b18b69de09d5664e
--! Message: Validate the muted_notifications check 000039 widened NOT VALID

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

-- Validate the muted_notifications check 000039 widened NOT VALID: in a
-- transaction of its own, validation takes only a SHARE UPDATE EXCLUSIVE lock
-- while it scans.
alter table app_public.user_preferences validate constraint user_preferences_muted_notifications_check;
