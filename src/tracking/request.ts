/**
 * What the tracking endpoints read from a request: who asked (client IP and
 * User-Agent) and, for the unsubscribe POST, a small HTML form body
 * (application/x-www-form-urlencoded or multipart/form-data, as RFC 8058
 * allows both).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { sendBadRequestPage } from './pages.ts';

/** The client's address; behind a trusted reverse proxy, the first X-Forwarded-For hop. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string | null {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first && isIP(first)) return first;
  }
  const remote = req.socket.remoteAddress;
  return remote && isIP(remote) ? remote : null;
}

export function userAgent(req: IncomingMessage): string | null {
  return req.headers['user-agent']?.slice(0, 1000) || null;
}

export class FormError extends Error {
  override name = 'FormError';
  readonly code: 'BODY_TOO_LARGE' | 'UNSUPPORTED_BODY';
  readonly status: number;
  constructor(code: FormError['code'], status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Reads a form body of at most maxBytes; an empty body is an empty form. */
export async function readForm(req: IncomingMessage, maxBytes: number): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      throw new FormError('BODY_TOO_LARGE', 413, `The request body is larger than ${maxBytes} bytes; an unsubscribe form is a few bytes.`);
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const contentType = req.headers['content-type'] ?? '';
  if (body.length === 0) return new URLSearchParams();
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(contentType)) {
    throw new FormError(
      'UNSUPPORTED_BODY',
      415,
      `Expected a form (application/x-www-form-urlencoded or multipart/form-data), got ${contentType.split(';')[0] || 'no content type'}.`,
    );
  }
  try {
    const form = await new Request('http://form.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
    const fields = new URLSearchParams();
    for (const [key, value] of form) if (typeof value === 'string') fields.append(key, value);
    return fields;
  } catch {
    throw new FormError('UNSUPPORTED_BODY', 400, 'The form body could not be parsed.');
  }
}

/** RFC 8058: the field a mail client POSTs for a one-click unsubscribe. */
export const ONE_CLICK_FIELD = 'List-Unsubscribe';
export const ONE_CLICK_VALUE = 'One-Click';
const MAX_FORM_BYTES = 8 * 1024;

/**
 * Reads an unsubscribe POST (RFC 8058): its form, or null after answering it
 * with a 4xx page (too large, not a form, or without List-Unsubscribe=One-Click).
 */
export async function readOneClickForm(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | null> {
  let form: URLSearchParams;
  try {
    form = await readForm(req, MAX_FORM_BYTES);
  } catch (error) {
    if (!(error instanceof FormError)) throw error;
    if (error.code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
    sendBadRequestPage(res, error.status, error.code, error.message);
    return null;
  }
  if (form.get(ONE_CLICK_FIELD) !== ONE_CLICK_VALUE) {
    sendBadRequestPage(
      res,
      400,
      'MISSING_ONE_CLICK',
      `An unsubscribe request must carry the form field ${ONE_CLICK_FIELD}=${ONE_CLICK_VALUE} (RFC 8058). Open the link in a browser to confirm instead.`,
    );
    return null;
  }
  return form;
}
