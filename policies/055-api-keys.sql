--------------------------------------------------------------------------------
-- API keys (functions/052-api-keys.sql).
--------------------------------------------------------------------------------

-- Owners and admins read their organisation's keys (never a secret: those are
-- in app_private); every change goes through createApiKey, rotateApiKey and
-- revokeApiKey. No key reads this table (no area of policies/990 holds it).
select app_private.apply_tenant_policies('app_public.api_keys', write_role => null, read_role => 'admin');
grant select on app_public.api_keys to penguinmails_member;
grant execute on function
  app_public.create_api_key(text, text[], timestamptz),
  app_public.rotate_api_key(uuid),
  app_public.revoke_api_key(uuid)
to penguinmails_member;

-- The first statement of an API-key request (instead of enter_request); the
-- authenticator's grant is enter_request's (policies/000-reset-and-helpers.sql).
grant execute on function app_hidden.enter_api_key(uuid, uuid) to penguinmails_member, penguinmails_authenticator;
-- What the policies' scope checks (policies/990), the SECURITY DEFINER mutations and the upload route call.
grant execute on function
  app_hidden.current_api_key_id(),
  app_hidden.without_api_key(),
  app_hidden.api_key_allows(text, text),
  app_hidden.api_key_allows_scopes(text[], text, text),
  app_hidden.require_api_scope(text, text)
to penguinmails_anonymous, penguinmails_member, penguinmails_analytics;

-- What a key may reach in the other tables: policies/990-api-key-scopes.sql,
-- which runs after every other policy file.
