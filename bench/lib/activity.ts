/**
 * A sampling profile of the database: while a figure runs, pg_stat_activity
 * is read every few milliseconds and every active statement of this
 * database is counted, with what it was waiting on. The statements seen most
 * often are where the server's time went. The sampler's own backend costs
 * CPU too; the profile says how much, so figures can leave it out of the
 * server's (cpu.ts withoutSampler).
 */
import pg from 'pg';
import { cpuSecondsOf } from './proc.ts';

export interface ActivityProfile {
  samples: number;
  /** Active backends per sample, on average. */
  busy: number;
  /** Statements by share of the active-backend samples (first 160 characters, whitespace collapsed); with `busy`, how many backends were active on average. */
  statements: Array<{ statement: string; share: number }>;
  /** Wait events by share of the active-backend samples ("CPU" when not waiting). */
  waits: Array<{ wait: string; share: number }>;
  /** CPU seconds the sampler's own backend used (NaN when the server runs on another machine). */
  backendCpuSeconds: number;
}

export function sampleActivity(connectionString: string, intervalMs = 10): { stop(): Promise<ActivityProfile> } {
  const client = new pg.Client({ connectionString, application_name: 'penguinmails-bench-sampler' });
  const statements = new Map<string, number>();
  const waits = new Map<string, number>();
  let samples = 0;
  let active = 0;
  let running = true;
  let backendCpuSeconds = NaN;
  const done = (async () => {
    await client.connect();
    const { rows: [{ pid }] } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const cpuAtStart = cpuSecondsOf(pid);
    while (running) {
      const { rows } = await client.query<{ query: string; wait: string | null }>(
        `select query, wait_event_type || ':' || wait_event as wait from pg_stat_activity
         where datname = current_database() and state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'`,
      );
      samples++;
      for (const r of rows) {
        active++;
        const statement = r.query.replace(/\s+/g, ' ').trim().slice(0, 160);
        statements.set(statement, (statements.get(statement) ?? 0) + 1);
        const wait = r.wait ?? 'CPU';
        waits.set(wait, (waits.get(wait) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    backendCpuSeconds = cpuSecondsOf(pid) - cpuAtStart;
    await client.end();
  })();
  const top = (m: Map<string, number>, total: number, n: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, Math.round((v / Math.max(1, total)) * 1000) / 10] as const);
  return {
    async stop() {
      running = false;
      await done;
      return {
        samples,
        busy: Math.round((active / Math.max(1, samples)) * 100) / 100,
        statements: top(statements, active, 8).map(([statement, share]) => ({ statement, share })),
        waits: top(waits, active, 6).map(([wait, share]) => ({ wait, share })),
        backendCpuSeconds,
      };
    },
  };
}

export function describeProfile(profile: ActivityProfile): string {
  const statements = profile.statements.slice(0, 4).map((s) => `${s.share} % ${s.statement.slice(0, 90)}`).join(' | ');
  const waits = profile.waits.map((w) => `${w.wait} ${w.share} %`).join(', ');
  return `${profile.busy} backends active on average over ${profile.samples} samples; by statement: ${statements}; waiting on: ${waits}.`;
}
