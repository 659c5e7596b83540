import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.ts';

/** A process the bench started. */
export interface Managed {
  pid: number;
  stop(): Promise<void>;
}

/** Resident set size of a process from /proc (Linux), in bytes; 0 once it has gone. */
function readRss(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's resident size every 250 ms, keeping the peak. */
function sampleRss(pid: number) {
  const seen = { peak: 0 };
  const sample = () => {
    seen.peak = Math.max(seen.peak, readRss(pid));
  };
  sample();
  const timer = setInterval(sample, 250).unref();
  return { seen, stop: () => (sample(), clearInterval(timer)) };
}

/** SIGTERM (the apps drain and exit), SIGKILL if that takes longer than `graceMs`. */
async function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface AppProcess extends Managed {
  child: ChildProcess;
  stderrTail(): string;
  /** Records the resident size now as the process's size when ready, before any load. */
  markReady(): void;
}

/** Resident memory of every app process the run started: when ready and at its peak, by app. */
const memory: { app: string; ready: number; peak: () => number }[] = [];
export function rssByApp(): Record<string, { readyBytes: number; peakBytes: number }> {
  const out: Record<string, { readyBytes: number; peakBytes: number }> = {};
  for (const { app, ready, peak } of memory) {
    const seen = (out[app] ??= { readyBytes: 0, peakBytes: 0 });
    seen.readyBytes = Math.max(seen.readyBytes, ready);
    seen.peakBytes = Math.max(seen.peakBytes, peak());
  }
  return out;
}

/**
 * What every app the bench started logged (at LOG_LEVEL=warn: warnings and errors only), by app
 * and message, with one example line each: a phase that stalls is explained here.
 */
const appLogs = new Map<string, { count: number; example: string }>();
export const appLogSummary = (): Record<string, { count: number; example: string }> => Object.fromEntries(appLogs);

/**
 * Runs `apps/api/src/main.ts` or `apps/worker/src/main.ts` as a real process, as
 * test/support/processes.ts does, plus node flags: --cpu-prof cannot go through NODE_OPTIONS.
 */
export function startApp(entry: string, env: Record<string, string>, nodeArgs: string[] = []): AppProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(repoRoot, entry)], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const app = path.basename(path.dirname(path.dirname(entry)));
  let stopping = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const key = `${app}: ${/"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120)}`;
    const seen = appLogs.get(key) ?? { count: 0, example: line.slice(0, 400) };
    seen.count += 1;
    appLogs.set(key, seen);
  });
  // A crash mid-run (not our SIGTERM) would otherwise only show up as a stalled phase.
  child.once('exit', (code, signal) => {
    if (!stopping && (code !== 0 || signal)) appLogs.set(`${app}: exited unexpectedly (pid ${child.pid}, ${signal ?? code})`, { count: 1, example: stderr.slice(-400) });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const rss = sampleRss(child.pid!);
  const stop = onCleanup(`stop ${entry} (pid ${child.pid})`, async () => {
    stopping = true;
    // A profile (--cpu-prof) is written at exit, so the clean SIGTERM exit gets time.
    await terminate(child, exited, 8_000);
    rss.stop();
  });
  const mem = { app, ready: 0, peak: () => rss.seen.peak };
  memory.push(mem);
  return { child, pid: child.pid!, stop, stderrTail: () => stderr, markReady: () => (mem.ready = readRss(child.pid!)) };
}

/** Polls `ready` until it holds; fails early with the process's stderr if the process exits. */
export async function waitUntil(what: string, ready: () => Promise<boolean>, proc?: AppProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what}: process exited (${proc.child.exitCode}); stderr: ${proc.stderrTail()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms; stderr: ${proc?.stderrTail() ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface UpstreamProcess extends Managed {
  url: string;
  /** Calls and items seen since the last reset. */
  stats(): Promise<{ calls: number; items: number }>;
  reset(): Promise<void>;
}

/** The simulated OpenAI-compatible upstream in a process of its own, counting calls for us over IPC. */
export async function startUpstream(options: { latencyMs: number; perItemMs: number }): Promise<UpstreamProcess> {
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'upstream-child.ts');
  const child = fork(entry, ['--latency-ms', String(options.latencyMs), '--per-item-ms', String(options.perItemMs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = onCleanup(`stop upstream (pid ${child.pid})`, () => terminate(child, exited, 3_000));
  const request = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      child.once('message', (reply) => resolve(reply as T));
      child.send({ type }, (err) => err && reject(err));
    });
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { url: string }));
    child.once('exit', (code) => reject(new Error(`upstream exited (${code}) before listening`)));
  });
  return { url, pid: child.pid!, stop, stats: () => request('stats'), reset: () => request('reset') };
}
