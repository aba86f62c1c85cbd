/**
 * Plan limits at the moment of the write: for every metered metric and every
 * gauge, the Nth is allowed and the N+1th refused with the exact message,
 * leaving nothing behind; add-ons raise limits; deletes free capacity; a
 * downgraded tenant keeps its data but cannot add; unpaid tenants cannot
 * send; and concurrent writers cannot overshoot.
 */
import { readFileSync } from 'node:fs';
import { createPool, sql, type ConnectionPool, type SQLQuery } from '../../src/db/pg.ts';
import { addAddon, putTenantOnPlan, usageOf } from '../helpers/billing.ts';
import { baseTestUrls, closeDb, randomSuffix, withTx, type TestTx } from '../helpers/db.ts';
import { withDatabase } from '../helpers/test-database.ts';

afterAll(closeDb);

const MORE = 'Upgrade the plan or buy an add-on to go further.';

async function freeTenant(t: TestTx, label: string) {
  const { tenant, owner } = await t.tenantWithOwner(label);
  await putTenantOnPlan(t.tx, tenant.id, 'free');
  return { tenant, owner };
}

const countOf = async (t: TestTx, table: string, tenantId: string) =>
  Number((await t.one(sql`select count(*) as n from ${sql.ident('app_public', table)} where tenant_id = ${tenantId}`)).n);

const insertLeads = (tenantId: string, from: number, to: number) => sql`
  insert into app_public.leads (tenant_id, email)
  select ${tenantId}, 'lead' || g || '@limits.example' from generate_series(${from}::int, ${to}::int) g
`;

