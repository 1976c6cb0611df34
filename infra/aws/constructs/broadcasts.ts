import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeOnDefaultPolicy, acknowledgeOnResource } from '../nag';
import { InvokeUnqualifiedFunction, onlyEventSourceMapping } from './audiences';
import type { DataTable } from './data-table';
import { EngageFunction } from './engage-function';
import { type Messaging, sqsMappingDestinationReason, workQueue } from './messaging';
import type { Monitoring } from './monitoring';

/** Spelled as `queueUrlEnvVar('fanout')` in `shared/aws/sqs/queue.ts` (a test checks it). */
export const FANOUT_QUEUE_URL_ENV = 'QUEUE_URL_FANOUT';

/** Fan-out worker and queue settings (exported for tests and docs). */
export const FANOUT_SETTINGS = {
  timeout: Duration.seconds(120),
  batchSize: 5,
  /**
   * 16 pages at once: one per audience shard (AUDIENCE_SHARD_COUNT), so a whole snapshot is
   * read in parallel (SPEC.md section 7: a million recipients enqueued within 2 minutes).
   */
  maxConcurrency: 16,
  maxReceiveCount: 5,
} as const;

/** Broadcast progress schedule settings (exported for tests and docs). */
export const PROGRESS_SETTINGS = {
  rate: Duration.minutes(1),
  timeout: Duration.minutes(2),
  schedulerRetryAttempts: 3,
  /** A run that could not start within 5 minutes is given up on: the next one does the same work. */
  maxEventAge: Duration.minutes(5),
} as const;

/**
 * `SCHEDULE_NAME_PREFIX`: every broadcast schedule is `<prefix>-broadcast-<id>-v<version>` in the
 * stack's own schedule group, and the API may create and delete those names only.
 */
export const SCHEDULE_NAME_PREFIX = 'engage';

/** The broadcast schedule group of a stack: `<stack name>-broadcasts` (64 characters at most). */
export function broadcastScheduleGroupName(stackName: string): string {
  return `${stackName.replace(/[^0-9A-Za-z_.-]/g, '-').slice(0, 53)}-broadcasts`;
}

export interface BroadcastsProps {
  /** The single table: the fan-out, start and progress functions get read-write access. */
  readonly table: DataTable;
  /** The send pipeline: the fan-out worker enqueues recipients on its send queue. */
  readonly messaging: Messaging;
  /**
   * The management API function: it creates and deletes broadcast schedules, starts "send now"
   * broadcasts inline (fan-out queue), sends test messages and serves the unsubscribe routes.
   */
  readonly apiFunction: EngageFunction;
}

/**
 * Broadcasts (SPEC.md section 3) on top of {@link Messaging}:
 *
 * - **schedules**: the API creates one one-time EventBridge Scheduler schedule per scheduled
 *   broadcast, in a schedule group of this stack, under a fixed name prefix (IAM allows no
 *   other), deleted by the service after it fired. The schedules' role may invoke the start
 *   function and nothing else;
 * - the **start** function: the schedule fired, the broadcast becomes `sending` and its
 *   snapshot starts as one fan-out message per audience shard;
 * - the **fan-out** queue and worker: one page of one shard per message, recipients onto the
 *   send queue, the next page back onto the fan-out queue;
 * - the **progress** function, every minute: a broadcast whose recipients all have an outcome
 *   becomes `sent`. Reserved concurrency 1: runs never overlap.
 *
 * @example
 * const broadcasts = new Broadcasts(this, 'Broadcasts', { table, messaging, apiFunction });
 * broadcasts.monitor(monitoring);
 */
export class Broadcasts extends Construct {
  readonly fanoutQueue: sqs.Queue;
  readonly fanoutDeadLetterQueue: sqs.Queue;
  readonly fanout: EngageFunction;
  readonly start: EngageFunction;
  /** Start invocations that failed after Lambda's asynchronous retries. */
  readonly startDeadLetterQueue: sqs.Queue;
  /** The group of every broadcast schedule (`SCHEDULER_GROUP`). */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role broadcast schedules use (`SCHEDULER_ROLE_ARN`): invokes the start function only. */
  readonly scheduleRole: iam.Role;
  readonly progress: EngageFunction;
  /** Progress invocations given up on, by the scheduler or by Lambda's asynchronous queue. */
  readonly progressDeadLetterQueue: sqs.Queue;
  readonly progressSchedule: scheduler.Schedule;
  readonly progressScheduleRole: iam.Role;

