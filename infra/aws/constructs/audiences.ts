import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, type ScheduleTargetBaseProps } from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeOnResource } from '../nag';
import type { DataTable } from './data-table';
import { EngageFunction, METRICS_NAMESPACE } from './engage-function';
import type { Monitoring } from './monitoring';

/**
 * Settings that several functions must agree on, set on all of them from this one object so
 * that they cannot diverge. Each becomes the environment variable of the same name in
 * `shared/config.ts`.
 */
export interface AudienceSettings {
  /**
   * Parallel-scan segments of one backfill (`BACKFILL_SEGMENTS`). The API records this many
   * outstanding segments on the audience and the router enqueues this many scan messages, so
   * both must read the same number or an audience never becomes `ready`.
   */
  readonly backfillSegments: number;
  /**
   * Delay of the first backfill messages (`BACKFILL_DELAY_SECONDS`): a backfill starts only
   * after every container's cached audience definitions expired, so it must exceed
   * {@link audienceCacheTtlMs}.
   */
  readonly backfillDelaySeconds: number;
  /** How long a container trusts its cached audience definitions (`AUDIENCE_CACHE_TTL_MS`). */
  readonly audienceCacheTtlMs: number;
}

/** The values the functions default to in `shared/config.ts`. */
export const DEFAULT_AUDIENCE_SETTINGS: AudienceSettings = {
  backfillSegments: 8,
  backfillDelaySeconds: 20,
  audienceCacheTtlMs: 15_000,
};

/**
 * Sort-key prefixes of the items whose changes the outbox publishes (SPEC.md section 4). Only
 * stream records of these items invoke the outbox (Lambda event filtering): every other write
 * costs it nothing. Adding an item type that publishes events is one line here.
 */
export const OUTBOX_SORT_KEY_PREFIXES = [
  // Audience memberships under the profile: `Audience Entered` / `Audience Exited`.
  'AUD#',
  // Message log entries under the profile: `Message Sent|Delivered|Bounced|Complained|Opened|Clicked`.
  'MSG#',
  // Journey runs under the profile: `Journey Entered|Step Reached|Exited|Completed`.
  'JRUN#',
] as const;

/**
 * Items the outbox publishes that are recognised by a partition-key prefix and an exact sort
 * key (one more event filter each; Lambda ORs the filters of a mapping, five at most by default).
 */
export const OUTBOX_ENTITY_KEYS = [
  // The broadcast item (`BROADCAST#<id>` / `BROADCAST`): `Broadcast Status Changed`. Its
  // fan-out pages and counters share the partition under other sort keys and stay out.
  { partitionKeyPrefix: 'BROADCAST#', sortKey: 'BROADCAST' },
] as const;

/** The event filters of the outbox mapping: every item type of the two lists above. */
export function outboxFilters(): Array<Record<string, unknown>> {
  return [
    lambda.FilterCriteria.filter({
      dynamodb: { Keys: { sk: { S: OUTBOX_SORT_KEY_PREFIXES.flatMap((prefix) => lambda.FilterRule.beginsWith(prefix)) } } },
    }),
    ...OUTBOX_ENTITY_KEYS.map(({ partitionKeyPrefix, sortKey }) =>
      lambda.FilterCriteria.filter({
        dynamodb: {
          Keys: {
            pk: { S: lambda.FilterRule.beginsWith(partitionKeyPrefix) },
            sk: { S: lambda.FilterRule.isEqual(sortKey) },
          },
        },
      }),
    ),
  ];
}

/** Event source mapping settings of the outbox on the table stream (exported for tests and docs). */
export const OUTBOX_CONSUMER_SETTINGS = {
  batchSize: 100,
  retryAttempts: 10,
  maxRecordAge: Duration.days(1),
  // One batch per shard at a time: the outbox publishes a shard's changes in order.
  parallelizationFactor: 1,
} as const;

/** Backfill worker and queue settings (exported for tests and docs). */
export const BACKFILL_WORKER_SETTINGS = {
  timeout: Duration.minutes(5),
  batchSize: 10,
  maxConcurrency: 5,
  maxReceiveCount: 5,
} as const;

/** Recheck schedule settings (exported for tests and docs). */
export const RECHECK_SETTINGS = {
  rate: Duration.minutes(1),
  timeout: Duration.minutes(2),
  /** Scheduler retries of a failed invocation request (not of a failed run). */
  schedulerRetryAttempts: 3,
  /**
   * A run that could not start within 5 minutes (SPEC.md section 3: exits by the passage of
   * time within 5 minutes) is given up on, into the dead-letter queue, by the scheduler and by
   * Lambda's asynchronous invocation queue alike; the next run sweeps what it would have.
   */
  maxEventAge: Duration.minutes(5),
} as const;

