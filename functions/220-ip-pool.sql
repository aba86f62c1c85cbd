--------------------------------------------------------------------------------
-- The IP pool: servers (vps_instances), sending IPs (smtp_ip_addresses) and
-- which IPs send for which tenant domain (domain_ip_assignments), each moving
-- through its seed lifecycle. The transition table lives in one function;
-- triggers refuse any other status change (whoever makes it) with errcode
-- STATE, and the app_public functions (staff with infrastructure.manage) add
-- what a change implies elsewhere: warm-ups, reassignments, audit records.
--------------------------------------------------------------------------------

create or replace function app_private.lifecycle_next(entity text, from_status text) returns text[]
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select coalesce(array_agg(t.to_status order by t.ord), '{}')
  from (values
    ('vps_instance', 'provisioning', 'active', 1),
    ('vps_instance', 'provisioning', 'decommissioned', 2),
    ('vps_instance', 'active', 'scheduled_decommission', 1),
    ('vps_instance', 'scheduled_decommission', 'active', 1),
    ('vps_instance', 'scheduled_decommission', 'decommissioned', 2),

    ('smtp_ip', 'available', 'assigned', 1),
    ('smtp_ip', 'available', 'warming', 2),
    ('smtp_ip', 'available', 'quarantined', 3),
    ('smtp_ip', 'available', 'burned', 4),
    ('smtp_ip', 'assigned', 'warming', 1),
    ('smtp_ip', 'assigned', 'warmed', 2),
    ('smtp_ip', 'assigned', 'available', 3),
    ('smtp_ip', 'assigned', 'degraded', 4),
    ('smtp_ip', 'assigned', 'quarantined', 5),
    ('smtp_ip', 'assigned', 'burned', 6),
    ('smtp_ip', 'warming', 'warmed', 1),
    ('smtp_ip', 'warming', 'degraded', 2),
    ('smtp_ip', 'warming', 'available', 3),
    ('smtp_ip', 'warming', 'quarantined', 4),
    ('smtp_ip', 'warming', 'burned', 5),
    ('smtp_ip', 'warmed', 'degraded', 1),
    ('smtp_ip', 'warmed', 'quarantined', 2),
    ('smtp_ip', 'warmed', 'burned', 3),
    ('smtp_ip', 'degraded', 'warming', 1),
    ('smtp_ip', 'degraded', 'warmed', 2),
    ('smtp_ip', 'degraded', 'quarantined', 3),
    ('smtp_ip', 'degraded', 'burned', 4),
    ('smtp_ip', 'quarantined', 'available', 1),
    ('smtp_ip', 'quarantined', 'assigned', 2),
    ('smtp_ip', 'quarantined', 'burned', 3),

    ('domain_ip_assignment', 'scheduled', 'warming', 1),
    ('domain_ip_assignment', 'scheduled', 'active', 2),
    ('domain_ip_assignment', 'scheduled', 'expired', 3),
    ('domain_ip_assignment', 'warming', 'active', 1),
    ('domain_ip_assignment', 'warming', 'expired', 2),
    ('domain_ip_assignment', 'active', 'expired', 1)
  ) as t (entity, from_status, to_status, ord)
  where t.entity = lifecycle_next.entity and t.from_status = lifecycle_next.from_status;
$$;
comment on function app_private.lifecycle_next(text, text) is 'The lifecycle of servers, sending IPs and domain IP assignments: the statuses each status may move to (empty for a final status).';

create or replace function app_private.assert_transition(entity text, label text, from_status text, to_status text) returns void
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_next text[] := app_private.lifecycle_next(entity, from_status);
begin
  if to_status = any (v_next) then
    return;
  end if;
  if cardinality(v_next) = 0 then
    raise exception '% cannot go from % to %: % is final.', label, from_status, to_status, from_status using errcode = 'STATE';
  end if;
  raise exception '% cannot go from % to %; from % it can go to %.', label, from_status, to_status, from_status,
    array_to_string(v_next, ', ') using errcode = 'STATE';
end;
$$;
comment on function app_private.assert_transition(text, text, text, text) is 'Raises STATE, naming the allowed next statuses, unless the lifecycle allows the transition.';

