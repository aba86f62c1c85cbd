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
  using (app_public.current_staff_has_permission('infrastructure.manage') and tenant_id = app_public.current_tenant_id())
  with check (app_public.current_staff_has_permission('infrastructure.manage') and tenant_id = app_public.current_tenant_id());
comment on policy manage on app_public.domain_ip_assignments is 'Staff with infrastructure.manage change assignments of the tenant they hold an access session into; across tenants they use the IP pool functions, which check the permission and write the platform audit log.';
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

--------------------------------------------------------------------------------
-- Deliverability API: tenants check and rotate their domains' DNS and read
-- their sending allowances; staff with infrastructure.manage run the IP pool
-- lifecycle (each function checks the permission itself). The tables' row
-- policies are above: status columns are not writable by anyone but these
-- functions.
--------------------------------------------------------------------------------

-- The CHECK on domains.dns_records runs as whoever writes a domain.
grant execute on function
  app_hidden.dns_record_problem(jsonb),
  app_hidden.dns_records_problem(jsonb)
to penguinmails_member;

grant execute on function
  app_public.verify_domain(uuid),
  app_public.rotate_domain_dkim_key(uuid)
to penguinmails_member;

grant execute on function
  app_public.domains_records_to_publish(app_public.domains),
  app_public.email_accounts_daily_allowance(app_public.email_accounts),
  app_public.email_accounts_warmup_day(app_public.email_accounts),
  app_public.smtp_ip_addresses_daily_allowance(app_public.smtp_ip_addresses)
to penguinmails_member, penguinmails_analytics;

grant execute on function
  app_public.set_vps_instance_status(uuid, text, text, timestamptz),
  app_public.set_smtp_ip_status(uuid, text, text),
  app_public.assign_smtp_ip_to_domain(uuid, uuid, text),
  app_public.set_domain_ip_assignment_status(uuid, text, text)
to penguinmails_staff;

--------------------------------------------------------------------------------
-- Custom tracking domains (functions/151): read by every member, removed by
-- owners and admins; added and checked through the functions, which check
-- the role and the plan themselves.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.tracking_domains', write_role => 'admin');
grant select, delete on app_public.tracking_domains to penguinmails_member;

grant execute on function
  app_public.add_tracking_domain(text),
  app_public.verify_tracking_domain(uuid)
to penguinmails_member;

-- render_context (the API's previewMessage runs it as the member) reads it.
grant execute on function app_hidden.tracking_host(uuid) to penguinmails_member;
