--! Previous: sha1:2e5151295f3e52a43e6830da623ad2d477a974c2
--! Hash: sha1:6fe6b96ffb066328b7fd130e542c0e66602c2a75
--! Message: one 30-day grace for every soft delete (soft_delete_grace); removed memberships hidden

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- One grace period for every soft delete: tenant_closure_grace() becomes
-- soft_delete_grace() (functions/285), also read by purge_soft_deleted.
drop function if exists app_private.tenant_closure_grace();

comment on table app_public.tenant_users is 'Membership of a user in a tenant with their roles (owner, admin, member, viewer). A removed member keeps the row with deleted_at set, loses access at once, is hidden from API reads, comes back when invited again, and the row is deleted 30 days later.';
comment on column app_public.deals.deleted_at is 'Soft delete (softDeleteDeal): a deleted deal is not returned by any query of the API and comes back with restoreDeal within 30 days; after that the daily retention job deletes it (purge_soft_deleted).';
comment on column app_public.crm_accounts.deleted_at is 'Soft delete (softDeleteCrmAccount): set instead of deleting so deals keep their history; a deleted account is not returned by any query of the API and comes back with restoreCrmAccount within 30 days; after that the daily retention job deletes it (purge_soft_deleted).';
