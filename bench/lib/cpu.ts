import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time by component over a phase, from /proc (Linux). On a 2-core machine every component
 * (API, workers, Postgres, Redis, the load generator) competes for the same cores, so "CPU ms per
 * job" by component says where a throughput ceiling comes from better than any single profile.
 * Busy time no component accounts for is reported as "other": a shared machine's other work
 * (someone's test run) skews every number of the run, and the report should say so.
 */
const TICKS_PER_S = 100; // USER_HZ; 100 on every Linux the bench targets
const OTHER = 'other (not the bench)';
const IOWAIT = 'iowait (idle, waiting on disk)';
const BENCH_DB = /^postgres: .*? \S+ (\S+) \S*\(\d+\)/;

interface ProcStat {
  comm: string;
  ppid: number;
  own: number;
  /** CPU of its exited, reaped children. */
  children: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(fields[1]), own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return undefined; // the process ended between readdir and read
  }
}

/** A Postgres backend serving another database than the bench's belongs to someone else. */
function isOtherDatabase(pid: string): boolean {
  try {
    const db = BENCH_DB.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '))?.[1];
    return db !== undefined && !db.startsWith('inferq_bench_');
  } catch {
    return false;
  }
}

function machineTicks(): { busy: number; iowait: number } {
  const [user, nice, system, , iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user! + nice! + system! + irq! + softirq! + steal!, iowait: iowait! };
}

interface Snapshot {
  busy: number;
  iowait: number;
  /** pid → its component and CPU ticks so far. */
  procs: Map<string, { role: string; ticks: number }>;
}

/**
 * CPU ticks of each process that belongs to a component: processes named in `roles` (pid → role),
 * the bench process (with the children it reaped: all its own) and those it started, Postgres
 * (the bench database's backends and the server's own processes), Redis.
 */
function snapshot(roles: Map<number, string>): Snapshot {
  const procs = new Map<string, { role: string; ticks: number }>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const role =
      roles.get(Number(pid)) ??
      (Number(pid) === process.pid
        ? 'bench (load generator)'
        : stat.ppid === process.pid && !stat.comm.startsWith('redis-server')
          ? 'bench children (upstream, unnamed apps)'
          : stat.comm === 'postgres' && !isOtherDatabase(pid)
            ? 'postgres'
            : stat.comm.startsWith('redis-server')
              ? 'redis'
              : undefined);
    if (role) procs.set(pid, { role, ticks: stat.own + (Number(pid) === process.pid ? stat.children : 0) });
  }
  return { ...machineTicks(), procs };
}

export interface CpuUsage {
  /** Cores busy on average, by component, over the phase. */
  cores: Record<string, number>;
  /** CPU milliseconds spent per job, by component. */
  msPerJob: Record<string, number>;
}

/**
 * Starts counting; `stop(jobs)` returns the usage since. Deltas are per process, so a process that
 * ends in between (its ticks are gone) is counted as "other", never as a negative; keep the
 * processes in `roles` running until then.
 */
export function measureCpu(roles: () => Map<number, string> = () => new Map()) {
  const before = snapshot(roles());
  const started = performance.now();
  return {
    stop(jobs = 0): CpuUsage {
      const after = snapshot(roles());
      const ticks = new Map<string, number>([[OTHER, after.busy - before.busy], [IOWAIT, after.iowait - before.iowait]]);
      for (const [pid, { role, ticks: now }] of after.procs) {
        const used = now - (before.procs.get(pid)?.ticks ?? 0);
        ticks.set(role, (ticks.get(role) ?? 0) + used);
        ticks.set(OTHER, ticks.get(OTHER)! - used);
      }
      const seconds = (performance.now() - started) / 1000;
      const cores: Record<string, number> = {};
      const msPerJob: Record<string, number> = {};
      for (const [role, count] of ticks) {
        const cpuS = count / TICKS_PER_S;
        cores[role] = Math.round((cpuS / seconds) * 100) / 100;
        if (jobs > 0 && role !== IOWAIT) msPerJob[role] = Math.round(((cpuS * 1000) / jobs) * 100) / 100;
      }
      return { cores, msPerJob };
    },
  };
}

export const OTHER_LOAD = OTHER;

/**
 * Waits (at most `maxS` seconds) until processes outside the bench use less than `cores` over a
 * 2-second window; returns the load last seen. On a shared machine this keeps someone's test run
 * from being measured as inferq's slowness.
 */
export async function waitForQuiet(maxS: number, cores = 0.3): Promise<number> {
  const deadline = Date.now() + maxS * 1000;
  for (;;) {
    const window = measureCpu();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const other = window.stop().cores[OTHER] ?? 0;
    if (other < cores || Date.now() >= deadline) return other;
  }
}
