--! Previous: sha1:add8751cff8312812fb289b2b18b69de09d5664e
--! Hash: sha1:c1acd1f706fdfe86de378d2b13a80575f8f37e11
--! Message: platform_audit_log: no insert mutation (staff add rows only through the audit trigger)

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Staff may add audit rows in their own name (the audit trigger runs as the
-- role that made the change, for Citus: policies/020-platform.sql); the API
-- offers no mutation for it.
comment on table app_public.platform_audit_log is E'@behavior -insert\nChanges to the platform and staff actions: every insert, update (changed columns) and delete of plans, feature_flags, permissions, staff_roles, staff_role_permissions, staff_members, vps_instances and smtp_ip_addresses (action "<table>.<insert|update|delete>", changes {"before", "after"}; for servers and IPs, their status, counters and reputation findings are left out: lifecycle steps are logged as vps_instance.*, smtp_ip.* and domain_ip.* by their functions); system configuration changes (system_config.set, sensitive values redacted); staff access sessions and every operation in them; IP lifecycle steps and staff billing changes; organisations closed, reopened and purged (tenant.closed, tenant.reopened, tenant.purged) and accounts deleted by their users (user.deleted). actor_user_id is the user who made the change, null for the platform itself (a job, a migration). Readable by staff with audit.read.';
