/**
 * The real processes a chaos run drives: one API on a fixed loopback port (so it can be restarted
 * in place), a pool of worker processes (slots that are SIGKILLed and refilled), and a private
 * redis-server. Every incarnation's stdout/stderr is kept in memory (for the checks) and teed to a
 * log file (for post-mortems). Every process that was started is tracked so it can be stopped
 * whatever happens, including an abrupt exit of the harness itself.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { spawnApp, type AppProcess } from '../support/processes.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server.ts';
import { sleep } from './rng.ts';

export type ProcessKind = 'api' | 'worker';

export interface Incarnation {
  /** e.g. `worker-1#3`: slot 1, third process in that slot. */
  name: string;
  kind: ProcessKind;
  slot: number;
  proc: AppProcess;
  startedAt: number;
  /** When its "started" log line was seen. */
  readyAt?: number;
  /** Set by us before we signal it; an exit without it is a crash. */
  stopRequested?: { signal: NodeJS.Signals; at: number };
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };
}

/** PIDs to SIGKILL if the harness exits without cleaning up (each by its own id). */
const orphanGuard = new Set<number>();
let orphanGuardInstalled = false;
function guardPid(pid: number | undefined): void {
  if (pid === undefined) return;
  orphanGuard.add(pid);
  if (!orphanGuardInstalled) {
    orphanGuardInstalled = true;
    process.on('exit', () => {
      for (const id of orphanGuard) {
        try {
          process.kill(id, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
}
const releasePid = (pid: number | undefined): void => {
  if (pid !== undefined) orphanGuard.delete(pid);
};

const readyMessage: Record<ProcessKind, string> = { api: 'api listening', worker: 'worker started' };
const entryOf: Record<ProcessKind, string> = { api: 'apps/api/src/main.ts', worker: 'apps/worker/src/main.ts' };

export class Cluster {
  readonly incarnations: Incarnation[] = [];
  private readonly streams: WriteStream[] = [];
  private readonly counters = new Map<string, number>();
  /** The live incarnation of each worker slot. */
  readonly workers: (Incarnation | undefined)[] = [];
  api: Incarnation | undefined;
  redis: PrivateRedis | undefined;
  redisPid: number | undefined;

  /** Environment of each kind of process (set once Redis and the API port are known). */
  env: { api: Record<string, string>; worker: Record<string, string> } = { api: {}, worker: {} };

  constructor(
    private readonly logDir: string,
    private readonly startTimeoutMs = 45_000,
  ) {
    mkdirSync(logDir, { recursive: true });
  }

  async startRedis(): Promise<PrivateRedis> {
    // AOF (appendonly yes, appendfsync everysec) and maxmemory-policy noeviction: BullMQ's recommended production settings.
    this.redis = await startPrivateRedis({ persist: true });
    await this.recordRedisPid();
    return this.redis;
  }

  /** Stops Redis (SIGTERM: it writes its AOF and exits), keeps it down for `downMs`, starts it again on the same port. */
  async restartRedis(downMs: number): Promise<void> {
    await this.redis!.stop();
    releasePid(this.redisPid);
    await sleep(downMs);
    await this.redis!.start();
    await this.recordRedisPid();
  }

  async flushRedis(): Promise<void> {
    await this.redis!.flushAll();
  }

  private async recordRedisPid(): Promise<void> {
    const client = new Redis(this.redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const info = await client.info('server');
      this.redisPid = Number(/process_id:(\d+)/.exec(info)?.[1]) || undefined;
      guardPid(this.redisPid);
    } finally {
      client.disconnect();
    }
  }

  /** Starts a process in `slot` and waits for its ready log line. */
  async spawn(kind: ProcessKind, slot: number, extraEnv: Record<string, string> = {}): Promise<Incarnation> {
    const key = `${kind}-${slot}`;
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    const name = kind === 'api' ? `api#${n}` : `worker-${slot}#${n}`;
    const proc = spawnApp(entryOf[kind], { ...this.env[kind], ...extraEnv });
    guardPid(proc.child.pid);
    const incarnation: Incarnation = { name, kind, slot, proc, startedAt: Date.now() };
    this.incarnations.push(incarnation);
    if (kind === 'api') this.api = incarnation;
    else this.workers[slot] = incarnation;

    const stream = createWriteStream(path.join(this.logDir, `${name.replace('#', '.')}.log`));
    this.streams.push(stream);
    proc.child.stdout!.on('data', (chunk: Buffer) => stream.write(chunk));
    proc.child.stderr!.on('data', (chunk: Buffer) => stream.write(chunk));
    proc.child.once('exit', (code, signal) => {
      incarnation.exit = { code, signal, at: Date.now() };
      releasePid(proc.child.pid);
    });

    try {
      await proc.waitForLog((line) => line.msg === readyMessage[kind], this.startTimeoutMs);
    } catch (err) {
      // Not ready in time (or it died): make sure it is gone before the caller tries again.
      // (One that exited by itself keeps counting as a crash.)
      if (!incarnation.exit) incarnation.stopRequested ??= { signal: 'SIGKILL', at: Date.now() };
      await proc.kill('SIGKILL');
      throw err;
    }
    incarnation.readyAt = Date.now();
    return incarnation;
  }

  /** Signals a process and waits for it to exit; SIGKILL follows after `graceMs` if it does not. */
  async stop(incarnation: Incarnation, signal: NodeJS.Signals, graceMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
    if (incarnation.exit) return { ...incarnation.exit, forced: false };
    incarnation.stopRequested = { signal, at: Date.now() };
    const exited = incarnation.proc.kill(signal);
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      incarnation.proc.child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
    const exit = incarnation.exit as Incarnation['exit'];
    return { code: exit?.code ?? null, signal: exit?.signal ?? null, forced };
  }

  liveWorkers(): Incarnation[] {
    return this.workers.filter((worker): worker is Incarnation => worker !== undefined && worker.exit === undefined && worker.readyAt !== undefined);
  }

  /** Processes that exited although nobody signalled them. */
  crashes(): Incarnation[] {
    return this.incarnations.filter((incarnation) => incarnation.exit && !incarnation.stopRequested);
  }

  /** Kills whatever still runs (SIGKILL, by pid) and stops Redis. Safe to call more than once. */
  async destroy(): Promise<void> {
    await Promise.all(
      this.incarnations
        .filter((incarnation) => !incarnation.exit)
        .map((incarnation) => {
          incarnation.stopRequested ??= { signal: 'SIGKILL', at: Date.now() };
          return incarnation.proc.kill('SIGKILL');
        }),
    );
    if (this.redis) {
      await this.redis.destroy().catch(() => undefined);
      releasePid(this.redisPid);
    }
    await Promise.all(this.streams.map((stream) => new Promise<void>((resolve) => stream.end(resolve))));
  }
}
