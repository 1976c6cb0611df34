/**
 * `npm run bench -- audiences`: audience evaluation speed, fan-out and end-to-end latency.
 *
 * (a) Profile evaluations per second on one core (one Node thread), for 1, 100 and 1,000
 *     audiences of mixed rules over the same profiles: `compileRule(...).evaluate` against
 *     json-rules-engine running the same rules (translated in bench/lib/json-rules.ts), in the
 *     same run, with a check that both give the same result for every (profile, audience).
 * (b) With 500 audiences over 50 event names and 100 trait keys, how many audiences one event
 *     or one trait change triggers through the dependency index, against 500 for a naive
 *     evaluate-everything approach.
 * (c) End to end on the local runtime: 20 audiences created over HTTP, then 10,000 events over
 *     HTTP (POST /v1/batch, Basic auth, batches of 100, 4 in flight) for 2,000 users; for every
 *     membership transition, the time from sending the request that caused it to the outbox
 *     publishing `Audience Entered` / `Audience Exited` on the local bus, checked against a
 *     simulation of the same messages, with a sample confirmed through GET /v1/profiles/{id}.
 *
 * Settings (environment, optional): BENCH_PROFILES (2000), BENCH_MIN_SECONDS (1.5, the least
 * time the compiled evaluator is timed per audience count), BENCH_E2E_EVENTS (10000),
 * BENCH_E2E_USERS (2000), BENCH_PARTS (a,b,c).
 */
import { randomUUID } from 'node:crypto';
import { startLocalEngine, type LocalEngine } from '../infra/local/engine';
import { buildDependencyIndex } from '../shared/domain/audience/dependencies';
import { compileRule, type CompiledRule, type EvaluationEvent, type EvaluationInput } from '../shared/domain/audience/evaluate';
import type { Rule } from '../shared/domain/audience/rule';
import { referenceEvaluate } from '../test/unit/audience/reference-evaluator';
import {
  PROFILE_VOCABULARY,
  generateAudiences,
  generateProfiles,
  int,
  pick,
  ruleStats,
  syntheticVocabulary,
  type Audience,
  type GeneratedProfile,
  type Random,
} from './lib/audience-workload';
import { buildJsonRulesEngine, profileFacts, type JsonRulesOptions } from './lib/json-rules';
import { fixed, grid, machine, memory, pool, prng, thousands } from './lib/report';

const PROFILES = intSetting('BENCH_PROFILES', 2_000);
const MIN_SECONDS = numberSetting('BENCH_MIN_SECONDS', 1.5);
const E2E_EVENTS = intSetting('BENCH_E2E_EVENTS', 10_000);
const E2E_USERS = intSetting('BENCH_E2E_USERS', 2_000);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'a,b,c').split(',').map((p) => p.trim()));
const AUDIENCE_COUNTS = [1, 100, 1_000] as const;
/** The target of issue 3: the compiled evaluator at least this many times json-rules-engine's throughput. */
const TARGET_RATIO = 50;

function intSetting(name: string, fallback: number): number {
  const value = numberSetting(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`${name} must be a positive integer`);
  return value;
}

function numberSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

