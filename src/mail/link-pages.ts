/**
 * Sign-up, invitation and password-reset emails link to the client app
 * (APP_URL) at /confirm-registration?token=…, /accept-invitation?token=…
 * /reset-password?token=… and /verify-email?token=… (and /sign-in, /forgot-password). Without a client
 * app those links point at this API server, which answers them with a short
 * page saying which mutation completes the flow, instead of a 404. The token
 * is only echoed into the page's example (HTML-escaped); it is never logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../server/http.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, intro: string, example: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;max-width:48rem;margin:2rem auto">
<h1>${title}</h1><p>${intro}</p><p>This link is meant for the PenguinMails client app (set <code>APP_URL</code> to its address). Without one, finish with the GraphQL API (POST /graphql, or Ruru at <a href="/graphiql">/graphiql</a>):</p>
<pre style="background:#f4f4f4;padding:1rem;white-space:pre-wrap">${example}</pre></body></html>`;
}

function answer(res: ServerResponse, html: string) {
  const body = Buffer.from(html);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length), 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  res.end(body);
}

const tokenOf = (url: URL) => escapeHtml(url.searchParams.get('token') ?? '<token from the email>');

export function systemLinkRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/confirm-registration',
      handler: (_req: IncomingMessage, res: ServerResponse, url: URL) =>
        answer(res, page('Confirm your sign-up', 'Confirm your email address to create your PenguinMails account and organisation; the link works once, within 24 hours.',
          `mutation {\n  confirmRegistration(input: { token: "${tokenOf(url)}" }) {\n    jwtToken tenantId expiresAt\n  }\n}\n\nThe result is a session in your new organisation; later, sign in with login(input: { email, password }).`)),
    },
    {
      method: 'GET',
      path: '/sign-in',
      handler: (_req: IncomingMessage, res: ServerResponse) =>
        answer(res, page('Sign in', 'Sign in to PenguinMails with your email address and password.',
          `mutation {\n  login(input: { email: "you@example.com", password: "your password" }) { jwtToken tenantId expiresAt }\n}`)),
    },
    {
      method: 'GET',
      path: '/forgot-password',
      handler: (_req: IncomingMessage, res: ServerResponse) =>
        answer(res, page('Forgot your password?', 'Ask for a reset link; it is emailed to the address if it has an account.',
          `mutation {\n  requestPasswordReset(input: { email: "you@example.com" }) { result }\n}`)),
    },
    {
      method: 'GET',
      path: '/accept-invitation',
      handler: (_req: IncomingMessage, res: ServerResponse, url: URL) =>
        answer(res, page('Accept your invitation', 'You were invited to an organisation on PenguinMails.',
          `mutation {\n  acceptInvitation(input: { token: "${tokenOf(url)}", password: "a password of your own", name: "Your name" }) {\n    jwtToken tenantId expiresAt\n  }\n}\n\nThe password creates your account (or proves the one you have); the result is a session in the organisation.`)),
    },
    {
      method: 'GET',
      path: '/reset-password',
      handler: (_req: IncomingMessage, res: ServerResponse, url: URL) =>
        answer(res, page('Choose a new password', 'Someone (hopefully you) asked to reset your PenguinMails password; the link works once, within the hour.',
          `mutation {\n  resetPassword(input: { token: "${tokenOf(url)}", newPassword: "your new password" }) { result }\n}\n\nThen sign in with login(input: { email, password }).`)),
    },
    {
      method: 'GET',
      path: '/verify-email',
      handler: (_req: IncomingMessage, res: ServerResponse, url: URL) =>
        answer(res, page('Confirm your email address', 'Confirm that this address is yours; the link works once, within 24 hours.',
          `mutation {\n  verifyEmail(input: { token: "${tokenOf(url)}" }) { result }\n}`)),
    },
  ];
}
