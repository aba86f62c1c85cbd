--------------------------------------------------------------------------------
-- CRM rules.
--------------------------------------------------------------------------------

-- A deal's owner is an active member of the deal's organisation. A trigger
-- rather than a foreign key to tenant_users: it runs before the foreign key
-- to users, so an id of nobody and an id of someone in another organisation
-- get the same answer (the foreign key alone would tell them apart), and it
-- can require the membership to be active.
create or replace function app_private.deal_owner_is_member() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- A row for another tenant than the session's is refused by row-level
  -- security (after this trigger): leave that answer to it.
  if new.owner_user_id is not null
     and (app_public.current_tenant_id() is null or new.tenant_id = app_public.current_tenant_id())
     and not exists (
       select 1 from app_public.tenant_users tu
       where tu.tenant_id = new.tenant_id and tu.user_id = new.owner_user_id and tu.deleted_at is null
     ) then
    raise exception 'The deal owner must be a member of this organisation; pick one from its members.'
      using errcode = 'NTFND', column = 'owner_user_id';
  end if;
  return new;
end;
$$;
comment on function app_private.deal_owner_is_member() is
  'Trigger: a deal''s owner_user_id must be an active member of the deal''s tenant. Unknown users and users of other tenants get the same NTFND error, so it reveals nothing about other tenants.';

create or replace trigger deal_owner_is_member
  before insert or update of owner_user_id on app_public.deals
  for each row execute function app_private.deal_owner_is_member();