interface Distribution {
  n: number;
  min: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? 0,
    avg: sorted.length === 0 ? 0 : sum / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

const NO_EVENTS: readonly EvaluationEvent[] = [];

// --- (a) evaluations per second -----------------------------------------------------------------

interface OrderedAudience {
  id: string;
  /** Position in the audience list (the result matrix column). */
  column: number;
  compiled: CompiledRule;
}

/** Compiles the audiences and orders them so that an audience comes after those it references. */
function compileInOrder(audiences: readonly Audience[]): OrderedAudience[] {
  const column = new Map(audiences.map((a, i) => [a.id, i]));
  const compiled = new Map(audiences.map((a) => [a.id, compileRule(a.rule)]));
  const order = buildDependencyIndex(audiences).order(audiences.map((a) => a.id));
  return order.map((id) => ({ id, column: column.get(id) ?? -1, compiled: compiled.get(id) ?? compileRule(audiences[0]?.rule ?? { all: [] }) }));
}

/**
 * One pass of the compiled evaluator over `profiles`: every audience on every profile, in
 * dependency order, `isMember` reading the results of this pass (as evaluateProfile does).
 * Writes each result into `out` (row = profile, column = audience).
 */
function compiledPass(ordered: readonly OrderedAudience[], profiles: readonly GeneratedProfile[], now: Date, out: Uint8Array): void {
  const columns = ordered.length;
  const members = new Set<string>();
  for (let p = 0; p < profiles.length; p++) {
    const profile = profiles[p];
    if (profile === undefined) continue;
    members.clear();
    const events = profile.events;
    const input: EvaluationInput = {
      traits: profile.traits,
      eventsNamed: (name) => events.get(name) ?? NO_EVENTS,
      isMember: (id) => members.has(id),
      now,
    };
    const row = p * columns;
    for (const audience of ordered) {
      const matches = audience.compiled.evaluate(input).matches;
      if (matches) members.add(audience.id);
      out[row + audience.column] = matches ? 1 : 0;
    }
  }
}

interface Timed {
  evaluations: number;
  seconds: number;
  perSecond: number;
}

function timeCompiled(ordered: readonly OrderedAudience[], profiles: readonly GeneratedProfile[], now: Date, out: Uint8Array): Timed {
  compiledPass(ordered, profiles.slice(0, 200), now, new Uint8Array(200 * ordered.length)); // warm-up
  let passes = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    compiledPass(ordered, profiles, now, out);
    passes++;
    elapsed = (performance.now() - started) / 1000;
  } while (elapsed < MIN_SECONDS);
  const evaluations = passes * profiles.length * ordered.length;
  return { evaluations, seconds: elapsed, perSecond: evaluations / elapsed };
}

async function jsonRulesPass(
  setup: ReturnType<typeof buildJsonRulesEngine>,
  facts: readonly Record<string, unknown>[],
  column: ReadonlyMap<string, number>,
  columns: number,
  out: Uint8Array,
): Promise<void> {
  for (let p = 0; p < facts.length; p++) {
    const result = await setup.engine.run(facts[p]);
    const row = p * columns;
    for (const event of result.events) {
      const id: unknown = event.params?.id;
      const c = typeof id === 'string' ? column.get(id) : undefined;
      if (c !== undefined) out[row + c] = 1;
    }
  }
}

async function timeJsonRules(
  audiences: readonly Audience[],
  options: JsonRulesOptions,
  facts: readonly Record<string, unknown>[],
  out: Uint8Array,
): Promise<Timed & { untranslatable: number; facts: number; levels: number }> {
  const setup = buildJsonRulesEngine(audiences, options);
  const column = new Map(audiences.map((a, i) => [a.id, i]));
  const warm = facts.slice(0, audiences.length >= 1000 ? 20 : 100);
  await jsonRulesPass(setup, warm, column, audiences.length, new Uint8Array(warm.length * audiences.length));
  out.fill(0);
  const started = performance.now();
  await jsonRulesPass(setup, facts, column, audiences.length, out);
  const seconds = (performance.now() - started) / 1000;
  const evaluations = facts.length * (audiences.length - setup.untranslatable.length);
  return { evaluations, seconds, perSecond: evaluations / seconds, untranslatable: setup.untranslatable.length, facts: setup.facts, levels: setup.levels };
}

interface Disagreement {
  profile: string;
  audience: string;
  compiled: boolean;
  jsonRules: boolean;
  reference: boolean;
  rule: Rule;
}

/** Compares the two result matrices; for a disagreement, the test suite's naive reference evaluator says who is right. */
function compare(audiences: readonly Audience[], profiles: readonly GeneratedProfile[], now: Date, ours: Uint8Array, theirs: Uint8Array): { agree: number; total: number; disagreements: Disagreement[] } {
  const columns = audiences.length;
  let agree = 0;
  const disagreements: Disagreement[] = [];
  for (let p = 0; p < profiles.length; p++) {
    for (let c = 0; c < columns; c++) {
      const i = p * columns + c;
      if (ours[i] === theirs[i]) {
        agree++;
        continue;
      }
      const profile = profiles[p];
      const audience = audiences[c];
      if (profile === undefined || audience === undefined || disagreements.length >= 20) continue;
      const member = (id: string): boolean => {
        const col = audiences.findIndex((a) => a.id === id);
        return col >= 0 && ours[p * columns + col] === 1;
      };
      const reference = referenceEvaluate(audience.rule, { traits: profile.traits, eventsNamed: (n) => profile.events.get(n) ?? NO_EVENTS, isMember: member, now });
      disagreements.push({ profile: profile.id, audience: audience.id, compiled: ours[i] === 1, jsonRules: theirs[i] === 1, reference, rule: audience.rule });
    }
  }
  return { agree, total: profiles.length * columns, disagreements };
}

