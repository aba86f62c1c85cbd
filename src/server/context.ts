/**
 * How a request becomes a database session: the bearer token is verified
 * (no database access for a bad token: the HTTP layer answers 401 before
 * anything else runs), and its claims become the request transaction's
 * settings. The role claim is mapped through an allow-list, never used as a
 * database role name directly.
 */
import type { IncomingMessage } from 'node:http';
import { AuthError, type Claims, type TokenService } from '../auth/jwt.ts';

const ROLES: Record<Claims['role'], string> = {
  member: 'penguinmails_member',
  staff: 'penguinmails_staff',
};

export const ANONYMOUS_ROLE = 'penguinmails_anonymous';

export type PgSettings = Record<string, string>;

type RequestLike = Pick<IncomingMessage, 'headers'>;

/** The bearer token of a request; null without an Authorization header. */
export function bearerToken(req: RequestLike): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthError('INVALID_TOKEN', 'The Authorization header must be "Bearer <token>".');
  return match[1]!;
}

// One verification per request, shared by the HTTP gate and the GraphQL context.
const verified = new WeakMap<object, Promise<Claims | null>>();

/**
 * The verified claims of a request (null when anonymous). Rejects with an
 * AuthError for a malformed, forged, expired or otherwise unacceptable token.
 */
export function authenticate(req: RequestLike, tokens: TokenService): Promise<Claims | null> {
  let result = verified.get(req);
  if (!result) {
    result = (async () => {
      const token = bearerToken(req);
      return token ? tokens.verify(token) : null;
    })();
    verified.set(req, result);
  }
  return result;
}

/**
 * The settings of a request acting for these claims. `role` and
 * `statement_timeout` are applied with set_config(…, true); the user and
 * tenant go to app_hidden.enter_request (see `requestEntry`).
 */
export function pgSettingsForClaims(claims: Claims | null, statementTimeoutMs: number): PgSettings {
  const base = { statement_timeout: String(statementTimeoutMs) };
  if (!claims) return { ...base, role: ANONYMOUS_ROLE };
  return {
    ...base,
    role: ROLES[claims.role],
    'app.current_user_id': claims.user_id,
    'app.current_tenant_id': claims.tenant_id ?? '',
    'app.current_session_id': claims.sid ?? '',
  };
}

export interface ContextOptions {
  tokens: TokenService;
  statementTimeoutMs: number;
}

/** The settings PostGraphile applies inside the request's transaction. */
export async function pgSettingsFor(req: RequestLike, options: ContextOptions): Promise<PgSettings> {
  return pgSettingsForClaims(await authenticate(req, options.tokens), options.statementTimeoutMs);
}

/**
 * How a request's transaction starts, whoever runs it (PostGraphile's adaptor
 * in src/server/pg-service.ts, withUserSession, the test personas): the role
 * and timeouts by set_config, then `app_hidden.enter_request(user, tenant)`,
 * which resolves the user's roles in the tenant once and records everything
 * as SET LOCAL settings (functions/001-request-context.sql). Null when the
 * settings name no user (anonymous): nothing to enter.
 */
export const ENTER_REQUEST_SQL = 'select app_hidden.enter_request($1::uuid, $2::uuid)';
/** As ENTER_REQUEST_SQL, for a token the platform signed: its session must still be open (functions/051-sessions.sql). */
export const ENTER_SESSION_SQL = 'select app_hidden.enter_session($1::uuid, $2::uuid, $3::uuid)';

export interface RequestEntry {
  text: string;
  values: (string | null)[];
}

export function requestEntry(settings: PgSettings): { config: PgSettings; enter: RequestEntry | null } {
  const { 'app.current_user_id': userId, 'app.current_tenant_id': tenantId, 'app.current_session_id': sessionId, ...config } = settings;
  if (!userId) return { config, enter: null };
  return {
    config,
    enter: sessionId
      ? { text: ENTER_SESSION_SQL, values: [sessionId, userId, tenantId || null] }
      : { text: ENTER_REQUEST_SQL, values: [userId, tenantId || null] },
  };
}
