/**
 * Results: every figure is a set of measurements and comparisons (product
 * vs anchor, measured in the same run), printed as a table and written as
 * JSON with the machine and data size.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DatasetInfo } from '../generate/dataset.ts';
import type { DataSize, MachineInfo } from './machine.ts';
import type { FigureKey } from './options.ts';
import type { ActivityProfile } from './activity.ts';
import type { NestedStatement } from './nested-profile.ts';
import type { PlanSummary } from './sql.ts';
import { round, type Summary } from './stats.ts';

export interface Measurement {
  label: string;
  /** product: what the platform does; anchor: the same work done the fastest way we know; info: context. */
  side: 'product' | 'anchor' | 'info';
  summary?: Summary;
  /** A single value for measurements that are not latency/throughput runs (memory, CPU, rows/s). */
  value?: number;
  unit?: string;
  detail?: string;
}

export type Metric = 'perSecond' | 'p50' | 'p99' | 'mean' | 'value';

export interface Comparison {
  label: string;
  product: string;
  anchor: string;
  metric: Metric;
  productValue: number;
  anchorValue: number;
  /** productValue / anchorValue. */
  ratio: number;
  /** The ratio in words, e.g. "API overhead ×3.1". */
  reading: string;
}

export interface FigureResult {
  key: FigureKey;
  number: number;
  title: string;
  measurements: Measurement[];
  comparisons: Comparison[];
  notes: string[];
  plans?: Record<string, PlanSummary>;
  /** Sampling profiles of the database while the figure ran (pg_stat_activity). */
  profiles?: Record<string, ActivityProfile>;
  /** The slowest statements inside our SQL functions, with plans (auto_explain, nested statements). */
  nested?: Record<string, NestedStatement[]>;
  /** Set when the figure could not run; says why. */
  skipped?: string;
  seconds?: number;
}

function valueOf(m: Measurement, metric: Metric): number {
  if (metric === 'value') return m.value ?? NaN;
  return m.summary?.[metric] ?? NaN;
}

/**
 * Compares a product measurement with its anchor on one metric. For rates
 * the reading is the slowdown anchor/product; for latencies product/anchor.
 */
/** `wording` gets the slowdown (≥ 1 when the product is slower, whatever the metric) and the ratio (product / anchor). */
export function compare(
  label: string, product: Measurement, anchor: Measurement, metric: Metric, wording?: (slowdown: number, ratio: number) => string,
): Comparison {
  const p = valueOf(product, metric);
  const a = valueOf(anchor, metric);
  const higherIsBetter = metric === 'perSecond' || (metric === 'value' && /\/s$/.test(product.unit ?? ''));
  const slowdown = higherIsBetter ? a / p : p / a;
  return {
    label,
    product: product.label,
    anchor: anchor.label,
    metric,
    productValue: round(p, 3),
    anchorValue: round(a, 3),
    ratio: round(p / a, 3),
    reading: wording ? wording(round(slowdown, 2), round(p / a, 2)) : `×${round(slowdown, 2)} ${slowdown >= 1 ? 'slower' : 'faster'} than the anchor`,
  };
}

const num = (x: number | undefined, digits = 1) =>
  x === undefined || !Number.isFinite(x) ? '' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits);

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function renderFigures(figures: FigureResult[]): string {
  const measurementRows: string[][] = [];
  const comparisonRows: string[][] = [];
  for (const f of figures) {
    if (f.skipped) {
      const why = f.skipped.length > 90 ? `${f.skipped.slice(0, 87)}...` : f.skipped;
      measurementRows.push([String(f.number), `${f.title}: not measured (${why})`, '', '', '', '']);
      continue;
    }
    for (const m of f.measurements) {
      measurementRows.push([
        String(f.number), `${f.title}: ${m.label}`,
        m.summary ? num(m.summary.perSecond) : m.unit?.endsWith('/s') ? num(m.value) : '',
        num(m.summary?.p50, 2), num(m.summary?.p99, 2),
        m.summary ? '' : m.unit?.endsWith('/s') ? '' : `${num(m.value)} ${m.unit ?? ''}`.trim(),
      ]);
    }
    for (const c of f.comparisons) {
      comparisonRows.push([String(f.number), c.label, c.metric, num(c.productValue, 2), num(c.anchorValue, 2), c.ratio.toFixed(2), c.reading]);
    }
  }
  return [
    table(['#', 'measurement', 'ops/s', 'p50 ms', 'p99 ms', 'value'], measurementRows),
    '',
    table(['#', 'comparison (product vs anchor)', 'metric', 'product', 'anchor', 'ratio', 'reading'], comparisonRows),
  ].join('\n');
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  totalSeconds: number;
  command: string;
  options: Record<string, unknown>;
  /** The commit measured (and whether the working tree had changes). */
  revision: string;
  machine: MachineInfo;
  dataset: DatasetInfo;
  dataSize: DataSize;
  figures: FigureResult[];
}

