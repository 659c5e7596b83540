import path from 'node:path';
import type { CpuUsage } from '../lib/cpu.ts';
import type { LoadResult } from '../lib/load.ts';
import { fmt } from './targets.ts';
import type { BenchReport } from './types.ts';

/** The report as people read it: bench/reports/<name>.md, and the console table. */
const MB = 1024 * 1024;
const ms = (value: number) => fmt(value, value < 10 ? 1 : 0);

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * CPU by component, and what it implies: the bench's own components' CPU per job bounds the
 * throughput of this machine's cores whatever else runs, so the ceiling holds on a noisy run too.
 */
function cpuTable(cpu: CpuUsage, cores: number): string {
  const roles = Object.keys(cpu.cores).filter((role) => cpu.cores[role]! > 0.005);
  const ours = roles.filter((role) => !role.startsWith('other') && !role.startsWith('iowait'));
  const msPerJob = ours.reduce((sum, role) => sum + (cpu.msPerJob[role] ?? 0), 0);
  const rows = roles.map((role) => [role, fmt(cpu.cores[role]!, 2), cpu.msPerJob[role] === undefined ? '' : fmt(cpu.msPerJob[role]!, 2)]);
  rows.push(['**all but other**', fmt(ours.reduce((sum, role) => sum + cpu.cores[role]!, 0), 2), `**${fmt(msPerJob, 2)}**`]);
  const ceiling = msPerJob > 0 ? `\n\nAt ${fmt(msPerJob, 2)} CPU ms per job, ${cores} idle cores allow at most **${fmt((cores * 1000) / msPerJob)} jobs/s** on this path.` : '';
  return table(['component', 'cores busy', 'CPU ms per job'], rows) + ceiling;
}

/** Requests that got no 2xx (or were not sent past the open loop's backlog cap), if any. */
const failures = (load: LoadResult) => {
  const n = Object.values(load.errors).reduce((sum, count) => sum + count, 0);
  return n > 0 ? `; ${fmt(n)} of ${fmt(load.sent + (load.errors['not sent: client backlog'] ?? 0))} failed or not sent` : '';
};

