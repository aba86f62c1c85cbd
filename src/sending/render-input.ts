/**
 * What a message is rendered from: the JSON document app_hidden.render_context()
 * returns (template, subject override, A/B variant with its subject and body,
 * campaign, lead, sender, custom tracking host),
 * validated here. The worker and the API preview both load it through
 * loadRenderInput, so they render from the same data.
 */
import { z } from 'zod';

const uuid = z.uuid();
const text = z.string().nullable();

export const TemplateVariable = z.object({
  name: z.string().min(1).max(100),
  fallback: z.union([z.string(), z.number(), z.boolean()]).nullable().optional(),
  required: z.boolean().optional(),
});
export type TemplateVariable = z.infer<typeof TemplateVariable>;

export const RenderInput = z.object({
  tenantId: uuid,
  messageId: uuid.nullable(),
  step: z.object({ id: uuid, order: z.number().int(), subjectOverride: text }),
  template: z.object({
    id: uuid,
    name: z.string(),
    subject: text,
    html: text,
    text: text,
    variables: z.array(z.unknown()),
  }),
  /** The step's A/B variant: its own subject and/or body (null: the step's). */
  variant: z.object({ id: uuid, label: z.string(), subject: text, html: text, text: text }).nullable(),
  campaign: z.object({
    id: uuid,
    name: z.string(),
    trackOpens: z.boolean(),
    trackClicks: z.boolean(),
    includeUnsubscribeLink: z.boolean(),
  }),
  lead: z.object({
    id: uuid,
    email: z.string(),
    first_name: text,
    last_name: text,
    name: text,
    company: text,
    title: text,
    phone: text,
    website: text,
    timezone: text,
    custom: z.record(z.string(), z.unknown()),
  }),
  sender: z.object({ emailAccountId: uuid, email: z.string(), name: text }).nullable(),
  /** The organisation's verified custom tracking host while its plan includes white label (functions/151); absent or null: PUBLIC_URL. */
  trackingHost: z.string().nullish(),
});
export type RenderInput = z.infer<typeof RenderInput>;

/** Runs one parameterised query and returns its rows (adapts a pg client, or PostGraphile's). */
import type { RunQuery } from '../db/query.ts';

/**
 * Loads the render context of an email step for a lead, as the connection's
 * current role (the API's preview runs it as the signed-in member, under RLS).
 */
export async function loadRenderInput(query: RunQuery, tenantId: string, stepId: string, leadId: string): Promise<RenderInput> {
  const [row] = await query<{ context: unknown }>('select app_hidden.render_context($1, $2, $3) as context', [tenantId, stepId, leadId]);
  return RenderInput.parse(row?.context);
}
