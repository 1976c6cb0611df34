import { assertUnreachable, ValidationError } from '../shared/errors';
import { validateJourney, type JourneyDefinition, type JourneyStep } from '../shared/domain/journey/definition';
import { breadthFirstOrder, stepTargets } from '../shared/domain/journey/graph';
import type { AslState, StateMachineDefinition } from './asl';
import { StateNames } from './naming';
import { emitBranch } from './steps/branch';
import { recordState, type EmitContext, type JourneyResources, type Links, type StateSpec } from './steps/common';
import { emitExit } from './steps/exit';
import { emitHoldUntil } from './steps/hold-until';
import { emitSend } from './steps/send';
import { emitSplit } from './steps/split';
import { emitWait } from './steps/wait';
import { emitWaitUntil } from './steps/wait-until';

export type { JourneyResources } from './steps/common';

/**
 * Compiles a journey definition into a Step Functions state machine (JSONPath ASL), with no
 * AWS calls. One emitter per step type (`steps/*.ts`), picked by an exhaustive switch; native
 * states wherever they do the job (Wait, Choice, Pass + `States.MathRandom`, the SQS service
 * integration), Lambda tasks only for time-zone arithmetic, fresh-data rules and task tokens.
 *
 * The execution input must be a {@link JourneyExecutionInput}. Steps add their data under
 * `$.split`, `$.branch`, `$.waitUntil` and `$.hold`, keyed by step id.
 */

/** What the entry worker starts each execution with. */
export interface JourneyExecutionInput {
  userId: string;
  /**
   * The entry: for an event entry the event (`{event, messageId, properties, timestamp}`;
   * templates read `entry.properties.*` and `hold_until.match` compares with it), for an
   * audience entry `{audience, enteredAt}`. Always present: sends and holds pass it on.
   */
  entry: Record<string, unknown>;
  /** The key of the run's item (`{pk, sk}`): sends read the profile key, record states update it. */
  run: { pk: string; sk: string };
}

export interface CompileJourneyOptions {
  journeyId: string;
  /** The published version (a positive integer); in every payload and message. */
  version: number;
  resources: JourneyResources;
  /**
   * Template display names by id, for state names (`Send email: Cart reminder`).
   * @default - state names show the template id
   */
  templateNames?: Readonly<Record<string, string>>;
}

/** A compiled journey with the mapping between its states and steps. */
export interface CompiledJourney {
  asl: StateMachineDefinition;
  /** The step each state belongs to (`null` for the shared end state). */
  stepOfState: Record<string, string | null>;
  /** The first state of each step. */
  entryStateOfStep: Record<string, string>;
}

/** The `next: null` target: one `Succeed` shared by every step that ends the journey. */
export const END_LABEL = 'End of journey';
/** Where a run goes when a record state finds it ended elsewhere (exit, erasure): a `Succeed`. */
export const RUN_ENDED_LABEL = 'Run already ended';

/** Validation without the workspace: compiling needs a sound graph, not existing templates. */
const STRUCTURE_ONLY = { templateExists: () => true, audienceExists: () => true };

function emitStep(step: JourneyStep, ctx: EmitContext): StateSpec[] {
  switch (step.type) {
    case 'wait':
      return emitWait(step, ctx);
    case 'wait_until':
      return emitWaitUntil(step, ctx);
    case 'hold_until':
      return emitHoldUntil(step, ctx);
    case 'branch':
      return emitBranch(step, ctx);
    case 'split':
      return emitSplit(step, ctx);
    case 'send':
      return emitSend(step, ctx);
    case 'exit':
      return emitExit(step, ctx);
    default:
      return assertUnreachable(step);
  }
}

/** Branches and splits record their outcome (which also says they were reached); other steps record on entry. */
function recordsOnEntry(step: JourneyStep): boolean {
  return step.type !== 'branch' && step.type !== 'split';
}

function checkOptions(options: CompileJourneyOptions): void {
  const issues: Array<{ path: string; message: string }> = [];
  if (options.journeyId.trim() === '') issues.push({ path: 'journeyId', message: 'must not be empty' });
  if (!Number.isSafeInteger(options.version) || options.version < 1) issues.push({ path: 'version', message: `must be a positive integer, not ${options.version}` });
  const resources = options.resources;
  for (const key of ['sendQueueUrl', 'holdUntilFunctionArn', 'waitUntilFunctionArn', 'checkConditionFunctionArn'] as const) {
    if (resources[key].trim() === '') issues.push({ path: `resources.${key}`, message: 'must not be empty' });
  }
  if (issues.length > 0) throw new ValidationError('invalid compile options', issues);
}

/**
 * {@link compileJourney}, plus the state ↔ step mapping (for `currentStep` and per-step counts
 * read from execution history). Every state's `Comment` also names its step (`step wait_1`).
 * Throws a `ValidationError` when the graph is unsound (see `validateJourney`).
 */