create or replace function app_private.live_assignment_count(smtp_ip_address_id uuid) returns integer
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return (
  select count(*)::integer from app_public.domain_ip_assignments a
  where a.smtp_ip_address_id = live_assignment_count.smtp_ip_address_id and a.status <> 'expired'
  );
end;
$$;
comment on function app_private.live_assignment_count(uuid) is 'How many domain assignments on an IP are not expired.';

--------------------------------------------------------------------------------
-- Status guards (every update, whoever makes it).
--------------------------------------------------------------------------------

create or replace function app_private.tg__vps_instance_lifecycle() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_busy text;
begin
  if new.status is not distinct from old.status then
    return new;
  end if;
  perform app_private.assert_transition('vps_instance', format('The server %s', coalesce(old.hostwinds_instance_id, old.id::text)), old.status, new.status);
  -- The live-assignment checks read tenant tables: on Citus, where this
  -- trigger fires on every node's copy of the table, they run on the
  -- coordinator's (src/db/citus-distribution.ts lets this function query
  -- distributed tables from there).
  if new.status = 'decommissioned' and app_private.on_coordinator() then
    select string_agg(host(ip.ip_address), ', ' order by ip.ip_address) into v_busy
    from app_public.smtp_ip_addresses ip
    where ip.vps_instance_id = old.id and app_private.live_assignment_count(ip.id) > 0;
    if v_busy is not null then
      raise exception 'The server % still sends for tenant domains through %; move those domains to other IPs first.',
        coalesce(old.hostwinds_instance_id, old.id::text), v_busy using errcode = 'STATE';
    end if;
  end if;
  new.decommission_scheduled_for := case
    when new.status = 'scheduled_decommission' then coalesce(new.decommission_scheduled_for, now() + interval '30 days')
    when new.status = 'active' then null
    else new.decommission_scheduled_for end;
  new.status_changed_at := now();
  return new;
end;
$$;
comment on function app_private.tg__vps_instance_lifecycle() is 'Refuses server status changes the lifecycle does not allow, and decommissioning while its IPs still send for tenant domains.';

create or replace trigger _220_lifecycle
  before update of status on app_public.vps_instances
  for each row execute function app_private.tg__vps_instance_lifecycle();

create or replace function app_private.tg__smtp_ip_lifecycle() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_live integer;
begin
  if new.status is not distinct from old.status then
    return new;
  end if;
  perform app_private.assert_transition('smtp_ip', format('The IP %s', host(old.ip_address)), old.status, new.status);
  -- Counted on the coordinator only on Citus (as in tg__vps_instance_lifecycle).
  v_live := case when app_private.on_coordinator() then app_private.live_assignment_count(old.id) end;
  if new.status = 'available' and v_live > 0 then
    raise exception 'The IP % still has % live domain assignment(s); expire or move them before returning it to the pool.',
      host(old.ip_address), v_live using errcode = 'STATE';
  end if;
  if new.status = 'assigned' and v_live = 0 then
    raise exception 'The IP % has no live domain assignment; assign it to a domain instead (assignSmtpIpToDomain).',
      host(old.ip_address) using errcode = 'STATE';
  end if;
  if new.status = 'warming' then
    new.warmup_started_at := now();
  elsif new.status = 'available' then
    new.warmup_started_at := null;
  end if;
  if old.status = 'quarantined' then
    new.auto_quarantined := false;
  end if;
  new.status_changed_at := now();
  return new;
end;
$$;
comment on function app_private.tg__smtp_ip_lifecycle() is 'Refuses IP status changes the lifecycle does not allow (and returning an IP to the pool while it still sends for domains); starts or clears its warm-up clock.';

create or replace trigger _220_lifecycle
  before update of status on app_public.smtp_ip_addresses
  for each row execute function app_private.tg__smtp_ip_lifecycle();