/** The key numbers, one row each: what the console prints and the markdown starts with. */
export function keyRows(report: BenchReport): string[][] {
  const rows: string[][] = [];
  const { substrate, e2e, batching, scaleout, redisMemory } = report;
  if (substrate) {
    rows.push(['1 substrate', `bare BullMQ (addBulk + no-op Worker, concurrency ${substrate.runs[0]?.concurrency})`, `${fmt(substrate.jobsPerS)} jobs/s (first and last run: ${substrate.runs.map((r) => fmt(r.jobsPerS)).join(', ')})`]);
    const withOptions = substrate.withInferqOptions;
    if (withOptions) rows.push(['1 substrate', "same with inferq's job options (priority, attempts)", `${fmt(withOptions.jobsPerS)} jobs/s (add ${fmt(withOptions.addPerS)}/s, drain ${fmt(withOptions.drainPerS)}/s)`]);
  }
  if (e2e) {
    for (const point of e2e.fixedRate) {
      const { load, jobs } = point;
      rows.push(['2 single POST', `open loop ${point.offeredPerS} req/s${point.saturated ? ' (saturated)' : ''}`, `${fmt(load.okPerS)} ok/s; submit p50/p95/p99 ${ms(load.latencyMs.p50)}/${ms(load.latencyMs.p95)}/${ms(load.latencyMs.p99)} ms; wait p50/p99 ${ms(jobs.queueWaitMs.p50)}/${ms(jobs.queueWaitMs.p99)} ms; e2e p50/p99 ${ms(jobs.endToEndMs.p50)}/${ms(jobs.endToEndMs.p99)} ms${failures(load)}`]);
    }
    const { sustained } = e2e;
    const ratio = substrate ? ` (${fmt(sustained.jobsPerS / substrate.jobsPerS, 2)}× substrate)` : '';
    rows.push(['2 single POST', `closed loop, ${sustained.connections} connections`, `${fmt(sustained.jobsPerS)} jobs/s submit→result${ratio}; submit p50/p99 ${ms(sustained.load.latencyMs.p50)}/${ms(sustained.load.latencyMs.p99)} ms; e2e p50/p99 ${ms(sustained.jobs.endToEndMs.p50)}/${ms(sustained.jobs.endToEndMs.p99)} ms`]);
    const { deepQueue } = e2e;
    if (deepQueue) rows.push(['2 single POST', `open loop ${deepQueue.offeredPerS} req/s, ${fmt(deepQueue.queued)} jobs queued`, `${fmt(deepQueue.load.okPerS)} ok/s; submit p50/p95/p99 ${ms(deepQueue.load.latencyMs.p50)}/${ms(deepQueue.load.latencyMs.p95)}/${ms(deepQueue.load.latencyMs.p99)} ms; e2e p50/p99 ${ms(deepQueue.jobs.endToEndMs.p50)}/${ms(deepQueue.jobs.endToEndMs.p99)} ms${failures(deepQueue.load)}`]);
    const { bulk } = e2e;
    rows.push(['2 bulk', 'POST /v1/batches (NDJSON)', bulk.available ? `${fmt(bulk.jobsPerS)} jobs/s submit→result${substrate ? ` (${fmt(bulk.jobsPerS / substrate.jobsPerS, 2)}× substrate)` : ''}; e2e p50/p99 ${ms(bulk.summary.endToEndMs.p50)}/${ms(bulk.summary.endToEndMs.p99)} ms` : `not available yet (${bulk.note})`]);
  }
  for (const point of batching?.points ?? []) {
    rows.push(['3 batching', `maxBatchSize ${point.maxBatchSize}`, `${fmt(point.jobsPerS)} jobs/s (ideal ${fmt(point.idealPerS)}); ${fmt(point.callsPerJob, 3)} upstream calls/job`]);
  }
  for (const point of scaleout?.points ?? []) rows.push(['4 scale-out', `${point.model}, ${point.workers} worker(s)`, `${fmt(point.jobsPerS)} jobs/s`]);
  for (const [app, { readyBytes, peakBytes }] of Object.entries(report.rss ?? {})) rows.push(['5 resources', `${app} RSS`, `${fmt(readyBytes / MB)} MB when ready, ${fmt(peakBytes / MB)} MB peak`]);
  if (redisMemory) rows.push(['5 resources', `Redis per queued job (${fmt(redisMemory.queued)} queued)`, `interactive ${fmt(redisMemory.bytesPerJob.interactive)} B, batch ${fmt(redisMemory.bytesPerJob.batch)} B (job hash alone ${fmt(redisMemory.jobHashBytes)} B)`]);
  if (e2e) rows.push(['5 resources', 'Postgres row writes (sustained single POST)', `${fmt(e2e.sustained.jobs.rowWritesPerS)} rows/s (insert + claim + result per job)`]);
  return rows;
}

export function consoleTable(report: BenchReport): string {
  const rows = [['scenario', 'case', 'result'], ...keyRows(report)];
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => row[col]!.length)));
  const lines = rows.map((row) => `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`);
  const targets = report.targets.map((t) => `${t.status === 'met' ? 'MET   ' : t.status === 'missed' ? 'MISSED' : 'n/a   '}  ${t.name}: ${t.actual} (target ${t.target})`);
  return [...lines, '', ...targets].join('\n');
}

