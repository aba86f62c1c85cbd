--! Previous: sha1:0c8b0bec39a2b9b5dc25ee572148b4792af9e80b
--! Hash: sha1:bd54ec17e03f4ab7ec61c5a839c922627447f143
--! Message: Validate the constraints 000021 added NOT VALID

--! split: 1-current.sql
-- Validates the constraints 000021 added NOT VALID (SHARE UPDATE EXCLUSIVE:
-- reads and writes go on during the scan).
set local lock_timeout = '5s';
set local statement_timeout = '10min';

alter table app_public.tenants validate constraint tenants_closure_check;
alter table app_private.user_sessions validate constraint user_sessions_revoked_reason_check;
