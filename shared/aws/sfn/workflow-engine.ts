import {
  CreateStateMachineAliasCommand,
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineAliasCommand,
  UpdateStateMachineCommand,
  type ExecutionStatus as SfnExecutionStatus,
  type LoggingConfiguration,
  type RoutingConfigurationListItem,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { ExecutionDescription, ExecutionStatus, WorkflowEngine } from '../../ports';
import { parseJsonOrUndefined } from '../../json';

/** State machine, alias and execution names: 1–80 characters. */
export const SFN_NAME_MAX_LENGTH = 80;
/** Names this adapter creates: letters, digits, `-` and `_` (what CloudWatch Logs accepts too). */
const SFN_NAME_PATTERN = /^[0-9A-Za-z_-]+$/;
/** The alias every publish moves to the new version. */
export const LIVE_ALIAS = 'live';
/** API limits on free-text fields. */
const VERSION_DESCRIPTION_MAX = 256;
const ERROR_MAX = 256;
const CAUSE_MAX = 32_768;
/** Events read to find the current state: one page of GetExecutionHistory, newest first (a state with every retry of LAMBDA_RETRY writes about 30). */
export const HISTORY_PAGE_SIZE = 100;

export interface StepFunctionsWorkflowEngineOptions {
  /** Role the journey state machines run with (invoke the journey functions, send to the send queue). */
  roleArn: string;
  /** Prefix of every state machine name, e.g. the stack name: `<namePrefix>-<journeyId>`. */
  namePrefix: string;
  /** Execution logging (journeys log without execution data: no PII). Default none. */
  loggingConfiguration?: LoggingConfiguration;
  /** X-Ray tracing. Default false. */
  tracing?: boolean;
  /** For state machine ARNs. Default: the role's account. */
  accountId?: string;
  /** For state machine ARNs. Default: the client's region. */
  region?: string;
  /** For state machine ARNs. Default: the role's partition (`aws`). */
  partition?: string;
}

/**
 * The WorkflowEngine port on AWS Step Functions (STANDARD workflows, one state machine per journey).
 *
 * - `publish`: CreateStateMachine (`<namePrefix>-<journeyId>`, `publish: true`); if it exists
 *   (StateMachineAlreadyExists) UpdateStateMachine with `publish: true`. Then the `live` alias
 *   routes 100 % to the new version (UpdateStateMachineAlias, or CreateStateMachineAlias the
 *   first time). Re-publishing an unchanged definition is idempotent on Step Functions' side
 *   (the existing version comes back).
 * - `start`: StartExecution on the **version** ARN, so a run stays on the version it entered
 *   with. ExecutionAlreadyExists → `{started: false}` with the existing execution's ARN. Every
 *   other error — throttling (ThrottlingException, ExecutionLimitExceeded) included, after the
 *   SDK's own retries — is thrown, so the entry queue redelivers. Caveat: Step Functions answers
 *   a StartExecution with the name *and input* of a still *running* execution with success
 *   (idempotent start), so such a duplicate reports `started: true`; count entries idempotently.
 * - `stop`: StopExecution; ExecutionDoesNotExist, or a ValidationException for an execution that
 *   is no longer running (checked with DescribeExecution), count as success.
 * - `sendTaskSuccess` / `sendTaskFailure`: TaskTimedOut (the hold timed out or the run was
 *   stopped), TaskDoesNotExist and InvalidToken (a token that was never valid, or completed
 *   already) are no-ops: the evaluator completes tokens at least once and must not fail for one
 *   that has lapsed. Anything else (InvalidOutput, throttling) is thrown.
 * - `describe`: DescribeExecution (undefined for ExecutionDoesNotExist), plus the current state:
 *   the newest `*StateEntered` event among the last {@link HISTORY_PAGE_SIZE} history events
 *   (one GetExecutionHistory page, newest first, without execution data). PENDING_REDRIVE
 *   counts as running.
 */
export class StepFunctionsWorkflowEngine implements WorkflowEngine {
  private arnPrefix: Promise<string> | undefined;

  constructor(
    private readonly client: SFNClient,
    private readonly options: StepFunctionsWorkflowEngineOptions,
  ) {
    if (!/^arn:[^:]+:iam::\d{12}:role\/.+$/.test(options.roleArn)) throw new Error(`StepFunctionsWorkflowEngine: roleArn is not a role ARN: "${options.roleArn}"`);
    if (options.namePrefix === '' || options.namePrefix.length > SFN_NAME_MAX_LENGTH - 2 || !SFN_NAME_PATTERN.test(options.namePrefix)) {
      throw new RangeError(`StepFunctionsWorkflowEngine: namePrefix must be 1-${SFN_NAME_MAX_LENGTH - 2} characters of [0-9A-Za-z_-], got "${options.namePrefix}"`);
    }
  }

  /** `<namePrefix>-<journeyId>`; throws a RangeError when that is not a valid state machine name. */
  stateMachineName(journeyId: string): string {
    const name = `${this.options.namePrefix}-${journeyId}`;
    if (journeyId === '' || name.length > SFN_NAME_MAX_LENGTH || !SFN_NAME_PATTERN.test(journeyId)) {
      throw new RangeError(`journey id "${journeyId}" gives no valid state machine name (at most ${SFN_NAME_MAX_LENGTH} characters of [0-9A-Za-z_-] with the prefix)`);
    }
    return name;
  }

  /** `arn:<partition>:states:<region>:<account>:stateMachine:<namePrefix>-<journeyId>`. */
  async stateMachineArn(journeyId: string): Promise<string> {
    return `${await this.prefix()}${this.stateMachineName(journeyId)}`;
  }

  async publish(journeyId: string, definition: Record<string, unknown>, description: string): Promise<{ stateMachineArn: string; versionArn: string; version: number }> {
    const name = this.stateMachineName(journeyId);
    const body = JSON.stringify(definition);
    const versionDescription = truncate(description, VERSION_DESCRIPTION_MAX);
    const { loggingConfiguration, tracing } = this.options;
    const common = {
      definition: body,
      roleArn: this.options.roleArn,
      publish: true,
      versionDescription,
      ...(loggingConfiguration === undefined ? {} : { loggingConfiguration }),
      ...(tracing === undefined ? {} : { tracingConfiguration: { enabled: tracing } }),
    };

    let versionArn: string | undefined;
    let created = false;
    try {
      const output = await this.client.send(new CreateStateMachineCommand({ name, type: 'STANDARD', ...common }));
      versionArn = output.stateMachineVersionArn;
      created = true;
    } catch (error) {
      if (errorName(error) !== 'StateMachineAlreadyExists') throw error;
    }
    if (!created) {
      const output = await this.client.send(new UpdateStateMachineCommand({ stateMachineArn: await this.stateMachineArn(journeyId), ...common }));
      versionArn = output.stateMachineVersionArn;
    }
    if (versionArn === undefined) throw new Error(`publishing state machine "${name}" returned no version ARN`);
    const { stateMachineArn, version } = parseVersionArn(versionArn);
    await this.pointAlias(stateMachineArn, versionArn, created);
    return { stateMachineArn, versionArn, version };
  }

  executionArn(versionArn: string, name: string): string {
    return executionArnOf(versionArn, name);
  }

  async start(versionArn: string, name: string, input: Record<string, unknown>): Promise<{ executionArn: string; started: boolean }> {
    try {
      const output = await this.client.send(new StartExecutionCommand({ stateMachineArn: versionArn, name, input: JSON.stringify(input) }));
      return { executionArn: output.executionArn ?? executionArnOf(versionArn, name), started: true };
    } catch (error) {
      if (errorName(error) === 'ExecutionAlreadyExists') return { executionArn: executionArnOf(versionArn, name), started: false };
      throw error;
    }
  }

  async stop(executionArn: string, cause: string): Promise<void> {
    try {
      await this.client.send(new StopExecutionCommand({ executionArn, cause: truncate(cause, CAUSE_MAX) }));
    } catch (error) {
      const name = errorName(error);
      if (name === 'ExecutionDoesNotExist') return;
      if (name === 'ValidationException') {
        // Stopping an execution that has ended: fine. Any other validation error is rethrown.
        const now = await this.describeExecution(executionArn);
        if (now === undefined || now.status !== 'running') return;
      }
      throw error;
    }
  }

  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    try {
      await this.client.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } catch (error) {
      if (isLapsedToken(error)) return;
      throw error;
    }
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    try {
      await this.client.send(new SendTaskFailureCommand({ taskToken, error: truncate(error, ERROR_MAX), cause: truncate(cause, CAUSE_MAX) }));
    } catch (caught) {
      if (isLapsedToken(caught)) return;
      throw caught;
    }
  }

  async describe(executionArn: string, options: { currentState?: boolean } = {}): Promise<ExecutionDescription | undefined> {
    const description = await this.describeExecution(executionArn);
    if (description === undefined || options.currentState === false) return description;
    const currentState = await this.currentState(executionArn);
    return currentState === undefined ? description : { ...description, currentState };
  }

  private async describeExecution(executionArn: string): Promise<ExecutionDescription | undefined> {
    try {
      const output = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        executionArn: output.executionArn ?? executionArn,
        name: output.name ?? executionArn.slice(executionArn.lastIndexOf(':') + 1),
        status: toStatus(output.status),
        startedAt: (output.startDate ?? new Date(0)).toISOString(),
        ...(output.stopDate === undefined ? {} : { stoppedAt: output.stopDate.toISOString() }),
        ...(output.input === undefined ? {} : { input: parseJsonOrUndefined(output.input) }),
      };
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  /** The newest `*StateEntered` event's state name in one page of history, newest first. */
  private async currentState(executionArn: string): Promise<string | undefined> {
    try {
      const output = await this.client.send(
        new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: HISTORY_PAGE_SIZE, includeExecutionData: false }),
      );
      for (const event of output.events ?? []) {
        if (event.type?.endsWith('StateEntered') === true && event.stateEnteredEventDetails?.name !== undefined) return event.stateEnteredEventDetails.name;
      }
      return undefined;
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  /** Routes the `live` alias 100 % to `versionArn`: create it for a new state machine, else update it (creating it if missing). */
  private async pointAlias(stateMachineArn: string, versionArn: string, newMachine: boolean): Promise<void> {
    const routingConfiguration: RoutingConfigurationListItem[] = [{ stateMachineVersionArn: versionArn, weight: 100 }];
    const aliasArn = `${stateMachineArn}:${LIVE_ALIAS}`;
    const update = (): Promise<unknown> => this.client.send(new UpdateStateMachineAliasCommand({ stateMachineAliasArn: aliasArn, routingConfiguration }));
    const create = (): Promise<unknown> => this.client.send(new CreateStateMachineAliasCommand({ name: LIVE_ALIAS, routingConfiguration }));
    if (newMachine) {
      try {
        await create();
        return;
      } catch (error) {
        // A publish that failed after creating the alias, retried: move it instead.
        if (errorName(error) !== 'ConflictException') throw error;
      }
      await update();
      return;
    }
    try {
      await update();
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFound') throw error;
      try {
        await create();
      } catch (caught) {
        // Created meanwhile by a concurrent publish: point it at this version.
        if (errorName(caught) !== 'ConflictException') throw caught;
        await update();
      }
    }
  }

  private prefix(): Promise<string> {
    if (this.arnPrefix !== undefined) return this.arnPrefix;
    const prefix = (async () => {
      const role = /^arn:([^:]+):iam::(\d{12}):role\//.exec(this.options.roleArn);
      const partition = this.options.partition ?? role?.[1] ?? 'aws';
      const account = this.options.accountId ?? role?.[2];
      const region = this.options.region ?? (await this.client.config.region());
      if (account === undefined || region === '') throw new Error('StepFunctionsWorkflowEngine: cannot tell the account or region for state machine ARNs');
      return `arn:${partition}:states:${region}:${account}:stateMachine:`;
    })();
    this.arnPrefix = prefix;
    // A failed region lookup is tried again on the next call.
    prefix.catch(() => {
      if (this.arnPrefix === prefix) this.arnPrefix = undefined;
    });
    return prefix;
  }
}

/**
 * `arn:aws:states:eu-west-1:123456789012:stateMachine:engage-j_1:3` → its state machine ARN and
 * version number. Throws on anything that is not a version ARN.
 */
export function parseVersionArn(versionArn: string): { stateMachineArn: string; version: number } {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*:stateMachine:[^:]+):(\d+)$/.exec(versionArn);
  const version = Number(match?.[2]);
  if (match?.[1] === undefined || !Number.isSafeInteger(version) || version < 1) throw new Error(`not a state machine version ARN: "${versionArn}"`);
  return { stateMachineArn: match[1], version };
}

