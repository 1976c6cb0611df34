import { ArnFormat, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../../../shared/aws/dynamodb/table-definition';
import { acknowledgeOnDefaultPolicy, acknowledgeOnResource } from '../nag';
import { onlyEventSourceMapping } from './audiences';
import type { DataTable } from './data-table';
import { EngageFunction, METRICS_NAMESPACE } from './engage-function';
import { type Messaging, SEND_QUEUE_URL_ENV, sqsMappingDestinationReason, workQueue } from './messaging';
import type { Monitoring } from './monitoring';

/** Spelled as `queueUrlEnvVar('entry')` in `shared/aws/sqs/queue.ts` (a test checks it). */
export const ENTRY_QUEUE_URL_ENV = 'QUEUE_URL_ENTRY';

/** Entry worker and entry queue settings (exported for tests and docs). */
export const JOURNEY_WORKER_SETTINGS = {
  timeout: Duration.seconds(30),
  batchSize: 10,
  /**
   * At most 20 batches at once (200 entries in flight): bounds the StartExecution rate the
   * worker asks of the account's token bucket (1,300, refilled at 300 per second in the large
   * regions), shared with every other caller in the account and region.
   */
  maxConcurrency: 20,
  /**
   * Other failures of an entry (not throttling: a throttled StartExecution is put back on the
   * queue by the worker with a growing delay, spending no receive) are delivered again once the
   * visibility timeout (6 x 30 s) has passed: 20 receives keep an entry trying for an hour
   * before it is dead-lettered (alarmed).
   */
  maxReceiveCount: 20,
} as const;

/** Execution-status function and rule settings (exported for tests and docs). */
export const JOURNEY_STATUS_SETTINGS = {
  timeout: Duration.seconds(30),
  /** How long EventBridge retries invoking the function with a status change before dead-lettering it. */
  ruleMaxEventAge: Duration.hours(24),
  ruleRetryAttempts: 185,
} as const;

/** The EventBridge `detail-type` of Step Functions execution status changes (default bus). */
export const EXECUTION_STATUS_DETAIL_TYPE = 'Step Functions Execution Status Change';

/**
 * Attributes a record state of a compiled journey names in its `UpdateItem` (the key, the
 * attributes it sets, the one its condition reads; `statemachines/steps/common.ts`
 * `recordState`). The journey role may write these and no other attribute (a test checks the
 * compiler against this list).
 */
export const RECORDED_RUN_ATTRIBUTES = [TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey, 'currentStep', 'stepOutcome', 'runStatus'] as const;

/** Actions Step Functions requires to set up the vended log delivery of a state machine (Resource `*` only). */
export const LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
] as const;

/** X-Ray actions of a traced state machine (no resource-level permissions). */
export const XRAY_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'] as const;

/** What the API needs to publish a journey (`StepFunctionsWorkflowEngine.publish`). */
export const PUBLISH_ACTIONS = [
  'states:CreateStateMachine',
  'states:UpdateStateMachine',
  'states:DescribeStateMachine',
  'states:PublishStateMachineVersion',
  'states:ListStateMachineVersions',
  'states:CreateStateMachineAlias',
  'states:UpdateStateMachineAlias',
  'states:DescribeStateMachineAlias',
  'states:TagResource',
] as const;

const LOG_DELIVERY_REASON =
  'the CloudWatch Logs vended-log-delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) that Step Functions requires, with Resource "*" (AWS documents no narrower resource for them), of whoever creates or updates a state machine with a LoggingConfiguration and of its execution role';

export interface JourneysProps {
  /** The single table: run items, hold tokens, profiles. */
  readonly table: DataTable;
  /** The send pipeline: compiled `send` steps put their message on its send queue. */
  readonly messaging: Messaging;
  /** The management API function: it publishes journeys (creates their state machines) and enters users by hand. */
  readonly apiFunction: EngageFunction;
  /**
   * The table stream's router: it enqueues entries, exits and hold completions on the entry
   * queue, and stops a user's runs on erasure.
   */
  readonly streamFunction: EngageFunction;
  /** `JOURNEY_NAME_PREFIX` (`engage:journeyNamePrefix`): machines are `<prefix>-<journeyId>`. */
  readonly namePrefix: string;
  /**
   * How long the execution log group keeps records (level ERROR, without execution data).
   * @default - three months
   */
  readonly logRetention?: logs.RetentionDays;
}

