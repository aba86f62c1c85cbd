--! Previous: sha1:259cc62bec5d77e4c977afa2b73b6027374a2405
--! Hash: sha1:9f8ed1ad26f40ba61cbaa1a83dd573b5d91feefe
--! Message: Table comments with their tables: the subscriptions and lead_imports comments move from functions/ into a migration

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Table comments live with their tables, in migrations: these two were set
-- from functions/ (005 and 071), where a reader of the table's story would
-- not look.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- "Subscription" is GraphQL's root type for subscriptions, hence the @name.
comment on table app_public.subscriptions is E'@name billing_subscription\nA tenant''s subscription to a plan; pending_plan_id takes effect at the end of the current period.';

-- Imports are started by uploading a file (POST /imports/leads), never by a
-- bare GraphQL mutation; the table is readable through the API.
comment on table app_public.lead_imports is E'@behavior -insert\nA CSV import of leads (start one with POST /imports/leads), processed by the worker: status pending → processing → completed or failed (see failureReason). totalRows grows while the file loads; errors lists the first 100 rejected rows with their line and reason.';