create or replace function app_private.tg__domain_ip_assignment_lifecycle() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ip app_public.smtp_ip_addresses;
begin
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = new.smtp_ip_address_id;
  if tg_op = 'INSERT' then
    if new.status <> 'expired' and v_ip.status in ('quarantined', 'burned', 'degraded') then
      raise exception 'The IP % is % and cannot take a domain; pick a healthy IP.', host(v_ip.ip_address), v_ip.status using errcode = 'STATE';
    end if;
    return new;
  end if;
  if new.status is not distinct from old.status then
    return new;
  end if;
  perform app_private.assert_transition('domain_ip_assignment', format('The assignment of IP %s', host(v_ip.ip_address)), old.status, new.status);
  if new.status = 'warming' and v_ip.status <> 'warming' then
    raise exception 'The IP % is %, not warming; start its warm-up first (setSmtpIpStatus warming).', host(v_ip.ip_address), v_ip.status
      using errcode = 'STATE';
  end if;
  if new.status = 'active' and v_ip.status in ('available', 'quarantined', 'burned') then
    raise exception 'The IP % is % and cannot send for a domain.', host(v_ip.ip_address), v_ip.status using errcode = 'STATE';
  end if;
  new.warmup_state := case new.status
    when 'warming' then 'warming'
    when 'active' then case when v_ip.status in ('warmed', 'assigned') then 'warmed' else 'warming' end
    else new.warmup_state end;
  if new.status = 'expired' then
    new.expires_at := least(coalesce(new.expires_at, now()), now());
    new.flagged_reason := null;
    new.flagged_at := null;
  end if;
  return new;
end;
$$;
comment on function app_private.tg__domain_ip_assignment_lifecycle() is 'Refuses assignment status changes the lifecycle does not allow, and assignments to quarantined, burned or degraded IPs; keeps warmup_state and expires in step.';

create or replace trigger _220_lifecycle
  before insert or update of status on app_public.domain_ip_assignments
  for each row execute function app_private.tg__domain_ip_assignment_lifecycle();

create or replace function app_private.recount_ip_assignments(smtp_ip_address_ids uuid[]) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
  v_count integer;
begin
  -- One value per IP, computed first: Citus updates a reference table only
  -- with values, not with a function of its columns.
  foreach v_id in array (select array_agg(distinct x order by x) from unnest(smtp_ip_address_ids) x where x is not null) loop
    v_count := app_private.live_assignment_count(v_id);
    update app_public.smtp_ip_addresses ip set assigned_count = v_count where ip.id = v_id and ip.assigned_count <> v_count;
  end loop;
end;
$$;
comment on function app_private.recount_ip_assignments(uuid[]) is 'Sets smtp_ip_addresses.assigned_count to each IP''s live (not expired) assignments.';

create or replace function app_private.tg__ip_assigned_count() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ips uuid[] := array[
    case when tg_op <> 'INSERT' then old.smtp_ip_address_id end,
    case when tg_op <> 'DELETE' then new.smtp_ip_address_id end];
begin
  if app_private.on_coordinator() then
    perform app_private.recount_ip_assignments(v_ips);
  else
    -- On a Citus worker node the IPs (a reference table) cannot be written:
    -- the count follows as soon as the job has run.
    perform app_private.add_job(coalesce(new.tenant_id, old.tenant_id), 'recount_ip_assignments',
      json_build_object('smtp_ip_address_ids', v_ips), max_attempts => 10);
  end if;
  return null;
end;
$$;
comment on function app_private.tg__ip_assigned_count() is 'Keeps smtp_ip_addresses.assigned_count equal to the IP''s live (not expired) assignments: in the same transaction on one PostgreSQL, through the recount_ip_assignments job on a Citus cluster.';

create or replace trigger _230_assigned_count
  after insert or delete or update of status, smtp_ip_address_id on app_public.domain_ip_assignments
  for each row execute function app_private.tg__ip_assigned_count();

--------------------------------------------------------------------------------
-- Internal transitions (also used by the reputation check and warm-up tick).
--------------------------------------------------------------------------------

