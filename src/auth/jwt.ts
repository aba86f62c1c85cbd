/**
 * Session tokens. We sign HS256 tokens for our own sessions; verification
 * also accepts RS256/ES256 tokens from an external identity provider's JWKS.
 * Signature, exp, nbf, issuer and audience are checked, `alg: none` and any
 * algorithm not listed are refused, and the claims are validated with zod
 * before anything reaches the database.
 */
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Env } from '../config.ts';

export const ClaimsSchema = z.object({
  role: z.enum(['member', 'staff']),
  user_id: z.uuid(),
  tenant_id: z.uuid().nullable().optional(),
  /** The session (app_private.user_sessions) of a token the platform signed; checked on every request. */
  sid: z.uuid().optional(),
  exp: z.number(),
});
export type Claims = z.infer<typeof ClaimsSchema>;

export interface SessionClaims {
  role: 'member' | 'staff';
  user_id: string;
  tenant_id: string | null;
  /** From app_hidden.open_session. */
  session_id: string;
  expires_at: Date;
}

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
  jwksUrl?: string;
  jwksIssuer?: string;
  jwksAudience?: string;
}

export class AuthError extends Error {
  override name = 'AuthError';
  readonly statusCode = 401;
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface TokenService {
  sign(session: SessionClaims): Promise<string>;
  verify(token: string): Promise<Claims>;
}

export function makeTokenService(settings: JwtSettings): TokenService {
  const key = new TextEncoder().encode(settings.secret);
  const jwks: JWTVerifyGetKey | undefined = settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : undefined;

  return {
    async sign(session) {
      return new SignJWT({ role: session.role, user_id: session.user_id, tenant_id: session.tenant_id, sid: session.session_id })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(session.user_id)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt()
        .setExpirationTime(Math.floor(session.expires_at.getTime() / 1000))
        .sign(key);
    },

    async verify(token) {
      let alg: string | undefined;
      try {
        alg = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')).alg;
      } catch {
        throw new AuthError('INVALID_TOKEN', 'The bearer token is not a well-formed JWT.');
      }
      if (!alg || alg === 'none') {
        throw new AuthError('INVALID_TOKEN', 'Unsigned tokens (alg "none") are not accepted.');
      }
      try {
        const { payload } =
          alg === 'HS256'
            ? await jwtVerify(token, key, { algorithms: ['HS256'], issuer: settings.issuer, audience: settings.audience, requiredClaims: ['exp'] })
            : jwks && ['RS256', 'ES256'].includes(alg)
              ? await jwtVerify(token, jwks, {
                  algorithms: ['RS256', 'ES256'],
                  issuer: settings.jwksIssuer ?? settings.issuer,
                  audience: settings.jwksAudience ?? settings.audience,
                  requiredClaims: ['exp'],
                })
              : failAlgorithm(alg);
        const claims = ClaimsSchema.safeParse(payload);
        if (!claims.success) {
          const fields = [...new Set(claims.error.issues.map((i) => i.path.join('.')))].join(', ');
          throw new AuthError('INVALID_TOKEN', `The token's claims are missing or invalid: ${fields}.`);
        }
        // Our own tokens are revocable: each names its session.
        if (alg === 'HS256' && !claims.data.sid) {
          throw new AuthError('INVALID_TOKEN', 'The token names no session (it predates revocable sessions); sign in again.');
        }
        return claims.data;
      } catch (error) {
        throw toAuthError(error);
      }
    },
  };
}

function failAlgorithm(alg: string): never {
  throw new AuthError('INVALID_TOKEN', `Tokens signed with ${alg} are not accepted.`);
}

function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof errors.JWTExpired) return new AuthError('TOKEN_EXPIRED', 'The token has expired; sign in again.');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    if (error.reason === 'missing') return new AuthError('INVALID_TOKEN', `The token has no "${claim}" claim.`);
    if (claim === 'nbf') return new AuthError('INVALID_TOKEN', 'The token is not valid yet (nbf is in the future).');
    if (claim === 'aud') return new AuthError('INVALID_TOKEN', 'The token was issued for another audience.');
    if (claim === 'iss') return new AuthError('INVALID_TOKEN', 'The token was issued by an unknown issuer.');
    return new AuthError('INVALID_TOKEN', `The token's "${claim}" claim is invalid.`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new AuthError('INVALID_TOKEN', 'The token signature is invalid.');
  if (error instanceof errors.JOSEAlgNotAllowed) return new AuthError('INVALID_TOKEN', 'The token is signed with an algorithm that is not accepted.');
  if (error instanceof errors.JWKSNoMatchingKey) return new AuthError('INVALID_TOKEN', 'No key of the identity provider matches this token (unknown "kid").');
  if (error instanceof errors.JWKSTimeout) return new AuthError('INVALID_TOKEN', "The identity provider's keys could not be fetched in time; try again.");
  if (error instanceof errors.JOSEError) return new AuthError('INVALID_TOKEN', 'The bearer token is not a valid JWT.');
  return new AuthError('INVALID_TOKEN', 'The bearer token could not be verified.');
}

/** The session tokens the API signs and verifies with this configuration (JWT_* settings). */
export function tokenServiceOf(env: Env, jwtSecret: string): TokenService {
  return makeTokenService({
    secret: jwtSecret,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    jwksUrl: env.JWT_JWKS_URL,
    jwksIssuer: env.JWT_JWKS_ISSUER,
    jwksAudience: env.JWT_JWKS_AUDIENCE,
  });
}