function profileSection(report: BenchReport): string[] {
  const { profile } = report;
  if (!profile) return [];
  const out = [`## Why: CPU profiles of the sustained single-POST run`, '', `Profiled run: ${fmt(profile.run.jobsPerS)} jobs/s (--cpu-prof costs a few percent). Raw profiles: \`${path.relative(process.cwd(), profile.dir)}\` (gitignored; open in Chrome DevTools).`, ''];
  out.push('CPU by component during the profiled run:', '', cpuTable(profile.run.cpu, report.meta.cpus), '');
  out.push(`Postgres backends of the bench database, average number active by wait event: ${Object.entries(profile.run.pgWaits).map(([wait, n]) => `${wait} ${n}`).join(', ') || 'none'}.`, '');
  if (profile.pgPerJob) out.push('Postgres work per accepted job (API and worker together):', '', table(['counter', 'per job'], Object.entries(profile.pgPerJob).map(([name, n]) => [name, fmt(n, 2)])), '');
  for (const p of profile.profiles) {
    out.push(`### ${p.role}: main thread busy ${Math.round(p.busyShare * 100)}% of ${fmt(p.durationS, 1)} s`, '');
    out.push(table(['self time by package', '% of busy'], p.byPackage.slice(0, 8).map((row) => [row.name, fmt(row.share, 1)])), '');
    out.push(table(['hottest functions (self)', 'where', '%'], p.topFunctions.slice(0, 10).map((row) => [row.name, `\`${row.where}\``, fmt(row.share, 1)])), '');
    out.push(table(['our code, inclusive (synchronous part)', 'where', '%'], p.ourPaths.slice(0, 8).map((row) => [row.name, `\`${row.where}\``, fmt(row.share, 1)])), '');
  }
  return out;
}

export function markdown(report: BenchReport, chartFile: string): string {
  const { meta, e2e } = report;
  const out = [
    `# inferq benchmark, ${meta.date} (${meta.mode})`,
    '',
    `${meta.cpus} cores, ${fmt(meta.memoryGb)} GB, Node ${meta.node}, commit \`${meta.commit}\`; ran ${fmt(meta.durationS)} s (${Object.entries(meta.scenarioSeconds ?? {}).map(([key, s]) => `${key} ${s} s`).join(', ')}). All processes on loopback; every scenario in this one invocation.`,
  ];
  if ((meta.otherLoadCores ?? 0) > 0.2) out.push('', `**Noisy run:** other processes kept ${fmt(meta.otherLoadCores!, 2)} cores busy on average during the bench; absolute numbers are low by about that share, ratios less so.`);
  out.push('', `![throughput, batching and latency](${chartFile})`, '', '## Targets', '', table(['target', 'goal', 'measured', 'status', 'note'], report.targets.map((t) => [t.name, t.target, t.actual, t.status === 'missed' ? '**missed**' : t.status, t.note ?? ''])));
  out.push('', '## Results', '', table(['scenario', 'case', 'result'], keyRows(report)));
  if (e2e) {
    out.push('', '### CPU by component, sustained single POST', '', cpuTable(e2e.sustained.cpu, meta.cpus));
    out.push('', `Postgres backends active, by wait event (average count): ${Object.entries(e2e.sustained.pgWaits).map(([wait, n]) => `${wait} ${n}`).join(', ') || 'none'}.`);
  }
  for (const point of report.scaleout?.points ?? []) {
    out.push('', `### Scale-out, ${point.model}, ${point.workers} worker(s): CPU by component`, '', cpuTable(point.cpu, meta.cpus));
  }
  out.push('', ...profileSection(report));
  const problems = [...report.errors.map((e) => `${e.scenario} failed: ${e.message}`), ...(report.incompletePhases ?? [])];
  if (problems.length > 0) out.push('## Problems during the run', '', ...problems.map((line) => `- ${line}`), '');
  const logs = Object.entries(report.appLogs ?? {});
  if (logs.length > 0) out.push('## What the apps logged (warnings and errors)', '', table(['app: message', 'count', 'example'], logs.map(([key, { count, example }]) => [key, count, `\`${example.replaceAll('|', '/').replaceAll('`', "'")}\``])), '');
  return `${out.join('\n')}\n`;
}
