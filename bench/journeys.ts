/**
 * `npm run bench -- journeys`: what a compiled journey costs to run on Step Functions Standard,
 * and how long compiling takes. No AWS calls; prints figures, asserts no timing.
 *
 * (a) The SPEC example journey (test/unit/statemachines/fixtures.ts `specExample()`), compiled
 *     with `compileJourneyWithMap` without recording and with recording (`runTableName`: every
 *     step reached is written by a native `dynamodb:updateItem` state). Every path through it
 *     (branch taken or default; split variant; hold resumed or timed out) is executed in
 *     aws-local-stepfunctions (bench/lib/journey-paths.ts over test/unit/statemachines/run-local.ts),
 *     counting the states entered (the billed transitions), the Lambda task invocations, the
 *     DynamoDB writes and the SQS sends. The expected cost per entry weighs the paths by the
 *     split percents and by assumed shares of branch matches and hold resumes (printed).
 * (b) Compile time of a generated journey of BENCH_STEPS (200) steps that uses every step type
 *     (bench/lib/journey-generator.ts): BENCH_WARMUP (100) untimed compiles, then BENCH_COMPILES
 *     (200) timed ones, each mode; its state count and ASL size; one local run through it.
 * (c) Monthly cost of BENCH_ENTRIES (200,000) entries a month on the expected path mix of (a):
 *     Step Functions transitions, Lambda invocations and, with recording, DynamoDB writes.
 *
 * Counting rule: one billed transition per state entered (a StateEntered history event: Task,
 * Pass, Choice, Wait and Succeed alike), one more per retry attempt (none here: the local
 * handlers never fail). AWS: "Step Functions counts a state transition each time a step of
 * your workflow is executed ... including retries" (aws.amazon.com/step-functions/pricing).
 *
 * Settings (environment, optional): BENCH_STEPS (200, a multiple of 10), BENCH_COMPILES (200),
 * BENCH_WARMUP (100), BENCH_ENTRIES (200000), BENCH_CART_SHARE (0.7), BENCH_HOLD_RESUMED (0.2).
 */
import { parseJourneyDefinition, type JourneyDefinition } from '../shared/domain/journey/definition';
import { compileJourneyWithMap, type CompiledJourney, type CompileJourneyOptions } from '../statemachines/compile-journey';
import type { JourneyResources } from '../statemachines/steps/common';
import { OPTIONS, RESOURCES, RUN_TABLE, TEMPLATE_NAMES, specExample } from '../test/unit/statemachines/fixtures';
import { DEFAULT_INPUT, LocalJourney, type HoldOutcome } from '../test/unit/statemachines/run-local';
import { STEPS_PER_BLOCK, generateJourney } from './lib/journey-generator';
import { enumeratePaths, lambdaTotal, measurePath, pathLabel, pathWeight, type LambdaCalls, type PathAssumptions, type PathCost } from './lib/journey-paths';
import { fixed, grid, machine, memory, table, thousands } from './lib/report';

const STEPS = intSetting('BENCH_STEPS', 200);
const COMPILES = intSetting('BENCH_COMPILES', 200);
/** Untimed compiles first: with 20, the p95 was still 5× the median (JIT tiers, load from other jobs). */
const WARMUP = intSetting('BENCH_WARMUP', 100);
const ENTRIES = intSetting('BENCH_ENTRIES', 200_000);
const CART_SHARE = shareSetting('BENCH_CART_SHARE', 0.7);
const HOLD_RESUMED = shareSetting('BENCH_HOLD_RESUMED', 0.2);

/** Step Functions Standard, us-east-1 and most regions (aws.amazon.com/step-functions/pricing). */
const SFN_USD_PER_1000_TRANSITIONS = 0.025;
/** The Step Functions free tier (per account and month, indefinitely). */
const SFN_FREE_TRANSITIONS = 4_000;
/**
 * DynamoDB on-demand, per million write request units: an assumption, the us-east-1 list price
 * before 1 November 2024. Third-party summaries report $0.625 since AWS halved on-demand
 * prices then; the AWS pricing page could not be read here, so both are printed.
 */
const DDB_USD_PER_MILLION_WRITES = 1.25;
const DDB_USD_PER_MILLION_WRITES_SINCE_2024_11 = 0.625;
/**
 * Step Functions' hard quota on a state machine definition: "1 MB" (developer guide, service
 * quotas). Whether MB means 10^6 or 2^20 bytes is not said; the smaller is used.
 */
