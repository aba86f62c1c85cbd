/**
 * Row generators, one per table, in the order the tables must be loaded
 * (foreign keys). Each yields a tenant's rows as arrays of COPY cells in the
 * order of its `columns`. Users, tenants and what comes with a tenant
 * (membership of the owner, settings, subscription, usage period, default
 * workspace) are created through the product's own functions instead: see
 * load.ts.
 */
import {
  COMPANIES, FIRST_NAMES, INDUSTRIES, LAST_NAMES, REPLIES, SOURCES, SUBJECTS, TIERS, TIMEZONES, TITLES, USER_AGENTS, label,
} from './names.ts';
import type { CampaignPlan, DatasetPlan, TenantPlan } from './plan.ts';
import { Rng, hash32, uuidFor } from './random.ts';
import { KIND, SEQUENCE, campaignEndMs, campaignStopMs, simulateEnrollment } from './simulate.ts';

/** A COPY cell: JSON and array values are passed already encoded as text. */
export type Cell = string | number | boolean | null;

export interface TenantRefs {
  tenantId: string;
  /** The default workspace create_tenant made. */
  companyId: string;
  /** Owner first. */
  userIds: string[];
}

export interface TableSpec {
  table: string;
  columns: readonly string[];
  rows(ds: DatasetPlan, t: TenantPlan, refs: TenantRefs): Iterable<Cell[]>;
}

