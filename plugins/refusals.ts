/**
 * Refusals that SQL returns as a row instead of raising (error_code,
 * error_message), so that what it counted (a wrong password, a wrong
 * second-factor code) is committed; they become GraphQL errors here, after the
 * commit. Shared by plugins/reauthentication.ts and plugins/two-factor.ts.
 */
import { SafeError } from 'postgraphile/grafast';

/** SQL error codes of such rows → GraphQL codes (as http-error-codes maps raised ones). */
const REFUSAL_CODES: Record<string, string> = {
  CREDS: 'INVALID_CREDENTIALS',
  LOCKD: 'ACCOUNT_LOCKED',
  NTFND: 'NOT_FOUND',
};

export interface RefusalRow {
  error_code: string | null;
  error_message: string | null;
}

/** Throws the row's refusal as a GraphQL error; does nothing for a row without one. */
export function failIfRefused(row: RefusalRow | undefined, fallbackMessage: string): void {
  if (row?.error_code) {
    throw new SafeError(row.error_message ?? fallbackMessage, { code: REFUSAL_CODES[row.error_code] ?? 'FORBIDDEN' });
  }
}
