import '../../../infra/local/promise-polyfill';
import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import type { CompiledJourney } from '../../../statemachines/compile-journey';
import type { JsonValue, StateMachineDefinition } from '../../../statemachines/asl';

/**
 * Runs compiled journeys in aws-local-stepfunctions with every Task replaced by a local
 * handler (keyed by state name) and every Wait made instant, so a test follows one run from
 * start to end in milliseconds and reads the states it went through from `eventLogs`.
 */

/** asl-validator with its defaults, on a copy (it adds `QueryLanguage` to the states it sees). */
export function aslErrors(asl: StateMachineDefinition): string[] {
  const result = aslValidator(structuredClone(asl));
  return result.isValid ? [] : result.errors.map((error) => `${error.instancePath ?? ''} ${error.message ?? ''}`.trim());
}

/** How a hold ends: the event arrives (resume → next), the real `TimeoutSeconds` elapses, or a simulated `States.Timeout`. */
export type HoldOutcome = 'event' | 'timeout' | 'simulated-timeout';

export interface RunScript {
  /** Branch index the check function answers, by step id (-1 or absent: no rule matched). */
  branches?: Record<string, number>;
  holds?: Record<string, HoldOutcome>;
  /** What the wait_until function answers (default: one day ahead). */
  waitUntilTimestamp?: string;
  /** Throws this error name from the check function the first N times (retry tests). */
  failCheckTimes?: { times: number; error: string };
}

export interface RunResult {
  /** Names of the states entered, in order. */
  visited: string[];
  /** Step ids of the states entered, consecutive repeats collapsed (`null` for the shared end). */
  steps: Array<string | null>;
  output: JsonValue;
  status: 'succeeded' | 'failed';
  error?: string;
  /** SQS message bodies sent, in order. */
  messages: JsonValue[];
  /** Parameters each task handler received, by state name (last call). */
  payloads: Record<string, JsonValue>;
  /** Calls per state name (retries included). */
  calls: Record<string, number>;
}

export const DEFAULT_INPUT = {
  userId: 'u_1',
  entry: { event: 'Cart Abandoned', messageId: 'm_1', properties: { cartId: 'c_9', total: 42 }, timestamp: '2026-03-01T10:00:00Z' },
  run: { pk: 'USER#u_1', sk: 'JRUN#j_cart#exec-1' },
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON copy, typed as the library wants it (its types are its own, structurally the same). */
function libraryCopy<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value));
}

function field(value: unknown, ...path: string[]): unknown {
  let at = value;
  for (const key of path) at = isRecord(at) ? at[key] : undefined;
  return at;
}

class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * A compiled journey loaded once into the local engine, run many times. It is validated once
 * with asl-validator's defaults (the engine's own validation, the same check, is skipped: a
 * validation costs about 0.1 s, as asl-validator compiles its schemas on every call).
 */
export class LocalJourney {
  /** asl-validator's findings (default options); running refuses a definition with any. */
  readonly aslErrors: string[];
  private readonly machine: StateMachine;

  constructor(readonly compiled: CompiledJourney) {
    this.aslErrors = aslErrors(compiled.asl);
    this.machine = new StateMachine(libraryCopy<ConstructorParameters<typeof StateMachine>[0]>(compiled.asl), { validationOptions: { noValidate: true } });
  }

  run(script: RunScript = {}, input: JsonValue = DEFAULT_INPUT, executionName = 'exec-1'): Promise<RunResult> {
    if (this.aslErrors.length > 0) throw new Error(`invalid ASL: ${this.aslErrors.join('; ')}`);
    return runOn(this.machine, this.compiled, script, input, executionName);
  }
}

/**
 * Runs `compiled` once with `input`. Every Task gets a handler chosen by its resource (send
 * queue, check, wait_until, hold, record); an unknown Task fails the test rather than calling
 * AWS. Waits take 0 ms, retries wait 0 ms.
 */
export function runLocal(compiled: CompiledJourney, script: RunScript = {}, input: JsonValue = DEFAULT_INPUT, executionName = 'exec-1'): Promise<RunResult> {
  return new LocalJourney(compiled).run(script, input, executionName);
}

async function runOn(machine: StateMachine, compiled: CompiledJourney, script: RunScript, input: JsonValue, executionName: string): Promise<RunResult> {
  const asl = compiled.asl;
  const messages: JsonValue[] = [];
  const payloads: Record<string, JsonValue> = {};
  const calls: Record<string, number> = {};
  const handlers: Record<string, (input: JsonValue) => Promise<JsonValue> | JsonValue> = {};
  const waits: Record<string, number> = {};
  for (const [name, state] of Object.entries(asl.States)) {
    if (state.Type === 'Wait') waits[name] = 0;
    if (state.Type !== 'Task') continue;
    const stepId = compiled.stepOfState[name] ?? '';
    const functionName = field(state.Parameters, 'FunctionName');
    handlers[name] = (parameters): Promise<JsonValue> | JsonValue => {
      payloads[name] = parameters;
      calls[name] = (calls[name] ?? 0) + 1;
      if (state.Resource === 'arn:aws:states:::sqs:sendMessage') {
        const body = field(parameters, 'MessageBody');
        messages.push(JSON.parse(JSON.stringify(body ?? null)));
        return { MessageId: `msg-${messages.length}` };
      }
      if (state.Resource === 'arn:aws:states:::dynamodb:updateItem') return {};
      if (state.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
        const outcome = script.holds?.[stepId] ?? 'event';
        if (outcome === 'event') return Promise.resolve<JsonValue>({ event: 'arrived' });
        if (outcome === 'simulated-timeout') throw new NamedError('States.Timeout', 'simulated');
        return new Promise<JsonValue>(() => undefined);
      }
      if (state.Resource === 'arn:aws:states:::lambda:invoke') {
        if (field(parameters, 'InvocationType') === 'Event') return { StatusCode: 202 };
        if (typeof functionName === 'string' && functionName.includes('check-condition')) {
          const failing = script.failCheckTimes;
          if (failing !== undefined && (calls[name] ?? 0) <= failing.times) throw new NamedError(failing.error, 'transient');
          return { StatusCode: 200, Payload: { branchIndex: script.branches?.[stepId] ?? -1 } };
        }
        if (typeof functionName === 'string' && functionName.includes('wait-until')) {
          return { StatusCode: 200, Payload: { timestamp: script.waitUntilTimestamp ?? new Date(Date.now() + 86_400_000).toISOString() } };
        }
      }
      throw new Error(`no local handler for state "${name}" (${state.Resource})`);
    };
  }

  const execution = machine.run(libraryCopy<Parameters<StateMachine['run']>[0]>(input), {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((name) => [name, 0])) },
    context: { Execution: { Name: executionName }, Task: { Token: `token-${executionName}` } },
  });
  const visited: string[] = [];
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') visited.push(event.state.name);
    }
  })();
  let output: JsonValue = null;
  let status: RunResult['status'] = 'succeeded';
  let error: string | undefined;
  try {
    output = JSON.parse(JSON.stringify(await execution.result));
  } catch (caught) {
    status = 'failed';
    error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
  }
  await collecting;
  const steps: Array<string | null> = [];
  for (const name of visited) {
    const step = compiled.stepOfState[name] ?? null;
    if (steps.length === 0 || steps[steps.length - 1] !== step) steps.push(step);
  }
  return { visited, steps, output, status, ...(error === undefined ? {} : { error }), messages, payloads, calls };
}
