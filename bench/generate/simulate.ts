/**
 * What happened to one enrollment of a generated campaign: the emails its
 * sequence sent (steps 1, 3 and 5; 2 and 4 are waits), what each recipient
 * did with them, and where the enrollment stands at the data set's anchor.
 * A pure function of (seed, tenant, campaign, enrollment), so the
 * enrollments, messages and email_events tables can each be generated
 * without keeping the others in memory.
 */
import type { CampaignPlan, DatasetPlan, TenantPlan } from './plan.ts';
import { Rng, uuidFor, uuidV7For } from './random.ts';

export const KIND = {
  lead: 1, domain: 2, inbox: 3, field: 4, list: 5, template: 6, campaign: 7, step: 8, variant: 9,
  target: 10, enrollment: 11, message: 12, inbound: 13, event: 14,
} as const;

const SECOND = 1_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** The sequence every generated campaign runs: email, wait 2 days, email, wait 3 days, email. */
export const SEQUENCE = [
  { order: 1, type: 'email', email: 0 },
  { order: 2, type: 'wait', hours: 48 },
  { order: 3, type: 'email', email: 1 },
  { order: 4, type: 'wait', hours: 72 },
  { order: 5, type: 'email', email: 2 },
] as const;
const EMAIL_STEPS = [1, 3, 5] as const;
const EMAIL_OFFSETS = [0, 2 * DAY, 5 * DAY];

export interface SimEvent {
  id: string;
  type: 'open' | 'click' | 'reply' | 'bounce' | 'unsubscribe' | 'complaint';
  at: number;
}

export interface SimEmail {
  id: string;
  step: number;
  variant: number | null;
  status: 'queued' | 'sent' | 'delivered' | 'opened' | 'clicked' | 'replied' | 'bounced' | 'failed';
  createdMs: number;
  updatedMs: number;
  scheduledMs: number;
  sentMs: number | null;
  deliveredMs: number | null;
  openedMs: number | null;
  clickedMs: number | null;
  repliedMs: number | null;
  bouncedMs: number | null;
  events: SimEvent[];
  /** The lead's answer, stored as an inbound message. */
  reply: { id: string; at: number; body: number } | null;
}

export interface SimEnrollment {
  id: string;
  leadIndex: number;
  inbox: number;
  status: 'active' | 'paused' | 'completed' | 'replied' | 'unsubscribed' | 'bounced' | 'failed' | 'cancelled';
  currentStep: number;
  stepsCompleted: number;
  nextRunMs: number | null;
  enrolledMs: number;
  completedMs: number | null;
  stopReason: string | null;
  emails: SimEmail[];
}

/** When a paused or cancelled campaign stopped sending. */
export function campaignStopMs(c: CampaignPlan): number | null {
  return c.status === 'paused' || c.status === 'cancelled' ? c.startMs + Math.round(c.spreadDays * 0.6 * DAY) : null;
}

export function campaignEndMs(c: CampaignPlan, anchorMs: number): number | null {
  return c.status === 'completed' ? Math.min(anchorMs, c.startMs + (c.spreadDays + 6) * DAY) : null;
}

export function simulateEnrollment(ds: DatasetPlan, t: TenantPlan, c: CampaignPlan, j: number): SimEnrollment {
  const seed = ds.options.seed;
  const rng = new Rng(seed, 3, t.index, c.index, j);
  const anchor = ds.anchorMs;
  const stopAt = campaignStopMs(c);
  const firstMs = c.startMs + Math.floor((j / Math.max(1, c.enrollments)) * c.spreadDays * DAY) + rng.int(0, 8 * HOUR);
  const base = Math.floor(c.emailsPerEnrollment);
  const planned = Math.max(1, Math.min(3, base + (rng.chance(c.emailsPerEnrollment - base) ? 1 : 0)));

  const e: SimEnrollment = {
    id: uuidFor(seed, KIND.enrollment, t.index, c.index, j),
    leadIndex: (c.leadOffset + j) % t.leads,
    inbox: j % t.inboxes,
    status: 'completed',
    currentStep: 1,
    stepsCompleted: 0,
    nextRunMs: null,
    enrolledMs: c.startMs - rng.int(1, 48) * HOUR,
    completedMs: null,
    stopReason: null,
    emails: [],
  };

  for (let i = 0; i < planned; i++) {
    const step = EMAIL_STEPS[i]!;
    const due = firstMs + EMAIL_OFFSETS[i]! + (i === 0 ? 0 : rng.int(0, 6 * HOUR));
    e.currentStep = step;
    if (stopAt !== null && due > stopAt) {
      e.status = c.status === 'paused' ? 'paused' : 'cancelled';
      e.stopReason = c.status === 'cancelled' ? 'campaign cancelled' : null;
      e.completedMs = c.status === 'cancelled' ? stopAt : null;
      e.nextRunMs = c.status === 'paused' ? due : null;
      return e;
    }
    if (due > anchor) {
      e.status = 'active';
      e.nextRunMs = due;
      // The engine queues the next email a little ahead of time.
      if (due - anchor < DAY) e.emails.push(queuedEmail(seed, t, c, j, step, anchor - rng.int(1, 60) * 60 * SECOND, due));
      return e;
    }
    const email = sentEmail(rng, seed, t, c, j, step, due, anchor);
    e.emails.push(email);
    e.stepsCompleted = step;
    const stop = stopReason(email);
    if (stop) {
      // As record_email_event / suppress_lead leave it: a complaint cancels the sequence.
      e.status = stop === 'complained' ? 'cancelled' : stop;
      e.stopReason = stop;
      e.completedMs = email.updatedMs;
      return e;
    }
  }
  e.status = c.status === 'sending' && planned < 3 ? 'active' : 'completed';
  if (e.status === 'active') {
    e.currentStep = EMAIL_STEPS[planned]!;
    e.nextRunMs = Math.max(anchor + HOUR, firstMs + EMAIL_OFFSETS[planned]!);
  } else {
    e.completedMs = e.emails.at(-1)?.updatedMs ?? firstMs;
  }
  return e;
}

