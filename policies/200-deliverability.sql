--------------------------------------------------------------------------------
-- Deliverability API: tenants check and rotate their domains' DNS and read
-- their sending allowances; staff with infrastructure.manage run the IP pool
-- lifecycle (each function checks the permission itself). Tables and their
-- row policies are in 040-sending-infrastructure.sql: status columns are not
-- writable by anyone but these functions.
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
