set local lock_timeout = '5s';
set local statement_timeout = '10min';

--------------------------------------------------------------------------------
-- The unified inbox: conversations (a thread with a lead, both directions),
-- which messages belong to each and whether they were read, and the lead's
-- interest as a member judged it. Kept by functions/157-conversations.sql.
--------------------------------------------------------------------------------

-- A new nullable column: no rewrite. The constraint is NOT VALID (the column
-- is null everywhere); the next migration validates it.
alter table app_public.leads add column if not exists interest_status text;
alter table app_public.leads drop constraint if exists leads_interest_status_check;
alter table app_public.leads add constraint leads_interest_status_check
  check (interest_status in ('interested', 'not_interested', 'meeting_booked', 'out_of_office', 'wrong_person')) not valid;
comment on column app_public.leads.interest_status is 'How interested the lead is, as a member judged it from a conversation (setLeadInterestStatus): interested, not_interested, meeting_booked, out_of_office or wrong_person; null until someone says.';

create table if not exists app_public.conversations (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  id uuid not null default app_public.uuid_v7(),
  lead_id uuid not null,
  email_account_id uuid,
  campaign_id uuid,
  enrollment_id uuid,
  root_message_id uuid not null,
  subject text check (length(subject) <= 998),
  last_message_id uuid,
  last_message_at timestamptz,
  last_direction text check (last_direction in ('inbound', 'outbound')),
  message_count integer not null default 0 check (message_count >= 0),
  unread_count integer not null default 0 check (unread_count >= 0),
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint conversations_root_key unique (tenant_id, root_message_id),
  foreign key (tenant_id, lead_id) references app_public.leads (tenant_id, id) on delete cascade,
  foreign key (tenant_id, email_account_id) references app_public.email_accounts (tenant_id, id) on delete set null (email_account_id),
  foreign key (tenant_id, campaign_id) references app_public.campaigns (tenant_id, id) on delete set null (campaign_id),
  foreign key (tenant_id, enrollment_id) references app_public.campaign_enrollments (tenant_id, id) on delete set null (enrollment_id),
  foreign key (tenant_id, root_message_id) references app_public.messages (tenant_id, id) on delete cascade,
  foreign key (tenant_id, last_message_id) references app_public.messages (tenant_id, id) on delete set null (last_message_id)
);
comment on table app_public.conversations is 'A thread with a lead in one inbox, both directions: started when the lead first answers (a reply or an auto-reply to a campaign message), then holding the campaign messages of that thread, the lead''s answers and the replies members send from the platform (sendReply). Kept by the database; list them newest first with inboxConversations.';
comment on column app_public.conversations.root_message_id is 'The first outbound message of the thread (the campaign''s first email to the lead in this enrollment).';
comment on column app_public.conversations.enrollment_id is 'The campaign enrollment whose emails form the thread (later emails of it join the conversation when sent).';
comment on column app_public.conversations.subject is 'The thread''s subject (of its first message); replies from the platform use "Re: " and this.';
comment on column app_public.conversations.last_message_id is 'The newest message of the conversation, either direction.';
comment on column app_public.conversations.last_message_at is 'When the newest message was written or received (conversations are listed newest first by this).';
comment on column app_public.conversations.last_direction is 'inbound when the lead wrote last, outbound when we did.';
comment on column app_public.conversations.unread_count is 'Messages from the lead nobody has marked read yet.';

create index if not exists conversations_recent_idx on app_public.conversations (tenant_id, last_message_at desc, id desc);
create index if not exists conversations_lead_idx on app_public.conversations (tenant_id, lead_id);
create index if not exists conversations_account_idx on app_public.conversations (tenant_id, email_account_id, last_message_at desc);
create index if not exists conversations_campaign_idx on app_public.conversations (tenant_id, campaign_id, last_message_at desc);
create index if not exists conversations_enrollment_idx on app_public.conversations (tenant_id, enrollment_id);
create index if not exists conversations_last_message_idx on app_public.conversations (tenant_id, last_message_id);

create table if not exists app_public.conversation_messages (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants (id) on delete cascade,
  conversation_id uuid not null,
  message_id uuid not null,
  direction text not null check (direction in ('inbound', 'outbound')),
  message_created timestamptz not null,
  read_at timestamptz,
  reply_html text check (length(reply_html) <= 500000),
  sent_by uuid references app_public.users (id) on delete set null,
  created timestamptz not null default now(),
  updated timestamptz not null default now(),
  primary key (tenant_id, conversation_id, message_id),
  constraint conversation_messages_message_key unique (tenant_id, message_id),
  foreign key (tenant_id, conversation_id) references app_public.conversations (tenant_id, id) on delete cascade,
  foreign key (tenant_id, message_id) references app_public.messages (tenant_id, id) on delete cascade
);
comment on table app_public.conversation_messages is 'Which messages a conversation holds (a message is in one conversation at most), in both directions, and whether a member has read the lead''s ones (markConversationRead, markMessageRead).';
comment on column app_public.conversation_messages.message_created is 'The message''s own time (messages.created), for ordering without reading messages.';
comment on column app_public.conversation_messages.read_at is 'When a member marked this inbound message read; null is unread. Outbound messages are never unread.';
comment on column app_public.conversation_messages.reply_html is 'The HTML a member wrote for a reply sent from the platform (the message keeps its text in messages.body_text).';
comment on column app_public.conversation_messages.sent_by is 'The member who wrote this reply from the platform; null for campaign messages and the lead''s.';

create index if not exists conversation_messages_thread_idx on app_public.conversation_messages (tenant_id, conversation_id, message_created desc);
create index if not exists conversation_messages_sent_by_idx on app_public.conversation_messages (sent_by);