describe('metered usage (consume_usage)', () => {
  test('the last allowed email passes, the next is refused with a clear message and nothing is counted', async () => {
    await withTx(async (t) => {
      const { tenant } = await freeTenant(t, 'usage');
      await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 499)`);
      const [{ used }] = await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1) as used`);
      expect(Number(used)).toBe(500);
      const error = await t.error(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1)`);
      expect(error.code).toBe('LIMIT');
      expect(error.message).toBe(`Your Free plan allows 500 emails per month; 500 already used. ${MORE}`);
      expect(JSON.parse(error.detail!)).toEqual({ metric: 'emails_sent', plan: 'Free', limit: 500, used: 500, requested: 1 });
      expect(Number((await t.one(sql`select app_private.metered_usage(${tenant.id}, 'emails_sent') as n`)).n)).toBe(500);

      await addAddon(t.tx, tenant.id, 'max_emails_per_month', 100);
      await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 100)`);
      expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1)`)).message).toBe(
        `Your Free plan allows 600 emails per month; 600 already used. ${MORE}`,
      );

      // Enterprise: unlimited.
      await putTenantOnPlan(t.tx, tenant.id, 'enterprise');
      const [{ total }] = await t.query(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 1000000) as total`);
      expect(Number(total)).toBe(1000600);
    });
  });

  test('campaign starts and warm-ups: the Nth passes, the N+1th is refused, a batch that does not fit says so', async () => {
    await withTx(async (t) => {
      const { tenant } = await freeTenant(t, 'metered');
      // Free: 2 campaign starts a month, 1 inbox warming up.
      await t.query(sql`select app_private.consume_usage(${tenant.id}, 'campaigns_started', 2)`);
      expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'campaigns_started')`)).message).toBe(
        `Your Free plan allows 2 campaign starts per month; 2 already used. ${MORE}`,
      );
      await t.query(sql`select app_private.consume_usage(${tenant.id}, 'warmups')`);
      expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'warmups')`)).message).toBe(
        `Your Free plan allows 1 inbox warming up; 1 already used. ${MORE}`,
      );
      await addAddon(t.tx, tenant.id, 'max_warmups', 2);
      const batch = await t.error(sql`select app_private.consume_usage(${tenant.id}, 'warmups', 3)`);
      expect(batch.message).toBe(`Your Free plan allows 3 inboxes warming up; 1 already used, so 3 more do not fit. ${MORE}`);
      await t.query(sql`select app_private.consume_usage(${tenant.id}, 'warmups', 2)`);

      const usage = await usageOf(t.tx, tenant.id);
      expect(usage.campaigns_started).toEqual({ metric: 'campaigns_started', used: 2, limit: 2, plan: 'Free' });
      expect(usage.warmups).toEqual({ metric: 'warmups', used: 3, limit: 3, plan: 'Free' });

      expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'contacts')`)).code).toBe('INVAL');
      expect((await t.error(sql`select app_private.consume_usage(${tenant.id}, 'emails_sent', 0)`)).code).toBe('INVAL');
    });
  });

  test('an unpaid tenant cannot send or start campaigns, and is told why; other metering goes on', async () => {
    await withTx(async (t) => {
      const { tenant } = await t.tenantWithOwner('unpaid');
      await t.query(sql`
        update app_public.subscriptions set status = 'unpaid', past_due_since = '2026-03-02T10:00:00Z'
        where tenant_id = ${tenant.id}
      `);
      for (const metric of ['emails_sent', 'campaigns_started']) {
        const error = await t.error(sql`select app_private.consume_usage(${tenant.id}, ${metric}, 1)`);
        expect(error.code).toBe('LIMIT');
        expect(error.message).toBe(
          'Sending is suspended: the payment for your Pro plan is overdue (since 2026-03-02). Pay the open invoice or update your payment method; sending resumes as soon as the payment succeeds.',
        );
      }
      expect(Number((await t.one(sql`select app_private.consume_usage(${tenant.id}, 'warmups') as n`)).n)).toBe(1);
      expect(Number((await t.one(sql`select app_private.metered_usage(${tenant.id}, 'emails_sent') as n`)).n)).toBe(0);
    });
  });

  test('consume_usage refuses to run where it could not re-read the count (REPEATABLE READ)', async () => {
    const pool = createPool({ connectionString: withDatabase(baseTestUrls().owner, 'penguinmails_test'), bigIntMode: 'string', poolSize: 1 });
    try {
      await pool.task(async (connection) => {
        await connection.query(sql`begin isolation level repeatable read`);
        try {
          await expect(connection.query(sql`select app_private.consume_usage(gen_random_uuid(), 'emails_sent', 1)`)).rejects.toThrow(
            'consume_usage needs READ COMMITTED (it re-reads the count after locking), not repeatable read.',
          );
        } finally {
          await connection.query(sql`rollback`);
        }
      });
    } finally {
      await pool.dispose();
    }
  });
});

describe('gauges (contacts, domains, email accounts, members)', () => {
  test('contacts: 500 in one statement fit the Free plan, the 501st is refused and nothing is written; deleting frees room', async () => {
    await withTx(async (t) => {
      const { tenant, owner } = await freeTenant(t, 'contacts');
      await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      await t.query(sql`insert into app_public.leads (email) select 'lead' || g || '@limits.example' from generate_series(1, 499) g`);
      await t.query(sql`insert into app_public.leads (email) values ('last@limits.example')`);
      const one = await t.error(sql`insert into app_public.leads (email) values ('too-many@limits.example')`);
      expect(one.code).toBe('LIMIT');
      expect(one.message).toBe(`Your Free plan allows 500 contacts; 500 already used. ${MORE}`);
      await t.as({ kind: 'root' });
      expect(await countOf(t, 'leads', tenant.id)).toBe(500);

      await t.query(sql`delete from app_public.leads where tenant_id = ${tenant.id} and email in ('lead1@limits.example', 'lead2@limits.example')`);
      const bulk = await t.error(insertLeads(tenant.id, 1000, 1002));
      expect(bulk.message).toBe(`Your Free plan allows 500 contacts; 498 already used, so 3 more do not fit. ${MORE}`);
      expect(await countOf(t, 'leads', tenant.id)).toBe(498);
      await t.query(insertLeads(tenant.id, 1000, 1001));
      expect((await usageOf(t.tx, tenant.id)).contacts).toEqual({ metric: 'contacts', used: 500, limit: 500, plan: 'Free' });

      // ON CONFLICT DO NOTHING counts only the rows really inserted.
      await t.query(sql`insert into app_public.leads (tenant_id, email) values (${tenant.id}, 'lead1000@limits.example') on conflict do nothing`);
      expect((await usageOf(t.tx, tenant.id)).contacts.used).toBe(500);
    });
  });

  test('sending domains and email accounts: one each on Free, an add-on raises the limit', async () => {
    await withTx(async (t) => {
      const { tenant, owner } = await freeTenant(t, 'sending');
      await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      const [{ id: domainId }] = await t.query(sql`insert into app_public.domains (domain) values ('one.limits.example') returning id`);
      const domain = await t.error(sql`insert into app_public.domains (domain) values ('two.limits.example')`);
      expect(domain.code).toBe('LIMIT');
      expect(domain.message).toBe(`Your Free plan allows 1 sending domain; 1 already used. ${MORE}`);

      await t.query(sql`insert into app_public.email_accounts (domain_id, email, warmup_enabled) values (${domainId}, 'a@one.limits.example', false)`);
      const inbox = await t.error(sql`insert into app_public.email_accounts (domain_id, email, warmup_enabled) values (${domainId}, 'b@one.limits.example', false)`);
      expect(inbox.message).toBe(`Your Free plan allows 1 email account; 1 already used. ${MORE}`);
      await t.as({ kind: 'root' });
      expect(await countOf(t, 'domains', tenant.id)).toBe(1);
      expect(await countOf(t, 'email_accounts', tenant.id)).toBe(1);

      await addAddon(t.tx, tenant.id, 'max_domains', 1);
      await addAddon(t.tx, tenant.id, 'max_email_accounts', 2);
      await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      await t.query(sql`insert into app_public.domains (domain) values ('two.limits.example')`);
      expect((await t.error(sql`insert into app_public.domains (domain) values ('three.limits.example')`)).message).toBe(
        `Your Free plan allows 2 sending domains; 2 already used. ${MORE}`,
      );
      await t.query(sql`
        insert into app_public.email_accounts (domain_id, email, warmup_enabled)
        values (${domainId}, 'b@one.limits.example', false), (${domainId}, 'c@one.limits.example', false)
      `);
      await t.as({ kind: 'root' });
      const usage = await usageOf(t.tx, tenant.id);
      expect([usage.domains, usage.email_accounts]).toEqual([
        { metric: 'domains', used: 2, limit: 2, plan: 'Free' },
        { metric: 'email_accounts', used: 3, limit: 3, plan: 'Free' },
      ]);
      // Deleting a domain takes its inboxes with it (cascade): both gauges follow.
      await t.query(sql`delete from app_public.domains where tenant_id = ${tenant.id} and id = ${domainId}`);
      const after = await usageOf(t.tx, tenant.id);
      expect([after.domains.used, after.email_accounts.used]).toEqual([1, 0]);
    });
  });

  test('members: every active membership takes a seat, open invitations reserve one, removal frees it', async () => {
    await withTx(async (t) => {
      const { tenant, owner } = await freeTenant(t, 'seats');
      const colleague = await t.createUser(`colleague-${randomSuffix()}@example.com`);
      const direct = await t.error(sql`
        insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenant.id}, ${colleague.id}, '{member}', ${colleague.email})
      `);
      expect(direct.message).toBe(`Your Free plan allows 1 member; 1 already used. ${MORE}`);

      await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      const invite = await t.error(sql`select app_public.invite_member('newcomer@example.com', '{member}')`);
      expect(invite.code).toBe('LIMIT');
      expect(invite.message).toBe(
        'Your Free plan allows 1 member; 1 already taken (1 active, 0 invited). Upgrade the plan, buy an add-on or revoke an open invitation to invite more.',
      );
      await t.as({ kind: 'root' });
      await addAddon(t.tx, tenant.id, 'max_users', 1);
      await t.as({ kind: 'member', userId: owner.id, tenantId: tenant.id });
      await t.query(sql`select app_public.invite_member('newcomer@example.com', '{member}')`);
      // Inviting the same address again replaces the invitation: still one seat.
      await t.query(sql`select app_public.invite_member('newcomer@example.com', '{viewer}')`);
      expect((await t.error(sql`select app_public.invite_member('second@example.com', '{member}')`)).message).toBe(
        'Your Free plan allows 2 members; 2 already taken (1 active, 1 invited). Upgrade the plan, buy an add-on or revoke an open invitation to invite more.',
      );
      await t.as({ kind: 'root' });

      // The invitation's seat is taken by the membership; a direct add now exceeds the limit.
      await t.query(sql`
        insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenant.id}, ${colleague.id}, '{member}', ${colleague.email})
      `);
      const third = await t.createUser(`third-${randomSuffix()}@example.com`);
      expect((await t.error(sql`
        insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenant.id}, ${third.id}, '{viewer}', ${third.email})
      `)).message).toBe(`Your Free plan allows 2 members; 2 already used. ${MORE}`);

      // Removing a member (soft delete) frees the seat; reinstating takes it again.
      await t.query(sql`update app_public.tenant_users set deleted_at = now() where tenant_id = ${tenant.id} and user_id = ${colleague.id}`);
      expect((await usageOf(t.tx, tenant.id)).users.used).toBe(1);
      await t.query(sql`
        insert into app_public.tenant_users (tenant_id, user_id, roles, email) values (${tenant.id}, ${third.id}, '{viewer}', ${third.email})
      `);
      expect((await t.error(sql`update app_public.tenant_users set deleted_at = null where tenant_id = ${tenant.id} and user_id = ${colleague.id}`)).message).toBe(
        `Your Free plan allows 2 members; 2 already used. ${MORE}`,
      );
      expect((await usageOf(t.tx, tenant.id)).users).toEqual({ metric: 'users', used: 2, limit: 2, plan: 'Free' });
    });
  });

  test('a downgraded tenant keeps everything it has but cannot add until it is under the new limit', async () => {
    await withTx(async (t) => {
      const { tenant } = await t.tenantWithOwner('downgrade');
      await t.query(sql`
        insert into app_public.domains (tenant_id, domain)
        select ${tenant.id}, 'd' || g || '.downgrade.example' from generate_series(1, 3) g
      `);
      await putTenantOnPlan(t.tx, tenant.id, 'free');
      expect(await countOf(t, 'domains', tenant.id)).toBe(3);
      expect((await usageOf(t.tx, tenant.id)).domains).toEqual({ metric: 'domains', used: 3, limit: 1, plan: 'Free' });
      expect((await t.error(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, 'd4.downgrade.example')`)).message).toBe(
        `Your Free plan allows 1 sending domain; 3 already used. ${MORE}`,
      );
      await t.query(sql`delete from app_public.domains where tenant_id = ${tenant.id} and domain in ('d1.downgrade.example', 'd2.downgrade.example')`);
      expect((await t.error(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, 'd4.downgrade.example')`)).code).toBe('LIMIT');
      await t.query(sql`delete from app_public.domains where tenant_id = ${tenant.id}`);
      await t.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenant.id}, 'd4.downgrade.example')`);
      expect((await usageOf(t.tx, tenant.id)).domains.used).toBe(1);
    });
  });

  test('gauges equal the real counts after mixed writes by several statements', async () => {
    await withTx(async (t) => {
      const { tenant } = await t.tenantWithOwner('exact');
      await t.query(insertLeads(tenant.id, 1, 300));
      await t.query(sql`delete from app_public.leads where tenant_id = ${tenant.id} and email like 'lead1%'`);
      await t.query(insertLeads(tenant.id, 301, 350));
      await t.query(sql`
        insert into app_public.leads (tenant_id, email) select ${tenant.id}, email from app_public.leads where tenant_id = ${tenant.id}
        on conflict do nothing
      `);
      const [{ real, gauge }] = await t.query(sql`
        select (select count(*) from app_public.leads where tenant_id = ${tenant.id})::int as real,
               app_private.gauge_value(${tenant.id}, 'contacts')::int as gauge
      `);
      expect(gauge).toBe(real);
      expect(real).toBe(350 - 111);
    });
  });
});