function stopReason(email: SimEmail): 'bounced' | 'failed' | 'replied' | 'unsubscribed' | 'complained' | null {
  if (email.status === 'bounced' || email.status === 'failed' || email.status === 'replied') return email.status;
  if (email.events.some((ev) => ev.type === 'unsubscribe')) return 'unsubscribed';
  if (email.events.some((ev) => ev.type === 'complaint')) return 'complained';
  return null;
}

function emailId(seed: number, t: TenantPlan, c: CampaignPlan, j: number, step: number, createdMs: number): string {
  return uuidV7For(createdMs, seed, KIND.message, t.index, c.index, j, step);
}

function variantOf(c: CampaignPlan, j: number, step: number): number | null {
  return c.abTest && step === 1 ? j % 2 : null;
}

function queuedEmail(seed: number, t: TenantPlan, c: CampaignPlan, j: number, step: number, createdMs: number, due: number): SimEmail {
  return {
    id: emailId(seed, t, c, j, step, createdMs), step, variant: variantOf(c, j, step), status: 'queued',
    createdMs, updatedMs: createdMs, scheduledMs: due,
    sentMs: null, deliveredMs: null, openedMs: null, clickedMs: null, repliedMs: null, bouncedMs: null, events: [], reply: null,
  };
}

/** An email that went out at `due`, and what its recipient did with it up to the anchor. */
function sentEmail(rng: Rng, seed: number, t: TenantPlan, c: CampaignPlan, j: number, step: number, due: number, anchor: number): SimEmail {
  const createdMs = due - rng.int(1, 30) * 60 * SECOND;
  const id = emailId(seed, t, c, j, step, createdMs);
  const upTo = (ms: number) => (ms <= anchor ? ms : null);
  const events: SimEvent[] = [];
  const event = (type: SimEvent['type'], at: number) =>
    events.push({ id: uuidV7For(at, seed, KIND.event, t.index, c.index, j, step, events.length), type, at });

  const email: SimEmail = {
    id, step, variant: variantOf(c, j, step), status: 'sent', createdMs, updatedMs: due, scheduledMs: due,
    sentMs: due, deliveredMs: null, openedMs: null, clickedMs: null, repliedMs: null, bouncedMs: null, events, reply: null,
  };
  const outcome = rng.weighted({ delivered: 979, bounced: 16, failed: 5 });
  if (outcome === 'failed') {
    return { ...email, status: 'failed', sentMs: null, updatedMs: due + rng.int(1, 60) * SECOND };
  }
  if (outcome === 'bounced') {
    const at = due + rng.int(2, 120) * SECOND;
    event('bounce', at);
    return { ...email, status: 'bounced', bouncedMs: at, updatedMs: at };
  }
  email.status = 'delivered';
  email.deliveredMs = due + rng.int(1, 30) * SECOND;
  email.updatedMs = email.deliveredMs;
  const advance = (status: SimEmail['status'], at: number) => {
    email.status = status;
    email.updatedMs = Math.max(email.updatedMs, at);
  };

  if (rng.chance(0.38)) {
    const opened = upTo(email.deliveredMs + Math.round(rng.exponential(6 * HOUR)));
    if (opened !== null) {
      email.openedMs = opened;
      advance('opened', opened);
      let at = opened;
      do {
        event('open', at);
        at += Math.round(rng.exponential(DAY));
      } while (at <= anchor && rng.chance(0.45));
      if (rng.chance(0.14)) {
        const clicked = upTo(opened + Math.round(rng.exponential(10 * 60 * SECOND)));
        if (clicked !== null) {
          email.clickedMs = clicked;
          advance('clicked', clicked);
          event('click', clicked);
          if (rng.chance(0.3) && clicked + HOUR <= anchor) event('click', clicked + HOUR);
        }
      }
    }
  }
  if (rng.chance(0.055)) {
    const replied = upTo(email.deliveredMs + Math.round(rng.exponential(20 * HOUR)));
    if (replied !== null) {
      email.repliedMs = replied;
      advance('replied', replied);
      event('reply', replied);
      email.reply = { id: uuidV7For(replied, seed, KIND.inbound, t.index, c.index, j, step), at: replied, body: rng.int(0, 4) };
    }
  }
  if (email.repliedMs === null && rng.chance(0.006)) {
    const at = upTo(email.deliveredMs + Math.round(rng.exponential(2 * DAY)));
    if (at !== null) event(rng.chance(0.1) ? 'complaint' : 'unsubscribe', at);
  }
  events.sort((a, b) => a.at - b.at);
  return email;
}
