/**
 * The WorkflowEngine port locally: journey state machines (the same compiled ASL as on AWS)
 * executed in process by aws-local-stepfunctions, with time sped up by `timeScale`
 * (ENGAGE_TIME_SCALE).
 *
 * - **Versions**: `publish` keeps every version of every state machine in memory (or in an
 *   optional {@link LocalWorkflowStore}) and moves the `live` alias; a run started on a version
 *   keeps that version's definition to its end. Publishing the latest version's definition again
 *   returns that version (as Step Functions does for an unchanged revision).
 * - **Time**: each version's ASL is rewritten once, at publish, for the local engine:
 *   - `Wait` with `Seconds` → a `waitTimeOverrides` entry of `Seconds × 1000 / timeScale` ms;
 *   - `Wait` with `TimestampPath`, `Timestamp` or `SecondsPath` → the package's overrides are
 *     fixed milliseconds per state name, chosen when the run starts, so they cannot follow a value
 *     computed during the run: such a Wait becomes a `Task` (same name, `InputPath`, `OutputPath`
 *     and transition; `ResultPath: null`) whose local handler sleeps `(timestamp − now) / timeScale`
 *     (or `seconds / timeScale`). Its history shows a Task where AWS shows a Wait;
 *   - Task `TimeoutSeconds` (the hold_until timeout) and the top-level `TimeoutSeconds` →
 *     `ceil(seconds / timeScale)`, at least 1; a Task without one gets the cap (AWS's default is
 *     no timeout; the package's would be 60 s);
 *   - Retry `IntervalSeconds` and `MaxDelaySeconds` → divided by `timeScale`;
 *   - every delay is capped at {@link MAX_LOCAL_DELAY_SECONDS} (20 days of real time), below
 *     setTimeout's 24.8-day limit, past which Node fires a timer at once.
 * - **Tasks** run local handlers keyed by state name: `sqs:sendMessage` → `sendMessage`,
 *   `lambda:invoke` (and a plain Lambda ARN) → `invoke`, whose result becomes the integration's
 *   `{ExecutedVersion, Payload, StatusCode}` (`InvocationType: Event` is fired and forgotten:
 *   `{Payload: '', StatusCode: 202}`), `lambda:invoke.waitForTaskToken` → a fresh token
 *   (`randomUUID`) put where the ASL read `$$.Task.Token`, `invoke` called, then a pending promise
 *   that `sendTaskSuccess` resolves and `sendTaskFailure` rejects with an Error named after the
 *   error. Any other resource is refused at publish (InvalidDefinition), so nothing calls AWS.
 * - **Executions**: names unique per state machine (a duplicate → `started: false`), statuses,
 *   the current state and the states entered (from the package's `eventLogs`), `stop` → `abort()`,
 *   `onChange` on start, on every state entered and on the end of a run.
 * - **Tokens**: one per run at most. A stopped or ended run's token is dropped; a token whose
 *   task timed out is dropped when the run registers another or ends, and until then completing
 *   it resolves a promise nobody awaits. Completing an unknown or lapsed token is a no-op, as in
 *   the AWS adapter.
 * - Not persisted: runs in flight are lost when the process stops (the package cannot resume a
 *   run mid-way); only versions can be kept (`store`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine, type RunOptions } from 'aws-local-stepfunctions';
import { executionArnOf, LIVE_ALIAS } from '../../shared/aws/sfn/workflow-engine';
import { systemClock, type Clock, type ExecutionDescription, type ExecutionStatus, type WorkflowEngine } from '../../shared/ports';
import type { JsonObject, JsonValue } from '../../statemachines/asl';

// Node 20: aws-local-stepfunctions needs Promise.withResolvers (ES2024).
import { withResolvers } from './promise-polyfill';

// ---- Types ---------------------------------------------------------------------------------

/** Longest local delay (wait, task timeout, retry interval): 20 days, under setTimeout's 2^31 − 1 ms. */
export const MAX_LOCAL_DELAY_SECONDS = 20 * 86_400;
const MAX_LOCAL_DELAY_MS = MAX_LOCAL_DELAY_SECONDS * 1000;
/** Resource of the Task that replaces a Wait on a timestamp or a path. */
export const LOCAL_WAIT_RESOURCE = 'arn:aws:states:::engage-local:wait';
const SQS_SEND_MESSAGE = 'arn:aws:states:::sqs:sendMessage';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_INVOKE_WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const DYNAMODB_UPDATE_ITEM = 'arn:aws:states:::dynamodb:updateItem';
const LAMBDA_FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$/;
/** Step Functions' limit on execution input. */
const MAX_INPUT_BYTES = 262_144;
const NAME_MAX_LENGTH = 80;
/** What Step Functions refuses in names: white space, brackets, wildcards, special and control characters. */
// eslint-disable-next-line no-control-regex
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

