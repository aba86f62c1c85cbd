--------------------------------------------------------------------------------
-- Sending infrastructure. Servers and IPs belong to staff; a tenant sees the
-- IPs assigned to its domains. Domains and inboxes: read by every member,
-- changed only by owners and admins.
--------------------------------------------------------------------------------

create policy manage on app_public.vps_instances for all
  using (app_public.current_staff_has_permission('infrastructure.manage'))
  with check (app_public.current_staff_has_permission('infrastructure.manage'));
comment on policy manage on app_public.vps_instances is 'Only staff with infrastructure.manage.';
grant select, delete on app_public.vps_instances to penguinmails_staff;
grant insert (hostwinds_instance_id, ip_address, region, status, monthly_cost, approximate_cost, hostwinds_billing_day,
    current_billing_period_start, current_billing_period_end, decommission_scheduled_for),
  update (hostwinds_instance_id, ip_address, region, monthly_cost, approximate_cost, hostwinds_billing_day,
    current_billing_period_start, current_billing_period_end, decommission_scheduled_for)
  on app_public.vps_instances to penguinmails_staff;

create policy manage on app_public.smtp_ip_addresses for all
  using (app_public.current_staff_has_permission('infrastructure.manage'))
  with check (app_public.current_staff_has_permission('infrastructure.manage'));
comment on policy manage on app_public.smtp_ip_addresses is 'Only staff with infrastructure.manage change IPs; status changes go through the lifecycle functions.';
create policy select_assigned on app_public.smtp_ip_addresses for select using (id = any (app_hidden.assigned_ip_ids()));
comment on policy select_assigned on app_public.smtp_ip_addresses is 'A tenant sees the IPs currently assigned to its domains.';
grant select on app_public.smtp_ip_addresses to penguinmails_member;
grant execute on function app_hidden.assigned_ip_ids() to penguinmails_member;
grant insert (vps_instance_id, ip_address, approximate_cost), update (vps_instance_id, approximate_cost), delete
  on app_public.smtp_ip_addresses to penguinmails_staff;

select app_private.apply_tenant_policies('app_public.domain_ip_assignments', write_role => null);
create policy manage on app_public.domain_ip_assignments for all
  using (app_public.current_staff_has_permission('infrastructure.manage'))
  with check (app_public.current_staff_has_permission('infrastructure.manage'));
comment on policy manage on app_public.domain_ip_assignments is 'Staff with infrastructure.manage assign IPs to any tenant''s domains.';
grant select on app_public.domain_ip_assignments to penguinmails_member;

select app_private.apply_tenant_policies('app_public.domains', write_role => 'admin');
grant select, delete on app_public.domains to penguinmails_member;
grant insert (company_id, domain, is_primary, dkim_selector),
  update (company_id, is_primary)
  on app_public.domains to penguinmails_member;

select app_private.apply_tenant_policies('app_public.email_accounts', write_role => 'admin');
grant select, delete on app_public.email_accounts to penguinmails_member;
grant insert (domain_id, email, from_name, provider, imap_settings, smtp_settings, status, timezone, daily_limit, warmup_enabled),
  update (from_name, provider, imap_settings, smtp_settings, status, timezone, daily_limit, warmup_enabled)
  on app_public.email_accounts to penguinmails_member;
