--------------------------------------------------------------------------------
-- Identity and tenancy. Writes to memberships, invitations and secrets go
-- through SECURITY DEFINER functions (auth), so members only read here.
--------------------------------------------------------------------------------

-- users: yourself, and the people who share your current tenant.
create policy select_self_and_colleagues on app_public.users for select using (
  id = any (app_hidden.visible_user_ids())
);
comment on policy select_self_and_colleagues on app_public.users is 'You see your own account and the members of your current tenant.';
create policy update_self on app_public.users for update using (id = app_public.current_user_id());
comment on policy update_self on app_public.users is 'You may edit only your own profile.';
grant select on app_public.users to penguinmails_member;
grant execute on function app_hidden.visible_user_ids() to penguinmails_member;
grant update (name, family_name, given_name, picture) on app_public.users to penguinmails_member;

-- tenants: the current one; its owner may rename it.
create policy select_current on app_public.tenants for select using (id = app_public.current_tenant_id());
comment on policy select_current on app_public.tenants is 'Only the tenant named by your token, while you may act in it.';
create policy update_by_owner on app_public.tenants for update using (
  id = app_public.current_tenant_id_for_role('owner')
);
comment on policy update_by_owner on app_public.tenants is 'Only an owner may rename the tenant.';
grant select on app_public.tenants to penguinmails_member;
grant update (name) on app_public.tenants to penguinmails_member;

-- Memberships are soft-deleted (removeMember, deleteMyAccount): a removed
-- member is hidden from every API read, comes back when invited again within
-- soft_delete_grace(), and is deleted after it (purge_soft_deleted).
create policy tenant_select on app_public.tenant_users for select
  using (tenant_id = app_public.current_tenant_id_for_role('viewer') and deleted_at is null);
comment on policy tenant_select on app_public.tenant_users is 'Current members (deleted_at null) of the current tenant, for its viewers and above.';
grant select on app_public.tenant_users to penguinmails_member;

select app_private.apply_tenant_policies('app_public.invitations', write_role => null, read_role => 'admin');
grant select on app_public.invitations to penguinmails_member;

-- user_preferences: strictly personal.
create policy own_preferences on app_public.user_preferences for all
  using (user_id = app_public.current_user_id())
  with check (user_id = app_public.current_user_id());
comment on policy own_preferences on app_public.user_preferences is 'Only the user themselves can see or change their preferences.';
grant select, delete on app_public.user_preferences to penguinmails_member;
grant insert (theme, language, timezone, email_notifications, weekly_reports, muted_notifications),
  update (theme, language, timezone, email_notifications, weekly_reports, muted_notifications)
  on app_public.user_preferences to penguinmails_member;

select app_private.apply_tenant_policies('app_public.tenant_config', write_role => 'admin');
grant select on app_public.tenant_config to penguinmails_member;
grant update (billing_email, billing_address, notify_on_billing_changes, theme_primary_color, theme_logo_url, theme_favicon_url,
  ui_sidebar_default_collapsed, ui_date_format, ui_timezone)
  on app_public.tenant_config to penguinmails_member;

select app_private.apply_tenant_policies('app_public.tenant_policies', write_role => 'admin');
grant select on app_public.tenant_policies to penguinmails_member;
grant update (password_min_length, password_require_uppercase, password_require_numbers,
  password_require_symbols, session_timeout_hours, max_login_attempts, lockout_minutes,
  two_factor_required, company_allow_member_invites, company_require_email_verification)
  on app_public.tenant_policies to penguinmails_member;

--------------------------------------------------------------------------------
-- Platform staff tables.
--------------------------------------------------------------------------------

create policy select_signed_in on app_public.permissions for select using (app_public.current_user_id() is distinct from null);
comment on policy select_signed_in on app_public.permissions is 'The permission catalogue is public to signed-in users.';
create policy select_signed_in on app_public.staff_roles for select using (app_public.current_user_id() is distinct from null);
comment on policy select_signed_in on app_public.staff_roles is 'The staff role catalogue is public to signed-in users.';
create policy select_signed_in on app_public.staff_role_permissions for select using (app_public.current_user_id() is distinct from null);
comment on policy select_signed_in on app_public.staff_role_permissions is 'Which role grants what is public to signed-in users.';
grant select on app_public.permissions, app_public.staff_roles, app_public.staff_role_permissions to penguinmails_member;

create policy select_self_or_manager on app_public.staff_members for select using (
  user_id = app_public.current_user_id() or app_public.current_staff_has_permission('staff.manage')
);
comment on policy select_self_or_manager on app_public.staff_members is 'Staff see their own record; staff managers see everyone''s.';
create policy manage on app_public.staff_members for all
  using (app_public.current_staff_has_permission('staff.manage'))
  with check (app_public.current_staff_has_permission('staff.manage'));
comment on policy manage on app_public.staff_members is 'Only staff with staff.manage add, change or remove staff.';
grant select on app_public.staff_members to penguinmails_member;
grant insert (user_id, role_id, notes), update (role_id, notes), delete on app_public.staff_members to penguinmails_staff;
