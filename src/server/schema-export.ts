/**
 * The GraphQL schema as SDL, built from a migrated database exactly as the
 * server builds it. `npm run schema:export` writes schema.graphql; a test fails
 * when the committed file drifts from the live schema.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { makeSchema } from 'postgraphile';
import { lexicographicSortSchema, printSchema } from 'postgraphile/graphql';
import { makeTokenService } from '../auth/jwt.ts';
import type { DatabaseUrls } from '../db/database.ts';
import { makePreset, type PresetOptions } from './preset.ts';

/** makePreset's options for building the schema only (no server): nothing is sealed, signed or served. */
export function schemaOnlyPresetOptions(pool: pg.Pool): PresetOptions {
  return {
    pool,
    tokens: makeTokenService({ secret: 'schema-export-only-'.padEnd(40, 'x'), issuer: 'x', audience: 'x' }),
    graphiql: false,
    introspection: true,
    maxPageSize: 100,
    maxQueryDepth: 12,
    maxBodyBytes: 1_000_000,
    statementTimeoutMs: 10_000,
    // Building the schema seals and signs nothing: any key will do.
    sending: { secretsKey: randomBytes(32).toString('hex') },
  };
}

export async function exportSchemaSDL(urls: DatabaseUrls): Promise<string> {
  const pool = new pg.Pool({ connectionString: urls.authenticator, max: 2 });
  try {
    const { schema } = await makeSchema(makePreset(schemaOnlyPresetOptions(pool)));
    return printSchema(lexicographicSortSchema(schema)) + '\n';
  } finally {
    await pool.end();
  }
}
