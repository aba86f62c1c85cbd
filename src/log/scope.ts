/**
 * What the code running now is doing for whom: the HTTP request (its id,
 * whether the caller is signed in, the GraphQL operation) or the job (its id,
 * task, and the request that queued it). Set once where work enters the
 * process (src/server/http.ts, src/worker/runner.ts) and read by the logger,
 * the error mapping and the metrics, without threading it through every call.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface Scope {
  /** The x-request-id of the HTTP request, or of the request that queued the job. */
  requestId?: string;
  /** HTTP requests only: true when no bearer token was sent. */
  anonymous?: boolean;
  /** HTTP requests only: the GraphQL operation name, once the body is parsed. */
  operationName?: string;
  jobId?: string;
  task?: string;
}

const storage = new AsyncLocalStorage<Scope>();

export const currentScope = (): Scope | undefined => storage.getStore();

export function runInScope<T>(scope: Scope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** A client's x-request-id when it is a sensible token (1–128 of [A-Za-z0-9._:-]), else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}
