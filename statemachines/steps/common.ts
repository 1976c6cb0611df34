import type { AslState, JsonObject, JsonValue, Retrier, TaskState } from '../asl';

/**
 * What every step emitter shares: how states are described before their names are known,
 * where run data lives, the payload fields every task carries, and the retry policies.
 */

/** The resources compiled journeys use (ARNs and the queue URL; CDK tokens work too). */
export interface JourneyResources {
  /** The send queue of the messaging pipeline (SQS service integration, no Lambda). */
  sendQueueUrl: string;
  /** Stores the task token of a `hold_until` step; the evaluator completes it when the event arrives. */
  holdUntilFunctionArn: string;
  /** Computes the next occurrence of a wall-clock time for a `wait_until` step. */
  waitUntilFunctionArn: string;
  /** Evaluates the rules of a `branch` step on fresh profile data. */
  checkConditionFunctionArn: string;
  /**
   * When set, every step reached (and every branch and variant taken) is written to the run's
   * item in this DynamoDB table with the native `dynamodb:updateItem` integration (no Lambda):
   * `SET currentStep, stepOutcome` on the key the execution input carries in `run`
   * (`{pk, sk}`), only while the run is `running`. The item change reaches the stream, which
   * counts it and publishes `Journey Step Reached`. One more state transition per step; a
   * failed write never fails a run.
   * @default - nothing is recorded
   */
  runTableName?: string;
}

/** Everything an emitter may read about the step it compiles. */
export interface EmitContext {
  journeyId: string;
  version: number;
  stepId: string;
  resources: JourneyResources;
  /** The `Comment` of every state of this step: `step <id>`, so a state maps back to its step. */
  comment: string;
  /** A template's display name (its id when unknown). */
  templateName(id: string): string;
}

/** Resolves names once they are all allocated. */
export interface Links {
  /** The name of another state of the same step, by its key. */
  own(key: string): string;
  /** The first state of a step, or the shared end state for `null`. */
  step(target: string | null): string;
  /** Where a run goes when a record state finds its run no longer running (exited, erased). */
  runEnded(): string;
}

/**
 * One state of a step, described before names exist: `label` becomes its (unique) name, and
 * `build` makes the state once every name is known (steps refer to each other).
 */
export interface StateSpec {
  key: string;
  label: string;
  build(links: Links): AslState;
}

/** Where a step keeps its data in the run's state (`$.split.check`, `$.split['my-step']`). */
export function dataPath(root: 'split' | 'branch' | 'waitUntil' | 'hold', stepId: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(stepId) ? `$.${root}.${stepId}` : `$.${root}['${stepId}']`;
}

/** Identifies the run and the step in every task payload and message (`profile`: the run's profile key). */
export function runFields(ctx: EmitContext): JsonObject {
  return {
    journeyId: ctx.journeyId,
    version: ctx.version,
    stepId: ctx.stepId,
    'executionName.$': '$$.Execution.Name',
    'userId.$': '$.userId',
    'profile.$': '$.run.pk',
  };
}

/**
 * AWS's recommended retrier for Lambda tasks (the one CDK's `LambdaInvoke` adds, plus
 * throttling): transient service errors, 6 attempts from 2 s doubling, with full jitter so a
 * burst of runs resuming together does not retry in lockstep.
 */
export const LAMBDA_RETRY: Retrier[] = [
  {
    ErrorEquals: ['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    JitterStrategy: 'FULL',
  },
];

/**
 * Retrier for the SQS service integration. Its error names follow the SDK exception class
 * (`SQS.SdkClientException`, `SQS.AmazonSQSException`, throttling and KMS errors...), so the
 * policy matches `States.TaskFailed`, which covers all of them (not `States.Timeout`, nor
 * `States.Permissions`). A duplicate send is harmless: the message carries the execution name
 * and step id, which the send pipeline deduplicates on.
 */
export const SQS_RETRY: Retrier[] = [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, JitterStrategy: 'FULL' }];

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const LAMBDA_INVOKE_WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
export const SQS_SEND_MESSAGE = 'arn:aws:states:::sqs:sendMessage';

/**
 * A copy of a JSON-compatible value (a validated rule, say) typed as JSON. Throws on anything
 * JSON cannot hold, which validated definitions never contain.
 */
export function toJson(value: unknown): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not JSON: ${value}`);
    return value;
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      if (child !== undefined) out[key] = toJson(child);
    }
    return out;
  }
  throw new Error(`not JSON: ${typeof value}`);
}

export const DYNAMODB_UPDATE_ITEM = 'arn:aws:states:::dynamodb:updateItem';

/** Transient DynamoDB errors of the service integration (a failed condition is not retried). */
export const DYNAMODB_RETRY: Retrier[] = [
  {
    ErrorEquals: [
      'DynamoDB.ProvisionedThroughputExceededException',
      'DynamoDB.ThrottlingException',
      'DynamoDB.RequestLimitExceeded',
      'DynamoDB.InternalServerErrorException',
      'DynamoDB.SdkClientException',
    ],
    IntervalSeconds: 1,
    MaxAttempts: 4,
    BackoffRate: 2,
    JitterStrategy: 'FULL',
  },
];

/** What a record state writes: the step reached, with the branch or variant taken (`null` for other steps). */
export interface RecordedOutcome {
  outcome: string | null;
}

/**
 * A record that the run reached a step (or took a branch or variant): a native DynamoDB
 * `UpdateItem` on the run's item, conditioned on the run still running. A run found no longer
 * running (stopped, exited, erased) goes to `runEnded` and acts no more; any other failure to
 * record never stops a journey: the run goes on to `next`. A retried write with the same values changes nothing (no stream record); the
 * stream record's time is when the step was reached.
 */
export function recordState(ctx: EmitContext, tableName: string, recorded: RecordedOutcome, next: string, runEnded: string): TaskState {
  return {
    Type: 'Task',
    Comment: ctx.comment,
    Resource: DYNAMODB_UPDATE_ITEM,
    Parameters: {
      TableName: tableName,
      Key: { pk: { 'S.$': '$.run.pk' }, sk: { 'S.$': '$.run.sk' } },
      UpdateExpression: 'SET currentStep = :step, stepOutcome = :outcome',
      ConditionExpression: 'runStatus = :running',
      ExpressionAttributeValues: {
        ':step': { S: ctx.stepId },
        ':outcome': recorded.outcome === null ? { NULL: true } : { S: recorded.outcome },
        ':running': { S: 'running' },
      },
    },
    ResultPath: null,
    Retry: DYNAMODB_RETRY,
    Catch: [
      // The run was ended elsewhere (an exit, erasure) while this execution went on, say because
      // StopExecution came before the execution existed: it ends here, before the step acts.
      { ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: '$.recordError', Next: runEnded },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: next },
    ],
    Next: next,
  };
}

/**
 * The state a decision (branch or variant) leads to: straight to `target`, or through a
 * record state when recording is on. Returns the specs to add and the key to point at.
 */
export function outcomeTarget(
  ctx: EmitContext,
  key: string,
  label: string,
  outcome: string,
  target: string | null,
): { specs: StateSpec[]; next: (links: Links) => string } {
  const table = ctx.resources.runTableName;
  if (table === undefined) return { specs: [], next: (links) => links.step(target) };
  return {
    specs: [{ key, label, build: (links) => recordState(ctx, table, { outcome }, links.step(target), links.runEnded()) }],
    next: (links) => links.own(key),
  };
}
