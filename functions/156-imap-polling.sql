--------------------------------------------------------------------------------
-- Scheduling and bookkeeping of the IMAP poller (workers/imap-poll.ts).
-- A cron job calls queue_imap_polls() every minute, which queues one
-- imap_poll_inbox job per inbox: the job key keeps one pending poll per inbox,
-- and the named queue makes polls of one inbox run one after another.
-- Progress is the (UIDVALIDITY, last UID) pair on email_accounts; errors the
-- poller meets are written to email_accounts.last_error, always starting with
-- "IMAP " so they can be told from (and never overwrite the clearing of)
-- sending errors.
--------------------------------------------------------------------------------

create or replace function app_private.queue_imap_poll(tenant_id uuid, email_account_id uuid, run_at timestamptz default now())
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.add_job(queue_imap_poll.tenant_id,
    'imap_poll_inbox',
    json_build_object('tenant_id', queue_imap_poll.tenant_id, 'email_account_id', queue_imap_poll.email_account_id),
    queue_name => 'imap:' || queue_imap_poll.email_account_id::text,
    run_at => queue_imap_poll.run_at,
    max_attempts => 3,
    job_key => 'imap_poll_inbox:' || queue_imap_poll.email_account_id::text);
end;
$$;
comment on function app_private.queue_imap_poll(uuid, uuid, timestamptz) is 'Queues a poll of one inbox (at most one pending per inbox; polls of an inbox never overlap).';

create or replace function app_private.queue_imap_polls() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_count integer := 0;
  v_account record;
begin
  for v_account in
    select ea.tenant_id, ea.id
    from app_public.email_accounts ea
    join app_public.tenants t on t.id = ea.tenant_id and t.deleted_at is null -- not a closed organisation
    left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
    -- A paused inbox sends nothing but is still read: a lead's reply must stop
    -- their sequence, and a complaint suppress them, whoever paused it.
    where ea.status in ('active', 'paused')
      and nullif(ea.imap_settings ->> 'host', '') is not null
      -- After a login or password problem, wait for new credentials or 15 minutes
      -- (providers lock accounts that keep failing to log in).
      and not coalesce(ea.last_error ~ '^IMAP (login failed|password)'
                       and ea.last_polled_at > now() - interval '15 minutes'
                       and coalesce(cr.updated <= ea.last_polled_at, true), false)
  loop
    perform app_private.queue_imap_poll(v_account.tenant_id, v_account.id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.queue_imap_polls() is 'Queues a poll of every active or paused inbox with IMAP settings (pausing stops sending, not reading); inboxes whose last login failed wait 15 minutes unless their credentials changed. Returns how many were queued.';

create or replace function app_private.imap_poll_target(tenant_id uuid, email_account_id uuid)
  returns table (
    email text,
    status text,
    imap_settings jsonb,
    imap_password_encrypted bytea,
    imap_uid_validity bigint,
    imap_last_uid bigint,
    scan_since timestamptz
  )
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  select ea.email::text, ea.status, ea.imap_settings, cr.imap_password_encrypted, ea.imap_uid_validity, ea.imap_last_uid,
         -- Nothing in the inbox older than our first message from it can answer it. Never
         -- later than now: the message dates come from the engine's clock, which tests move ahead.
         (select case when count(*) > 0 then least(min(m.created), now()) - interval '1 day' end from app_public.messages m
          where m.tenant_id = ea.tenant_id and m.email_account_id = ea.id and m.direction = 'outbound')
  from app_public.email_accounts ea
  left join app_private.email_account_credentials cr on cr.tenant_id = ea.tenant_id and cr.email_account_id = ea.id
  where ea.tenant_id = imap_poll_target.tenant_id and ea.id = imap_poll_target.email_account_id;
end;
$$;
comment on function app_private.imap_poll_target(uuid, uuid) is 'What the poller needs for one inbox: IMAP settings, the sealed password (decrypted only in the worker), the stored UIDVALIDITY and last UID, and since when a first or full scan must look (a day before the first message this inbox sent; null when it sent none).';

create or replace function app_private.record_imap_progress(
  tenant_id uuid,
  email_account_id uuid,
  uid_validity bigint,
  last_uid bigint
) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if uid_validity is null or uid_validity < 1 or last_uid is null or last_uid < 0 then
    raise exception 'IMAP progress needs a UIDVALIDITY >= 1 and a last UID >= 0 (got % and %).', uid_validity, last_uid using errcode = 'INVAL';
  end if;
  update app_public.email_accounts ea set
      imap_last_uid = case when ea.imap_uid_validity = record_imap_progress.uid_validity
                           then greatest(coalesce(ea.imap_last_uid, 0), record_imap_progress.last_uid)
                           else record_imap_progress.last_uid end,
      imap_uid_validity = record_imap_progress.uid_validity,
      last_polled_at = now(),
      last_error = case when ea.last_error like 'IMAP %' then null else ea.last_error end
    where ea.tenant_id = record_imap_progress.tenant_id and ea.id = record_imap_progress.email_account_id;
  if not found then
    raise exception 'There is no inbox % in this tenant.', email_account_id using errcode = 'NTFND';
  end if;
end;
$$;
comment on function app_private.record_imap_progress(uuid, uuid, bigint, bigint) is 'Stores how far the poller got (a new UIDVALIDITY restarts the count; the same one never moves back), stamps last_polled_at and clears a previous IMAP error.';

create or replace function app_private.record_imap_failure(tenant_id uuid, email_account_id uuid, error text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if error is null or error not like 'IMAP %' then
    raise exception 'An IMAP error message must start with "IMAP " (got %).', coalesce(quote_literal(error), 'null') using errcode = 'INVAL';
  end if;
  update app_public.email_accounts ea set last_error = left(record_imap_failure.error, 1000), last_polled_at = now()
    where ea.tenant_id = record_imap_failure.tenant_id and ea.id = record_imap_failure.email_account_id;
  if not found then
    raise exception 'There is no inbox % in this tenant.', email_account_id using errcode = 'NTFND';
  end if;
end;
$$;
comment on function app_private.record_imap_failure(uuid, uuid, text) is 'Records why a poll of the inbox failed (a message for the inbox owner, without secrets) and when.';
