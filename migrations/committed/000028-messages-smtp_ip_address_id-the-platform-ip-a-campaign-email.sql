--! Previous: sha1:a5f73ee54e0e38f34aa167c7beb44fd326ab4cf1
--! Hash: sha1:37e5b4ef1fbb7de530a8c9432d24d04ef27865ff
--! Message: messages.smtp_ip_address_id: the platform IP a campaign email left from

--! split: 1-current.sql
-- Enter migration here

--! split: 3-ip-pool-sending.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- Which platform IP carried a message. Nullable and without a default, so
-- adding it to the partitioned messages table changes the catalogue only.
-- No foreign key: it is a record of history (an IP row may be deleted with
-- its server while its messages stay), a foreign key from every partition
-- would make deleting an IP scan all messages, and PostgreSQL before 18
-- cannot add one NOT VALID to a partitioned table.
alter table app_public.messages add column if not exists smtp_ip_address_id uuid;
comment on column app_public.messages.smtp_ip_address_id is 'The platform sending IP (smtp_ip_addresses) the message was booked on and leaves from: set when its inbox is a platform (mailu) inbox whose domain has active or warming IP assignments; null for mail outside the IP pool (third-party SMTP, Google, Microsoft, or a domain without IPs).';
