import { readdirSync, readFileSync } from 'node:fs';
import { median } from './stats';

/** One evaluated child as the workers' logs show it: its job, its step and when it was active (ms). */
export interface ChildSpan {
  readonly job: string;
  readonly step: string;
  readonly start: number;
  readonly end: number;
}

/** How busy the virtual workers were. Fractions in [0, 1]. */
export interface Utilisation {
  /** Busy time / (workers × (last end − first start)). */
  readonly overall: number;
  /**
   * The same over the steady part: from the moment the W-th child started (every worker had had work) until
   * the last child started (after it the budget is spent and the cluster drains).
   */
  readonly steady: number;
  /** The steady window, ms since the epoch; null when fewer children than workers ran. */
  readonly window: { readonly from: number; readonly to: number } | null;
  /**
   * What synchronous steps allow at most: a replica waits for the slowest of its m children, so a step keeps
   * m workers for its longest child. Busy time / Σ over steps of (children × longest child).
   */
  readonly stepBound: number;
}

/** Worker utilisation from the children's active spans (see Utilisation). */
export function utilisation(spans: readonly ChildSpan[], workers: number): Utilisation {
  if (spans.length === 0 || workers <= 0) return { overall: NaN, steady: NaN, window: null, stepBound: NaN };
  const first = Math.min(...spans.map((s) => s.start));
  const last = Math.max(...spans.map((s) => s.end));
  const busy = spans.reduce((a, s) => a + (s.end - s.start), 0);
  const starts = spans.map((s) => s.start).sort((a, b) => a - b);
  const window = starts.length >= workers ? { from: starts[workers - 1] as number, to: starts[starts.length - 1] as number } : null;
  let steady = NaN;
  if (window !== null && window.to > window.from) {
    const inside = spans.reduce((a, s) => a + Math.max(0, Math.min(s.end, window.to) - Math.max(s.start, window.from)), 0);
    steady = inside / (workers * (window.to - window.from));
  }
  const steps = new Map<string, number[]>();
  for (const s of spans) {
    const list = steps.get(s.step) ?? [];
    list.push(s.end - s.start);
    steps.set(s.step, list);
  }
  const held = [...steps.values()].reduce((a, d) => a + d.length * Math.max(...d), 0);
  return { overall: busy / (workers * (last - first)), steady, window, stepBound: held > 0 ? busy / held : NaN };
}

/** Count, mean, median, 90th and 99th percentile (nearest rank) and maximum of some values. */
export interface Distribution {
  readonly count: number;
  readonly mean: number;
  readonly median: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The Distribution of `values` (NaN fields when empty). */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => (sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number));
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
    median: sorted.length === 0 ? NaN : median(sorted),
    p90: rank(0.9),
    p99: rank(0.99),
    max: sorted.length === 0 ? NaN : (sorted[sorted.length - 1] as number),
  };
}

/** Calls per command from the text of Redis `INFO commandstats` (`cmdstat_get:calls=3,usec=...`). */
export function parseCommandStats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) calls.set(m[1] as string, Number(m[2]));
  }
  return calls;
}

/** Calls made between two commandstats snapshots: the total and each command's, most called first. */
export function commandDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): { total: number; byCommand: [string, number][] } {
  const byCommand: [string, number][] = [];
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0);
    if (d > 0) byCommand.push([name, d]);
  }
  byCommand.sort((a, b) => b[1] - a[1]);
  return { total: byCommand.reduce((a, [, d]) => a + d, 0), byCommand };
}

/** One point of a search's quality curve. */
export interface CurvePoint {
  /** Architectures evaluated so far. */
  readonly evaluated: number;
  /** The best validation accuracy so far. */
  readonly bestAccuracy: number;
  /** The reported figure (NAS-Bench-201: test accuracy) of the architecture best by validation so far; null without one. */
  readonly bestTest: number | null;
  /** Mean validation accuracy of the architectures evaluated since the previous point. */
  readonly windowMeanAccuracy: number;
}

/** The quality curve of results in the order they arrived, at `points` evenly spaced counts. */
export function qualityCurve(results: readonly { accuracy: number; test: number | null }[], points: number): CurvePoint[] {
  const curve: CurvePoint[] = [];
  let best = -Infinity;
  let bestTest: number | null = null;
  let from = 0;
  for (let p = 1; p <= points; p++) {
    const to = Math.round((p * results.length) / points);
    if (to <= from) continue;
    let sum = 0;
    for (let i = from; i < to; i++) {
      const r = results[i] as { accuracy: number; test: number | null };
      sum += r.accuracy;
      if (r.accuracy > best) {
        best = r.accuracy;
        bestTest = r.test;
      }
    }
    curve.push({ evaluated: to, bestAccuracy: best, bestTest, windowMeanAccuracy: sum / (to - from) });
    from = to;
  }
  return curve;
}

/** A process of a run as /proc shows it: its role, resident memory and CPU time so far. */
export interface ProcessSample {
  readonly pid: number;
  readonly role: string;
  readonly rssBytes: number;
  readonly cpuMs: number;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** The role of a run's process, from its command line. */
export function processRole(cmdline: string): string {
  if (cmdline.includes('redis-server')) return 'redis';
  for (const role of ['controller', 'worker', 'param-server']) if (cmdline.includes(`services/${role}/`)) return role;
  return 'launcher';
}

/**
 * Resident memory and CPU time of the processes of a local run: those whose environment names its folder
 * (NASRL_LOCAL_RUN_DIR), its redis-server (`redisPid`) and `extraPids` (the launcher itself). Linux only;
 * an empty list elsewhere.
 */
export function sampleRun(out: string, redisPid: number | null, extraPids: readonly number[]): ProcessSample[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const samples: ProcessSample[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    try {
      const own = pid === redisPid || extraPids.includes(pid);
      if (!own && !readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`NASRL_LOCAL_RUN_DIR=${out}`)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      // Fields after the command: state is 3rd of stat, utime 14th, stime 15th, rss (pages) 24th.
      const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
      const rssBytes = Number(fields[21]) * 4096;
      const role = pid === redisPid ? 'redis' : processRole(readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' '));
      samples.push({ pid, role, rssBytes, cpuMs });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return samples;
}
