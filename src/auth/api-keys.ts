/**
 * API keys as bearer tokens: `Authorization: Bearer pm_…` on /graphql and
 * POST /imports/leads. The key is resolved once per request, before any
 * GraphQL runs: app_private.use_api_key (functions/052-api-keys.sql), on the
 * owner's pool in a transaction of its own, gets the SHA-256 of what was sent
 * (never the key itself), refuses revoked and expired keys, plans without API
 * access and keys over their plan's per-minute budget, records the use, and
 * answers with the key's tenant and scopes. The request then runs as
 * penguinmails_member entered with app_hidden.enter_api_key, so RLS and the
 * SQL functions enforce the scopes (src/server/context.ts).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type pg from 'pg';
import { clientIp } from '../tracking/request.ts';
import { AuthError } from './jwt.ts';

/** What every key starts with; a bearer token that does not is a JWT. */
export const API_KEY_PREFIX = 'pm_';

/** A request made with a live key of a tenant whose plan allows it. */
export interface ApiKeyCaller {
  role: 'api_key';
  api_key_id: string;
  tenant_id: string;
  scopes: string[];
}

export type ApiKeyRefusalCode = 'INVALID_TOKEN' | 'API_KEY_REVOKED' | 'API_KEY_EXPIRED' | 'API_ACCESS_NOT_IN_PLAN' | 'RATE_LIMITED';

/** Why a key was refused, with the HTTP status to answer (and, when rate limited, the seconds to wait). */
export class ApiKeyRefusal extends AuthError {
  override name = 'ApiKeyRefusal';
  readonly status: number;
  readonly retryAfter: number | null;
  constructor(code: ApiKeyRefusalCode, status: number, message: string, retryAfter: number | null = null) {
    super(code, message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export interface ApiKeyResolver {
  /** The caller behind a key; throws ApiKeyRefusal when it may not be used now. */
  resolve(key: string, req: Pick<IncomingMessage, 'headers'> & Partial<Pick<IncomingMessage, 'socket'>>): Promise<ApiKeyCaller>;
}

export function isApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/** How a key is stored and looked up: SHA-256 of the whole key (app_private.hash_token does the same in SQL). */
export function apiKeyHash(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

interface UseRow {
  outcome: 'ok' | 'unknown' | 'revoked' | 'expired' | 'no_api_access' | 'rate_limited';
  api_key_id: string | null;
  tenant_id: string | null;
  scopes: string[] | null;
  rate_limit: number | null;
  retry_after: number | null;
}

function refusal(row: UseRow): ApiKeyRefusal {
  switch (row.outcome) {
    case 'revoked':
      return new ApiKeyRefusal('API_KEY_REVOKED', 401, 'This API key has been revoked; ask an admin of your organisation for a new one.');
    case 'expired':
      return new ApiKeyRefusal('API_KEY_EXPIRED', 401, 'This API key has expired; ask an admin of your organisation for a new one.');
    case 'no_api_access':
      return new ApiKeyRefusal('API_ACCESS_NOT_IN_PLAN', 403, "Your organisation's plan does not include API access; upgrade the plan to use API keys.");
    case 'rate_limited':
      return new ApiKeyRefusal(
        'RATE_LIMITED',
        429,
        `Too many requests with this API key: the plan allows ${row.rate_limit} per minute. Retry in ${row.retry_after} s.`,
        row.retry_after ?? 1,
      );
    default:
      return new ApiKeyRefusal('INVALID_TOKEN', 401, 'The API key is not valid (unknown, or replaced by a rotation).');
  }
}

export interface ApiKeyResolverOptions {
  /** The owner's pool: the look-up and its bookkeeping run in a transaction of their own. */
  ownerPool: pg.Pool;
  /** TRUST_PROXY: the client address (recorded as last_used_ip) from X-Forwarded-For. */
  trustProxy: boolean;
}

export function makeApiKeyResolver(options: ApiKeyResolverOptions): ApiKeyResolver {
  return {
    async resolve(key, req) {
      const { rows: [row] } = await options.ownerPool.query<UseRow>('select * from app_private.use_api_key($1::bytea, $2)', [
        apiKeyHash(key),
        req.socket ? clientIp(req as IncomingMessage, options.trustProxy) : null,
      ]);
      if (!row || row.outcome !== 'ok') throw refusal(row ?? ({ outcome: 'unknown' } as UseRow));
      return { role: 'api_key', api_key_id: row.api_key_id!, tenant_id: row.tenant_id!, scopes: row.scopes ?? [] };
    },
  };
}
