/**
 * The anchors: the same SQL sent straight through `pg`, the way PostGraphile
 * sends it (a transaction, the request's settings applied with set_config,
 * the statement as a named prepared statement, commit), and EXPLAIN ANALYZE
 * of a statement as a given persona, summarised.
 */
import pg from 'pg';
import { APPLY_SETTINGS_SQL, requestStart } from '../../src/server/context.ts';
import { API_CONNECTION_SETTINGS } from '../../src/server/user-session.ts';

export interface Statement {
  text: string;
  values?: unknown[];
  name?: string;
}

/** The settings PostGraphile applies for a member's request (see src/server/context.ts). */
export type PgSettings = Record<string, string>;

/**
 * How the API starts a request with these settings (`requestStart`,
 * src/server/context.ts): one statement that applies the role and timeout
 * with set_config and enters the request (app_hidden.enter_session or
 * enter_request), whose SET LOCAL settings the policies read.
 */
export function requestSettings(settings: PgSettings): Statement[] {
  return [requestStart(settings)];
}

/** Statements that set up a request rather than do its work. */
export const isRequestSetup = (s: Statement) => s.text === APPLY_SETTINGS_SQL || /^select app_hidden\.enter_[a-z_]+\(/.test(s.text);

/** begin; the request's start; statement; commit — the API's shape of one request. */
export function inRequest(settings: PgSettings, statement: Statement): Statement[] {
  return [{ text: 'begin' }, ...requestSettings(settings), statement, { text: 'commit' }];
}

/** The result of the statement inRequest wraps (the one before commit; the request set-up before it varies). */
export function statementResult(results: readonly pg.QueryResult[]): pg.QueryResult {
  return results[results.length - 2]!;
}

/** A pool configured like the API's (size 20, the API's per-connection settings: src/server/user-session.ts). */
export function apiLikePool(connectionString: string, max = 20): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'penguinmails-bench-anchor' });
  pool.on('connect', (client) => {
    client.query(API_CONNECTION_SETTINGS).catch(() => undefined);
  });
  pool.on('error', () => undefined);
  return pool;
}

/** Runs the statements in order on one pooled connection; rolls back if one fails. */
export async function runStatements(pool: pg.Pool, statements: readonly Statement[]): Promise<pg.QueryResult[]> {
  const client = await pool.connect();
  const results: pg.QueryResult[] = [];
  try {
    for (const s of statements) results.push(await client.query(s.name ? { text: s.text, values: s.values, name: s.name } : { text: s.text, values: s.values }));
    return results;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface ScanNode {
  node: string;
  relation?: string;
  index?: string;
  rows: number;
  loops: number;
  /** Rows the scan looked at over all loops (returned + removed by its filter). */
  examined: number;
}

export interface PlanSummary {
  executionMs: number;
  planningMs: number;
  /** Every scan in the plan (after partition pruning, what actually ran). */
  scans: ScanNode[];
  /** Relations read with a sequential scan that looked at more than a few hundred rows. */
  seqScans: string[];
  /** The plan as indented text (node, relation, index, actual rows × loops, time). */
  text: string;
  /** The statement explained (at most 6,000 characters). */
  statement: string;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Alias'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Actual Total Time'?: number;
  'Rows Removed by Filter'?: number;
  'Filter'?: string;
  'Index Cond'?: string;
  'Join Type'?: string;
  'Function Name'?: string;
  Plans?: PlanNode[];
}

function render(node: PlanNode, depth: number, lines: string[], scans: ScanNode[]): void {
  const loops = node['Actual Loops'] ?? 0;
  const rows = node['Actual Rows'] ?? 0;
  if (/Scan/.test(node['Node Type']) && loops > 0) {
    scans.push({
      node: node['Node Type'], relation: node['Relation Name'] ?? node['Function Name'], index: node['Index Name'], rows, loops,
      examined: (rows + (node['Rows Removed by Filter'] ?? 0)) * loops,
    });
  }
  const what = [
    node['Node Type'] + (node['Join Type'] ? ` (${node['Join Type']})` : ''),
    node['Relation Name'] ? `on ${node['Relation Name']}` : node['Function Name'] ? `of ${node['Function Name']}` : '',
    node['Index Name'] ? `using ${node['Index Name']}` : '',
  ].filter(Boolean).join(' ');
  const cond = node['Index Cond'] ?? node['Filter'];
  const removed = node['Rows Removed by Filter'] ? `, ${node['Rows Removed by Filter']} removed by filter` : '';
  lines.push(`${'  '.repeat(depth)}${what}  [rows ${rows} × ${loops} loops, ${(node['Actual Total Time'] ?? 0).toFixed(3)} ms${removed}]${cond ? `  ${cond.slice(0, 160)}` : ''}`);
  for (const child of node.Plans ?? []) render(child, depth + 1, lines, scans);
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of a statement, inside a transaction with the
 * given settings (a member's role and tenant, or none for the owner), rolled
 * back afterwards.
 */
export async function explainAnalyze(pool: pg.Pool, settings: PgSettings | null, statement: Statement): Promise<PlanSummary> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    // On Citus the request's entry reads reference tables through the
    // coordinator's own placements (local execution), after which Citus
    // refuses EXPLAIN ANALYZE of a distributed statement in that transaction.
    await client.query(`select set_config('citus.enable_local_execution', 'off', true) where exists (select from pg_extension where extname = 'citus')`);
    for (const s of settings ? requestSettings(settings) : []) await client.query(s.text, s.values);
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }> }>(
      `explain (analyze, buffers, format json) ${statement.text}`,
      statement.values,
    );
    const [plan] = rows[0]!['QUERY PLAN'];
    const lines: string[] = [];
    const scans: ScanNode[] = [];
    render(plan!.Plan, 0, lines, scans);
    return {
      executionMs: plan!['Execution Time'],
      planningMs: plan!['Planning Time'],
      scans,
      seqScans: [...new Set(scans.filter((s) => s.node === 'Seq Scan' && s.examined > 500).map((s) => s.relation ?? '?'))],
      text: lines.join('\n'),
      statement: statement.text.slice(0, 6000),
    };
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}
