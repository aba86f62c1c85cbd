/**
 * What tracking adds to a rendered HTML body: web links rewritten to the
 * signed click redirect, a 1×1 open pixel, and the unsubscribe link in a
 * footer when the template did not place it itself. The endpoints behind
 * these URLs are in src/tracking/routes.ts.
 */
import type { TrackingLinks } from '../tracking/tokens.ts';
import { decodeEntities } from './html-text.ts';

const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** Rewrites every http(s) href of an <a> tag to its click-tracking URL (the unsubscribe link excepted). */
export function rewriteLinks(html: string, links: TrackingLinks): string {
  return html.replace(/(<a\b[^>]*?\bhref\s*=\s*)("([^"]*)"|'([^']*)')/gi, (whole, prefix: string, _quoted, dq?: string, sq?: string) => {
    const target = decodeEntities((dq ?? sq ?? '').trim());
    if (!/^https?:\/\//i.test(target) || target === links.unsubscribe) return whole;
    return `${prefix}"${escapeAttribute(links.click(target))}"`;
  });
}

/** Inserts markup just before </body>, or at the end when the document has no body tag. */
function beforeBodyEnd(html: string, markup: string): string {
  const at = html.search(/<\/body\s*>/i);
  return at < 0 ? html + markup : html.slice(0, at) + markup + html.slice(at);
}

export function addOpenPixel(html: string, links: TrackingLinks): string {
  return beforeBodyEnd(
    html,
    `<img src="${escapeAttribute(links.openPixel)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`,
  );
}

export function addUnsubscribeFooter(html: string, unsubscribeUrl: string): string {
  return beforeBodyEnd(
    html,
    `<p style="font-size:12px;color:#888888;margin-top:24px">Don't want these emails? <a href="${escapeAttribute(unsubscribeUrl)}">Unsubscribe</a>.</p>`,
  );
}

export function textUnsubscribeFooter(unsubscribeUrl: string): string {
  return `\n\n--\nUnsubscribe: ${unsubscribeUrl}`;
}
