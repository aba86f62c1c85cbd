/**
 * Renders the message of an email step for a lead: subject, HTML and text.
 * Shared by the worker (what is sent) and the API's previewMessage (what will
 * be sent), which is why everything here is deterministic: spintax is seeded
 * by step and lead, and tracking links are signed for the message id.
 *
 * Templates are written by tenants, so Liquid runs locked down: no file
 * access (include/render/layout find nothing), only own properties of the
 * data, bounded parse size, render time and memory, unknown variables are
 * errors (a typo must not send "Hi ,"), except where a template deliberately
 * allows them with `| default:` or `{% if %}`. Declared template variables
 * ({name, fallback}) fill in empty lead fields.
 *
 * Variables: lead.email, lead.first_name, lead.last_name, lead.name,
 * lead.company, lead.title, lead.phone, lead.website, lead.timezone,
 * lead.custom.<key>; sender.name, sender.first_name, sender.email;
 * campaign.name; unsubscribe_url.
 */
import juice from 'juice';
import { Liquid } from 'liquidjs';
import { trackingBaseUrl } from '../tracking/custom-host.ts';
import type { TrackingTokens } from '../tracking/tokens.ts';
import { htmlToText } from './html-text.ts';
import { TemplateVariable, type RenderInput } from './render-input.ts';
import { resolveSpintax, seededRandom } from './spintax.ts';
import { addOpenPixel, addUnsubscribeFooter, rewriteLinks, textUnsubscribeFooter } from './tracking-markup.ts';

/**
 * The message id of a message that does not exist (a preview before the
 * message is booked): the tracking endpoints refuse tokens carrying it.
 */
export const PREVIEW_MESSAGE_ID = '00000000-0000-0000-0000-000000000000';

export interface RenderOptions {
  /** Base URL of the tracking and unsubscribe endpoints; a verified custom tracking host (input.trackingHost) replaces its host name. */
  publicUrl: string;
  tracking: TrackingTokens;
  /**
   * A preview (previewMessage): links keep their original targets and there
   * is no open pixel, so a preview never hands out a live, signed redirect
   * (a member could otherwise point a template anywhere and get a link through
   * our domain without sending anything). The unsubscribe link is the
   * message's own once it exists, else a placeholder that leads nowhere.
   */
  preview?: boolean;
}

export interface RenderedMessage {
  subject: string;
  html: string;
  text: string;
  variantId: string | null;
  variantLabel: string | null;
  unsubscribeUrl: string;
  fromName: string | null;
  fromEmail: string | null;
  toEmail: string;
}

