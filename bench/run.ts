/**
 * `npm run bench`: generate a realistic data set (or reuse it), measure each
 * figure against its anchor in the same run, print the table and write
 * bench/results/<timestamp>.json and bench/results/latest.json.
 * See bench/README.md and docs/performance.md.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset, readDatasetInfo, type DatasetInfo } from './generate/dataset.ts';
import { RUNS } from './figures/index.ts';
import { makeContext, type BenchContext } from './lib/context.ts';
import { openBenchDatabase, rebuildSchema, tuneEmbeddedCluster } from './lib/database.ts';
import { dataSize, machineInfo } from './lib/machine.ts';
import { FIGURES, OptionsError, USAGE, parseOptions, type BenchOptions } from './lib/options.ts';
import { renderFigures, writeResults, type FigureResult } from './lib/report.ts';
import { declarativeChanged, gitRevision, revisionAtEnd } from './lib/revision.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const log = (line: string) => process.stdout.write(`${line}\n`);
const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  if (error instanceof OptionsError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
if (options.help) {
  log(USAGE);
  process.exit(0);
}

const startedAt = new Date();
const t0 = performance.now();
// What is measured is the tree at the start (the data set and the servers are
// built from it); a tree edited during the run is recorded as such.
const revisionAtStart = gitRevision();
const db = await openBenchDatabase();
let ctx: BenchContext | undefined;
let failed = false;
try {
  log(`PenguinMails benchmark — database ${db.urls.databaseName} (${db.embedded ? 'embedded PostgreSQL' : 'DATABASE_URL'})`);
  let dataset: DatasetInfo | null;
  if (options.skipGenerate) {
    dataset = await readDatasetInfo(db.urls.owner);
    if (!dataset) {
      throw new Error(`--skip-generate: database ${db.urls.databaseName} holds no complete benchmark data set; run once without --skip-generate.`);
    }
    log(`Reusing the data set generated ${dataset.generatedAt} (seed ${dataset.seed}, ${dataset.sizes.tenants} tenants, ${dataset.sizes.leads.toLocaleString('en-US')} leads, ${dataset.sizes.messages.toLocaleString('en-US')} messages).`);
    if (await declarativeChanged(db.urls.owner)) {
      log('  note: functions/ or policies/ changed since then; the API server re-applies them when it starts. If that fails, regenerate (run without --skip-generate).');
    }
  } else {
    const { tenants, leads, messages } = options.sizes;
    log(`Generating: seed ${options.seed}, ${tenants.toLocaleString('en-US')} tenants, ${leads.toLocaleString('en-US')} leads, ~${messages.toLocaleString('en-US')} messages`);
    const g0 = performance.now();
    if (db.embedded) await tuneEmbeddedCluster(db.urls.root!);
    await rebuildSchema(db.urls);
    log(`  schema rebuilt from the migrations in ${elapsed(g0)}`);
    dataset = await generateDataset(db.urls.owner, { seed: options.seed, sizes: options.sizes, log });
    log(`Data set ready in ${elapsed(g0)}`);
  }

  const machine = await machineInfo(db.urls.owner);
  log(`Machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.totalMemoryGb} GB; ${machine.postgres.split(' on ')[0]}; Node ${machine.node}`);
  ctx = await makeContext(db, options, dataset, log);

  const figures: FigureResult[] = [];
  for (const key of options.figures) {
    const figure = FIGURES.find((f) => f.key === key)!;
    const run = RUNS[key];
    const f0 = performance.now();
    log(`\n[${figure.number}] ${figure.title}`);
    const base = { key, number: figure.number, title: figure.title };
    if (!run) {
      figures.push({ ...base, measurements: [], comparisons: [], notes: [], skipped: 'not implemented yet' });
      log('  not implemented yet');
      continue;
    }
    try {
      const result = await run(ctx);
      figures.push({ ...base, ...result, seconds: Math.round((performance.now() - f0) / 100) / 10 });
      for (const c of result.comparisons) log(`  ${c.label}: ${c.reading} (ratio ${c.ratio})`);
      if (result.skipped) log(`  not measured: ${result.skipped}`);
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message : String(error);
      figures.push({ ...base, measurements: [], comparisons: [], notes: [], skipped: `failed: ${message}` });
      log(`  FAILED: ${error instanceof Error ? error.stack ?? message : message}`);
    }
    log(`  (${elapsed(f0)})`);
  }
  await ctx.close();

  const size = await dataSize(db.urls.owner);
  const finishedAt = new Date();
  const file = writeResults(RESULTS_DIR, {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    totalSeconds: Math.round((performance.now() - t0) / 100) / 10,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    options: { ...options },
    revision: revisionAtEnd(revisionAtStart),
    machine,
    dataset,
    dataSize: size,
    figures,
  });
  log(`\n${renderFigures(figures)}\n`);
  log(`Data: ${size.databaseSize} database; ${size.tables.slice(0, 6).map((t) => `${t.table.replace('app_public.', '')} ${t.rows.toLocaleString('en-US')}`).join(', ')}`);
  log(`Results: ${path.relative(process.cwd(), file)} (and latest.json, latest.md). Total ${elapsed(t0)}.`);
} catch (error) {
  failed = true;
  process.stderr.write(`\nBenchmark failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
} finally {
  await ctx?.close().catch(() => undefined);
  await db.close();
}
process.exit(failed ? 1 : 0);
