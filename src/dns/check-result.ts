/**
 * The outcome of checking one DNS record: verified, failed (the published
 * records are wrong or missing: the message says what was queried, what was
 * found and what is expected) or error (a temporary DNS failure, retried).
 */
import type { CheckResult } from './records.ts';

export type Details = CheckResult['details'];

export interface RecordCheck {
  status: CheckResult['status'];
  error: string | null;
  details: Details;
  /** Where the record was found, to observe its TTL. */
  ttlOf?: { name: string; type: 'TXT' | 'MX' | 'A' | 'AAAA' | 'CNAME' };
}

export const verified = (ttlOf?: RecordCheck['ttlOf'], details: Details = {}): RecordCheck => ({ status: 'verified', error: null, details, ttlOf });
export const failed = (error: string, ttlOf?: RecordCheck['ttlOf'], details: Details = {}): RecordCheck => ({ status: 'failed', error, details, ttlOf });
export const temporary = (error: string): RecordCheck => ({ status: 'error', error, details: {} });

/** A temporary failure, phrased for the user. */
export const retryLater = (what: string, failure: string): RecordCheck => temporary(`Could not check ${what}: ${failure}. This is usually temporary; the check will be retried.`);
