/**
 * The chaos engine shared by `npm run chaos` (test/chaos/run.ts, full size) and `npm test`
 * (test/chaos.test.ts, reduced size). See test/chaos/README.md.
 *
 * It starts its own redis-server (AOF + noeviction, on a spare port), its own Postgres database,
 * the simulated OpenAI-compatible upstream, a loopback webhook receiver, one API process on a
 * fixed loopback port and a pool of worker processes. While it submits jobs (single and bulk, some
 * re-sent under an Idempotency-Key after a failure; load.ts) it SIGKILLs a random worker every few
 * seconds (and starts a new one in its slot), restarts Redis once, FLUSHALLs it once, kills and
 * restarts the API once, stalls Postgres twice, and has the upstream answer 500, 429 + Retry-After,
 * or hang past the timeout for a share of calls (with one short storm of 500s). Then it lets the
 * platform settle with every fault off and checks (checks.ts) that nothing accepted was lost,
 * nothing was applied twice, nothing is stuck, and every final job's webhook arrived (webhooks.ts);
 * targeted probes (probes.ts) force the races the chaos only hits by luck.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { createApiKey } from '@inferq/core/api-keys';
import { createDb } from '@inferq/core/db';
import { applyMigrations } from '../../prisma/migrate.ts';
import { freePort } from '../support/redis-server.ts';
import { databaseUrl } from '../support/services.ts';
import { startUpstream, type Upstream, type UpstreamBehaviour } from '../upstream/server.ts';
import { evaluate, type ApiViewMismatch, type BatchRow, type Check, type ChaosEvents, type Figures, type JobRow } from './checks.ts';
import { Cluster } from './cluster.ts';
import { customIdOf, runLoad, type AcceptedJob, type LoadResult } from './load.ts';
import { FinalStateMonitor } from './monitor.ts';
import { probeBatchFinishRace } from './probes.ts';
import { createRng, sleep, type Rng } from './rng.ts';
import { configureWebhooks, examineDeliveries, startWebhookReceiver, webhookProcessEnv, webhookRequestFields, type ExpectedDelivery, type WebhookReceiver } from './webhooks.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Features {
  /**
   * Submit part of the load through `POST /v1/batches` (load.ts `submitBulk`). `auto`: when the
   * API has the endpoint (probed at start; the report says which). `true` fails the run without it.
   */
  bulk: boolean | 'auto';
  /** Per-job webhooks and a tenant endpoint to the loopback receiver, and the delivery check (webhooks.ts). */
  webhooks: boolean;
}

export const defaultFeatures: Features = { bulk: 'auto', webhooks: true };

export interface ModelLimits {
  maxBatchSize: number;
  maxWaitMs: number;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  maxAttempts: number;
}