create or replace function app_private.audit_infrastructure(action text, table_name text, record_id uuid, tenant_id uuid, changes jsonb, reason text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  insert into app_public.platform_audit_log (actor_user_id, action, target_tenant_id, table_name, record_id, changes, reason)
    values (app_public.current_user_id(), action, tenant_id, table_name, record_id::text, changes, reason);
  insert into app_public.audit_log (tenant_id, actor_user_id, actor_is_staff, action, table_name, record_id, changes, reason)
    select tenant_id, app_public.current_user_id(), app_public.current_user_id() is not null, action, table_name, record_id::text, changes, reason
    where tenant_id is not null;
end;
$$;
comment on function app_private.audit_infrastructure(text, text, uuid, uuid, jsonb, text) is 'Records an infrastructure change in the platform audit log and, when it concerns a tenant''s domain, in that tenant''s audit log.';

create or replace function app_private.assign_ip(tenant_id uuid, domain_id uuid, smtp_ip_address_id uuid, reason text) returns app_public.domain_ip_assignments
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ip app_public.smtp_ip_addresses;
  v_assignment app_public.domain_ip_assignments;
  v_status text;
  v_warmup_state text;
begin
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = assign_ip.smtp_ip_address_id for update;
  if not found then
    raise exception 'There is no sending IP %.', smtp_ip_address_id using errcode = 'NTFND';
  end if;
  if exists (
    select 1 from app_public.domain_ip_assignments a
    where a.tenant_id = assign_ip.tenant_id and a.domain_id = assign_ip.domain_id
      and a.smtp_ip_address_id = assign_ip.smtp_ip_address_id and a.status <> 'expired'
  ) then
    raise exception 'The IP % already sends for this domain.', host(v_ip.ip_address) using errcode = 'STATE';
  end if;
  -- The statuses as values: Citus deparses a simple CASE over a variable
  -- inside INSERT … VALUES into a comparison of text with boolean.
  v_status := case v_ip.status when 'warmed' then 'active' when 'warming' then 'warming' else 'scheduled' end;
  v_warmup_state := case v_ip.status when 'warmed' then 'warmed' when 'warming' then 'warming' else 'unwarmed' end;
  insert into app_public.domain_ip_assignments (tenant_id, domain_id, smtp_ip_address_id, status, warmup_state, status_reason)
    values (assign_ip.tenant_id, assign_ip.domain_id, v_ip.id, v_status, v_warmup_state, reason)
    returning * into v_assignment;
  if v_ip.status = 'available' then
    update app_public.smtp_ip_addresses ip
      set status = 'assigned', status_reason = format('Assigned to a domain (%s)', reason)
      where ip.id = v_ip.id;
  end if;
  perform app_private.audit_infrastructure('domain_ip.assigned', 'domain_ip_assignments', v_assignment.id, v_assignment.tenant_id,
    jsonb_build_object('ip_address', host(v_ip.ip_address), 'status', v_assignment.status), reason);
  return v_assignment;
end;
$$;
comment on function app_private.assign_ip(uuid, uuid, uuid, text) is 'Assigns a sending IP to a tenant domain: active on a warmed IP, warming on a warming IP, scheduled otherwise (an available IP becomes assigned).';

create or replace function app_private.move_domains_off_ip(smtp_ip_address_id uuid, reason text) returns table (moved integer, flagged integer)
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_from app_public.smtp_ip_addresses;
  v_assignment app_public.domain_ip_assignments;
  v_target app_public.smtp_ip_addresses;
  v_moved integer := 0;
  v_flagged integer := 0;
begin
  select * into v_from from app_public.smtp_ip_addresses ip where ip.id = move_domains_off_ip.smtp_ip_address_id;
  -- The live assignments across tenants, each then locked by its key (Citus
  -- locks rows only in a query that names its tenant).
  for v_assignment in
    select * from app_public.domain_ip_assignments a
    where a.smtp_ip_address_id = v_from.id and a.status <> 'expired'
    order by a.assigned_at
  loop
    select * into v_assignment from app_public.domain_ip_assignments a
      where a.tenant_id = v_assignment.tenant_id and a.id = v_assignment.id
        and a.smtp_ip_address_id = v_from.id and a.status <> 'expired'
      for update;
    continue when not found;
    select ip.* into v_target
    from app_public.smtp_ip_addresses ip
    left join app_public.vps_instances v on v.id = ip.vps_instance_id
    where ip.id <> v_from.id
      and ip.status in ('warmed', 'warming', 'assigned', 'available')
      and ip.reputation_state in ('good', 'fair')
      and (v.id is null or v.status = 'active')
      and not exists (
        select 1 from app_public.domain_ip_assignments x
        where x.tenant_id = v_assignment.tenant_id and x.domain_id = v_assignment.domain_id
          and x.smtp_ip_address_id = ip.id and x.status <> 'expired')
    order by case ip.status when 'warmed' then 0 when 'warming' then 1 when 'assigned' then 2 else 3 end,
             ip.assigned_count, ip.ip_address
    limit 1
    -- Waits for the row (not SKIP LOCKED): the healthy IP's own reputation
    -- check, running at the same moment, holds it for an instant, and
    -- skipping it flagged the domain as having nowhere to go.
    for update of ip;
    if v_target.id is not null then
      update app_public.domain_ip_assignments a
        set status = 'expired', status_reason = format('Moved to %s: %s', host(v_target.ip_address), reason)
        where a.tenant_id = v_assignment.tenant_id and a.id = v_assignment.id;
      perform app_private.assign_ip(v_assignment.tenant_id, v_assignment.domain_id, v_target.id,
        format('Took over from %s: %s', host(v_from.ip_address), reason));
      v_moved := v_moved + 1;
    else
      update app_public.domain_ip_assignments a
        set flagged_reason = format('%s; no healthy IP was free to take over this domain.', reason), flagged_at = now()
        where a.tenant_id = v_assignment.tenant_id and a.id = v_assignment.id;
      perform app_private.audit_infrastructure('domain_ip.reassignment_needed', 'domain_ip_assignments', v_assignment.id, null,
        jsonb_build_object('ip_address', host(v_from.ip_address), 'tenant_id', v_assignment.tenant_id, 'domain_id', v_assignment.domain_id), reason);
      v_flagged := v_flagged + 1;
    end if;
    v_target := null;
  end loop;
  return query select v_moved, v_flagged;
end;
$$;
comment on function app_private.move_domains_off_ip(uuid, text) is 'Moves every live domain assignment off an IP to the healthiest free IP (warmed first, then the least loaded); an assignment with nowhere to go is flagged for staff. Returns how many moved and how many were flagged.';

create or replace function app_private.change_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text, automatic boolean default false)
  returns app_public.smtp_ip_addresses
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old app_public.smtp_ip_addresses;
  v_ip app_public.smtp_ip_addresses;
  v_status text := status;
