--------------------------------------------------------------------------------
-- Request ids on jobs. The API sets `app.request_id` (the HTTP request's
-- x-request-id, or a generated one) in every request's transaction; a job
-- queued inside that transaction, by whichever SQL function or trigger,
-- carries it in its payload as `request_id`, and the worker logs the job's
-- lines with it (src/worker/runner.ts). Jobs queued elsewhere (cron, the
-- worker itself) are left as they are.
--------------------------------------------------------------------------------

create or replace function app_private.tg__job_request_id() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_request_id text := nullif(current_setting('app.request_id', true), '');
begin
  if v_request_id is not null and json_typeof(new.payload) = 'object' and new.payload::jsonb ->> 'request_id' is null then
    new.payload := (new.payload::jsonb || jsonb_build_object('request_id', v_request_id))::json;
  end if;
  return new;
end;
$$;
comment on function app_private.tg__job_request_id() is 'Adds the queuing request''s id (setting app.request_id) to a new job''s payload as request_id.';

-- graphile-worker's table exists once its schema is installed (src/db/migrate.ts
-- installs it before applying this folder); skipped before that.
do $$
begin
  if to_regclass('graphile_worker._private_jobs') is not null then
    create or replace trigger _500_request_id
      before insert on graphile_worker._private_jobs
      for each row execute function app_private.tg__job_request_id();
  end if;
end;
$$;
