/**
 * Where the time goes inside our SQL functions: auto_explain (shipped with
 * PostgreSQL) with nested statements and ANALYZE, loaded into one superuser
 * session whose log messages are sent to the client. The work runs in a
 * transaction that is rolled back, so profiling changes nothing.
 */
import pg from 'pg';

export interface NestedStatement {
  ms: number;
  statement: string;
  /** The first lines of its plan with actual times. */
  plan: string;
}

/** Runs `work` with auto_explain on; the `runs` argument tells `work` which pass it is (the last one is reported, warm). */
export async function profileNested(
  superuserUrl: string,
  work: (client: pg.Client, pass: number) => Promise<void>,
  { passes = 3, top = 8 }: { passes?: number; top?: number } = {},
): Promise<NestedStatement[]> {
  const client = new pg.Client({ connectionString: superuserUrl, application_name: 'penguinmails-bench-profile' });
  const logs: string[] = [];
  client.on('notice', (n) => logs.push(n.message ?? ''));
  await client.connect();
  try {
    await client.query('begin');
    // Warm passes first: plpgsql plans its statements on first use in a session.
    for (let pass = 1; pass < passes; pass++) await work(client, pass);
    await client.query(`load 'auto_explain'`);
    await client.query(`select set_config(k, v, true) from (values
      ('auto_explain.log_min_duration', '0'), ('auto_explain.log_nested_statements', 'on'),
      ('auto_explain.log_analyze', 'on'), ('client_min_messages', 'log')) s (k, v)`);
    logs.length = 0;
    await work(client, passes);
    return logs
      .map((log) => /duration: ([\d.]+) ms\s+plan:\s*\n?Query Text: ([\s\S]*?)\n((?:Query Parameters[^\n]*\n)?[\s\S]*)/.exec(log))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ ms: Number(m[1]), statement: m[2]!.replace(/\s+/g, ' ').trim().slice(0, 300), plan: m[3]!.split('\n').slice(0, 24).join('\n') }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  } finally {
    await client.query('rollback').catch(() => undefined);
    await client.end();
  }
}
