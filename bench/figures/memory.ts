/**
 * Figure 8 — Memory: the peak resident set (VmHWM) each server process
 * reached during the runs, against its resident set right after it started
 * (idle, schema built): how much the load itself costs in memory.
 */
import type { BenchContext } from '../lib/context.ts';
import { compare, type Comparison, type FigureResult, type Measurement } from '../lib/report.ts';

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

export async function memory(ctx: BenchContext): Promise<Omit<FigureResult, 'key' | 'number' | 'title'>> {
  await ctx.close(); // stops the API server, recording its peak
  const measurements: Measurement[] = [];
  const comparisons: Comparison[] = [];
  for (const [label, peak] of ctx.peaks) {
    const loaded: Measurement = { label: `${label} peak RSS (VmHWM)`, side: 'product', value: mb(peak.peakKb), unit: 'MB' };
    const idle: Measurement = { label: `${label} RSS when started`, side: 'anchor', value: mb(peak.startKb), unit: 'MB' };
    measurements.push(loaded, idle);
    comparisons.push(compare(`${label} memory under load`, loaded, idle, 'value', (x) => `peak ×${x} the idle size`));
  }
  if (measurements.length === 0) {
    return { measurements, comparisons, notes: [], skipped: 'no server process ran (run figures 1–7 with it)' };
  }
  return {
    measurements,
    comparisons,
    notes: ['Each server ran in its own process; peaks are VmHWM from /proc/<pid>/status read just before the process stopped.'],
  };
}
