--! Previous: sha1:d5e0908cf42f3401f6914d023b9d00ed0a7d5915
--! Hash: sha1:3478e9435461babc61a48fc86dce4090e1a2d010
--! Message: Contacts gauge in shards

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- The contacts gauge in shards (benchmark figure 4): writers of one tenant
-- queued on its single gauge row, locked from the insert to the commit. Each
-- backend now adds to a shard of its own (0..15) and the gauge is the sum;
-- functions/250-billing-gauges.sql keeps the limit exact the way metered
-- usage does (shared lock far from the limit, exclusive near it). Domains,
-- inboxes and members stay in shard 0 under their row lock. A contacts shard
-- may go below zero (a backend deleting leads another one counted); the sum
-- never does.
--------------------------------------------------------------------------------

alter table app_private.resource_counts
  add column if not exists shard smallint not null default 0;
alter table app_private.resource_counts drop constraint if exists resource_counts_shard_check;
alter table app_private.resource_counts
  add constraint resource_counts_shard_check check (shard between 0 and 15 and (shard = 0 or resource = 'contacts'));
alter table app_private.resource_counts drop constraint if exists resource_counts_value_check;
alter table app_private.resource_counts
  add constraint resource_counts_value_check check (value >= 0 or resource = 'contacts');
alter table app_private.resource_counts drop constraint if exists resource_counts_pkey;
alter table app_private.resource_counts add constraint resource_counts_pkey primary key (tenant_id, resource, shard);
comment on table app_private.resource_counts is 'Current number of leads, domains, email accounts and members per tenant, for plan limits: the sum over shards (contacts use 16, the others shard 0).';
