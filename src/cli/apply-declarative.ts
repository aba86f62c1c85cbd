/**
 * Re-applies functions/ and policies/ to GM_DBURL (set by graphile-migrate
 * when it runs this as an action) or DATABASE_URL. `--force` re-applies even
 * when the files did not change.
 */
import { applyDeclarative } from '../db/declarative.ts';
import { helpOnRequest } from './usage.ts';

helpOnRequest(`
Usage: node src/cli/apply-declarative.ts [--force]

Re-applies functions/ and policies/ (one transaction, skipped when their hash
is unchanged; --force applies anyway) to GM_DBURL or DATABASE_URL, the owner
role's connection string. graphile-migrate runs it after migrations.
`);

const url = process.env.GM_DBURL ?? process.env.DATABASE_URL;
if (!url || url.includes('GM_DBURL')) {
  console.error('apply-declarative: set GM_DBURL or DATABASE_URL to the owner connection string.');
  process.exit(2);
}
try {
  const { applied, hash } = await applyDeclarative(url, { force: process.argv.includes('--force') });
  console.log(`functions/ and policies/ ${applied ? 'applied' : 'unchanged'} (${hash.slice(0, 12)})`);
} catch (error) {
  console.error(`apply-declarative failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
