/** Every figure, by key (see FIGURES in ../lib/options.ts for numbers and titles). */
import type { BenchContext } from '../lib/context.ts';
import type { FigureKey } from '../lib/options.ts';
import type { FigureResult } from '../lib/report.ts';
import { citusVsOneNode } from './citus.ts';
import { graphqlAggregates } from './graphql-aggregates.ts';
import { graphqlRead } from './graphql-read.ts';
import { graphqlWrite } from './graphql-write.ts';
import { importLeads } from './import.ts';
import { jobs } from './jobs.ts';
import { memory } from './memory.ts';
import { rlsOverhead } from './rls.ts';
import { sends } from './sends.ts';
import { webhooks } from './webhooks.ts';

export type FigureRun = (ctx: BenchContext) => Promise<Omit<FigureResult, 'key' | 'number' | 'title'>>;

export const RUNS: Partial<Record<FigureKey, FigureRun>> = {
  'graphql-read': graphqlRead,
  'graphql-aggregates': graphqlAggregates,
  rls: rlsOverhead,
  'graphql-write': graphqlWrite,
  jobs,
  sends,
  import: importLeads,
  memory,
  citus: citusVsOneNode,
  webhooks,
};
