--------------------------------------------------------------------------------
-- CSV exports (functions/288-data-exports.sql): members and above read their
-- organisation's CSV exports (kinds other than tenant) besides the admins'
-- policy of policies/287-tenant-export.sql; nobody writes the table directly.
-- No API key reaches them (tenant_exports is in no area of
-- policies/990-api-key-scopes.sql, and the download route takes user tokens).
--------------------------------------------------------------------------------

create policy csv_export_select on app_public.tenant_exports for select
  using (tenant_id = app_public.current_tenant_id_for_role('member') and kind <> 'tenant');
comment on policy csv_export_select on app_public.tenant_exports is 'CSV exports (leads, suppressions, campaign results) of the current tenant, for its members and above.';

grant execute on function app_public.request_csv_export(text, uuid) to penguinmails_member;

-- Suppression list imports (POST /imports/suppressions): the upload inserts
-- the lead_imports row as the caller, target included.
grant insert (target) on app_public.lead_imports to penguinmails_member;
-- The lead_imports validation trigger runs as the uploading member.
grant execute on function app_hidden.suppression_import_fields() to penguinmails_member;
