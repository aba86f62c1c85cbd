--------------------------------------------------------------------------------
-- Which helpers of the request context stay out of the GraphQL API (they are
-- defined by the first migration, which column defaults depend on). Smart
-- comments: `@behavior -*` removes a function from the API entirely.
--------------------------------------------------------------------------------

comment on function app_public.current_user_id() is E'@behavior -*\nThe signed-in user, from the verified token (null when anonymous). Use currentUser in the API.';
comment on function app_public.current_tenant_id() is E'@behavior -*\nThe tenant of this request, only while the user is an active member of it (or holds a live staff access session); null otherwise. Every tenant policy compares against it. Use currentTenant in the API.';
comment on function app_public.has_tenant_role(text) is E'@behavior -*\nTrue when the current user holds at least the given tenant role (owner > admin > member > viewer).';
comment on function app_public.current_staff_has_permission(text) is E'@behavior -*\nTrue when the signed-in user is staff and their staff role grants the named permission.';
comment on function app_public.uuid_v7(timestamptz) is E'@behavior -*\nA version 7 UUID whose first 48 bits are the given time in milliseconds (default: now).';
comment on function app_public.uuid_v7_time(uuid) is E'@behavior -*\nThe creation time encoded in a version 7 UUID.';
comment on function app_public.current_tenant_roles() is 'Your roles in the organisation your token names: owner, admin, member, viewer (staff access sessions act as viewer or admin). Empty when you may not act in it.';