/** Environment variables of `shared/config.ts` that describe how journeys run (see {@link Journeys.environment}). */
type JourneyEnvironmentKey =
  | 'JOURNEY_NAME_PREFIX'
  | 'JOURNEY_ROLE_ARN'
  | 'JOURNEY_HOLD_UNTIL_ARN'
  | 'JOURNEY_WAIT_UNTIL_ARN'
  | 'JOURNEY_CHECK_CONDITION_ARN'
  | 'JOURNEY_LOG_GROUP_ARN'
  | 'JOURNEY_TRACING'
  | typeof SEND_QUEUE_URL_ENV;

/**
 * What only functions that compile journeys need: the three task functions and the send queue,
 * which the compiler writes into the states.
 */
const COMPILE_KEYS: readonly JourneyEnvironmentKey[] = ['JOURNEY_HOLD_UNTIL_ARN', 'JOURNEY_WAIT_UNTIL_ARN', 'JOURNEY_CHECK_CONDITION_ARN', SEND_QUEUE_URL_ENV];

/**
 * Journeys (SPEC.md section 3) on AWS Step Functions. Each published journey is a STANDARD
 * state machine of its own, `<prefix>-<journeyId>`, that the API creates at run time through
 * the SDK (`StepFunctionsWorkflowEngine`): a version per publish, the `live` alias, executions
 * started on version ARNs. No state machine is in this template; this construct gives them
 * what they run with and everything around them:
 *
 * - the **journey role**, one for every journey state machine (trusted by Step Functions for
 *   this account only): invoke the three task functions, send to the send queue, record the
 *   step reached on run items, X-Ray, log delivery. Nothing else;
 * - the **task functions** the compiled states invoke: `hold_until` (stores the task token),
 *   `wait_until` (next wall-clock time in the user's zone) and the fresh-data branch check;
 * - the **entry queue** and its **worker**: entries, exits and hold completions, with bounded
 *   concurrency so that StartExecution throttling waits in the queue (a failed item is
 *   retried after its visibility timeout; SPEC.md section 7);
 * - the **execution log group** (`/aws/vendedlogs/...`, level ERROR without execution data,
 *   set by the API on every machine) and X-Ray tracing;
 * - the **execution-status** rule on the default bus (Step Functions publishes only there),
 *   matching this deployment's machines by name prefix, and its function, which records the
 *   end of each run and counts failed executions (EMF) for the dashboard and the alarm;
 * - the grants of the API (publish, under the prefix only; pass the journey role to Step
 *   Functions only) and of the stream router (stop a user's runs, enqueue entries).
 *
 * @example
 * const journeys = new Journeys(this, 'Journeys', {
 *   table, messaging, apiFunction: ingestion.apiFunction, streamFunction: streamProcessing.consumer,
 *   namePrefix: settings.journeyNamePrefix,
 * });
 * journeys.monitor(monitoring);
 */
