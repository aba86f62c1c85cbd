--------------------------------------------------------------------------------
-- Retention: messages and email events are kept retention.messages_days
-- (system_config, platform-wide: monthly partitions are shared by every
-- tenant) and leave by whole partitions, detached and dropped; finished
-- webhook history is kept retention.webhook_days. Run by the daily
-- `retention` job (workers/retention.ts) next to ensure_partitions.
--------------------------------------------------------------------------------

create or replace function app_private.retention_days(key text, fallback integer) returns integer
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_days integer;
begin
  select case when jsonb_typeof(c.value) = 'number' then (c.value #>> '{}')::numeric::integer end into v_days
    from app_public.system_config c where c.key = retention_days.key;
  return greatest(coalesce(v_days, fallback), 31);
end;
$$;
comment on function app_private.retention_days(text, integer) is 'A retention period in days from system_config (the fallback when unset or not a number), never under 31 days (a month, so the current partition is never dropped).';

create or replace function app_private.expired_partitions(at timestamptz default now())
  returns table (partition regclass, parent regclass, month date, lower_id uuid, upper_id uuid)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_cutoff timestamptz := at - make_interval(days => app_private.retention_days('retention.messages_days', 400));
begin
  return query
  select c.oid::regclass, i.inhparent::regclass, m.month,
         app_private.uuid_v7_floor(m.month::timestamp at time zone 'UTC'),
         app_private.uuid_v7_floor((m.month + interval '1 month')::timestamp at time zone 'UTC')
  from pg_inherits i
  join pg_class c on c.oid = i.inhrelid
  cross join lateral (select to_date(substring(c.relname from '_y(\d{4}m\d{2})$'), 'YYYY"m"MM') as month) m
  where i.inhparent in ('app_public.messages'::regclass, 'app_public.email_events'::regclass)
    and c.relname ~ '_y\d{4}m\d{2}$'
    and ((m.month + interval '1 month')::timestamp at time zone 'UTC') <= v_cutoff
  -- Events before messages: nothing references an event, events reference messages.
  order by m.month, i.inhparent = 'app_public.messages'::regclass;
end;
$$;
comment on function app_private.expired_partitions(timestamptz) is 'The monthly partitions of messages and email_events wholly older than retention.messages_days: oldest month first, its events partition before its messages partition.';

create or replace function app_private.release_message_partition(lower_id uuid, upper_id uuid) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_fk record;
  v_total integer := 0;
  v_n integer;
begin
  -- A detach neither cascades nor sets null: it fails while a row elsewhere
  -- still points into the partition. So every foreign key to messages (read
  -- from the catalogue, so a new one is covered) gets its ON DELETE action
  -- applied here to the rows pointing into [lower_id, upper_id): events of
  -- later months and conversations rooted there are deleted (and what
  -- cascades from them), enrollments' current and thread message and later
  -- replies' parent are cleared. A key that can do neither (no action on a
  -- NOT NULL column) stops the job.
  for v_fk in
    select c.conname, c.conrelid::regclass as rel, c.confdeltype, a.attname as col, a.attnotnull as not_null
    from pg_constraint c
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey) and a.attname <> 'tenant_id'
    where c.contype = 'f' and c.confrelid = 'app_public.messages'::regclass and c.conparentid = 0
    order by c.conname
  loop
    if v_fk.confdeltype = 'c' then
      execute format('delete from %s x where x.%I >= $1 and x.%I < $2', v_fk.rel, v_fk.col, v_fk.col) using lower_id, upper_id;
    elsif v_fk.confdeltype = 'n' or not v_fk.not_null then
      -- SET NULL, or no action on a nullable column: on Citus a key declared
      -- ON DELETE SET NULL (column) keeps no action (src/db/citus-distribution.ts).
      -- messages.parent_message_id: only the rows outside the partition (its own go with it).
      execute format('update %s x set %I = null where x.%I >= $1 and x.%I < $2%s', v_fk.rel, v_fk.col, v_fk.col, v_fk.col,
        case when v_fk.rel = 'app_public.messages'::regclass then ' and (x.id < $1 or x.id >= $2)' else '' end) using lower_id, upper_id;
    else
      raise exception 'Foreign key % of % to messages is neither ON DELETE CASCADE nor on a nullable column; retention cannot release a partition it points into.',
        v_fk.conname, v_fk.rel using errcode = 'STATE';
    end if;
    get diagnostics v_n = row_count;
    v_total := v_total + v_n;
  end loop;
  return v_total;