const SFN_MAX_DEFINITION_BYTES = 1_000_000;
/** Lambda, per million requests (request charge only: duration is left out). An assumption. */
const LAMBDA_USD_PER_MILLION_REQUESTS = 0.2;

function intSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function shareSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new Error(`${name} must be a number from 0 to 1, got "${raw}"`);
  return value;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

function percent(share: number): string {
  return `${fixed(share * 100, share * 100 >= 1 || share === 0 ? 1 : 2)} %`;
}

function usd(value: number): string {
  return `$${value.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

interface Mode {
  name: 'without recording' | 'with recording';
  resources: JourneyResources;
}

const MODES: Mode[] = [
  { name: 'without recording', resources: RESOURCES },
  { name: 'with recording', resources: { ...RESOURCES, runTableName: RUN_TABLE } },
];

function optionsFor(mode: Mode): CompileJourneyOptions {
  return { ...OPTIONS, resources: mode.resources, templateNames: TEMPLATE_NAMES };
}

// ---- static checks on the ASL ------------------------------------------------------------

interface StateCensus {
  states: number;
  byType: Record<string, number>;
  /** Lambda task states, by the type of the step they belong to. */
  lambdaStatesByStepType: Record<string, number>;
  /** DynamoDB updateItem (record) states. */
  recordStates: number;
}

function census(definition: JourneyDefinition, compiled: CompiledJourney): StateCensus {
  const byType: Record<string, number> = {};
  const lambdaStatesByStepType: Record<string, number> = {};
  let recordStates = 0;
  for (const [name, state] of Object.entries(compiled.asl.States)) {
    byType[state.Type] = (byType[state.Type] ?? 0) + 1;
    if (state.Type !== 'Task') continue;
    const stepId = compiled.stepOfState[name];
    const stepType = stepId === null || stepId === undefined ? 'none' : (definition.steps[stepId]?.type ?? 'unknown');
    if (state.Resource.startsWith('arn:aws:states:::lambda:')) lambdaStatesByStepType[stepType] = (lambdaStatesByStepType[stepType] ?? 0) + 1;
    if (state.Resource === 'arn:aws:states:::dynamodb:updateItem') recordStates++;
  }
  return { states: Object.keys(compiled.asl.States).length, byType, lambdaStatesByStepType, recordStates };
}

/** Lambda states in steps that should have none (wait, split, send, exit). */
function lambdaWhereNoneExpected(c: StateCensus): number {
  return ['wait', 'split', 'send', 'exit', 'none'].reduce((sum, type) => sum + (c.lambdaStatesByStepType[type] ?? 0), 0);
}

// ---- (a) the SPEC example, every path ------------------------------------------------------

interface PathRow {
  label: string;
  steps: string[];
  weight: number;
  costs: Record<Mode['name'], PathCost>;
}

interface ModeExpectation {
  transitions: number;
  lambda: LambdaCalls;
  lambdaTotal: number;
  dynamodbWrites: number;
  sqsSends: number;
}

interface PartA {
  assumptions: PathAssumptions;
  census: Record<Mode['name'], StateCensus>;
  paths: PathRow[];
  expected: Record<Mode['name'], ModeExpectation>;
  /** True when no Lambda runs for waits, splits, sends (or recording), statically and in every run. */
  noLambdaForWaitsSplitsSends: boolean;
  /** True when each recorded run wrote once per step it reached. */
  oneWritePerStep: boolean;
  weightSum: number;
  runs: number;
  seconds: number;
}

function expectation(rows: PathRow[], mode: Mode['name']): ModeExpectation {
  const sum = (pick: (cost: PathCost) => number): number => rows.reduce((total, row) => total + row.weight * pick(row.costs[mode]), 0);
  const lambda: LambdaCalls = {
    branch: sum((c) => c.lambda.branch),
    waitUntil: sum((c) => c.lambda.waitUntil),
    hold: sum((c) => c.lambda.hold),
    other: sum((c) => c.lambda.other),
  };
  return { transitions: sum((c) => c.transitions), lambda, lambdaTotal: lambdaTotal(lambda), dynamodbWrites: sum((c) => c.dynamodbWrites), sqsSends: sum((c) => c.sqsSends) };
}

async function partA(): Promise<PartA> {
  const started = performance.now();
  const definition = specExample();
  const assumptions: PathAssumptions = { branchShares: { check: [CART_SHARE] }, holdResumed: HOLD_RESUMED };
  const paths = enumeratePaths(definition);
  const measured = new Map<Mode['name'], { census: StateCensus; costs: PathCost[] }>();
  let runs = 0;
  for (const mode of MODES) {
    const compiled = compileJourneyWithMap(definition, optionsFor(mode));
    const local = new LocalJourney(compiled);
    if (local.aslErrors.length > 0) throw new Error(`compiled SPEC example (${mode.name}) is not valid ASL: ${local.aslErrors.join('; ')}`);
    const costs: PathCost[] = [];
    for (const path of paths) {
      const cost = await measurePath(local, definition, mode.resources, path);
      costs.push(cost);
      runs += cost.attempts;
    }
    measured.set(mode.name, { census: census(definition, compiled), costs });
  }
  const of = (mode: Mode['name']): { census: StateCensus; costs: PathCost[] } => {
    const found = measured.get(mode);
    if (found === undefined) throw new Error(`mode "${mode}" was not measured`);
    return found;
  };
  const plain = of('without recording');
  const recording = of('with recording');
  const rows: PathRow[] = paths.map((path, i) => {
    const off = plain.costs[i];
    const on = recording.costs[i];
    if (off === undefined || on === undefined) throw new Error(`path ${i} was not measured`);
    return { label: pathLabel(path), steps: path.steps, weight: pathWeight(path, assumptions), costs: { 'without recording': off, 'with recording': on } };
  });
  const censuses: Record<Mode['name'], StateCensus> = { 'without recording': plain.census, 'with recording': recording.census };
  const noLambda =
    MODES.every((mode) => lambdaWhereNoneExpected(censuses[mode.name]) === 0) &&
    rows.every((row) => MODES.every((mode) => row.costs[mode.name].lambda.other === 0)) &&
    rows.every((row) => lambdaTotal(row.costs['with recording'].lambda) === lambdaTotal(row.costs['without recording'].lambda));
  const oneWritePerStep = rows.every((row) => row.costs['with recording'].dynamodbWrites === row.steps.length && row.costs['without recording'].dynamodbWrites === 0);
  return {
    assumptions,
    census: censuses,
    paths: rows,
    expected: { 'without recording': expectation(rows, 'without recording'), 'with recording': expectation(rows, 'with recording') },
    noLambdaForWaitsSplitsSends: noLambda,
    oneWritePerStep,
    weightSum: rows.reduce((sum, row) => sum + row.weight, 0),
    runs,
    seconds: (performance.now() - started) / 1000,
  };
}

function lambdaCell(calls: LambdaCalls, digits = 0): string {
  const total = lambdaTotal(calls);
  const parts = [
    calls.branch > 0 ? `check ${fixed(calls.branch, digits)}` : '',
    calls.waitUntil > 0 ? `wait_until ${fixed(calls.waitUntil, digits)}` : '',
    calls.hold > 0 ? `hold ${fixed(calls.hold, digits)}` : '',
    calls.other > 0 ? `OTHER ${fixed(calls.other, digits)}` : '',
  ].filter((part) => part !== '');
  return `${fixed(total, digits)}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

function reportA(a: PartA): void {
  const off = a.census['without recording'];
  const on = a.census['with recording'];
  const types = (c: StateCensus): string =>
    Object.entries(c.byType)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([type, n]) => `${type} ${n}`)
      .join(', ');
  console.log(
    table('(a) SPEC example journey: compiled state machines', [
      ['without recording', `${off.states} states (${types(off)})`],
      ['with recording', `${on.states} states (${types(on)}), ${on.recordStates} dynamodb:updateItem`],
      ['Lambda task states', `${Object.entries(off.lambdaStatesByStepType).map(([type, n]) => `${type} ${n}`).join(', ')} (same with recording: ${JSON.stringify(off.lambdaStatesByStepType) === JSON.stringify(on.lambdaStatesByStepType) ? 'yes' : 'NO'})`],
      ['local runs', `${a.runs} runs in ${fixed(a.seconds, 1)} s (paths through the split rerun until the draw picks their variant)`],
    ]),
  );
  console.log('');
  console.log(
    grid(
      '(a) Per entry, every path (transitions = states entered; Lambda = Lambda task invocations)',
      ['path', 'share', 'steps', 'transitions', 'with recording', 'Lambda (either mode)', 'DDB writes (rec.)', 'sends'],
      a.paths.map((row) => {
        const plain = row.costs['without recording'];
        const rec = row.costs['with recording'];
        return [
          row.label,
          percent(row.weight),
          String(row.steps.length),
          String(plain.transitions),
          `${rec.transitions} (+${rec.transitions - plain.transitions})`,
          lambdaCell(plain.lambda),
          String(rec.dynamodbWrites),
          String(plain.sqsSends),
        ];
      }),
      new Set([0, 5]),
    ),
  );
  const eOff = a.expected['without recording'];
  const eOn = a.expected['with recording'];
  console.log('');
  console.log(
    table('(a) Expected per entry (paths weighed by their share)', [
      ['assumptions', `${percent(CART_SHARE)} still have their cart at "check" (else default → exit); split A 45 % / B 45 % / Holdout 10 % (the definition); ${percent(HOLD_RESUMED)} of holds resumed by Order Completed, the rest time out; no run stopped early (exit event), no retries`],
      ['shares add up to', percent(a.weightSum)],
      ['transitions, without recording', fixed(eOff.transitions, 3)],
      ['transitions, with recording', `${fixed(eOn.transitions, 3)} (+${fixed(eOn.transitions - eOff.transitions, 3)}, ${percent(eOn.transitions / eOff.transitions - 1)} more)`],
      ['Lambda invocations', `${lambdaCell(eOff.lambda, 3)} without recording; ${fixed(eOn.lambdaTotal, 3)} with`],
      ['DynamoDB writes (recording)', fixed(eOn.dynamodbWrites, 3)],
      ['SQS sends', fixed(eOff.sqsSends, 3)],
      ['no Lambda for waits, splits, sends, recording', a.noLambdaForWaitsSplitsSends ? 'holds (no Lambda state in those steps; none invoked in any run; recording adds none)' : 'DOES NOT HOLD'],
      ['one write per step reached (recording)', a.oneWritePerStep ? 'holds on every path' : 'DOES NOT HOLD'],
    ]),
  );
}

