--! Previous: sha1:e79d54378beed8930e20da1b0082231a98aefd53
--! Hash: sha1:39a3e7536e87ca5d4d506b50469639371dcc6cd3
--! Message: Overlapping DNS checks of one domain: the later one wins

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- DNS checks of one domain can overlap (a check queued at creation is still
-- asking DNS when the tenant presses "verify" after publishing). The domain
-- remembers when the answers of the check it last recorded were asked for, so
-- an older check that finishes later no longer overwrites a newer one.
-- A nullable column without a default: a catalogue change only.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '10min';

alter table app_public.domains add column if not exists dns_checked_as_of timestamptz;
comment on column app_public.domains.dns_checked_as_of is 'When the DNS answers behind the current record statuses were asked for (the start of the last recorded check); null before the first check.';
