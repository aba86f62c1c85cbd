--------------------------------------------------------------------------------
-- Sending engine, part 1: time. The engine reads "now" from engine_now()
-- (real time plus app_private.engine_clock.offset_by, zero in production) and
-- schedules every enrollment's next action as a graphile-worker job whose
-- run_at is that engine time translated back to real time. Tests move the
-- clock with advance_engine_clock(), which shifts the engine's pending jobs by
-- the same amount, so "48 hours later" is one call instead of two days.
--
-- Sending windows are evaluated in a time zone (the lead's when known and the
-- campaign says so, else the campaign's): next_send_window() returns the
-- given instant when it is inside the window, else the next opening.
--------------------------------------------------------------------------------

create or replace function app_private.engine_now() returns timestamptz
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select now() + coalesce((select c.offset_by from app_private.engine_clock c where c.id = 1), interval '0');
$$;
comment on function app_private.engine_now() is 'The sending engine''s "now": real time plus the engine clock offset (zero in production).';

create or replace function app_private.engine_run_at(at timestamptz) returns timestamptz
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select at - coalesce((select c.offset_by from app_private.engine_clock c where c.id = 1), interval '0');
$$;
comment on function app_private.engine_run_at(timestamptz) is 'The real time at which a job must run to happen at the given engine time.';

create or replace function app_private.engine_task_identifiers() returns text[]
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select array['campaign_step', 'campaign_start', 'send_reply'];
$$;
comment on function app_private.engine_task_identifiers() is 'The worker tasks whose run_at is engine time (moved along with the engine clock).';

create or replace function app_private.advance_engine_clock(by_interval interval) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_job record;
begin
  if by_interval is null then
    raise exception 'Say how far to move the engine clock (an interval such as ''48 hours'').' using errcode = 'INVAL';
  end if;
  -- A transaction that has queued a job at the real time of an engine time
  -- read from the old clock, and not yet committed, would keep that run_at:
  -- invisible to the move below, the job would wait in real time. This lock
  -- waits for every transaction that has written the queue and holds off new
  -- ones (job fetches and completions too) until this one commits.
  lock table graphile_worker._private_jobs in share row exclusive mode;
  update app_private.engine_clock c set offset_by = c.offset_by + by_interval, updated = now() where c.id = 1;
  -- Pending engine jobs keep their place in engine time: those still in the
  -- outbox (queued on a Citus worker node, functions/002) first, as a drain
  -- that holds them commits before this statement goes on; then the queue,
  -- read after it.
  -- (Row by row with the new time as a value: Citus takes no timestamptz
  -- arithmetic on a column in a multi-shard UPDATE. The outbox holds a few rows
  -- at most.)
  for v_job in
    select o.tenant_id, o.id, o.run_at - by_interval as run_at from app_private.job_outbox o
    where o.identifier = any (app_private.engine_task_identifiers()) and o.run_at is not null
  loop
    update app_private.job_outbox o set run_at = v_job.run_at where o.tenant_id = v_job.tenant_id and o.id = v_job.id;
  end loop;
  update graphile_worker._private_jobs j set run_at = j.run_at - by_interval
    from graphile_worker._private_tasks t
    where t.id = j.task_id and t.identifier = any (app_private.engine_task_identifiers()) and j.locked_at is null;
  return app_private.engine_now();
end;
$$;
comment on function app_private.advance_engine_clock(interval) is 'Moves the sending engine''s clock (tests and drills only) and the run_at of its pending jobs with it; returns the new engine time.';

create or replace function app_private.set_engine_clock(at timestamptz) returns timestamptz
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if at is null then
    raise exception 'Say which instant the engine clock should show.' using errcode = 'INVAL';
  end if;
  return app_private.advance_engine_clock(at - app_private.engine_now());
end;
$$;
comment on function app_private.set_engine_clock(timestamptz) is 'Sets the sending engine''s clock to an instant (tests and drills only), moving its pending jobs along.';

create or replace function app_private.is_time_zone(name text) returns boolean
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if name is null or name = '' or length(name) > 64 then
    return false;
  end if;
  perform now() at time zone name;
  return true;
exception when invalid_parameter_value then
  return false;
end;
$$;
comment on function app_private.is_time_zone(text) is 'True when PostgreSQL knows the time zone name (e.g. Europe/Paris).';

create or replace function app_private.next_send_window(
  at timestamptz,
  time_zone text,
  send_days smallint[],
  window_start time,
  window_end time
) returns timestamptz
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_local timestamp := at at time zone time_zone;
  v_day date;
begin
  for i in 0..7 loop
    v_day := v_local::date + i;
    if extract(isodow from v_day)::smallint = any (send_days) then
      if v_local < v_day + window_start then
        return (v_day + window_start) at time zone time_zone;
      elsif v_local < v_day + window_end then
        return at;
      end if;
    end if;
  end loop;
  return null;
end;
$$;
comment on function app_private.next_send_window(timestamptz, text, smallint[], time, time) is 'The given instant when it falls inside the sending window (ISO days send_days, local hours window_start..window_end in time_zone), otherwise the next moment the window opens.';

create or replace function app_private.next_local_midnight(at timestamptz, time_zone text) returns timestamptz
  language sql stable
  set search_path to pg_catalog, public, pg_temp
as $$
  select ((at at time zone coalesce(nullif(time_zone, ''), 'UTC'))::date + 1)::timestamp at time zone coalesce(nullif(time_zone, ''), 'UTC');
$$;
comment on function app_private.next_local_midnight(timestamptz, text) is 'The start of the next calendar day in a time zone.';

--------------------------------------------------------------------------------
-- Jobs. Each enrollment has at most one pending job, keyed by its id, so
-- rescheduling replaces it; a campaign scheduled for later has one start job.
--------------------------------------------------------------------------------

create or replace function app_private.enrollment_job_key(enrollment_id uuid) returns text
  language sql immutable strict parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select 'campaign_step:' || enrollment_id::text;
$$;
comment on function app_private.enrollment_job_key(uuid) is 'The job_key of an enrollment''s next action.';

create or replace function app_private.schedule_enrollments(tenant_id uuid, enrollment_ids uuid[], at timestamptz default null) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_at timestamptz := coalesce(at, app_private.engine_now());
  v_active uuid[];
  v_count integer;
begin
  if coalesce(cardinality(enrollment_ids), 0) = 0 then
    return 0;
  end if;
  update app_public.campaign_enrollments e set next_run_at = v_at
    where e.tenant_id = schedule_enrollments.tenant_id and e.id = any (enrollment_ids) and e.status = 'active';
  -- The active ones are read first and their jobs built apart: graphile-worker's
  -- queue is on the coordinator, and a query over the enrollments runs on
  -- their shard on Citus.
  select coalesce(array_agg(e.id), '{}') into v_active from app_public.campaign_enrollments e
    where e.tenant_id = schedule_enrollments.tenant_id and e.id = any (enrollment_ids) and e.status = 'active';
  v_count := cardinality(v_active);
  if v_count > 0 then
    -- add_jobs below updates the enrollments' jobs that are running (clearing
    -- their key). Lock those rows first in ascending id order, the order in
    -- which the worker deletes completed jobs in a batch (src/worker/runner.ts):
    -- two transactions taking the same rows in different orders deadlock.
    -- Holding the pending jobs also keeps a worker from locking one between
    -- add_jobs' two statements, which would drop that add (app_private.add_job).
    perform 1 from graphile_worker._private_jobs j
      where j.key = any (array(select app_private.enrollment_job_key(x) from unnest(v_active) x))
      order by j.id
      for update;
  end if;
  perform graphile_worker.add_jobs(array(
    select row('campaign_step', json_build_object('tenant_id', schedule_enrollments.tenant_id, 'enrollment_id', x),
               null::text, app_private.engine_run_at(v_at), 10::smallint, app_private.enrollment_job_key(x),
               null::smallint, null::text[])::graphile_worker.job_spec
    from unnest(v_active) x
  ));
  return v_count;
end;
$$;
comment on function app_private.schedule_enrollments(uuid, uuid[], timestamptz) is 'Sets next_run_at of active enrollments and (re)places their campaign_step job at that engine time (default: now). Returns how many were scheduled.';

create or replace function app_private.schedule_enrollment(tenant_id uuid, enrollment_id uuid, at timestamptz default null) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.schedule_enrollments(tenant_id, array[enrollment_id], at);
end;
$$;
comment on function app_private.schedule_enrollment(uuid, uuid, timestamptz) is 'Schedules one enrollment''s next action at an engine time (default: now), replacing its pending job.';
