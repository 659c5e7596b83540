import type { BatchingResult } from '../scenarios/batching.ts';
import type { E2eResult } from '../scenarios/e2e.ts';
import type { ProfileResult } from '../scenarios/profile.ts';
import type { RedisMemoryResult } from '../scenarios/redis-memory.ts';
import type { ScaleoutResult } from '../scenarios/scaleout.ts';
import type { SubstrateResult } from '../scenarios/substrate.ts';

/** Everything one `npm run bench` measured; written as bench/reports/<date>.json. */
export interface BenchReport {
  meta: {
    date: string;
    mode: 'quick' | 'full';
    startedAt: string;
    durationS: number;
    node: string;
    cpus: number;
    memoryGb: number;
    commit: string;
    /** Machine CPU busy outside the bench's processes during the run (other work skews every number). */
    otherLoadCores?: number;
    /** Wall time of each scenario, to keep --quick under its 3 minutes. */
    scenarioSeconds: Record<string, number>;
    options: Record<string, unknown>;
  };
  /** The plain loop runs at the start and at the end (their spread shows how noisy the machine was); targets use their mean. */
  substrate: { runs: SubstrateResult[]; jobsPerS: number; withInferqOptions: SubstrateResult | undefined } | undefined;
  e2e: E2eResult | undefined;
  batching: BatchingResult | undefined;
  scaleout: ScaleoutResult | undefined;
  redisMemory: RedisMemoryResult | undefined;
  profile: ProfileResult | undefined;
  targets: TargetCheck[];
  /** Scenarios that failed; the rest of the report still stands. */
  errors: { scenario: string; message: string }[];
  /** Phases whose jobs did not all finish in time: their numbers understate the platform. */
  incompletePhases: string[];
  /** Resident memory of the API and worker processes over the whole run (all scenarios), when ready and at peak. */
  rss: Record<string, { readyBytes: number; peakBytes: number }>;
  /** Warnings and errors the API and workers logged, by app and message, with an example line. */
  appLogs: Record<string, { count: number; example: string }>;
}

export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  status: 'met' | 'missed' | 'n/a';
  note?: string;
}
