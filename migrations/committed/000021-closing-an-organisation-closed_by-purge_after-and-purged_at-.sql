--! Previous: sha1:9a4712e0561498a5ab0963020adaa3f092674ab8
--! Hash: sha1:0c8b0bec39a2b9b5dc25ee572148b4792af9e80b
--! Message: Closing an organisation: closed_by, purge_after and purged_at on tenants (closure check not valid yet); sessions may end because the account was deleted

--! split: 1-current.sql
-- Enter migration here

--! split: 5-account-closure.sql
-- Closing an organisation (issue 17, item 3): a grace period during which its
-- owners can reopen it, then a purge that keeps only billing records.
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Sessions ended because their user deleted the account.
alter table app_private.user_sessions drop constraint if exists user_sessions_revoked_reason_check;
alter table app_private.user_sessions add constraint user_sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_everywhere', 'password_changed', 'password_reset', 'account_deleted')) not valid;


alter table app_public.tenants add column if not exists closed_by uuid;
alter table app_public.tenants add column if not exists purge_after timestamptz;
alter table app_public.tenants add column if not exists purged_at timestamptz;
comment on column app_public.tenants.deleted_at is 'When an owner closed the organisation (closeTenant): from then on no member, API key or job acts in it. Null: open.';
comment on column app_public.tenants.closed_by is 'The owner who closed the organisation.';
comment on column app_public.tenants.purge_after is 'End of the grace period of a closed organisation: until then an owner can reopen it (reopenTenant); after it the tenant_purge job deletes its data.';
comment on column app_public.tenants.purged_at is 'When the organisation''s data was deleted for good; only the tenant row, its subscriptions and its payments remain (billing records).';

-- Existing deleted tenants (none are written by earlier code, but the column allowed them) get the grace period from their deletion.
update app_public.tenants set purge_after = deleted_at + interval '30 days' where deleted_at is not null and purge_after is null;
alter table app_public.tenants drop constraint if exists tenants_closure_check;
alter table app_public.tenants add constraint tenants_closure_check
  check ((deleted_at is null) = (purge_after is null) and (purged_at is null or deleted_at is not null)) not valid;


comment on table app_public.platform_audit_log is 'Changes to the platform and staff actions: every insert, update (changed columns) and delete of plans, feature_flags, permissions, staff_roles, staff_role_permissions, staff_members, vps_instances and smtp_ip_addresses (action "<table>.<insert|update|delete>", changes {"before", "after"}; for servers and IPs, their status, counters and reputation findings are left out: lifecycle steps are logged as vps_instance.*, smtp_ip.* and domain_ip.* by their functions); system configuration changes (system_config.set, sensitive values redacted); staff access sessions and every operation in them; IP lifecycle steps and staff billing changes; organisations closed, reopened and purged (tenant.closed, tenant.reopened, tenant.purged) and accounts deleted by their users (user.deleted). actor_user_id is the user who made the change, null for the platform itself (a job, a migration). Readable by staff with audit.read.';
