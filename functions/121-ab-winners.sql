--------------------------------------------------------------------------------
-- A/B tests with a winner. An email step's variants (campaign_step_variants)
-- override the subject, the body or both; each lead gets one, by weight from
-- a hash of step and lead (app_hidden.choose_variant, functions/120), until
-- the step has a decision in campaign_step_ab_decisions: from then on every
-- lead whose message of the step is not yet booked gets the winner, and the
-- messages already booked keep their variant.
--
-- The automatic rule (ab_auto_winner on, the default), per email step with
-- two variants or more and no decision yet:
--   figures   per variant: sent = its messages with sent_at; opened, clicked,
--             replied = those of them with opened_at, clicked_at, replied_at
--             (set once by record_email_event: distinct messages, automated
--             opens and clicks left out); rate = the metric's count / sent.
--   ready     every variant sent ab_min_sends_per_variant messages; or the
--             step's ab_decide_after has passed since its first send (the
--             slot of its earliest sent message) and every variant sent at
--             least a quarter of that minimum (rounded up).
--   winner    the variant with the highest rate. A tie for the highest rate
--             keeps the variants splitting (and is looked at again at the
--             next sweep, when more results are in), except after the
--             deadline, where the earliest label among the tied wins.
-- An automatic decision is made once per step and never after a manual one.
-- A member may pick the winner at any time (choose_ab_winner); the latest
-- decision of a step is the one in force.
--
-- When: the worker's `ab_winner_sweep` cron task (every minute) calls
-- ab_winner_sweep(). A trigger on sends and replies would decide a few
-- seconds earlier, but it would recount a step's messages on every send and
-- reply until the decision (quadratic in the step's size while the rates are
-- tied, and on the send path), and the deadline needs a clock anyway; the
-- sweep costs one count per undecided A/B step per minute whatever the
-- volume. Until it runs, leads keep being split: at most a minute's worth.
--------------------------------------------------------------------------------

create or replace function app_private.ab_variant_figures(tenant_id uuid, step_id uuid)
  returns table (variant_id uuid, label text, sent bigint, opened bigint, clicked bigint, replied bigint)
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  select v.id, v.label,
         count(m.id), count(m.opened_at), count(m.clicked_at), count(m.replied_at)
  from app_public.campaign_step_variants v
  left join app_public.messages m
    on m.tenant_id = ab_variant_figures.tenant_id and m.variant_id = v.id and m.step_id = ab_variant_figures.step_id
       and m.direction = 'outbound' and m.sent_at is not null
  where v.tenant_id = ab_variant_figures.tenant_id and v.step_id = ab_variant_figures.step_id
  group by v.id, v.label
  order by v.label;
end;
$$;
comment on function app_private.ab_variant_figures(uuid, uuid) is 'Per variant of an email step, by label: messages sent (sent_at set) and how many of them were opened, clicked and replied to.';

create or replace function app_private.ab_figures_document(tenant_id uuid, step_id uuid, metric text)
  returns table (figures jsonb, variants integer, min_sent bigint, leaders uuid[])
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  with f as materialized (
    select x.variant_id, x.label, x.sent, x.opened, x.clicked, x.replied,
           case ab_figures_document.metric when 'reply' then x.replied when 'click' then x.clicked else x.opened end as hits
    from app_private.ab_variant_figures(ab_figures_document.tenant_id, ab_figures_document.step_id) x
  ),
  g as (
    -- A leader has the highest rate, compared exactly (a/b > c/d as a*d > c*b): no other variant does better.
    select f.*, f.sent > 0 and not exists (select 1 from f o where o.sent > 0 and o.hits * f.sent > f.hits * o.sent) as leads
    from f
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'variant_id', g.variant_id, 'label', g.label, 'sent', g.sent, 'opened', g.opened, 'clicked', g.clicked,
           'replied', g.replied, 'rate', round(g.hits::numeric / nullif(g.sent, 0), 4)) order by g.label), '[]'::jsonb),
         count(*)::integer,
         min(g.sent),
         array_agg(g.variant_id order by g.label) filter (where g.leads)
  from g;