// ---- (b) compile time of a large journey ---------------------------------------------------

interface CompileTiming {
  mode: Mode['name'];
  states: number;
  aslBytes: number;
  aslBytesPretty: number;
  medianMs: number;
  p95Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  lambdaWhereNoneExpected: number;
}

interface PartB {
  steps: number;
  stepTypes: Record<string, number>;
  timings: CompileTiming[];
  validateMs: number;
  sampleRun: { transitions: number; lambda: number; dynamodbWrites: number; sends: number; stepsReached: number; ms: number };
}

async function partB(): Promise<PartB> {
  if (STEPS % STEPS_PER_BLOCK !== 0) throw new Error(`BENCH_STEPS must be a multiple of ${STEPS_PER_BLOCK}, got ${STEPS}`);
  const definition = generateJourney(STEPS / STEPS_PER_BLOCK);
  const parsed = parseJourneyDefinition(JSON.parse(JSON.stringify(definition)));
  if (!parsed.ok) throw new Error(`generated journey does not parse: ${JSON.stringify(parsed.issues.slice(0, 3))}`);
  const stepTypes: Record<string, number> = {};
  for (const step of Object.values(definition.steps)) stepTypes[step.type] = (stepTypes[step.type] ?? 0) + 1;

  const timings: CompileTiming[] = [];
  let recorded: CompiledJourney | undefined;
  for (const mode of MODES) {
    const options = optionsFor(mode);
    let compiled = compileJourneyWithMap(definition, options);
    for (let i = 1; i < WARMUP; i++) compiled = compileJourneyWithMap(definition, options);
    const samples: number[] = [];
    for (let i = 0; i < COMPILES; i++) {
      const t0 = performance.now();
      compiled = compileJourneyWithMap(definition, options);
      samples.push(performance.now() - t0);
    }
    const sorted = [...samples].sort((x, y) => x - y);
    const c = census(definition, compiled);
    timings.push({
      mode: mode.name,
      states: c.states,
      aslBytes: Buffer.byteLength(JSON.stringify(compiled.asl)),
      aslBytesPretty: Buffer.byteLength(JSON.stringify(compiled.asl, null, 2)),
      medianMs: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      meanMs: samples.reduce((sum, v) => sum + v, 0) / samples.length,
      minMs: sorted[0] ?? 0,
      maxMs: sorted[sorted.length - 1] ?? 0,
      lambdaWhereNoneExpected: lambdaWhereNoneExpected(c),
    });
    if (mode.name === 'with recording') recorded = compiled;
  }
  if (recorded === undefined) throw new Error('no compiled journey with recording');

  // One run through the recorded machine: every branch takes its default, variants as drawn, every hold times out.
  const t0 = performance.now();
  const local = new LocalJourney(recorded);
  const validateMs = performance.now() - t0;
  if (local.aslErrors.length > 0) throw new Error(`generated ASL is not valid: ${local.aslErrors.slice(0, 3).join('; ')}`);
  const holds: Record<string, HoldOutcome> = {};
  for (const [id, step] of Object.entries(definition.steps)) if (step.type === 'hold_until') holds[id] = 'simulated-timeout';
  const t1 = performance.now();
  const run = await local.run({ holds }, DEFAULT_INPUT, 'exec-large');
  const ms = performance.now() - t1;
  if (run.status !== 'succeeded') throw new Error(`run through the generated journey failed: ${run.error ?? ''}`);
  let lambda = 0;
  let dynamodbWrites = 0;
  for (const [name, calls] of Object.entries(run.calls)) {
    const state = recorded.asl.States[name];
    if (state?.Type !== 'Task') continue;
    if (state.Resource.startsWith('arn:aws:states:::lambda:')) lambda += calls;
    if (state.Resource === 'arn:aws:states:::dynamodb:updateItem') dynamodbWrites += calls;
  }
  const stepsReached = run.steps.filter((step) => step !== null).length;
  return {
    steps: STEPS,
    stepTypes,
    timings,
    validateMs,
    sampleRun: { transitions: run.visited.length, lambda, dynamodbWrites, sends: run.messages.length, stepsReached, ms },
  };
}