begin
  select * into v_old from app_public.smtp_ip_addresses ip where ip.id = change_smtp_ip_status.smtp_ip_address_id for update;
  if not found then
    raise exception 'There is no sending IP %.', smtp_ip_address_id using errcode = 'NTFND';
  end if;
  if v_status is null or v_status not in ('available', 'assigned', 'warming', 'warmed', 'degraded', 'burned', 'quarantined') then
    raise exception 'Unknown IP status "%"; use available, assigned, warming, warmed, degraded, quarantined or burned.', v_status using errcode = 'INVAL';
  end if;
  -- Leaving quarantine with domains still flagged on it: it carries them again.
  if v_old.status = 'quarantined' and v_status = 'available' and app_private.live_assignment_count(v_old.id) > 0 then
    v_status := 'assigned';
  end if;
  update app_public.smtp_ip_addresses ip
    set status = v_status,
        status_reason = coalesce(change_smtp_ip_status.reason, ip.status_reason),
        auto_quarantined = case when v_status = 'quarantined' then automatic else ip.auto_quarantined end
    where ip.id = v_old.id
    returning * into v_ip;

  if v_status = 'warming' then
    update app_public.domain_ip_assignments a
      set status = 'warming', status_reason = 'The IP started its warm-up.'
      where a.smtp_ip_address_id = v_ip.id and a.status = 'scheduled';
  elsif v_status = 'warmed' then
    update app_public.domain_ip_assignments a
      set status = 'active', status_reason = 'The IP finished its warm-up.'
      where a.smtp_ip_address_id = v_ip.id and a.status in ('scheduled', 'warming');
  elsif v_status in ('quarantined', 'burned') then
    perform app_private.move_domains_off_ip(v_ip.id, format('IP %s %s (%s)', host(v_ip.ip_address), v_status, coalesce(reason, 'no reason given')));
  elsif v_old.status = 'quarantined' then
    update app_public.domain_ip_assignments a
      set flagged_reason = null, flagged_at = null
      where a.smtp_ip_address_id = v_ip.id and a.status <> 'expired' and a.flagged_at is not null;
  end if;
  perform app_private.audit_infrastructure('smtp_ip.' || v_status, 'smtp_ip_addresses', v_ip.id, null,
    jsonb_build_object('ip_address', host(v_ip.ip_address), 'from', v_old.status, 'to', v_status, 'automatic', automatic), reason);
  select * into v_ip from app_public.smtp_ip_addresses ip where ip.id = v_old.id;
  return v_ip;
