/**
 * previewMessage(stepId, leadId): the message an email step sends to a lead,
 * rendered by the same code and from the same data (app_hidden.render_context)
 * as the worker, so it is what is (or will be) sent: same A/B variant, same
 * spintax choices, same unsubscribe link once the message exists; only
 * click tracking and the open pixel are left out, so a preview never holds a
 * live signed redirect. The
 * data is read in the request's transaction, as the signed-in member, under
 * RLS: a step or lead of another organisation is simply not found.
 */
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { context, object, SafeError, type Step } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import { renderMessage, TemplateRenderError } from '../src/sending/render.ts';
import { loadRenderInput } from '../src/sending/render-input.ts';
import type { RunQuery } from '../src/db/query.ts';
import type { TrackingTokens } from '../src/tracking/tokens.ts';
import { currentScope } from '../src/log/scope.ts';

declare global {
  namespace Grafast {
    interface Context {
      /** The URL the request came to (src/server/preset.ts), the tracking base when PUBLIC_URL is unset. */
      requestOrigin?: string;
    }
  }
}

export interface MessagePreviewOptions {
  tracking: TrackingTokens;
  /** Base URL of the tracking endpoints (PUBLIC_URL); default: the URL the request came to. */
  publicUrl?: string;
}

export function makeMessagePreviewPlugin(options: MessagePreviewOptions): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const executor = build.input.pgRegistry.pgExecutors.main!;
    return {
      typeDefs: gql`
        """The message an email step sends to a lead, rendered exactly as the sending engine renders it."""
        type MessagePreview {
          subject: String!
          """HTML part: CSS inlined and the unsubscribe link as the campaign says. Links keep their own targets and there is no open pixel: a preview never contains live tracking links (the sent message has them)."""
          html: String!
          """Plain-text part (the template's, or generated from the HTML)."""
          text: String!
          """Label of the A/B variant this lead gets (the winner once the step's A/B test is decided), when the step has variants."""
          variant: String
          variantId: UUID
          fromName: String
          fromEmail: String
          toEmail: String!
          """The message this preview reproduces, once it has been booked or sent (null before: the unsubscribe link is then a placeholder)."""
          messageId: UUID
        }
        extend type Query {
          """Renders the message of an email step for a lead (same variant, spintax and links as the real send). Fails with INVALID_INPUT naming the template problem when it cannot be rendered."""
          previewMessage(stepId: UUID!, leadId: UUID!): MessagePreview
        }
      `,
      plans: {
        Query: {
          previewMessage(_: unknown, fieldArgs: { getRaw(name: string): Step }) {
            const $spec = object({
              stepId: fieldArgs.getRaw('stepId') as Step<string>,
              leadId: fieldArgs.getRaw('leadId') as Step<string>,
              origin: context().get('requestOrigin'),
            });
            return sideEffectWithPgClient(executor, $spec, async (client, spec) => {
              const query: RunQuery = async <R extends object>(text: string, values: unknown[] = []) =>
                [...(await client.query<R>({ text, values })).rows];
              const [session] = await query<{ tenant_id: string | null }>('select app_public.current_tenant_id() as tenant_id', []);
              if (!session?.tenant_id) {
                throw new SafeError('Sign in to an organisation to preview its messages.', { code: currentScope()?.anonymous ? 'UNAUTHENTICATED' : 'FORBIDDEN' });
              }
              const input = await loadRenderInput(query, session.tenant_id, spec.stepId, spec.leadId);
              const publicUrl = options.publicUrl ?? spec.origin;
              if (!publicUrl) throw new SafeError('The server does not know its public URL; set PUBLIC_URL.', { code: 'INTERNAL' });
              try {
                const rendered = renderMessage(input, { publicUrl, tracking: options.tracking, preview: true });
                return {
                  subject: rendered.subject,
                  html: rendered.html,
                  text: rendered.text,
                  variant: rendered.variantLabel,
                  variantId: rendered.variantId,
                  fromName: rendered.fromName,
                  fromEmail: rendered.fromEmail,
                  toEmail: rendered.toEmail,
                  messageId: input.messageId,
                };
              } catch (error) {
                if (error instanceof TemplateRenderError) throw new SafeError(error.message, { code: 'INVALID_INPUT' });
                throw error;
              }
            });
          },
        },
      },
    };
  }, 'MessagePreviewPlugin');
}
