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

/** The settings applied (set_config(…, true)) inside the transaction of a request acting for these claims. */
export function pgSettingsForClaims(claims: Claims | null, statementTimeoutMs: number): PgSettings {
  const base = { statement_timeout: String(statementTimeoutMs) };
  if (!claims) return { ...base, role: ANONYMOUS_ROLE };
  return {
    ...base,
    role: ROLES[claims.role],
    'app.current_user_id': claims.user_id,
    'app.current_tenant_id': claims.tenant_id ?? '',
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