export interface ChaosOptions {
  /** Jobs to get accepted (202). */
  jobs: number;
  /** Submission window; the chaos runs over the same window. */
  durationMs: number;
  /** Submit requests in flight at once. */
  submitConcurrency: number;
  /** Share of submit requests sent with an Idempotency-Key and re-sent with it after a failure (e.g. while the API restarts). */
  idempotentShare: number;
  workers: number;
  /** Mean time between worker SIGKILLs (each one ±40%). */
  killEveryMs: number;
  /** How long Redis stays down when restarted. */
  redisDownMs: number;
  /** Length of the upstream's 100 %-500 storm (0 for none). */
  stormMs: number;
  /** Length of each of two Postgres stalls (webhook_deliveries locked: every job transition waits), 0 for none. */
  postgresStallMs: number;
  /** Longest the platform gets, with all faults off, to bring every job to a final state. */
  settleTimeoutMs: number;
  seed: number;
  /** Share of jobs on the in-process local/sentiment model (the rest go to the upstream embeddings model). */
  sentimentShare: number;
  /** The upstream's fault rates during the chaos window. */
  upstreamFaults: Pick<UpstreamBehaviour, 'failRate' | 'rateLimitRate' | 'hangRate' | 'retryAfterSeconds'>;
  upstreamLatency: Pick<UpstreamBehaviour, 'latencyMs' | 'perItemMs'>;
  embedModel: ModelLimits;
  worker: { leaseMarginMs: number; queueLockMs: number; reconcileIntervalMs: number; reconcileMinAgeMs: number };
  features: Features;
  /** Bulk submissions: share of the jobs submitted in bulk, jobs per request. */
  bulk: { jobShare: number; size: number };
  /** Share of webhook deliveries the receiver answers 500. */
  webhookFailRate: number;
  /** Succeeded jobs compared through GET /v1/jobs/:id (all non-succeeded ones are). */
  apiViewSample: number;
  /** Where process logs and report.json go. */
  artifactsDir?: string;
  keepArtifacts: 'always' | 'on-failure';
  /** A fresh, migrated database (default: a new `inferq_chaos_*` database migrated with prisma/migrate.ts). */
  database?: () => Promise<{ url: string; drop(): Promise<void> }>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** What both sizes share: the kinds and rates of faults, the model and worker settings. */
const sharedFaults = {
  idempotentShare: 0.5,
  sentimentShare: 0.1,
  upstreamFaults: { failRate: 0.05, rateLimitRate: 0.05, hangRate: 0.02, retryAfterSeconds: 1 },
  upstreamLatency: { latencyMs: 30, perItemMs: 2 },
  embedModel: { maxBatchSize: 16, maxWaitMs: 25, concurrency: 2, timeoutMs: 1_500, retries: 1, maxAttempts: 3 },
  worker: { leaseMarginMs: 1_000, queueLockMs: 2_000, reconcileIntervalMs: 500, reconcileMinAgeMs: 1_000 },
  features: defaultFeatures,
  webhookFailRate: 0.1,
};

export const presets = {
  /** `npm run chaos`: 5,000 jobs over two minutes, three workers. */
  full: {
    ...sharedFaults,
    jobs: 5_000,
    durationMs: 120_000,
    submitConcurrency: 24,
    workers: 3,
    killEveryMs: 4_000,
    redisDownMs: 2_000,
    stormMs: 4_000,
    postgresStallMs: 1_000,
    settleTimeoutMs: 180_000,
    seed: 1,
    bulk: { jobShare: 0.3, size: 40 },
    apiViewSample: 300,
    keepArtifacts: 'always',
  },
  /** `npm test`: the same faults, compressed (400 jobs, ~20 s of chaos, two workers). */
  reduced: {
    ...sharedFaults,
    jobs: 400,
    durationMs: 20_000,
    submitConcurrency: 12,
    workers: 2,
    killEveryMs: 3_500,
    redisDownMs: 1_500,
    stormMs: 3_000,
    postgresStallMs: 800,
    settleTimeoutMs: 60_000,
    seed: 7,
    bulk: { jobShare: 0.5, size: 20 },
    apiViewSample: 100,
    keepArtifacts: 'on-failure',
  },
} satisfies Record<string, ChaosOptions>;

export interface ChaosReport {
  ok: boolean;
  runId: string;
  summaryLine: string;
  figures: Figures;
  checks: Check[];
  events: ChaosEvents;
  /** What this run exercised. */
  features: { bulk: boolean; webhooks: boolean };
  timeline: string[];
  elapsedMs: number;
  artifactsDir: string;
}

export const EMBED_MODEL = 'chaos/embed';
export const SENTIMENT_MODEL = 'local/sentiment';

/** Drops `inferq_chaos_*` databases nobody is connected to: left behind by a run that was killed outright. */
export async function dropStaleChaosDatabases(): Promise<string[]> {
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT d.datname FROM pg_database d
        WHERE d.datname LIKE 'inferq\\_chaos\\_%' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    return rows.map((row) => row.datname);
  } finally {
    await admin.end();
  }
}

/** A new database migrated by the project's own runner; not under the test prefix, so a concurrent `npm test` leaves it alone. */
export async function freshChaosDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `inferq_chaos_${randomBytes(5).toString('hex')}`;
  const url = databaseUrl(name);
  const drop = async () => {
    const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  };
  try {
    await applyMigrations({ databaseUrl: url });
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return { url, drop };
}

function modelsYaml(upstreamUrl: string, embed: ModelLimits): string {
  return `models:
  - name: ${EMBED_MODEL}
    provider: openai
    kind: embeddings
    baseUrl: ${upstreamUrl}/v1
    upstreamModel: sim-embed
    maxBatchSize: ${embed.maxBatchSize}
    maxWaitMs: ${embed.maxWaitMs}
    concurrency: ${embed.concurrency}
    timeoutMs: ${embed.timeoutMs}
    retries: ${embed.retries}
    maxAttempts: ${embed.maxAttempts}
  # The built-in model, retuned so a killed worker's lease (timeout + margin) runs out in seconds.
  - name: ${SENTIMENT_MODEL}
    provider: local
    task: sentiment
    maxBatchSize: 32
    maxWaitMs: 10
    concurrency: 1
    timeoutMs: 2000
    retries: 0
    maxAttempts: ${embed.maxAttempts}
`;
}