const DAY = 86_400_000;
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const pgArray = (items: readonly string[]) => `{${items.map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

export function userEmail(t: TenantPlan, u: number): string {
  return `user${u}.${t.slug}@members.bench.example`;
}

export function domainName(t: TenantPlan, d: number): string {
  return d === 0 ? `${t.slug}.bench.example` : `${t.slug}-mail${d}.bench.example`;
}

export function inboxEmail(t: TenantPlan, i: number): string {
  return `${['sales', 'hello', 'team', 'outreach'][i % 4]}${i >= 4 ? Math.floor(i / 4) : ''}@${domainName(t, i % t.domains)}`;
}

export interface LeadFacts {
  id: string;
  email: string;
  first: string;
  last: string;
  company: string;
  status: string;
  createdMs: number;
}

/** Lead k of a tenant; any table can recompute it. */
export function lead(ds: DatasetPlan, t: TenantPlan, k: number): LeadFacts {
  const h = hash32(ds.options.seed, 4, t.index, k);
  const first = FIRST_NAMES[h % FIRST_NAMES.length]!;
  const last = LAST_NAMES[(h >>> 8) % LAST_NAMES.length]!;
  const company = COMPANIES[(h >>> 16) % COMPANIES.length]!;
  const r = (h >>> 4) % 1000;
  const status = r < 850 ? 'active' : r < 890 ? 'replied' : r < 910 ? 'interested' : r < 930 ? 'not_interested'
    : r < 960 ? 'unsubscribed' : r < 990 ? 'bounced' : r < 995 ? 'complained' : 'do_not_contact';
  return {
    id: uuidFor(ds.options.seed, KIND.lead, t.index, k),
    email: `${label(first)}.${label(last)}.${k}@${label(company)}${(h >>> 20) % 97}.example`,
    first,
    last,
    company,
    status,
    createdMs: ds.anchorMs - 400 * DAY + Math.floor((k / t.leads) * 390 * DAY) + (h % 3_600_000),
  };
}

const id = (ds: DatasetPlan, kind: number, ...key: number[]) => uuidFor(ds.options.seed, kind, ...key);
export const campaignId = (ds: DatasetPlan, t: TenantPlan, c: number) => id(ds, KIND.campaign, t.index, c);
export const stepId = (ds: DatasetPlan, t: TenantPlan, c: number, order: number) => id(ds, KIND.step, t.index, c, order);
export const variantId = (ds: DatasetPlan, t: TenantPlan, c: number, v: number) => id(ds, KIND.variant, t.index, c, v);
export const inboxId = (ds: DatasetPlan, t: TenantPlan, i: number) => id(ds, KIND.inbox, t.index, i);
export const templateId = (ds: DatasetPlan, t: TenantPlan, i: number) => id(ds, KIND.template, t.index, i);
export const listId = (ds: DatasetPlan, t: TenantPlan, l: number) => id(ds, KIND.list, t.index, l);

/** Created times: the tenant's set-up happens before its first lead. */
const setupMs = (ds: DatasetPlan, t: TenantPlan, n: number) => ds.anchorMs - 420 * DAY + (hash32(ds.options.seed, 5, t.index, n) % (10 * DAY));

/** Leads [offset, offset + size) of a static list (wrapping). */
export function listMembers(t: TenantPlan, l: number): { offset: number; size: number } {
  const size = Math.max(1, Math.floor(t.leads * (0.05 + 0.05 * (l % 3))));
  return { offset: (l * 7919) % t.leads, size };
}

function* enrollments(ds: DatasetPlan, t: TenantPlan) {
  for (const c of t.campaigns) {
    for (let j = 0; j < c.enrollments; j++) yield { c, e: simulateEnrollment(ds, t, c, j) };
  }
}

/** The first email's subject as sent to a lead (follow-ups reply to it: "Re: …"). */
function subjectOf(c: CampaignPlan, variant: number | null, first: string, company: string): string {
  const template = SUBJECTS[(c.templates[0] + (variant ?? 0)) % SUBJECTS.length]!;
  return template
    .replace('{{ lead.first_name | default: "there" }}', first)
    .replace('{{ lead.company }}', company)
    .replace('{{ lead.custom.industry }}', 'your');
}

export const TABLES: readonly TableSpec[] = [
  {
    table: 'app_public.tenant_users',
    columns: ['tenant_id', 'user_id', 'roles', 'email', 'created', 'updated'],
    *rows(ds, t, refs) {
      for (let u = 1; u < t.users; u++) {
        const at = iso(setupMs(ds, t, 100 + u));
        yield [refs.tenantId, refs.userIds[u]!, pgArray([u === 1 ? 'admin' : u % 5 === 0 ? 'viewer' : 'member']), userEmail(t, u), at, at];
      }
    },
  },
  {
    // dns_records is left to the product: its insert trigger fills in the
    // expected SPF, DKIM, DMARC and MX records.
    table: 'app_public.domains',
    columns: ['tenant_id', 'id', 'company_id', 'domain', 'verification_status', 'is_primary', 'verified_at', 'dns_last_verified_at', 'created', 'updated'],
    *rows(ds, t, refs) {
      for (let d = 0; d < t.domains; d++) {
        const at = iso(setupMs(ds, t, 200 + d));
        yield [refs.tenantId, id(ds, KIND.domain, t.index, d), refs.companyId, domainName(t, d), 'verified', d === 0, at, at, at, at];
      }
    },
  },
  {
    table: 'app_public.email_accounts',
    columns: ['tenant_id', 'id', 'domain_id', 'email', 'from_name', 'provider', 'smtp_settings', 'imap_settings', 'status', 'daily_limit', 'warmup_enabled', 'warmup_started_at', 'created', 'updated'],
    *rows(ds, t, refs) {
      for (let i = 0; i < t.inboxes; i++) {
        const email = inboxEmail(t, i);
        const host = domainName(t, i % t.domains);
        const at = iso(setupMs(ds, t, 300 + i));
        yield [
          refs.tenantId, inboxId(ds, t, i), id(ds, KIND.domain, t.index, i % t.domains), email,
          `${FIRST_NAMES[i % FIRST_NAMES.length]} at ${t.name}`, 'smtp',
          JSON.stringify({ host: `smtp.${host}`, port: 587, secure: false, require_tls: true, username: email }),
          JSON.stringify({ host: `imap.${host}`, port: 993, secure: true, username: email }),
          i % 17 === 16 ? 'paused' : 'active', 200, true, at, at, at,
        ];
      }
    },
  },
  {
    table: 'app_public.custom_field_definitions',
    columns: ['tenant_id', 'id', 'key', 'label', 'field_type', 'options', 'created'],
    *rows(ds, t, refs) {
      const fields: Array<[string, string, string, string | null]> = [
        ['industry', 'Industry', 'select', pgArray(INDUSTRIES)],
        ['employees', 'Employees', 'number', null],
        ['score', 'Lead score', 'number', null],
        ['tier', 'Account tier', 'select', pgArray(TIERS)],
        ['signed_up', 'Signed up', 'date', null],
      ];
      for (const [f, [key, name, type, options]] of fields.entries()) {
        yield [refs.tenantId, id(ds, KIND.field, t.index, f), key, name, type, options, iso(setupMs(ds, t, 400 + f))];
      }
    },
  },
  {
    table: 'app_public.leads',
    columns: [
      'tenant_id', 'id', 'email', 'name', 'first_name', 'last_name', 'company', 'title', 'phone', 'website', 'timezone', 'status',
      'source', 'custom_fields', 'unsubscribed_at', 'bounced_at', 'replied_at', 'last_contacted_at', 'created', 'updated', 'created_by',
    ],
    *rows(ds, t, refs) {
      for (let k = 0; k < t.leads; k++) {
        const l = lead(ds, t, k);
        const h = hash32(ds.options.seed, 6, t.index, k);
        const touched = l.status === 'active' ? null : l.createdMs + (h % (20 * DAY));
        const custom = JSON.stringify({
          industry: INDUSTRIES[h % INDUSTRIES.length],
          employees: 5 + (h % 5000),
          score: (h >>> 12) % 101,
          tier: TIERS[(h >>> 20) % TIERS.length],
          signed_up: new Date(l.createdMs - (h % (900 * DAY))).toISOString().slice(0, 10),
        });
        const at = iso(l.createdMs);
        yield [
          refs.tenantId, l.id, l.email, `${l.first} ${l.last}`, l.first, l.last, l.company, TITLES[(h >>> 3) % TITLES.length]!,
          h % 4 === 0 ? `+1 555 ${String(h % 10_000_000).padStart(7, '0')}` : null,
          `https://${label(l.company)}.example`, TIMEZONES[(h >>> 7) % TIMEZONES.length]!, l.status,
          SOURCES[(h >>> 9) % SOURCES.length]!, custom,
          l.status === 'unsubscribed' ? iso(touched) : null,
          l.status === 'bounced' ? iso(touched) : null,
          ['replied', 'interested', 'not_interested'].includes(l.status) ? iso(touched) : null,
          touched === null ? null : iso(touched - DAY),
          at, at, refs.userIds[k % refs.userIds.length]!,
        ];
      }
    },
  },
  {
    table: 'app_public.contact_lists',
    columns: ['tenant_id', 'id', 'name', 'description', 'is_dynamic', 'filter_criteria', 'created', 'updated'],
    *rows(ds, t, refs) {
      for (let l = 0; l < t.staticLists + t.dynamicLists; l++) {
        const dynamic = l >= t.staticLists;
        const at = iso(setupMs(ds, t, 500 + l));
        const industry = INDUSTRIES[(t.index + l) % INDUSTRIES.length]!;
        const filter = dynamic
          ? JSON.stringify(l % 2 === 0
            ? { all: [{ field: 'custom.industry', op: 'eq', value: industry }, { field: 'status', op: 'eq', value: 'active' }] }
            : { any: [{ field: 'title', op: 'in', value: ['CTO', 'CEO', 'Founder'] }, { field: 'custom.score', op: 'gte', value: 80 }] })
          : null;
        const name = dynamic ? (l % 2 === 0 ? `Active ${industry} leads` : 'Decision makers') : `List ${l + 1}`;
        yield [refs.tenantId, listId(ds, t, l), name, dynamic ? 'Matches its filter' : 'Imported and hand-picked leads', dynamic, filter, at, at];
      }
    },
  },
  {
    table: 'app_public.contact_list_members',
    columns: ['tenant_id', 'list_id', 'lead_id', 'created'],
    *rows(ds, t, refs) {
      for (let l = 0; l < t.staticLists; l++) {
        const { offset, size } = listMembers(t, l);
        const list = listId(ds, t, l);
        for (let m = 0; m < size; m++) {
          const k = (offset + m) % t.leads;
          yield [refs.tenantId, list, uuidFor(ds.options.seed, KIND.lead, t.index, k), iso(lead(ds, t, k).createdMs + DAY)];
        }
      }
    },
  },
  {
    table: 'app_public.templates',
    columns: ['tenant_id', 'id', 'name', 'subject', 'content', 'text_content', 'variables', 'category', 'is_started', 'created', 'updated', 'created_by'],
    *rows(ds, t, refs) {
      for (let i = 0; i < t.templates; i++) {
        const subject = SUBJECTS[i % SUBJECTS.length]!;
        const text = `Hi {{ lead.first_name | default: "there" }},\n\nI noticed {{ lead.company }} is growing its team. We help ${
          INDUSTRIES[i % INDUSTRIES.length]} companies book more meetings without more headcount.\n\nWorth a 15-minute call next week?\n\n{{ sender.first_name }}`;
        const html = `<p>Hi {{ lead.first_name | default: "there" }},</p><p>I noticed <strong>{{ lead.company }}</strong> is growing its team. We help ${
          INDUSTRIES[i % INDUSTRIES.length]} companies book more meetings without more headcount.</p><p>Worth a <a href="https://penguinmails.example/book">15-minute call</a> next week?</p><p>{{ sender.first_name }}</p>`;
        const at = iso(setupMs(ds, t, 600 + i));
        yield [
          refs.tenantId, templateId(ds, t, i), `Template ${i + 1}`, subject, html, text,
          JSON.stringify([{ name: 'first_name', fallback: 'there', required: false }, { name: 'company', required: true }]),
          i % 3 === 0 ? 'follow-up' : 'cold-outreach', t.campaigns.some((c) => c.status !== 'draft' && c.templates.includes(i)), at, at,
          refs.userIds[i % refs.userIds.length]!,
        ];
      }
    },
  },
  {
    table: 'app_public.campaigns',
    columns: [
      'tenant_id', 'id', 'company_id', 'name', 'description', 'status', 'scheduled_for', 'started_at', 'paused_at', 'completed_at', 'cancelled_at',
      'timezone', 'use_lead_timezone', 'daily_limit', 'from_name', 'created', 'updated', 'created_by',
    ],
    *rows(ds, t, refs) {
      for (const c of t.campaigns) {
        const stop = campaignStopMs(c);
        const created = c.startMs - 3 * DAY;
        const started = c.status === 'draft' ? null : c.startMs;
        yield [
          refs.tenantId, campaignId(ds, t, c.index), refs.companyId, `Campaign ${c.index + 1} – ${INDUSTRIES[c.index % INDUSTRIES.length]}`,
          'Three emails over five days to one list.', c.status, iso(started), iso(started),
          c.status === 'paused' ? iso(stop) : null, iso(campaignEndMs(c, ds.anchorMs)), c.status === 'cancelled' ? iso(stop) : null,
          TIMEZONES[c.index % TIMEZONES.length]!, true, Math.max(50, Math.ceil(c.enrollments / Math.max(1, c.spreadDays))),
          t.name, iso(created), iso(Math.min(ds.anchorMs, c.startMs)), refs.userIds[c.index % refs.userIds.length]!,
        ];
      }
    },
  },
  {
    table: 'app_public.campaign_email_accounts',
    columns: ['tenant_id', 'campaign_id', 'email_account_id', 'created'],
    *rows(ds, t, refs) {
      for (const c of t.campaigns) {
        for (let i = 0; i < t.inboxes; i++) yield [refs.tenantId, campaignId(ds, t, c.index), inboxId(ds, t, i), iso(c.startMs - 3 * DAY)];
      }
    },
  },
  {
    table: 'app_public.campaign_sequence_steps',
    columns: ['tenant_id', 'id', 'campaign_id', 'step_order', 'step_type', 'template_id', 'wait_duration_hours', 'created', 'updated'],
    *rows(ds, t, refs) {
      for (const c of t.campaigns) {
        const at = iso(c.startMs - 3 * DAY);
        for (const s of SEQUENCE) {
          yield [
            refs.tenantId, stepId(ds, t, c.index, s.order), campaignId(ds, t, c.index), s.order, s.type,
            s.type === 'email' ? templateId(ds, t, c.templates[s.email]) : null, s.type === 'wait' ? s.hours : null, at, at,
          ];
        }
      }
    },
  },
  {
    table: 'app_public.campaign_step_variants',
    columns: ['tenant_id', 'id', 'step_id', 'label', 'subject', 'weight', 'created'],
    *rows(ds, t, refs) {
      for (const c of t.campaigns) {
        if (!c.abTest) continue;
        for (const v of [0, 1]) {
          yield [
            refs.tenantId, variantId(ds, t, c.index, v), stepId(ds, t, c.index, 1), v === 0 ? 'A' : 'B',
            SUBJECTS[(c.templates[0] + v) % SUBJECTS.length]!, 1, iso(c.startMs - 3 * DAY),
          ];
        }
      }
    },
  },
  {
    table: 'app_public.campaign_targets',
    columns: ['tenant_id', 'id', 'campaign_id', 'contact_list_id', 'created'],
    *rows(ds, t, refs) {
      for (const c of t.campaigns) {
        yield [refs.tenantId, id(ds, KIND.target, t.index, c.index), campaignId(ds, t, c.index), listId(ds, t, c.list), iso(c.startMs - 3 * DAY)];
      }
    },
  },
  {
    table: 'app_public.campaign_enrollments',
    columns: [
      'tenant_id', 'id', 'campaign_id', 'lead_id', 'status', 'current_step_order', 'next_run_at', 'email_account_id',
      'steps_completed', 'enrolled_at', 'completed_at', 'stop_reason', 'updated',
    ],
    *rows(ds, t, refs) {
      for (const { c, e } of enrollments(ds, t)) {
        yield [
          refs.tenantId, e.id, campaignId(ds, t, c.index), uuidFor(ds.options.seed, KIND.lead, t.index, e.leadIndex), e.status,
          e.currentStep, iso(e.nextRunMs), inboxId(ds, t, e.inbox), e.stepsCompleted, iso(e.enrolledMs), iso(e.completedMs),
          e.stopReason, iso(Math.min(ds.anchorMs, e.completedMs ?? e.emails.at(-1)?.updatedMs ?? e.enrolledMs)),
        ];
      }
    },
  },
  {
    table: 'app_public.messages',
    columns: [
      'tenant_id', 'id', 'updated', 'direction', 'status', 'email_account_id', 'campaign_id', 'enrollment_id', 'step_id', 'variant_id',
      'lead_id', 'parent_message_id', 'from_email', 'to_email', 'subject', 'rfc_message_id', 'in_reply_to', 'content_storage_key',
      'body_text', 'send_attempts', 'scheduled_for', 'processed_at', 'sent_at', 'delivered_at', 'opened_at', 'clicked_at', 'replied_at',
      'bounced_at', 'error_message', 'smtp_response',
    ],
    *rows(ds, t, refs) {
      for (const { c, e } of enrollments(ds, t)) {
        const l = lead(ds, t, e.leadIndex);
        const from = inboxEmail(t, e.inbox);
        const campaign = campaignId(ds, t, c.index);
        for (const m of e.emails) {
          const rfc = `${m.id}@${domainName(t, e.inbox % t.domains)}`;
          const subject = (m.step === 1 ? '' : 'Re: ') + subjectOf(c, e.emails[0]!.variant, l.first, l.company);
          yield [
            refs.tenantId, m.id, iso(m.updatedMs), 'outbound', m.status, inboxId(ds, t, e.inbox), campaign, e.id,
            stepId(ds, t, c.index, m.step), m.variant === null ? null : variantId(ds, t, c.index, m.variant), l.id, null,
            from, l.email, subject, rfc, null, m.status === 'queued' ? null : `messages/${t.slug}/${m.id}.eml`, null,
            m.status === 'queued' ? 0 : 1, iso(m.scheduledMs), m.status === 'queued' ? null : iso(m.updatedMs), iso(m.sentMs),
            iso(m.deliveredMs), iso(m.openedMs), iso(m.clickedMs), iso(m.repliedMs), iso(m.bouncedMs),
            m.status === 'failed' ? 'Connection to the recipient\'s server timed out after 3 attempts.' : null,
            m.status === 'bounced' ? '550 5.1.1 The email account that you tried to reach does not exist.'
              : m.sentMs === null ? null : '250 2.0.0 OK: queued',
          ];
          if (m.reply) {
            yield [
              refs.tenantId, m.reply.id, iso(m.reply.at), 'inbound', 'received', inboxId(ds, t, e.inbox), campaign, e.id, null, null,
              l.id, m.id, l.email, from, `Re: ${subject}`, `${m.reply.id}@${label(l.company)}.example`, rfc, null,
              REPLIES[m.reply.body]!, 0, null, iso(m.reply.at), null, null, null, null, null, null, null, null,
            ];
          }
        }
      }
    },
  },
  {
    table: 'app_public.email_events',
    columns: ['tenant_id', 'id', 'message_id', 'campaign_id', 'lead_id', 'event_type', 'ip_address', 'user_agent', 'link_url', 'metadata'],
    *rows(ds, t, refs) {
      const rng = new Rng(ds.options.seed, 7, t.index);
      for (const { c, e } of enrollments(ds, t)) {
        const leadId = uuidFor(ds.options.seed, KIND.lead, t.index, e.leadIndex);
        const campaign = campaignId(ds, t, c.index);
        for (const m of e.emails) {
          for (const ev of m.events) {
            const seen = ev.type === 'open' || ev.type === 'click';
            yield [
              refs.tenantId, ev.id, m.id, campaign, leadId, ev.type,
              seen ? `203.0.113.${1 + (rng.next() % 254)}` : null, seen ? rng.pick(USER_AGENTS) : null,
              ev.type === 'click' ? 'https://penguinmails.example/book' : null,
              ev.type === 'bounce' ? JSON.stringify({ bounce_type: 'hard', smtp_code: 550 }) : '{}',
            ];
          }
        }
      }
    },
  },
];
