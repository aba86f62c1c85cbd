/**
 * `npm run lint:migrations [files…]`: squawk (https://squawkhq.com) over the
 * migrations committed from 000005 on and over migrations/current/, with the
 * rules docs/CONVENTIONS.md states for large, live tables (timeouts, NOT
 * VALID, concurrent indexes, …). 000001–000004 predate the rules: they are
 * the recorded baseline and are not linted. Each file is linted as
 * graphile-migrate runs it: inside a transaction, unless it starts with
 * `--! no-transaction`. Exits non-zero on any finding.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The last migration committed before the rules: the baseline. */
const BASELINE = 4;
/**
 * Rules left out, and why:
 * - prefer-bigint-over-int: counters and job arguments here are bounded
 *   (graphile-worker's own add_job takes integers), and ids are uuids.
 */
const EXCLUDED = ['prefer-bigint-over-int'];

function defaultFiles(): string[] {
  const committed = path.join('migrations', 'committed');
  const current = path.join('migrations', 'current');
  return [
    ...readdirSync(committed)
      .filter((f) => /^\d{6}-.*\.sql$/.test(f) && Number(f.slice(0, 6)) > BASELINE)
      .map((f) => path.join(committed, f)),
    ...readdirSync(current).filter((f) => f.endsWith('.sql')).map((f) => path.join(current, f)),
  ].sort();
}

/**
 * squawk's binary for this machine. The registry these machines use has the
 * linux-x64 build only (@squawk-cli/linux-x64, an optional dependency: npm
 * skips it elsewhere), not the squawk-cli wrapper's other platforms.
 */
const squawk = path.join('node_modules', '@squawk-cli', `${process.platform}-${process.arch}`, 'bin', 'squawk');
if (!existsSync(squawk)) {
  process.stderr.write(`lint:migrations: ${squawk} is missing: squawk is installed for linux-x64 only (npm package @squawk-cli/linux-x64); run the migration lint on such a machine.\n`);
  process.exit(1);
}

const files = process.argv.length > 2 ? process.argv.slice(2) : defaultFiles();
let failed = 0;
for (const file of files) {
  const inTransaction = !/^--! no-transaction\b/m.test(readFileSync(file, 'utf8').split('\n\n')[0] ?? '');
  const result = spawnSync(
    squawk,
    ['--reporter', 'gcc', '--pg-version', '15.0', `--exclude=${EXCLUDED.join(',')}`, ...(inTransaction ? ['--assume-in-transaction'] : []), file],
    { encoding: 'utf8' },
  );
  if (result.error) throw result.error;
  if (result.status !== 0) {
    failed++;
    process.stderr.write(result.stdout + result.stderr);
  }
}
if (failed) {
  process.stderr.write(`lint:migrations: ${failed} of ${files.length} migration file(s) break the rules in docs/CONVENTIONS.md ("Migrations on large, live tables")\n`);
  process.exit(1);
}
console.log(`lint:migrations: ${files.length} migration file(s) pass squawk (baseline: 000001–${String(BASELINE).padStart(6, '0')} not linted)`);
