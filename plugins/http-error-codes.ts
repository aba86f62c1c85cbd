/**
 * Errors grafserv answers at the HTTP level, before a document runs (a GET,
 * a body that is not JSON, an unsupported Content-Type or Accept header),
 * leave it without `extensions.code`: this middleware adds one, chosen by
 * the HTTP status, so every error the server returns carries a code.
 */
import 'graphile-config';
import 'postgraphile';
import 'postgraphile/grafserv';
import type { Result } from 'postgraphile/grafserv';
import type { ErrorCode } from '../src/server/errors.ts';

const BY_STATUS: Record<number, { code: ErrorCode; message?: string }> = {
  400: { code: 'INVALID_INPUT' },
  405: { code: 'METHOD_NOT_ALLOWED', message: 'GraphQL is served at POST /graphql: send the query as a POST request.' },
  406: { code: 'NOT_ACCEPTABLE' },
  413: { code: 'PAYLOAD_TOO_LARGE' },
  415: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the request body as JSON (Content-Type: application/json).' },
};

/** The code for an HTTP status: the table above, INTERNAL for 5xx, INVALID_INPUT for any other 4xx. */
export function codeForStatus(status: number): { code: ErrorCode; message?: string } {
  return BY_STATUS[status] ?? { code: status >= 500 ? 'INTERNAL' : 'INVALID_INPUT' };
}

const friendlier = (status: number, message: string): string => {
  if (status === 400 && /^Parsing failed/.test(message)) return 'The request body is not valid JSON of the form {"query": "…", "variables": {…}}.';
  if (status === 400 && /Content-Type/.test(message)) return BY_STATUS[415]!.message!;
  return codeForStatus(status).message ?? message;
};

interface WireError {
  message?: string;
  extensions?: Record<string, unknown>;
}

/** The same JSON error payload with a code on every error; null when it needs no change or is not JSON. */
export function withCodes(status: number, payload: unknown): unknown {
  const errors = (payload as { errors?: WireError[] } | null)?.errors;
  if (!Array.isArray(errors) || errors.every((e) => e?.extensions?.code)) return null;
  return {
    ...(payload as object),
    errors: errors.map((e) => {
      if (e?.extensions?.code) return e;
      const { statusCode: _status, ...extensions } = e?.extensions ?? {};
      return { ...e, message: friendlier(status, e?.message ?? ''), extensions: { ...extensions, code: codeForStatus(status).code } };
    }),
  };
}

function jsonBuffer(result: Result & { statusCode: number; headers: Record<string, string> }, payload: unknown): Result {
  const buffer = Buffer.from(JSON.stringify(payload));
  return {
    type: 'buffer',
    statusCode: result.statusCode,
    headers: { ...result.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(buffer.length) },
    buffer,
  };
}

function addCodes(result: Result | null): Result | null {
  if (!result || result.statusCode < 400) return result;
  switch (result.type) {
    case 'error': {
      const { code, message } = codeForStatus(result.statusCode);
      return jsonBuffer(result, { errors: [{ message: message ?? (code === 'INTERNAL' ? 'The request could not be handled.' : result.error.message), extensions: { code } }] });
    }
    case 'json': {
      const patched = withCodes(result.statusCode, result.json);
      return patched ? { ...result, json: patched as typeof result.json } : result;
    }
    case 'buffer': {
      if (!/json/.test(String(result.headers['content-type'] ?? ''))) return result;
      let payload: unknown;
      try {
        payload = JSON.parse(result.buffer.toString('utf8'));
      } catch {
        return result;
      }
      const patched = withCodes(result.statusCode, payload);
      return patched ? jsonBuffer(result, patched) : result;
    }
    default:
      return result;
  }
}

export const HttpErrorCodesPlugin: GraphileConfig.Plugin = {
  name: 'HttpErrorCodesPlugin',
  description: 'A stable extensions.code on the errors grafserv answers before execution.',
  version: '1.0.0',
  grafserv: {
    middleware: {
      async processRequest(next) {
        return addCodes(await next());
      },
    },
  },
};