export interface AudiencesProps {
  /** The single table: the outbox, the backfill worker and the recheck get read-write access. */
  readonly table: DataTable;
  /** The deployment's event bus; only the outbox may put events on it. */
  readonly eventBus: events.IEventBus;
  /**
   * The table stream's router (the evaluator): it enqueues backfills, so it gets the backfill
   * queue and the audience settings.
   */
  readonly router: EngageFunction;
  /** The management API function: it records backfills and reads audience definitions. */
  readonly apiFunction: EngageFunction;
  /**
   * Values the router, the API, the backfill worker and the recheck must share.
   * @default - DEFAULT_AUDIENCE_SETTINGS (8 segments, 20 s delay, 15 s cache)
   */
  readonly settings?: AudienceSettings;
}

type AudienceEnvironmentKey = 'BACKFILL_SEGMENTS' | 'BACKFILL_DELAY_SECONDS' | 'AUDIENCE_CACHE_TTL_MS';

/** Spelled as `queueUrlEnvVar('backfill')` in `shared/aws/sqs/queue.ts` (a test checks it). */
export const BACKFILL_QUEUE_URL_ENV = 'QUEUE_URL_BACKFILL';

/** Throws when the settings are out of the ranges `shared/config.ts` accepts, or inconsistent. */
export function validateAudienceSettings(settings: AudienceSettings): AudienceSettings {
  const { backfillSegments, backfillDelaySeconds, audienceCacheTtlMs } = settings;
  const problems: string[] = [];
  if (!Number.isInteger(backfillSegments) || backfillSegments < 1 || backfillSegments > 1000) {
    problems.push(`backfillSegments must be an integer from 1 to 1000, received ${backfillSegments}`);
  }
  // SQS DelaySeconds is at most 900.
  if (!Number.isInteger(backfillDelaySeconds) || backfillDelaySeconds < 0 || backfillDelaySeconds > 900) {
    problems.push(`backfillDelaySeconds must be an integer from 0 to 900, received ${backfillDelaySeconds}`);
  }
  if (!Number.isInteger(audienceCacheTtlMs) || audienceCacheTtlMs < 0) {
    problems.push(`audienceCacheTtlMs must be a non-negative integer, received ${audienceCacheTtlMs}`);
  }
  if (problems.length === 0 && backfillDelaySeconds * 1000 <= audienceCacheTtlMs) {
    problems.push(
      `backfillDelaySeconds (${backfillDelaySeconds} s) must exceed audienceCacheTtlMs (${audienceCacheTtlMs} ms): a backfill must start after every cached definition expired`,
    );
  }
  if (problems.length > 0) throw new Error(`Invalid audience settings: ${problems.join('; ')}.`);
  return settings;
}

/** The one event source mapping of `fn` (to acknowledge a finding on it). */
export function onlyEventSourceMapping(fn: EngageFunction): lambda.EventSourceMapping {
  const mappings = fn.function.node.children.filter((c): c is lambda.EventSourceMapping => c instanceof lambda.EventSourceMapping);
  const [mapping] = mappings;
  if (mappings.length !== 1 || !mapping) throw new Error(`${fn.node.path}: expected one event source mapping, found ${mappings.length}.`);
  return mapping;
}

/**
 * A Scheduler Lambda target whose role may invoke the function itself and nothing else.
 * `LambdaInvoke` grants through `grantInvoke`, which also allows `<function ARN>:*` (every
 * version and alias); a schedule invokes the unqualified ARN only.
 */
export class InvokeUnqualifiedFunction extends LambdaInvoke {
  constructor(
    private readonly target: lambda.IFunction,
    props: ScheduleTargetBaseProps,
  ) {
    super(target, props);
  }

  protected override addTargetActionToRole(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.target.functionArn] }),
    );
  }
}

/**
 * Everything of the audiences feature that is not the evaluator itself (the evaluator runs in
 * the table stream's router, {@link AudiencesProps.router}):
 *
 * - the **outbox**: the table stream's second (and last) reader. It receives only the records
 *   of {@link OUTBOX_SORT_KEY_PREFIXES} and {@link OUTBOX_ENTITY_KEYS} (event filtering) and
 *   publishes `Audience Entered` / `Audience Exited` (and the `Message *` and `Broadcast Status
 *   Changed` events of messaging) to the bus, in order per shard, through a ledger that makes a replay
 *   publish nothing (ARCHITECTURE.md "The stream is the outbox");
 * - the **backfill** queue and worker: a parallel scan of the table fanned out through SQS,
 *   one page per message, continuations sent back to the same queue;
 * - the **recheck**: every minute (EventBridge Scheduler), memberships that change with the
 *   passage of time. Reserved concurrency 1: runs never overlap.
 *
 * @example
 * const audiences = new Audiences(this, 'Audiences', {
 *   table, eventBus, router: streamProcessing.consumer, apiFunction: ingestion.apiFunction,
 * });
 * audiences.monitor(monitoring);
 */
