/**
 * `npm run chaos [-- flags]`: the durability suite at full size against real processes.
 *
 *   --preset full|reduced   starting point (default full: 5,000 jobs over 120 s, 3 workers)
 *   --jobs N                jobs to get accepted
 *   --duration S            submission/chaos window in seconds
 *   --workers N             worker processes
 *   --kill-every S          mean seconds between worker SIGKILLs
 *   --settle S              longest settle period in seconds
 *   --seed N                schedule seed (which worker dies when, model mix)
 *   --sentiment-share X     share of jobs on local/sentiment (0..1)
 *   --fail-rate X / --rate-limit-rate X / --hang-rate X / --retry-after S
 *                           the upstream's fault shares (0..1) and Retry-After during the chaos
 *   --bulk on|off|auto      submit part of the load through POST /v1/batches (default auto: if the API has it)
 *   --bulk-share X          share of jobs submitted in bulk (0..1)
 *   --no-webhooks           no per-job webhooks / endpoint, no delivery check
 *   --artifacts DIR         where logs and report.json go (default .inferq/chaos/<run>)
 *   --quiet                 only the summary line (and failures)
 *
 * Needs the machine's Postgres (TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432)
 * and the redis-server binary; starts everything else itself. Exit code 0 when every check passed.
 */
import { parseArgs } from 'node:util';
import { dropStaleChaosDatabases, emergencyCleanup, presets, runChaos, type ChaosOptions } from './scenario.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'full' },
    jobs: { type: 'string' },
    duration: { type: 'string' },
    workers: { type: 'string' },
    'kill-every': { type: 'string' },
    settle: { type: 'string' },
    seed: { type: 'string' },
    'sentiment-share': { type: 'string' },
    'fail-rate': { type: 'string' },
    'rate-limit-rate': { type: 'string' },
    'hang-rate': { type: 'string' },
    'retry-after': { type: 'string' },
    bulk: { type: 'string' },
    'bulk-share': { type: 'string' },
    'no-webhooks': { type: 'boolean', default: false },
    artifacts: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.bulk !== undefined && !['on', 'off', 'auto'].includes(values.bulk)) {
  console.error(`--bulk must be on, off or auto, got "${values.bulk}"`);
  process.exit(2);
}

if (values.help) {
  console.log(
    'usage: npm run chaos -- [--preset full|reduced] [--jobs N] [--duration S] [--workers N] [--kill-every S] [--settle S] [--seed N] [--sentiment-share X]\n' +
      '                        [--fail-rate X] [--rate-limit-rate X] [--hang-rate X] [--retry-after S] [--bulk on|off|auto] [--bulk-share X] [--no-webhooks] [--artifacts DIR] [--quiet]',
  );
  process.exit(0);
}

const preset = presets[values.preset as keyof typeof presets];
if (!preset) {
  console.error(`unknown preset "${values.preset}" (full, reduced)`);
  process.exit(2);
}

const number = (flag: string, raw: string | undefined, min: number): number | undefined => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    console.error(`--${flag} must be a number >= ${min}, got "${raw}"`);
    process.exit(2);
  }
  return value;
};

const seconds = (flag: string, raw: string | undefined, min: number) => {
  const value = number(flag, raw, min);
  return value === undefined ? undefined : value * 1000;
};

const options: ChaosOptions = {
  ...preset,
  jobs: number('jobs', values.jobs, 1) ?? preset.jobs,
  durationMs: seconds('duration', values.duration, 5) ?? preset.durationMs,
  workers: number('workers', values.workers, 2) ?? preset.workers,
  killEveryMs: seconds('kill-every', values['kill-every'], 0.5) ?? preset.killEveryMs,
  settleTimeoutMs: seconds('settle', values.settle, 5) ?? preset.settleTimeoutMs,
  seed: number('seed', values.seed, 0) ?? preset.seed,
  sentimentShare: number('sentiment-share', values['sentiment-share'], 0) ?? preset.sentimentShare,
  upstreamFaults: {
    failRate: number('fail-rate', values['fail-rate'], 0) ?? preset.upstreamFaults.failRate,
    rateLimitRate: number('rate-limit-rate', values['rate-limit-rate'], 0) ?? preset.upstreamFaults.rateLimitRate,
    hangRate: number('hang-rate', values['hang-rate'], 0) ?? preset.upstreamFaults.hangRate,
    retryAfterSeconds: number('retry-after', values['retry-after'], 0) ?? preset.upstreamFaults.retryAfterSeconds,
  },
  features: {
    bulk: values.bulk === undefined ? preset.features.bulk : values.bulk === 'auto' ? 'auto' : values.bulk === 'on',
    webhooks: values['no-webhooks'] ? false : preset.features.webhooks,
  },
  bulk: { ...preset.bulk, jobShare: number('bulk-share', values['bulk-share'], 0) ?? preset.bulk.jobShare },
  keepArtifacts: 'always',
  ...(values.artifacts ? { artifactsDir: values.artifacts } : {}),
  log: values.quiet ? undefined : (line) => console.log(`[chaos] ${line}`),
};

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`[chaos] ${signal}: stopping every process and dropping the database…`);
    void emergencyCleanup().finally(() => process.exit(130));
  });
}

const stale = await dropStaleChaosDatabases();
if (stale.length > 0) console.log(`[chaos] dropped ${stale.length} database(s) left by interrupted runs: ${stale.join(', ')}`);

const report = await runChaos(options).catch((err: unknown) => {
  console.error(`[chaos] the run could not complete: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
for (const check of report.checks) {
  if (values.quiet && check.result !== 'fail') continue;
  const mark = check.result === 'pass' ? 'ok  ' : check.result === 'skip' ? 'skip' : 'FAIL';
  console.log(`[chaos] ${mark} ${check.name}: ${check.summary}`);
  for (const line of check.evidence) console.log(`[chaos]        ${line}`);
}
console.log(`[chaos] report and process logs: ${report.artifactsDir}`);
console.log(report.summaryLine);
process.exit(report.ok ? 0 : 1);
