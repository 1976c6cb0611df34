import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  /**
   * Dashboard name.
   * @default - `Engage-<stack name>`
   */
  readonly dashboardName?: string;
}

/** Options shared by the alarm helpers. */
export interface EngageAlarmOptions {
  /**
   * Alarm description shown in the console and in notifications.
   * @default - a description generated from the metric and threshold
   */
  readonly description?: string;
}

/**
 * The deployment's CloudWatch dashboard, its alarms and the (encrypted) SNS topic every alarm
 * notifies. Feature constructs add their own section of widgets and their alarms through the
 * methods here, so the dashboard grows with the features without this file knowing them.
 *
 * @example
 * monitoring.addSection('Broadcasts', [new cloudwatch.GraphWidget({ ... })]);
 * monitoring.addDlqAlarm('SendDlqDepth', sendDlq);
 */
export class Monitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm notifies this topic on ALARM and OK: subscribe email, chat or paging to it. */
  readonly alarmTopic: sns.Topic;
  /** Customer managed key of the alarm topic (CloudWatch cannot publish to aws/sns-encrypted topics). */
  readonly alarmTopicKey: kms.Key;
  private readonly alarmList: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `Engage-${stack.stackName}`,
      defaultInterval: Duration.hours(3),
    });

    // CloudWatch alarms can only publish to an encrypted topic whose key policy lets the
    // CloudWatch service use the key, which the AWS managed aws/sns key does not allow. The
    // statement is the one the SNS documentation gives for CloudWatch ("Enable compatibility
    // between event sources from AWS services and encrypted topics"); in a key policy,
    // Resource "*" means this key only.
    this.alarmTopicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts the alarm topic of ${stack.stackName}`,
      enableKeyRotation: true,
    });
    this.alarmTopicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Engage alarms (${stack.stackName})`,
      masterKey: this.alarmTopicKey,
      enforceSSL: true,
    });
  }

  /** Alarms created so far (through these helpers or {@link addAlarm}). */
  get alarms(): readonly cloudwatch.Alarm[] {
    return this.alarmList;
  }

  /** The console URL of the dashboard, built with the deployment region. */
  get dashboardUrl(): string {
    return `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${this.dashboard.dashboardName}`;
  }

  /** Adds one row of widgets. */
  addWidgets(...widgets: cloudwatch.IWidget[]): void {
    this.dashboard.addWidgets(...widgets);
  }

  /** Adds a titled section: a header row and then the widgets (wrapped into rows of 24 units). */
  addSection(title: string, widgets: cloudwatch.IWidget[]): void {
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## ${title}`, width: 24, height: 1 }));
    let row: cloudwatch.IWidget[] = [];
    let width = 0;
    for (const widget of widgets) {
      if (width + widget.width > 24 && row.length > 0) {
        this.dashboard.addWidgets(new cloudwatch.Row(...row));
        row = [];
        width = 0;
      }
      row.push(widget);
      width += widget.width;
    }
    if (row.length > 0) this.dashboard.addWidgets(new cloudwatch.Row(...row));
  }

  /** Wires an alarm (created anywhere) to the alarm topic and records it. */
  addAlarm(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    const action = new cwActions.SnsAction(this.alarmTopic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarmList.push(alarm);
    return alarm;
  }

  /** Alarm as soon as one message waits in a dead-letter or on-failure queue. */
  addDlqAlarm(id: string, queue: sqs.IQueue, options: EngageAlarmOptions = {}): cloudwatch.Alarm {
    return this.addAlarm(
      new cloudwatch.Alarm(this, id, {
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription:
          options.description ?? 'Messages are waiting in a dead-letter queue: processing failed after every retry.',
      }),
    );
  }

  /**
   * Alarm when a stream or queue consumer falls behind: iterator age above `threshold` for
   * `minutes` consecutive minutes.
   */
  addIteratorAgeAlarm(
    id: string,
    fn: lambda.IFunction,
    options: EngageAlarmOptions & { threshold?: Duration; minutes?: number } = {},
  ): cloudwatch.Alarm {
    const threshold = options.threshold ?? Duration.seconds(60);
    const minutes = options.minutes ?? 5;
    return this.addAlarm(
      new cloudwatch.Alarm(this, id, {
        metric: fn.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: threshold.toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: minutes,
        datapointsToAlarm: minutes,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription:
          options.description ??
          `Stream consumer is behind: iterator age above ${threshold.toSeconds()} s for ${minutes} minutes.`,
      }),
    );
  }

  /** Alarm on any function error (an unhandled exception, a timeout or an out-of-memory) in 5 minutes. */
  addFunctionErrorsAlarm(id: string, fn: lambda.IFunction, options: EngageAlarmOptions = {}): cloudwatch.Alarm {
    return this.addAlarm(
      new cloudwatch.Alarm(this, id, {
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: options.description ?? 'A function failed (error, timeout or out of memory).',
      }),
    );
  }
}
