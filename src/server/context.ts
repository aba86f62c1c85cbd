/**
 * How a request becomes a database session: the bearer token is verified
 * (no database access for a bad token: the HTTP layer answers 401 before
 * anything else runs), and its claims become the request transaction's
 * settings. The role claim is mapped through an allow-list, never used as a
 * database role name directly. An API key (`pm_…`, src/auth/api-keys.ts) is
 * resolved by the database instead, once per request, and the request runs
 * as a member entered with the key (app_hidden.enter_api_key).
 */
import type { IncomingMessage } from 'node:http';
import { isApiKey, type ApiKeyCaller, type ApiKeyResolver } from '../auth/api-keys.ts';
import { AuthError, type Claims, type TokenService } from '../auth/jwt.ts';

/** Who makes a request: a token's claims or an API key. */
export type Caller = Claims | ApiKeyCaller;

/** What verifies bearer credentials: JWTs, and API keys where the server resolves them. */
export interface Credentials {
  tokens: TokenService;
  apiKeys?: ApiKeyResolver;
}

const ROLES: Record<Claims['role'], string> = {
  member: 'penguinmails_member',
  staff: 'penguinmails_staff',
};

export const ANONYMOUS_ROLE = 'penguinmails_anonymous';

export type PgSettings = Record<string, string>;

/** A request, or just its headers (the benchmark builds settings from a token alone). */
type RequestLike = Pick<IncomingMessage, 'headers'> & Partial<Pick<IncomingMessage, 'socket'>>;

/** The bearer token of a request; null without an Authorization header. */
export function bearerToken(req: RequestLike): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthError('INVALID_TOKEN', 'The Authorization header must be "Bearer <token>".');
  return match[1]!;
}

// One verification per request, shared by the HTTP gate and the GraphQL context.
const verified = new WeakMap<object, Promise<Caller | null>>();

/**
 * The verified caller of a request (null when anonymous). Rejects with an
 * AuthError for a malformed, forged, expired or otherwise unacceptable token,
 * and with an ApiKeyRefusal for a key that may not be used now.
 */
export function authenticate(req: RequestLike, credentials: Credentials): Promise<Caller | null> {
  let result = verified.get(req);
  if (!result) {
    result = (async () => {
      const token = bearerToken(req);
      if (!token) return null;
      if (!isApiKey(token)) return credentials.tokens.verify(token);
      if (!credentials.apiKeys) throw new AuthError('INVALID_TOKEN', 'API keys are not accepted here.');
      return credentials.apiKeys.resolve(token, req);
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
export function pgSettingsForClaims(claims: Caller | null, statementTimeoutMs: number): PgSettings {
  const base = { statement_timeout: String(statementTimeoutMs) };
  if (!claims) return { ...base, role: ANONYMOUS_ROLE };
  if (claims.role === 'api_key') {
    return { ...base, role: ROLES.member, 'app.current_tenant_id': claims.tenant_id, 'app.api_key_id': claims.api_key_id };
  }
  return {
    ...base,
    role: ROLES[claims.role],
    'app.current_user_id': claims.user_id,
    'app.current_tenant_id': claims.tenant_id ?? '',
    'app.current_session_id': claims.sid ?? '',
  };
}

export interface ContextOptions extends Credentials {
  statementTimeoutMs: number;
}

/** The settings PostGraphile applies inside the request's transaction. */
export async function pgSettingsFor(req: RequestLike, options: ContextOptions): Promise<PgSettings> {
  return pgSettingsForClaims(await authenticate(req, options), options.statementTimeoutMs);
}

type EntryFunction = 'app_hidden.enter_request' | 'app_hidden.enter_session' | 'app_hidden.enter_api_key';

/** `fn($first::uuid, …)` for `count` uuid arguments. */
const entryCall = (fn: EntryFunction, count: number, first = 1) =>
  `${fn}(${Array.from({ length: count }, (_, i) => `$${first + i}::uuid`).join(', ')})`;

/**
 * `app_hidden.enter_request(user, tenant)` on its own, for a session whose
 * role is already set (the Citus test fixtures): it resolves the user's roles
 * in the tenant once and records everything as SET LOCAL settings
 * (functions/001-request-context.sql). A request made through the API starts
 * with requestStart, below.
 */
export const ENTER_REQUEST_SQL = `select ${entryCall('app_hidden.enter_request', 2)}`;

/**
 * The entry function of a request and its arguments: enter_request; for a
 * token the platform signed enter_session, whose session must still be open
 * (functions/051-sessions.sql); for an API key the request resolved
 * (src/auth/api-keys.ts) enter_api_key, whose key must still be live
 * (functions/052-api-keys.sql). Null when the settings name no user
 * (anonymous): nothing to enter.
 */
export interface RequestEntry {
  fn: EntryFunction;
  values: (string | null)[];
}

export function requestEntry(settings: PgSettings): { config: PgSettings; enter: RequestEntry | null } {
  const { 'app.current_user_id': userId, 'app.current_tenant_id': tenantId, 'app.current_session_id': sessionId, 'app.api_key_id': apiKeyId, ...config } = settings;
  if (apiKeyId) return { config, enter: { fn: 'app_hidden.enter_api_key', values: [apiKeyId, tenantId || null] } };
  if (!userId) return { config, enter: null };
  return {
    config,
    enter: sessionId
      ? { fn: 'app_hidden.enter_session', values: [sessionId, userId, tenantId || null] }
      : { fn: 'app_hidden.enter_request', values: [userId, tenantId || null] },
  };
}

/** The statement that applies a request's settings with set_config (transaction-local), one row. */
export const APPLY_SETTINGS_SQL = 'select count(pg_catalog.set_config(el->>0, el->>1, true)) as n from pg_catalog.json_array_elements($1::json) el';

/**
 * A request's start as one statement: the settings applied, then the entry
 * function called with them in force. The aggregate subquery finishes every
 * set_config before its one row reaches the outer call, so the entry sees
 * the request's role (staff powers depend on it) and `app.account_setup`.
 * One round trip instead of two; on a sub-millisecond query that round trip
 * was most of what RLS appeared to cost (docs/performance.md, findings 12).
 * EXECUTE on the entry functions is checked before the role is set, so the
 * authenticator holds it (policies/000-reset-and-helpers.sql).
 */
export function requestStart(settings: PgSettings): { text: string; values: (string | null)[] } {
  const { config, enter } = requestEntry(settings);
  const values = [JSON.stringify(Object.entries(config))];
  if (!enter) return { text: APPLY_SETTINGS_SQL, values };
  return { text: `select ${entryCall(enter.fn, enter.values.length, 2)} from (${APPLY_SETTINGS_SQL}) settings`, values: [...values, ...enter.values] };
}
