/**
 * The chaos suite at reduced size (see test/chaos/scenario.ts; `npm run chaos` runs it at full
 * size): real API and worker processes, a private redis-server, the simulated upstream; workers
 * SIGKILLed, Redis restarted and flushed, the API killed, upstream 500 / 429 / hangs. Every
 * accepted job must end final, once, with its own result.
 */
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/database.ts';
import { presets, runChaos } from './chaos/scenario.ts';

const verbose = process.env.CHAOS_VERBOSE === '1';

describe('chaos (reduced): nothing accepted is lost, nothing is applied twice', () => {
  it(`${presets.reduced.jobs} jobs through worker SIGKILLs, a Redis restart and FLUSHALL, an API restart and a faulty upstream`, async () => {
    const report = await runChaos({
      ...presets.reduced,
      database: createTestDatabase,
      log: verbose ? (line) => console.log(`[chaos] ${line}`) : undefined,
    });
    console.log(report.summaryLine);

    const failed = report.checks.filter((check) => check.result === 'fail');
    const explanation = failed.map((check) => [`✗ ${check.name}: ${check.summary}`, ...check.evidence.map((line) => `    ${line}`)].join('\n')).join('\n');
    expect(failed.map((check) => check.name), `${explanation}\n${report.timeline.join('\n')}\nlogs: ${report.artifactsDir}`).toEqual([]);
    expect(report.figures.lost).toBe(0);
    expect(report.figures.duplicates).toBe(0);
    expect(report.figures.accepted).toBe(presets.reduced.jobs);
  }, 150_000);
});
