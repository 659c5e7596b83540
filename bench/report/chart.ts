import { Resvg } from '@resvg/resvg-js';
import type { BenchReport } from './types.ts';

/**
 * The report's PNG: four panels drawn as SVG by hand (no chart library to keep current) and
 * rasterised with resvg, which ships its binary inside npm and needs no browser or canvas.
 */
type Box = { x: number; y: number; w: number; h: number };
const W = 1400;
const H = 1000;
const COLORS = ['#2563eb', '#f59e0b', '#dc2626', '#16a34a', '#7c3aed'];
const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const text = (x: number, y: number, body: string, attrs = '') => `<text x="${x}" y="${y}" ${attrs}>${esc(body)}</text>`;
const short = (v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v >= 10 ? `${Math.round(v)}` : `${Math.round(v * 10) / 10}`);

/** Round tick values covering [0, max]. */
function ticks(max: number, count = 5): number[] {
  const raw = max / count;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw || 1))).find((s) => s >= raw) ?? raw;
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}

function frame(box: Box, title: string, yLabel: string): string {
  return [
    `<rect x="${box.x - 70}" y="${box.y - 50}" width="${box.w + 100}" height="${box.h + 110}" fill="#fff" stroke="#e5e7eb"/>`,
    text(box.x - 55, box.y - 25, title, 'font-size="20" font-weight="bold"'),
    text(box.x - 52, box.y + box.h / 2, yLabel, `font-size="14" fill="#374151" transform="rotate(-90 ${box.x - 52} ${box.y + box.h / 2})" text-anchor="middle"`),
  ].join('');
}

function yAxis(box: Box, max: number, scale: (v: number) => number, values = ticks(max)): string {
  return values
    .map((t) => `<line x1="${box.x}" x2="${box.x + box.w}" y1="${scale(t)}" y2="${scale(t)}" stroke="#f3f4f6"/>` + text(box.x - 8, scale(t) + 5, short(t), 'font-size="13" text-anchor="end" fill="#4b5563"'))
    .join('');
}

const empty = (box: Box, why: string) => text(box.x + box.w / 2, box.y + box.h / 2, why, 'font-size="16" text-anchor="middle" fill="#9ca3af"');

/** Bars with optional target marks: the throughput overview and the scale-out comparison. */
function bars(box: Box, items: { label: string; value: number | undefined; color: string; target?: number; targetLabel?: string; note?: string }[]): string {
  const max = Math.max(1, ...items.flatMap((i) => [i.value ?? 0, i.target ?? 0])) * 1.15;
  const scale = (v: number) => box.y + box.h - (v / max) * box.h;
  const slot = box.w / items.length;
  const out = [yAxis(box, max, scale)];
  items.forEach((item, i) => {
    const x = box.x + i * slot + slot * 0.15;
    const w = slot * 0.7;
    if (item.value === undefined) out.push(text(x + w / 2, box.y + box.h - 10, item.note ?? 'n/a', 'font-size="13" text-anchor="middle" fill="#9ca3af"'));
    else out.push(`<rect x="${x}" y="${scale(item.value)}" width="${w}" height="${box.y + box.h - scale(item.value)}" fill="${item.color}"/>`, text(x + w / 2, scale(item.value) - 6, short(item.value), 'font-size="14" text-anchor="middle"'));
    if (item.target !== undefined) out.push(`<line x1="${x - 6}" x2="${x + w + 6}" y1="${scale(item.target)}" y2="${scale(item.target)}" stroke="#111" stroke-width="2" stroke-dasharray="6 4"/>`, text(x + w / 2, scale(item.target) - 6, item.targetLabel ?? `target ${short(item.target)}`, 'font-size="12" fill="#111" text-anchor="middle"'));
    item.label.split('\n').forEach((line, k) => out.push(text(x + w / 2, box.y + box.h + 20 + k * 16, line, 'font-size="13" text-anchor="middle" fill="#374151"')));
  });
  return out.join('');
}

/** 1-2-5 ticks per decade between two positive values: a log axis people can read. */
function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(min)); decade <= max; decade *= 10) for (const m of [1, 2, 5]) if (m * decade >= min && m * decade <= max) out.push(m * decade);
  return out;
}