export interface LocalExecution extends ExecutionDescription {
  journeyId: string;
  stateMachineArn: string;
  versionArn: string;
  version: number;
  input: JsonValue;
  /** When succeeded. */
  output?: JsonValue;
  /** Error name when failed or timed out; the stop's cause is in `cause` when aborted. */
  error?: string;
  cause?: string;
  /** Names of the states entered, in order (retries of a state not repeated). */
  statesEntered: string[];
}

export type LocalExecutionChange =
  | { type: 'started' }
  | { type: 'state_entered'; state: string; stateType: string }
  | { type: 'ended'; status: Exclude<ExecutionStatus, 'running'> };

/** What a local task handler knows about the call. */
export interface LocalTaskContext {
  execution: LocalExecution;
  stateName: string;
}

export interface LocalInvokeContext extends LocalTaskContext {
  /** `Event` for fire-and-forget invocations (nobody waits for the result). */
  invocationType: 'RequestResponse' | 'Event';
  /** Set for `.waitForTaskToken` tasks: the token also in the payload. */
  taskToken?: string;
}

export interface LocalSendContext extends LocalTaskContext {
  delaySeconds?: number;
}

/** One published version, as kept by a {@link LocalWorkflowStore}. */
export interface LocalStateMachineVersion {
  journeyId: string;
  stateMachineArn: string;
  versionArn: string;
  version: number;
  description: string;
  /** The ASL as published (before the local rewrite). */
  definition: JsonObject;
  createdAt: string;
}

/** Optional persistence of published versions (runs are never persisted). */
export interface LocalWorkflowStore {
  loadVersions(): Promise<LocalStateMachineVersion[]>;
  saveVersion(version: LocalStateMachineVersion): Promise<void>;
}

export interface LocalStateMachineSummary {
  journeyId: string;
  stateMachineArn: string;
  /** Where the `live` alias points. */
  liveVersionArn: string;
  versions: Array<Omit<LocalStateMachineVersion, 'definition'>>;
}

export interface LocalWorkflowRunnerOptions {
  /** SQS `sendMessage` tasks; the body as the ASL built it (Step Functions serialises objects to JSON). */
  sendMessage(queueUrl: string, body: JsonValue, context: LocalSendContext): Promise<{ messageId?: string } | void> | { messageId?: string } | void;
  /** Lambda tasks: returns what the function returns (the integration's `Payload`). A thrown error's `name` is the ASL error. */
  invoke(functionArn: string, payload: JsonValue, context: LocalInvokeContext): Promise<JsonValue | void> | JsonValue | void;
  /**
   * `dynamodb:updateItem` tasks: the parameters as the ASL built them (DynamoDB JSON, as the
   * UpdateItem API takes them). A thrown error's `name` becomes `DynamoDB.<name>`, as on AWS.
   * @default - such a state fails with `DynamoDB.ResourceNotFoundException`
   */
  updateItem?(parameters: JsonObject, context: LocalTaskContext): Promise<JsonValue | void> | JsonValue | void;
  /** Status changes and states entered (counts per step, completion). Errors are logged, never fail a run. */
  onChange?(execution: LocalExecution, change: LocalExecutionChange): void;
  /** ENGAGE_TIME_SCALE: run time passes this many times faster (86400: a day per second). Default 1. */
  timeScale?: number;
  /** State machine names: `<namePrefix>-<journeyId>`. Default `engage`. */
  namePrefix?: string;
  /** For ARNs. Default `local`. */
  region?: string;
  /** For ARNs. Default `000000000000`. */
  accountId?: string;
  store?: LocalWorkflowStore;
  /** "Now" for timestamp waits and for execution times. Default the system clock. */
  clock?: Clock;
  /** Validate each published definition with the package's validator (as CreateStateMachine would). Default true. */
  validate?: boolean;
  /** Where failures of fire-and-forget invocations and of `onChange` go. Default console.error. */
  log?: (message: string) => void;
}

type LocalHandler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];
type MachineDefinition = ConstructorParameters<typeof StateMachine>[0];

interface Version extends LocalStateMachineVersion {
  machine: StateMachine;
  /** Task states by name → how to run them locally. */
  tasks: Map<string, TaskKind>;
  /** waitTimeOverrides (ms). */
  waits: Record<string, number>;
}

