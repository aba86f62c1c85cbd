--! Previous: sha1:66c180b96c37caf9e0387e8b47a7bd12371c2115
--! Hash: sha1:354527926fcb232652c456ce955df4a8d97a3bed
--! Message: Privacy requests: a per-tenant salt for the hashes of erased addresses

--! split: 1-current.sql
-- Enter migration here

--! split: 4-privacy-and-retention.sql
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

-- Retention (issue 17, item 4) needs no table: its periods are the system_config
-- keys retention.messages_days and retention.webhook_days, defaults in
-- functions/290-retention.sql when unset.
