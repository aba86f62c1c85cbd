--------------------------------------------------------------------------------
-- Generic plans for the sending engine's SQL (one node; docs/performance.md,
-- findings 15).
--
-- The engine's functions look rows up by key in the partitioned tables
-- (messages, email_events, and the foreign keys that point at them). PL/pgSQL
-- keeps each statement's plan, but with plan_cache_mode = auto PostgreSQL
-- re-plans a statement on a partitioned table at every call: the generic
-- plan is costed over all partitions, so it never looks cheaper than a custom
-- plan pruned to one, and each email paid for planning its statements again.
-- A generic plan is planned once per connection and pruned to the partition
-- when it runs; these statements all look up by key, so the plan is the same.
-- The setting holds for everything the entry points below call, triggers
-- and foreign-key checks included.
--
-- Not on Citus: the coordinator plans distributed statements itself and
-- refuses some generic plans of them ("could not create distributed plan").
--------------------------------------------------------------------------------

do $$
declare
  v_function regprocedure;
begin
  if exists (select 1 from pg_extension where extname = 'citus') then
    return;
  end if;
  foreach v_function in array array[
    -- The worker's statements for a campaign email or a reply, in order.
    'app_private.run_enrollment(uuid, uuid)',
    'app_private.schedule_enrollment(uuid, uuid, timestamptz)',
    'app_private.delivery_envelope(uuid, uuid)',
    'app_hidden.render_context(uuid, uuid, uuid)',
    'app_private.claim_message(uuid, uuid, text, text)',
    'app_private.claim_reply(uuid, uuid, text, text)',
    'app_private.mark_handed_over(uuid, uuid)',
    'app_private.record_delivery(uuid, uuid, text)',
    'app_private.record_deferral(uuid, uuid, integer, text, text)',
    'app_private.record_smtp_auth_failure(uuid, uuid, text)',
    'app_private.record_bounce(uuid, uuid, integer, text)',
    'app_private.record_send_failure(uuid, uuid, text, text)',
    'app_private.record_unconfirmed(uuid, uuid, text, text)',
    -- Every event (sends, tracking, bounces, replies) goes through it.
    'app_private.record_email_event(uuid, uuid, text, inet, text, text, jsonb, text)'
  ]::regprocedure[] loop
    execute format('alter function %s set plan_cache_mode to force_generic_plan', v_function);
  end loop;
end;
$$;
