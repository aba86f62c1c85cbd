/**
 * Configuration, read once from the environment and validated with zod, so a
 * bad setting stops start-up with a message naming the variable.
 */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string');

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_URL: z.string().url().optional(),  // base of tracking and unsubscribe links (default: the server's own URL)
    APP_URL: z.string().url().default('http://localhost:3000'),
    SYSTEM_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    MAIL_FROM: z.string().default('PenguinMails <no-reply@penguinmails.localhost>'),

    DATABASE_URL: postgresUrl.optional(),
    SHADOW_DATABASE_URL: postgresUrl.optional(),
    ROOT_DATABASE_URL: postgresUrl.optional(),
    AUTH_DATABASE_URL: postgresUrl.optional(),
    AUTHENTICATOR_PASSWORD: z.string().min(12).optional(),
    PM_DATA_DIR: z.string().default('.data'),
    PM_EMBEDDED_PG_PORT: z.coerce.number().int().min(1024).max(65535).default(54329),

    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_ISSUER: z.string().default('penguinmails'),
    JWT_AUDIENCE: z.string().default('penguinmails-api'),
    JWT_JWKS_URL: z.string().url().optional(),
    JWT_JWKS_ISSUER: z.string().optional(),
    JWT_JWKS_AUDIENCE: z.string().optional(),

    PM_SECRETS_KEY: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, 'must be 64 hex characters (a 256-bit key)')
      .optional(),

    CORS_ORIGINS: csv.default([]),
    GRAPHIQL: bool.optional(),
    INTROSPECTION: bool.optional(),
    MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(10000).default(100),
    MAX_QUERY_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
    MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_000_000),
    STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),

    WORKER: bool.default(true),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production') {
      for (const key of ['DATABASE_URL', 'JWT_SECRET', 'PM_SECRETS_KEY', 'AUTHENTICATOR_PASSWORD'] as const) {
        if (!env[key] && !(key === 'JWT_SECRET' && env.JWT_JWKS_URL)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'is required in production' });
        }
      }
    }
  });

export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError listing every bad variable. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