end;
$$;
comment on function app_private.change_smtp_ip_status(uuid, text, text, boolean) is 'Moves an IP through its lifecycle and applies what follows: its assignments start or finish warming with it, a quarantined or burned IP''s domains move to healthy IPs, and leaving quarantine clears their flags.';

create or replace function app_private.require_infrastructure_manager() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if not app_public.current_staff_has_permission('infrastructure.manage') then
    raise exception 'Managing servers, sending IPs and their assignments needs the infrastructure.manage staff permission.' using errcode = 'DNIED';
  end if;
end;
$$;
comment on function app_private.require_infrastructure_manager() is 'Raises DNIED unless the signed-in user is staff with infrastructure.manage.';

--------------------------------------------------------------------------------
-- The staff API.
--------------------------------------------------------------------------------

create or replace function app_public.set_vps_instance_status(
  vps_instance_id uuid,
  status text,
  reason text default null,
  decommission_at timestamptz default null
) returns app_public.vps_instances
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old app_public.vps_instances;
  v_vps app_public.vps_instances;
  v_ip record;
begin
  perform app_private.require_infrastructure_manager();
  if status is null or status not in ('active', 'provisioning', 'scheduled_decommission', 'decommissioned') then
    raise exception 'Unknown server status "%"; use active, scheduled_decommission or decommissioned.', status using errcode = 'INVAL';
  end if;
  if decommission_at is not null and status <> 'scheduled_decommission' then
    raise exception 'decommissionAt only goes with the scheduled_decommission status.' using errcode = 'INVAL';
  end if;
  if decommission_at is not null and decommission_at <= now() then
    raise exception 'decommissionAt must be in the future (got %).', decommission_at using errcode = 'INVAL';
  end if;
  select * into v_old from app_public.vps_instances v where v.id = vps_instance_id for update;
  if not found then
    raise exception 'There is no server %.', vps_instance_id using errcode = 'NTFND';
  end if;
  update app_public.vps_instances v
    set status = set_vps_instance_status.status,
        status_reason = reason,
        decommission_scheduled_for = case when set_vps_instance_status.status = 'scheduled_decommission' then decommission_at else v.decommission_scheduled_for end
    where v.id = v_old.id
    returning * into v_vps;
  if v_vps.status = 'decommissioned' then
    for v_ip in select ip.id from app_public.smtp_ip_addresses ip where ip.vps_instance_id = v_vps.id and ip.status <> 'burned' loop
      perform app_private.change_smtp_ip_status(v_ip.id, 'burned', format('Server %s decommissioned', coalesce(v_vps.hostwinds_instance_id, v_vps.id::text)));
    end loop;
  end if;
  perform app_private.audit_infrastructure('vps_instance.' || v_vps.status, 'vps_instances', v_vps.id, null,
    jsonb_build_object('from', v_old.status, 'to', v_vps.status, 'decommission_scheduled_for', v_vps.decommission_scheduled_for), reason);
  return v_vps;
end;
$$;
comment on function app_public.set_vps_instance_status(uuid, text, text, timestamptz) is E'@enumArg status vps_instances.status\nStaff (infrastructure.manage): moves a server through provisioning → active → scheduled_decommission (on decommissionAt, default in 30 days) → decommissioned, or back to active. Decommissioning retires its IPs and is refused while they send for tenant domains.';

create or replace function app_public.set_smtp_ip_status(smtp_ip_address_id uuid, status text, reason text default null) returns app_public.smtp_ip_addresses
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform app_private.require_infrastructure_manager();
  return app_private.change_smtp_ip_status(smtp_ip_address_id, status, reason, false);
end;
$$;
comment on function app_public.set_smtp_ip_status(uuid, text, text) is E'@enumArg status smtp_ip_addresses.status\nStaff (infrastructure.manage): moves a sending IP through its lifecycle: available → assigned/warming → warmed; warmed/warming → degraded → burned; any → quarantined → available. Quarantining or burning moves its domains to healthy IPs.';

