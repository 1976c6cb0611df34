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
 * (c) End to end on the local runtime: 20 audiences created over HTTP, then two loads over HTTP
 *     (POST /v1/batch, Basic auth, batches of 100). The saturating load: 10,000 events for 2,000
 *     users, 4 batches in flight, as fast as the runtime answers. The paced load: other users'
 *     profiles created first (not timed), then 2,000 of their events sent open-loop at half the
 *     rate the runtime processed end to end in the saturating load. For every membership
 *     transition, the time from sending the request that caused it to the outbox publishing
 *     `Audience Entered` / `Audience Exited` on the local bus; the transitions are checked
 *     against a simulation of the same messages (compiled evaluator, every audience after every
 *     message), and a sample is confirmed through GET /v1/profiles/{id}.
 *
 * Settings (environment, optional): BENCH_PROFILES (2000), BENCH_MIN_SECONDS (1.5, the least
 * time each engine is timed per audience count, after a 0.5 s warm-up), BENCH_E2E_EVENTS (10000),
 * BENCH_E2E_USERS (2000), BENCH_PACED_EVENTS (1200), BENCH_EVAL_BUDGET (500000), BENCH_DEFAULTS_BUDGET
 * (250000), BENCH_PARTS (a,b,c);
 * BENCH_DEBUG=1 prints the latency of part (c) per causing batch (shows a backlog building up).
 */
import { randomUUID } from 'node:crypto';
import { startLocalEngine, type LocalEngine } from '../infra/local/engine';
import { buildDependencyIndex } from '../shared/domain/audience/dependencies';
import { compileRule, type CompiledRule, type EvaluationEvent, type EvaluationInput } from '../shared/domain/audience/evaluate';
import type { Rule } from '../shared/domain/audience/rule';
import { applyTraits } from '../shared/domain/profile/profile';
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
import { RequestCounter, diffSnapshots } from './lib/request-counter';
import { fixed, grid, machine, memory, pool, prng, thousands } from './lib/report';

const PROFILES = intSetting('BENCH_PROFILES', 2_000);
const MIN_SECONDS = numberSetting('BENCH_MIN_SECONDS', 1.5);
/** Untimed warm-up of each engine before each timing. */
const WARM_UP_SECONDS = 0.5;
const E2E_EVENTS = intSetting('BENCH_E2E_EVENTS', 10_000);
const E2E_USERS = intSetting('BENCH_E2E_USERS', 2_000);
/** Events (after the profile-creating identifies) of the paced load of part (c) (0: skip it). */
const PACED_EVENTS = Number(process.env.BENCH_PACED_EVENTS ?? 1_200);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'a,b,c').split(',').map((p) => p.trim()));
const AUDIENCE_COUNTS = [1, 100, 1_000] as const;
/** Generated beyond 1,000, so that 1,000 remain if some cannot be translated. */
const EXTRA_AUDIENCES = 50;
/**
 * Most (profile, audience) evaluations per row for json-rules-engine, tuned and with its
 * defaults: at 1,000 audiences it runs on the first 500 (tuned) and 250 (defaults) profiles,
 * which keeps the whole benchmark under about 4 minutes. The compiled evaluator runs on the
 * tuned variant's profiles, so that the headline ratio compares the same work.
 */
