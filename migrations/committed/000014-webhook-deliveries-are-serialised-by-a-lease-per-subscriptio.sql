--! Previous: sha1:0e5499d6934a53c45e831c7bb6cb058a861c72f8
--! Hash: sha1:d9fa66fa2dc843513fcef12ade48cdd214713dc9
--! Message: Webhook deliveries are serialised by a lease per subscription instead of a named queue

--! split: 1-current.sql
--------------------------------------------------------------------------------
-- Webhook delivery leases: one job at a time posts a subscription's
-- deliveries because it holds the subscription's lease, not because its jobs
-- share a graphile-worker named queue. With the worker's local queue, a fetch
-- of a backlog of one named queue's jobs returns one job (graphile-worker
-- keeps only the first job per named queue in a batch) and the worker then
-- waits a poll interval: a backlog drained at a few jobs per second.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '10min';

create table if not exists app_private.webhook_delivery_leases (
  tenant_id uuid not null,
  subscription_id uuid not null,
  holder text not null,
  expires_at timestamptz not null,
  primary key (tenant_id, subscription_id),
  foreign key (tenant_id, subscription_id) references app_public.webhook_subscriptions (tenant_id, id) on delete cascade
);
comment on table app_private.webhook_delivery_leases is 'Which webhook_deliver job posts a subscription''s deliveries now, until when: a job takes the lease before it posts and gives it back when it stops; a lease whose holder died ends at expires_at.';