export class Journeys extends Construct {
  /** `JOURNEY_NAME_PREFIX`. */
  readonly namePrefix: string;
  /** The role every journey state machine runs with (`JOURNEY_ROLE_ARN`). */
  readonly journeyRole: iam.Role;
  /** Where journey executions log (`JOURNEY_LOG_GROUP_ARN`). */
  readonly executionLogGroup: logs.LogGroup;
  readonly holdUntil: EngageFunction;
  readonly waitUntil: EngageFunction;
  readonly checkCondition: EngageFunction;
  readonly entryQueue: sqs.Queue;
  readonly entryDeadLetterQueue: sqs.Queue;
  readonly worker: EngageFunction;
  readonly status: EngageFunction;
  /** Status changes EventBridge could not deliver, and status invocations that failed after Lambda's retries. */
  readonly statusDeadLetterQueue: sqs.Queue;
  /** The rule on the default bus that sends this deployment's execution status changes to {@link status}. */
  readonly statusRule: events.Rule;
  /** Once a minute: the status function reports the runs in flight (`JourneyRunsActive`). */
  readonly activeRunsRule: events.Rule;
  /** `arn:…:stateMachine:<prefix>-*` and its versions and aliases, `…:<prefix>-*:*`. */
  readonly stateMachineArns: readonly string[];
  /** `arn:…:execution:<prefix>-*:*`: every execution of this deployment's journeys. */
  readonly executionArns: string;
  /** `arn:…:stateMachine:<prefix>-`: what the ARN of each of this deployment's machines starts with. */
  readonly stateMachineArnPrefix: string;
  /** `/aws/vendedlogs/states/<prefix>`. */
  readonly executionLogGroupName: string;
  private readonly sendQueueUrl: string;

