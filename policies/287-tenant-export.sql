--------------------------------------------------------------------------------
-- Tenant exports (functions/287-tenant-export.sql): owners and admins read
-- their organisation's exports (progress, size, checksum, expiry); nobody
-- writes the table directly (request_tenant_export and the worker do). No API
-- key reaches it (it is in no area of policies/990-api-key-scopes.sql): an
-- export holds every table, more than any one scope.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.tenant_exports', write_role => null, read_role => 'admin');
grant select on app_public.tenant_exports to penguinmails_member;

grant execute on function
  app_public.request_tenant_export(uuid),
  app_hidden.tenant_export_download(uuid)
to penguinmails_member;