function reportB(b: PartB): void {
  console.log(
    grid(
      `(b) Compile a ${b.steps}-step journey (${Object.entries(b.stepTypes).map(([type, n]) => `${type} ${n}`).join(', ')}): ${WARMUP} warm-up, then ${COMPILES} timed compiles (validation included)`,
      ['mode', 'states', 'ASL bytes', 'of 1 MB quota', 'pretty bytes', 'median ms', 'p95 ms', 'mean ms', 'min ms', 'max ms', 'Lambda states in wait/split/send/exit'],
      b.timings.map((t) => [
        t.mode,
        thousands(t.states),
        thousands(t.aslBytes),
        percent(t.aslBytes / SFN_MAX_DEFINITION_BYTES),
        thousands(t.aslBytesPretty),
        fixed(t.medianMs),
        fixed(t.p95Ms),
        fixed(t.meanMs),
        fixed(t.minMs),
        fixed(t.maxMs),
        String(t.lambdaWhereNoneExpected),
      ]),
    ),
  );
  const s = b.sampleRun;
  console.log('');
  console.log(
    table(`(b) The recorded ${b.steps}-step machine, checked and run once locally`, [
      ['asl-validator', `valid (${fixed(b.validateMs, 0)} ms, engine load included)`],
      ['one run', `default branches, drawn variants, holds timed out: ${s.stepsReached} steps, ${s.transitions} transitions, ${s.lambda} Lambda, ${s.dynamodbWrites} DynamoDB writes, ${s.sends} sends, ${fixed(s.ms, 0)} ms`],
    ]),
  );
}

