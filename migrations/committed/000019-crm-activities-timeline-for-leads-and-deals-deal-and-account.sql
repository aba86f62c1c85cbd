--! Previous: sha1:08719fe710d588d28d599305fe3ad615162ad9a3
--! Hash: sha1:9abf820133fedbb47d6696e46a459ddd9a9dc0d4
--! Message: CRM: activities timeline for leads and deals; deal and account soft delete restorable; comments on deleted_at and parent accounts

--! split: 1-current.sql
-- Enter migration here

--! split: 3-crm.sql
--------------------------------------------------------------------------------
-- CRM: the activity timeline of leads and deals (docs/crm.md). Emails sent,
-- opened, clicked, replied and bounced, lead status changes, deal stage
-- changes and conversions are written by triggers and functions
-- (functions/075-crm-conversion.sql); notes and tasks by members through
-- addCrmNote, addCrmTask and completeCrmTask.
--------------------------------------------------------------------------------
set local lock_timeout = '5s';
set local statement_timeout = '60s';

create table if not exists app_public.activities (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default app_public.uuid_v7(),
  kind text not null,
  occurred_at timestamptz not null default now(),
  lead_id uuid,
  deal_id uuid,
  message_id uuid,
  user_id uuid references app_public.users (id) on delete set null,
  title text check (length(title) between 1 and 200),
  body text check (length(body) between 1 and 10000),
  details jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
  due_at timestamptz,
  completed_at timestamptz,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade,
  foreign key (tenant_id, deal_id) references app_public.deals (tenant_id, id) on delete cascade,
  constraint activities_kind_check check (kind in (
    'email_sent', 'email_opened', 'email_clicked', 'email_replied', 'email_bounced', 'email_unsubscribed', 'email_complained',
    'status_changed', 'stage_changed', 'converted', 'note', 'task'
  )),
  constraint activities_subject check (lead_id is not null or deal_id is not null),
  constraint activities_note_has_body check (kind <> 'note' or body is not null),
  constraint activities_task_has_title check (kind <> 'task' or title is not null),
  constraint activities_task_fields check (kind = 'task' or (due_at is null and completed_at is null))
);
comment on table app_public.activities is 'The timeline of a lead or a deal: emails sent, opened, clicked, replied, bounced, unsubscribed and complained about (written when the email event is recorded), lead status changes, deal stage changes, the conversion of a lead into a deal, and the notes and tasks members add (addCrmNote, addCrmTask, completeCrmTask). Read it newest first with leadTimeline or dealTimeline.';
comment on column app_public.activities.kind is 'email_sent, email_opened, email_clicked, email_replied, email_bounced, email_unsubscribed, email_complained, status_changed (a lead''s status), stage_changed (a deal''s stage), converted (a lead became a deal), note, task.';
comment on column app_public.activities.occurred_at is 'When it happened (the email event''s time for email activities).';
comment on column app_public.activities.message_id is 'The message of an email activity.';
comment on column app_public.activities.user_id is 'The member who wrote the note or task or converted the lead; null for what the system recorded.';
comment on column app_public.activities.details is 'What else is known: {"url"} of a click, {"bounce_type"} of a bounce, {"from", "to"} of a status or stage change, {"account_created", "crm_account_id"} of a conversion.';
comment on column app_public.activities.due_at is 'When a task is due.';
comment on column app_public.activities.completed_at is 'When a task was completed (completeCrmTask); null while it is open.';
create index if not exists activities_lead_idx on app_public.activities (tenant_id, lead_id, occurred_at desc);
create index if not exists activities_deal_idx on app_public.activities (tenant_id, deal_id, occurred_at desc);
create index if not exists activities_user_idx on app_public.activities (user_id);

comment on column app_public.deals.deleted_at is 'Soft delete (softDeleteDeal): a deleted deal is not returned by any query of the API and comes back with restoreDeal; it is never deleted for good through the API.';
comment on column app_public.crm_accounts.deleted_at is 'Soft delete (softDeleteCrmAccount): set instead of deleting so deals keep their history; a deleted account is not returned by any query of the API and comes back with restoreCrmAccount.';
comment on column app_public.crm_accounts.parent_account_id is 'The account this one is part of; a hierarchy never loops (an account cannot be its own ancestor).';