end;
$$;
comment on function app_private.ab_figures_document(uuid, uuid, text) is 'The figures of an email step''s variants as the JSON array a decision records, with how many variants there are, the smallest number sent, and the variants sharing the highest rate of the metric (by label).';

create or replace function app_private.decide_ab_winner(tenant_id uuid, step_id uuid) returns uuid
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_now timestamptz := app_private.engine_now();
  s app_public.campaign_sequence_steps;
  f record;
  v_first timestamptz;
  v_deadline_passed boolean;
  v_winner uuid;
  v_reason text;
begin
  -- Under the step's lock: one decider at a time (the sweep, a member's pick).
  select x.* into s from app_public.campaign_sequence_steps x
    where x.tenant_id = decide_ab_winner.tenant_id and x.id = decide_ab_winner.step_id
    for no key update;
  if s.id is null or s.step_type <> 'email' or not s.ab_auto_winner then
    return null;
  end if;
  if exists (select 1 from app_public.campaign_step_ab_decisions d where d.tenant_id = s.tenant_id and d.step_id = s.id) then
    return null;
  end if;
  select * into f from app_private.ab_figures_document(s.tenant_id, s.id, s.ab_winner_metric);
  if f.variants < 2 then
    return null;
  end if;

  select min(m.scheduled_for) into v_first from app_public.messages m
    where m.tenant_id = s.tenant_id and m.step_id = s.id and m.direction = 'outbound' and m.sent_at is not null and m.variant_id is not null;
  v_deadline_passed := s.ab_decide_after is not null and v_first is not null and v_first + s.ab_decide_after <= v_now;
  if not (f.min_sent >= s.ab_min_sends_per_variant
          or (v_deadline_passed and f.min_sent >= ceil(s.ab_min_sends_per_variant / 4.0))) then
    return null;
  end if;

  if cardinality(f.leaders) = 1 then
    v_winner := (f.leaders)[1];
    v_reason := case when f.min_sent >= s.ab_min_sends_per_variant then 'sample' else 'deadline' end;
  elsif v_deadline_passed then
    v_winner := (f.leaders)[1]; -- leaders are in label order
    v_reason := 'deadline_tie';
  else
    return null; -- a tie: keep splitting
  end if;

  insert into app_public.campaign_step_ab_decisions (tenant_id, step_id, winner_variant_id, metric, decided_by, reason, figures, decided_at)
    values (s.tenant_id, s.id, v_winner, s.ab_winner_metric, 'auto', v_reason, f.figures, v_now);
  return v_winner;
end;
$$;
comment on function app_private.decide_ab_winner(uuid, uuid) is 'Applies an email step''s automatic A/B rule (see functions/121-ab-winners.sql): records the winner when the sample (or the deadline) is reached and one variant''s rate is highest, or after the deadline the earliest label among the tied. Returns the winner, or null when nothing was decided (already decided, rule off, fewer than two variants, not ready, tied).';

create or replace function app_private.ab_winner_sweep() returns integer
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_campaign record;
  v_step record;
  v_decided integer := 0;
begin
  for v_campaign in
    select c.tenant_id, c.id from app_public.campaigns c where c.status in ('sending', 'paused') order by c.started_at
  loop
    for v_step in
      select s.id from app_public.campaign_sequence_steps s
      where s.tenant_id = v_campaign.tenant_id and s.campaign_id = v_campaign.id and s.step_type = 'email' and s.ab_auto_winner
        and exists (select 1 from app_public.campaign_step_variants v where v.tenant_id = v_campaign.tenant_id and v.step_id = s.id)
        and not exists (select 1 from app_public.campaign_step_ab_decisions d where d.tenant_id = v_campaign.tenant_id and d.step_id = s.id)
      order by s.step_order
    loop
      if app_private.decide_ab_winner(v_campaign.tenant_id, v_step.id) is not null then
        v_decided := v_decided + 1;
      end if;
    end loop;
  end loop;
  return v_decided;
end;
$$;
comment on function app_private.ab_winner_sweep() is 'The ab_winner_sweep task (every minute): applies the automatic A/B rule to every undecided email step with variants of the sending and paused campaigns. Returns how many winners it chose.';

