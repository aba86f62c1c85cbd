/** Connection pool use, read at scrape time. */
import { Gauge, type Registry } from 'prom-client';
import type pg from 'pg';

export function registerPoolMetrics(registry: Registry, pools: Record<string, pg.Pool>): void {
  new Gauge({
    name: 'penguinmails_db_pool_connections',
    help: 'Database pool connections by pool and state: total (open), idle, waiting (clients queued for a connection), max.',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, pool] of Object.entries(pools)) {
        this.set({ pool: name, state: 'total' }, pool.totalCount);
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
        this.set({ pool: name, state: 'max' }, pool.options.max ?? 10);
      }
    },
  });
}