/**
 * Lines over a numeric x axis (log2 or linear) and a linear or log y axis (latencies and rates span
 * decades), with an optional dashed horizontal target.
 */
function lines(box: Box, opts: { xs: number[]; log2?: boolean; logY?: boolean; xLabel: string; series: { name: string; ys: number[]; color: string; dashed?: boolean; labels?: string[] }[]; target?: { y: number; label: string } }): string {
  const { xs } = opts;
  const fx = (x: number) => (opts.log2 ? Math.log2(x) : x);
  const [lo, hi] = [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))];
  const scaleX = (x: number) => box.x + (hi === lo ? box.w / 2 : ((fx(x) - lo) / (hi - lo)) * box.w);
  const values = [...opts.series.flatMap((s) => s.ys.filter((y) => Number.isFinite(y) && y > 0)), ...(opts.target ? [opts.target.y] : [])];
  const maxY = Math.max(1, ...values) * (opts.logY ? 2 : 1.15);
  const minY = opts.logY ? 10 ** Math.floor(Math.log10(Math.max(1e-3, Math.min(...values)))) : 0;
  const scaleY = opts.logY
    ? (y: number) => box.y + box.h - ((Math.log10(Math.max(y, minY)) - Math.log10(minY)) / (Math.log10(maxY) - Math.log10(minY))) * box.h
    : (y: number) => box.y + box.h - (y / maxY) * box.h;
  const out = [yAxis(box, maxY, scaleY, opts.logY ? logTicks(minY, maxY) : undefined)];
  for (const x of xs) out.push(text(scaleX(x), box.y + box.h + 20, short(x), 'font-size="13" text-anchor="middle" fill="#374151"'));
  out.push(text(box.x + box.w / 2, box.y + box.h + 42, opts.xLabel, 'font-size="14" text-anchor="middle" fill="#374151"'));
  if (opts.target) out.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${scaleY(opts.target.y)}" y2="${scaleY(opts.target.y)}" stroke="#111" stroke-width="1.5" stroke-dasharray="6 4"/>`, text(box.x + 4, scaleY(opts.target.y) - 6, opts.target.label, 'font-size="12"'));
  opts.series.forEach((series, k) => {
    const points = xs.map((x, i) => [scaleX(x), scaleY(series.ys[i]!)] as const).filter(([, y]) => Number.isFinite(y));
    out.push(`<polyline points="${points.map((p) => p.join(',')).join(' ')}" fill="none" stroke="${series.color}" stroke-width="3" ${series.dashed ? 'stroke-dasharray="8 6"' : ''}/>`);
    if (!series.dashed) points.forEach(([x, y]) => out.push(`<circle cx="${x}" cy="${y}" r="5" fill="${series.color}"/>`));
    series.labels?.forEach((label, i) => points[i] && out.push(text(points[i]![0], points[i]![1] - 12, label, `font-size="12" text-anchor="middle" fill="${series.color}"`)));
    // Legend bottom right: both curves (throughput and latency) rise to the right and stay clear of it.
    const legendY = box.y + box.h - 12 - (opts.series.length - 1 - k) * 20;
    out.push(`<rect x="${box.x + box.w - 260}" y="${legendY - 6}" width="14" height="4" fill="${series.color}"/>`, text(box.x + box.w - 240, legendY, series.name, 'font-size="13"'));
  });
  return out.join('');
}

