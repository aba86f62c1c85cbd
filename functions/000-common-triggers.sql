--------------------------------------------------------------------------------
-- Triggers every table shares. Trigger names start with _NNN_ so their firing
-- order (alphabetical in PostgreSQL) is explicit.
--------------------------------------------------------------------------------

create or replace function app_private.tg__updated() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  new.updated := greatest(now(), old.updated + interval '1 millisecond');
  return new;
end;
$$;
comment on function app_private.tg__updated() is 'Keeps the `updated` column current (and strictly increasing) on every UPDATE.';

create or replace function app_private.tg__updated_by() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  new.updated_by := coalesce(app_public.current_user_id(), new.updated_by);
  return new;
end;
$$;
comment on function app_private.tg__updated_by() is 'Records which signed-in user last changed the row (the updated_by audit column).';

-- Attach them to every table that has the columns, so a new table cannot
-- forget them.
do $$
declare
  t record;
begin
  for t in
    select c.oid::regclass as tbl, a.attname
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and not a.attisdropped
    where n.nspname = 'app_public'
      and c.relkind in ('r', 'p')
      and not c.relispartition
      and a.attname in ('updated', 'updated_by')
  loop
    if t.attname = 'updated' then
      execute format('create or replace trigger _100_timestamps before update on %s for each row execute function app_private.tg__updated()', t.tbl);
    else
      execute format('create or replace trigger _110_updated_by before update on %s for each row execute function app_private.tg__updated_by()', t.tbl);
    end if;
  end loop;
end;
$$;
