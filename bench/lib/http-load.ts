/**
 * Talking to the API under test: single GraphQL requests (fetch), and load
 * at a given number of connections with autocannon (warm-up first, then the
 * measured run). Every measured response is checked, so a benchmark of
 * errors cannot pass for a benchmark of work.
 */
import autocannon from 'autocannon';
import type { Summary } from './stats.ts';

export interface GraphQLRequest {
  query: string;
  variables?: Record<string, unknown>;
}

export interface GraphQLResponse<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** One request; throws with the server's message on an HTTP or GraphQL error. */
export async function graphql<T>(url: string, token: string, request: GraphQLRequest): Promise<{ data: T; text: string }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(request),
  });
  const text = await response.text();
  let body: GraphQLResponse<T>;
  try {
    body = JSON.parse(text) as GraphQLResponse<T>;
  } catch {
    throw new Error(`GraphQL answered HTTP ${response.status} with a non-JSON body: ${text.slice(0, 300)}`);
  }
  if (response.status !== 200 || body.errors?.length || !body.data) {
    throw new Error(`GraphQL request failed (HTTP ${response.status}): ${text.slice(0, 500)}`);
  }
  return { data: body.data, text };
}

export interface LoadRun extends Summary {
  non2xx: number;
  mismatches: number;
}

export interface LoadOptions {
  url: string;
  token: string;
  connections: number;
  durationSec: number;
  warmupSec: number;
  /** A fixed request… */
  request?: GraphQLRequest;
  /** …or a fresh body per request (e.g. unique emails). */
  body?: () => string;
  /** Every measured response must pass this check; failures count as mismatches. */
  verify: (body: string) => boolean;
}

function once(options: LoadOptions, durationSec: number): Promise<autocannon.Result> {
  const fixed = options.request ? JSON.stringify(options.request) : undefined;
  const makeBody = options.body;
  return autocannon({
    url: `${options.url}/graphql`,
    method: 'POST',
    connections: options.connections,
    duration: durationSec,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: fixed,
    verifyBody: (body) => options.verify(String(body ?? '')),
    requests: makeBody ? [{ method: 'POST', setupRequest: (req) => ({ ...req, body: makeBody() }) }] : undefined,
  });
}

/** Warm-up, then the measured run; latencies in milliseconds. */
export async function loadTest(options: LoadOptions): Promise<LoadRun> {
  if (options.warmupSec > 0) await once(options, options.warmupSec);
  const result = await once(options, options.durationSec);
  const completed = result['2xx'] - result.mismatches;
  if (completed <= 0) {
    throw new Error(`No successful responses from ${options.url} (non-2xx: ${result.non2xx}, mismatched bodies: ${result.mismatches}, errors: ${result.errors}).`);
  }
  return {
    count: completed,
    errors: result.errors + result.non2xx + result.mismatches,
    seconds: result.duration,
    perSecond: completed / result.duration,
    mean: result.latency.mean,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
  };
}
