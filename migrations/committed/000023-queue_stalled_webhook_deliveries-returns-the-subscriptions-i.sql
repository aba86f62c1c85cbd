--! Previous: sha1:bd54ec17e03f4ab7ec61c5a839c922627447f143
--! Hash: sha1:107486c5e4bd4ca98d8a2c170b60632c7855e3d1
--! Message: queue_stalled_webhook_deliveries returns the subscriptions it queued

--! split: 1-current.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- queue_stalled_webhook_deliveries now returns the subscriptions it queued a
-- job for instead of their number (functions/270 re-creates it): a caller can
-- tell which subscriptions were stalled. A return type cannot be changed in place.
drop function if exists app_private.queue_stalled_webhook_deliveries(timestamptz);