const EVAL_BUDGET = intSetting('BENCH_EVAL_BUDGET', 500_000);
const DEFAULTS_BUDGET = intSetting('BENCH_DEFAULTS_BUDGET', 250_000);
const B_AUDIENCES = 500;
const B_EVENT_NAMES = 50;
const B_TRAIT_KEYS = 100;
const B_SAMPLES = 10_000;
const E2E_BATCH = 100;
const E2E_CONCURRENCY = 4;
/** Entered transitions confirmed through GET /v1/profiles/{id} while the load runs. */
const E2E_VISIBILITY_SAMPLES = 50;
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
  // One input object for the pass, pointed at each profile in turn: creating closures per
  // profile would be measured too, and under tsx (esbuild keepNames) each costs a __name call.
  let events: ReadonlyMap<string, readonly EvaluationEvent[]> = new Map();
  const input: EvaluationInput = {
    traits: {},
    eventsNamed: (name) => events.get(name) ?? NO_EVENTS,
    isMember: (id) => members.has(id),
    now,
  };
  for (let p = 0; p < profiles.length; p++) {
    const profile = profiles[p];
    if (profile === undefined) continue;
    members.clear();
    input.traits = profile.traits;
    events = profile.events;
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
  // Warm-up (JIT), not timed: WARM_UP_SECONDS of passes over the first 100 profiles, as for json-rules-engine.
  const warm = profiles.slice(0, 100);
  const scratch = new Uint8Array(warm.length * ordered.length);
  for (const warmStarted = performance.now(); performance.now() - warmStarted < WARM_UP_SECONDS * 1000; ) compiledPass(ordered, warm, now, scratch);
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
  // Warm-up (JIT), not timed: WARM_UP_SECONDS of passes over the first 100 profiles (fewer at 1,000 audiences).
  const warm = facts.slice(0, audiences.length >= 1000 ? 20 : 100);
  const warmOut = new Uint8Array(warm.length * audiences.length);
  for (const warmStarted = performance.now(); performance.now() - warmStarted < WARM_UP_SECONDS * 1000; ) {
    await jsonRulesPass(setup, warm, column, audiences.length, warmOut);
  }
  out.fill(0);
  // One pass at least (its results are compared); more while under MIN_SECONDS (the 1-audience row).
  let passes = 0;
  const scratch = new Uint8Array(out.length);
  const started = performance.now();
  do {
    await jsonRulesPass(setup, facts, column, audiences.length, passes === 0 ? out : scratch.fill(0));
    passes++;
  } while ((performance.now() - started) / 1000 < MIN_SECONDS);
  const seconds = (performance.now() - started) / 1000;
  const evaluations = passes * facts.length * (audiences.length - setup.untranslatable.length);
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

interface JsonRulesVariant {
  label: string;
  options: JsonRulesOptions;
  /** Most evaluations per row: it runs on the first budget / audiences profiles. */
  budget: number;
}

interface VariantResult extends Timed {
  label: string;
  profiles: number;
  untranslatable: number;
  facts: number;
  levels: number;
  /** Compiled evaluations per second over this variant's. */
  ratio: number;
  agreement: { agree: number; total: number; rate: number };
  disagreements: Disagreement[];
}

interface ThroughputRow {
  audiences: number;
  /** Profiles the compiled evaluator ran on (the first ones; json-rules-engine variants ran on a prefix). */
  profiles: number;
  compiled: Timed;
  jsonRules: VariantResult[];
  /** Share of (profile, audience) results that are "member". */
  matchRate: number;
}

interface PartA {
  profiles: number;
  /** Generated audiences left out: not translatable, or referencing one that is not. */
  excluded: number;
  eventsPerProfile: number;
  ruleShape: Record<string, number>;
  rows: ThroughputRow[];
}

async function partA(): Promise<PartA> {
  const now = new Date();
  const nowMs = now.getTime();
  const profiles = generateProfiles(prng(42), PROFILES, nowMs);
  const generated = generateAudiences(prng(7), Math.max(...AUDIENCE_COUNTS) + EXTRA_AUDIENCES, PROFILE_VOCABULARY, nowMs);
  // Rules json-rules-engine cannot express (none so far) are left out of both sides, with the audiences that reference them.
  const untranslatable = buildJsonRulesEngine(generated, { paths: 'own', conditionPriorities: true }).untranslatable.map((u) => u.id);
  const index = buildDependencyIndex(generated);
  const excluded = new Set(untranslatable.flatMap((id) => [id, ...index.dependentsOf(id)]));
  const audiences = generated.filter((a) => !excluded.has(a.id)).slice(0, Math.max(...AUDIENCE_COUNTS));
  const facts = profiles.map((p) => profileFacts(p.traits, p.events, nowMs));
  const events = profiles.reduce((sum, p) => sum + p.eventCount, 0);
  const variants: JsonRulesVariant[] = [
    { label: 'tuned', options: { paths: 'own', conditionPriorities: true }, budget: EVAL_BUDGET },
    { label: 'defaults', options: { paths: 'jsonpath', conditionPriorities: false }, budget: DEFAULTS_BUDGET },
  ];
  const profilesFor = (count: number, budget: number): number => Math.min(profiles.length, Math.max(100, Math.floor(budget / count)));
  console.log(
    `(a) evaluations per second, one thread: ${thousands(profiles.length)} profiles (${fixed(events / profiles.length, 1)} events each on average), ` +
      `${AUDIENCE_COUNTS.join(' / ')} audiences of generated mixed rules`,
  );
  const rows: ThroughputRow[] = [];
  for (const count of AUDIENCE_COUNTS) {
    const subset = audiences.slice(0, count);
    const ordered = compileInOrder(subset);
    const rowProfiles = profiles.slice(0, Math.max(...variants.map((v) => profilesFor(count, v.budget))));
    const ours = new Uint8Array(rowProfiles.length * count);
    const compiled = timeCompiled(ordered, rowProfiles, now, ours);
    const results: VariantResult[] = [];
    for (const variant of variants) {
      const n = profilesFor(count, variant.budget);
      const theirs = new Uint8Array(n * count);
      const timed = await timeJsonRules(subset, variant.options, facts.slice(0, n), theirs);
      const agreement = compare(subset, rowProfiles.slice(0, n), now, ours.subarray(0, n * count), theirs);
      results.push({
        ...timed,
        label: variant.label,
        profiles: n,
        ratio: compiled.perSecond / timed.perSecond,
        agreement: { agree: agreement.agree, total: agreement.total, rate: agreement.agree / agreement.total },
        disagreements: agreement.disagreements,
      });
    }
    const matches = ours.reduce((sum, v) => sum + v, 0);
    rows.push({ audiences: count, profiles: rowProfiles.length, compiled, jsonRules: results, matchRate: matches / ours.length });
    console.log(
      `  ${thousands(count).padStart(5)} audiences: compiled ${thousands(compiled.perSecond)} evaluations/s; ` +
        results.map((r) => `json-rules-engine (${r.label}) ${thousands(r.perSecond)} evaluations/s, ${fixed(r.ratio, 1)}×, agreement ${fixed(100 * r.agreement.rate, 2)} %`).join('; '),
    );
  }
  return { profiles: profiles.length, eventsPerProfile: events / profiles.length, ruleShape: ruleStats(audiences), excluded: excluded.size, rows };
}

// --- (b) fan-out through the dependency index ------------------------------------------------------

interface FanOut {
  samples: number;
  direct: Distribution;
  withDependents: Distribution;
}

interface PartB {
  audiences: number;
  eventNames: number;
  traitKeys: number;
  nestedAudiences: number;
  buildMs: number;
  affectedByMicros: number;
  perEventName: FanOut;
  eventStream: FanOut;
  traitChanges: FanOut;
}

function fanOut(samples: ReadonlyArray<{ direct: number; total: number }>): FanOut {
  return { samples: samples.length, direct: distribution(samples.map((s) => s.direct)), withDependents: distribution(samples.map((s) => s.total)) };
}

function partB(): PartB {
  const nowMs = Date.now();
  const vocabulary = syntheticVocabulary(B_TRAIT_KEYS, B_EVENT_NAMES);
  const audiences = generateAudiences(prng(11), B_AUDIENCES, vocabulary, nowMs, 'b');
  const built = performance.now();
  const index = buildDependencyIndex(audiences);
  const buildMs = performance.now() - built;
  const names = vocabulary.events.map((e) => e.name);
  const roots = [...new Set(vocabulary.traits.map((t) => t.path.split('.')[0] ?? t.path))];
  const random = prng(12);

  const forEvent = (name: string): { direct: number; total: number } => ({
    direct: index.forEvent(name).length,
    total: index.affectedBy({ eventNames: [name] }).length,
  });
  const perEventName = names.map(forEvent);
  // A stream of events whose names follow a Zipf law (a few names are most of the traffic).
  const weights = names.map((_, i) => 1 / (i + 1));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const zipf = (): string => {
    let x = random() * totalWeight;
    for (const [i, w] of weights.entries()) {
      x -= w;
      if (x < 0) return names[i] ?? '';
    }
    return names[names.length - 1] ?? '';
  };
  const stream = Array.from({ length: B_SAMPLES }, () => forEvent(zipf()));
  // Identify calls changing 1 to 3 trait keys.
  const traitChanges = Array.from({ length: B_SAMPLES }, () => {
    const changed = Array.from({ length: int(random, 1, 3) }, () => pick(random, roots));
    return { direct: index.forTraits(changed).length, total: index.affectedBy({ traitRoots: changed }).length };
  });

  const timedStarted = performance.now();
  let calls = 0;
  while (performance.now() - timedStarted < 200) {
    for (const name of names) index.affectedBy({ eventNames: [name] });
    calls += names.length;
  }
  const affectedByMicros = ((performance.now() - timedStarted) * 1000) / calls;
  const nested = audiences.filter((a) => JSON.stringify(a.rule).includes('"audience"')).length;
  return {
    audiences: audiences.length,
    eventNames: names.length,
    traitKeys: roots.length,
    nestedAudiences: nested,
    buildMs,
    affectedByMicros,
    perEventName: fanOut(perEventName),
    eventStream: fanOut(stream),
    traitChanges: fanOut(traitChanges),
  };
}

// --- (c) end to end on the local runtime ------------------------------------------------------------

/** The audiences of part (c), by key; `id(key)` gives the id of an audience created before. */
const E2E_AUDIENCES: ReadonlyArray<{ key: string; rule: (id: (key: string) => string) => Rule }> = [
  { key: 'pro', rule: () => ({ trait: 'plan', op: 'eq', value: 'pro' }) },
  { key: 'parisians', rule: () => ({ trait: 'address.city', op: 'eq', value: 'Paris' }) },
  { key: 'gmail', rule: () => ({ trait: 'email', op: 'ends_with', value: '@gmail.com' }) },
  { key: 'recent-signups', rule: () => ({ trait: 'signedUpAt', op: 'within_last', value: 'P30D' }) },
  { key: 'big-spenders', rule: () => ({ event: 'Order Completed', where: [{ property: 'total', op: 'gte', value: 100 }], within: 'P30D' }) },
  { key: 'frequent-viewers', rule: () => ({ event: 'Product Viewed', count: { op: 'gte', value: 3 }, within: 'P7D' }) },
  { key: 'dormant', rule: () => ({ all: [{ trait: 'plan', op: 'exists' }, { not: { event: 'Logged In', within: 'P7D' } }] }) },
  { key: 'french-big-spenders', rule: (id) => ({ all: [{ audience: id('big-spenders') }, { trait: 'country', op: 'eq', value: 'FR' }] }) },
  { key: 'pro-active', rule: (id) => ({ all: [{ audience: id('pro') }, { event: 'Logged In', within: 'P1D' }] }) },
  { key: 'cart-abandoners', rule: () => ({ all: [{ event: 'Cart Abandoned', within: 'P1D' }, { not: { event: 'Order Completed', within: 'P1D' } }] }) },
  { key: 'enterprise-or-large', rule: () => ({ any: [{ trait: 'plan', op: 'eq', value: 'enterprise' }, { trait: 'company.size', op: 'gte', value: 500 }] }) },
  {
    key: 'vip',
    rule: (id) => ({ any: [{ audience: id('french-big-spenders') }, { all: [{ trait: 'ltv', op: 'gte', value: 1000 }, { trait: 'tags', op: 'contains', value: 'vip' }] }] }),
  },
  { key: 'signed-up-this-year', rule: () => ({ trait: 'signedUpAt', op: 'after', value: `${new Date().getUTCFullYear()}-01-01` }) },
  { key: 'churned', rule: () => ({ event: 'Subscription Cancelled', within: 'P90D' }) },
  { key: 'refunded-twice', rule: () => ({ event: 'Refund Issued', count: { op: 'gte', value: 2 } }) },
  { key: 'support-heavy', rule: () => ({ event: 'Support Ticket Opened', count: { op: 'gte', value: 3 }, within: 'P30D' }) },
  { key: 'minors', rule: () => ({ trait: 'age', op: 'lt', value: 18 }) },
  { key: 'asian-languages', rule: () => ({ trait: 'prefs.lang', op: 'in', value: ['ja', 'zh', 'ko'] }) },
  { key: 'email-engaged', rule: () => ({ event: 'Email Opened', count: { op: 'gte', value: 5 }, within: 'P30D' }) },
  { key: 'newsletter-no-orders', rule: () => ({ all: [{ trait: 'newsletter', op: 'eq', value: true }, { not: { event: 'Order Completed' } }] }) },
];
/** Audiences the workload never makes anyone leave: an entry into one of them stays visible (sampled for GET). */
const STICKY = new Set(['pro', 'parisians', 'gmail', 'big-spenders', 'frequent-viewers', 'french-big-spenders', 'vip', 'enterprise-or-large']);

interface E2eMessage {
  /** Position in the whole load (its batch is index / E2E_BATCH). */
  index: number;
  user: string;
  body: Record<string, unknown> & { type: 'identify' | 'track'; messageId: string; timestamp: string };
}

const DAY_MS = 86_400_000;

function userTraits(random: Random, i: number, nowMs: number): Record<string, unknown> {
  const group = i % 10;
  const planDraw = random();
  const plan = group === 3 ? 'free' : planDraw < 0.5 ? 'free' : planDraw < 0.8 ? 'pro' : planDraw < 0.9 ? 'enterprise' : undefined;
  // Far from the P30D edge of recent-signups, so that the run's duration cannot move anyone across it.
  const signedUpDaysAgo = random() < 0.2 ? 5 + random() * 15 : 60 + random() * 900;
  return {
    ...(plan === undefined ? {} : { plan }),
    email: `user${i}@${random() < 0.3 ? 'gmail.com' : 'example.com'}`,
    country: pick(random, ['FR', 'DE', 'US', 'GB', 'ES']),
    address: { city: pick(random, ['Paris', 'Lyon', 'Berlin', 'London', 'Madrid', 'Rome']) },
    signedUpAt: new Date(nowMs - signedUpDaysAgo * DAY_MS).toISOString(),
    ltv: Math.round(random() * 3000),
    tags: random() < 0.15 ? ['vip'] : [],
    newsletter: random() < 0.5,
    prefs: { lang: pick(random, ['en', 'fr', 'de', 'ja']) },
    ...(random() < 0.5 ? { company: { size: int(random, 1, 2000) } } : {}),
  };
}

/** What user `i` sends in round `r` (round 0 is the identify that creates the profile). */
function scripted(i: number, round: number): { event: string; properties: Record<string, unknown> } | { traits: Record<string, unknown> } {
  const group = i % 10;
  const page = { event: 'Page Viewed', properties: { path: '/pricing' } };
  switch (group) {
    case 0: // a big order: big-spenders (and french-big-spenders, vip for FR), leaves newsletter-no-orders
      return round === 2 ? { event: 'Order Completed', properties: { total: 150, currency: 'EUR' } } : page;
    case 1: // the third product view in 7 days: frequent-viewers
      return round <= 3 ? { event: 'Product Viewed', properties: { sku: `SKU-${i % 50}`, price: 20 } } : page;
    case 2: // a login: leaves dormant; enters pro-active when pro
      return round === 1 ? { event: 'Logged In', properties: { method: 'password' } } : page;
    case 3: // an upgrade: enters pro
      return round === 2 ? { traits: { plan: 'pro' } } : page;
    case 4: // abandons a cart (cart-abandoners), then orders (leaves it)
      if (round === 1) return { event: 'Cart Abandoned', properties: { value: 80 } };
      if (round === 3) return { event: 'Order Completed', properties: { total: 20, currency: 'EUR' } };
      return page;
    case 5:
      return { event: 'Email Opened', properties: { campaign: 'digest' } };
    default:
      return page;
  }
}

/** Round-robin: round r holds message r of every user, so one user's messages are `userCount` messages apart. */
function e2eWorkload(runId: string, userCount: number, total: number, baseMs: number, nowMs: number): { messages: E2eMessage[]; users: string[] } {
  const random = prng(2026);
  const users = Array.from({ length: userCount }, (_, i) => `e2e-${runId}-${i}`);
  const rounds = Math.ceil(total / userCount);
  const messages: E2eMessage[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < users.length && messages.length < total; i++) {
      const user = users[i] ?? '';
      const index = messages.length;
      const common = { userId: user, messageId: `e2e-${runId}-${index}`, timestamp: new Date(baseMs + index).toISOString() };
      const step = round === 0 ? { traits: userTraits(random, i, nowMs) } : scripted(i, round);
      const body = 'traits' in step ? { type: 'identify' as const, ...common, traits: step.traits } : { type: 'track' as const, ...common, ...step };
      messages.push({ index, user, body });
    }
  }
  return { messages, users };
}