describe('bulk writes are counted in one pass per statement', () => {
  test('100,000 leads in one statement fill the Pro plan exactly, the next is refused, and time grows linearly', async () => {
    await withTx(async (t) => {
      const { tenant } = await t.tenantWithOwner('bulk');
      // The backend's own CPU time (from /proc: the test servers run on this
      // machine), not the wall clock, which a loaded machine stretches at
      // random; the wall clock where /proc has no such process.
      const [{ pid }] = await t.query(sql`select pg_backend_pid() as pid`);
      const cpuMs = () => {
        try {
          const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
          return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
        } catch {
          return null;
        }
      };
      const timed = async (from: number, to: number) => {
        const cpu = cpuMs();
        const started = process.hrtime.bigint();
        await t.query(insertLeads(tenant.id, from, to));
        const cpuAfter = cpuMs();
        return cpu !== null && cpuAfter !== null ? cpuAfter - cpu : Number(process.hrtime.bigint() - started) / 1e6;
      };
      const small = await timed(1, 20_000);
      const large = await timed(20_001, 100_000);
      expect((await usageOf(t.tx, tenant.id)).contacts).toEqual({ metric: 'contacts', used: 100_000, limit: 100_000, plan: 'Pro' });
      expect((await t.error(insertLeads(tenant.id, 100_001, 100_001))).message).toBe(
        `Your Pro plan allows 100,000 contacts; 100,000 already used. ${MORE}`,
      );
      // 4x the rows: linear is ~4x the time, quadratic would be ~16x.
      expect(large / small).toBeLessThan(8);
      process.stdout.write(`[bulk leads] 20,000 rows: ${small.toFixed(0)} ms; 80,000 rows: ${large.toFixed(0)} ms (backend CPU where readable)\n`);
    });
  }, 120_000);
});