create or replace function app_public.choose_ab_winner(variant_id uuid) returns app_public.campaign_step_ab_decisions
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_now timestamptz := app_private.engine_now();
  v_user_id uuid := app_public.current_user_id();
  v app_public.campaign_step_variants;
  s app_public.campaign_sequence_steps;
  f record;
  r app_public.campaign_step_ab_decisions;
begin
  -- An API key needs the area's write scope (functions/052-api-keys.sql).
  perform app_hidden.require_api_scope('campaigns');
  if v_tenant_id is null or not app_public.has_tenant_role('member') then
    raise exception 'Only members, admins and owners of this organisation can pick the winner of an A/B test.' using errcode = 'DNIED';
  end if;
  select x.* into v from app_public.campaign_step_variants x where x.tenant_id = v_tenant_id and x.id = choose_ab_winner.variant_id;
  if v.id is null then
    raise exception 'There is no A/B variant % in this organisation.', variant_id using errcode = 'NTFND';
  end if;
  select x.* into s from app_public.campaign_sequence_steps x
    where x.tenant_id = v_tenant_id and x.id = v.step_id
    for no key update;
  select * into f from app_private.ab_figures_document(v_tenant_id, s.id, s.ab_winner_metric);
  insert into app_public.campaign_step_ab_decisions (tenant_id, step_id, winner_variant_id, metric, decided_by, decided_by_user_id, reason, figures, decided_at)
    values (v_tenant_id, s.id, v.id, s.ab_winner_metric, 'manual', v_user_id, 'manual', f.figures, v_now)
    returning * into r;
  return r;
end;
$$;
comment on function app_public.choose_ab_winner(uuid) is 'Makes this variant the winner of its email step''s A/B test, now (members, admins and owners): every lead of the step whose message is not yet booked gets it, and the automatic rule stops for the step. Replaces an earlier decision, automatic or manual; the figures at this moment are recorded with it.';

create or replace function app_public.campaign_step_variants_stats(variant app_public.campaign_step_variants) returns app_public.message_stats
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  return (
    select app_hidden.stats_with_rates(m.sent, m.delivered, m.opened, m.clicked, m.replied, m.bounced, m.failed,
                                       e.unsubscribed, e.complained, e.opens_total, e.clicks_total)
    from (
      select count(x.sent_at) as sent, count(x.delivered_at) as delivered, count(x.opened_at) as opened,
             count(x.clicked_at) as clicked, count(x.replied_at) as replied, count(x.bounced_at) as bounced,
             count(*) filter (where x.status = 'failed') as failed
      from app_public.messages x
      where x.tenant_id = variant.tenant_id and x.variant_id = variant.id and x.direction = 'outbound'
    ) m,
    (
      select count(*) filter (where y.event_type = 'unsubscribe') as unsubscribed,
             count(*) filter (where y.event_type = 'complaint') as complained,
             count(*) filter (where y.event_type = 'open') as opens_total,
             count(*) filter (where y.event_type = 'click') as clicks_total
      from app_public.email_events y
      where y.tenant_id = variant.tenant_id and y.event_type in ('unsubscribe', 'complaint', 'open', 'click')
        and y.message_id in (select x.id from app_public.messages x
                             where x.tenant_id = variant.tenant_id and x.variant_id = variant.id and x.direction = 'outbound')
    ) e
  );
end;
$$;
comment on function app_public.campaign_step_variants_stats(app_public.campaign_step_variants) is 'This variant''s figures, from its messages: sent, delivered, unique opens, clicks and replies (distinct messages), bounces, failures, unsubscribes, complaints, total opens and clicks, and rates over messages sent; the same counts the automatic winner is chosen by.';

create or replace function app_public.campaign_sequence_steps_ab_decision(step app_public.campaign_sequence_steps) returns app_public.campaign_step_ab_decisions
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  r app_public.campaign_step_ab_decisions;
begin
  select d.* into r from app_public.campaign_step_ab_decisions d
    where d.tenant_id = step.tenant_id and d.step_id = step.id
    order by d.decided_at desc, d.id desc
    limit 1;
  if not found then
    return null;
  end if;
  return r;
end;
$$;
comment on function app_public.campaign_sequence_steps_ab_decision(app_public.campaign_sequence_steps) is 'The A/B decision in force for this email step (its latest), null while its variants split.';
