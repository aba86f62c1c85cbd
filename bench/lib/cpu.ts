/**
 * CPU time spent by a server child process (the worker, the API), by
 * PostgreSQL (the postmaster and every backend, including ones that exited)
 * and by the benchmark process itself between two moments, from /proc.
 */
import type pg from 'pg';
import type { ActivityProfile } from './activity.ts';
import type { ChildHandle } from './child.ts';
import { findPostmaster, serverCpuSeconds } from './proc.ts';
import type { Measurement } from './report.ts';

export interface CpuSplit {
  /** Seconds of CPU of the server child process. */
  server: number;
  /** NaN when PostgreSQL runs on another machine. */
  database: number;
  benchmark: number;
}

/** Starts watching; the returned function gives the CPU used since. */
export async function watchCpu(pool: pg.Pool, server: ChildHandle<unknown>): Promise<() => CpuSplit> {
  const client = await pool.connect();
  const postmaster = await findPostmaster(client).finally(() => client.release());
  const before = { server: server.cpuSeconds(), database: postmaster ? serverCpuSeconds(postmaster) : NaN, benchmark: process.cpuUsage() };
  return () => {
    const own = process.cpuUsage(before.benchmark);
    return {
      server: server.cpuSeconds() - before.server,
      database: postmaster ? serverCpuSeconds(postmaster) - before.database : NaN,
      benchmark: (own.user + own.system) / 1e6,
    };
  };
}

/**
 * The split without the CPU of the sampling profile's backend (activity.ts),
 * which ran inside the measured window: the benchmark's own monitoring, not
 * the product's work. It ran to the profile's end, a sample or so past the
 * window's: that sample is left out too.
 */
export function withoutSampler(cpu: CpuSplit, profile: ActivityProfile): CpuSplit {
  return Number.isFinite(profile.backendCpuSeconds) ? { ...cpu, database: cpu.database - profile.backendCpuSeconds } : cpu;
}

/** "worker 38 %, PostgreSQL 62 % (1.2 s and 2.0 s of CPU for 2,000 emails)". */
export function describeSplit(cpu: CpuSplit, what: string, server = 'worker'): string {
  if (!Number.isFinite(cpu.database)) return `${server} ${cpu.server.toFixed(1)} s of CPU for ${what}; PostgreSQL runs on another machine (its CPU is not visible here).`;
  const total = cpu.server + cpu.database;
  return `${server} ${Math.round((cpu.server / total) * 100)} %, PostgreSQL ${Math.round((cpu.database / total) * 100)} % (${cpu.server.toFixed(1)} s and ${cpu.database.toFixed(1)} s of CPU for ${what}).`;
}

/** Milliseconds of CPU per operation, two decimals. */
export const perOp = (seconds: number, ops: number) => Math.round(((seconds * 1000) / Math.max(1, ops)) * 100) / 100;

/** CPU per operation as measurements: the server process (when named), PostgreSQL and the benchmark process (when named). */
export function cpuMeasurements(cpu: CpuSplit, ops: number, { server, per, benchmark }: { server?: string; per: string; benchmark?: string }): Measurement[] {
  const rows: Measurement[] = [];
  if (server) rows.push({ label: `CPU per ${per}: ${server}`, side: 'info', value: perOp(cpu.server, ops), unit: 'ms' });
  rows.push({ label: `CPU per ${per}: PostgreSQL (all backends)`, side: 'info', value: perOp(cpu.database, ops), unit: 'ms' });
  if (benchmark) rows.push({ label: `CPU per ${per}: ${benchmark}`, side: 'info', value: perOp(cpu.benchmark, ops), unit: 'ms' });
  return rows;
}
