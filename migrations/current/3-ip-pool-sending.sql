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
