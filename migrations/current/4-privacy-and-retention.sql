set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- Privacy requests (issue 17, item 1): an erased person stays suppressed by a
-- salted hash of their address, never by the address itself.
--------------------------------------------------------------------------------

create table if not exists app_private.privacy_salts (
  tenant_id uuid not null primary key references app_public.tenants (id) on delete cascade,
  salt bytea not null default public.gen_random_bytes(32),
  created timestamptz not null default now(),
  constraint privacy_salts_salt_check check (octet_length(salt) = 32)
);
comment on table app_private.privacy_salts is 'One random salt per tenant for the hashes of erased addresses kept in suppressions.email_hash; a hash from one tenant says nothing in another.';

alter table app_public.suppressions add column if not exists email_hash bytea;
comment on column app_public.suppressions.email_hash is 'For a person erased by a privacy request: sha256(tenant salt || lower(address)) instead of the address, so they are never mailed again and their address is no longer held. Null on ordinary rows.';

-- The check gains a third kind of row (looser than before: every row it held
-- still passes). Added NOT VALID, to be validated by the next migration.
alter table app_public.suppressions drop constraint if exists suppressions_check;
alter table app_public.suppressions drop constraint if exists suppressions_one_target;
alter table app_public.suppressions add constraint suppressions_one_target
  check (num_nonnulls(email, domain, email_hash) = 1) not valid;
alter table app_public.suppressions drop constraint if exists suppressions_email_hash_check;
alter table app_public.suppressions add constraint suppressions_email_hash_check
  check (octet_length(email_hash) = 32) not valid;
-- suppressions is small next to leads and messages; a plain index (the table
-- gains the column in this migration, so no row has a hash yet).
create unique index if not exists suppressions_email_hash_key on app_public.suppressions (tenant_id, email_hash);

--------------------------------------------------------------------------------
-- Retention (issue 17, item 4): platform-wide, in system_config.
--------------------------------------------------------------------------------

insert into app_public.system_config (key, value, description, category)
values
  ('retention.messages_days', '400'::jsonb,
   'Days messages and email events are kept: whole monthly partitions ending before this many days ago are detached and dropped (platform-wide: partitions are shared by all tenants).', 'retention'),
  ('retention.webhook_days', '30'::jsonb,
   'Days finished webhook deliveries (succeeded or failed) and the events left without a delivery are kept.', 'retention')
on conflict (key) do nothing;
