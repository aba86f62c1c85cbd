/**
 * `npm run bench -- [flags]`: parsed with node:util and validated with zod,
 * so a bad flag stops the run with a message naming it.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const FIGURES = [
  { number: 1, key: 'graphql-read', title: 'GraphQL read' },
  { number: 2, key: 'graphql-aggregates', title: 'GraphQL aggregates' },
  { number: 3, key: 'rls', title: 'RLS overhead' },
  { number: 4, key: 'graphql-write', title: 'GraphQL write' },
  { number: 5, key: 'jobs', title: 'Jobs' },
  { number: 6, key: 'sends', title: 'Sends' },
  { number: 7, key: 'import', title: 'Import' },
  { number: 8, key: 'memory', title: 'Memory' },
  { number: 9, key: 'citus', title: 'Citus vs one node' },
  { number: 10, key: 'webhooks', title: 'Webhooks' },
] as const;
export type FigureKey = (typeof FIGURES)[number]['key'];

export const DEFAULT_SIZES = { tenants: 1_000, leads: 1_000_000, messages: 5_000_000 } as const;

/** The default --scale with --citus: the data set is generated a second time, on the cluster. */
export const CITUS_DEFAULT_SCALE = 0.05;

/** Figures a run without --only leaves out: the Citus figure starts and loads a cluster of its own. */
const OPT_IN: readonly FigureKey[] = ['citus'];

export const USAGE = `Usage: npm run bench -- [options]

  --scale N          multiply the default data set (${DEFAULT_SIZES.tenants.toLocaleString('en-US')} tenants, ${DEFAULT_SIZES.leads.toLocaleString('en-US')} leads,
                     ${DEFAULT_SIZES.messages.toLocaleString('en-US')} messages) by N (default 1; e.g. 10, or 0.1 for a quick run)
  --tenants N, --leads N, --messages N
                     set one size explicitly (after --scale)
  --seed N           data generator seed (default 42)
  --skip-generate    reuse the data set already in the benchmark database
  --only LIST        run only these figures: numbers or names, comma-separated
                     (${FIGURES.map((f) => `${f.number} ${f.key}`).join(', ')})
  --duration S       seconds per measured run (default 10; a warm-up precedes each)
  --concurrency N    concurrent clients for the throughput figures (default 32)
  --citus            figure 9: start a throw-away Citus cluster (a coordinator and 2 workers on
                     this machine), generate the same data set there and measure GraphQL read
                     and createLead on the cluster against the one-node database. Alone it runs
                     figure 9 only (add --only for others) at --scale ${CITUS_DEFAULT_SCALE} unless --scale or
                     a size is given. The one-node database is regenerated at that scale too
                     (with --skip-generate its data set is reused and copied to the cluster).
  --help             this text

Environment: DATABASE_URL (+ ROOT_DATABASE_URL) to use your own server instead of the
embedded one (the database name must contain "bench"); PM_BENCH_DATA_DIR, PM_BENCH_PG_PORT.`;

const positive = (name: string) => z.coerce.number({ error: `--${name} must be a number` }).positive(`--${name} must be greater than 0`);
const count = (name: string) => z.coerce.number({ error: `--${name} must be a number` }).int(`--${name} must be a whole number`).positive(`--${name} must be greater than 0`);

const Schema = z.object({
  scale: positive('scale').optional(),
  tenants: count('tenants').optional(),
  leads: count('leads').optional(),
  messages: z.coerce.number({ error: '--messages must be a number' }).int('--messages must be a whole number').min(0, '--messages must be 0 or more').optional(),
  seed: z.coerce.number({ error: '--seed must be a number' }).int('--seed must be a whole number').min(0).max(2 ** 31).default(42),
  'skip-generate': z.boolean().default(false),
  only: z.string().optional(),
  duration: positive('duration').max(600, '--duration is at most 600 seconds').default(10),
  concurrency: count('concurrency').max(1000, '--concurrency is at most 1000').default(32),
  citus: z.boolean().default(false),
  help: z.boolean().default(false),
});

export interface BenchOptions {
  /** The multiplier of DEFAULT_SIZES the sizes come from (before any explicit size). */
  scale: number;
  sizes: { tenants: number; leads: number; messages: number };
  seed: number;
  skipGenerate: boolean;
  figures: FigureKey[];
  durationSec: number;
  warmupSec: number;
  concurrency: number;
  /** Figure 9 runs: the data set is also generated on a Citus cluster. */
  citus: boolean;
  help: boolean;
}

export class OptionsError extends Error {
  override name = 'OptionsError';
}

function figureList(only: string | undefined, citus: boolean): FigureKey[] {
  if (!only) return citus ? ['citus'] : FIGURES.map((f) => f.key).filter((k) => !OPT_IN.includes(k));
  const picked = new Set<FigureKey>(citus ? ['citus'] : []);
  for (const item of only.split(',').map((s) => s.trim()).filter(Boolean)) {
    const figure = FIGURES.find((f) => String(f.number) === item || f.key === item);
    if (!figure) {
      throw new OptionsError(`--only: unknown figure "${item}"; expected a number 1–${FIGURES.length} or one of ${FIGURES.map((f) => f.key).join(', ')}.`);
    }
    picked.add(figure.key);
  }
  return FIGURES.map((f) => f.key).filter((k) => picked.has(k));
}

export function parseOptions(argv: string[]): BenchOptions {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        scale: { type: 'string' }, tenants: { type: 'string' }, leads: { type: 'string' }, messages: { type: 'string' },
        seed: { type: 'string' }, 'skip-generate': { type: 'boolean' }, only: { type: 'string' },
        duration: { type: 'string' }, concurrency: { type: 'string' }, citus: { type: 'boolean' }, help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new OptionsError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const parsed = Schema.safeParse(values);
  if (!parsed.success) throw new OptionsError(parsed.error.issues.map((i) => i.message).join('\n'));
  const o = parsed.data;
  const figures = figureList(o.only, o.citus);
  const citus = figures.includes('citus');
  const scale = o.scale ?? (citus ? CITUS_DEFAULT_SCALE : 1);
  const sizes = {
    tenants: o.tenants ?? Math.max(1, Math.round(DEFAULT_SIZES.tenants * scale)),
    leads: o.leads ?? Math.round(DEFAULT_SIZES.leads * scale),
    messages: o.messages ?? Math.round(DEFAULT_SIZES.messages * scale),
  };
  if (sizes.leads < sizes.tenants * 20) {
    throw new OptionsError(`--leads (${sizes.leads}) must be at least 20 per tenant (${sizes.tenants * 20} for ${sizes.tenants} tenants).`);
  }
  return {
    scale,
    sizes,
    seed: o.seed,
    skipGenerate: o['skip-generate'],
    figures,
    durationSec: o.duration,
    warmupSec: Math.min(3, Math.max(1, o.duration / 4)),
    concurrency: o.concurrency,
    citus,
    help: o.help,
  };
}
