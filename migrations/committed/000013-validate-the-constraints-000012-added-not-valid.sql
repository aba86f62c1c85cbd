--! Previous: sha1:05a535c1308f5cec803f5b3a7c854bb22d250bf1
--! Hash: sha1:0e5499d6934a53c45e831c7bb6cb058a861c72f8
--! Message: Validate the constraints 000012 added NOT VALID

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Validates the constraints 000012 added NOT VALID, in a transaction of its
-- own (SHARE UPDATE EXCLUSIVE: reads and writes go on while rows are checked):
-- the auth throttle's scope list widened for API keys, and the lead interest
-- statuses.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '10min';

alter table app_private.auth_throttle validate constraint auth_throttle_scope_check;
alter table app_public.leads validate constraint leads_interest_status_check;