/** A template that cannot be rendered; the message says which template, which part and why. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
}

const LIMITS = { parseLimit: 1_000_000, renderLimit: 2_000, memoryLimit: 50_000_000 };

function makeEngine(escapeHtml: boolean): Liquid {
  return new Liquid({
    ...LIMITS,
    templates: {}, // include/render/layout resolve against nothing: no file access
    cache: false,
    strictVariables: true,
    strictFilters: true,
    lenientIf: true, // `{% if lead.custom.x %}` and `| default:` may test what is missing
    ownPropertyOnly: true,
    relativeReference: false,
    dynamicPartials: false,
    outputEscape: escapeHtml ? 'escape' : undefined,
  });
}

const htmlEngine = makeEngine(true);
const textEngine = makeEngine(false);

const isEmpty = (value: unknown) => value === null || value === undefined || (typeof value === 'string' && value.trim() === '');

type Scope = Record<string, unknown>;

/** Applies the template's declared fallbacks to empty values of the scope. */
function applyFallbacks(scope: Scope, input: RenderInput): void {
  input.template.variables.forEach((raw, index) => {
    const parsed = TemplateVariable.safeParse(raw);
    if (!parsed.success) {
      throw new TemplateRenderError(
        `Template "${input.template.name}": variable #${index + 1} must be {"name": "...", "fallback": "..."}; got ${JSON.stringify(raw)}.`,
      );
    }
    const { name, fallback, required } = parsed.data;
    const path = name.split('.');
    if (!['lead', 'sender', 'campaign'].includes(path[0]!)) path.unshift('lead');
    let holder: Record<string, unknown> = scope;
    for (const key of path.slice(0, -1)) {
      const next = holder[key];
      if (typeof next !== 'object' || next === null) return;
      holder = next as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (isEmpty(holder[last])) {
      if (fallback !== undefined && fallback !== null) holder[last] = fallback;
      else if (required) {
        throw new TemplateRenderError(
          `Template "${input.template.name}" needs ${path.join('.')}, which is empty for ${input.lead.email} and has no fallback.`,
        );
      }
    }
  });
}

function buildScope(input: RenderInput, unsubscribeUrl: string): Scope {
  const { custom, id: _id, ...fields } = input.lead;
  const senderName = input.sender?.name ?? null;
  const scope: Scope = {
    lead: { ...fields, custom: { ...custom } },
    sender: {
      name: senderName,
      first_name: senderName ? senderName.trim().split(/\s+/)[0] : null,
      email: input.sender?.email ?? null,
    },
    campaign: { name: input.campaign.name },
  };
  applyFallbacks(scope, input);
  scope.unsubscribe_url = unsubscribeUrl;
  return scope;
}

function render(engine: Liquid, source: string, scope: Scope, seed: string, what: string, templateName: string): string {
  const spun = resolveSpintax(source, seededRandom(seed));
  try {
    return engine.parseAndRenderSync(spun, scope);
  } catch (error) {
    const reason = (error as Error).message.replace(/\s+/g, ' ').trim();
    throw new TemplateRenderError(`Template "${templateName}" (${what}) cannot be rendered: ${reason}.`);
  }
}

export function renderMessage(input: RenderInput, options: RenderOptions): RenderedMessage {
  const { template, campaign } = input;
  // The organisation's custom tracking domain, when it has a verified one and white label; else PUBLIC_URL.
  const base = trackingBaseUrl(options.publicUrl, input.trackingHost);
  const links = options.tracking.links(base, { tenantId: input.tenantId, messageId: input.messageId ?? PREVIEW_MESSAGE_ID });
  if (options.preview && !input.messageId) links.unsubscribe = `${base}/u/preview-no-message-yet`;
  const scope = buildScope(input, links.unsubscribe);
  const seed = `${input.step.id}:${input.lead.id}`;

  const subjectSource = [input.variant?.subject, input.step.subjectOverride, template.subject].find((s) => !isEmpty(s));
  if (!subjectSource) {
    throw new TemplateRenderError(`Step ${input.step.order}: template "${template.name}" has no subject and the step sets none.`);
  }
  // A variant with a body of its own replaces the template's HTML and text
  // (its text, else text generated from its HTML).
  const variantBody = input.variant && !isEmpty(input.variant.html) ? input.variant : null;
  const bodyName = variantBody ? `${template.name}", variant "${variantBody.label}` : template.name;
  const body = variantBody ? { html: variantBody.html, text: variantBody.text } : { html: template.html, text: template.text };
  if (isEmpty(body.html)) {
    throw new TemplateRenderError(`Template "${template.name}" has no HTML body.`);
  }
  const subjectName = input.variant && subjectSource === input.variant.subject ? `${template.name}", variant "${input.variant.label}` : template.name;
  const subject = render(textEngine, subjectSource, scope, seed, 'subject', subjectName).replace(/\s+/g, ' ').trim();
  if (!subject) throw new TemplateRenderError(`Template "${subjectName}" renders an empty subject for ${input.lead.email}.`);

  const bodyHtml = render(htmlEngine, body.html!, scope, seed, 'HTML body', bodyName);
  let text = isEmpty(body.text)
    ? htmlToText(bodyHtml)
    : render(textEngine, body.text!, scope, seed, 'text body', bodyName).trim();

  // juice inlines the CSS of <style> (and <link>) elements; without any it
  // would only re-serialise the HTML, at ~0.6 ms a message (figure 6).
  let html = /<(style|link)\b/i.test(bodyHtml) ? juice(bodyHtml) : bodyHtml;
  if (campaign.includeUnsubscribeLink) {
    if (!html.includes(links.unsubscribe) && !html.includes(links.unsubscribe.replace(/&/g, '&amp;'))) {
      html = addUnsubscribeFooter(html, links.unsubscribe);
    }
    if (!text.includes(links.unsubscribe)) text += textUnsubscribeFooter(links.unsubscribe);
  }
  if (campaign.trackClicks && !options.preview) html = rewriteLinks(html, links);
  if (campaign.trackOpens && !options.preview) html = addOpenPixel(html, links);

  return {
    subject,
    html,
    text,
    variantId: input.variant?.id ?? null,
    variantLabel: input.variant?.label ?? null,
    unsubscribeUrl: links.unsubscribe,
    fromName: input.sender?.name ?? null,
    fromEmail: input.sender?.email ?? null,
    toEmail: input.lead.email,
  };
}
