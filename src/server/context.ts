/**
 * How a request becomes a database session: the bearer token is verified
 * (no database access for a bad token: it fails with HTTP 401), and its
 * claims become the request transaction's settings. The role claim is mapped
 * through an allow-list, never used as a database role name directly.
 */
import type { IncomingMessage } from 'node:http';
import { AuthError, type Claims, type TokenService } from '../auth/jwt.ts';

const ROLES: Record<Claims['role'], string> = {
  member: 'penguinmails_member',
  staff: 'penguinmails_staff',
};

export interface ContextOptions {
  tokens: TokenService;
  statementTimeoutMs: number;
}

export function bearerToken(req: Pick<IncomingMessage, 'headers'>): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthError('INVALID_TOKEN', 'The Authorization header must be "Bearer <token>".');
  return match[1]!;
}

export type PgSettings = Record<string, string>;

/** The settings PostGraphile applies (set_config(…, true)) inside the request's transaction. */
export async function pgSettingsFor(req: Pick<IncomingMessage, 'headers'>, options: ContextOptions): Promise<PgSettings> {
  const base = { statement_timeout: String(options.statementTimeoutMs) };
  const token = bearerToken(req);
  if (!token) return { ...base, role: 'penguinmails_anonymous' };
  const claims = await options.tokens.verify(token);
  return {
    ...base,
    role: ROLES[claims.role],
    'app.current_user_id': claims.user_id,
    'app.current_tenant_id': claims.tenant_id ?? '',
  };
}
