import type { BenchReport, TargetCheck } from './types.ts';

/**
 * The targets, checked against what was measured. They are reported, never asserted: a
 * miss is a finding for the report (with the profile that explains it), not a failed bench.
 */
const KB = 1024;
const MB = 1024 * 1024;

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

function check(name: string, target: string, actual: number | undefined, met: (value: number) => boolean, show: (value: number) => string, note?: string): TargetCheck {
  if (actual === undefined || !Number.isFinite(actual)) return { name, target, actual: 'not measured', status: 'n/a', note };
  return { name, target, actual: show(actual), status: met(actual) ? 'met' : 'missed', note };
}

export function checkTargets(report: Omit<BenchReport, 'targets'>): TargetCheck[] {
  const substrate = report.substrate?.jobsPerS;
  const e2e = report.e2e;
  const bulk = e2e?.bulk;
  const at200 = e2e?.fixedRate.find((point) => point.offeredPerS === 200);
  const points = report.batching?.points ?? [];
  const size1 = points.find((point) => point.maxBatchSize === 1)?.jobsPerS;
  const size32 = points.find((point) => point.maxBatchSize === 32)?.jobsPerS;
  const workerRss = report.rss.worker?.peakBytes;

  return [
    bulk && !bulk.available
      ? { name: 'Bulk path vs bare BullMQ', target: '≥ 0.7×', actual: 'not available yet', status: 'n/a', note: bulk.note }
      : check('Bulk path vs bare BullMQ', '≥ 0.7×', bulk?.available && substrate ? bulk.jobsPerS / substrate : undefined, (r) => r >= 0.7, (r) => `${fmt(r, 2)}× (${fmt(bulk?.available ? bulk.jobsPerS : NaN)} vs ${fmt(substrate ?? NaN)} jobs/s)`),
    check('Single POST, sustained (submit → result row)', '≥ 2,000 jobs/s', e2e?.sustained.jobsPerS, (v) => v >= 2000, (v) => `${fmt(v)} jobs/s`, e2e ? `${e2e.sustained.connections} connections, ${e2e.workers} worker process(es)` : undefined),
    check('Single POST p99 submit latency at 200 req/s', '< 25 ms', at200?.load.latencyMs.p99, (v) => v < 25, (v) => `${fmt(v, 1)} ms`),
    check('Batching gain, maxBatchSize 32 vs 1', '≥ 10×', size1 && size32 ? size32 / size1 : undefined, (r) => r >= 10, (r) => `${fmt(r, 1)}× (${fmt(size32 ?? NaN)} vs ${fmt(size1 ?? NaN)} jobs/s)`),
    check('Redis memory per queued job (100,000 queued, interactive)', '< 1 KB', report.redisMemory?.bytesPerJob.interactive, (v) => v < KB, (v) => `${fmt(v)} B`),
    check('Redis memory per queued job (100,000 queued, batch priority)', '< 1 KB', report.redisMemory?.bytesPerJob.batch, (v) => v < KB, (v) => `${fmt(v)} B`),
    check('Worker RSS (peak, all scenarios)', '< 200 MB', workerRss, (v) => v < 200 * MB, (v) => `${fmt(v / MB)} MB`, report.rss.worker ? `${fmt(report.rss.worker.readyBytes / MB)} MB when ready, before load` : undefined),
  ];
}

export { fmt };
