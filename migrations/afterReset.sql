-- Cluster-level roles, run as the superuser (ROOT_DATABASE_URL) by
-- `graphile-migrate reset` and by `src/db/bootstrap.ts` before any migration.
-- Roles are cluster-wide and migrations also run on the shadow database, so
-- everything here is idempotent.
--
--   penguinmails_authenticator  LOGIN NOINHERIT: the API connects as this and
--                               switches (SET ROLE) per request to:
--   penguinmails_anonymous      no token: only the auth operations
--   penguinmails_member         a signed-in user acting inside one tenant
--   penguinmails_staff          platform staff (inherits member; RLS decides rows)
--   penguinmails_analytics      read-only reporting across tenants, no secrets
--
-- The owner role (:DATABASE_OWNER, BYPASSRLS) runs migrations and the worker.
do $$
declare
  r text;
begin
  foreach r in array array[
    'penguinmails_anonymous', 'penguinmails_member',
    'penguinmails_staff', 'penguinmails_analytics'
  ] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      execute format('create role %I nologin', r);
    end if;
  end loop;
  if not exists (select 1 from pg_roles where rolname = 'penguinmails_authenticator') then
    create role penguinmails_authenticator login noinherit;
  end if;
end
$$;

alter role penguinmails_authenticator with login noinherit password ':DATABASE_AUTHENTICATOR_PASSWORD';

grant penguinmails_anonymous to penguinmails_authenticator;
grant penguinmails_member to penguinmails_authenticator;
grant penguinmails_staff to penguinmails_authenticator;
grant penguinmails_analytics to penguinmails_authenticator;
-- staff act through the same table grants as members; policies decide which rows.
grant penguinmails_member to penguinmails_staff;

grant connect on database :DATABASE_NAME to penguinmails_authenticator;
grant all on database :DATABASE_NAME to :DATABASE_OWNER;
