set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- Privacy requests (issue 17, item 1): an erased person stays suppressed by a
-- salted hash of their address (suppressions.email = '<hex sha-256>@erased.invalid'),
-- never by the address itself.
--------------------------------------------------------------------------------

create table if not exists app_private.privacy_salts (
  tenant_id uuid not null primary key references app_public.tenants (id) on delete cascade,
  salt bytea not null default public.gen_random_bytes(32),
  created timestamptz not null default now(),
  constraint privacy_salts_salt_check check (octet_length(salt) = 32)
);
comment on table app_private.privacy_salts is 'One random salt per tenant for the hashes of erased addresses, kept in the suppression list as <hex sha256(salt || lower(address))>@erased.invalid (app_private.erased_address); a hash from one tenant says nothing in another, and without the salt (no API role reads it) an address cannot be tested against it.';

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
