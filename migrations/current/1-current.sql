--------------------------------------------------------------------------------
-- Keys every engine accepts, Citus included (see src/db/citus-distribution.ts):
-- a distributed table's primary and unique keys include tenant_id, and a
-- table without a tenant key (a reference table, on every node) references no
-- tenant table.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';

-- Invitation tokens are unique per tenant: a token is 32 random bytes, and
-- acceptInvitation, which knows only the token, looks it up in every tenant.
alter table app_private.invitation_tokens drop constraint if exists invitation_tokens_token_hash_key;
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'invitation_tokens_tenant_token_key') then
    alter table app_private.invitation_tokens
      add constraint invitation_tokens_tenant_token_key unique (tenant_id, token_hash);
  end if;
end;
$$;

-- A staff access session belongs to the tenant it opens.
do $$
begin
  if exists (
    select 1 from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
    where c.conrelid = 'app_private.staff_access_sessions'::regclass and c.contype = 'p' and cardinality(c.conkey) = 1
  ) then
    alter table app_private.staff_access_sessions drop constraint staff_access_sessions_pkey;
    alter table app_private.staff_access_sessions add primary key (tenant_id, id);
  end if;
end;
$$;

-- Stripe events are the platform's log of what Stripe sent (kept when a
-- tenant is deleted, like payments): tenant_id records which tenant an event
-- was applied to, without a foreign key.
alter table app_private.stripe_events drop constraint if exists stripe_events_tenant_id_fkey;
comment on column app_private.stripe_events.tenant_id is 'The tenant the event was applied to, when it named one (no foreign key: the log outlives tenants).';