// ---- (c) monthly cost ------------------------------------------------------------------------

interface MonthlyCost {
  mode: Mode['name'];
  transitions: number;
  sfnUsd: number;
  sfnUsdAfterFreeTier: number;
  lambdaInvocations: number;
  lambdaRequestUsd: number;
  dynamodbWrites: number;
  dynamodbUsd: number;
  dynamodbUsdSince202411: number;
  totalUsd: number;
}

function partC(a: PartA): MonthlyCost[] {
  return MODES.map((mode) => {
    const e = a.expected[mode.name];
    const transitions = ENTRIES * e.transitions;
    const lambdaInvocations = ENTRIES * e.lambdaTotal;
    const dynamodbWrites = ENTRIES * e.dynamodbWrites;
    const sfnUsd = (transitions / 1000) * SFN_USD_PER_1000_TRANSITIONS;
    const lambdaRequestUsd = (lambdaInvocations / 1e6) * LAMBDA_USD_PER_MILLION_REQUESTS;
    const dynamodbUsd = (dynamodbWrites / 1e6) * DDB_USD_PER_MILLION_WRITES;
    return {
      mode: mode.name,
      transitions,
      sfnUsd,
      sfnUsdAfterFreeTier: (Math.max(0, transitions - SFN_FREE_TRANSITIONS) / 1000) * SFN_USD_PER_1000_TRANSITIONS,
      lambdaInvocations,
      lambdaRequestUsd,
      dynamodbWrites,
      dynamodbUsd,
      dynamodbUsdSince202411: (dynamodbWrites / 1e6) * DDB_USD_PER_MILLION_WRITES_SINCE_2024_11,
      totalUsd: sfnUsd + lambdaRequestUsd + dynamodbUsd,
    };
  });
}

