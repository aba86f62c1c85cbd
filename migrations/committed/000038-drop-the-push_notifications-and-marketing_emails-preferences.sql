--! Previous: sha1:39082adc88fdf8f0ba38886dbb7f86bce4a3a28b
--! Hash: sha1:84e5ce3264450a7e791fc6586896a1038292bad5
--! Message: Drop the push_notifications and marketing_emails preferences nothing honoured

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Two preferences nothing honoured: the platform sends no push notifications
-- and no marketing email, so a user who set either changed nothing. Removed
-- rather than left claiming it (docs/api.md's changelog tells clients).
-- Dropping a column only updates the catalogue (no table rewrite).
-- squawk-ignore ban-drop-column
alter table app_public.user_preferences drop column if exists push_notifications;
-- squawk-ignore ban-drop-column
alter table app_public.user_preferences drop column if exists marketing_emails;