end;
$$;
comment on function app_private.release_message_partition(uuid, uuid) is 'Before a messages partition is detached: applies the ON DELETE action of every foreign key to messages (from the catalogue) to the rows that point into the partition''s id range (events of later months, conversations rooted there, inbox replies, hand-overs deleted; enrollments'' current and thread message, conversations'' last message and later replies'' parent cleared). Returns how many rows it deleted or changed directly. Campaign statistics are counted when mail is sent and events arrive, so they keep every count.';

create or replace function app_private.drop_monthly_partition(partition regclass) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
  -- The detach locks the whole table: give up (the job fails and runs again
  -- tomorrow) rather than queue every reader and writer of messages behind a
  -- long transaction.
  set lock_timeout to '5s'
as $$
declare
  v_parent regclass;
begin
  select i.inhparent::regclass into v_parent from pg_inherits i where i.inhrelid = partition;
  if v_parent is null or v_parent not in ('app_public.messages'::regclass, 'app_public.email_events'::regclass) then
    raise exception '% is not a monthly partition of messages or email_events.', partition using errcode = 'INVAL';
  end if;
  execute format('alter table %s detach partition %s', v_parent, partition);
  execute format('drop table %s', partition);
end;
$$;
comment on function app_private.drop_monthly_partition(regclass) is 'Detaches a monthly partition of messages or email_events and drops it (messages: after release_message_partition).';

create or replace function app_private.delete_in_batches(statement text, tenant_id uuid, cutoff timestamptz, batch integer)
  returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_n integer;
  v_total integer := 0;
begin
  loop
    execute statement using tenant_id, cutoff, batch;
    get diagnostics v_n = row_count;
    v_total := v_total + v_n;
    exit when v_n < batch;
  end loop;
  return v_total;
end;
$$;
comment on function app_private.delete_in_batches(text, uuid, timestamptz, integer) is 'Runs a DELETE of at most $3 rows (the batch), reading $1 (a tenant, or null) and $2 (a cutoff), until it deletes fewer than a batch; returns how many rows. Retention''s one batch loop.';

create or replace function app_private.delete_per_tenant_in_batches(statement text, cutoff timestamptz, batch integer)
  returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_total integer := 0;
begin
  -- Tenant by tenant: each statement reads one tenant's shard on Citus.
  for v_tenant in select t.id from app_public.tenants t loop
    v_total := v_total + app_private.delete_in_batches(statement, v_tenant, cutoff, batch);
  end loop;
  return v_total;
end;
$$;
comment on function app_private.delete_per_tenant_in_batches(text, timestamptz, integer) is 'delete_in_batches for every tenant in turn ($1 is the tenant).';

create or replace function app_private.purge_webhook_history(at timestamptz default now(), batch integer default 5000) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return app_private.delete_per_tenant_in_batches($sql$
    delete from app_public.webhook_events e
      where e.tenant_id = $1 and e.id in (
        select e2.id from app_public.webhook_events e2
        where e2.tenant_id = $1 and e2.created < $2
          and not exists (select 1 from app_public.webhook_deliveries d
                          where d.tenant_id = $1 and d.event_id = e2.id and d.status = 'pending')
        limit $3)$sql$,
    at - make_interval(days => app_private.retention_days('retention.webhook_days', 30)), batch);
end;
$$;
comment on function app_private.purge_webhook_history(timestamptz, integer) is 'Deletes webhook events older than retention.webhook_days with no delivery still pending, and their deliveries (ON DELETE CASCADE), in batches per tenant; returns how many events.';

create or replace function app_private.purge_soft_deleted(at timestamptz default now())
  returns table (table_name text, deleted integer)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_cutoff timestamptz := at - app_private.soft_delete_grace();
  v_tenant uuid;
  v_n integer;
  v_deals integer := 0;
  v_accounts integer := 0;
  v_members integer := 0;