/** The run as Markdown: machine, data set, and the two tables (for docs/performance.md). */
export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  const d = results.dataSize;
  const cell = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(digits));
  const lines = [
    `Run of ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC (\`${results.command}\`, revision ${results.revision}, ${Math.round(results.totalSeconds / 6) / 10} min in total).`,
    '',
    `Machine: ${m.nproc} × ${m.cpuModel}, ${m.totalMemoryGb} GB RAM, ${m.os}; ${m.postgres.split(' on ')[0]} (shared_buffers ${m.postgresSettings.shared_buffers}, ` +
      `synchronous_commit ${m.postgresSettings.synchronous_commit}); Node ${m.node}; load average ${m.loadAverageAtStart.join(' / ')} at the start.`,
    '',
    `Data: ${d.databaseSize}; ${d.tables.slice(0, 8).map((t) => `${t.table.replace('app_public.', '')} ${t.rows.toLocaleString('en-US')}`).join(', ')}. ` +
      `Generated in ${Math.round(results.dataset.loadSeconds)} s (seed ${results.dataset.seed}).`,
    '',
    '| # | measurement | ops/s | p50 ms | p99 ms | value |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const f of results.figures) {
    if (f.skipped) {
      lines.push(`| ${f.number} | ${f.title}: not measured (${f.skipped.replace(/\|/g, '\\|').slice(0, 200)}) | | | | |`);
      continue;
    }
    for (const x of f.measurements) {
      const rate = x.summary ? cell(x.summary.perSecond) : x.unit?.endsWith('/s') ? cell(x.value) : '';
      const value = x.summary || x.unit?.endsWith('/s') ? '' : `${cell(x.value)} ${x.unit ?? ''}`.trim();
      lines.push(`| ${f.number} | ${f.title}: ${x.label.replace(/\|/g, '\\|')} | ${rate} | ${cell(x.summary?.p50, 2)} | ${cell(x.summary?.p99, 2)} | ${value} |`);
    }
  }
  lines.push('', '| # | comparison (product vs anchor) | metric | product | anchor | ratio | reading |', '| --- | --- | --- | ---: | ---: | ---: | --- |');
  for (const f of results.figures) {
    for (const c of f.comparisons) {
      lines.push(`| ${f.number} | ${c.label} | ${c.metric} | ${cell(c.productValue, 2)} | ${cell(c.anchorValue, 2)} | ${c.ratio.toFixed(2)} | ${c.reading} |`);
    }
  }
  return lines.join('\n') + '\n';
}

function writeAtomically(target: string, text: string): void {
  writeFileSync(`${target}.tmp`, text);
  renameSync(`${target}.tmp`, target);
}

/**
 * Writes bench/results/<timestamp>.json, bench/results/latest.json and
 * bench/results/latest.md; returns the first path.
 */
export function writeResults(dir: string, results: BenchResults): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  const text = JSON.stringify(results, null, 2) + '\n';
  writeAtomically(file, text);
  writeAtomically(path.join(dir, 'latest.json'), text);
  writeAtomically(path.join(dir, 'latest.md'), renderMarkdown(results));
  return file;
}
