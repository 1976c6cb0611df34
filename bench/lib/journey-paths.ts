/**
 * Every path through a journey definition, and what one run along it costs once compiled:
 * the states entered (Step Functions Standard bills one transition per state entered), the
 * Lambda invocations, the DynamoDB writes of record states and the SQS sends. Each path is
 * executed for real in aws-local-stepfunctions (test/unit/statemachines/run-local.ts): the
 * branch and hold outcomes are scripted, the split draw is the engine's own
 * `States.MathRandom`, so a path through a split is run until the draw picks its variant.
 */
import type { JourneyDefinition, JourneyStep } from '../../shared/domain/journey/definition';
import type { CompiledJourney, JourneyResources } from '../../statemachines/compile-journey';
import { DEFAULT_INPUT, LocalJourney, type HoldOutcome, type RunResult, type RunScript } from '../../test/unit/statemachines/run-local';

/** One decision taken along a path. */
export type Decision =
  | { kind: 'branch'; stepId: string; index: number; name: string }
  | { kind: 'split'; stepId: string; index: number; name: string; percent: number }
  | { kind: 'hold'; stepId: string; outcome: 'resumed' | 'timed out' };

export interface JourneyPath {
  /** Step ids in the order a run reaches them. */
  steps: string[];
  decisions: Decision[];
  /** True when the path ends on a `next: null` (the shared "End of journey" state), false on an `exit` step. */
  endsOnNull: boolean;
}

/** What the weights of the paths rest on (split percents come from the definition). */
export interface PathAssumptions {
  /** Share of runs taking each branch of a branch step, in branch order; the default gets the rest. */
  branchShares: Record<string, number[]>;
  /** Share of runs whose hold is resumed by the awaited event (the rest time out). */
  holdResumed: number;
}

/** Lambda invocations by the step type that made them. */
export interface LambdaCalls {
  branch: number;
  waitUntil: number;
  hold: number;
  /** Lambda calls made by any other step type (the aim: none). */
  other: number;
}

export interface PathCost {
  /** States entered (StateEntered events), the billed transitions. */
  transitions: number;
  lambda: LambdaCalls;
  dynamodbWrites: number;
  sqsSends: number;
  /** Runs needed until the split draws picked this path's variants. */
  attempts: number;
}

/** Every path from `definition.start` to an end (journeys are acyclic, so the set is finite). */
export function enumeratePaths(definition: JourneyDefinition): JourneyPath[] {
  const paths: JourneyPath[] = [];
  const walk = (stepId: string | null, steps: string[], decisions: Decision[]): void => {
    if (stepId === null) {
      paths.push({ steps, decisions, endsOnNull: true });
      return;
    }
    const step: JourneyStep | undefined = definition.steps[stepId];
    if (step === undefined) throw new Error(`step "${stepId}" is not defined`);
    const here = [...steps, stepId];
    switch (step.type) {
      case 'wait':
      case 'wait_until':
      case 'send':
        walk(step.next, here, decisions);
        return;
      case 'exit':
        paths.push({ steps: here, decisions, endsOnNull: false });
        return;
      case 'branch':
        step.branches.forEach((branch, index) => walk(branch.next, here, [...decisions, { kind: 'branch', stepId, index, name: branch.name }]));
        walk(step.default, here, [...decisions, { kind: 'branch', stepId, index: -1, name: 'default' }]);
        return;
      case 'split':
        step.variants.forEach((variant, index) => {
          if (variant.percent > 0) walk(variant.next, here, [...decisions, { kind: 'split', stepId, index, name: variant.name, percent: variant.percent }]);
        });
        return;
      case 'hold_until':
        walk(step.next, here, [...decisions, { kind: 'hold', stepId, outcome: 'resumed' }]);
        walk(step.timeoutNext, here, [...decisions, { kind: 'hold', stepId, outcome: 'timed out' }]);
        return;
      default: {
        const unknown: never = step;
        throw new Error(`unknown step ${JSON.stringify(unknown)}`);
      }
    }
  };
  walk(definition.start, [], []);
  return paths;
}

/** `check: Still has cart → split: A → hold: timed out`. */
export function pathLabel(path: JourneyPath): string {
  if (path.decisions.length === 0) return path.steps.join(' → ');
  return path.decisions.map((d) => (d.kind === 'hold' ? `${d.stepId}: ${d.outcome}` : `${d.stepId}: ${d.name}`)).join(' → ');
}

