--! Previous: sha1:47896f3c9fa4c8803ef52346d1cc9c5fc894d95c
--! Hash: sha1:2e5151295f3e52a43e6830da623ad2d477a974c2
--! Message: validate email_accounts_provider_daily_cap

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '10min';

-- Validates what 000024 added NOT VALID (its rows were brought within it first).
alter table app_public.email_accounts validate constraint email_accounts_provider_daily_cap;
