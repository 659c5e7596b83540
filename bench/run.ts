/**
 * `npm run bench [-- --quick] [--workers N] [--connections N] [--only a,b] [--no-profile] [--name NAME]`
 *
 * Starts everything it needs on loopback (a migrated bench database, API and worker processes, the
 * simulated upstream, a private redis-server), runs every scenario in this one invocation so their
 * ratios are comparable on a noisy machine, prints a table and writes bench/reports/<name>.json,
 * .md and .png (name defaults to today's date). Targets are reported, never asserted.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { aborted, cleanupAll, cleanupOnSignals } from './lib/cleanup.ts';
import { measureCpu, OTHER_LOAD, waitForQuiet } from './lib/cpu.ts';
import { createBenchDatabase, incompletePhases } from './lib/database.ts';
import { appLogSummary, rssByApp } from './lib/processes.ts';
import { chartPng } from './report/chart.ts';
import { consoleTable, markdown } from './report/markdown.ts';
import { checkTargets } from './report/targets.ts';
import type { BenchReport } from './report/types.ts';
import { runBatching } from './scenarios/batching.ts';
import { ECHO, runE2e, workerConcurrency } from './scenarios/e2e.ts';
import { runProfile } from './scenarios/profile.ts';
import { runRedisMemory } from './scenarios/redis-memory.ts';
import { runScaleout } from './scenarios/scaleout.ts';
import { runSubstrate } from './scenarios/substrate.ts';

const SCENARIOS = ['substrate', 'e2e', 'batching', 'scaleout', 'memory', 'profile'] as const;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string', default: SCENARIOS.join(',') },
    'no-profile': { type: 'boolean', default: false },
    name: { type: 'string' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    render: { type: 'string' },
    'wait-quiet': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(`Usage: npm run bench -- [flags]
  --quick         short phases, under 3 minutes (routine use)
  --workers N     worker processes in the end-to-end scenario (default 1)
  --connections N closed-loop connections for the sustained single-POST rate (default 32)
  --only LIST     run only these scenarios (${SCENARIOS.join(',')})
  --redis-url URL the Redis the platform runs on (default REDIS_URL or redis://127.0.0.1:6379)
  --no-profile    skip the --cpu-prof run that explains misses
  --name NAME     report file name in bench/reports (default: today's date)
  --render FILE   only rewrite FILE's .md and .png from the report JSON FILE (no measuring)
  --wait-quiet S  first wait up to S seconds for other processes to use < 0.3 cores (shared machines)
`);
  process.exit(0);
}
if (flags.render) {
  const report = JSON.parse(readFileSync(flags.render, 'utf8')) as BenchReport;
  const base = flags.render.replace(/\.json$/, '');
  writeFileSync(`${base}.md`, markdown(report, `${path.basename(base)}.png`));
  writeFileSync(`${base}.png`, chartPng(report));
  process.stdout.write(`${consoleTable(report)}\n\nWrote ${base}.md, ${base}.png\n`);
  process.exit(0);
}

const quick = flags.quick;
/** Sizes of every phase: quick stays under 3 minutes on 2 cores; full gives steadier numbers and the whole latency curve. */
const plan = {
  substrateJobs: quick ? 10_000 : 30_000,
  rates: quick ? [100, 200, 400] : [100, 200, 500, 1_000, 1_500, 2_000, 3_000],
  rateDurationS: quick ? 5 : 15,
  sustainedDurationS: quick ? 10 : 30,
  bulkJobs: quick ? 10_000 : 50_000,
  deepQueued: 100_000,
  batchingSeconds: quick ? 2 : 8,
  batchingMaxJobs: quick ? 8_000 : 40_000,
  scaleoutEchoJobs: quick ? 6_000 : 30_000,
  scaleoutUpstreamSeconds: quick ? 2 : 8,
  redisQueued: 100_000,
  profileDurationS: quick ? 8 : 15,
};
const only = new Set(flags.only.split(',').map((s) => s.trim()));
if (flags['no-profile']) only.delete('profile');
const unknown = [...only].filter((s) => !(SCENARIOS as readonly string[]).includes(s));
if (unknown.length > 0) throw new Error(`--only: unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);

const redisUrl = flags['redis-url'];
const workers = Number(flags.workers);
const connections = Number(flags.connections);
const started = new Date();
const date = started.toISOString().slice(0, 10);
const reportsDir = path.join(benchDir, 'reports');
const name = flags.name ?? date;
const errors: BenchReport['errors'] = [];
const scenarioSeconds: Record<string, number> = {};
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

/** The commit measured, marked `+dirty` when platform files (outside bench/) had uncommitted changes. */
function gitRevision(): string {
  const git = (args: string) => execSync(`git ${args}`, { cwd: benchDir }).toString().trim();
  const dirty = git('status --porcelain --untracked-files=no').split('\n').some((line) => line.trim() !== '' && !line.slice(3).startsWith('bench/'));
  return `${git('rev-parse --short HEAD')}${dirty ? '+dirty' : ''}`;
}

/** Runs one scenario; a failure is recorded in the report and the other scenarios still run. */
async function scenario<T>(key: (typeof SCENARIOS)[number], run: () => Promise<T>): Promise<T | undefined> {
  if (!only.has(key) || aborted()) return undefined;
  log(`${key}…`);
  const began = Date.now();
  try {
    return await run();
  } catch (err) {
    log(`${key} failed: ${(err as Error).stack ?? err}`);
    errors.push({ scenario: key, message: (err as Error).message });
    return undefined;
  } finally {
    scenarioSeconds[key] = Math.round((scenarioSeconds[key] ?? 0) + (Date.now() - began) / 1000);
  }
}

cleanupOnSignals();
let exitCode = 0;
try {
  const waitS = Number(flags['wait-quiet']);
  if (waitS > 0) {
    log(`waiting up to ${waitS} s for other processes to use < 0.3 cores…`);
    log(`other load now ${(await waitForQuiet(waitS)).toFixed(2)} cores; starting`);
  }
  const measuring = Date.now();
  const wholeRun = measureCpu();
  const db = await createBenchDatabase();
  const substrateOptions = { redisUrl, jobs: plan.substrateJobs, concurrency: workerConcurrency(ECHO) };
  const substrateFirst = await scenario('substrate', () => runSubstrate({ ...substrateOptions, variant: 'plain' }));
  const substrateInferqOptions = await scenario('substrate', () => runSubstrate({ ...substrateOptions, variant: 'inferq-options' }));
  const e2e = await scenario('e2e', () =>
    runE2e({ db, redisUrl, workers, rates: plan.rates, rateDurationS: plan.rateDurationS, connections, sustainedDurationS: plan.sustainedDurationS, bulkJobs: plan.bulkJobs, deepQueued: plan.deepQueued }),
  );
  const batching = await scenario('batching', () => runBatching({ db, redisUrl, sizes: [1, 8, 32, 128], seconds: plan.batchingSeconds, maxJobs: plan.batchingMaxJobs }));
  const scaleout = await scenario('scaleout', () => runScaleout({ db, redisUrl, echoJobs: plan.scaleoutEchoJobs, upstreamSeconds: plan.scaleoutUpstreamSeconds }));
  const redisMemory = await scenario('memory', () => runRedisMemory({ queued: plan.redisQueued }));
  const profile = await scenario('profile', () =>
    runProfile({ db, redisUrl, dir: path.join(reportsDir, 'tmp', `${name}-profiles`), connections, durationS: plan.profileDurationS }),
  );
  const substrateLast = await scenario('substrate', () => runSubstrate({ ...substrateOptions, variant: 'plain' }));
  const runs = [substrateFirst, substrateLast].filter((run) => run !== undefined);

  const partial: Omit<BenchReport, 'targets'> = {
    meta: {
      date,
      mode: quick ? 'quick' : 'full',
      startedAt: started.toISOString(),
      durationS: (Date.now() - measuring) / 1000,
      node: process.versions.node,
      cpus: os.cpus().length,
      memoryGb: os.totalmem() / 1024 ** 3,
      commit: gitRevision(),
      otherLoadCores: wholeRun.stop().cores[OTHER_LOAD],
      scenarioSeconds,
      options: { ...plan, workers, connections, redisUrl, scenarios: [...only] },
    },
    substrate: runs.length > 0 ? { runs, jobsPerS: runs.reduce((sum, run) => sum + run.jobsPerS, 0) / runs.length, withInferqOptions: substrateInferqOptions } : undefined,
    e2e,
    batching,
    scaleout,
    redisMemory,
    profile,
    errors,
    incompletePhases: incompletePhases(),
    rss: rssByApp(),
    appLogs: appLogSummary(),
  };
  if (aborted()) throw new Error('interrupted: no report written');
  const report: BenchReport = { ...partial, targets: checkTargets(partial) };

  mkdirSync(reportsDir, { recursive: true });
  const file = (ext: string) => path.join(reportsDir, `${name}.${ext}`);
  writeFileSync(file('json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(file('md'), markdown(report, `${name}.png`));
  writeFileSync(file('png'), chartPng(report));
  process.stdout.write(`\n${consoleTable(report)}\n\nWrote ${['json', 'md', 'png'].map((ext) => path.relative(process.cwd(), file(ext))).join(', ')}\n`);
  if (errors.length > 0) exitCode = 1;
} catch (err) {
  log(`bench failed: ${(err as Error).stack ?? err}`);
  exitCode = 1;
} finally {
  await cleanupAll();
}
process.exit(exitCode);