begin
  -- Soft-deleted rows whose grace period is over leave for good. Tenant by
  -- tenant, so each statement is one tenant's shard on Citus; closed
  -- organisations are left to purge_tenant.
  for v_tenant in select t.id from app_public.tenants t where t.deleted_at is null loop
    -- A deal's activities and contacts go with it (ON DELETE CASCADE).
    delete from app_public.deals d where d.tenant_id = v_tenant and d.deleted_at < v_cutoff;
    get diagnostics v_n = row_count;
    v_deals := v_deals + v_n;
    -- Deals, leads and sub-accounts of an account lose the link first (the
    -- keys' ON DELETE SET NULL (column) is not applied on Citus's shards).
    update app_public.deals d set crm_account_id = null
      where d.tenant_id = v_tenant and d.crm_account_id in (
        select a.id from app_public.crm_accounts a where a.tenant_id = v_tenant and a.deleted_at < v_cutoff);
    update app_public.leads l set crm_account_id = null
      where l.tenant_id = v_tenant and l.crm_account_id in (
        select a.id from app_public.crm_accounts a where a.tenant_id = v_tenant and a.deleted_at < v_cutoff);
    update app_public.crm_accounts c set parent_account_id = null
      where c.tenant_id = v_tenant and c.parent_account_id in (
        select a.id from app_public.crm_accounts a where a.tenant_id = v_tenant and a.deleted_at < v_cutoff);
    delete from app_public.crm_accounts a where a.tenant_id = v_tenant and a.deleted_at < v_cutoff;
    get diagnostics v_n = row_count;
    v_accounts := v_accounts + v_n;
    delete from app_public.tenant_users tu where tu.tenant_id = v_tenant and tu.deleted_at < v_cutoff;
    get diagnostics v_n = row_count;
    v_members := v_members + v_n;
  end loop;
  return query values ('deals', v_deals), ('crm_accounts', v_accounts), ('tenant_users', v_members);
end;
$$;
comment on function app_private.purge_soft_deleted(timestamptz) is 'Run daily by the retention job: deletes deals, CRM accounts and memberships soft-deleted longer than soft_delete_grace() ago (30 days), in organisations that are not closed; returns how many rows per table.';

create or replace function app_private.purge_old_records(at timestamptz default now(), batch integer default 5000)
  returns table (table_name text, deleted integer)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_audit_cutoff timestamptz := at - make_interval(days => app_private.retention_days('retention.audit_days', 730));
  v_stripe_cutoff timestamptz := at - make_interval(days => app_private.retention_days('retention.stripe_event_days', 90));
  v_audit integer;
  v_platform integer;
  v_stripe integer;
  v_notices integer;
begin
  v_audit := app_private.delete_per_tenant_in_batches($sql$
    delete from app_public.audit_log l
      where l.tenant_id = $1 and l.id in (
        select l2.id from app_public.audit_log l2 where l2.tenant_id = $1 and l2.occurred_at < $2 limit $3)$sql$,
    v_audit_cutoff, batch);
  v_platform := app_private.delete_in_batches($sql$
    delete from app_public.platform_audit_log l
      where l.id in (select l2.id from app_public.platform_audit_log l2 where l2.occurred_at < $2 limit $3)$sql$,
    null, v_audit_cutoff, batch);
  -- Stripe resends an event for three days at most: a processed one is kept
  -- long enough to answer a late duplicate, then only its effects remain.
  v_stripe := app_private.delete_in_batches($sql$
    delete from app_private.stripe_events e
      where e.id in (select e2.id from app_private.stripe_events e2
                     where e2.received_at < $2 and e2.processed_at is not null limit $3)$sql$,
    null, v_stripe_cutoff, batch);
  -- A notification job retries for hours, not weeks: after 30 days its
  -- record of who was emailed has no use.
  v_notices := app_private.delete_per_tenant_in_batches($sql$
    delete from app_private.notification_deliveries d
      where d.tenant_id = $1 and (d.notice, d.user_id) in (
        select d2.notice, d2.user_id from app_private.notification_deliveries d2
        where d2.tenant_id = $1 and d2.sent_at < $2 limit $3)$sql$,
    at - interval '30 days', batch);
  return query values ('audit_log', v_audit), ('platform_audit_log', v_platform), ('stripe_events', v_stripe),
    ('notification_deliveries', v_notices);
end;
$$;
comment on function app_private.purge_old_records(timestamptz, integer) is 'Run daily by the retention job: deletes audit entries (audit_log, platform_audit_log) older than retention.audit_days (730 days when unset), processed Stripe events received more than retention.stripe_event_days ago (90 days) and records of notification emails older than 30 days, in batches; returns how many rows per table.';