  constructor(scope: Construct, id: string, props: JourneysProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { table, messaging, apiFunction, streamFunction, namePrefix } = props;
    this.namePrefix = namePrefix;
    this.sendQueueUrl = messaging.sendQueue.queueUrl;

    const statesArn = (resource: 'stateMachine' | 'execution', resourceName: string): string =>
      stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.stateMachineArns = [statesArn('stateMachine', `${namePrefix}-*`), statesArn('stateMachine', `${namePrefix}-*:*`)];
    this.executionArns = statesArn('execution', `${namePrefix}-*:*`);
    this.stateMachineArnPrefix = statesArn('stateMachine', `${namePrefix}-`);

    // ---- Execution logs -----------------------------------------------------------------
    // The /aws/vendedlogs/ prefix keeps Step Functions from adding a statement per log group to
    // the account's CloudWatch Logs resource policy (5,120 characters at most).
    this.executionLogGroupName = `/aws/vendedlogs/states/${namePrefix}`;
    this.executionLogGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: this.executionLogGroupName,
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      // A named group that outlived its stack would make the next deployment of the same stack
      // fail ("already exists"); it holds error records without execution data, nothing to keep.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // ---- Task functions (invoked by the journeys' Task states) ----------------------------
    this.holdUntil = new EngageFunction(this, 'HoldUntilFunction', {
      entry: 'functions/journey-hold-until/handler.ts',
      serviceName: 'journey-hold-until',
      description: 'Journey hold_until task: stores the task token; completes it at once when the awaited event already arrived',
    });
    // Read-write: the token item under the profile.
    table.bind(this.holdUntil, 'readWrite');
    this.waitUntil = new EngageFunction(this, 'WaitUntilFunction', {
      entry: 'functions/journey-wait-until/handler.ts',
      serviceName: 'journey-wait-until',
      description: 'Journey wait_until task: the next wall-clock time in the user\'s time zone',
    });
    // Read: the profile's time zone.
    table.bind(this.waitUntil, 'read');
    this.checkCondition = new EngageFunction(this, 'CheckConditionFunction', {
      entry: 'functions/journey-check-condition/handler.ts',
      serviceName: 'journey-check-condition',
      description: 'Journey branch task: evaluates the branch rules on fresh profile data',
    });
    table.bind(this.checkCondition, 'read');

    // ---- The journey role ---------------------------------------------------------------
    // Trusted by Step Functions for this account only. No aws:SourceArn condition: the
    // machines are created at run time, and the role is checked when they are created too.
    this.journeyRole = new iam.Role(this, 'JourneyRole', {
      description: `Role of every journey state machine (${namePrefix}-*): invokes the journey task functions, sends to the send queue, records steps on run items`,
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    // The unqualified ARNs only: compiled Task states name the functions by them.
    this.journeyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.holdUntil, this.waitUntil, this.checkCondition].map((fn) => fn.function.functionArn),
      }),
    );
    // `send` steps: the SQS service integration, onto the send queue only.
    this.journeyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [messaging.sendQueue.queueArn] }),
    );
    const sendQueueKey = messaging.sendQueue.encryptionMasterKey;
    if (sendQueueKey !== undefined) {
      this.journeyRole.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [sendQueueKey.keyArn] }),
      );
    }
    // Record states: the native DynamoDB UpdateItem on the run item (`SET currentStep,
    // stepOutcome` if `runStatus = running`). The item's key comes from the execution input
    // (USER#… or ANON#… partitions), which dynamodb:LeadingKeys cannot express as a prefix, so
    // the item is not restricted; the attributes are: none but these may be named, so a
    // journey cannot overwrite anything else of a profile, nor read an item back (ALL_OLD / ALL_NEW).
    this.journeyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [table.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...RECORDED_RUN_ATTRIBUTES] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD', 'UPDATED_NEW'] },
        },
      }),
    );
    // X-Ray tracing (JOURNEY_TRACING) and the log delivery of the LoggingConfiguration.
    this.journeyRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...XRAY_ACTIONS], resources: ['*'] }));
    this.journeyRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...LOG_DELIVERY_ACTIONS], resources: ['*'] }));
    acknowledgeOnDefaultPolicy(
      this.journeyRole,
      'AwsSolutions-IAM5[Resource::*]',
      `Only actions without resource-level permissions have Resource "*": X-Ray tracing of the journey executions (${XRAY_ACTIONS.join(', ')}) and ${LOG_DELIVERY_REASON}.`,
    );

    // ---- Entry queue and worker ---------------------------------------------------------
    ({ queue: this.entryQueue, deadLetterQueue: this.entryDeadLetterQueue } = workQueue(this, 'Entry', {
      consumerTimeout: JOURNEY_WORKER_SETTINGS.timeout,
      maxReceiveCount: JOURNEY_WORKER_SETTINGS.maxReceiveCount,
    }));
    this.worker = new EngageFunction(this, 'WorkerFunction', {
      entry: 'functions/journey-worker/handler.ts',
      serviceName: 'journey-worker',
      description: 'Journey entry worker: starts executions (entries), stops them (exits), completes hold tokens',
      timeout: JOURNEY_WORKER_SETTINGS.timeout,
    });
    // Read-write: run items, re-entry keys, hold tokens.
    table.bind(this.worker, 'readWrite');
    this.bindSettings(this.worker, { compiles: true });
    // A throttled start goes back on the entry queue with a delay (spending no receive).
    this.bindEntryQueue(this.worker);
    this.grantStartExecution(this.worker);
    this.grantStopExecution(this.worker);
    this.grantTaskResponse(this.worker);
    this.worker.function.addEventSource(
      new SqsEventSource(this.entryQueue, {
        batchSize: JOURNEY_WORKER_SETTINGS.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: JOURNEY_WORKER_SETTINGS.maxConcurrency,
      }),
    );
    acknowledgeOnResource(
      onlyEventSourceMapping(this.worker),
      'Serverless-LambdaEventSourceMappingDestination',
      sqsMappingDestinationReason('journey entry', JOURNEY_WORKER_SETTINGS.maxReceiveCount),
    );
    this.acknowledgeStatesWildcards(this.worker, {
      stateMachines: 'StartExecution on a version of any journey of this deployment (machines are created at run time), and SendTaskSuccess / SendTaskFailure of the hold tokens of their executions',
      executions: 'StopExecution / DescribeExecution of any execution of this deployment\'s journeys (exits)',
    });

    // hold_until completes a token itself when the awaited event arrived before the hold.
    this.bindSettings(this.holdUntil, { compiles: false });
    this.grantTaskResponse(this.holdUntil);
    this.acknowledgeStatesWildcards(this.holdUntil, {
      stateMachines: 'SendTaskSuccess / SendTaskFailure of the hold tokens of executions of any journey of this deployment (machines are created at run time)',
    });

    // ---- Execution status ---------------------------------------------------------------
    this.statusDeadLetterQueue = new sqs.Queue(this, 'StatusDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.statusDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the execution-status rule target and of the status function\'s asynchronous invocations; an operator inspects it (run items may show a stale status until then).',
    );
    acknowledgeOnResource(
      this.statusDeadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the dead-letter queue of the execution-status rule target and of the status function\'s asynchronous invocations; a redrive policy on a DLQ would only move failures further away.',
    );
    this.status = new EngageFunction(this, 'StatusFunction', {
      entry: 'functions/journey-status/handler.ts',
      serviceName: 'journey-status',
      description: 'Journey execution status changes (default bus): the end of each run on its item, failed execution count',
      timeout: JOURNEY_STATUS_SETTINGS.timeout,
      // Lambda retries a failed asynchronous invocation twice, then it lands here (alarmed).
      deadLetterQueue: this.statusDeadLetterQueue,
    });
    table.bind(this.status, 'readWrite');
    // A status change whose input was left out of the event (too large) is read from the execution.
    this.bindSettings(this.status, { compiles: false });
    this.status.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:GetExecutionHistory'], resources: [this.executionArns] }),
    );
    this.acknowledgeStatesWildcards(this.status, {
      executions: 'DescribeExecution / GetExecutionHistory of an ended execution of any journey of this deployment whose input the status event left out',
    });
    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    this.statusRule = new events.Rule(this, 'StatusRule', {
      description: `Execution status changes of the journey state machines ${namePrefix}-* to the journey status function`,
      eventBus: defaultBus,
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_DETAIL_TYPE],
        detail: { stateMachineArn: events.Match.prefix(this.stateMachineArnPrefix) },
      },
    });
    // The target adds the function's resource policy: events.amazonaws.com, aws:SourceArn = this rule.
    this.statusRule.addTarget(
      new targets.LambdaFunction(this.status.function, {
        deadLetterQueue: this.statusDeadLetterQueue,
        maxEventAge: JOURNEY_STATUS_SETTINGS.ruleMaxEventAge,
        retryAttempts: JOURNEY_STATUS_SETTINGS.ruleRetryAttempts,
      }),
    );

    // The dashboard's "running": the status function sums the journeys' active counts once a minute.
    this.activeRunsRule = new events.Rule(this, 'ActiveRunsRule', {
      description: 'Every minute: the journey status function reports the number of runs in flight',
      schedule: events.Schedule.rate(Duration.minutes(1)),
    });
    this.activeRunsRule.addTarget(
      new targets.LambdaFunction(this.status.function, {
        event: events.RuleTargetInput.fromObject({ kind: 'active-runs' }),
        deadLetterQueue: this.statusDeadLetterQueue,
        // A missed minute is replaced by the next one.
        maxEventAge: Duration.minutes(5),
        retryAttempts: 0,
      }),
    );

    // ---- The API: publish journeys, enter users by hand ---------------------------------
    this.bindSettings(apiFunction, { compiles: true });
    this.bindEntryQueue(apiFunction);
    apiFunction.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...PUBLISH_ACTIONS], resources: [...this.stateMachineArns] }),
    );
    this.grantStartExecution(apiFunction);
    apiFunction.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution', 'states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: [this.executionArns],
      }),
    );
    // The machines it creates run with the journey role: it may hand that role to Step
    // Functions, and no other role, to no other service.
    apiFunction.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.journeyRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'states.amazonaws.com' } },
      }),
    );
    apiFunction.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...LOG_DELIVERY_ACTIONS], resources: ['*'] }));
    acknowledgeOnDefaultPolicy(apiFunction.role, 'AwsSolutions-IAM5[Resource::*]', `Journeys: ${LOG_DELIVERY_REASON}.`);
    this.acknowledgeStatesWildcards(apiFunction, {
      stateMachines: 'journey state machines are created at run time, one per published journey, with a version per publish and the live alias; the wildcard covers only this deployment\'s machines (their versions and aliases)',
      executions: 'the executions of any journey of this deployment (status, current step, stop)',
    });

    // ---- The stream router: enqueue entries, exits and hold completions; stop on erasure --
    this.bindSettings(streamFunction, { compiles: true });
    this.bindEntryQueue(streamFunction);
    this.grantStopExecution(streamFunction);
    this.acknowledgeStatesWildcards(streamFunction, {
      executions: 'StopExecution / DescribeExecution of a user\'s runs of any journey of this deployment when the user is erased',
    });
  }

  /**
   * The journey settings, as the environment variables of `shared/config.ts`. `QUEUE_URL_SEND`
   * is compiled into the `send` states (the journey role sends, not the function that compiles).
   */
  get environment(): Record<JourneyEnvironmentKey, string> {
    return {
      JOURNEY_NAME_PREFIX: this.namePrefix,
      JOURNEY_ROLE_ARN: this.journeyRole.roleArn,
      JOURNEY_HOLD_UNTIL_ARN: this.holdUntil.function.functionArn,
      JOURNEY_WAIT_UNTIL_ARN: this.waitUntil.function.functionArn,
      JOURNEY_CHECK_CONDITION_ARN: this.checkCondition.function.functionArn,
      // Ends with ":*", the form Step Functions' LoggingConfiguration takes.
      JOURNEY_LOG_GROUP_ARN: this.executionLogGroup.logGroupArn,
      JOURNEY_TRACING: 'true',
      [SEND_QUEUE_URL_ENV]: this.sendQueueUrl,
    };
  }

  /** Lets `fn` start executions of this deployment's journeys (on their versions). */
  grantStartExecution(fn: EngageFunction): void {
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [...this.stateMachineArns] }));
  }

  /** Lets `fn` stop (and describe) executions of this deployment's journeys. */
  grantStopExecution(fn: EngageFunction): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:StopExecution', 'states:DescribeExecution'], resources: [this.executionArns] }),
    );
  }

  /**
   * Lets `fn` complete task tokens of this deployment's executions. The Service Authorization
   * Reference lists no resource type for these actions, but IAM evaluates them against the
   * state machine of the token (AccessDenied names it; CDK's `grantTaskResponse` scopes them
   * so); the versions' ARNs are included since the executions run on versions.
   */
  grantTaskResponse(fn: EngageFunction): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: [...this.stateMachineArns] }),
    );
  }

  /** Sets `QUEUE_URL_ENTRY` and allows sending to the entry queue, in one call. */
  bindEntryQueue(fn: EngageFunction): void {
    fn.addEnvironment(ENTRY_QUEUE_URL_ENV, this.entryQueue.queueUrl);
    this.entryQueue.grantSendMessages(fn);
  }

  /** Adds the journeys section to the dashboard and its alarms. */
  monitor(monitoring: Monitoring): void {
    const period = Duration.minutes(1);
    // EMF (namespace Engage, dimension `service`): the worker counts the executions it started,
    // the status function the failed and timed-out ones.
    const executions = (fn: EngageFunction, metricName: string, options: { label?: string; period?: Duration } = {}): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: fn.serviceName },
        statistic: 'Sum',
        period: options.period ?? period,
        label: options.label,
      });
    const depth = (queue: sqs.IQueue, label: string): cloudwatch.Metric =>
      queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label });
    // Account-wide StartExecution throttling (API metrics of AWS/States): what the entry queue absorbs.
    const startExecutionApi = (metricName: string, label: string): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: 'AWS/States', metricName, dimensionsMap: { APIName: 'StartExecution' }, statistic: 'Sum', period, label });
    const worker = this.worker.function;
    const tasks: Array<[EngageFunction, string]> = [
      [this.holdUntil, 'Hold until'],
      [this.waitUntil, 'Wait until'],
      [this.checkCondition, 'Check condition'],
    ];

    monitoring.addSection('Journeys', [
      new cloudwatch.GraphWidget({
        title: 'Journey executions',
        left: [executions(this.worker, 'JourneyExecutionsStarted', { label: 'Started' }), executions(this.status, 'JourneyExecutionsFailed', { label: 'Failed' })],
        right: [
          new cloudwatch.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: 'JourneyRunsActive',
            dimensionsMap: { service: this.status.serviceName },
            statistic: 'Maximum',
            period,
            label: 'Running',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Entry queue',
        left: [depth(this.entryQueue, 'Waiting'), depth(this.entryDeadLetterQueue, 'Dead-letter queue')],
        right: [this.entryQueue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'Oldest message age' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Entry worker',
        left: [
          worker.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          worker.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
          worker.metricThrottles({ period, statistic: 'Sum', label: 'Throttles' }),
        ],
        right: [worker.metricDuration({ period, statistic: 'p99', label: 'Duration p99' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'StartExecution (account)',
        left: [startExecutionApi('ThrottledEvents', 'Throttled'), startExecutionApi('ConsumedCapacity', 'Consumed capacity')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Journey tasks',
        left: tasks.map(([fn, label]) => fn.function.metricErrors({ period, statistic: 'Sum', label: `${label} errors` })),
        right: tasks.map(([fn, label]) => fn.function.metricDuration({ period, statistic: 'p99', label: `${label} p99` })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Execution status',
        left: [
          this.status.function.metricInvocations({ period, statistic: 'Sum', label: 'Status changes' }),
          this.status.function.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
        ],
        right: [depth(this.statusDeadLetterQueue, 'Dead-letter queue')],
        width: 8,
      }),
    ]);

    monitoring.addAlarm(
      new cloudwatch.Alarm(this, 'FailedExecutionsAlarm', {
        metric: executions(this.status, 'JourneyExecutionsFailed', { period: Duration.minutes(5) }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // No failed execution reported: nothing failed.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `A journey execution failed (or timed out): its user left the journey without finishing it. See the execution in the Step Functions console (machines ${this.namePrefix}-*) and the log group ${this.executionLogGroupName}.`,
      }),
    );
    monitoring.addDlqAlarm('JourneyEntryDlqDepth', this.entryDeadLetterQueue, {
      description: `A journey entry, exit or hold completion failed ${JOURNEY_WORKER_SETTINGS.maxReceiveCount} times: a user was not entered, not stopped or not resumed. See the journey entry dead-letter queue.`,
    });
    monitoring.addDlqAlarm('JourneyStatusDlqDepth', this.statusDeadLetterQueue, {
      description: 'A journey execution status change could not be applied: a run item may show a stale status and counts may be missing. See the journey status dead-letter queue.',
    });
  }

  /**
   * Sets the journey settings on `fn`. Only functions that compile journeys (`compiles`) get the
   * task function ARNs and the send queue URL; the others need the engine's settings alone (and
   * hold_until could not be told its own ARN: a function's environment cannot reference the
   * function itself without a cycle in the template).
   */
  private bindSettings(fn: EngageFunction, options: { compiles: boolean }): void {
    for (const [key, value] of Object.entries(this.environment)) {
      if (!options.compiles && (COMPILE_KEYS as readonly string[]).includes(key)) continue;
      fn.addEnvironment(key, value);
    }
  }

  /** Acknowledges the `<prefix>-*` wildcards of the states statements on `fn`'s default policy. */
  private acknowledgeStatesWildcards(fn: EngageFunction, reasons: { stateMachines?: string; executions?: string }): void {
    const nagArn = (resource: string): string => `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:${resource}`;
    const scope = `(the wildcard covers only names that start with this deployment's prefix "${this.namePrefix}-")`;
    if (reasons.stateMachines !== undefined) {
      for (const resource of [`stateMachine:${this.namePrefix}-*`, `stateMachine:${this.namePrefix}-*:*`]) {
        acknowledgeOnDefaultPolicy(fn.role, `AwsSolutions-IAM5[Resource::${nagArn(resource)}]`, `${reasons.stateMachines} ${scope}.`);
      }
    }
    if (reasons.executions !== undefined) {
      acknowledgeOnDefaultPolicy(
        fn.role,
        `AwsSolutions-IAM5[Resource::${nagArn(`execution:${this.namePrefix}-*:*`)}]`,
        `${reasons.executions}; executions are named at run time ${scope}.`,
      );
    }
  }
}
