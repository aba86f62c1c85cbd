/**
 * The process's Prometheus metrics (prom-client), one registry for the API
 * and the worker: under `npm start` both run in one process and one scrape of
 * /metrics shows both. Counters are incremented where things happen (the
 * HTTP server, maskError, the campaign, IMAP and DNS tasks); gauges over the
 * database (job queue, pools) are read at scrape time (queue.ts, pools.ts).
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'penguinmails_' }); // penguinmails_process_*, penguinmails_nodejs_*

export const graphqlRequests = new Counter({
  name: 'penguinmails_graphql_requests_total',
  help: 'GraphQL requests answered, by operation name (anonymous when unnamed, other past the first 500 names) and HTTP status.',
  labelNames: ['operation', 'status'] as const,
  registers: [registry],
});

export const graphqlDuration = new Histogram({
  name: 'penguinmails_graphql_request_duration_seconds',
  help: 'Time to answer a GraphQL request, by operation name.',
  labelNames: ['operation'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const graphqlErrors = new Counter({
  name: 'penguinmails_graphql_errors_total',
  help: 'Errors returned to GraphQL clients, by extensions.code.',
  labelNames: ['code'] as const,
  registers: [registry],
});

export const httpRequests = new Counter({
  name: 'penguinmails_http_requests_total',
  help: 'HTTP requests other than GraphQL, by route (the registered path or prefix; "unknown" for 404s) and status.',
  labelNames: ['route', 'status'] as const,
  registers: [registry],
});

export const jobsRun = new Counter({
  name: 'penguinmails_jobs_run_total',
  help: 'Jobs this process ran, by task and outcome (completed, failed: graphile-worker retries failed jobs with backoff).',
  labelNames: ['task', 'outcome'] as const,
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: 'penguinmails_job_duration_seconds',
  help: 'Time a job took, by task.',
  labelNames: ['task'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
  registers: [registry],
});

export const emailDeliveries = new Counter({
  name: 'penguinmails_email_deliveries_total',
  help: 'Campaign message delivery attempts by result: sent, deferred (4xx, retried later), bounced (5xx), failed, or not attempted (gone, paused, limit, busy).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const imapPolls = new Counter({
  name: 'penguinmails_imap_polls_total',
  help: 'Inbox polls by status (ok, skipped, failed).',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const imapMessages = new Counter({
  name: 'penguinmails_imap_messages_total',
  help: 'Messages read from polled inboxes, by what they turned out to be (reply, bounce, auto-reply, …).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const dnsChecks = new Counter({
  name: 'penguinmails_dns_checks_total',
  help: "Domain DNS checks by the domain's resulting verification status.",
  labelNames: ['status'] as const,
  registers: [registry],
});

const MAX_OPERATIONS = 500;
const seenOperations = new Set<string>();

/** A bounded label for a client-chosen operation name. */
export function operationLabel(name: string | undefined): string {
  if (!name) return 'anonymous';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'other';
  if (seenOperations.has(name)) return name;
  if (seenOperations.size >= MAX_OPERATIONS) return 'other';
  seenOperations.add(name);
  return name;
}
