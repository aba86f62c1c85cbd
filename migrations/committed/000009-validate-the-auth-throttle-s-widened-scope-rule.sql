--! Previous: sha1:86023306aef006ed07551736a99a4a402ae103ab
--! Hash: sha1:e79d54378beed8930e20da1b0082231a98aefd53
--! Message: Validate the auth throttle's widened scope rule

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- The auth throttle's widened scope rule, added NOT VALID by 000008, is
-- validated here, in a transaction of its own (a SHARE UPDATE EXCLUSIVE lock:
-- reads and writes go on).
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '10min';

alter table app_private.auth_throttle validate constraint auth_throttle_scope_check;
