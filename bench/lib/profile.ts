import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Summarises V8 .cpuprofile files (node --cpu-prof) into where the time went: self time by
 * package (or "inferq" for our own code, "node" for built-ins) and the hottest functions, so the
 * report can say why a target was missed without opening a profiler.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers and the share of it the process was busy (not idle). */
  durationS: number;
  busyShare: number;
  byPackage: { name: string; share: number }[];
  topFunctions: { name: string; where: string; share: number }[];
  /** Our own functions by inclusive time (their callees counted too): which code path costs what. */
  ourPaths: { name: string; where: string; share: number }[];
}

/** Which bucket a script URL falls in: the npm package, our workspace, or node itself. */
function ownerOf(url: string): string {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return 'node';
  const inModules = url.split('node_modules/').pop()!;
  if (inModules !== url) {
    const parts = inModules.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const inRepo = /\/(apps\/[^/]+|packages\/[^/]+|test|bench|prisma)\//.exec(url);
  return inRepo ? `inferq ${inRepo[1]}` : 'other';
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)']);

export function summariseProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

  let idle = 0;
  let busy = 0;
  const packages = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; count: number }>();
  for (const [id, count] of hits) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idle += count;
      continue;
    }
    busy += count;
    const owner = SPECIAL.has(functionName) ? functionName : ownerOf(url);
    packages.set(owner, (packages.get(owner) ?? 0) + count);
    const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|apps|packages)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = functions.get(key) ?? { name: functionName || '(anonymous)', where, count: 0 };
    entry.count += count;
    functions.set(key, entry);
  }
  const ours = inclusiveOwnFrames(profile, hits);
  const share = (count: number) => Math.round((count / Math.max(1, busy)) * 1000) / 10;
  return {
    file: path.basename(file),
    durationS: (profile.endTime - profile.startTime) / 1e6,
    busyShare: Math.round((busy / Math.max(1, busy + idle)) * 100) / 100,
    byPackage: [...packages].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, count]) => ({ name, share: share(count) })),
    topFunctions: [...functions.values()].sort((a, b) => b.count - a.count).slice(0, top).map(({ name, where, count }) => ({ name, where, share: share(count) })),
    ourPaths: [...ours.values()].sort((a, b) => b.count - a.count).slice(0, top).map(({ name, where, count }) => ({ name, where, share: share(count) })),
  };
}

const isOurs = (url: string) => /\/(apps|packages)\/[^/]+\/src\//.test(url) && !url.includes('/generated/');

/** Samples under each of our own frames, each sample counted once per frame however deep it recurses. */
function inclusiveOwnFrames(profile: CpuProfile, hits: Map<number, number>) {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, { name: string; where: string; count: number }>();
  for (const [leaf, count] of hits) {
    if (byId.get(leaf)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      if (!isOurs(url)) continue;
      const where = `${url.replace(/^.*?\/(apps|packages)\//, '$1/')}:${lineNumber + 1}`;
      const key = `${functionName}@${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = totals.get(key) ?? { name: functionName || '(anonymous)', where, count: 0 };
      entry.count += count;
      totals.set(key, entry);
    }
  }
  return totals;
}

/**
 * The main-thread profile of each process in `dir`, named by the caller's pid → role map. Files are
 * CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (tsx's loader
 * hooks run in a thread of their own and write a profile too).
 */
export function summariseProfiles(dir: string, roleOfPid: Map<number, string>): (ProfileSummary & { role: string })[] {
  return readdirSync(dir).flatMap((name) => {
    const match = /^CPU\.\d+\.\d+\.(\d+)\.0\.\d+\.cpuprofile$/.exec(name);
    const role = match && roleOfPid.get(Number(match[1]));
    return role ? [{ role, ...summariseProfile(path.join(dir, name)) }] : [];
  });
}