export class Audiences extends Construct {
  readonly settings: AudienceSettings;
  readonly outbox: EngageFunction;
  /** Receives a description (shard, sequence numbers) of every outbox batch given up on. */
  readonly outboxOnFailureQueue: sqs.Queue;
  readonly backfillQueue: sqs.Queue;
  readonly backfillDeadLetterQueue: sqs.Queue;
  readonly backfillWorker: EngageFunction;
  readonly recheck: EngageFunction;
  /** Recheck invocations given up on, by the scheduler or by Lambda's asynchronous queue. */
  readonly recheckDeadLetterQueue: sqs.Queue;
  readonly recheckSchedule: scheduler.Schedule;
  readonly recheckScheduleRole: iam.Role;
  private readonly router: EngageFunction;

  constructor(scope: Construct, id: string, props: AudiencesProps) {
    super(scope, id);
    this.settings = validateAudienceSettings(props.settings ?? DEFAULT_AUDIENCE_SETTINGS);
    this.router = props.router;

    // ---- Outbox ------------------------------------------------------------------------
    this.outboxOnFailureQueue = new sqs.Queue(this, 'OutboxOnFailureQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.outboxOnFailureQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the on-failure (dead-letter) destination of the outbox stream mapping; nothing consumes it automatically, an operator inspects and redrives it.',
    );
    acknowledgeOnResource(
      this.outboxOnFailureQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the on-failure (dead-letter) destination of the outbox stream mapping; a redrive policy on a DLQ would only move failures further away.',
    );

    this.outbox = new EngageFunction(this, 'OutboxFunction', {
      entry: 'functions/outbox/handler.ts',
      serviceName: 'outbox',
      description: 'Outbox: publishes membership changes from the table stream to the event bus, in order',
      // 100 records in order, each a ledger read, a PutEvents and a ledger write.
      timeout: Duration.seconds(60),
      environment: { EVENT_BUS_NAME: props.eventBus.eventBusName },
      wildcardResourceReasons: [
        'dynamodb:ListStreams, which the DynamoDB event source mapping needs (the other stream actions are scoped to this table\'s stream ARN)',
      ],
    });
    // Read-write: the ledger (`OUTBOX#<record id>`) that makes a replayed record publish nothing.
    props.table.bind(this.outbox, 'readWrite');
    props.eventBus.grantPutEventsTo(this.outbox);

    this.outbox.function.addEventSource(
      new DynamoEventSource(props.table.table, {
        ...OUTBOX_CONSUMER_SETTINGS,
        // As the router: a re-created mapping processes what was written in between; the
        // ledger makes the replay publish nothing twice.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.outboxOnFailureQueue),
        filters: outboxFilters(),
      }),
    );

    // ---- Backfill ----------------------------------------------------------------------
    this.backfillDeadLetterQueue = new sqs.Queue(this, 'BackfillDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.backfillDeadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the dead-letter queue of the backfill queue; a redrive policy on a DLQ would only move failures further away (an operator redrives it after a fix).',
    );
    this.backfillQueue = new sqs.Queue(this, 'BackfillQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // As long as the dead-letter queue: an expired backfill message would leave its audience
      // `building` for ever without any alarm, a dead-lettered one alarms.
      retentionPeriod: Duration.days(14),
      // Lambda's advice for a queue read by a function: six times the function timeout.
      visibilityTimeout: Duration.seconds(BACKFILL_WORKER_SETTINGS.timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.backfillDeadLetterQueue, maxReceiveCount: BACKFILL_WORKER_SETTINGS.maxReceiveCount },
    });