create or replace function app_public.assign_smtp_ip_to_domain(domain_id uuid, smtp_ip_address_id uuid, reason text default null) returns app_public.domain_ip_assignments
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid;
begin
  perform app_private.require_infrastructure_manager();
  select d.tenant_id into v_tenant_id from app_public.domains d where d.id = assign_smtp_ip_to_domain.domain_id;
  if v_tenant_id is null then
    raise exception 'There is no domain %.', domain_id using errcode = 'NTFND';
  end if;
  return app_private.assign_ip(v_tenant_id, domain_id, smtp_ip_address_id, coalesce(reason, 'Assigned by staff'));
end;
$$;
comment on function app_public.assign_smtp_ip_to_domain(uuid, uuid, text) is 'Staff (infrastructure.manage): lets a sending IP send for a tenant domain. The assignment is active on a warmed IP, warming on a warming IP and scheduled otherwise; the tenant sees it (read-only) in domainIpAssignments.';

create or replace function app_public.set_domain_ip_assignment_status(assignment_id uuid, status text, reason text default null) returns app_public.domain_ip_assignments
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old app_public.domain_ip_assignments;
  v_assignment app_public.domain_ip_assignments;
begin
  perform app_private.require_infrastructure_manager();
  if status is null or status not in ('scheduled', 'warming', 'active', 'expired') then
    raise exception 'Unknown assignment status "%"; use warming, active or expired.', status using errcode = 'INVAL';
  end if;
  -- Found across tenants, then locked by its key (Citus locks rows only in a
  -- query that names its tenant).
  select * into v_old from app_public.domain_ip_assignments a where a.id = assignment_id;
  select * into v_old from app_public.domain_ip_assignments a where a.tenant_id = v_old.tenant_id and a.id = v_old.id for update;
  if not found then
    raise exception 'There is no domain IP assignment %.', assignment_id using errcode = 'NTFND';
  end if;
  update app_public.domain_ip_assignments a
    set status = set_domain_ip_assignment_status.status, status_reason = coalesce(reason, a.status_reason)
    where a.tenant_id = v_old.tenant_id and a.id = v_old.id
    returning * into v_assignment;
  -- The last domain leaving an assigned (never warmed) IP returns it to the pool.
  -- (Counted first: Citus refuses a function reading a tenant table inside
  -- an update of a reference table.)
  if v_assignment.status = 'expired' and app_private.live_assignment_count(v_assignment.smtp_ip_address_id) = 0 then
    update app_public.smtp_ip_addresses ip
      set status = 'available', status_reason = 'Its last domain assignment ended.'
      where ip.id = v_assignment.smtp_ip_address_id and ip.status = 'assigned';
  end if;
  perform app_private.audit_infrastructure('domain_ip.' || v_assignment.status, 'domain_ip_assignments', v_assignment.id, v_assignment.tenant_id,
    jsonb_build_object('from', v_old.status, 'to', v_assignment.status), reason);
  return v_assignment;
end;
$$;
comment on function app_public.set_domain_ip_assignment_status(uuid, text, text) is E'@enumArg status domain_ip_assignments.status\nStaff (infrastructure.manage): moves a domain IP assignment through scheduled → warming → active → expired.';

--------------------------------------------------------------------------------
-- Warm-up progress of IPs (run by warmup_tick, functions/200-warmup.sql).
--------------------------------------------------------------------------------

create or replace function app_private.complete_ip_warmups(at timestamptz default now()) returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_ip record;
  v_count integer := 0;
begin
  for v_ip in
    select ip.id, coalesce(ip.daily_limit, app_private.ip_warmup_target()) as target,
           app_private.local_day(complete_ip_warmups.at, 'UTC') - app_private.local_day(ip.warmup_started_at, 'UTC') as day_number
    from app_public.smtp_ip_addresses ip
    where ip.status = 'warming' and ip.warmup_started_at is not null
  loop
    if app_private.ip_warmup_ramp(v_ip.day_number) >= v_ip.target then
      perform app_private.change_smtp_ip_status(v_ip.id, 'warmed',
        format('Warm-up complete on day %s: the ramp reached %s messages a day.', v_ip.day_number, v_ip.target), true);
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end;
$$;
comment on function app_private.complete_ip_warmups(timestamptz) is 'Marks warming IPs warmed once their ramp reaches their daily_limit (or ip_warmup_target); their assignments become active. Returns how many.';
