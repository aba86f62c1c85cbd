--! Previous: sha1:ddf0b15452d0f1891457f7ca1eddc820cf836dd5
--! Hash: sha1:a8db62d039213bd9cc5232f18b71711512e2a45d
--! Message: validate user_preferences_muted_notifications_check

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

-- Validates what 000029 added NOT VALID.
alter table app_public.user_preferences validate constraint user_preferences_muted_notifications_check;
