--------------------------------------------------------------------------------
-- Closing an organisation and deleting one's account
-- (functions/285-account-closure.sql): each function checks the caller itself
-- (an owner of the current tenant for close_tenant; the signed-in user for the
-- others; never an API key). The purge runs in the worker only: no grant.
--------------------------------------------------------------------------------

grant execute on function
  app_public.close_tenant(text),
  app_public.my_closed_tenants(),
  app_public.reopen_tenant(uuid),
  app_hidden.delete_my_account(text)
to penguinmails_member;