function reportC(costs: MonthlyCost[]): void {
  console.log(
    grid(
      `(c) ${thousands(ENTRIES)} entries a month, expected path mix of (a)`,
      ['mode', 'transitions/month', `Step Functions ($${SFN_USD_PER_1000_TRANSITIONS}/1k)`, 'Lambda invocations', `Lambda requests ($${fixed(LAMBDA_USD_PER_MILLION_REQUESTS)}/M)`, 'DDB writes', `DDB ($${DDB_USD_PER_MILLION_WRITES}/M)`, 'total'],
      costs.map((c) => [
        c.mode,
        thousands(c.transitions),
        usd(c.sfnUsd),
        thousands(c.lambdaInvocations),
        usd(c.lambdaRequestUsd),
        thousands(c.dynamodbWrites),
        usd(c.dynamodbUsd),
        usd(c.totalUsd),
      ]),
    ),
  );
  const [off, on] = costs;
  if (off === undefined || on === undefined) return;
  console.log('');
  console.log(
    table('(c) Notes', [
      ['recording adds', `${thousands(on.transitions - off.transitions)} transitions (${usd(on.sfnUsd - off.sfnUsd)}) + ${thousands(on.dynamodbWrites)} writes (${usd(on.dynamodbUsd)}) = ${usd(on.totalUsd - off.totalUsd)} a month`],
      ['free tier', `the first ${thousands(SFN_FREE_TRANSITIONS)} transitions a month are free (per account, not per journey): ${usd(off.sfnUsdAfterFreeTier)} / ${usd(on.sfnUsdAfterFreeTier)} after it; ignored in the table`],
      ['DynamoDB price', `$${DDB_USD_PER_MILLION_WRITES}/M write request units is an assumption (1 WRU per write: run item ≤ 1 KB); at $${DDB_USD_PER_MILLION_WRITES_SINCE_2024_11}/M (reported since Nov 2024): ${usd(on.dynamodbUsdSince202411)}`],
      ['left out', 'Lambda duration, SQS requests of sends, the send pipeline, stream consumers of recorded writes, StartExecution'],
    ]),
  );
}

export async function run(): Promise<void> {
  const host = machine();
  console.log(`journeys benchmark — ${host.date}, node ${host.node}, ${host.cpus} × ${host.cpuModel}, ${host.platform}\n`);
  const started = performance.now();
  const a = await partA();
  const b = await partB();
  const c = partC(a);
  const mem = memory();
  reportA(a);
  console.log('');
  reportB(b);
  console.log('');
  reportC(c);
  const seconds = (performance.now() - started) / 1000;
  console.log(`\nwhole run ${fixed(seconds, 1)} s; process RSS ${mem.rssMiB} MiB, heap used ${mem.heapUsedMiB} MiB\n`);
  console.log(
    JSON.stringify({
      benchmark: 'journeys',
      machine: host,
      settings: { steps: STEPS, compiles: COMPILES, warmup: WARMUP, entries: ENTRIES, cartShare: CART_SHARE, holdResumed: HOLD_RESUMED },
      prices: {
        sfnUsdPer1000Transitions: SFN_USD_PER_1000_TRANSITIONS,
        sfnFreeTransitions: SFN_FREE_TRANSITIONS,
        dynamodbUsdPerMillionWrites: DDB_USD_PER_MILLION_WRITES,
        lambdaUsdPerMillionRequests: LAMBDA_USD_PER_MILLION_REQUESTS,
      },
      a: { ...a, paths: a.paths.map((row) => ({ label: row.label, steps: row.steps, weight: row.weight, costs: row.costs })) },
      b,
      c,
      memory: mem,
      seconds,
    }),
  );
}