export function chartSvg(report: BenchReport): string {
  const panels: Box[] = [
    { x: 90, y: 70, w: 560, h: 330 },
    { x: 800, y: 70, w: 560, h: 330 },
    { x: 90, y: 580, w: 560, h: 330 },
    { x: 800, y: 580, w: 560, h: 330 },
  ];
  const [a, b, c, d] = panels as [Box, Box, Box, Box];
  const { substrate, e2e, batching, scaleout } = report;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif"><rect width="${W}" height="${H}" fill="#f9fafb"/>`];

  out.push(frame(a, 'Throughput, zero-cost model (jobs/s)', 'jobs/s'));
  const bulk = e2e?.bulk;
  const drain = scaleout?.points.find((p) => p.bound === 'cpu' && p.workers === 1);
  out.push(bars(a, [
    { label: 'bare BullMQ\n(substrate)', value: substrate?.jobsPerS, color: COLORS[4]! },
    { label: 'worker drain\n(no API, 1 worker)', value: drain?.jobsPerS, color: '#6b7280' },
    { label: 'single POST\nsustained', value: e2e?.sustained.jobsPerS, color: COLORS[0]!, target: 2000 },
    { label: 'bulk\n/v1/batches', value: bulk?.available ? bulk.jobsPerS : undefined, color: COLORS[1]!, target: substrate ? 0.7 * substrate.jobsPerS : undefined, targetLabel: 'target 0.7× substrate', note: 'not available yet' },
  ]));

  out.push(frame(b, `Batching gain: upstream ${batching?.upstream.latencyMs ?? 50} ms/call + ${batching?.upstream.perItemMs ?? 0.5} ms/item`, 'jobs/s (log scale)'));
  const points = batching?.points ?? [];
  if (points.length === 0) out.push(empty(b, 'not measured'));
  else out.push(lines(b, {
    xs: points.map((p) => p.maxBatchSize),
    log2: true,
    logY: true,
    xLabel: `maxBatchSize (${batching!.concurrency} upstream calls in flight, 1 worker); labels: upstream calls per job`,
    series: [
      { name: 'measured', ys: points.map((p) => p.jobsPerS), color: COLORS[0]!, labels: points.map((p) => p.callsPerJob.toFixed(3)) },
      { name: 'ideal (cost model)', ys: points.map((p) => p.idealPerS), color: '#9ca3af', dashed: true },
    ],
  }));

  out.push(frame(c, 'Single POST: submit latency vs offered rate', 'ms (log scale)'));
  const rates = e2e?.fixedRate ?? [];
  const deep = e2e?.deepQueue;
  // The deep-queue point sits at its own offered rate, which the sweep may have skipped.
  const xs = [...new Set([...rates.map((r) => r.offeredPerS), ...(deep ? [deep.offeredPerS] : [])])].sort((p, q) => p - q);
  const at = (x: number) => rates.find((r) => r.offeredPerS === x);
  if (xs.length === 0) out.push(empty(c, 'not measured'));
  else out.push(lines(c, {
    xs,
    logY: true,
    xLabel: 'offered rate (requests/s, open loop)',
    target: { y: 25, label: 'p99 target 25 ms (at 200 req/s)' },
    series: [
      ...(['p50', 'p95', 'p99'] as const).map((q, k) => ({ name: `submit ${q}`, ys: xs.map((x) => at(x)?.load.latencyMs[q] ?? NaN), color: COLORS[k]! })),
      ...(deep ? [{ name: `submit p99 with ${short(deep.queued)} jobs queued`, ys: xs.map((x) => (x === deep.offeredPerS ? deep.load.latencyMs.p99 : NaN)), color: '#111' }] : []),
    ],
  }));

  out.push(frame(d, 'Scale-out: 1 vs 2 worker processes (jobs/s)', 'jobs/s'));
  const scale = scaleout?.points ?? [];
  if (scale.length === 0) out.push(empty(d, 'not measured'));
  else out.push(bars(d, scale.map((p) => ({ label: `${p.model}\n${p.workers} worker${p.workers > 1 ? 's' : ''} (${p.bound})`, value: p.jobsPerS, color: p.workers === 1 ? COLORS[0]! : COLORS[3]! }))));

  const other = report.meta.otherLoadCores ?? 0;
  const noise = other > 0.2 ? `; other processes kept ${other.toFixed(2)} cores busy (noisy run)` : '';
  out.push(text(W - 20, H - 12, `inferq bench ${report.meta.date} (${report.meta.mode}), ${report.meta.cpus} cores, commit ${report.meta.commit}${noise}`, 'font-size="12" text-anchor="end" fill="#6b7280"'), '</svg>');
  return out.join('\n');
}

export function chartPng(report: BenchReport): Buffer {
  const resvg = new Resvg(chartSvg(report), { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'original' } });
  return resvg.render().asPng();
}