/** Jobs as Postgres has them, with the input text and the suite's sequence number. */
async function readRows(pool: pg.Pool): Promise<JobRow[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT id, batch_id, model, status::text AS status, attempts, max_attempts, input->>'text' AS text, metadata->>'chaos_seq' AS seq,
            output, error_code, error_message, created_at, completed_at
       FROM jobs`,
  );
  return rows;
}

/** Cleanups of runs in progress, for `emergencyCleanup` (Ctrl-C in the CLI). */
const activeCleanups = new Set<(() => Promise<unknown>)[]>();

/** Stops every process, server and database of runs still in progress (each cleanup at most once). */
export async function emergencyCleanup(): Promise<void> {
  for (const cleanups of activeCleanups) {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const runId = randomBytes(3).toString('hex');
  const rng: Rng = createRng(options.seed);
  const timeline: string[] = [];
  const note = (line: string) => {
    const entry = `+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`;
    timeline.push(entry);
    options.log?.(entry);
  };
  const artifactsDir = options.artifactsDir ?? path.join(repoRoot, '.inferq', 'chaos', `${new Date().toISOString().replace(/[:.]/g, '-')}-${runId}`);
  mkdirSync(artifactsDir, { recursive: true });

  const cleanups: (() => Promise<unknown>)[] = [];
  activeCleanups.add(cleanups);
  let report: ChaosReport | undefined;
  try {
    // --- infrastructure -----------------------------------------------------------------------
    const database = await (options.database ?? freshChaosDatabase)();
    cleanups.push(() => database.drop());
    const pool = new pg.Pool({ connectionString: database.url, max: 4 });
    pool.on('error', () => undefined);
    cleanups.push(() => pool.end());
    const keyDb = createDb(database.url, 1);
    const { key: apiKey } = await createApiKey(keyDb, 'chaos');
    await keyDb.$disconnect();

    const upstream: Upstream = await startUpstream({ ...options.upstreamLatency });
    cleanups.push(() => upstream.close());
    let receiver: WebhookReceiver | undefined;
    if (options.features.webhooks) {
      receiver = await startWebhookReceiver(createRng(options.seed + 1), 0);
      cleanups.push(() => receiver!.close());
    }

    const modelsFile = path.join(artifactsDir, 'models.yaml');
    writeFileSync(modelsFile, modelsYaml(upstream.url, options.embedModel));
    const cluster = new Cluster(path.join(artifactsDir, 'logs'));
    cleanups.push(() => cluster.destroy());
    const redis = await cluster.startRedis();
    const apiPort = await freePort();
    const common = { DATABASE_URL: database.url, REDIS_URL: redis.url, QUEUE_PREFIX: 'chaos', INFERQ_MODELS_FILE: modelsFile, ...(receiver ? webhookProcessEnv() : {}) };
    const apiEnv = { ...common, PORT: String(apiPort), HOST: '127.0.0.1', LOG_LEVEL: 'info', ENQUEUE_TIMEOUT_MS: '500', SHUTDOWN_GRACE_MS: '5000', DATABASE_POOL_SIZE: '8' };
    const workerEnv = {
      ...common,
      // debug: each stored result is logged ("job succeeded", stored: true), which the duplicate check counts.
      LOG_LEVEL: 'debug',
      WORKER_ROLES: receiver ? 'inference,reconciler,webhooks' : 'inference,reconciler',
      WORKER_MODELS: '',
      LEASE_MARGIN_MS: String(options.worker.leaseMarginMs),
      QUEUE_LOCK_MS: String(options.worker.queueLockMs),
      RECONCILE_INTERVAL_MS: String(options.worker.reconcileIntervalMs),
      RECONCILE_MIN_AGE_MS: String(options.worker.reconcileMinAgeMs),
      SHUTDOWN_GRACE_MS: '5000',
      DATABASE_POOL_SIZE: '5',
    };
    cluster.env = { api: apiEnv, worker: workerEnv };
    await Promise.all([cluster.spawn('api', 0), ...Array.from({ length: options.workers }, (_, slot) => cluster.spawn('worker', slot))]);
    const baseUrl = `http://127.0.0.1:${apiPort}`;
    note(`up: redis ${redis.url} (AOF, noeviction), api ${baseUrl}, ${options.workers} workers, upstream ${upstream.url}; logs in ${artifactsDir}`);
    if (receiver) {
      await configureWebhooks(baseUrl, apiKey, receiver);
      receiver.setFailRate(options.webhookFailRate);
    }
    const bulkAvailable = await probeBulk(baseUrl, apiKey);
    const useBulk = options.features.bulk === 'auto' ? bulkAvailable : options.features.bulk;
    if (options.features.bulk === true && !bulkAvailable) throw new Error('features.bulk is on but POST /v1/batches does not exist (404)');
    const features = { bulk: useBulk, webhooks: receiver !== undefined };
    note(`submitting ${options.jobs} jobs: single${useBulk ? ` and bulk (${Math.round(options.bulk.jobShare * 100)}% of jobs, ${options.bulk.size} per batch)` : ` only (POST /v1/batches ${bulkAvailable ? 'off' : 'not available'})`}${receiver ? `, webhooks to ${receiver.url}/{job,endpoint}` : ''}`);

    const monitor = new FinalStateMonitor(pool);
    monitor.start();

    // --- load + chaos -------------------------------------------------------------------------
    const events: ChaosEvents = { workerKills: 0, workerKillsSkipped: 0, workerRestarts: 0, redisRestarts: 0, redisFlushes: 0, apiRestarts: 0, postgresStalls: 0, stormMs: 0, apiDownWindows: [] };
    const t0 = Date.now();
    const chaosEnd = t0 + options.durationMs;
    const at = (fraction: number) => t0 + fraction * options.durationMs;
    const faultsOn = () => upstream.set({ ...options.upstreamFaults });
    faultsOn();
    // One of each fault first, whatever the dice say, so every kind is exercised even in a short run.
    upstream.failNext(1, 'hang');
    upstream.failNext(1, 'rate_limited');
    upstream.failNext(1, 'error');
    note(`upstream faults on: ${JSON.stringify(options.upstreamFaults)}`);

    // A step of the plan that throws (a process that would not start, Redis that would not come
    // back) is recorded and fails the run's "plan" check; it must not crash the harness before cleanup.
    const harnessErrors: string[] = [];
    const guarded = <T>(what: string, promise: Promise<T>): Promise<T | undefined> =>
      promise.catch((err: unknown) => {
        const message = `${what}: ${(err as Error).stack ?? String(err)}`.slice(0, 2_000);
        harnessErrors.push(message);
        note(`ERROR ${message}`);
        return undefined;
      });

    const modelRng = createRng(options.seed + 2);
    const load = guarded('load', runLoad({
      baseUrl,
      apiKey,
      runId,
      rng: createRng(options.seed + 3),
      target: options.jobs,
      windowMs: options.durationMs,
      concurrency: options.submitConcurrency,
      idempotentShare: options.idempotentShare,
      modelFor: () => (modelRng.next() < options.sentimentShare ? SENTIMENT_MODEL : EMBED_MODEL),
      bulk: { enabled: useBulk, ...options.bulk },
      extraFields: () => (receiver ? webhookRequestFields(receiver) : {}),
      requestTimeoutMs: 15_000,
      deadline: t0 + options.durationMs * 3 + 60_000,
    }).then((result) => {
      const inBatches = result.acceptedBatches.reduce((sum, batch) => sum + batch.items.length, 0);
      note(`load done: ${result.accepted.length + inBatches} accepted (${inBatches} in ${result.acceptedBatches.length} batches), ${result.rejected.length} submits refused`);
      return result;
    }));

    const restartWorker = async (slot: number) => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          const incarnation = await cluster.spawn('worker', slot);
          events.workerRestarts += 1;
          return incarnation;
        } catch (err) {
          note(`worker slot ${slot} failed to start (attempt ${attempt}): ${(err as Error).message.slice(0, 300)}`);
          if (attempt >= 3) throw err;
        }
      }
    };

    // Every few seconds a random live worker is SIGKILLed and a new process started in its slot
    // (in the background: a start takes seconds on a busy machine). One worker is always left alive.
    const restarts: Promise<unknown>[] = [];
    const killLoop = guarded('worker kill loop', (async () => {
      await sleep(Math.max(0, at(0.05) - Date.now()));
      while (Date.now() < at(0.95)) {
        await sleep(options.killEveryMs * rng.between(0.6, 1.4));
        if (Date.now() >= at(0.95)) break;
        const live = cluster.liveWorkers();
        if (live.length < 2) {
          events.workerKillsSkipped += 1;
          note(`kill skipped: ${live.length} worker(s) up, the others still starting`);
          continue;
        }
        const victim = rng.pick(live);
        const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE status = 'running'`).catch(() => ({ rows: [{ n: -1 }] }));
        await cluster.stop(victim, 'SIGKILL');
        events.workerKills += 1;
        note(`SIGKILL ${victim.name} (${rows[0]!.n} jobs running across workers)`);
        restarts.push(guarded(`restart of worker slot ${victim.slot}`, restartWorker(victim.slot).then((next) => note(`started ${next.name}`))));
      }
      await Promise.all(restarts);
    })());

    const stall = async () => {
      if (options.postgresStallMs <= 0) return;
      note(`Postgres stall: webhook_deliveries locked for ${options.postgresStallMs} ms (every job transition waits)`);
      await stallPostgres(database.url, options.postgresStallMs);
      events.postgresStalls += 1;
      note('Postgres stall over');
    };
    const scripted = guarded('scripted faults', (async () => {
      const steps: [number, string, () => Promise<void>][] = [
        [
          0.2,
          'upstream storm',
          async () => {
            if (options.stormMs <= 0) return;
            upstream.set({ failRate: 1, rateLimitRate: 0, hangRate: 0 });
            note(`upstream storm: every call answered 500 for ${options.stormMs} ms`);
            await sleep(options.stormMs);
            faultsOn();
            events.stormMs = options.stormMs;
            note('upstream storm over');
          },
        ],
        [
          0.35,
          'redis restart',
          async () => {
            note(`Redis: SIGTERM, down for ${options.redisDownMs} ms`);
            await cluster.restartRedis(options.redisDownMs);
            events.redisRestarts += 1;
            note('Redis: back (AOF reloaded)');
          },
        ],
        [0.3, 'postgres stall', stall],
        [
          0.55,
          'redis flushall',
          async () => {
            await cluster.flushRedis();
            events.redisFlushes += 1;
            note('Redis: FLUSHALL');
          },
        ],
        [0.65, 'postgres stall', stall],
        [
          0.75,
          'api restart',
          async () => {
            const window: [number, number] = [Date.now(), Number.MAX_SAFE_INTEGER];
            events.apiDownWindows.push(window);
            await cluster.stop(cluster.api!, 'SIGKILL');
            note(`SIGKILL ${cluster.api!.name}`);
            const next = await cluster.spawn('api', 0);
            window[1] = Date.now();
            events.apiRestarts += 1;
            note(`started ${next.name}`);
          },
        ],
      ];
      steps.sort(([a], [b]) => a - b);
      for (const [fraction, name, step] of steps) {
        await sleep(at(fraction) - Date.now());
        await guarded(name, step());
      }
    })());

    const loadResult: LoadResult = (await load) ?? { accepted: [], acceptedBatches: [], rejected: [], sent: new Map() };
    await Promise.all([killLoop, scripted]);
    await sleep(chaosEnd - Date.now());
    const accepted = await resolveAccepted(pool, loadResult);
    const acceptedIds = accepted.map((job) => job.id);

    // --- settle -------------------------------------------------------------------------------
    upstream.set({ failRate: 0, rateLimitRate: 0, hangRate: 0 });
    receiver?.setFailRate(0);
    for (let slot = 0; slot < options.workers; slot += 1) {
      const worker = cluster.workers[slot];
      if (!worker || worker.exit) {
        note(`worker slot ${slot} is empty before settling (${worker ? `${worker.name} exited ${JSON.stringify(worker.exit)}` : 'never started'}); starting one`);
        await restartWorker(slot);
      }
    }
    if (!cluster.api || cluster.api.exit) {
      note('the API is not running before settling; starting it');
      await cluster.spawn('api', 0);
      const open = events.apiDownWindows.find((window) => window[1] === Number.MAX_SAFE_INTEGER);
      if (open) open[1] = Date.now();
    }
    note('faults off; settling');
    const settleDeadline = Date.now() + options.settleTimeoutMs;
    const acceptedBatchIds = loadResult.acceptedBatches.map((batch) => batch.batchId);
    /** Events owed so far: every final job (to the endpoint, and to its own webhook if single), every finished batch; with `allBatches`, unfinished accepted batches too. */
    const expectedDeliveries = async (allBatches = false): Promise<ExpectedDelivery[]> => {
      if (!receiver) return [];
      const { rows } = await pool.query<{ id: string; status: string }>(`SELECT id, status::text AS status FROM jobs WHERE id = ANY($1::text[]) AND status IN ('succeeded', 'failed')`, [acceptedIds]);
      const single = new Set(accepted.filter((job) => job.via === 'single').map((job) => job.id));
      const batches = (await readBatches(pool, acceptedBatchIds)).filter((batch) => allBatches || batch.status !== 'in_progress');
      return [
        ...rows.flatMap((row) => [
          { subjectId: row.id, status: row.status, destination: 'endpoint' as const },
          ...(single.has(row.id) ? [{ subjectId: row.id, status: row.status, destination: 'job' as const }] : []),
        ]),
        ...batches.map((batch) => ({ subjectId: batch.id, status: batch.status === 'in_progress' ? 'completed' : batch.status, destination: 'endpoint' as const })),
      ];
    };
    for (;;) {
      const { rows } = await pool.query<{ open: number; final: number }>(
        `SELECT count(*) FILTER (WHERE status IN ('queued', 'running'))::int AS open,
                count(*) FILTER (WHERE id = ANY($1::text[]) AND status IN ('succeeded', 'failed', 'cancelled', 'expired'))::int AS final
           FROM jobs`,
        [acceptedIds],
      );
      const { open, final } = rows[0]!;
      const webhooksPending = receiver ? examineDeliveries(await expectedDeliveries(), receiver.deliveries).undelivered.length : 0;
      if (open === 0 && final === acceptedIds.length && webhooksPending === 0) {
        note(`settled: every job final${receiver ? ', every webhook delivered' : ''} (${((Date.now() - settleDeadline + options.settleTimeoutMs) / 1000).toFixed(1)} s)`);
        break;
      }
      if (Date.now() > settleDeadline) {
        note(`settle timeout: ${open} open rows, ${acceptedIds.length - final} accepted jobs not final, ${webhooksPending} webhooks pending`);
        break;
      }
      await sleep(500);
    }
    // A quiet moment so the monitor sees whether anything still changes after the jobs finished.
    await sleep(2_000);
    await monitor.stop();
    const rows = await readRows(pool);
    const batchRows = await readBatches(pool, acceptedBatchIds);

    // --- what clients see ---------------------------------------------------------------------
    const { mismatches: apiViewMismatches, checked: apiViewsChecked } = await compareApiViews(baseUrl, apiKey, rows, new Set(acceptedIds), options.apiViewSample, rng);
    const batchViewMismatches = await compareBatchViews(baseUrl, apiKey, batchRows);

    // --- graceful stop ------------------------------------------------------------------------
    const live = cluster.incarnations.filter((incarnation) => !incarnation.exit);
    const shutdowns = await Promise.all(live.map(async (incarnation) => ({ name: incarnation.name, ...(await cluster.stop(incarnation, 'SIGTERM', 20_000)) })));
    note(`stopped ${shutdowns.length} processes with SIGTERM`);

    // --- verdict ------------------------------------------------------------------------------
    const sentimentMismatches = await checkSentimentOutputs(rows);
    // Targeted probes (probes.ts) run once the processes are gone, on the same database.
    const probes = [await probeBatchFinishRace(database.url).catch((err: unknown): Check => ({ name: 'batch completion race probe', result: 'fail', summary: 'the probe could not run', evidence: [(err as Error).message] }))];
    const { checks, figures } = evaluate({
      target: options.jobs,
      accepted,
      sent: loadResult.sent,
      rejected: loadResult.rejected,
      rows,
      upstreamCalls: upstream.calls,
      embedModel: { name: EMBED_MODEL, retries: options.embedModel.retries, maxAttempts: options.embedModel.maxAttempts },
      sentimentModel: SENTIMENT_MODEL,
      monitorChanges: monitor.changes,
      monitorSeen: monitor.firstFinal.size,
      monitorErrors: monitor.errors,
      incarnations: cluster.incarnations,
      crashes: cluster.crashes(),
      shutdowns,
      apiViewMismatches,
      extraWrongResults: sentimentMismatches,
      apiViewsChecked,
      events,
      harnessErrors,
      expect: {
        // Kill slots that came up (a kill is skipped while only one worker is up, e.g. on a busy machine where starts are slow).
        minKillSlots: Math.max(1, Math.floor((options.durationMs * 0.9) / options.killEveryMs / 2)),
        redisRestarts: 1,
        redisFlushes: 1,
        apiRestarts: 1,
        postgresStalls: options.postgresStallMs > 0 ? 2 : 0,
        upstreamFaults: true,
      },
      webhooks: receiver ? examineDeliveries(await expectedDeliveries(true), receiver.deliveries) : undefined,
      batches: { accepted: loadResult.acceptedBatches.map((batch) => ({ batchId: batch.batchId, lines: batch.items.length })), rows: batchRows, apiMismatches: batchViewMismatches },
      reconnectGraceMs: 3_000,
    });

    checks.push(...probes);
    const ok = checks.every((c) => c.result !== 'fail');
    const elapsedMs = Date.now() - started;
    const summaryLine = formatSummary(figures, events, features, ok, elapsedMs);
    report = { ok, runId, summaryLine, figures, checks, events, features, timeline, elapsedMs, artifactsDir };
    writeFileSync(path.join(artifactsDir, 'report.json'), JSON.stringify({ ...report, monitorSamples: monitor.samples.length }, null, 2));
    return report;
  } finally {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: unknown) => options.log?.(`cleanup failed: ${(err as Error).message}`));
    }
    activeCleanups.delete(cleanups);
    if (report?.ok && options.keepArtifacts === 'on-failure') rmSync(artifactsDir, { recursive: true, force: true });
  }
}

export function formatSummary(figures: Figures, events: ChaosEvents, features: { bulk: boolean; webhooks: boolean }, ok: boolean, elapsedMs: number): string {
  const deliveries = figures.deliveries === undefined ? 'n/a' : String(figures.deliveries);
  const webhooks = figures.webhookRequests === undefined ? '' : ` webhook_requests=${figures.webhookRequests}`;
  const failedBy = Object.entries(figures.failedByCode).map(([code, n]) => `${code}:${n}`).join(',') || '-';
  const up = figures.upstream;
  return (
    `chaos: accepted=${figures.accepted} succeeded=${figures.succeeded} failed=${figures.failed} lost=${figures.lost} duplicates=${figures.duplicates} deliveries=${deliveries}` +
    ` | bulk=${features.bulk ? `${figures.viaBulk} (batches ${figures.batches.completed}/${figures.batches.accepted} completed)` : 'off'}${webhooks} resent=${figures.resent} wrong=${figures.wrongResults} unacknowledged=${figures.unacknowledged} refused=${figures.rejected} failed_by=${failedBy} attempts=${Object.entries(figures.attemptsHistogram).map(([n, count]) => `${n}:${count}`).join(',')}` +
    ` kills=${events.workerKills} redis_restarts=${events.redisRestarts} flushes=${events.redisFlushes} api_restarts=${events.apiRestarts} pg_stalls=${events.postgresStalls}` +
    ` upstream=${up.calls}(ok ${up.ok}, 500 ${up.error}, 429 ${up.rate_limited}, hang ${up.hang}) ${Math.round(elapsedMs / 1000)}s ${ok ? 'PASS' : 'FAIL'}`
  );
}

/**
 * A Postgres stall as a slow disk or lock contention looks to workers: every job transition (which
 * inserts its webhook deliveries) waits on a lock for `ms`, then all of them proceed at once.
 */
async function stallPostgres(databaseUrl: string, ms: number): Promise<void> {
  if (ms <= 0) return;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE webhook_deliveries IN EXCLUSIVE MODE');
    await sleep(ms);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

/** The accepted batches as Postgres has them, with how many of their jobs exist and are final. */
async function readBatches(pool: pg.Pool, ids: string[]): Promise<BatchRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await pool.query<BatchRow>(
    `SELECT b.id, b.status::text AS status, b.total, b.completed_at,
            count(j.id)::int AS jobs,
            count(j.id) FILTER (WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'expired'))::int AS final
       FROM batches b LEFT JOIN jobs j ON j.batch_id = b.id
      WHERE b.id = ANY($1::text[])
   GROUP BY b.id`,
    [ids],
  );
  return rows;
}

/** GET /v1/batches/:id for every accepted batch: status as in Postgres, counts adding up to the total. */
async function compareBatchViews(baseUrl: string, apiKey: string, batches: BatchRow[]): Promise<string[]> {
  const mismatches: string[] = [];
  for (const batch of batches) {
    try {
      const response = await fetch(`${baseUrl}/v1/batches/${batch.id}`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(10_000) });
      const view = (await response.json()) as { status?: string; request_counts?: Record<string, number> };
      const counts = view.request_counts ?? {};
      const finished = (counts.succeeded ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0) + (counts.expired ?? 0);
      if (response.status !== 200) mismatches.push(`${batch.id}: HTTP ${response.status}`);
      else if (view.status !== batch.status) mismatches.push(`${batch.id}: API says ${view.status}, row says ${batch.status}`);
      else if (counts.total !== batch.total || finished !== batch.final) mismatches.push(`${batch.id}: request_counts ${JSON.stringify(counts)} vs ${batch.final} final of ${batch.total}`);
    } catch (err) {
      mismatches.push(`${batch.id}: GET failed: ${(err as Error).message}`);
    }
  }
  return mismatches;
}

/** Whether the API has bulk submission: an empty batch is refused with 400 by the route, 404 without it. */
async function probeBulk(baseUrl: string, apiKey: string): Promise<boolean> {
  const response = await fetch(`${baseUrl}/v1/batches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ requests: [] }),
  });
  await response.arrayBuffer();
  return response.status !== 404 && response.status !== 405;
}