type TaskKind =
  | { kind: 'sqs' }
  | { kind: 'invoke' }
  | { kind: 'token' }
  | { kind: 'function'; functionArn: string }
  | { kind: 'dynamodb' }
  | { kind: 'wait'; field: 'seconds' | 'timestamp' };

interface Machine {
  journeyId: string;
  stateMachineArn: string;
  versions: Version[];
  liveVersionArn: string;
  executions: Map<string, Run>;
}

interface Run {
  view: LocalExecution;
  version: Version;
  abort: () => void;
  /** Aborts the local sleeps of this run. */
  controller: AbortController;
  /** The run's pending task token, if any. */
  token?: string;
  finished: Promise<void>;
}

interface PendingToken {
  run: Run;
  stateName: string;
  /** The hold function returned: the run now only waits for the token. */
  ready: boolean;
  resolve: (output: JsonValue) => void;
  reject: (error: Error) => void;
}

class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

// ---- Runner --------------------------------------------------------------------------------

export class LocalWorkflowRunner implements WorkflowEngine {
  private readonly timeScale: number;
  private readonly namePrefix: string;
  private readonly arnPrefix: string;
  private readonly clock: Clock;
  private readonly validate: boolean;
  private readonly log: (message: string) => void;
  private readonly machines = new Map<string, Machine>();
  private readonly versionsByArn = new Map<string, Version>();
  private readonly runs = new Map<string, Run>();
  private readonly tokens = new Map<string, PendingToken>();
  private readonly fireAndForget = new Set<Promise<void>>();
  private idleWaiters: Array<() => void> = [];
  private loaded: Promise<void> | undefined;
  private publishing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: LocalWorkflowRunnerOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0) || !Number.isFinite(this.timeScale)) throw new RangeError(`timeScale must be a positive number, got ${options.timeScale}`);
    this.namePrefix = options.namePrefix ?? 'engage';
    this.arnPrefix = `arn:aws:states:${options.region ?? 'local'}:${options.accountId ?? '000000000000'}`;
    this.clock = options.clock ?? systemClock;
    this.validate = options.validate ?? true;
    this.log = options.log ?? ((message) => console.error(message));
  }

  // ---- WorkflowEngine ----

  publish(journeyId: string, definition: Record<string, unknown>, description: string): Promise<{ stateMachineArn: string; versionArn: string; version: number }> {
    // One publish at a time, so that version numbers never collide while a version is being saved.
    const publishing = this.publishing.then(() => this.publishNow(journeyId, definition, description));
    this.publishing = publishing.then(
      () => undefined,
      () => undefined,
    );
    return publishing;
  }

  private async publishNow(journeyId: string, definition: Record<string, unknown>, description: string): Promise<{ stateMachineArn: string; versionArn: string; version: number }> {
    await this.ready();
    this.checkOpen();
    const name = `${this.namePrefix}-${journeyId}`;
    checkName(name, 'InvalidName');
    const asl = jsonObject(definition, 'InvalidDefinition');
    const stateMachineArn = `${this.arnPrefix}:stateMachine:${name}`;
    const machine = this.machines.get(stateMachineArn);
    const latest = machine?.versions[machine.versions.length - 1];
    if (machine !== undefined && latest !== undefined && JSON.stringify(latest.definition) === JSON.stringify(asl)) {
      machine.liveVersionArn = latest.versionArn;
      return { stateMachineArn, versionArn: latest.versionArn, version: latest.version };
    }
    const version = (latest?.version ?? 0) + 1;
    const stored: LocalStateMachineVersion = {
      journeyId,
      stateMachineArn,
      versionArn: `${stateMachineArn}:${version}`,
      version,
      description,
      definition: asl,
      createdAt: this.clock.now().toISOString(),
    };
    const loaded = this.load(stored, this.validate);
    await this.options.store?.saveVersion(stored);
    this.add(loaded);
    return { stateMachineArn, versionArn: stored.versionArn, version };
  }

  executionArn(versionArn: string, name: string): string {
    return executionArnOf(versionArn, name);
  }

  async start(versionArn: string, name: string, input: Record<string, unknown>): Promise<{ executionArn: string; started: boolean }> {
    await this.ready();
    this.checkOpen();
    const version = this.resolveVersion(versionArn);
    const machine = this.machines.get(version.stateMachineArn);
    if (machine === undefined) throw new NamedError('StateMachineDoesNotExist', `State machine does not exist: ${versionArn}`);
    checkName(name, 'InvalidName');
    const executionArn = executionArnOf(version.stateMachineArn, name);
    if (machine.executions.has(name)) return { executionArn, started: false };
    const serialised = JSON.stringify(input);
    if (Buffer.byteLength(serialised, 'utf8') > MAX_INPUT_BYTES) throw new NamedError('InvalidExecutionInput', `input larger than ${MAX_INPUT_BYTES} bytes`);
    const runInput: JsonValue = JSON.parse(serialised);

    const startedAt = this.clock.now().toISOString();
    const view: LocalExecution = {
      executionArn,
      name,
      status: 'running',
      startedAt,
      journeyId: version.journeyId,
      stateMachineArn: version.stateMachineArn,
      versionArn: version.versionArn,
      version: version.version,
      input: runInput,
      statesEntered: [],
    };
    const placeholder = `local-task-token-placeholder-${randomUUID()}`;
    const controller = new AbortController();
    const run: Run = { view, version, abort: () => undefined, controller, finished: Promise.resolve() };
    const handlers: Record<string, LocalHandler> = {};
    for (const [stateName, task] of version.tasks) handlers[stateName] = (parameters) => this.runTask(run, stateName, task, parameters, placeholder);
    const execution = version.machine.run(libraryJson(runInput), {
      overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: version.waits },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: startedAt },
        StateMachine: { Id: version.versionArn, Name: machineName(version.stateMachineArn) },
        Task: { Token: placeholder },
      },
    });
    run.abort = execution.abort;
    machine.executions.set(name, run);
    this.runs.set(executionArn, run);
    run.finished = this.follow(run, execution.result, execution.eventLogs);
    this.notify(run, { type: 'started' });
    return { executionArn, started: true };
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    const run = this.runs.get(executionArn);
    if (run === undefined || run.view.status !== 'running') return;
    run.view.cause = cause;
    this.endRun(run);
    await run.finished;
  }

  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    const pending = this.takeToken(taskToken);
    if (pending === undefined) return;
    const value: JsonValue = JSON.parse(JSON.stringify(output));
    pending.resolve(value);
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    const pending = this.takeToken(taskToken);
    if (pending === undefined) return;
    pending.reject(new NamedError(error, cause));
  }

  async describe(executionArn: string, _options?: { currentState?: boolean }): Promise<ExecutionDescription | undefined> {
    const view = this.runs.get(executionArn)?.view;
    if (view === undefined) return undefined;
    const { name, status, startedAt, stoppedAt, currentState, input } = view;
    return {
      executionArn,
      name,
      status,
      startedAt,
      ...(stoppedAt === undefined ? {} : { stoppedAt }),
      ...(currentState === undefined ? {} : { currentState }),
      input: structuredClone(input),
    };
  }

  // ---- Local extras ----

  /** Every execution started since the runner was created (copies). */
  executions(): LocalExecution[] {
    return [...this.runs.values()].map((run) => snapshot(run.view));
  }

  /** One execution (a copy), with everything the runner knows. */
  execution(executionArn: string): LocalExecution | undefined {
    const run = this.runs.get(executionArn);
    return run === undefined ? undefined : snapshot(run.view);
  }

  /** The published state machines and their versions. */
  stateMachines(): LocalStateMachineSummary[] {
    return [...this.machines.values()].map((machine) => ({
      journeyId: machine.journeyId,
      stateMachineArn: machine.stateMachineArn,
      liveVersionArn: machine.liveVersionArn,
      versions: machine.versions.map(({ journeyId, stateMachineArn, versionArn, version, description, createdAt }) => ({ journeyId, stateMachineArn, versionArn, version, description, createdAt })),
    }));
  }

  /** The definition of a version (as published), or of the version the `live` alias or a state machine ARN points to. */
  definition(arn: string): JsonObject | undefined {
    try {
      return structuredClone(this.resolveVersion(arn).definition);
    } catch {
      return undefined;
    }
  }

  /** The task token a running execution waits on (tests; the hold function receives it too). */
  pendingToken(executionArn: string): string | undefined {
    const run = this.runs.get(executionArn);
    const token = run?.token;
    const pending = token === undefined ? undefined : this.tokens.get(token);
    return pending !== undefined && pending.stateName === run?.view.currentState ? token : undefined;
  }

  /**
   * Resolves once every run has ended or waits on a task token (its hold function returned), and
   * no fire-and-forget invocation is in flight. With `timeoutMs`, rejects after that many real
   * milliseconds, naming the busy executions.
   */
  idle(timeoutMs?: number): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
          const busy = [...this.runs.values()].filter((run) => this.isBusy(run)).map((run) => `${run.view.name} (${run.view.currentState ?? 'starting'})`);
          reject(new Error(`workflow runner not idle after ${timeoutMs} ms: ${busy.join(', ') || `${this.fireAndForget.size} invocation(s) in flight`}`));
        }, timeoutMs);
      }
    });
  }

  /** Aborts every running execution and refuses new work. */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.runs.values()].filter((run) => run.view.status === 'running');
    for (const run of running) {
      run.view.cause ??= 'workflow runner closed';
      this.endRun(run);
    }
    await Promise.all([...running.map((run) => run.finished), ...this.fireAndForget]);
  }

  // ---- Running ----

  private async runTask(run: Run, stateName: string, task: TaskKind, parameters: JsonValue, placeholder: string): Promise<JsonValue> {
    const context = { execution: snapshot(run.view), stateName };
    switch (task.kind) {
      case 'sqs': {
        const queueUrl = field(parameters, 'QueueUrl');
        if (typeof queueUrl !== 'string') throw new NamedError('States.Runtime', `state "${stateName}": QueueUrl is missing`);
        const body = field(parameters, 'MessageBody') ?? null;
        const delay = field(parameters, 'DelaySeconds');
        const sent = await this.options.sendMessage(queueUrl, body, { ...context, ...(typeof delay === 'number' ? { delaySeconds: delay } : {}) });
        const serialised = typeof body === 'string' ? body : JSON.stringify(body);
        return { MessageId: (sent === undefined ? undefined : sent.messageId) ?? randomUUID(), MD5OfMessageBody: createHash('md5').update(serialised).digest('hex') };
      }
      case 'invoke': {
        const functionArn = field(parameters, 'FunctionName');
        if (typeof functionArn !== 'string') throw new NamedError('States.Runtime', `state "${stateName}": FunctionName is missing`);
        const payload = field(parameters, 'Payload') ?? null;
        if (field(parameters, 'InvocationType') === 'Event') {
          this.fireAndForgetInvoke(functionArn, payload, { ...context, invocationType: 'Event' });
          return { Payload: '', StatusCode: 202 };
        }
        const result = await this.options.invoke(functionArn, payload, { ...context, invocationType: 'RequestResponse' });
        return { ExecutedVersion: '$LATEST', Payload: result ?? null, StatusCode: 200 };
      }
      case 'function': {
        const result = await this.options.invoke(task.functionArn, parameters, { ...context, invocationType: 'RequestResponse' });
        return result ?? null;
      }
      case 'dynamodb': {
        if (this.options.updateItem === undefined) throw new NamedError('DynamoDB.ResourceNotFoundException', `state "${stateName}": no local table`);
        if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw new NamedError('States.Runtime', `state "${stateName}": parameters must be an object`);
        try {
          return (await this.options.updateItem(parameters, context)) ?? {};
        } catch (error) {
          throw new NamedError(`DynamoDB.${error instanceof Error ? error.name : 'AmazonDynamoDBException'}`, error instanceof Error ? error.message : String(error));
        }
      }
      case 'token':
        return this.waitForToken(run, stateName, parameters, placeholder);
      case 'wait':
        return this.sleepTask(run, stateName, task.field, parameters);
      default:
        return assertNever(task);
    }
  }

  private async waitForToken(run: Run, stateName: string, parameters: JsonValue, placeholder: string): Promise<JsonValue> {
    const functionArn = field(parameters, 'FunctionName');
    if (typeof functionArn !== 'string') throw new NamedError('States.Runtime', `state "${stateName}": FunctionName is missing`);
    const token = randomUUID();
    const withToken = replaceString(parameters, placeholder, token);
    const { promise, resolve, reject } = withResolvers<JsonValue>();
    // Settled (stop, failure) while the hold function still runs, nobody listens yet: not an unhandled rejection.
    promise.catch(() => undefined);
    // A run does one task at a time: an older token of this run has lapsed (timed out, failed).
    if (run.token !== undefined) this.tokens.delete(run.token);
    const pending: PendingToken = { run, stateName, ready: false, resolve, reject };
    // Registered before the function runs: the awaited event may arrive while it stores the token.
    this.tokens.set(token, pending);
    run.token = token;
    try {
      await this.options.invoke(functionArn, field(withToken, 'Payload') ?? null, {
        execution: snapshot(run.view),
        stateName,
        invocationType: 'RequestResponse',
        taskToken: token,
      });
    } catch (error) {
      this.tokens.delete(token);
      throw error;
    }
    pending.ready = true;
    this.checkIdle();
    return promise;
  }

  private async sleepTask(run: Run, stateName: string, kind: 'seconds' | 'timestamp', parameters: JsonValue): Promise<JsonValue> {
    let ms: number;
    if (kind === 'seconds') {
      const seconds = field(parameters, 'seconds');
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) throw new NamedError('States.Runtime', `state "${stateName}": SecondsPath is not a non-negative integer`);
      ms = (seconds * 1000) / this.timeScale;
    } else {
      const timestamp = field(parameters, 'timestamp');
      const at = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
      if (Number.isNaN(at)) throw new NamedError('States.Runtime', `state "${stateName}": not a timestamp: ${JSON.stringify(timestamp ?? null)}`);
      ms = (at - this.clock.now().getTime()) / this.timeScale;
    }
    await sleep(Math.min(MAX_LOCAL_DELAY_MS, Math.max(0, ms)), run.controller.signal);
    if (run.controller.signal.aborted) throw new NamedError('ExecutionAborted', 'execution stopped');
    return null;
  }

  private fireAndForgetInvoke(functionArn: string, payload: JsonValue, context: LocalInvokeContext): void {
    const call = (async () => {
      try {
        await this.options.invoke(functionArn, payload, context);
      } catch (error) {
        this.log(`workflow runner: asynchronous invocation of ${functionArn} from "${context.stateName}" (${context.execution.name}) failed: ${describeError(error)}`);
      }
    })();
    this.fireAndForget.add(call);
    void call.finally(() => {
      this.fireAndForget.delete(call);
      this.checkIdle();
    });
  }

  /** Reads the run's events (current state, states entered) and settles its status when it ends. */
  private async follow(run: Run, result: Promise<unknown>, events: AsyncGenerator<{ type: string; state?: { name: string; type: string } }>): Promise<void> {
    const reading = (async () => {
      for await (const event of events) {
        if (event.type !== 'StateEntered' || event.state === undefined) continue;
        const { name, type } = event.state;
        const entered = run.view.statesEntered;
        run.view.currentState = name;
        entered.push(name);
        this.notify(run, { type: 'state_entered', state: name, stateType: type });
        this.checkIdle();
      }
    })();
    let ending: Pick<LocalExecution, 'status' | 'output' | 'error' | 'cause'>;
    try {
      const output: JsonValue = JSON.parse(JSON.stringify(await result));
      ending = { status: 'succeeded', output };
    } catch (error) {
      if (error instanceof ExecutionAbortedError) ending = { status: 'aborted' };
      else if (error instanceof ExecutionTimeoutError) ending = { status: 'timed_out', error: 'States.Timeout', cause: 'the execution timed out' };
      else {
        const cause = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
        ending = { status: 'failed', error: cause instanceof Error ? cause.name : 'Error', cause: cause instanceof Error ? cause.message : String(cause) };
      }
    }
    await reading;
    run.controller.abort();
    this.dropToken(run);
    const view = run.view;
    view.status = ending.status;
    view.stoppedAt = this.clock.now().toISOString();
    if (ending.output !== undefined) view.output = ending.output;
    if (ending.error !== undefined) view.error = ending.error;
    if (ending.cause !== undefined) view.cause = ending.cause;
    if (view.status !== 'running') this.notify(run, { type: 'ended', status: view.status });
    this.checkIdle();
  }

  /** Aborts a run: the engine, its sleeps, and the task it waits on. */
  private endRun(run: Run): void {
    run.abort();
    run.controller.abort();
    const pending = this.dropToken(run);
    pending?.reject(new NamedError('ExecutionAborted', 'execution stopped'));
  }

  private dropToken(run: Run): PendingToken | undefined {
    if (run.token === undefined) return undefined;
    const pending = this.tokens.get(run.token);
    this.tokens.delete(run.token);
    run.token = undefined;
    return pending;
  }

  private takeToken(token: string): PendingToken | undefined {
    const pending = this.tokens.get(token);
    if (pending === undefined || pending.run.view.status !== 'running') return undefined;
    this.tokens.delete(token);
    return pending;
  }

  private notify(run: Run, change: LocalExecutionChange): void {
    const listener = this.options.onChange;
    if (listener === undefined) return;
    try {
      listener(snapshot(run.view), change);
    } catch (error) {
      this.log(`workflow runner: onChange failed for ${run.view.name}: ${describeError(error)}`);
    }
  }

  private isBusy(run: Run): boolean {
    if (run.view.status !== 'running') return false;
    const pending = run.token === undefined ? undefined : this.tokens.get(run.token);
    return !(pending !== undefined && pending.ready && pending.stateName === run.view.currentState);
  }

  private isIdle(): boolean {
    if (this.fireAndForget.size > 0) return false;
    for (const run of this.runs.values()) if (this.isBusy(run)) return false;
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  // ---- Versions ----

  private ready(): Promise<void> {
    this.loaded ??= (async () => {
      const stored = (await this.options.store?.loadVersions()) ?? [];
      for (const version of [...stored].sort((a, b) => a.version - b.version)) this.add(this.load(version, false));
    })();
    return this.loaded;
  }

  private add(version: Version): void {
    let machine = this.machines.get(version.stateMachineArn);
    if (machine === undefined) {
      machine = { journeyId: version.journeyId, stateMachineArn: version.stateMachineArn, versions: [], liveVersionArn: version.versionArn, executions: new Map() };
      this.machines.set(version.stateMachineArn, machine);
    }
    machine.versions.push(version);
    machine.liveVersionArn = version.versionArn;
    this.versionsByArn.set(version.versionArn, version);
  }

  /** Prepares a version for the local engine: validation, the time-scaled copy, the task table. */
  private load(stored: LocalStateMachineVersion, validate: boolean): Version {
    if (validate) {
      try {
        new StateMachine(libraryJson<MachineDefinition>(stored.definition));
      } catch (error) {
        throw new NamedError('InvalidDefinition', describeError(error));
      }
    }
    const copy = structuredClone(stored.definition);
    const tasks = new Map<string, TaskKind>();
    const waits: Record<string, number> = {};
    this.rewrite(copy, tasks, waits, true);
    const machine = new StateMachine(libraryJson<MachineDefinition>(copy), { validationOptions: { noValidate: true } });
    return { ...stored, definition: structuredClone(stored.definition), machine, tasks, waits };
  }

  /** Rewrites a (sub-)state machine in place for scaled time and records how to run its tasks. */
  private rewrite(definition: JsonObject, tasks: Map<string, TaskKind>, waits: Record<string, number>, topLevel: boolean): void {
    if (topLevel && typeof definition.TimeoutSeconds === 'number') definition.TimeoutSeconds = this.scaledTimeout(definition.TimeoutSeconds);
    const states = definition.States;
    if (!isObject(states)) throw new NamedError('InvalidDefinition', 'States is missing');
    for (const [name, state] of Object.entries(states)) {
      if (!isObject(state)) throw new NamedError('InvalidDefinition', `state "${name}" is not an object`);
      switch (state.Type) {
        case 'Wait':
          this.rewriteWait(name, state, states, tasks, waits);
          break;
        case 'Task':
          tasks.set(name, taskKind(name, state));
          // TimeoutSecondsPath (not emitted by the compiler) is left as it is: unscaled.
          if (typeof state.TimeoutSeconds === 'number') state.TimeoutSeconds = this.scaledTimeout(state.TimeoutSeconds);
          else if (state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = MAX_LOCAL_DELAY_SECONDS;
          this.rewriteRetry(state);
          break;
        case 'Parallel':
          for (const branch of Array.isArray(state.Branches) ? state.Branches : []) if (isObject(branch)) this.rewrite(branch, tasks, waits, false);
          this.rewriteRetry(state);
          break;
        case 'Map': {
          const inner = isObject(state.ItemProcessor) ? state.ItemProcessor : state.Iterator;
          if (isObject(inner)) this.rewrite(inner, tasks, waits, false);
          this.rewriteRetry(state);
          break;
        }
        default:
          break;
      }
    }
  }

  private rewriteWait(name: string, state: JsonObject, states: JsonObject, tasks: Map<string, TaskKind>, waits: Record<string, number>): void {
    if (typeof state.Seconds === 'number') {
      waits[name] = Math.min(MAX_LOCAL_DELAY_MS, Math.max(0, Math.round((state.Seconds * 1000) / this.timeScale)));
      return;
    }
    let parameters: JsonObject;
    let kind: 'seconds' | 'timestamp';
    if (typeof state.TimestampPath === 'string') [parameters, kind] = [{ 'timestamp.$': state.TimestampPath }, 'timestamp'];
    else if (typeof state.Timestamp === 'string') [parameters, kind] = [{ timestamp: state.Timestamp }, 'timestamp'];
    else if (typeof state.SecondsPath === 'string') [parameters, kind] = [{ 'seconds.$': state.SecondsPath }, 'seconds'];
    else throw new NamedError('InvalidDefinition', `Wait state "${name}" has no Seconds, Timestamp, SecondsPath or TimestampPath`);
    const task: JsonObject = { Type: 'Task', Resource: LOCAL_WAIT_RESOURCE, Parameters: parameters, ResultPath: null, TimeoutSeconds: MAX_LOCAL_DELAY_SECONDS };
    for (const key of ['Comment', 'InputPath', 'OutputPath', 'Next', 'End'] as const) {
      const value = state[key];
      if (value !== undefined) task[key] = value;
    }
    states[name] = task;
    tasks.set(name, { kind: 'wait', field: kind });
  }

  private rewriteRetry(state: JsonObject): void {
    if (!Array.isArray(state.Retry)) return;
    for (const retrier of state.Retry) {
      if (!isObject(retrier)) continue;
      const interval = typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1;
      retrier.IntervalSeconds = Math.min(MAX_LOCAL_DELAY_SECONDS, interval / this.timeScale);
      if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds = Math.min(MAX_LOCAL_DELAY_SECONDS, retrier.MaxDelaySeconds / this.timeScale);
    }
  }

  private scaledTimeout(seconds: number): number {
    return Math.min(MAX_LOCAL_DELAY_SECONDS, Math.max(1, Math.ceil(seconds / this.timeScale)));
  }

  /** A version ARN, the `live` alias ARN, or a state machine ARN (its latest version). */
  private resolveVersion(arn: string): Version {
    const version = this.versionsByArn.get(arn);
    if (version !== undefined) return version;
    const machine = this.machines.get(arn) ?? (arn.endsWith(`:${LIVE_ALIAS}`) ? this.machines.get(arn.slice(0, -LIVE_ALIAS.length - 1)) : undefined);
    const target = machine === undefined ? undefined : this.versionsByArn.get(arn === machine.stateMachineArn ? (machine.versions[machine.versions.length - 1]?.versionArn ?? '') : machine.liveVersionArn);
    if (target === undefined) throw new NamedError('StateMachineDoesNotExist', `State machine does not exist: ${arn}`);
    return target;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('workflow runner is closed');
  }
}

// ---- Helpers -------------------------------------------------------------------------------

function taskKind(name: string, state: JsonObject): TaskKind {
  const resource = state.Resource;
  if (resource === SQS_SEND_MESSAGE) return { kind: 'sqs' };
  if (resource === LAMBDA_INVOKE) return { kind: 'invoke' };
  if (resource === LAMBDA_INVOKE_WAIT_FOR_TOKEN) return { kind: 'token' };
  if (resource === DYNAMODB_UPDATE_ITEM) return { kind: 'dynamodb' };
  if (typeof resource === 'string' && LAMBDA_FUNCTION_ARN.test(resource)) return { kind: 'function', functionArn: resource };
  throw new NamedError('InvalidDefinition', `Task state "${name}": resource ${JSON.stringify(resource ?? null)} has no local implementation`);
}

function checkName(name: string, errorName: string): void {
  if (name.length < 1 || name.length > NAME_MAX_LENGTH || INVALID_NAME_CHARACTERS.test(name)) {
    throw new NamedError(errorName, `Invalid Name: '${name}' (1-${NAME_MAX_LENGTH} characters, no white space, brackets, wildcards or special characters)`);
  }
}

function machineName(stateMachineArn: string): string {
  return stateMachineArn.slice(stateMachineArn.lastIndexOf(':') + 1);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: JsonValue | undefined, key: string): JsonValue | undefined {
  return isObject(value) ? value[key] : undefined;
}

/** A JSON copy of a definition; throws `errorName` for anything that is not a JSON object. */
function jsonObject(value: Record<string, unknown>, errorName: string): JsonObject {
  let copy: JsonValue;
  try {
    copy = JSON.parse(JSON.stringify(value));
  } catch (error) {
    throw new NamedError(errorName, `not JSON: ${describeError(error)}`);
  }
  if (!isObject(copy)) throw new NamedError(errorName, 'not a JSON object');
  return copy;
}

/** A JSON copy typed as the package wants it (its JSON types are its own, structurally the same). */
function libraryJson<T = Parameters<StateMachine['run']>[0]>(value: JsonValue): T {
  return JSON.parse(JSON.stringify(value));
}

/** `value` with every string equal to `from` replaced by `to` (the task token placeholder). */
function replaceString(value: JsonValue, from: string, to: string): JsonValue {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((item) => replaceString(item, from, to));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceString(item, from, to)]));
  return value;
}

function snapshot(view: LocalExecution): LocalExecution {
  return structuredClone(view);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
