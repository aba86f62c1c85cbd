--------------------------------------------------------------------------------
-- Maintaining and reading the analytics rollups (campaign_stats_daily).
-- Statement-level triggers see every inserted/updated row at once through
-- transition tables, so a bulk load costs one upsert per (campaign, day), not
-- one per message. A message counts once per milestone: when its sent_at,
-- delivered_at, opened_at, clicked_at, replied_at or bounced_at is first set.
--------------------------------------------------------------------------------

create or replace function app_private.add_campaign_stats(deltas jsonb) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
-- deltas: [{tenant_id, campaign_id, day, metric, n}, ...]
begin
  insert into app_public.campaign_stats_daily as s (
    tenant_id, campaign_id, day, shard, sent, delivered, opened, clicked, replied, bounced, failed,
    unsubscribed, complained, opens_total, clicks_total)
  select d.tenant_id, d.campaign_id, d.day, floor(random() * 8)::smallint,
    coalesce(sum(d.n) filter (where d.metric = 'sent'), 0), coalesce(sum(d.n) filter (where d.metric = 'delivered'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'opened'), 0), coalesce(sum(d.n) filter (where d.metric = 'clicked'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'replied'), 0), coalesce(sum(d.n) filter (where d.metric = 'bounced'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'failed'), 0), coalesce(sum(d.n) filter (where d.metric = 'unsubscribed'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'complained'), 0), coalesce(sum(d.n) filter (where d.metric = 'opens_total'), 0),
    coalesce(sum(d.n) filter (where d.metric = 'clicks_total'), 0)
  from jsonb_to_recordset(deltas) as d (tenant_id uuid, campaign_id uuid, day date, metric text, n bigint)
  group by d.tenant_id, d.campaign_id, d.day
  on conflict on constraint campaign_stats_daily_pkey do update set
    sent = s.sent + excluded.sent,
    delivered = s.delivered + excluded.delivered,
    opened = s.opened + excluded.opened,
    clicked = s.clicked + excluded.clicked,
    replied = s.replied + excluded.replied,
    bounced = s.bounced + excluded.bounced,
    failed = s.failed + excluded.failed,
    unsubscribed = s.unsubscribed + excluded.unsubscribed,
    complained = s.complained + excluded.complained,
    opens_total = s.opens_total + excluded.opens_total,
    clicks_total = s.clicks_total + excluded.clicks_total;
end;
$$;
comment on function app_private.add_campaign_stats(jsonb) is 'Adds counter deltas to the daily campaign rollup (one upsert per campaign and day).';

create or replace function app_private.tg_messages__rollup() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_deltas jsonb;
begin
  if tg_op = 'INSERT' then
    select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'day', day, 'metric', metric, 'n', n))
      into v_deltas
      from (
        select m.tenant_id, m.campaign_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
        from new_rows m
        cross join lateral (values ('sent', m.sent_at), ('delivered', m.delivered_at), ('opened', m.opened_at),
                                   ('clicked', m.clicked_at), ('replied', m.replied_at), ('bounced', m.bounced_at),
                                   ('failed', case when m.status = 'failed' then m.updated end)) as x (metric, at)
        where m.direction = 'outbound' and m.campaign_id is not null and x.at is not null
        group by 1, 2, 3, 4
      ) d;
  else
    select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'day', day, 'metric', metric, 'n', n))
      into v_deltas
      from (
        select n.tenant_id, n.campaign_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
        from new_rows n
        join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
        cross join lateral (values
          ('sent', case when o.sent_at is null then n.sent_at end),
          ('delivered', case when o.delivered_at is null then n.delivered_at end),
          ('opened', case when o.opened_at is null then n.opened_at end),
          ('clicked', case when o.clicked_at is null then n.clicked_at end),
          ('replied', case when o.replied_at is null then n.replied_at end),
          ('bounced', case when o.bounced_at is null then n.bounced_at end),
          ('failed', case when n.status = 'failed' and o.status <> 'failed' then n.updated end)) as x (metric, at)
        where n.direction = 'outbound' and n.campaign_id is not null and x.at is not null
        group by 1, 2, 3, 4
      ) d;
  end if;
  if v_deltas is not null then
    perform app_private.add_campaign_stats(v_deltas);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_messages__rollup() is 'Counts each message''s milestones (sent, delivered, opened, clicked, replied, bounced, failed) into campaign_stats_daily, once each.';

create or replace trigger _500_rollup_insert
  after insert on app_public.messages
  referencing new table as new_rows
  for each statement execute function app_private.tg_messages__rollup();
create or replace trigger _500_rollup_update
  after update on app_public.messages
  referencing new table as new_rows old table as old_rows
  for each statement execute function app_private.tg_messages__rollup();

create or replace function app_private.tg_email_events__rollup() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_deltas jsonb;
begin
  select jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'campaign_id', campaign_id, 'day', day, 'metric', metric, 'n', n))
    into v_deltas
    from (
      select e.tenant_id, e.campaign_id, (e.created at time zone 'UTC')::date as day,
             case e.event_type when 'open' then 'opens_total' when 'click' then 'clicks_total'
                               when 'unsubscribe' then 'unsubscribed' when 'complaint' then 'complained' end as metric,
             count(*) as n
      from new_rows e
      where e.campaign_id is not null and e.event_type in ('open', 'click', 'unsubscribe', 'complaint')
      group by 1, 2, 3, 4
    ) d;
  if v_deltas is not null then
    perform app_private.add_campaign_stats(v_deltas);
  end if;
  return null;
