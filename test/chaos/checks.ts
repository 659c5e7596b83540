/**
 * The verdict of a chaos run: pure functions over what the run collected (Postgres rows, the
 * simulated upstream's call log, the processes' own log lines, the final-state monitor, the
 * submit log). Each check names the invariant, says pass/fail, and carries the evidence (job ids,
 * statuses, log lines) a bug report needs. Nothing here is tuned to make a run pass: a check that
 * fails because of a platform bug stays failing until the platform is fixed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { UpstreamCall } from '../upstream/server.ts';
import { embeddingFor } from '../upstream/server.ts';
import type { Incarnation } from './cluster.ts';
import type { AcceptedJob, ChaosItem, RejectedSubmit } from './load.ts';
import type { FinalChange } from './monitor.ts';
import { FINAL_STATUSES } from './monitor.ts';
import type { WebhookFindings } from './webhooks.ts';

export interface JobRow {
  id: string;
  batch_id: string | null;
  model: string;
  status: string;
  attempts: number;
  max_attempts: number;
  text: string | null;
  seq: string | null;
  output: any;
  error_code: string | null;
  error_message: string | null;
  created_at: Date;
  completed_at: Date | null;
}

export interface BatchRow {
  id: string;
  status: string;
  total: number;
  completed_at: Date | null;
  /** Job rows of the batch. */
  jobs: number;
  /** Of which final. */
  final: number;
}

export interface Check {
  name: string;
  /** 'skip' when the feature under test does not exist yet. */
  result: 'pass' | 'fail' | 'skip';
  summary: string;
  evidence: string[];
}

export interface ApiViewMismatch {
  jobId: string;
  detail: string;
}

export interface ChaosEvents {
  workerKills: number;
  /** Kill slots skipped because only one worker was up. */
  workerKillsSkipped: number;
  workerRestarts: number;
  redisRestarts: number;
  redisFlushes: number;
  apiRestarts: number;
  postgresStalls: number;
  stormMs: number;
  /** [from, to] windows when the API was down on purpose (kill → ready again). */
  apiDownWindows: [number, number][];
}

export interface CheckInput {
  target: number;
  accepted: AcceptedJob[];
  sent: Map<number, ChaosItem>;
  rejected: RejectedSubmit[];
  rows: JobRow[];
  upstreamCalls: UpstreamCall[];
  embedModel: { name: string; retries: number; maxAttempts: number };
  sentimentModel: string;
  monitorChanges: FinalChange[];
  /** Jobs the monitor saw final, and how many of its polls failed. */
  monitorSeen: number;
  monitorErrors: number;
  incarnations: Incarnation[];
  crashes: Incarnation[];
  shutdowns: { name: string; code: number | null; signal: string | null; forced: boolean }[];
  apiViewMismatches: ApiViewMismatch[];
  apiViewsChecked: number;
  /** Results found wrong by a check the caller ran (e.g. the local model recomputed). */
  extraWrongResults: string[];
  events: ChaosEvents;
  /** Steps of the chaos plan that threw (a process that would not start, …). */
  harnessErrors: string[];
  expect: { minKillSlots: number; redisRestarts: number; redisFlushes: number; apiRestarts: number; postgresStalls: number; upstreamFaults: boolean };
  webhooks: WebhookFindings | undefined;
  /** Bulk submissions answered 202, their rows, and what GET /v1/batches/:id said. */
  batches: { accepted: { batchId: string; lines: number }[]; rows: BatchRow[]; apiMismatches: string[] };
  /** Grace after an API restart during which refused/reset connections still count as "API down". */
  reconnectGraceMs: number;
}

export interface Figures {
  accepted: number;
  succeeded: number;
  failed: number;
  lost: number;
  duplicates: number;
  /** Expected webhook events (final job × destination) delivered with a 2xx; undefined when webhooks are off. */
  deliveries: number | undefined;
  /** Webhook requests the receiver got, retries included. */
  webhookRequests: number | undefined;
  /** Accepted jobs whose request was re-sent under its Idempotency-Key. */
  resent: number;
  /** Accepted jobs that were submitted in bulk. */
  viaBulk: number;
  /** Bulk submissions accepted, and how many of them ended `completed`. */
  batches: { accepted: number; completed: number };
  unacknowledged: number;
  rejected: number;
  wrongResults: number;
  failedByCode: Record<string, number>;
  maxAttempts: number;
  /** How many final jobs took 1, 2, 3… attempts. */
  attemptsHistogram: Record<string, number>;
  upstream: Record<string, number>;
}

