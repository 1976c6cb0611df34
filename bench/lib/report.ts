/** Plain-text output for the benchmarks: aligned tables, units, process memory. */
import { cpus } from 'node:os';

export type Row = [label: string, value: string];

export function table(title: string, rows: Row[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return [`${title}`, '-'.repeat(title.length), ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`)].join('\n');
}

/** A table with a header row; columns after the first are right-aligned unless `left` says otherwise. */
export function grid(title: string, headers: string[], rows: string[][], left: ReadonlySet<number> = new Set([0])): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (left.has(c) ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ').trimEnd();
  return [title, '-'.repeat(title.length), line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function fixed(value: number, digits = 2): string {
  return value.toFixed(digits);
}

export function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

export interface Machine {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  platform: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    platform: `${process.platform}/${process.arch}`,
  };
}

export function memory(): { rssMiB: number; heapUsedMiB: number; heapTotalMiB: number } {
  const usage = process.memoryUsage();
  return { rssMiB: mib(usage.rss), heapUsedMiB: mib(usage.heapUsed), heapTotalMiB: mib(usage.heapTotal) };
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await work(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Deterministic PRNG (mulberry32) so that runs generate the same workload. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
