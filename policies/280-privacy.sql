--------------------------------------------------------------------------------
-- Privacy requests (functions/280-privacy.sql): the two functions check the
-- caller themselves (an owner or admin of the request's tenant, signed in, not
-- an API key) and read or erase that tenant's rows only. The salts
-- (app_private.privacy_salts) are reachable by no API role. Retention
-- (functions/290-retention.sql) is run by the worker only: no grant.
--------------------------------------------------------------------------------

grant execute on function
  app_public.export_personal_data(text),
  app_public.erase_personal_data(text)
to penguinmails_member;