const MAX_EVIDENCE = 12;
const retryableCodes = new Set(['upstream_error', 'upstream_timeout', 'upstream_rate_limited']);

const check = (name: string, failures: string[], summaryPass: string, summaryFail = `${failures.length} violation(s)`): Check => ({
  name,
  result: failures.length === 0 ? 'pass' : 'fail',
  summary: failures.length === 0 ? summaryPass : summaryFail,
  evidence: failures.slice(0, MAX_EVIDENCE),
});

const logIndexes = new WeakMap<Incarnation[], Map<string, string[]>>();

/** Log lines (from every process) that mention `jobId`, for evidence; the logs are indexed once per run. */
export function logLinesAbout(incarnations: Incarnation[], jobId: string, limit = 8): string[] {
  let index = logIndexes.get(incarnations);
  if (!index) {
    index = new Map();
    for (const incarnation of incarnations) {
      for (const line of incarnation.proc.logs) {
        const text = JSON.stringify(line);
        const ids = new Set(text.match(/job_[0-9a-z]{26}/g) ?? []);
        for (const id of ids) {
          const list = index.get(id) ?? [];
          list.push(`${incarnation.name}: ${text.length > 400 ? `${text.slice(0, 400)}…` : text}`);
          index.set(id, list);
        }
      }
    }
    logIndexes.set(incarnations, index);
  }
  return (index.get(jobId) ?? []).slice(-limit);
}

/** How many times the platform says it stored a result for each job (worker batches and reconciler). */
export function appliedResults(incarnations: Incarnation[]): Map<string, string[]> {
  const applied = new Map<string, string[]>();
  const add = (jobId: string, source: string) => {
    const list = applied.get(jobId);
    if (list) list.push(source);
    else applied.set(jobId, [source]);
  };
  for (const incarnation of incarnations) {
    if (incarnation.kind !== 'worker') continue;
    for (const line of incarnation.proc.logs) {
      if ((line.msg === 'job succeeded' || line.msg === 'job failed') && line.stored === true && typeof line.jobId === 'string') {
        add(line.jobId, `${incarnation.name} attempt ${String(line.attempt)} ${String(line.status)}`);
      }
      if (line.msg === 'reconciled Postgres and Redis' && Array.isArray(line.failedJobIds)) {
        for (const jobId of line.failedJobIds) add(String(jobId), `${incarnation.name} reconciler failed it`);
      }
    }
  }
  return applied;
}

