/**
 * plugins/behavior-match-cache.ts answers graphile-build's entityMatches from
 * its own parse of the behavior strings: the schema built with it must be the
 * schema graphile-build builds alone. A new graphile-build whose behavior
 * matching changed fails here (schema.test.ts would not notice: the committed
 * schema.graphql is exported with the plugin too).
 */
import pg from 'pg';
import { makeSchema } from 'postgraphile';
import { lexicographicSortSchema, printSchema } from 'postgraphile/graphql';
import { BehaviorMatchCachePlugin } from '../../plugins/behavior-match-cache.ts';
import { makePreset } from '../../src/server/preset.ts';
import { schemaOnlyPresetOptions } from '../../src/server/schema-export.ts';
import { isolatedDatabase } from '../helpers/api.ts';

// A clone: a connection to the template itself would stop other files cloning it.
let database: Awaited<ReturnType<typeof isolatedDatabase>>;
let pool: pg.Pool;
beforeAll(async () => {
  database = await isolatedDatabase('behavior_cache');
  pool = new pg.Pool({ connectionString: database.urls.authenticator, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await database.drop();
});

async function sdl(withCache: boolean): Promise<string> {
  const preset = makePreset(schemaOnlyPresetOptions(pool));
  const plugins = (preset.plugins ?? []).filter((p) => withCache || p !== BehaviorMatchCachePlugin);
  expect(plugins.includes(BehaviorMatchCachePlugin)).toBe(withCache);
  const { schema } = await makeSchema({ ...preset, plugins });
  return printSchema(lexicographicSortSchema(schema));
}

test('the schema built with the behavior cache is the schema built without it', async () => {
  // Without first: the cache wraps graphile-build's Behavior prototype for the rest of the process.
  const without = await sdl(false);
  const withCache = await sdl(true);
  expect(withCache.length).toBeGreaterThan(100_000);
  expect(withCache).toBe(without);
}, 120_000);
