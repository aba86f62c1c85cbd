/**
 * GET /sandbox: the caught messages as one HTML page (newest first), with
 * their DKIM, SPF and DMARC results and List-Unsubscribe headers, linking to
 * each message's JSON and raw source. Self-contained, no scripts.
 */
import { escapeHtml } from '../tracking/pages.ts';
import type { CaughtMessage } from './store.ts';

export interface SandboxInfo {
  catcher: { host: string; port: number };
  dns: string;
}

const STYLE =
  'body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}table{border-collapse:collapse;width:100%}' +
  'th,td{border-bottom:1px solid #e4e7eb;padding:.4rem;text-align:left;vertical-align:top;font-size:.9rem}' +
  '.pass{color:#0b7a3e}.fail{color:#b42318}code{font-size:.8rem;word-break:break-all}';

const verdict = (result: string | undefined) => (result ? `<span class="${result === 'pass' ? 'pass' : 'fail'}">${escapeHtml(result)}</span>` : '–');

function row(m: CaughtMessage): string {
  const dkim = m.dkim.length === 0 ? verdict('none') : m.dkim.map((d) => `${verdict(d.result)} d=${escapeHtml(d.domain ?? '?')} s=${escapeHtml(d.selector ?? '?')}`).join('<br>');
  const unsubscribe = m.listUnsubscribe ? `<code>${escapeHtml(m.listUnsubscribe)}</code>${m.listUnsubscribePost ? `<br><code>${escapeHtml(m.listUnsubscribePost)}</code>` : ''}` : '–';
  const link = `/sandbox/messages/${m.id}`;
  return `<tr><td>${escapeHtml(m.receivedAt.replace('T', ' ').slice(0, 19))}<br><small>${m.source}</small></td>` +
    `<td>${escapeHtml(m.from ?? '')}</td><td>${escapeHtml((m.envelope.rcptTo.length > 0 ? m.envelope.rcptTo : m.to).join(', '))}</td>` +
    `<td>${escapeHtml(m.subject ?? '')}</td><td>${dkim}</td><td>${verdict(m.spf?.result)}</td><td>${verdict(m.dmarc?.result)}</td>` +
    `<td>${unsubscribe}</td><td><a href="${link}">json</a> <a href="${link}/raw">raw</a></td></tr>`;
}

export function sandboxPage(info: SandboxInfo, messages: CaughtMessage[]): string {
  const rows = messages.map(row).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Sandbox mail</title><style>${STYLE}</style></head><body>` +
    `<h1>Sandbox mail (${messages.length})</h1>` +
    `<p>Development only. The mail catcher listens on SMTP <code>${info.catcher.host}:${info.catcher.port}</code> (point an inbox's smtpSettings there); ` +
    `the sandbox DNS on <code>${escapeHtml(info.dns)}</code> publishes every domain's records. System emails (the outbox) appear here too. JSON: <a href="/sandbox/messages">/sandbox/messages</a>.</p>` +
    `<table><thead><tr><th>received</th><th>from</th><th>to</th><th>subject</th><th>DKIM</th><th>SPF</th><th>DMARC</th><th>List-Unsubscribe</th><th></th></tr></thead>` +
    `<tbody>${rows || '<tr><td colspan="9">Nothing caught yet.</td></tr>'}</tbody></table></body></html>`;
}