interface ThroughputRow {
  audiences: number;
  compiled: Timed;
  jsonRules: Timed & { untranslatable: number; facts: number; levels: number };
  ratio: number;
  agreement: { agree: number; total: number; rate: number };
  matchRate: number;
  disagreements: Disagreement[];
}

async function partA(): Promise<{ rows: ThroughputRow[]; profiles: number; events: number; ruleShape: Record<string, number>; options: JsonRulesOptions }> {
  const now = new Date();
  const nowMs = now.getTime();
  const random = prng(42);
  const profiles = generateProfiles(random, PROFILES, nowMs);
  const audiences = generateAudiences(prng(7), Math.max(...AUDIENCE_COUNTS), PROFILE_VOCABULARY, nowMs);
  const facts = profiles.map((p) => profileFacts(p.traits, p.events, nowMs));
  const events = profiles.reduce((sum, p) => sum + p.eventCount, 0);
  const options: JsonRulesOptions = { paths: jsonRulesPaths(), conditionPriorities: process.env.BENCH_JRE_PRIORITIES !== '0' };
  console.log(
    `(a) ${thousands(profiles.length)} profiles (${fixed(events / profiles.length, 1)} events each on average), ` +
      `audiences ${AUDIENCE_COUNTS.join(' / ')}; json-rules-engine paths: ${options.paths}, condition priorities: ${options.conditionPriorities ? 'on' : 'off'}`,
  );
  const rows: ThroughputRow[] = [];
  for (const count of AUDIENCE_COUNTS) {
    const subset = audiences.slice(0, count);
    const ordered = compileInOrder(subset);
    const ours = new Uint8Array(profiles.length * count);
    const theirs = new Uint8Array(profiles.length * count);
    const compiled = timeCompiled(ordered, profiles, now, ours);
    const jsonRules = await timeJsonRules(subset, options, facts, theirs);
    const agreement = compare(subset, profiles, now, ours, theirs);
    const matches = ours.reduce((sum, v) => sum + v, 0);
    const row: ThroughputRow = {
      audiences: count,
      compiled,
      jsonRules,
      ratio: compiled.perSecond / jsonRules.perSecond,
      agreement: { agree: agreement.agree, total: agreement.total, rate: agreement.agree / agreement.total },
      matchRate: matches / ours.length,
      disagreements: agreement.disagreements,
    };
    rows.push(row);
    console.log(
      `  ${String(count).padStart(5)} audiences: compiled ${thousands(compiled.perSecond)} evaluations/s (${fixed(compiled.seconds, 1)} s), ` +
        `json-rules-engine ${thousands(jsonRules.perSecond)} evaluations/s (${fixed(jsonRules.seconds, 1)} s), ratio ${fixed(row.ratio, 1)}×, ` +
        `agreement ${fixed(100 * row.agreement.rate, 3)} %`,
    );
  }
  return { rows, profiles: profiles.length, events, ruleShape: ruleStats(audiences), options };
}

function jsonRulesPaths(): JsonRulesOptions['paths'] {
  return process.env.BENCH_JRE_PATHS === 'own' ? 'own' : 'jsonpath';
}

export async function run(): Promise<void> {
  const host = machine();
  console.log(`audiences benchmark — ${host.date}, node ${host.node}, ${host.cpus} × ${host.cpuModel}, ${host.platform}\n`);
  const startedAt = performance.now();
  const a = PARTS.has('a') ? await partA() : undefined;
  console.log(JSON.stringify({ a, seconds: (performance.now() - startedAt) / 1000 }));
  void randomUUID;
  void int;
  void pick;
  void syntheticVocabulary;
  void grid;
  void memory;
  void pool;
  void startLocalEngine;
  const _r: Random | undefined = undefined;
  const _e: LocalEngine | undefined = undefined;
  void _r;
  void _e;
}