export function compileJourneyWithMap(definition: JourneyDefinition, options: CompileJourneyOptions): CompiledJourney {
  checkOptions(options);
  const violations = validateJourney(definition, STRUCTURE_ONLY);
  if (violations.length > 0) {
    throw new ValidationError(
      'journey cannot be compiled',
      violations.map(({ path, message }) => ({ path, message })),
    );
  }
  const steps = definition.steps;
  const order = breadthFirstOrder(definition.start, steps);
  const names = new StateNames();
  const endsSomewhere = order.some((id) => {
    const step = steps[id];
    return step !== undefined && stepTargets(step).some(({ target }) => target === null);
  });
  const endName = endsSomewhere ? names.allocate(END_LABEL) : undefined;
  const runTable = options.resources.runTableName;
  const runEndedName = runTable !== undefined ? names.allocate(RUN_ENDED_LABEL) : undefined;

  const plans = order.map((stepId) => {
    const step = steps[stepId];
    if (step === undefined) throw new Error(`step "${stepId}" disappeared`);
    const ctx: EmitContext = {
      journeyId: options.journeyId,
      version: options.version,
      stepId,
      resources: options.resources,
      comment: `step ${stepId}`,
      templateName: (id) => options.templateNames?.[id] ?? id,
    };
    let specs = emitStep(step, ctx);
    const first = specs[0];
    if (first === undefined) throw new Error(`no state for step "${stepId}"`);
    if (runTable !== undefined && recordsOnEntry(step)) {
      specs = [{ key: 'record', label: `Record: ${first.label}`, build: (links) => recordState(ctx, runTable, { outcome: null }, links.own(first.key), links.runEnded()) }, ...specs];
    }
    // Names are handed out step by step in reading order: the first "Wait 3 days" keeps its name.
    const allocated = new Map(specs.map((spec) => [spec.key, names.allocate(spec.label)]));
    return { stepId, specs, allocated };
  });

  const entryStateOfStep: Record<string, string> = {};
  for (const plan of plans) {
    const entry = plan.allocated.get(plan.specs[0]?.key ?? '');
    if (entry !== undefined) entryStateOfStep[plan.stepId] = entry;
  }

  const states: Record<string, AslState> = {};
  const stepOfState: Record<string, string | null> = {};
  for (const plan of plans) {
    const links: Links = {
      own: (key) => {
        const name = plan.allocated.get(key);
        if (name === undefined) throw new Error(`step "${plan.stepId}" has no state "${key}"`);
        return name;
      },
      step: (target) => {
        const name = target === null ? endName : entryStateOfStep[target];
        if (name === undefined) throw new Error(`step "${plan.stepId}" leads to "${String(target)}", which has no state`);
        return name;
      },
      runEnded: () => {
        if (runEndedName === undefined) throw new Error('runEnded: only record states lead there, and there are none without runTableName');
        return runEndedName;
      },
    };
    for (const spec of plan.specs) {
      const name = links.own(spec.key);
      states[name] = spec.build(links);
      stepOfState[name] = plan.stepId;
    }
  }
  if (endName !== undefined) {
    states[endName] = { Type: 'Succeed', Comment: 'next: null' };
    stepOfState[endName] = null;
  }
  if (runEndedName !== undefined) {
    states[runEndedName] = { Type: 'Succeed', Comment: 'the run was ended elsewhere (exit, erasure) before this step' };
    stepOfState[runEndedName] = null;
  }

  const startAt = entryStateOfStep[definition.start];
  if (startAt === undefined) throw new Error(`start step "${definition.start}" has no state`);
  return {
    asl: {
      Comment: `Journey "${definition.name}" (${options.journeyId}), version ${options.version}`,
      StartAt: startAt,
      States: states,
    },
    stepOfState,
    entryStateOfStep,
  };
}

/**
 * Compiles a validated journey into a plain ASL object (JSONPath), ready for
 * `CreateStateMachine` / `UpdateStateMachine` after `JSON.stringify`.
 *
 * Decisions (see each emitter): waits are `Wait` states with `Seconds` (a month is 30 days, a
 * year 365); splits draw once with `States.MathRandom(0, 10000)` into `$.split.<stepId>.draw`
 * and choose on cumulative ranges; sends use the SQS integration; `hold_until` is a
 * `.waitForTaskToken` Lambda task with `TimeoutSeconds` and a `Catch` of `States.Timeout`;
 * `wait_until` and `branch` call a Lambda; `exit` is a `Succeed` of its own; `next: null` goes
 * to one shared `Succeed` ("End of journey"). State names say what the step does, unique
 * (` (2)` suffixes) and at most 80 characters.
 *
 * @example
 * const asl = compileJourney(definition, { journeyId: 'j_1', version: 3, resources });
 * await sfn.send(new UpdateStateMachineCommand({ stateMachineArn, definition: JSON.stringify(asl), publish: true }));
 */
export function compileJourney(definition: JourneyDefinition, options: CompileJourneyOptions): StateMachineDefinition {
  return compileJourneyWithMap(definition, options).asl;
}
