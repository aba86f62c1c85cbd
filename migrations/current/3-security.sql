-- Security hardening (issue 11). Idempotent: graphile-migrate re-runs this
-- file on every change while it is current.
set local lock_timeout = '5s';

--------------------------------------------------------------------------------
-- An inbox's address is on its own domain (trigger in
-- functions/140-credentials-and-rendering.sql). The rule applies to writes
-- from now on; inboxes created before it are left as they are (rewriting a
-- sending address behind its owner's back would be worse), so this migration
-- cannot fail on old data. It only reports how many there are, so an
-- operator can contact those tenants:
--   select tenant_id, id, email from app_public.email_accounts ea
--   join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
--   where lower(split_part(ea.email::text, '@', 2)) <> lower(d.domain::text);
--------------------------------------------------------------------------------
do $$
declare
  v_count bigint;
begin
  select count(*) into v_count
    from app_public.email_accounts ea
    join app_public.domains d on d.tenant_id = ea.tenant_id and d.id = ea.domain_id
    where lower(split_part(ea.email::text, '@', 2)) <> lower(d.domain::text);
  if v_count > 0 then
    raise notice '% inbox(es) have an address outside their own domain; they keep working until their address changes.', v_count;
  end if;
end;
$$;

--------------------------------------------------------------------------------
-- A deal's owner is a member of its organisation (trigger in
-- functions/070-crm.sql). Deals whose owner is not a member (a user of
-- another organisation, which the API used to accept) lose that owner: the
-- reference itself was the leak, and "no owner" is a valid state. Owners who
-- have since left the organisation are kept (they were members).
--------------------------------------------------------------------------------
update app_public.deals d set owner_user_id = null
  where d.owner_user_id is not null
    and not exists (select 1 from app_public.tenant_users tu where tu.tenant_id = d.tenant_id and tu.user_id = d.owner_user_id);