export function evaluate(input: CheckInput): { checks: Check[]; figures: Figures } {
  const rowsById = new Map(input.rows.map((row) => [row.id, row]));
  const rowsByText = new Map(input.rows.filter((row) => row.text !== null).map((row) => [row.text!, row]));
  const acceptedIds = new Set(input.accepted.map((job) => job.id));
  const isFinal = (status: string) => (FINAL_STATUSES as readonly string[]).includes(status);
  const checks: Check[] = [];

  // --- accepted → stored → final ------------------------------------------------------------
  checks.push(
    check(
      'the load reached its target',
      input.accepted.length === input.target ? [] : [`accepted ${input.accepted.length} of ${input.target} (rejected submits: ${input.rejected.length})`],
      `${input.accepted.length} jobs accepted (202)`,
      'the suite did not submit what it claims',
    ),
  );

  const missing = input.accepted.filter((job) => !rowsById.has(job.id));
  checks.push(
    check(
      'every accepted job is stored',
      missing.map((job) => `${job.id} (seq ${job.seq}, accepted at ${new Date(job.acceptedAt).toISOString()}) has no row; logs: ${logLinesAbout(input.incarnations, job.id, 3).join(' | ') || 'none'}`),
      'every 202 has its row in Postgres',
    ),
  );

  const nonFinal = input.accepted.filter((job) => rowsById.has(job.id) && !isFinal(rowsById.get(job.id)!.status));
  checks.push(
    check(
      'every accepted job reached a final state',
      nonFinal.map((job) => {
        const row = rowsById.get(job.id)!;
        return `${job.id} is ${row.status} (attempts ${row.attempts}/${row.max_attempts}); last log lines: ${logLinesAbout(input.incarnations, job.id, 4).join(' | ') || 'none'}`;
      }),
      'all accepted jobs are succeeded or failed',
    ),
  );

  const unexpectedFinal = input.accepted.filter((job) => ['cancelled', 'expired'].includes(rowsById.get(job.id)?.status ?? ''));
  checks.push(
    check(
      'no accepted job was cancelled or expired (the suite does neither)',
      unexpectedFinal.map((job) => `${job.id} is ${rowsById.get(job.id)!.status}`),
      'none',
    ),
  );

  const stuck = input.rows.filter((row) => row.status === 'running' || row.status === 'queued');
  checks.push(
    check(
      'no job is left running or queued (acknowledged or not)',
      stuck.map((row) => `${row.id} ${acceptedIds.has(row.id) ? '' : '(unacknowledged) '}is ${row.status}, attempts ${row.attempts}/${row.max_attempts}; logs: ${logLinesAbout(input.incarnations, row.id, 3).join(' | ') || 'none'}`),
      'no queued or running rows after the settle period',
    ),
  );

  const mismatchedRows = input.accepted.filter((job) => {
    const row = rowsById.get(job.id);
    return row && (row.text !== job.text || row.model !== job.model);
  });
  const foreignRows = input.rows.filter((row) => !acceptedIds.has(row.id) && (row.seq === null || !input.sent.has(Number(row.seq)) || input.sent.get(Number(row.seq))!.text !== row.text));
  checks.push(
    check(
      'every row is a job the suite submitted, with the input it submitted',
      [
        ...mismatchedRows.map((job) => `${job.id}: submitted ${job.model} "${job.text}", stored ${rowsById.get(job.id)!.model} "${rowsById.get(job.id)!.text}"`),
        ...foreignRows.map((row) => `${row.id}: row matches no submitted item (seq ${row.seq}, text "${row.text}")`),
      ],
      'inputs stored as submitted',
    ),
  );

  if (input.batches.accepted.length > 0) {
    const batchRows = new Map(input.batches.rows.map((row) => [row.id, row]));
    const appliedBy = appliedResults(input.incarnations);
    /** The batch's jobs in completion order: when each finished and which process stored it. */
    const finishOrder = (batchId: string) =>
      input.rows
        .filter((row) => row.batch_id === batchId)
        .sort((a, b) => (a.completed_at?.getTime() ?? 0) - (b.completed_at?.getTime() ?? 0))
        .map((row) => `${row.id} ${row.status} at ${row.completed_at?.toISOString().slice(11) ?? '-'} by ${(appliedBy.get(row.id) ?? ['?']).join('/')}`);
    const problems: string[] = [];
    for (const { batchId, lines } of input.batches.accepted) {
      const row = batchRows.get(batchId);
      if (!row) {
        problems.push(`${batchId}: accepted (202) but no batch row`);
        continue;
      }
      if (row.total !== lines || row.jobs !== lines) problems.push(`${batchId}: ${lines} lines submitted, total ${row.total}, ${row.jobs} job rows`);
      // The suite never cancels and the window is 24 h: once every job is final the batch must be completed.
      if (row.final === row.jobs && row.status !== 'completed') {
        problems.push(`${batchId}: all ${row.final}/${row.total} jobs final but the batch is ${row.status}${row.completed_at ? '' : ' (no completed_at)'}; jobs finished: ${finishOrder(batchId).slice(-4).join('; ')}`);
      }
      if (row.final < row.jobs) problems.push(`${batchId}: ${row.jobs - row.final} of its jobs not final (batch ${row.status})`);
    }
    problems.push(...input.batches.apiMismatches);
    checks.push(check('every accepted batch is completed, its counts matching its jobs', problems, `${input.batches.accepted.length} batches completed`));
  } else {
    checks.push({ name: 'every accepted batch is completed, its counts matching its jobs', result: 'skip', summary: 'no bulk submissions in this run', evidence: [] });
  }

  // Idempotency-Key: re-sending the same request (after a refused connection, a reset, a 5xx) must not create a second job or batch.
  const rowsBySeq = new Map<string, JobRow[]>();
  for (const row of input.rows) {
    if (row.seq === null) continue;
    const list = rowsBySeq.get(row.seq) ?? [];
    list.push(row);
    rowsBySeq.set(row.seq, list);
  }
  const twice: string[] = [];
  for (const [seq, list] of rowsBySeq) {
    if (list.length > 1) twice.push(`item ${seq} (${input.sent.get(Number(seq))?.text}) has ${list.length} rows: ${list.map((row) => `${row.id}${row.batch_id ? ` in ${row.batch_id}` : ''}`).join(', ')}`);
  }
  for (const job of input.accepted) {
    const list = rowsBySeq.get(String(job.seq)) ?? [];
    if (job.keyed && list.length === 1 && list[0]!.id !== job.id) twice.push(`item ${job.seq}: the 202 named ${job.id}, the row is ${list[0]!.id}`);
  }
  const resent = input.accepted.filter((job) => job.sends > 1).length;
  checks.push(check('re-sending a request under its Idempotency-Key never creates a second job', twice, `one row per submitted item (${resent} accepted jobs were re-sent under their key)`));

  // --- results ---------------------------------------------------------------------------------
  const wrong: string[] = [];
  for (const row of input.rows) {
    if (row.status !== 'succeeded') continue;
    if (row.model === input.embedModel.name) {
      const expected = row.text === null ? undefined : embeddingFor(row.text);
      if (!isDeepStrictEqual(row.output?.embedding, expected)) wrong.push(`${row.id}: stored embedding ${JSON.stringify(row.output?.embedding)?.slice(0, 80)} is not embeddingFor("${row.text}")`);
    } else if (row.model === input.sentimentModel) {
      const ok = row.output && ['positive', 'negative', 'neutral'].includes(row.output.label) && Number.isFinite(row.output.score);
      if (!ok) wrong.push(`${row.id}: sentiment output ${JSON.stringify(row.output)} is malformed`);
    }
  }
  wrong.push(...input.extraWrongResults);
  checks.push(check('every stored result belongs to its job', wrong, 'each succeeded embedding equals embeddingFor(its own text), each sentiment the model\'s answer for its own text'));

  const attemptsOut: string[] = [];
  for (const row of input.rows) {
    if (!isFinal(row.status)) continue;
    if (row.attempts > row.max_attempts) attemptsOut.push(`${row.id}: attempts ${row.attempts} > max ${row.max_attempts}`);
    if ((row.status === 'succeeded' || row.status === 'failed') && row.attempts < 1) attemptsOut.push(`${row.id}: ${row.status} with ${row.attempts} attempts`);
  }
  checks.push(check('attempts stay within 1..maxAttempts', attemptsOut, 'all final jobs within bounds'));

  const badFailures: string[] = [];
  for (const row of input.rows) {
    if (row.status !== 'failed') continue;
    if (!row.error_code || !row.error_message) badFailures.push(`${row.id}: failed without error code/message`);
    else if (row.error_code === 'attempts_exhausted' && row.attempts < row.max_attempts) badFailures.push(`${row.id}: attempts_exhausted after ${row.attempts}/${row.max_attempts}`);
    else if (retryableCodes.has(row.error_code) && row.attempts < row.max_attempts) {
      badFailures.push(`${row.id}: failed with retryable ${row.error_code} after only ${row.attempts}/${row.max_attempts} attempts: ${row.error_message}`);
    } else if (!retryableCodes.has(row.error_code) && row.error_code !== 'attempts_exhausted') {
      // The suite injects only retryable faults (500, 429, timeouts) and kills; anything else is unexplained.
      badFailures.push(`${row.id}: failed with ${row.error_code}: ${row.error_message}`);
    }
  }
  checks.push(check('failed jobs ran out of attempts on faults the suite injected', badFailures, 'every failure is explained'));

  // --- applied once ----------------------------------------------------------------------------
  const duplicates = new Set<string>();
  const changed = input.monitorChanges.map((change) => {
    duplicates.add(change.jobId);
    return `${change.jobId}: first seen final ${JSON.stringify(change.before)}, later ${JSON.stringify(change.after)}`;
  });
  const finalCount = input.rows.filter((row) => isFinal(row.status)).length;
  if (input.monitorSeen < finalCount) changed.push(`the monitor saw ${input.monitorSeen} of ${finalCount} final jobs (${input.monitorErrors} failed polls): it cannot vouch for the rest`);
  checks.push(check('a final job never changes again', changed, 'every job seen final kept its status, attempts, result and completion time'));

  const applied = appliedResults(input.incarnations);
  const appliedTwice: string[] = [];
  for (const [jobId, sources] of applied) {
    if (sources.length > 1) {
      duplicates.add(jobId);
      appliedTwice.push(`${jobId}: result stored ${sources.length} times (${sources.join('; ')})`);
    }
  }
  // The check reads the workers' "job succeeded/failed … stored: true" lines: if they vanished (renamed, log level), it would pass blindly.
  const finalRows = input.rows.filter((row) => row.status === 'succeeded' || row.status === 'failed').length;
  if (applied.size < finalRows * 0.9) {
    appliedTwice.push(`only ${applied.size} stored results found in the worker logs for ${finalRows} final jobs: the "job succeeded"/"job failed" (stored: true) lines this check reads are missing, so it cannot tell`);
  }
  checks.push(check('the platform stored at most one result per job (its own log lines)', appliedTwice, `${applied.size} stored results logged for ${finalRows} final jobs, none twice`));

  const callsByText = new Map<string, { ok: number; all: number }>();
  const upstream: Record<string, number> = { calls: 0, ok: 0, error: 0, rate_limited: 0, hang: 0 };
  for (const call of input.upstreamCalls) {
    upstream.calls! += 1;
    upstream[call.outcome] = (upstream[call.outcome] ?? 0) + 1;
    const texts = (call.body as { input?: unknown })?.input;
    for (const text of Array.isArray(texts) ? texts : typeof texts === 'string' ? [texts] : []) {
      const entry = callsByText.get(String(text)) ?? { ok: 0, all: 0 };
      entry.all += 1;
      if (call.outcome === 'ok') entry.ok += 1;
      callsByText.set(String(text), entry);
    }
  }
  const okBeyondAttempts: string[] = [];
  const unanswered: string[] = [];
  const amplification: string[] = [];
  const perAttempt = input.embedModel.retries + 1;
  for (const row of input.rows) {
    if (row.model !== input.embedModel.name || row.text === null) continue;
    const calls = callsByText.get(row.text) ?? { ok: 0, all: 0 };
    if (calls.ok > row.attempts) {
      duplicates.add(row.id);
      okBeyondAttempts.push(`${row.id}: ${calls.ok} successful upstream calls but ${row.attempts} attempt(s) (${row.status})`);
    }
    if (row.status === 'succeeded' && calls.ok === 0) unanswered.push(`${row.id}: succeeded, yet the upstream never answered its text`);
    if (calls.all > row.attempts * perAttempt) amplification.push(`${row.id}: ${calls.all} upstream calls for ${row.attempts} attempt(s) × ${perAttempt} tries`);
  }
  for (const text of callsByText.keys()) if (!rowsByText.has(text)) unanswered.push(`upstream saw text "${text}" that no row has`);
  checks.push(check('no more successful upstream calls than attempts (per job)', okBeyondAttempts, 'each attempt got at most one upstream answer'));
  checks.push(check('every succeeded embedding came from an upstream answer, every upstream text from a row', unanswered, 'all succeeded embeddings were answered upstream'));
  checks.push(check('upstream calls per job ≤ attempts × (retries + 1)', amplification, 'no call without a claim'));

  // --- what clients see ------------------------------------------------------------------------
  checks.push(
    check(
      'GET /v1/jobs/:id agrees with Postgres',
      input.apiViewMismatches.map((mismatch) => `${mismatch.jobId}: ${mismatch.detail}`),
      `${input.apiViewsChecked} jobs compared`,
    ),
  );

  const inDownWindow = (at: number) => input.events.apiDownWindows.some(([from, to]) => at >= from && at <= to + input.reconnectGraceMs);
  const unavailable = input.rejected.filter((rejection) => rejection.kind !== 'network' || !inDownWindow(rejection.failedAt));
  checks.push(
    check(
      'the API answers 202 whenever it is up (Redis down or flushed included)',
      unavailable.map((rejection) => `sent ${new Date(rejection.at).toISOString()}, failed ${new Date(rejection.failedAt).toISOString()} ${rejection.via}: ${rejection.kind}${rejection.status ? ` ${rejection.status}` : ''} ${rejection.detail}`),
      `${input.rejected.length} submits refused, all while the API was down on purpose`,
    ),
  );

  // --- processes -------------------------------------------------------------------------------
  checks.push(
    check(
      'no process exited on its own',
      input.crashes.map((incarnation) => {
        const errors = incarnation.proc.logs.filter((line) => Number(line.level) >= 50).slice(-3).map((line) => JSON.stringify(line).slice(0, 300));
        return `${incarnation.name} exited (code ${incarnation.exit?.code}, signal ${incarnation.exit?.signal}) without being signalled; last errors: ${errors.join(' | ') || 'none'}`;
      }),
      'every exit was one the suite caused',
    ),
  );
  checks.push(
    check(
      'processes stop cleanly on SIGTERM',
      input.shutdowns.filter((s) => s.forced || s.code !== 0).map((s) => `${s.name}: ${s.forced ? 'did not exit within the grace period (SIGKILLed)' : `exit code ${s.code}, signal ${s.signal}`}`),
      `${input.shutdowns.length} processes exited 0`,
    ),
  );

  // --- the chaos itself ------------------------------------------------------------------------
  const missingChaos: string[] = [];
  const { events, expect } = input;
  if (events.workerKills < 1) missingChaos.push('no worker was killed');
  if (events.workerKills + events.workerKillsSkipped < expect.minKillSlots) missingChaos.push(`kill slots ${events.workerKills + events.workerKillsSkipped} < ${expect.minKillSlots}`);
  if (events.workerRestarts < events.workerKills) missingChaos.push(`worker restarts ${events.workerRestarts} < kills ${events.workerKills}`);
  if (events.redisRestarts < expect.redisRestarts) missingChaos.push(`Redis restarts ${events.redisRestarts} < ${expect.redisRestarts}`);
  if (events.redisFlushes < expect.redisFlushes) missingChaos.push(`Redis FLUSHALLs ${events.redisFlushes} < ${expect.redisFlushes}`);
  if (events.apiRestarts < expect.apiRestarts) missingChaos.push(`API restarts ${events.apiRestarts} < ${expect.apiRestarts}`);
  if (events.postgresStalls < expect.postgresStalls) missingChaos.push(`Postgres stalls ${events.postgresStalls} < ${expect.postgresStalls}`);
  if (expect.upstreamFaults) {
    for (const outcome of ['error', 'rate_limited', 'hang'] as const) if (!upstream[outcome]) missingChaos.push(`no upstream call answered "${outcome}"`);
  }
  missingChaos.push(...input.harnessErrors.map((error) => `plan step failed: ${error}`));
  checks.push(check('the faults were injected as planned', missingChaos, `${events.workerKills} worker kills, ${events.redisRestarts} Redis restart(s), ${events.redisFlushes} FLUSHALL(s), ${events.apiRestarts} API restart(s), ${events.postgresStalls} Postgres stall(s), upstream 500/429/hang`));

  // --- webhooks --------------------------------------------------------------------------------
  const webhookCheck = 'every final job (and finished batch) was delivered by webhook at least once, under one stable webhook-id';
  if (input.webhooks) {
    const w = input.webhooks;
    checks.push(
      check(
        webhookCheck,
        [
          ...w.undelivered.map((e) => `${e.subjectId} (${e.status}): never delivered to the ${e.destination} destination; ${logLinesAbout(input.incarnations, e.subjectId, 2).join(' | ')}`),
          ...w.unstableIds,
          ...w.sharedIds.map((line) => `webhook-id shared: ${line}`),
          ...w.wrongEvents,
        ],
        `${w.delivered}/${w.expected} expected events delivered in ${w.requests} requests (retries included)`,
      ),
    );
    checks.push(check('every webhook request is well-formed and correctly signed', w.malformed, 'Standard Webhooks headers and signatures valid on every request'));
  } else {
    checks.push({ name: webhookCheck, result: 'skip', summary: 'webhooks off (features.webhooks)', evidence: [] });
  }

  // --- figures ---------------------------------------------------------------------------------
  const acceptedRows = input.accepted.map((job) => rowsById.get(job.id)).filter((row): row is JobRow => row !== undefined);
  const failedByCode: Record<string, number> = {};
  for (const row of acceptedRows) if (row.status === 'failed') failedByCode[row.error_code ?? '(none)'] = (failedByCode[row.error_code ?? '(none)'] ?? 0) + 1;
  const figures: Figures = {
    accepted: input.accepted.length,
    succeeded: acceptedRows.filter((row) => row.status === 'succeeded').length,
    failed: acceptedRows.filter((row) => row.status === 'failed').length,
    lost: missing.length + nonFinal.length,
    duplicates: duplicates.size,
    deliveries: input.webhooks?.delivered,
    webhookRequests: input.webhooks?.requests,
    viaBulk: input.accepted.filter((job) => job.via === 'bulk').length,
    resent,
    batches: { accepted: input.batches.accepted.length, completed: input.batches.rows.filter((row) => row.status === 'completed').length },
    unacknowledged: input.rows.filter((row) => !acceptedIds.has(row.id)).length,
    rejected: input.rejected.length,
    wrongResults: wrong.length,
    failedByCode,
    maxAttempts: Math.max(0, ...input.rows.map((row) => row.attempts)),
    attemptsHistogram: input.rows.reduce<Record<string, number>>((histogram, row) => {
      histogram[row.attempts] = (histogram[row.attempts] ?? 0) + 1;
      return histogram;
    }, {}),
    upstream,
  };
  return { checks, figures };
}
