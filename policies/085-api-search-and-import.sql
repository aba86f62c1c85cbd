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