    this.backfillWorker = new EngageFunction(this, 'BackfillFunction', {
      entry: 'functions/audience-backfill/handler.ts',
      serviceName: 'audience-backfill',
      description: 'Audience backfill and purge: one scan page or one member-shard page per message',
      memorySize: 1024,
      timeout: BACKFILL_WORKER_SETTINGS.timeout,
    });
    props.table.bind(this.backfillWorker, 'readWrite');
    // It sends each page's continuation back to the queue it reads.
    this.bindBackfillQueue(this.backfillWorker);
    this.setEnvironment(this.backfillWorker, ['BACKFILL_SEGMENTS', 'BACKFILL_DELAY_SECONDS', 'AUDIENCE_CACHE_TTL_MS']);
    this.backfillWorker.function.addEventSource(
      new SqsEventSource(this.backfillQueue, {
        batchSize: BACKFILL_WORKER_SETTINGS.batchSize,
        reportBatchItemFailures: true,
        // Bounds the table read capacity a backfill takes from live traffic.
        maxConcurrency: BACKFILL_WORKER_SETTINGS.maxConcurrency,
      }),
    );
    acknowledgeOnResource(
      onlyEventSourceMapping(this.backfillWorker),
      'Serverless-LambdaEventSourceMappingDestination',
      'An SQS event source mapping takes no on-failure destination (only stream and Kafka sources do): a message that fails 5 receives moves to the backfill dead-letter queue through the queue\'s redrive policy, which is alarmed.',
    );

    // The router enqueues backfills and purges when an audience is created, re-ruled or deleted.
    this.bindBackfillQueue(props.router);
    this.setEnvironment(props.router, ['BACKFILL_SEGMENTS', 'BACKFILL_DELAY_SECONDS', 'AUDIENCE_CACHE_TTL_MS']);
    // The API records `backfillRemaining = BACKFILL_SEGMENTS` on the audience it writes.
    this.setEnvironment(props.apiFunction, ['BACKFILL_SEGMENTS', 'AUDIENCE_CACHE_TTL_MS']);

    // ---- Recheck -----------------------------------------------------------------------
    this.recheckDeadLetterQueue = new sqs.Queue(this, 'RecheckDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.recheckDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the recheck schedule target and of the recheck function\'s asynchronous invocations; an operator inspects it (a later run sweeps the same timers anyway).',
    );
    acknowledgeOnResource(
      this.recheckDeadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the dead-letter queue of the recheck schedule target and of the recheck function\'s asynchronous invocations; a redrive policy on a DLQ would only move failures further away.',
    );

