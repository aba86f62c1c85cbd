--------------------------------------------------------------------------------
-- Workspaces, flags, system configuration and audit logs.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.companies', write_role => 'admin');
grant select, delete on app_public.companies to penguinmails_member;
grant insert (name, workspace_name, logo_url, status, industry, company_size),
  update (name, workspace_name, logo_url, status, industry, company_size)
  on app_public.companies to penguinmails_member;

-- Feature flag definitions belong to staff; tenants ask feature_enabled().
create policy manage on app_public.feature_flags for all
  using (app_public.current_staff_has_permission('feature_flags.manage'))
  with check (app_public.current_staff_has_permission('feature_flags.manage'));
comment on policy manage on app_public.feature_flags is 'Only staff with feature_flags.manage see and change flag definitions.';
grant select, delete on app_public.feature_flags to penguinmails_staff;
grant insert (key, description, is_enabled, rollout_percentage, updated_by),
  update (description, is_enabled, rollout_percentage, updated_by)
  on app_public.feature_flags to penguinmails_staff;
grant execute on function app_public.feature_enabled(text), app_public.enabled_features() to penguinmails_member;

-- System configuration: staff only, and sensitive values are not in this table.
create policy manage on app_public.system_config for select
  using (app_public.current_staff_has_permission('system_config.manage'));
comment on policy manage on app_public.system_config is 'Only staff with system_config.manage read system configuration; values of sensitive keys are never stored here.';
grant select on app_public.system_config to penguinmails_staff;
grant execute on function app_public.set_system_config(text, jsonb, boolean, text, text) to penguinmails_staff;

-- Audit: the tenant's admins read their log (including staff accesses).
select app_private.apply_tenant_policies('app_public.audit_log', write_role => null, read_role => 'admin');
grant select on app_public.audit_log to penguinmails_member;

create policy audit_readers on app_public.platform_audit_log for select
  using (app_public.current_staff_has_permission('audit.read'));
comment on policy audit_readers on app_public.platform_audit_log is 'Only staff with audit.read.';
grant select on app_public.platform_audit_log to penguinmails_staff;
-- The audit trigger of platform tables runs as the role that made the change
-- (functions/020-platform.sql): a staff member's change adds its row in
-- their own name, never someone else's, and cannot set its time.
create policy staff_changes on app_public.platform_audit_log for insert
  with check (actor_user_id = app_public.current_user_id());
comment on policy staff_changes on app_public.platform_audit_log is 'The audit trigger of platform tables adds the row of a staff member''s change as that staff member, in their own name only.';
grant insert (actor_user_id, action, table_name, record_id, changes) on app_public.platform_audit_log to penguinmails_staff;

grant execute on function
  app_public.open_tenant_access(uuid, text, text, integer),
  app_public.close_tenant_access(uuid)
to penguinmails_staff;

grant execute on function
  app_public.current_user(),
  app_public.current_tenant(),
  app_public.tenants_my_roles(app_public.tenants)
to penguinmails_member;