/**
 * The ARN of execution `name` of a state machine (or of one of its versions or aliases):
 * `arn:aws:states:<region>:<account>:execution:<stateMachineName>:<name>`.
 */
export function executionArnOf(stateMachineOrVersionArn: string, name: string): string {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:([^:]+)(?::[^:]+)?$/.exec(stateMachineOrVersionArn);
  if (match === null) throw new Error(`not a state machine ARN: "${stateMachineOrVersionArn}"`);
  return `${match[1]}:execution:${match[2]}:${name}`;
}

function toStatus(status: SfnExecutionStatus | undefined): ExecutionStatus {
  switch (status) {
    case 'SUCCEEDED':
      return 'succeeded';
    case 'FAILED':
      return 'failed';
    case 'TIMED_OUT':
      return 'timed_out';
    case 'ABORTED':
      return 'aborted';
    case 'RUNNING':
    case 'PENDING_REDRIVE':
    case undefined:
      return 'running';
    default:
      throw new Error(`unknown execution status "${String(status)}"`);
  }
}

/** The token has lapsed (timed out, run stopped, completed before) or was never valid. */
function isLapsedToken(error: unknown): boolean {
  const name = errorName(error);
  return name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken';
}

/** At most `max` characters (code points, so a surrogate pair is never cut). */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('');
}

function errorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string' ? error.name : '';
}

