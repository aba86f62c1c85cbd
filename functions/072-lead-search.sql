--------------------------------------------------------------------------------
-- Full-text search over leads: the API's searchLeads connection. The search
-- document is the generated leads.search column (names weighted A, email and
-- company B, title C, 'simple' configuration: names are not stemmed), served
-- by its GIN index. The query language is websearch_to_tsquery's: words,
-- "quoted phrases", OR and -excluded words.
--------------------------------------------------------------------------------

create or replace function app_public.search_leads(query text) returns setof app_public.leads
  language plpgsql stable strict
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_query tsquery;
begin
  if length(trim(query)) = 0 then
    raise exception 'Enter something to search for.' using errcode = 'INVAL';
  end if;
  if length(query) > 500 then
    raise exception 'A search is at most 500 characters long; this one has %.', length(query) using errcode = 'INVAL';
  end if;
  v_query := websearch_to_tsquery('simple', query);
  -- Only stop words or punctuation: nothing can match.
  if numnode(v_query) = 0 then
    return;
  end if;
  return query
    select l.*
    from app_public.leads l
    where l.tenant_id = app_public.current_tenant_id()
      and l.search @@ v_query
    order by ts_rank_cd(l.search, v_query) desc, l.created desc, l.id;
end;
$$;
comment on function app_public.search_leads(text) is E'Leads matching a full-text search over names, email, company and title, best matches first. Supports words, "quoted phrases", OR and -excluded words (e.g. `ada "head of sales" -globex`). Combine with filter, first/after and aggregates like any connection.';
