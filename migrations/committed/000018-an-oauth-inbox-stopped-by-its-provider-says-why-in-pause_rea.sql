--! Previous: sha1:bbd949697632e389a874a44fdaad2f95d10bf58f
--! Hash: sha1:08719fe710d588d28d599305fe3ad615162ad9a3
--! Message: An OAuth inbox stopped by its provider says why in pause_reason, and its owners and admins get an email

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

-- An OAuth inbox whose provider refuses access for good is stopped the same
-- way as one whose SMTP logins keep failing (functions/145-oauth-inboxes.sql).
comment on column app_public.email_accounts.paused_at is 'When the platform stopped this inbox''s sending (SMTP logins refused several times in a row, or its OAuth provider refusing access for good); null when it is not stopped.';
