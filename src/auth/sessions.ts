/**
 * A new session and its token: app_hidden.open_session records it
 * (functions/051-sessions.sql) and the token names it in its `sid` claim, so
 * that signing out or a password change or reset can end it. Sign-in
 * operations open theirs inside their own transaction
 * (plugins/session-mutations.ts); the benchmark and tests that need a token
 * without signing in use this.
 */
import type { SessionClaims, TokenService } from './jwt.ts';

interface Queryable {
  query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[] }>;
}

export const OPEN_SESSION_SQL = 'select app_hidden.open_session($1::uuid, $2::timestamptz) as id';

/** Opens a session for the claims' user (db: a client allowed to call app_hidden.open_session) and signs its token. */
export async function signNewSession(db: Queryable, tokens: TokenService, claims: Omit<SessionClaims, 'session_id'>): Promise<string> {
  const { rows: [session] } = await db.query<{ id: string }>(OPEN_SESSION_SQL, [claims.user_id, claims.expires_at]);
  return tokens.sign({ ...claims, session_id: session!.id });
}