describe('concurrency (committed transactions on separate connections)', () => {
  let pool: ConnectionPool;
  const tenants: string[] = [];

  beforeAll(() => {
    pool = createPool({ connectionString: withDatabase(baseTestUrls().owner, 'penguinmails_test'), bigIntMode: 'string', poolSize: 24 });
  });
  afterAll(async () => {
    for (const id of tenants) await pool.query(sql`delete from app_public.tenants where id = ${id}`);
    await pool.dispose();
  });

  async function committedTenant(label: string, plan: string): Promise<string> {
    const [user] = await pool.query(sql`select id from app_private.create_user(${`${label}-${randomSuffix()}@example.com`}, 'irrelevant-password')`);
    const [{ id }] = await pool.query(sql`select id from app_private.create_tenant(${label}, ${user.id}, ${plan})`);
    tenants.push(id);
    return id;
  }

  /** A committed tenant whose limit for `addonType` is `usage_lockless_margin() + 5`: far from it at first. */
  async function tenantJustPastTheMargin(label: string, addonType: string): Promise<{ tenantId: string; limit: number }> {
    const tenantId = await committedTenant(label, 'free');
    const [{ margin }] = await pool.query(sql`select app_private.usage_lockless_margin()::int as margin`);
    // Free allows 500 of both metrics used here; the add-on makes it margin + 5.
    await addAddon(pool, tenantId, addonType, margin + 5 - 500);
    return { tenantId, limit: margin + 5 };
  }

  /** Runs `statement` in a transaction on its own connection and leaves it open until `commit()`. */
  async function openTransaction(statement: SQLQuery): Promise<{ commit(): Promise<void> }> {
    let release!: () => void;
    const mayCommit = new Promise<void>((resolve) => (release = resolve));
    let ran!: () => void;
    const done = new Promise<void>((resolve) => (ran = resolve));
    const tx = pool.tx(async (t) => {
      await t.query(statement);
      ran();
      await mayCommit;
    });
    await Promise.race([done, tx]);
    return { commit: () => (release(), tx) };
  }

  test('40 concurrent senders for the last 10 emails: exactly 10 succeed', async () => {
    const tenantId = await committedTenant('race', 'free');
    await pool.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', 490)`);
    const attempts = await Promise.allSettled(
      Array.from({ length: 40 }, () =>
        pool.tx(async (tx) => {
          await tx.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', 1)`);
          await tx.query(sql`select pg_sleep(0.01)`);
        }),
      ),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(10);
    const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(new Set(refused.map((r) => r.reason.code))).toEqual(new Set(['LIMIT']));
    expect(Number((await pool.query(sql`select app_private.metered_usage(${tenantId}, 'emails_sent') as n`))[0].n)).toBe(500);
  });

  test('far from the limit senders do not wait for each other; a sender still in flight is waited for near the limit', async () => {
    const { tenantId, limit } = await tenantJustPastTheMargin('inflight', 'max_emails_per_month');
    const first = await openTransaction(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', 1)`);
    // Another far-from-the-limit sender is not held up by the open transaction.
    await pool.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', 1)`);
    // Asking for the whole allowance needs the exact count: it waits for the open sender…
    let settled = false;
    const whole = pool.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', ${limit - 1})`).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    await first.commit();
    // …and then sees its email: 2 used, limit - 1 more do not fit.
    await expect(whole).rejects.toMatchObject({ code: 'LIMIT', message: expect.stringContaining('; 2 already used, so') });
    await pool.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', ${limit - 2})`);
    expect(Number((await pool.query(sql`select app_private.metered_usage(${tenantId}, 'emails_sent') as n`))[0].n)).toBe(limit);
    await expect(pool.query(sql`select app_private.consume_usage(${tenantId}, 'emails_sent', 1)`)).rejects.toMatchObject({ code: 'LIMIT' });
  });

  test('20 concurrent lead inserts for the last 5 contacts: exactly 5 are written', async () => {
    const tenantId = await committedTenant('leadrace', 'free');
    await pool.query(insertLeads(tenantId, 1, 495));
    const attempts = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        pool.tx(async (tx) => {
          await tx.query(sql`insert into app_public.leads (tenant_id, email) values (${tenantId}, ${`racer${i}@limits.example`})`);
          await tx.query(sql`select pg_sleep(0.01)`);
        }),
      ),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(5);
    const [{ real, gauge }] = await pool.query(sql`
      select (select count(*) from app_public.leads where tenant_id = ${tenantId})::int as real,
             app_private.gauge_value(${tenantId}, 'contacts')::int as gauge
    `);
    expect([real, gauge]).toEqual([500, 500]);
  });

  test('far from the contacts limit, writers of one tenant do not wait for each other; near it they wait for the one in flight', async () => {
    const { tenantId, limit } = await tenantJustPastTheMargin('leadflight', 'max_contacts');
    const first = await openTransaction(sql`insert into app_public.leads (tenant_id, email) values (${tenantId}, 'open@flight.example')`);
    // Another writer of the same tenant is not held up by the open transaction…
    await pool.query(sql`insert into app_public.leads (tenant_id, email) values (${tenantId}, 'second@flight.example')`);
    // …but filling the rest of the allowance needs the exact count: it waits for the open writer…
    let settled = false;
    const rest = pool.query(insertLeads(tenantId, 1, limit - 1)).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    await first.commit();
    // …and then sees its lead: 2 exist, limit - 1 more do not fit, and nothing of the statement is written.
    await expect(rest).rejects.toMatchObject({ code: 'LIMIT' });
    await pool.query(insertLeads(tenantId, 1, limit - 2));
    await expect(pool.query(sql`insert into app_public.leads (tenant_id, email) values (${tenantId}, 'one-more@flight.example')`))
      .rejects.toMatchObject({ code: 'LIMIT' });
    const [{ real, gauge }] = await pool.query(sql`
      select (select count(*) from app_public.leads where tenant_id = ${tenantId})::int as real,
             app_private.gauge_value(${tenantId}, 'contacts')::int as gauge
    `);
    expect([real, gauge]).toEqual([limit, limit]);
    // Deleting through any backend keeps the sum exact.
    await pool.query(sql`delete from app_public.leads where tenant_id = ${tenantId} and email like 'lead%@limits.example'`);
    const [{ after }] = await pool.query(sql`select app_private.gauge_value(${tenantId}, 'contacts')::int as after`);
    expect(after).toBe(2);
  });

  test('concurrent domain inserts and invitations cannot exceed their limits either', async () => {
    const tenantId = await committedTenant('domainrace', 'starter');
    const domains = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        pool.query(sql`insert into app_public.domains (tenant_id, domain) values (${tenantId}, ${`race${i}.limits.example`})`),
      ),
    );
    expect(domains.filter((a) => a.status === 'fulfilled')).toHaveLength(3);
    const invitations = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        pool.query(sql`insert into app_public.invitations (tenant_id, email) values (${tenantId}, ${`invitee${i}@limits.example`})`),
      ),
    );
    // Starter: 3 members; the owner holds one seat.
    expect(invitations.filter((a) => a.status === 'fulfilled')).toHaveLength(2);
    const [{ d, i }] = await pool.query(sql`
      select (select count(*) from app_public.domains where tenant_id = ${tenantId})::int as d,
             (select count(*) from app_public.invitations where tenant_id = ${tenantId})::int as i
    `);
    expect([d, i]).toEqual([3, 2]);
  });
});
