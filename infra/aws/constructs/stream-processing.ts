import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeOnResource } from '../nag';
import type { DataTable } from './data-table';
import { EngageFunction } from './engage-function';
import type { Monitoring } from './monitoring';

export interface StreamProcessingProps {
  /** The single table whose stream is consumed; the consumer gets read-write access. */
  readonly table: DataTable;
  /** Days an event is kept (`EVENT_RETENTION_DAYS`), for items the consumer writes. */
  readonly eventRetentionDays: number;
}

/** Event source mapping settings of the table stream consumer (exported for tests and docs). */
export const STREAM_CONSUMER_SETTINGS = {
  batchSize: 100,
  retryAttempts: 10,
  maxRecordAge: Duration.days(1),
  parallelizationFactor: 2,
} as const;

/**
 * The router of the table stream: identity merges, erasure and audience evaluation, all in this
 * one function rather than in readers of their own, because a DynamoDB stream should have at
 * most two readers (more are throttled) and the second one is the outbox, which publishes to
 * EventBridge (`audiences.ts`; ARCHITECTURE.md "The stream is the outbox").
 *
 * Failures: the handler reports partial batch failures; a failing batch is bisected and retried
 * up to 10 times or for a day, and then its description goes to an encrypted SQS queue
 * (records themselves stay in the stream for 24 hours only).
 */
export class StreamProcessing extends Construct {
  readonly consumer: EngageFunction;
  /** Receives a description (shard, sequence numbers) of every batch given up on. */
  readonly onFailureQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: StreamProcessingProps) {
    super(scope, id);

    this.onFailureQueue = new sqs.Queue(this, 'OnFailureQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeOnResource(
      this.onFailureQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter (on-failure) destination of the table stream consumer; nothing consumes it automatically, an operator inspects and redrives it.',
    );
    acknowledgeOnResource(
      this.onFailureQueue,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the dead-letter (on-failure) destination of the table stream consumer; a redrive policy on a DLQ would only move failures further away.',
    );

    this.consumer = new EngageFunction(this, 'ConsumerFunction', {
      entry: 'functions/stream/handler.ts',
      serviceName: 'stream',
      description: 'Table stream router: identity merges, erasure, audience evaluation',
      memorySize: 1024,
      // A batch of 100 records may touch as many profiles; well below the 15-minute ceiling.
      timeout: Duration.seconds(60),
      environment: { EVENT_RETENTION_DAYS: String(props.eventRetentionDays) },
      wildcardResourceReasons: [
        'dynamodb:ListStreams, which the DynamoDB event source mapping needs (the other stream actions are scoped to this table\'s stream ARN)',
      ],
    });
    props.table.bind(this.consumer, 'readWrite');

    this.consumer.function.addEventSource(
      new DynamoEventSource(props.table.table, {
        ...STREAM_CONSUMER_SETTINGS,
        // TRIM_HORIZON rather than LATEST: when the mapping is created or replaced, records
        // written in between are processed instead of skipped (nothing is lost, SPEC.md
        // section 4). Replaying is safe because every consumer is idempotent.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.onFailureQueue),
      }),
    );
  }

  /** Adds the stream-processing section to the dashboard and its alarms. */
  monitor(monitoring: Monitoring): void {
    const period = Duration.minutes(1);
    const fn = this.consumer.function;
    monitoring.addSection('Stream processing', [
      new cloudwatch.GraphWidget({
        title: 'Stream consumer iterator age',
        left: [fn.metric('IteratorAge', { period, statistic: 'Maximum', label: 'Iterator age (max)' })],
        leftYAxis: { label: 'ms', showUnits: false },
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Stream consumer',
        left: [
          fn.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          fn.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
          fn.metricThrottles({ period, statistic: 'Sum', label: 'Throttles' }),
        ],
        right: [fn.metricDuration({ period, statistic: 'p99', label: 'Duration p99' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Stream on-failure queue depth',
        left: [
          this.onFailureQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'Messages' }),
        ],
        width: 8,
      }),
    ]);
    monitoring.addIteratorAgeAlarm('StreamIteratorAge', fn, {
      description: 'The table stream consumer is more than 60 s behind for 5 minutes: audiences and merges lag.',
    });
    monitoring.addDlqAlarm('StreamOnFailureQueueDepth', this.onFailureQueue, {
      description: 'A table stream batch was given up on after every retry: see the on-failure queue.',
    });
  }
}
