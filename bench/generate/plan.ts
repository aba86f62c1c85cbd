/**
 * The shape of a generated data set, decided up front from the seed and the
 * sizes: how many tenants, how big each one is (Zipf-like: a few large, many
 * small), and each tenant's campaigns. Rows are generated later, table by
 * table, from this plan alone (see rows.ts).
 */
import { Rng, zipfSizes } from './random.ts';

export interface DatasetOptions {
  seed: number;
  tenants: number;
  /** Leads over all tenants. */
  leads: number;
  /** Messages aimed for over all tenants, inbound replies included (the simulation lands within a few percent: stopped sequences send fewer). */
  messages: number;
  /** The "now" of the data set: the newest message is at most this recent. Rounded down to the UTC day. */
  anchor: Date;
  /** How far back campaigns start. */
  historyDays?: number;
}

export type PlanSlug = 'starter' | 'pro' | 'enterprise';
export type CampaignStatus = 'draft' | 'sending' | 'paused' | 'completed' | 'cancelled';

export interface CampaignPlan {
  index: number;
  status: CampaignStatus;
  /** When the first email of the campaign goes out (ms since the epoch). */
  startMs: number;
  /** Over how many days the first emails of all enrollments are spread. */
  spreadDays: number;
  /** Leads enrolled: leadOffset, leadOffset + 1, … (wrapping around the tenant's leads). */
  enrollments: number;
  leadOffset: number;
  /** Emails per enrollment on average (1–3: the sequence has three email steps). */
  emailsPerEnrollment: number;
  /** Step 1 runs an A/B subject test. */
  abTest: boolean;
  /** The tenant's templates used by the three email steps. */
  templates: [number, number, number];
  /** The static list the campaign targets. */
  list: number;
}

export interface TenantPlan {
  index: number;
  /** Short stable name used in emails and domains, e.g. t0007. */
  slug: string;
  name: string;
  plan: PlanSlug;
  /** Members, the owner included. */
  users: number;
  leads: number;
  domains: number;
  inboxes: number;
  staticLists: number;
  dynamicLists: number;
  templates: number;
  campaigns: CampaignPlan[];
}

export interface DatasetPlan {
  options: Required<DatasetOptions>;
  anchorMs: number;
  tenants: TenantPlan[];
}

const DAY = 86_400_000;
/**
 * Planned emails per enrollment. Sequences stop on replies, bounces and
 * unsubscribes and some have not finished at the anchor, while replies add
 * inbound messages: with this many planned, a campaign ends up with about as
 * many messages as it was given.
 */
const EMAILS_PER_ENROLLMENT = 2.15;
const WORDS = ['Globex', 'Initech', 'Hooli', 'Umbrella', 'Vandelay', 'Acme', 'Stark', 'Wayne', 'Wonka', 'Tyrell', 'Cyberdyne', 'Soylent', 'Aperture', 'Oscorp', 'Massive', 'Dunder'];

/** Plan tier by audience size, so every tenant stays inside its plan's limits. */
function planFor(leads: number): PlanSlug {
  if (leads <= 5_000) return 'starter';
  if (leads <= 50_000) return 'pro';
  return 'enterprise';
}

const MAX_USERS: Record<PlanSlug, number> = { starter: 3, pro: 10, enterprise: 25 };
const MAX_INBOXES: Record<PlanSlug, number> = { starter: 2, pro: 10, enterprise: 50 };

export function makePlan(input: DatasetOptions): DatasetPlan {
  const options: Required<DatasetOptions> = { historyDays: 180, ...input };
  const { seed, tenants: tenantCount } = options;
  if (!Number.isInteger(tenantCount) || tenantCount < 1) throw new RangeError(`tenants must be a positive integer, got ${tenantCount}`);
  if (options.leads < tenantCount * 20) throw new RangeError(`leads must be at least 20 per tenant (${tenantCount * 20}), got ${options.leads}`);
  const anchorMs = Math.floor(options.anchor.getTime() / DAY) * DAY;

  const leadSizes = zipfSizes(tenantCount, options.leads, 1, 20);
  const messageSizes = zipfSizes(tenantCount, options.messages, 1, 0);

  const tenants = leadSizes.map((leads, index): TenantPlan => {
    const rng = new Rng(seed, 1, index);
    const plan = planFor(leads);
    const messages = messageSizes[index]!;
    // Enough campaigns that each one's share fits in ~2 emails per enrolled lead.
    const campaignCount = Math.max(2, Math.min(400, Math.max(Math.round(messages / 15_000), Math.ceil(messages / (EMAILS_PER_ENROLLMENT * leads)))));
    const staticLists = 1 + Math.min(6, Math.floor(Math.log10(leads)));
    const templates = 3 + Math.min(40, campaignCount);
    const campaignTargets = zipfSizes(campaignCount, messages, 1, 0);
    const campaigns = campaignTargets.map((target, c): CampaignPlan => {
      const crng = new Rng(seed, 2, index, c);
      const enrollments = target === 0 ? 0 : Math.min(leads, Math.ceil(target / EMAILS_PER_ENROLLMENT));
      const startAgoDays = crng.int(3, options.historyDays);
      const spreadDays = Math.max(2, Math.min(45, Math.ceil(enrollments / 2_000)));
      const ended = startAgoDays > spreadDays + 7;
      const status: CampaignStatus = enrollments === 0
        ? 'draft'
        : ended
          ? crng.weighted({ completed: 90, cancelled: 5, paused: 5 })
          : crng.weighted({ sending: 90, paused: 10 });
      return {
        index: c,
        status,
        startMs: anchorMs - startAgoDays * DAY + crng.int(8, 16) * 3_600_000,
        spreadDays,
        enrollments,
        leadOffset: crng.int(0, leads - 1),
        emailsPerEnrollment: enrollments === 0 ? 0 : Math.min(3, target / enrollments),
        abTest: crng.chance(0.3),
        templates: [crng.int(0, templates - 1), crng.int(0, templates - 1), crng.int(0, templates - 1)],
        list: crng.int(0, staticLists - 1),
      };
    });
    // Every third tenant also has a campaign still being written.
    if (index % 3 === 0) {
      campaigns.push({
        index: campaigns.length, status: 'draft', startMs: anchorMs, spreadDays: 0, enrollments: 0, leadOffset: 0,
        emailsPerEnrollment: 0, abTest: false, templates: [0, 1, 2], list: 0,
      });
    }
    const slug = `t${String(index + 1).padStart(Math.max(4, String(tenantCount).length), '0')}`;
    return {
      index,
      slug,
      name: `${WORDS[index % WORDS.length]} ${slug.toUpperCase()}`,
      plan,
      users: Math.max(1, Math.min(MAX_USERS[plan], 1 + Math.floor(Math.log2(leads / 50)) + rng.int(0, 1))),
      leads,
      domains: plan === 'enterprise' ? 2 : 1,
      inboxes: Math.min(MAX_INBOXES[plan], 1 + Math.floor(leads / 10_000)),
      staticLists,
      dynamicLists: 1 + rng.int(0, 1),
      templates,
      campaigns,
    };
  });
  return { options, anchorMs, tenants };
}
