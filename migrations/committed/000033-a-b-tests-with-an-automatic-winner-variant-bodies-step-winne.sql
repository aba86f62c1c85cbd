--! Previous: sha1:7a704f11e6046432c1deaa687aa47343e8fd0eb9
--! Hash: sha1:39851a9df477d37b11ec76c4ff77098b82ef57a3
--! Message: A/B tests with an automatic winner: variant bodies, step winner rules, decisions

--! split: 1-current.sql
-- Enter migration here

--! split: 2-ab-winners.sql
set local lock_timeout = '5s';
set local statement_timeout = '60s';

-- A/B tests with an automatic winner (functions/121-ab-winners.sql,
-- docs/sending.md "A/B tests"): variants may change the body as well as the
-- subject, each email step says how its winner is chosen, and the decisions
-- are kept with the figures behind them.

-- Variants: a subject and/or a body of their own.
-- A variant may keep the step's subject and change only the body. Clients
-- reading subject must expect null from now on (docs/api.md changelog).
-- squawk-ignore ban-drop-not-null
alter table app_public.campaign_step_variants alter column subject drop not null;
alter table app_public.campaign_step_variants add column if not exists body_html text;
alter table app_public.campaign_step_variants add column if not exists body_text text;
alter table app_public.campaign_step_variants drop constraint if exists campaign_step_variants_body_html_check;
alter table app_public.campaign_step_variants add constraint campaign_step_variants_body_html_check
  check (length(body_html) between 1 and 500000) not valid;
alter table app_public.campaign_step_variants drop constraint if exists campaign_step_variants_body_text_check;
alter table app_public.campaign_step_variants add constraint campaign_step_variants_body_text_check
  check (body_text is null or (length(body_text) between 1 and 500000 and body_html is not null)) not valid;
alter table app_public.campaign_step_variants drop constraint if exists campaign_step_variants_differs_check;
alter table app_public.campaign_step_variants add constraint campaign_step_variants_differs_check
  check (num_nonnulls(subject, body_html) >= 1) not valid;
comment on table app_public.campaign_step_variants is 'A/B variants of an email step: each overrides the subject, the body, or both. Each lead gets one variant, chosen by weight and stable for that lead, until the step has a winner (campaign_step_ab_decisions): leads whose message is not yet booked then get the winner.';
comment on column app_public.campaign_step_variants.subject is 'The subject of this variant (Liquid, spintax), instead of the step''s override or the template''s; null: the step''s subject.';
comment on column app_public.campaign_step_variants.body_html is 'The HTML body of this variant (Liquid, spintax), instead of the template''s; null: the template''s body.';
comment on column app_public.campaign_step_variants.body_text is 'The text body of this variant, with body_html only; null with a body_html: generated from that HTML.';

-- Each email step's automatic winner rule.
alter table app_public.campaign_sequence_steps add column if not exists ab_auto_winner boolean not null default true;
alter table app_public.campaign_sequence_steps add column if not exists ab_winner_metric text not null default 'reply';
alter table app_public.campaign_sequence_steps add column if not exists ab_min_sends_per_variant integer not null default 100;
alter table app_public.campaign_sequence_steps add column if not exists ab_decide_after interval;
alter table app_public.campaign_sequence_steps drop constraint if exists campaign_sequence_steps_ab_winner_metric_check;
alter table app_public.campaign_sequence_steps add constraint campaign_sequence_steps_ab_winner_metric_check
  check (ab_winner_metric in ('reply', 'click', 'open')) not valid;
alter table app_public.campaign_sequence_steps drop constraint if exists campaign_sequence_steps_ab_min_sends_check;
alter table app_public.campaign_sequence_steps add constraint campaign_sequence_steps_ab_min_sends_check
  check (ab_min_sends_per_variant between 10 and 100000) not valid;
alter table app_public.campaign_sequence_steps drop constraint if exists campaign_sequence_steps_ab_decide_after_check;
alter table app_public.campaign_sequence_steps add constraint campaign_sequence_steps_ab_decide_after_check
  check (ab_decide_after between interval '1 hour' and interval '90 days') not valid;
