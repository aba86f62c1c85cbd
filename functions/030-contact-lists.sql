--------------------------------------------------------------------------------
-- Contact lists. A dynamic list's filter_criteria is a small JSON language that
-- compiles to a SQL predicate over app_public.leads (alias l). Only known
-- fields and operators are accepted, every value is quoted with format(%L),
-- and the compiled predicate runs as the caller, so RLS still applies.
--------------------------------------------------------------------------------

create or replace function app_hidden.lead_filter_sql(filter jsonb, depth integer default 0) returns text
  language plpgsql immutable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key text;
  v_parts text[] := '{}';
  v_item jsonb;
  v_field text;
  v_op text;
  v_value jsonb;
  v_column text;
  v_custom_key text;
  v_text_expr text;
  v_columns constant text[] := array['email', 'name', 'first_name', 'last_name', 'company', 'title',
    'phone', 'website', 'timezone', 'status', 'source', 'created', 'updated', 'last_contacted_at',
    'replied_at', 'unsubscribed_at', 'bounced_at'];
begin
  if depth > 8 then
    raise exception 'Invalid list filter: groups are nested more than 8 levels deep.' using errcode = '22023';
  end if;
  if filter is null or jsonb_typeof(filter) <> 'object' then
    raise exception 'Invalid list filter: expected an object such as {"all": [...]}, got %.', coalesce(filter::text, 'null') using errcode = '22023';
  end if;

  -- Groups: {"all": [...]}, {"any": [...]}, {"not": {...}}
  if filter ? 'all' or filter ? 'any' then
    v_key := case when filter ? 'all' then 'all' else 'any' end;
    if jsonb_typeof(filter -> v_key) <> 'array' or jsonb_array_length(filter -> v_key) = 0 then
      raise exception 'Invalid list filter: "%" must be a non-empty array of conditions.', v_key using errcode = '22023';
    end if;
    for v_item in select * from jsonb_array_elements(filter -> v_key) loop
      v_parts := v_parts || app_hidden.lead_filter_sql(v_item, depth + 1);
    end loop;
    return '(' || array_to_string(v_parts, case v_key when 'all' then ' and ' else ' or ' end) || ')';
  end if;
  if filter ? 'not' then
    return '(not coalesce(' || app_hidden.lead_filter_sql(filter -> 'not', depth + 1) || ', false))';
  end if;

  -- Conditions: {"field": …, "op": …, "value": …}
  v_field := filter ->> 'field';
  v_op := coalesce(filter ->> 'op', 'eq');
  v_value := filter -> 'value';
  if v_field is null then
    raise exception 'Invalid list filter: each condition needs a "field" (one of %, or custom.<key>).', array_to_string(v_columns, ', ') using errcode = '22023';
  end if;

  if v_field like 'custom.%' then
    v_custom_key := substr(v_field, 8);
    if v_custom_key !~ '^[a-z][a-z0-9_]{0,62}$' then
      raise exception 'Invalid list filter: "%" is not a valid custom field key.', v_custom_key using errcode = '22023';
    end if;
    v_text_expr := format('(l.custom_fields ->> %L)', v_custom_key);
    case v_op
      when 'eq' then return format('(l.custom_fields @> %L::jsonb)', jsonb_build_object(v_custom_key, v_value));
      when 'neq' then return format('(not (l.custom_fields @> %L::jsonb))', jsonb_build_object(v_custom_key, v_value));
      when 'exists' then return format('(l.custom_fields ? %L)', v_custom_key);
      when 'not_exists' then return format('(not (l.custom_fields ? %L))', v_custom_key);
      when 'gt' then return format('((l.custom_fields -> %L) > %L::jsonb)', v_custom_key, v_value);
      when 'gte' then return format('((l.custom_fields -> %L) >= %L::jsonb)', v_custom_key, v_value);
      when 'lt' then return format('((l.custom_fields -> %L) < %L::jsonb)', v_custom_key, v_value);
      when 'lte' then return format('((l.custom_fields -> %L) <= %L::jsonb)', v_custom_key, v_value);
      else null;
    end case;
  elsif v_field = any (v_columns) then
    v_column := format('l.%I', v_field);
    v_text_expr := format('(%s)::text', v_column);
    case v_op
      when 'eq' then return format('(%s = %L)', v_column, v_value #>> '{}');
      when 'neq' then return format('(%s is distinct from %L)', v_column, v_value #>> '{}');
      when 'exists' then return format('(%s is not null)', v_column);
      when 'not_exists' then return format('(%s is null)', v_column);
      when 'gt' then return format('(%s > %L)', v_column, v_value #>> '{}');
      when 'gte' then return format('(%s >= %L)', v_column, v_value #>> '{}');
      when 'lt' then return format('(%s < %L)', v_column, v_value #>> '{}');
      when 'lte' then return format('(%s <= %L)', v_column, v_value #>> '{}');
      else null;
    end case;
  else
    raise exception 'Invalid list filter: unknown field "%"; use one of %, or custom.<key>.', v_field, array_to_string(v_columns, ', ') using errcode = '22023';
  end if;

  -- Operators that work on the text form of either kind of field.
  case v_op
    when 'in', 'not_in' then
      if jsonb_typeof(v_value) <> 'array' or jsonb_array_length(v_value) = 0 then
        raise exception 'Invalid list filter: "%" on "%" needs a non-empty array value.', v_op, v_field using errcode = '22023';
      end if;
      return format('(%s %s (select jsonb_array_elements_text(%L::jsonb)))',
        v_text_expr, case v_op when 'in' then 'in' else 'not in' end, v_value);
    when 'contains' then
      return format('(%s ilike %L)', v_text_expr, '%' || replace(replace(v_value #>> '{}', '%', '\%'), '_', '\_') || '%');
    when 'starts_with' then
      return format('(%s ilike %L)', v_text_expr, replace(replace(v_value #>> '{}', '%', '\%'), '_', '\_') || '%');
    when 'ends_with' then
      return format('(%s ilike %L)', v_text_expr, '%' || replace(replace(v_value #>> '{}', '%', '\%'), '_', '\_'));
    else
      raise exception 'Invalid list filter: unknown operator "%" on "%"; use eq, neq, in, not_in, contains, starts_with, ends_with, gt, gte, lt, lte, exists or not_exists.', v_op, v_field using errcode = '22023';
  end case;
end;
$$;
comment on function app_hidden.lead_filter_sql(jsonb, integer) is 'Compiles a dynamic list filter into a SQL predicate over leads (alias l), rejecting unknown fields and operators with a clear message.';

create or replace function app_private.tg_contact_lists__validate_filter() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- (A dynamic list without a filter is reported by its check constraint.)
  if new.is_dynamic and new.filter_criteria is not null then
    perform app_hidden.lead_filter_sql(new.filter_criteria);
  end if;
  return new;
end;
$$;
comment on function app_private.tg_contact_lists__validate_filter() is 'Rejects a dynamic list whose filter does not compile.';
create or replace trigger _200_validate_filter
  before insert or update of filter_criteria, is_dynamic on app_public.contact_lists
  for each row execute function app_private.tg_contact_lists__validate_filter();

create or replace function app_private.tg_contact_list_members__static_only() returns trigger
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if exists (select 1 from app_public.contact_lists cl
             where cl.tenant_id = new.tenant_id and cl.id = new.list_id and cl.is_dynamic) then
    raise exception 'This list is dynamic: its members come from its filter and cannot be added by hand.'
      using errcode = '22023';
  end if;
  return new;
end;
$$;
comment on function app_private.tg_contact_list_members__static_only() is 'Members can only be added to static lists.';
create or replace trigger _200_static_only
  before insert or update on app_public.contact_list_members
  for each row execute function app_private.tg_contact_list_members__static_only();

create or replace function app_public.contact_lists_leads(list app_public.contact_lists) returns setof app_public.leads
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if list.is_dynamic then
    return query execute
      'select l.* from app_public.leads l where l.tenant_id = $1 and ' || app_hidden.lead_filter_sql(list.filter_criteria)
      using list.tenant_id;
  else
    return query
      select l.* from app_public.leads l
      join app_public.contact_list_members m on m.tenant_id = l.tenant_id and m.lead_id = l.id
      where m.tenant_id = list.tenant_id and m.list_id = list.id;
  end if;
end;
$$;
comment on function app_public.contact_lists_leads(app_public.contact_lists) is 'The leads in this list: its members, or for a dynamic list the leads matching its filter right now.';

create or replace function app_public.contact_lists_lead_count(list app_public.contact_lists) returns bigint
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_count bigint;
begin
  if list.is_dynamic then
    execute 'select count(*) from app_public.leads l where l.tenant_id = $1 and ' || app_hidden.lead_filter_sql(list.filter_criteria)
      into v_count using list.tenant_id;
  else
    select count(*) into v_count from app_public.contact_list_members m
      where m.tenant_id = list.tenant_id and m.list_id = list.id;
  end if;
  return v_count;
end;
$$;
comment on function app_public.contact_lists_lead_count(app_public.contact_lists) is 'How many leads the list holds right now.';
