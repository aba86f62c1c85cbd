--------------------------------------------------------------------------------
-- Audience and content: every member (not viewers) works with these.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.leads', write_role => 'member');
grant select, delete on app_public.leads to penguinmails_member;
grant insert (email, name, first_name, last_name, company, title, phone, website, timezone, status, source, custom_fields, crm_account_id),
  update (email, name, first_name, last_name, company, title, phone, website, timezone, status, source, custom_fields, crm_account_id)
  on app_public.leads to penguinmails_member;

select app_private.apply_tenant_policies('app_public.custom_field_definitions', write_role => 'admin');
grant select, delete on app_public.custom_field_definitions to penguinmails_member;
grant insert (key, label, field_type, options), update (label, field_type, options)
  on app_public.custom_field_definitions to penguinmails_member;

select app_private.apply_tenant_policies('app_public.contact_lists', write_role => 'member');
grant select, delete on app_public.contact_lists to penguinmails_member;
grant insert (name, description, is_dynamic, filter_criteria), update (name, description, is_dynamic, filter_criteria)
  on app_public.contact_lists to penguinmails_member;
grant execute on function app_public.contact_lists_leads(app_public.contact_lists),
  app_public.contact_lists_lead_count(app_public.contact_lists),
  app_hidden.lead_filter_sql(jsonb, integer)
  to penguinmails_member;

select app_private.apply_tenant_policies('app_public.contact_list_members', write_role => 'member');
grant select, delete on app_public.contact_list_members to penguinmails_member;
grant insert (list_id, lead_id) on app_public.contact_list_members to penguinmails_member;

select app_private.apply_tenant_policies('app_public.suppressions', write_role => 'member');
grant select, delete on app_public.suppressions to penguinmails_member;
grant insert (email, domain, reason, note), update (note) on app_public.suppressions to penguinmails_member;

select app_private.apply_tenant_policies('app_public.lead_imports', write_role => 'member');
grant select on app_public.lead_imports to penguinmails_member;

select app_private.apply_tenant_policies('app_public.templates', write_role => 'member');
grant select, delete on app_public.templates to penguinmails_member;
grant insert (name, subject, content, text_content, variables, category, is_archived),
  update (name, subject, content, text_content, variables, category, is_archived)
  on app_public.templates to penguinmails_member;

select app_private.apply_tenant_policies('app_public.folders', write_role => 'member');
grant select, delete on app_public.folders to penguinmails_member;
grant insert (name), update (name) on app_public.folders to penguinmails_member;

select app_private.apply_tenant_policies('app_public.template_folders', write_role => 'member');
grant select, delete on app_public.template_folders to penguinmails_member;
grant insert (template_id, folder_id) on app_public.template_folders to penguinmails_member;

select app_private.apply_tenant_policies('app_public.tags', write_role => 'member');
grant select, delete on app_public.tags to penguinmails_member;
grant insert (value, name, description), update (value, name, description) on app_public.tags to penguinmails_member;

select app_private.apply_tenant_policies('app_public.template_tags', write_role => 'member');
grant select, delete on app_public.template_tags to penguinmails_member;
grant insert (template_id, tag_id) on app_public.template_tags to penguinmails_member;