  constructor(scope: Construct, id: string, props: BroadcastsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { messaging, table, apiFunction } = props;

    // ---- Fan-out ------------------------------------------------------------------------
    ({ queue: this.fanoutQueue, deadLetterQueue: this.fanoutDeadLetterQueue } = workQueue(this, 'Fanout', {
      consumerTimeout: FANOUT_SETTINGS.timeout,
      maxReceiveCount: FANOUT_SETTINGS.maxReceiveCount,
    }));
    this.fanout = new EngageFunction(this, 'FanoutFunction', {
      entry: 'functions/broadcast-fanout/handler.ts',
      serviceName: 'broadcast-fanout',
      description: 'Broadcast fan-out: one page of one audience shard per message, recipients onto the send queue',
      memorySize: 1024,
      timeout: FANOUT_SETTINGS.timeout,
    });
    table.bind(this.fanout, 'readWrite');
    messaging.bindSendQueue(this.fanout);
    // It sends each page's continuation back to the queue it reads.
    this.bindFanoutQueue(this.fanout);
    this.fanout.function.addEventSource(
      new SqsEventSource(this.fanoutQueue, {
        batchSize: FANOUT_SETTINGS.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: FANOUT_SETTINGS.maxConcurrency,
      }),
    );
    acknowledgeOnResource(
      onlyEventSourceMapping(this.fanout),
      'Serverless-LambdaEventSourceMappingDestination',
      sqsMappingDestinationReason('fan-out', FANOUT_SETTINGS.maxReceiveCount),
    );

    // ---- Start (invoked by the broadcast schedules) --------------------------------------
    this.startDeadLetterQueue = new sqs.Queue(this, 'StartDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.startDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the broadcast start function\'s asynchronous invocations (by the schedules); an operator inspects it and starts the broadcast again.',
    );
    acknowledgeOnResource(
      this.startDeadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the dead-letter queue of the broadcast start function\'s asynchronous invocations; a redrive policy on a DLQ would only move failures further away.',
    );
    this.start = new EngageFunction(this, 'StartFunction', {
      entry: 'functions/broadcast-start/handler.ts',
      serviceName: 'broadcast-start',
      description: 'Broadcast start (its one-time schedule fired): status sending, one fan-out message per audience shard',
      timeout: Duration.seconds(30),
      // Lambda retries a failed asynchronous invocation twice, then it lands here (alarmed).
      deadLetterQueue: this.startDeadLetterQueue,
    });
    table.bind(this.start, 'readWrite');
    this.bindFanoutQueue(this.start);

    const scheduleGroupName = broadcastScheduleGroupName(stack.stackName);
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName,
      // Its pending schedules would invoke a function that no longer exists.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Trusted by Scheduler for this group only (the confused-deputy conditions of the
    // Scheduler documentation); may invoke the start function itself and nothing else.
    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      description: `EventBridge Scheduler role of the broadcast schedules (group ${scheduleGroupName}): invokes the broadcast start function only`,
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID, 'aws:SourceArn': this.scheduleGroup.scheduleGroupArn },
        },
      }),
    });
    this.scheduleRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.start.function.functionArn] }),
    );

    // The API creates and deletes this group's schedules of the prefix, and passes them the role.
    const scheduleArns = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${scheduleGroupName}/${SCHEDULE_NAME_PREFIX}-*`,
    });
    apiFunction.addEnvironment('SCHEDULER_TARGET_ARN', this.start.function.functionArn);
    apiFunction.addEnvironment('SCHEDULER_ROLE_ARN', this.scheduleRole.roleArn);
    apiFunction.addEnvironment('SCHEDULER_GROUP', scheduleGroupName);
    apiFunction.addEnvironment('SCHEDULE_NAME_PREFIX', SCHEDULE_NAME_PREFIX);
    apiFunction.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'], resources: [scheduleArns] }),
    );
    apiFunction.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.scheduleRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    acknowledgeOnDefaultPolicy(
      apiFunction.role,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${scheduleGroupName}/${SCHEDULE_NAME_PREFIX}-*]`,
      `Broadcast schedules are created at run time, one per scheduled broadcast, with names not known at deploy time; the wildcard covers only schedules named "${SCHEDULE_NAME_PREFIX}-*" in this stack's own schedule group.`,
    );
    // "Send now" starts inline; test sends and the unsubscribe routes sign and verify tokens.
    this.bindFanoutQueue(apiFunction);
    messaging.grantSending(apiFunction);

    // ---- Progress -----------------------------------------------------------------------
    this.progressDeadLetterQueue = new sqs.Queue(this, 'ProgressDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.progressDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the progress schedule target and of the progress function\'s asynchronous invocations; an operator inspects it (a later run does the same work anyway).',
    );
    acknowledgeOnResource(
      this.progressDeadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the dead-letter queue of the progress schedule target and of the progress function\'s asynchronous invocations; a redrive policy on a DLQ would only move failures further away.',
    );
    this.progress = new EngageFunction(this, 'ProgressFunction', {
      entry: 'functions/broadcast-progress/handler.ts',
      serviceName: 'broadcast-progress',
      description: 'Every minute: sending broadcasts whose recipients all have an outcome become sent',
      timeout: PROGRESS_SETTINGS.timeout,
      // One run at a time: a slow run delays the next instead of racing it over the same broadcasts.
      reservedConcurrentExecutions: 1,
      deadLetterQueue: this.progressDeadLetterQueue,
    });
    table.bind(this.progress, 'readWrite');
    // A failed run is not retried by Lambda: the next one, a minute later, does the same work.
    this.progress.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: PROGRESS_SETTINGS.maxEventAge });
    const asyncConfig = this.progress.function.node.tryFindChild('EventInvokeConfig');
    if (!asyncConfig) throw new Error(`${this.progress.node.path}: expected the EventInvokeConfig construct.`);
    acknowledgeOnResource(
      asyncConfig,
      'Serverless-LambdaAsyncFailureDestination',
      'Failed or expired asynchronous invocations of the progress function already go to its dead-letter queue (DeadLetterConfig, the queue that also takes the schedule target\'s failures, alarmed on depth); an on-failure destination as well would put every failure into that queue twice.',
    );
    this.progressScheduleRole = new iam.Role(this, 'ProgressScheduleRole', {
      description: `EventBridge Scheduler role of ${this.node.path}/ProgressSchedule: invokes the progress function only`,
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Aws.ACCOUNT_ID,
            'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
          },
        },
      }),
    });
    this.progressSchedule = new scheduler.Schedule(this, 'ProgressSchedule', {
      description: 'Runs the broadcast progress check every minute (sending broadcasts become sent)',
      schedule: scheduler.ScheduleExpression.rate(PROGRESS_SETTINGS.rate),
      timeWindow: scheduler.TimeWindow.off(),
      target: new InvokeUnqualifiedFunction(this.progress.function, {
        role: this.progressScheduleRole,
        deadLetterQueue: this.progressDeadLetterQueue,
        retryAttempts: PROGRESS_SETTINGS.schedulerRetryAttempts,
        maxEventAge: PROGRESS_SETTINGS.maxEventAge,
      }),
    });
  }

  /** Adds the broadcasts section to the dashboard and its alarms. */
  monitor(monitoring: Monitoring): void {
    const period = Duration.minutes(1);
    const depth = (queue: sqs.IQueue, label: string): cloudwatch.Metric =>
      queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label });
    const fanout = this.fanout.function;
    const start = this.start.function;
    const progress = this.progress.function;

    monitoring.addSection('Broadcasts', [
      new cloudwatch.GraphWidget({
        title: 'Fan-out queue',
        left: [depth(this.fanoutQueue, 'Waiting'), depth(this.fanoutDeadLetterQueue, 'Dead-letter queue')],
        right: [this.fanoutQueue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'Oldest message age' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Fan-out worker',
        left: [
          fanout.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          fanout.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
        ],
        right: [fanout.metricDuration({ period, statistic: 'p99', label: 'Duration p99' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Starts and progress',
        left: [
          start.metricInvocations({ period, statistic: 'Sum', label: 'Starts' }),
          start.metricErrors({ period, statistic: 'Sum', label: 'Start errors' }),
          progress.metricErrors({ period, statistic: 'Sum', label: 'Progress errors' }),
        ],
        right: [depth(this.startDeadLetterQueue, 'Start DLQ'), depth(this.progressDeadLetterQueue, 'Progress DLQ')],
        width: 8,
      }),
    ]);

    monitoring.addDlqAlarm('FanoutDlqDepth', this.fanoutDeadLetterQueue, {
      description: 'A broadcast fan-out page failed 5 times: its recipients were not enqueued and the broadcast stays "sending". See the fan-out dead-letter queue.',
    });
    monitoring.addDlqAlarm('BroadcastStartDlqDepth', this.startDeadLetterQueue, {
      description: 'A scheduled broadcast could not be started after Lambda\'s retries: it stays "scheduled". See the broadcast start dead-letter queue.',
    });
    monitoring.addDlqAlarm('BroadcastProgressDlqDepth', this.progressDeadLetterQueue, {
      description: 'A broadcast progress run could not be invoked or started within 5 minutes: broadcasts may be marked sent late. See the progress dead-letter queue.',
    });
    monitoring.addFunctionErrorsAlarm('BroadcastProgressErrors', progress, {
      description: 'The broadcast progress check failed: finished broadcasts are not marked sent until a run succeeds.',
    });
  }

  /** Sets `QUEUE_URL_FANOUT` and allows sending to the fan-out queue, in one call. */
  private bindFanoutQueue(fn: EngageFunction): void {
    fn.addEnvironment(FANOUT_QUEUE_URL_ENV, this.fanoutQueue.queueUrl);
    this.fanoutQueue.grantSendMessages(fn);
  }
}