    this.recheck = new EngageFunction(this, 'RecheckFunction', {
      entry: 'functions/audience-recheck/handler.ts',
      serviceName: 'audience-recheck',
      description: 'Every minute: memberships that change with the passage of time (due timers)',
      timeout: RECHECK_SETTINGS.timeout,
      // One run at a time: a slow run delays the next instead of racing it over the same timers.
      reservedConcurrentExecutions: 1,
      deadLetterQueue: this.recheckDeadLetterQueue,
    });
    props.table.bind(this.recheck, 'readWrite');
    this.setEnvironment(this.recheck, ['AUDIENCE_CACHE_TTL_MS']);
    // A failed run is not retried by Lambda: the next one, a minute later, sweeps the same timers.
    this.recheck.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: RECHECK_SETTINGS.maxEventAge });
    const asyncConfig = this.recheck.function.node.tryFindChild('EventInvokeConfig');
    if (!asyncConfig) throw new Error(`${this.recheck.node.path}: expected the EventInvokeConfig construct.`);
    acknowledgeOnResource(
      asyncConfig,
      'Serverless-LambdaAsyncFailureDestination',
      'Failed or expired asynchronous invocations of the recheck already go to its dead-letter queue (DeadLetterConfig, the queue that also takes the schedule target\'s failures, alarmed on depth); an on-failure destination as well would put every failure into that queue twice.',
    );

    // The schedule's own role, trusted by Scheduler for this account's default schedule group
    // only (the confused-deputy conditions of the Scheduler documentation).
    const stack = Stack.of(this);
    this.recheckScheduleRole = new iam.Role(this, 'RecheckScheduleRole', {
      description: `EventBridge Scheduler role of ${this.node.path}/RecheckSchedule: invokes the recheck function only`,
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Aws.ACCOUNT_ID,
            'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
          },
        },
      }),
    });
    this.recheckSchedule = new scheduler.Schedule(this, 'RecheckSchedule', {
      description: 'Runs the audience recheck every minute (time-window exits and entries)',
      schedule: scheduler.ScheduleExpression.rate(RECHECK_SETTINGS.rate),
      timeWindow: scheduler.TimeWindow.off(),
      target: new InvokeUnqualifiedFunction(this.recheck.function, {
        role: this.recheckScheduleRole,
        deadLetterQueue: this.recheckDeadLetterQueue,
        retryAttempts: RECHECK_SETTINGS.schedulerRetryAttempts,
        maxEventAge: RECHECK_SETTINGS.maxEventAge,
      }),
    });
  }

  /** The values of {@link settings}, as the environment variables of `shared/config.ts`. */
  get environment(): Record<AudienceEnvironmentKey, string> {
    return {
      BACKFILL_SEGMENTS: String(this.settings.backfillSegments),
      BACKFILL_DELAY_SECONDS: String(this.settings.backfillDelaySeconds),
      AUDIENCE_CACHE_TTL_MS: String(this.settings.audienceCacheTtlMs),
    };
  }

  /** Adds the audiences section to the dashboard and its alarms. */
  monitor(monitoring: Monitoring): void {
    const period = Duration.minutes(1);
    // Powertools Metrics (EMF): namespace Engage, dimension `service` = the emitting function.
    const metricOf = (serviceName: string) => (metricName: string, statistic: string, label: string): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: serviceName }, statistic, period, label });
    const evaluatorMetric = metricOf(this.router.serviceName);
    // Transitions are counted where they are published, so every source (events, time, backfill) shows.
    const outboxMetric = metricOf(this.outbox.serviceName);
    const outbox = this.outbox.function;
    const backfill = this.backfillWorker.function;
    const recheck = this.recheck.function;
    const depth = (queue: sqs.IQueue, label: string): cloudwatch.Metric =>
      queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label });

    monitoring.addSection('Audiences', [
      new cloudwatch.GraphWidget({
        title: 'Audience evaluation lag (change to membership written)',
        left: [
          evaluatorMetric('AudienceEvaluationLag', 'p50', 'Lag p50'),
          evaluatorMetric('AudienceEvaluationLag', 'p99', 'Lag p99'),
        ],
        leftYAxis: { label: 'ms', showUnits: false, min: 0 },
        right: [evaluatorMetric('AudienceEvaluations', 'Sum', 'Evaluations')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Membership transitions',
        left: [
          outboxMetric('AudienceEntered', 'Sum', 'Entered'),
          outboxMetric('AudienceExited', 'Sum', 'Exited'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Outbox iterator age',
        left: [outbox.metric('IteratorAge', { period, statistic: 'Maximum', label: 'Iterator age (max)' })],
        leftYAxis: { label: 'ms', showUnits: false },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Outbox',
        left: [
          outbox.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          outbox.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
        ],
        right: [depth(this.outboxOnFailureQueue, 'On-failure queue')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Backfill queue',
        left: [depth(this.backfillQueue, 'Waiting'), depth(this.backfillDeadLetterQueue, 'Dead-letter queue')],
        right: [
          this.backfillQueue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'Oldest message age' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Backfill worker',
        left: [
          backfill.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          backfill.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
        ],
        right: [backfill.metricDuration({ period, statistic: 'p99', label: 'Duration p99' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Recheck',
        left: [
          recheck.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          recheck.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
          recheck.metricThrottles({ period, statistic: 'Sum', label: 'Throttles (previous run still going)' }),
          depth(this.recheckDeadLetterQueue, 'Dead-letter queue'),
        ],
        right: [recheck.metricDuration({ period, statistic: 'Maximum', label: 'Duration (max)' })],
        width: 8,
      }),
    ]);

    monitoring.addIteratorAgeAlarm('OutboxIteratorAge', outbox, {
      description: 'The outbox is more than 60 s behind the table stream for 5 minutes: Audience Entered/Exited events are late.',
    });
    monitoring.addDlqAlarm('OutboxOnFailureQueueDepth', this.outboxOnFailureQueue, {
      description: 'An outbox batch was given up on after every retry: its membership events were not published. See the outbox on-failure queue.',
    });
    monitoring.addDlqAlarm('BackfillDlqDepth', this.backfillDeadLetterQueue, {
      description: 'A backfill message failed 5 times: its audience may stay "building". See the backfill dead-letter queue.',
    });
    monitoring.addDlqAlarm('RecheckDlqDepth', this.recheckDeadLetterQueue, {
      description: 'A recheck run could not be invoked or started within 5 minutes: time-window exits may be late. See the recheck dead-letter queue.',
    });
    monitoring.addFunctionErrorsAlarm('RecheckErrors', recheck, {
      description: 'The audience recheck failed: memberships that change with time are not updated until a run succeeds.',
    });
  }

  /** Sets `QUEUE_URL_BACKFILL` and allows sending to the queue, in one call. */
  private bindBackfillQueue(fn: EngageFunction): void {
    fn.addEnvironment(BACKFILL_QUEUE_URL_ENV, this.backfillQueue.queueUrl);
    this.backfillQueue.grantSendMessages(fn);
  }

  private setEnvironment(fn: EngageFunction, keys: readonly AudienceEnvironmentKey[]): void {
    const environment = this.environment;
    for (const key of keys) fn.addEnvironment(key, environment[key]);
  }
}
