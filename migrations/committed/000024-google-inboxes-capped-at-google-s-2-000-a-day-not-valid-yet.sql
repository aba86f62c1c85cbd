--! Previous: sha1:107486c5e4bd4ca98d8a2c170b60632c7855e3d1
--! Hash: sha1:47896f3c9fa4c8803ef52346d1cc9c5fc894d95c
--! Message: Google inboxes capped at Google's 2,000 a day (not valid yet)

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- The providers' published per-mailbox limits bound an inbox's daily cap:
-- Google Workspace sends at most 2,000 messages a day from one mailbox
-- (support.google.com/a/answer/166852); Exchange Online's 10,000 recipients
-- a day is already every inbox's ceiling (email_accounts_daily_limit_check).
-- A cap above the provider's only ends in refused sends and a suspended
-- mailbox. Google inboxes above it are brought down to it first.
update app_public.email_accounts set daily_limit = 2000 where provider = 'google' and daily_limit > 2000;
alter table app_public.email_accounts drop constraint if exists email_accounts_provider_daily_cap;
alter table app_public.email_accounts add constraint email_accounts_provider_daily_cap
  check (provider <> 'google' or daily_limit <= 2000) not valid;
comment on constraint email_accounts_provider_daily_cap on app_public.email_accounts is
  'A Google Workspace inbox sends at most 2,000 messages a day (Google''s per-mailbox limit).';