comment on column app_public.campaign_sequence_steps.ab_auto_winner is 'Whether the winner of this step''s A/B variants is chosen automatically (by ab_winner_metric once the sample is in); off: the variants split until a member picks the winner (chooseAbWinner).';
comment on column app_public.campaign_sequence_steps.ab_winner_metric is 'What the automatic winner is chosen by: reply (default), click or open rate over messages sent (opens are unreliable: image blocking, privacy proxies).';
comment on column app_public.campaign_sequence_steps.ab_min_sends_per_variant is 'The sample: the winner is chosen once every variant has sent this many messages (10 to 100000, default 100).';
comment on column app_public.campaign_sequence_steps.ab_decide_after is 'Optional deadline, counted from the step''s first send (1 hour to 90 days): from then on the winner is chosen once every variant has sent a quarter of ab_min_sends_per_variant, and a tie goes to the earliest label.';

-- The decisions.
create table if not exists app_public.campaign_step_ab_decisions (
  tenant_id uuid not null default app_public.current_tenant_id(),
  id uuid not null default app_public.uuid_v7(),
  step_id uuid not null,
  winner_variant_id uuid not null,
  metric text not null,
  decided_by text not null,
  decided_by_user_id uuid references app_public.users (id) on delete set null,
  reason text not null,
  figures jsonb not null,
  decided_at timestamptz not null default now(),
  created timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, step_id) references app_public.campaign_sequence_steps (tenant_id, id) on delete cascade,
  foreign key (tenant_id, winner_variant_id) references app_public.campaign_step_variants (tenant_id, id) on delete cascade,
  constraint campaign_step_ab_decisions_metric_check check (metric in ('reply', 'click', 'open')),
  constraint campaign_step_ab_decisions_decided_by_check check (decided_by in ('auto', 'manual')),
  constraint campaign_step_ab_decisions_reason_check check (
    reason in ('sample', 'deadline', 'deadline_tie', 'manual') and (decided_by = 'manual') = (reason = 'manual')),
  constraint campaign_step_ab_decisions_user_check check (decided_by = 'manual' or decided_by_user_id is null),
  constraint campaign_step_ab_decisions_figures_check check (jsonb_typeof(figures) = 'array')
);
comment on table app_public.campaign_step_ab_decisions is E'@behavior -insert -update -delete\nThe winners of email steps'' A/B tests, newest last: the latest decision of a step is in force, and every lead of the step whose message is not yet booked gets its winner (messages already booked keep their variant). Written automatically by the worker''s ab_winner_sweep (decided_by auto, at most one per step and never after a manual one) or by a member with chooseAbWinner (manual).';
comment on column app_public.campaign_step_ab_decisions.metric is 'The rate the variants were compared by: reply, click or open (a manual decision records the step''s setting).';
comment on column app_public.campaign_step_ab_decisions.decided_by is 'auto (the step''s rule) or manual (a member, decided_by_user_id).';
comment on column app_public.campaign_step_ab_decisions.decided_by_user_id is 'The member who picked the winner (manual decisions).';
comment on column app_public.campaign_step_ab_decisions.reason is 'sample: every variant reached the minimum sample and one rate was highest; deadline: the step''s ab_decide_after passed and one rate was highest; deadline_tie: after the deadline the highest rate was shared and the earliest label won; manual: picked by a member.';
comment on column app_public.campaign_step_ab_decisions.figures is 'Per variant when decided, by label: [{"variant_id", "label", "sent", "opened", "clicked", "replied", "rate"}], rate being the metric''s hits over sent (null before anything was sent).';
create index if not exists campaign_step_ab_decisions_step_idx on app_public.campaign_step_ab_decisions (tenant_id, step_id, decided_at);
create index if not exists campaign_step_ab_decisions_winner_idx on app_public.campaign_step_ab_decisions (tenant_id, winner_variant_id);
create index if not exists campaign_step_ab_decisions_user_idx on app_public.campaign_step_ab_decisions (decided_by_user_id);
-- At most one automatic decision per step.
create unique index if not exists campaign_step_ab_decisions_one_auto_idx on app_public.campaign_step_ab_decisions (tenant_id, step_id)
  where decided_by = 'auto';
alter table app_public.campaign_step_ab_decisions enable row level security;
alter table app_public.campaign_step_ab_decisions force row level security;