/** Accepted jobs with their ids: single submits as answered, bulk lines looked up by batch id and custom_id. */
async function resolveAccepted(pool: pg.Pool, load: LoadResult): Promise<AcceptedJob[]> {
  const accepted = [...load.accepted];
  if (load.acceptedBatches.length === 0) return accepted;
  const { rows } = await pool.query<{ id: string; batch_id: string; custom_id: string }>(
    'SELECT id, batch_id, custom_id FROM jobs WHERE batch_id = ANY($1::text[])',
    [load.acceptedBatches.map((batch) => batch.batchId)],
  );
  const byLine = new Map(rows.map((row) => [`${row.batch_id} ${row.custom_id}`, row.id]));
  for (const batch of load.acceptedBatches) {
    for (const item of batch.items) {
      // A line with no row keeps a placeholder id, which no row has: it counts as lost.
      const id = byLine.get(`${batch.batchId} ${customIdOf(item)}`) ?? `(no row: ${batch.batchId} ${customIdOf(item)})`;
      accepted.push({ ...item, id, acceptedAt: batch.acceptedAt, via: 'bulk', keyed: batch.keyed, sends: batch.sends });
    }
  }
  return accepted;
}

/** GET /v1/jobs/:id for every accepted job that did not succeed and a sample of those that did; each must match its row. */
async function compareApiViews(baseUrl: string, apiKey: string, rows: JobRow[], accepted: Set<string>, sample: number, rng: Rng): Promise<{ mismatches: ApiViewMismatch[]; checked: number }> {
  const candidates = rows.filter((row) => accepted.has(row.id));
  const succeeded = candidates.filter((row) => row.status === 'succeeded');
  const chosen = [...candidates.filter((row) => row.status !== 'succeeded')];
  for (let i = 0; i < Math.min(sample, succeeded.length); i += 1) chosen.push(succeeded.splice(rng.int(succeeded.length), 1)[0]!);
  const mismatches: ApiViewMismatch[] = [];
  let next = 0;
  const worker = async () => {
    while (next < chosen.length) {
      const row = chosen[next++]!;
      try {
        const response = await fetch(`${baseUrl}/v1/jobs/${row.id}`, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(10_000) });
        const view = (await response.json()) as { status?: string; attempts?: number; output?: unknown; error?: { code?: string } | null };
        const problems: string[] = [];
        if (response.status !== 200) problems.push(`HTTP ${response.status}`);
        if (view.status !== row.status) problems.push(`status ${view.status} vs row ${row.status}`);
        if (view.attempts !== row.attempts) problems.push(`attempts ${view.attempts} vs row ${row.attempts}`);
        if (!isDeepStrictEqual(view.output ?? null, row.output ?? null)) problems.push('output differs from the row');
        if ((view.error?.code ?? null) !== row.error_code) problems.push(`error ${view.error?.code} vs row ${row.error_code}`);
        if (problems.length > 0) mismatches.push({ jobId: row.id, detail: problems.join('; ') });
      } catch (err) {
        mismatches.push({ jobId: row.id, detail: `GET failed: ${(err as Error).message}` });
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { mismatches, checked: chosen.length };
}

/** The in-process model is deterministic too: recompute each succeeded sentiment job's output from its own text. */
async function checkSentimentOutputs(rows: JobRow[]): Promise<string[]> {
  const sentiment = rows.filter((row) => row.model === SENTIMENT_MODEL && row.status === 'succeeded' && row.text !== null);
  if (sentiment.length === 0) return [];
  const { createLocalProvider } = await import('@inferq/worker/providers/local');
  const provider = createLocalProvider({ name: SENTIMENT_MODEL, provider: 'local', task: 'sentiment', maxBatchSize: 32, maxWaitMs: 10, concurrency: 1, timeoutMs: 2000, retries: 0, maxAttempts: 3 });
  const expected = await provider.infer(sentiment.map((row) => ({ text: row.text })), new AbortController().signal);
  const mismatches: string[] = [];
  sentiment.forEach((row, index) => {
    const result = expected[index];
    if (!result?.ok || !isDeepStrictEqual(row.output, result.output)) {
      mismatches.push(`${row.id}: stored sentiment ${JSON.stringify(row.output)} is not the model's answer for its own text (${JSON.stringify(result?.ok ? result.output : result)})`);
    }
  });
  return mismatches;
}
