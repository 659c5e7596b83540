/**
 * The chaos suite at reduced size (test/chaos/scenario.ts; `npm run chaos` runs it at full size):
 * real API and worker processes, a private redis-server, the simulated upstream, a loopback
 * webhook receiver; single and bulk submits (some re-sent under an Idempotency-Key); workers
 * SIGKILLed, Redis restarted and flushed, the API killed, Postgres stalled, upstream 500 / 429 /
 * hangs. Every accepted job must end final, once, with its own result, and be delivered.
 * CHAOS_VERBOSE=1 prints the run's timeline.
 */
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/database.ts';
import { probeBatchFinishRace } from './chaos/probes.ts';
import { presets, runChaos } from './chaos/scenario.ts';
import type { Check } from './chaos/checks.ts';

const verbose = process.env.CHAOS_VERBOSE === '1';

const explain = (checks: Check[]): string =>
  checks
    .filter((check) => check.result === 'fail')
    .map((check) => [`✗ ${check.name}: ${check.summary}`, ...check.evidence.map((line) => `    ${line}`)].join('\n'))
    .join('\n');

describe('chaos (reduced): nothing accepted is lost, nothing is applied twice', () => {
  it(`${presets.reduced.jobs} jobs through worker SIGKILLs, a Redis restart and FLUSHALL, an API restart, Postgres stalls and a faulty upstream`, async () => {
    const report = await runChaos({
      ...presets.reduced,
      database: createTestDatabase,
      log: verbose ? (line) => console.log(`[chaos] ${line}`) : undefined,
    });
    console.log(report.summaryLine);

    const failed = report.checks.filter((check) => check.result === 'fail').map((check) => check.name);
    expect(failed, `${explain(report.checks)}\n${report.timeline.join('\n')}\nlogs: ${report.artifactsDir}`).toEqual([]);
    expect(report.figures.accepted).toBe(presets.reduced.jobs);
    expect(report.figures.lost).toBe(0);
    expect(report.figures.duplicates).toBe(0);
  }, 150_000);

  it('completes a batch whose last two jobs finish in concurrent transactions (forced interleaving)', async () => {
    const database = await createTestDatabase();
    try {
      const check = await probeBatchFinishRace(database.url);
      expect(check.result, explain([check])).toBe('pass');
    } finally {
      await database.drop();
    }
  });
});