end;
$$;
comment on function app_private.tg_email_events__rollup() is 'Counts total opens and clicks, unsubscribes and complaints into campaign_stats_daily.';
create or replace trigger _500_rollup
  after insert on app_public.email_events
  referencing new table as new_rows
  for each statement execute function app_private.tg_email_events__rollup();

--------------------------------------------------------------------------------
-- Reading statistics.
--------------------------------------------------------------------------------

create or replace function app_hidden.stats_with_rates(
  sent bigint, delivered bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, failed bigint,
  unsubscribed bigint, complained bigint, opens_total bigint, clicks_total bigint
) returns app_public.message_stats
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
as $$
  select row(
    coalesce(sent, 0), coalesce(delivered, 0), coalesce(opened, 0), coalesce(clicked, 0), coalesce(replied, 0),
    coalesce(bounced, 0), coalesce(failed, 0), coalesce(unsubscribed, 0), coalesce(complained, 0),
    coalesce(opens_total, 0), coalesce(clicks_total, 0),
    round(opened::numeric / nullif(sent, 0), 4), round(clicked::numeric / nullif(sent, 0), 4),
    round(replied::numeric / nullif(sent, 0), 4), round(bounced::numeric / nullif(sent, 0), 4),
    round(unsubscribed::numeric / nullif(sent, 0), 4)
  )::app_public.message_stats;
$$;
comment on function app_hidden.stats_with_rates(bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint) is 'Builds message_stats with rates as fractions of messages sent.';

create or replace function app_public.campaigns_stats(campaign app_public.campaigns, since date default null, until date default null)
  returns app_public.message_stats
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Through rollup_totals (functions/096): totals are on every plan, the rows
  -- only with advanced analytics.
  return app_hidden.rollup_totals(campaign.tenant_id, campaign.id, since, until);
end;
$$;
comment on function app_public.campaigns_stats(app_public.campaigns, date, date) is 'The campaign''s statistics: sent, delivered, unique opens, clicks, replies, bounces, unsubscribes, complaints, and rates over messages sent. Totals on every plan; between two UTC days (inclusive) with advanced analytics only (PLAN_FEATURE_REQUIRED).';

create or replace function app_public.tenant_stats(since date default null, until date default null)
  returns app_public.message_stats
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return app_hidden.rollup_totals(app_public.current_tenant_id(), null, since, until);
end;
$$;
comment on function app_public.tenant_stats(date, date) is 'Statistics of all your organisation''s campaigns. Totals on every plan; between two UTC days (inclusive) with advanced analytics only (PLAN_FEATURE_REQUIRED).';

create or replace function app_public.daily_stats(campaign_id uuid default null, since date default null, until date default null)
  returns table (day date, sent bigint, opened bigint, clicked bigint, replied bigint, bounced bigint, unsubscribed bigint)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  -- The rows are hidden without advanced analytics (policies/095): say why.
  if app_public.current_tenant_id() is not null then
    perform app_hidden.require_plan_feature('advanced_analytics', 'Daily statistics');
  end if;
  return query
  select s.day, sum(s.sent)::bigint, sum(s.opened)::bigint, sum(s.clicked)::bigint, sum(s.replied)::bigint,
         sum(s.bounced)::bigint, sum(s.unsubscribed)::bigint
  from app_public.campaign_stats_daily s
  where s.tenant_id = app_public.current_tenant_id()
    and (daily_stats.campaign_id is null or s.campaign_id = daily_stats.campaign_id)
    and (since is null or s.day >= since) and (until is null or s.day <= until)
  group by s.day
  order by s.day;
end;
$$;
comment on function app_public.daily_stats(uuid, date, date) is E'@resultTypeName DailyStat\nPer UTC day: messages sent, opened, clicked, replied, bounced and unsubscribes, for one campaign or all of them. Needs a plan with advanced analytics (PLAN_FEATURE_REQUIRED otherwise).';

-- Rebuilds the rollup of one tenant from the message store (repair tool,
-- and proof in tests that the triggers agree with the raw data).
create or replace function app_private.rebuild_campaign_stats(tenant_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  delete from app_public.campaign_stats_daily s where s.tenant_id = rebuild_campaign_stats.tenant_id;
  perform app_private.add_campaign_stats(coalesce((
    select jsonb_agg(jsonb_build_object('tenant_id', d.tenant_id, 'campaign_id', d.campaign_id, 'day', d.day, 'metric', d.metric, 'n', d.n))
    from (
      select m.tenant_id, m.campaign_id, (x.at at time zone 'UTC')::date as day, x.metric, count(*) as n
      from app_public.messages m
      cross join lateral (values ('sent', m.sent_at), ('delivered', m.delivered_at), ('opened', m.opened_at),
                                 ('clicked', m.clicked_at), ('replied', m.replied_at), ('bounced', m.bounced_at),
                                 ('failed', case when m.status = 'failed' then m.updated end)) as x (metric, at)
      where m.tenant_id = rebuild_campaign_stats.tenant_id and m.direction = 'outbound' and m.campaign_id is not null and x.at is not null
      group by 1, 2, 3, 4
      union all
      select e.tenant_id, e.campaign_id, (e.created at time zone 'UTC')::date, case e.event_type when 'open' then 'opens_total'
             when 'click' then 'clicks_total' when 'unsubscribe' then 'unsubscribed' when 'complaint' then 'complained' end, count(*)
      from app_public.email_events e
      where e.tenant_id = rebuild_campaign_stats.tenant_id and e.campaign_id is not null and e.event_type in ('open', 'click', 'unsubscribe', 'complaint')
      group by 1, 2, 3, 4
    ) d), '[]'::jsonb));
end;
$$;
comment on function app_private.rebuild_campaign_stats(uuid) is 'Recomputes a tenant''s campaign_stats_daily from messages and events.';
