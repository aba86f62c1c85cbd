/**
 * Operating the platform: Prometheus metrics at /metrics move while a small
 * campaign sends to a real SMTP server (requests by operation, deliveries,
 * jobs, queue depth and age, stale locks, pools); METRICS_TOKEN protects the
 * endpoint; logs are JSON lines carrying the request id, also on the jobs a
 * request queued; and no password, token or secret reaches a log line while
 * users register, sign in, set inbox credentials, reset a password and send.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { secretsKeyOf } from '../../src/config.ts';
import { captureLogs } from '../../src/log/logger.ts';
import { registerUser, startTestApi, TEST_JWT_SECRET, IN_PROCESS_SETUP_TIMEOUT_MS } from '../helpers/api.ts';
import { eventually } from '../helpers/eventually.ts';
import { createCampaign, createSender, createTenant, nextMonday, setClock, startWorld, type World } from '../sending/support/world.ts';
import { sql } from '../../src/db/pg.ts';

const SMTP_PASSWORD = 'smtp-secret-Zq81-never-logged';
let w: World;

beforeAll(async () => {
  // The API in this process: its request log lines and metrics are read here.
  w = await startWorld({
    apiInProcess: true,
    smtp: {
      allowInsecureAuth: true,
      onAuth: (auth, _session, callback) => (auth.password === SMTP_PASSWORD ? callback(null, { user: auth.username }) : callback(new Error('Invalid login'))),
    },
  });
  await setClock(w, await nextMonday(w, 9));
}, IN_PROCESS_SETUP_TIMEOUT_MS);
afterAll(() => w?.close());

/** The value of one sample of a metric in Prometheus text format (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

const scrape = async () => {
  const response = await fetch(`${w.t.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
};

/** A GraphQL request with a chosen x-request-id. */
async function gql(query: string, variables: Record<string, unknown>, token: string | null, requestId: string) {
  const response = await fetch(`${w.t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  expect(response.headers.get('x-request-id')).toBe(requestId);
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const START = `mutation StartCampaignForOps($id: UUID!) { startCampaign(input: { campaignId: $id }) { result { status } } }`;

async function sendingCampaign(label: string, leads: number) {
  const tenant = await createTenant(w, label);
  const sender = await createSender(w, tenant.tenantId, [{ username: 'sales', password: SMTP_PASSWORD }]);
  const campaign = await createCampaign(w, tenant.tenantId, {
    inboxIds: [sender.inboxes[0]!.id],
    steps: [{ type: 'email', subject: 'Hello {{ lead.first_name }}', html: '<p>Hi</p>' }],
    leads: Array.from({ length: leads }, () => ({})),
  });
  return { tenant, sender, campaign };
}

test('/metrics: requests by operation, deliveries, jobs and pools move while a campaign sends; queue depth, age and stale locks come from SQL', async () => {
  const before = await scrape();
  const { tenant, campaign } = await sendingCampaign('metrics', 3);
  await gql(START, { id: campaign.campaignId }, tenant.token, 'metrics-start-1');
  await eventually(async () => w.smtp.messages.filter((m) => campaign.leads.some((l) => m.to.includes(l.email))).length === 3);

  const after = await eventually(async () => {
    const text = await scrape();
    return sample(text, 'penguinmails_email_deliveries_total', { result: 'sent' }) - sample(before, 'penguinmails_email_deliveries_total', { result: 'sent' }) === 3 && text;
  });
  expect(sample(after, 'penguinmails_graphql_requests_total', { operation: 'StartCampaignForOps', status: '200' })).toBe(1);
  expect(sample(after, 'penguinmails_graphql_request_duration_seconds_count', { operation: 'StartCampaignForOps' })).toBe(1);
  expect(sample(after, 'penguinmails_jobs_run_total', { task: 'campaign_step', outcome: 'completed' })).toBeGreaterThan(0);
  expect(sample(after, 'penguinmails_db_pool_connections', { pool: 'api', state: 'max' })).toBe(20);
  expect(sample(after, 'penguinmails_db_pool_connections', { pool: 'api', state: 'total' })).toBeGreaterThan(0);
  expect(after).toMatch(/^penguinmails_process_resident_memory_bytes \d+/m);

  // A due job no worker here runs (unknown task), one locked 20 minutes ago by a worker that is gone.
  await w.t.owner.query(sql`select graphile_worker.add_job('ops_probe', '{}'::json, run_at => now() - interval '5 minutes')`);
  const [stale] = await w.t.owner.query(sql`select id from graphile_worker.add_job('ops_probe', '{}'::json, job_key => 'stale')`);
  await w.t.owner.query(sql`update graphile_worker._private_jobs set locked_at = now() - interval '20 minutes', locked_by = 'gone' where id = ${stale.id}`);
  const queue = await scrape();
  expect(sample(queue, 'penguinmails_jobs', { task: 'ops_probe', state: 'ready' })).toBe(1);
  expect(sample(queue, 'penguinmails_jobs', { task: 'ops_probe', state: 'running' })).toBe(1);
  expect(sample(queue, 'penguinmails_job_oldest_ready_age_seconds', { task: 'ops_probe' })).toBeGreaterThanOrEqual(300);
  expect(sample(queue, 'penguinmails_jobs_stale_locked', { task: 'ops_probe' })).toBe(1);
  await w.t.owner.query(sql`delete from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'ops_probe')`);
  expect(sample(await scrape(), 'penguinmails_jobs', { task: 'ops_probe', state: 'ready' })).toBe(0);
});

test('with METRICS_TOKEN, /metrics needs it as a bearer token', async () => {
  const token = 'metrics-token-0123456789';
  const t = await startTestApi({ METRICS_TOKEN: token });
  try {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: token }] as Record<string, string>[]) {
      const refused = await fetch(`${t.url}/metrics`, { headers });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({ errors: [{ message: 'Metrics need "Authorization: Bearer <METRICS_TOKEN>".', extensions: { code: 'UNAUTHENTICATED' } }] });
    }
    const ok = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^# HELP penguinmails_graphql_requests_total/m);
  } finally {
    await t.close();
  }
});

test('logs are JSON lines with request ids, carried into the jobs a request queued; no password, token or secret appears', async () => {
  const passwords = { register: 'register-Pw-77-never-logged', reset: 'reset-Pw-88-never-logged', imap: 'imap-secret-Qx55-never-logged' };
  const logs = captureLogs('debug');
  const secrets: string[] = [...Object.values(passwords), SMTP_PASSWORD, TEST_JWT_SECRET, secretsKeyOf(w.env)];
  try {
    const user = await registerUser(w.t, 'logs', passwords.register);
    secrets.push(user.jwtToken);
    const login = await gql(`mutation SignIn($input: LoginInput!) { login(input: $input) { jwtToken } }`,
      { input: { email: user.email, password: passwords.register, tenantId: user.tenantId } }, null, 'logs-login-1');
    secrets.push(login.login.jwtToken);

    // An inbox whose passwords are set through the API, then a campaign sending through it.
    const { tenant, sender, campaign } = await sendingCampaign('logs', 1);
    await w.t.owner.query(sql`delete from app_private.email_account_credentials where email_account_id = ${sender.inboxes[0]!.id}`);
    await gql(`mutation SetCredentials($i: SetEmailAccountCredentialsInput!) { setEmailAccountCredentials(input: $i) { smtpAuthConfigured } }`,
      { i: { emailAccountId: sender.inboxes[0]!.id, smtpPassword: SMTP_PASSWORD, imapPassword: passwords.imap } }, tenant.token, 'logs-credentials-1');
    await gql(START, { id: campaign.campaignId }, tenant.token, 'logs-start-1');
    await w.smtp.waitFor((m) => m.to.includes(campaign.leads[0]!.email));

    // A password reset: the emailed token (the outbox here) is a secret too.
    await gql(`mutation Forgot($email: String!) { requestPasswordReset(input: { email: $email }) { result } }`, { email: user.email }, null, 'logs-reset-1');
    const outbox = path.join(os.tmpdir(), 'pm-sending-outbox');
    const resetToken = await eventually(async () => {
      for (const file of readdirSync(outbox)) {
        const mail = readFileSync(path.join(outbox, file), 'utf8');
        const token = mail.includes(user.email) ? /reset-password\?token=([A-Za-z0-9_%-]+)/.exec(mail.replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[1] : undefined;
        if (token) return decodeURIComponent(token);
      }
      return null;
    });
    secrets.push(resetToken);
    await gql(`mutation Reset($token: String!, $password: String!) { resetPassword(input: { token: $token, newPassword: $password }) { result } }`,
      { token: resetToken, password: passwords.reset }, null, 'logs-reset-2');
    await eventually(async () => logs.lines().some((l) => l.includes('"task":"campaign_step"') && l.includes('job completed')));
  } finally {
    logs.stop();
  }

  const lines = logs.lines();
  const text = lines.join('');
  for (const secret of secrets) expect(text).not.toContain(secret);
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(entries.every((e) => typeof e.time === 'string' && typeof e.level === 'string' && typeof e.msg === 'string')).toBe(true);
  expect(entries).toContainEqual(expect.objectContaining({ component: 'api', msg: 'request', route: '/graphql', operation: 'SignIn', status: 200, requestId: 'logs-login-1' }));
  // The jobs the requests queued log with the request's id.
  expect(entries).toContainEqual(expect.objectContaining({ component: 'worker', task: 'campaign_step', msg: 'job completed', requestId: 'logs-start-1' }));
  expect(entries).toContainEqual(expect.objectContaining({ component: 'worker', task: 'send_password_reset_email', msg: 'job completed', requestId: 'logs-reset-1' }));
});