interface Transition {
  user: string;
  audience: string;
  kind: 'Audience Entered' | 'Audience Exited';
}

/**
 * The transitions the load must cause, and the message that causes each: every audience is
 * evaluated after every message, on a model of the profile (traits merged as identify merges
 * them, events appended), in dependency order, with the compiled evaluator.
 */
function simulate(messages: readonly E2eMessage[], now: Date): Array<Transition & { cause: number }> {
  const keys = E2E_AUDIENCES.map((a) => a.key);
  const rules = E2E_AUDIENCES.map((a) => ({ id: a.key, rule: a.rule((key) => key) }));
  const compiled = new Map(rules.map((r) => [r.id, compileRule(r.rule)]));
  const order = buildDependencyIndex(rules).order(keys);
  const state = new Map<string, { traits: Record<string, unknown>; events: Map<string, EvaluationEvent[]>; members: Set<string> }>();
  const out: Array<Transition & { cause: number }> = [];
  for (const message of messages) {
    let profile = state.get(message.user);
    if (profile === undefined) {
      profile = { traits: {}, events: new Map(), members: new Set() };
      state.set(message.user, profile);
    }
    const body = message.body;
    if (body.type === 'identify') {
      profile.traits = applyTraits(profile.traits, isRecord(body.traits) ? body.traits : {});
    } else {
      const name = String(body.event);
      const list = profile.events.get(name) ?? [];
      list.push({ event: name, timestamp: body.timestamp, properties: isRecord(body.properties) ? body.properties : {} });
      profile.events.set(name, list);
    }
    const { traits, events, members } = profile;
    const input: EvaluationInput = { traits, eventsNamed: (n) => events.get(n) ?? NO_EVENTS, isMember: (id) => members.has(id), now };
    for (const key of order) {
      const matches = compiled.get(key)?.evaluate(input).matches ?? false;
      if (matches && !members.has(key)) {
        members.add(key);
        out.push({ user: message.user, audience: key, kind: 'Audience Entered', cause: message.index });
      } else if (!matches && members.has(key)) {
        members.delete(key);
        out.push({ user: message.user, audience: key, kind: 'Audience Exited', cause: message.index });
      }
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface HttpResult {
  status: number;
  body: unknown;
}

async function http(runtime: LocalEngine, method: string, path: string, body?: unknown, auth: 'api' | 'write' = 'api'): Promise<HttpResult> {
  const authorization = auth === 'api' ? `Bearer ${runtime.apiKey}` : `Basic ${Buffer.from(`${runtime.writeKey}:`).toString('base64')}`;
  const response = await fetch(`${runtime.url}${path}`, {
    method,
    headers: { authorization, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

async function createAudiences(runtime: LocalEngine): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const idOf = (key: string): string => {
    const id = ids.get(key);
    if (id === undefined) throw new Error(`audience ${key} must be created before the audiences that reference it`);
    return id;
  };
  for (const audience of E2E_AUDIENCES) {
    const created = await http(runtime, 'POST', '/v1/audiences', { name: `bench ${audience.key}`, rule: audience.rule(idOf) });
    const id = field(created.body, 'id');
    if (created.status !== 201 || typeof id !== 'string') throw new Error(`POST /v1/audiences answered ${created.status}: ${JSON.stringify(created.body)}`);
    ids.set(audience.key, id);
  }
  return ids;
}

async function waitUntilReady(runtime: LocalEngine, ids: Iterable<string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      const got = await http(runtime, 'GET', `/v1/audiences/${id}`);
      if (field(got.body, 'status') === 'ready') break;
      if (Date.now() > deadline) throw new Error(`audience ${id} not ready after ${timeoutMs} ms: ${JSON.stringify(got.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

interface Observed extends Transition {
  at: number;
}

interface VisibilityCheck {
  visible: boolean;
  /** From sending the causing request to the GET answer that showed the membership. */
  sinceSendMs: number;
}

interface LoadResult {
  label: string;
  users: number;
  /** Events sent in the measured part. */
  events: number;
  /** Events sent before it, at full speed and processed to the end (their transitions are checked, not timed). */
  preloaded: number;
  batches: number;
  /** 'saturating': E2E_CONCURRENCY batches in flight, as fast as answered; else the paced rate. */
  pacing: string;
  sendSeconds: number;
  acceptedPerSecond: number;
  drainSeconds: number;
  endToEndPerSecond: number;
  batchLatency: Distribution;
  expected: number;
  observed: number;
  matched: number;
  /** DynamoDB requests per measured event (application client: ingest, stream consumers, API), by operation. */
  requestsPerEvent: Record<string, number>;
  /** (user, audience) pairs whose enter-then-exit was skipped: evaluated once, on a state where both had happened. */
  collapsedPairs: number;
  mismatchedKeys: number;
  mismatchExamples: string[];
  latency: { all: Distribution; entered: Distribution; exited: Distribution; newProfile: Distribution; laterMessage: Distribution };
  visibility: { sampled: number; visible: number; sinceSend: Distribution };
}

interface PartC {
  audiences: number;
  setupSeconds: number;
  loads: LoadResult[];
  failures: { streamFailures: number; deadLetters: number; busFailures: number };
}

/** Removes adjacent Entered → Exited pairs: what an evaluation that runs once, after both changes, publishes. */
function collapse(kinds: readonly string[]): string[] {
  const out: string[] = [];
  for (const kind of kinds) {
    if (kind === 'Audience Exited' && out[out.length - 1] === 'Audience Entered') out.pop();
    else out.push(kind);
  }
  return out;
}

interface LoadContext {
  runtime: LocalEngine;
  /** DynamoDB requests of the application client (ingest, stream consumers, API), by operation. */
  counter: RequestCounter;
  ids: ReadonlyMap<string, string>;
  keyOf: ReadonlyMap<string, string>;
}

/**
 * Sends the messages over HTTP — saturating (E2E_CONCURRENCY batches in flight) or paced at
 * `ratePerSecond` — and times every transition from the send of the batch holding the message
 * that causes it (by the simulation) to its publication on the local bus.
 */
async function runLoad(
  ctx: LoadContext,
  label: string,
  messages: readonly E2eMessage[],
  users: readonly string[],
  options: { ratePerSecond?: number; preloadBatches?: number } = {},
): Promise<LoadResult> {
  const { runtime, ids, keyOf } = ctx;
  const { ratePerSecond, preloadBatches = 0 } = options;
  const nowMs = Date.now();
  const expected = simulate(messages, new Date(nowMs + 60_000));
  const firstCause = new Map<string, number>();
  for (const t of expected) if (t.kind === 'Audience Entered' && !firstCause.has(`${t.user}|${t.audience}`)) firstCause.set(`${t.user}|${t.audience}`, t.cause);
  const batches: E2eMessage[][] = [];
  for (let i = 0; i < messages.length; i += E2E_BATCH) batches.push(messages.slice(i, i + E2E_BATCH));
  const sentAt: number[] = new Array<number>(batches.length).fill(NaN);
  const batchMs: number[] = [];
  const observed: Observed[] = [];
  const checks: Array<Promise<VisibilityCheck>> = [];
  let enteredSeen = 0;
  // Every k-th entry into a sticky audience is checked, k spreading the samples over the load.
  const preloadEnd = preloadBatches * E2E_BATCH;
  const stickyEntries = expected.filter((t) => t.kind === 'Audience Entered' && STICKY.has(t.audience) && t.cause >= preloadEnd).length;
  const sampleEvery = Math.max(1, Math.floor(stickyEntries / E2E_VISIBILITY_SAMPLES));
  /** Entries are sampled for GET /v1/profiles/{id} only in the measured part. */
  let measuring = preloadBatches === 0;

  const loadUsers = new Set(users);
  const unsubscribe = runtime.bus.subscribe({ detailType: ['Audience Entered', 'Audience Exited'] }, async (event) => {
    const at = performance.now();
    const user = field(event.detail, 'userId');
    const audience = keyOf.get(String(field(event.detail, 'audienceId')));
    const kind = event['detail-type'];
    if (typeof user !== 'string' || !loadUsers.has(user) || audience === undefined) return;
    if (kind !== 'Audience Entered' && kind !== 'Audience Exited') return;
    observed.push({ user, audience, kind, at });
    if (measuring && kind === 'Audience Entered' && STICKY.has(audience) && enteredSeen++ % sampleEvery === 0 && checks.length < E2E_VISIBILITY_SAMPLES) {
      const cause = firstCause.get(`${user}|${audience}`);
      const sent = cause === undefined ? NaN : (sentAt[Math.floor(cause / E2E_BATCH)] ?? NaN);
      checks.push(checkVisible(runtime, user, ids.get(audience) ?? '', sent));
    }
  });

  const send = async (batch: readonly E2eMessage[], b: number): Promise<void> => {
    sentAt[b] = performance.now();
    await postBatch(runtime, batch.map((m) => m.body));
    batchMs.push(performance.now() - (sentAt[b] ?? 0));
  };
  if (preloadBatches > 0) {
    // Not measured: sent at full speed, then processed to the end before the measured part.
    await pool(batches.slice(0, preloadBatches), E2E_CONCURRENCY, send);
    await runtime.settle(180_000);
  }
  const measured = batches.slice(preloadBatches);
  const measuredFrom = preloadEnd;
  const measuredEvents = messages.length - measuredFrom;
  batchMs.length = 0;
  measuring = true;
  const requestsBefore = ctx.counter.snapshot();
  const started = performance.now();
  if (ratePerSecond === undefined) {
    await pool(measured, E2E_CONCURRENCY, (batch, b) => send(batch, b + preloadBatches));
  } else {
    // Open loop: batch b leaves at started + b × interval, whatever the answers.
    const intervalMs = (1000 * E2E_BATCH) / ratePerSecond;
    const inFlight: Array<Promise<void>> = [];
    for (const [b, batch] of measured.entries()) {
      const wait = started + b * intervalMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(send(batch, b + preloadBatches));
    }
    await Promise.all(inFlight);
  }
  const sent = performance.now();
  await runtime.settle(180_000);
  const visibility = await Promise.all(checks);
  unsubscribe();
  const requests = diffSnapshots(ctx.counter.snapshot(), requestsBefore).requests;
  const lastPublished = observed.reduce((max, o) => Math.max(max, o.at), sent);

  // Pair the expected transitions with the observed ones, per (user, audience), in order.
  const expectedBy = groupBy(expected, (t) => `${t.user}|${t.audience}`);
  const observedBy = groupBy(observed, (t) => `${t.user}|${t.audience}`);
  const latencies: Array<{ ms: number; kind: Transition['kind']; newProfile: boolean; batch: number }> = [];
  const mismatchExamples: string[] = [];
  let mismatchedKeys = 0;
  let collapsedPairs = 0;
  for (const key of new Set([...expectedBy.keys(), ...observedBy.keys()])) {
    const want = expectedBy.get(key) ?? [];
    const got = observedBy.get(key) ?? [];
    const same = want.length === got.length && want.every((w, i) => w.kind === got[i]?.kind);
    if (!same) {
      const collapsed = collapse(want.map((w) => w.kind));
      if (collapsed.length === got.length && collapsed.every((kind, i) => kind === got[i]?.kind)) {
        collapsedPairs++;
        continue;
      }
      mismatchedKeys++;
      if (mismatchExamples.length < 5) mismatchExamples.push(`${key}: expected [${want.map((w) => w.kind).join(', ')}], observed [${got.map((g) => g.kind).join(', ')}]`);
      continue;
    }
    want.forEach((w, i) => {
      const o = got[i];
      const batchSent = sentAt[Math.floor(w.cause / E2E_BATCH)];
      if (o === undefined || batchSent === undefined || Number.isNaN(batchSent) || w.cause < measuredFrom) return;
      latencies.push({ ms: o.at - batchSent, kind: w.kind, newProfile: w.cause < users.length, batch: Math.floor(w.cause / E2E_BATCH) });
    });
  }
  if (process.env.BENCH_DEBUG) {
    for (const [batch, list] of groupBy(latencies, (l) => String(l.batch))) {
      const d = distribution(list.map((l) => l.ms));
      console.log(`debug ${label} batch ${batch}: n ${d.n} p50 ${Math.round(d.p50)} max ${Math.round(d.max)} sent +${Math.round((sentAt[Number(batch)] ?? 0) - started)} ms`);
    }
  }
  const dist = (filter: (l: (typeof latencies)[number]) => boolean): Distribution => distribution(latencies.filter(filter).map((l) => l.ms));
  const sendSeconds = (sent - started) / 1000;
  return {
    label,
    users: users.length,
    events: measuredEvents,
    preloaded: measuredFrom,
    batches: measured.length,
    pacing: ratePerSecond === undefined ? `${E2E_CONCURRENCY} batches in flight` : `paced at ${thousands(ratePerSecond)} events/s`,
    sendSeconds,
    acceptedPerSecond: measuredEvents / sendSeconds,
    drainSeconds: (lastPublished - sent) / 1000,
    endToEndPerSecond: measuredEvents / ((lastPublished - started) / 1000),
    batchLatency: distribution(batchMs),
    expected: expected.length,
    observed: observed.length,
    matched: latencies.length,
    requestsPerEvent: Object.fromEntries(
      Object.entries(requests)
        .sort(([, x], [, y]) => y - x)
        .map(([op, n]) => [op, Math.round((n / measuredEvents) * 100) / 100]),
    ),
    collapsedPairs,
    mismatchedKeys,
    mismatchExamples,
    latency: {
      all: dist(() => true),
      entered: dist((l) => l.kind === 'Audience Entered'),
      exited: dist((l) => l.kind === 'Audience Exited'),
      newProfile: dist((l) => l.newProfile),
      laterMessage: dist((l) => !l.newProfile),
    },
    visibility: {
      sampled: visibility.length,
      visible: visibility.filter((v) => v.visible).length,
      sinceSend: distribution(visibility.filter((v) => v.visible && !Number.isNaN(v.sinceSendMs)).map((v) => v.sinceSendMs)),
    },
  };
}

async function partC(runId: string): Promise<PartC> {
  const setupStarted = performance.now();
  const runtime = await startLocalEngine({ port: 0, dynamodbPort: 0, sesPort: 0, writeKey: `wk_bench_${runId}`, apiKey: `ak_bench_${runId}`, recheckIntervalMs: 2_000 });
  try {
    const ids = await createAudiences(runtime);
    await runtime.settle(60_000);
    await waitUntilReady(runtime, ids.values(), 60_000);
    const counter = new RequestCounter('app').install(runtime.dynamo.client);
    const ctx: LoadContext = { runtime, counter, ids, keyOf: new Map([...ids].map(([key, id]) => [id, key])) };

    // Warm-up (JIT, connections), not measured: 50 users who are not in the loads.
    const warm = Array.from({ length: E2E_BATCH }, (_, i) => ({
      type: i % 2 === 0 ? 'identify' : 'track',
      userId: `warm-${runId}-${i % 50}`,
      messageId: `warm-${runId}-${i}`,
      ...(i % 2 === 0 ? { traits: { plan: 'pro', email: `warm${i}@gmail.com` } } : { event: 'Order Completed', properties: { total: 500 } }),
    }));
    await postBatch(runtime, warm);
    await runtime.settle(60_000);
    const setupSeconds = (performance.now() - setupStarted) / 1000;

    const loads: LoadResult[] = [];
    // 1. The load of the brief: E2E_EVENTS events, E2E_CONCURRENCY batches in flight.
    const nowMs = Date.now();
    const saturating = e2eWorkload(`${runId}-s`, E2E_USERS, E2E_EVENTS, nowMs - 10 * 60_000, nowMs);
    loads.push(await runLoad(ctx, 'saturating', saturating.messages, saturating.users));
    // 2. The same scripts for other users, their profiles created first (not timed), then their
    //    later events paced at half of what the runtime processed end to end in load 1.
    const first = loads[0];
    if (PACED_EVENTS > 0 && first !== undefined) {
      const rate = Math.max(10, Math.round(first.endToEndPerSecond / 2));
      const laterRounds = Math.max(1, Math.ceil(E2E_EVENTS / E2E_USERS) - 1);
      const pacedUsers = Math.max(E2E_BATCH, Math.round(PACED_EVENTS / laterRounds / E2E_BATCH) * E2E_BATCH);
      const pacedNow = Date.now();
      const paced = e2eWorkload(`${runId}-p`, pacedUsers, pacedUsers * (laterRounds + 1), pacedNow - 10 * 60_000, pacedNow);
      loads.push(await runLoad(ctx, 'paced', paced.messages, paced.users, { ratePerSecond: rate, preloadBatches: pacedUsers / E2E_BATCH }));
    }
    return {
      audiences: ids.size,
      setupSeconds,
      loads,
      failures: {
        streamFailures: runtime.dynamo.onFailure().length,
        deadLetters: runtime.queues.deadLetters('backfill').length,
        busFailures: runtime.bus.failedDeliveries().length,
      },
    };
  } finally {
    await runtime.close();
  }
}

/** GET /v1/profiles/{id} until the membership shows (at most 3 tries, 200 ms apart). */
async function checkVisible(runtime: LocalEngine, user: string, audienceId: string, sentAt: number): Promise<VisibilityCheck> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const got = await http(runtime, 'GET', `/v1/profiles/${encodeURIComponent(user)}`);
    const audiences = field(got.body, 'audiences');
    if (Array.isArray(audiences) && audiences.some((a) => field(a, 'id') === audienceId)) {
      return { visible: true, sinceSendMs: performance.now() - sentAt };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { visible: false, sinceSendMs: NaN };
}

async function postBatch(runtime: LocalEngine, batch: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const answer = await http(runtime, 'POST', '/v1/batch', { batch }, 'write');
  if (answer.status !== 200) throw new Error(`POST /v1/batch answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

// --- report ----------------------------------------------------------------------------------------

function ms(value: number): string {
  return `${thousands(value)} ms`;
}

function reportA(a: PartA): void {
  const variants = a.rows[0]?.jsonRules ?? [];
  console.log(
    '\n' +
      grid(
        `(a) Profile evaluations per second, one thread (evaluation = one (profile, audience) result; profiles: how many the engine ran on)`,
        ['audiences', 'profiles', 'compiled', ...variants.flatMap((v) => [`json-rules-engine ${v.label}`, 'profiles', 'ratio', 'agreement']), 'members'],
        a.rows.map((r) => [
          thousands(r.audiences),
          thousands(r.profiles),
          `${thousands(r.compiled.perSecond)} eval/s`,
          ...r.jsonRules.flatMap((v) => [`${thousands(v.perSecond)} eval/s`, thousands(v.profiles), `${fixed(v.ratio, 1)}×`, `${fixed(100 * v.agreement.rate, 3)} %`]),
          `${fixed(100 * r.matchRate, 1)} %`,
        ]),
      ),
  );
  for (const v of variants) {
    const options = v.label === 'tuned' ? 'own-property path resolver, condition priorities (trait tests before event counts)' : 'JSONPath paths (jsonpath-plus), no priorities';
    console.log(`json-rules-engine ${v.label}: ${options}; one Engine holding every rule, engine.run(facts) once per profile`);
  }
  if (a.excluded > 0) console.log(`${a.excluded} generated audience(s) not translatable into json-rules-engine (or referencing one): left out of both sides`);
  for (const v of variants) {
    const below = a.rows.filter((r) => (r.jsonRules.find((x) => x.label === v.label)?.ratio ?? 0) < TARGET_RATIO).map((r) => thousands(r.audiences));
    console.log(`target ≥ ${TARGET_RATIO}× json-rules-engine ${v.label}: ${below.length === 0 ? 'met' : `NOT met at ${below.join(', ')} audience(s)`}`);
  }
  console.log(
    `rule shapes (1,000 audiences): ${Object.entries(a.ruleShape)
      .map(([k, n]) => `${k} ${thousands(n)}`)
      .join(', ')}`,
  );
  for (const r of a.rows) {
    for (const v of r.jsonRules) {
      for (const d of v.disagreements.slice(0, 5)) {
        const right = d.reference === d.compiled ? 'json-rules-engine translation wrong' : 'compiled evaluator wrong';
        console.log(
          `  DISAGREEMENT ${r.audiences} audiences, ${v.label}: ${d.profile} × ${d.audience}: compiled ${d.compiled}, json-rules-engine ${d.jsonRules}, ` +
            `reference ${d.reference} (${right}); rule ${JSON.stringify(d.rule)}`,
        );
      }
    }
  }
}

function reportB(b: PartB): void {
  const row = (name: string, f: FanOut): string[][] => [
    [name, 'direct', thousands(f.samples), String(f.direct.min), fixed(f.direct.avg, 1), String(f.direct.p50), String(f.direct.p99), String(f.direct.max)],
    ['', '+ dependents', '', String(f.withDependents.min), fixed(f.withDependents.avg, 1), String(f.withDependents.p50), String(f.withDependents.p99), String(f.withDependents.max)],
  ];
  console.log(
    '\n' +
      grid(
        `(b) Audiences evaluated per change, ${b.audiences} audiences (${b.eventNames} event names, ${b.traitKeys} trait keys, ${b.nestedAudiences} with nested references); naive: ${b.audiences}`,
        ['change', 'audiences', 'samples', 'min', 'avg', 'p50', 'p99', 'max'],
        [...row('each event name once', b.perEventName), ...row('event stream (Zipf names)', b.eventStream), ...row('identify changing 1–3 traits', b.traitChanges)],
        new Set([0, 1]),
      ),
  );
  console.log(
    `index built in ${fixed(b.buildMs, 1)} ms; affectedBy(one event) ${fixed(b.affectedByMicros, 2)} µs per call; ` +
      `an event triggers on average ${fixed(b.eventStream.withDependents.avg, 1)} of ${b.audiences} audiences (${fixed((100 * b.eventStream.withDependents.avg) / b.audiences, 1)} %); ` +
      `a new, merged or erased profile evaluates all ${b.audiences}`,
  );
}

function distRow(name: string, d: Distribution): string[] {
  return [name, thousands(d.n), ms(d.p50), ms(d.p95), ms(d.p99), ms(d.max)];
}

function reportC(c: PartC): void {
  for (const load of c.loads) {
    console.log(
      '\n' +
        grid(
          `(c) End to end, local runtime, ${load.label} load: ${thousands(load.events)} events over HTTP for ${thousands(load.users)} users, ${load.pacing}` +
            `${load.preloaded > 0 ? ` (after ${thousands(load.preloaded)} identifies creating the profiles, not timed)` : ''}, ` +
            `${c.audiences} audiences; request sent → outbox publishes the transition`,
          ['transitions', 'n', 'p50', 'p95', 'p99', 'max'],
          (
            [
              ['all', load.latency.all],
              ['Audience Entered', load.latency.entered],
              ['Audience Exited', load.latency.exited],
              ['caused by the identify creating the profile', load.latency.newProfile],
              ['caused by a later event or trait change', load.latency.laterMessage],
            ] as const
          )
            .filter(([, d]) => d.n > 0)
            .map(([name, d]) => distRow(name, d)),
        ),
    );
    console.log(
      [
        `throughput: ${thousands(load.acceptedPerSecond)} events/s accepted (${fixed(load.sendSeconds, 1)} s for ${thousands(load.batches)} batches of ${E2E_BATCH}; ` +
          `batch answered in p50 ${ms(load.batchLatency.p50)}, p95 ${ms(load.batchLatency.p95)}); ${thousands(load.endToEndPerSecond)} events/s up to the last transition published ` +
          `(${fixed(load.drainSeconds, 1)} s after the last answer)`,
        `transitions: ${thousands(load.expected)} expected by the simulation, ${thousands(load.observed)} published, ${thousands(load.matched)} timed; ` +
          `${thousands(load.collapsedPairs)} (user, audience) enter-then-exit pairs skipped (evaluated once, after both changes); ` +
          `${load.mismatchedKeys} pairs differ otherwise${load.mismatchExamples.length > 0 ? `: ${load.mismatchExamples.join('; ')}` : ''}`,
        `DynamoDB requests per event (application client: ingest, stream consumers, API): ${fixed(
          Object.values(load.requestsPerEvent).reduce((x, y) => x + y, 0),
        )} — ${Object.entries(load.requestsPerEvent)
          .map(([op, n]) => `${op} ${fixed(n)}`)
          .join(', ')}`,
        `visibility: ${load.visibility.visible} of ${load.visibility.sampled} sampled entries shown by GET /v1/profiles/{id} when the event was published ` +
          `(send → GET answer p50 ${ms(load.visibility.sinceSend.p50)}, max ${ms(load.visibility.sinceSend.max)})`,
      ].join('\n'),
    );
  }
  console.log(
    `failures: ${c.failures.streamFailures} stream records on the failure path, ${c.failures.deadLetters} backfill dead letters, ${c.failures.busFailures} failed bus deliveries; ` +
      `setup (engine, audiences ready, warm-up) ${fixed(c.setupSeconds, 1)} s`,
  );
}

export async function run(): Promise<void> {
  const host = machine();
  const runId = randomUUID().slice(0, 8);
  console.log(`audiences benchmark — ${host.date}, node ${host.node}, ${host.cpus} × ${host.cpuModel}, ${host.platform}\n`);
  const started = performance.now();
  const a = PARTS.has('a') ? await partA() : undefined;
  const b = PARTS.has('b') ? partB() : undefined;
  const c = PARTS.has('c') ? await partC(runId) : undefined;
  const mem = memory();
  if (a) reportA(a);
  if (b) reportB(b);
  if (c) reportC(c);
  const seconds = (performance.now() - started) / 1000;
  console.log(`\nwhole run ${fixed(seconds, 1)} s; process RSS ${mem.rssMiB} MiB, heap used ${mem.heapUsedMiB} MiB\n`);
  console.log(
    JSON.stringify({
      benchmark: 'audiences',
      machine: host,
      settings: { profiles: PROFILES, minSeconds: MIN_SECONDS, evalBudget: EVAL_BUDGET, defaultsBudget: DEFAULTS_BUDGET, e2eEvents: E2E_EVENTS, e2eUsers: E2E_USERS, pacedEvents: PACED_EVENTS, parts: [...PARTS] },
      a: a && {
        ...a,
        rows: a.rows.map((r) => ({ ...r, jsonRules: r.jsonRules.map((v) => ({ ...v, disagreements: v.disagreements.length })) })),
      },
      b,
      c,
      memory: mem,
      seconds,
    }),
  );
}
