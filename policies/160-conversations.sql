--------------------------------------------------------------------------------
-- The unified inbox (functions/157-conversations.sql). Conversations and
-- their messages are kept by the database and changed only through the
-- functions below (read state, replies, the lead's interest), so members read
-- them and call the functions; each function checks the caller is a member or
-- above of the conversation's tenant. leads.interest_status has no column
-- grant: it changes only through set_lead_interest_status, which audits it.
--------------------------------------------------------------------------------

select app_private.apply_tenant_policies('app_public.conversations', write_role => null);
grant select on app_public.conversations to penguinmails_member;

select app_private.apply_tenant_policies('app_public.conversation_messages', write_role => null);
grant select on app_public.conversation_messages to penguinmails_member;

grant execute on function
  app_public.inbox_conversations(uuid, uuid, boolean, text, text),
  app_public.mark_conversation_read(uuid, boolean),
  app_public.mark_message_read(uuid, boolean),
  app_public.set_lead_interest_status(uuid, text),
  app_public.send_reply(uuid, text, text)
to penguinmails_member;