/** The share of entries that follow `path` under `assumptions`. */
export function pathWeight(path: JourneyPath, assumptions: PathAssumptions): number {
  return path.decisions.reduce((weight, decision) => {
    switch (decision.kind) {
      case 'split':
        return weight * (decision.percent / 100);
      case 'hold':
        return weight * (decision.outcome === 'resumed' ? assumptions.holdResumed : 1 - assumptions.holdResumed);
      case 'branch': {
        const shares = assumptions.branchShares[decision.stepId];
        if (shares === undefined) throw new Error(`no branch shares assumed for step "${decision.stepId}"`);
        const matched = shares.reduce((sum, share) => sum + share, 0);
        return weight * (decision.index < 0 ? 1 - matched : (shares[decision.index] ?? 0));
      }
      default: {
        const unknown: never = decision;
        throw new Error(`unknown decision ${JSON.stringify(unknown)}`);
      }
    }
  }, 1);
}

/** The branch and hold outcomes a path needs, in run-local's terms. A real timeout would take `TimeoutSeconds`: it is simulated with the same `States.Timeout`. */
function scriptFor(path: JourneyPath): RunScript {
  const branches: Record<string, number> = {};
  const holds: Record<string, HoldOutcome> = {};
  for (const decision of path.decisions) {
    if (decision.kind === 'branch') branches[decision.stepId] = decision.index;
    if (decision.kind === 'hold') holds[decision.stepId] = decision.outcome === 'resumed' ? 'event' : 'simulated-timeout';
  }
  return { branches, holds };
}

function sameSteps(run: RunResult, path: JourneyPath): boolean {
  const expected: Array<string | null> = path.endsOnNull ? [...path.steps, null] : path.steps;
  return run.steps.length === expected.length && run.steps.every((step, i) => step === expected[i]);
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Reflect.get(value, key) : undefined;
}

/** The Lambda task states of a compiled journey, by the function they call. */
function lambdaKinds(compiled: CompiledJourney, resources: JourneyResources, definition: JourneyDefinition): Map<string, keyof LambdaCalls> {
  const kinds = new Map<string, keyof LambdaCalls>();
  for (const [name, state] of Object.entries(compiled.asl.States)) {
    if (state.Type !== 'Task' || !state.Resource.startsWith('arn:aws:states:::lambda:')) continue;
    const stepId = compiled.stepOfState[name];
    const stepType = stepId === null || stepId === undefined ? undefined : definition.steps[stepId]?.type;
    const fn = field(state.Parameters, 'FunctionName');
    if (stepType === 'branch' && fn === resources.checkConditionFunctionArn) kinds.set(name, 'branch');
    else if (stepType === 'wait_until' && fn === resources.waitUntilFunctionArn) kinds.set(name, 'waitUntil');
    else if (stepType === 'hold_until' && fn === resources.holdUntilFunctionArn) kinds.set(name, 'hold');
    else kinds.set(name, 'other');
  }
  return kinds;
}

const nextMillisecond = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

/**
 * Runs `path` on the compiled journey and counts what it cost. aws-local-stepfunctions seeds
 * `States.MathRandom` with `Date.now()`, so each attempt starts in a later millisecond and
 * draws anew; a path through splits is retried until the run went through exactly its steps
 * (at most `maxAttempts`). Throws when the run fails or never follows the path.
 */
export async function measurePath(
  local: LocalJourney,
  definition: JourneyDefinition,
  resources: JourneyResources,
  path: JourneyPath,
  maxAttempts = 500,
): Promise<PathCost> {
  const hasSplit = path.decisions.some((d) => d.kind === 'split');
  const kinds = lambdaKinds(local.compiled, resources, definition);
  const script = scriptFor(path);
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1) await nextMillisecond();
    const run = await local.run(script, DEFAULT_INPUT, `exec-${attempt}`);
    if (run.status !== 'succeeded') throw new Error(`run along "${pathLabel(path)}" failed: ${run.error ?? 'unknown error'}`);
    if (!sameSteps(run, path)) {
      if (hasSplit) continue;
      throw new Error(`run along "${pathLabel(path)}" went through ${JSON.stringify(run.steps)}`);
    }
    const lambda: LambdaCalls = { branch: 0, waitUntil: 0, hold: 0, other: 0 };
    let dynamodbWrites = 0;
    for (const [name, calls] of Object.entries(run.calls)) {
      const kind = kinds.get(name);
      if (kind !== undefined) lambda[kind] += calls;
      const state = local.compiled.asl.States[name];
      if (state?.Type === 'Task' && state.Resource === 'arn:aws:states:::dynamodb:updateItem') dynamodbWrites += calls;
    }
    return { transitions: run.visited.length, lambda, dynamodbWrites, sqsSends: run.messages.length, attempts: attempt };
  }
  throw new Error(`no run followed "${pathLabel(path)}" in ${maxAttempts} attempts`);
}

export function lambdaTotal(calls: LambdaCalls): number {
  return calls.branch + calls.waitUntil + calls.hold + calls.other;
}
