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

--------------------------------------------------------------------------------
-- Lead search and CSV imports. Every signed-in member may search the leads
-- they can read (RLS applies inside the function). Imports are started by
-- members and above through POST /imports/leads, which inserts the
-- lead_imports row as the caller: the standard lead_imports policies (write
-- role member) refuse viewers and other tenants.
--------------------------------------------------------------------------------

grant execute on function app_public.search_leads(text) to penguinmails_member;

-- The upload route inserts the import as the caller (members and above, by
-- the table's policies); there is no GraphQL mutation for it (the table's
-- smart comment removes it), since an import needs its file.
grant insert (file_name, byte_size, contact_list_id, column_mapping, update_existing, keep_unmapped) on app_public.lead_imports to penguinmails_member;
-- Its validation trigger runs as the member and reads the importable fields.
grant execute on function app_hidden.lead_import_fields() to penguinmails_member;
