import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeOnResource } from '../nag';
import { onlyEventSourceMapping } from './audiences';
import type { DataTable } from './data-table';
import { EngageFunction, METRICS_NAMESPACE } from './engage-function';
import type { Monitoring } from './monitoring';

/** Spelled as `queueUrlEnvVar('send' | 'feedback')` in `shared/aws/sqs/queue.ts` (a test checks it). */
export const SEND_QUEUE_URL_ENV = 'QUEUE_URL_SEND';
export const FEEDBACK_QUEUE_URL_ENV = 'QUEUE_URL_FEEDBACK';

/** Sender function and send queue settings (exported for tests and docs). */
export const SENDER_SETTINGS = {
  timeout: Duration.seconds(60),
  batchSize: 10,
  /**
   * More receives than the other queues: a message whose claim is still held (a sender that
   * died after the provider call) fails until the claim grace has passed, which must happen
   * before the message is dead-lettered: 10 receives x 6 min visibility > 10 min grace.
   */
  maxReceiveCount: 10,
  /** `CLAIM_GRACE_SECONDS`: how long a claim blocks other senders (shared/config.ts default). */
  claimGrace: Duration.seconds(600),
} as const;

/** Delivery feedback function and queue settings (exported for tests and docs). */
export const FEEDBACK_SETTINGS = {
  timeout: Duration.seconds(30),
  batchSize: 10,
  maxReceiveCount: 5,
  /** How long EventBridge retries delivering an SES event to the queue before dead-lettering it. */
  ruleMaxEventAge: Duration.hours(24),
  ruleRetryAttempts: 185,
} as const;

/** The SES events the configuration set sends to EventBridge (the feedback function's input). */
export const SES_EVENT_TYPES: readonly ses.EmailSendingEvent[] = [
  ses.EmailSendingEvent.SEND,
  ses.EmailSendingEvent.DELIVERY,
  ses.EmailSendingEvent.BOUNCE,
  ses.EmailSendingEvent.COMPLAINT,
  ses.EmailSendingEvent.OPEN,
  ses.EmailSendingEvent.CLICK,
  ses.EmailSendingEvent.REJECT,
  ses.EmailSendingEvent.RENDERING_FAILURE,
];

/** SES reputation alarm thresholds (AWS/SES `Reputation.*`, a ratio): SES reviews an account above them. */
export const SES_REPUTATION_THRESHOLDS = { bounceRate: 0.05, complaintRate: 0.001 } as const;

/** Length of the generated HMAC key of unsubscribe tokens (letters and digits: about 380 bits). */
export const UNSUBSCRIBE_KEY_LENGTH = 64;

export interface MessagingProps {
  /** The single table: the sender and the feedback function get read-write access. */
  readonly table: DataTable;
  /**
   * `engage:senderEmail`: the From address, or a domain (then the From address is
   * `no-reply@<domain>`). Its SES identity is verified by the user, never created here.
   */
  readonly senderEmail: string;
  /** `engage:smsOriginationIdentity`: a phone number or pool id, or an ARN; empty disables SMS. */
  readonly smsOriginationIdentity: string;
  /** `engage:accountSendRatePerSecond` (`ACCOUNT_SEND_RATE`). */
  readonly accountSendRatePerSecond: number;
  /** `engage:senderMaxConcurrency`: maximum concurrency of the send queue's mapping. */
  readonly senderMaxConcurrency: number;
  /** `engage:sesConfigurationSetName`. */
  readonly sesConfigurationSetName: string;
  /** Base URL of the HTTP API (`PUBLIC_API_URL`), for the unsubscribe links the sender signs. */
  readonly publicApiUrl: string;
}

/** Environment variables a function that sends email or SMS reads (see {@link Messaging.grantSending}). */
type SendingEnvironmentKey = 'SENDER_EMAIL' | 'SES_CONFIGURATION_SET' | 'SMS_ORIGINATION_IDENTITY' | 'UNSUBSCRIBE_KEY_SECRET_ARN';

/** The From address for `engage:senderEmail`: the address itself, or `no-reply@<domain>`. */
export function fromAddress(senderEmail: string): string {
  return senderEmail.includes('@') ? senderEmail : `no-reply@${senderEmail}`;
}

/**
 * The SES identities a From address may be authorised through: its domain and the address
 * itself (SES uses the address identity when that one is verified, else the domain's).
 * @example sesIdentities('no-reply@example.com') // ['example.com', 'no-reply@example.com']
 * @example sesIdentities('example.com') // ['example.com']
 */
export function sesIdentities(senderEmail: string): string[] {
  const at = senderEmail.lastIndexOf('@');
  return at === -1 ? [senderEmail] : [senderEmail.slice(at + 1), senderEmail];
}

/**
 * The ARN of an End User Messaging origination identity: an ARN as it is, a phone number id
 * (`phone-…`) or a pool id (`pool-…`) in this account and region (settings.ts refuses other forms).
 */
export function smsOriginationIdentityArn(stack: Stack, identity: string): string {
  if (identity.startsWith('arn:')) return identity;
  const resource = identity.startsWith('phone-') ? 'phone-number' : 'pool';
  return stack.formatArn({ service: 'sms-voice', resource, resourceName: identity });
}

/** Reason of the one finding every SQS event source mapping has. */
export function sqsMappingDestinationReason(queue: string, maxReceiveCount: number): string {
  return `An SQS event source mapping takes no on-failure destination (only stream and Kafka sources do): a message that fails ${maxReceiveCount} receives moves to the ${queue} dead-letter queue through the queue's redrive policy, which is alarmed.`;
}

/**
 * A work queue read by a function, and its dead-letter queue: SSE, TLS only, 14 days of
 * retention on both (an expired message would vanish without an alarm, a dead-lettered one
 * alarms), a visibility timeout of six times the consumer's timeout (Lambda's advice).
 */
export function workQueue(
  scope: Construct,
  id: string,
  options: { consumerTimeout: Duration; maxReceiveCount: number },
): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const deadLetterQueue = new sqs.Queue(scope, `${id}DeadLetterQueue`, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledgeOnResource(
    deadLetterQueue,
    'Serverless-SQSRedrivePolicy',
    `This queue is itself the dead-letter queue of the ${id.toLowerCase()} queue; a redrive policy on a DLQ would only move failures further away (an operator redrives it after a fix).`,
  );
  const queue = new sqs.Queue(scope, `${id}Queue`, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    visibilityTimeout: Duration.seconds(options.consumerTimeout.toSeconds() * 6),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: options.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}

/**
 * The send pipeline shared by broadcasts and journeys (SPEC.md section 3, issue 4):
 *
 * - the **send queue** and the **sender**: one recipient per message, claimed with a
 *   conditional write before the provider call, then SESv2 `SendEmail` (through the
 *   configuration set) or End User Messaging `SendTextMessage`, paced by a table-backed rate
 *   limiter shared by every sender (`ACCOUNT_SEND_RATE`) and bounded by the mapping's maximum
 *   concurrency. IAM names the sender identity and the configuration set, nothing else;
 * - the **SES configuration set** (reputation metrics, account-style suppression of bounces
 *   and complaints) whose event destination is the account's default EventBridge bus (SES can
 *   publish to no other), and a rule there that forwards this configuration set's events to
 *   the **feedback queue** and function: delivery statuses, counts and the suppression list;
 * - the **unsubscribe key**: generated in Secrets Manager, read by whoever signs or verifies
 *   unsubscribe tokens.
 *
 * The SES identity (the domain or address of `engage:senderEmail`) is not created here: the
 * user verifies it (DKIM records in their DNS), which a stack cannot do for them.
 *
 * @example
 * const messaging = new Messaging(this, 'Messaging', { table, ...settings, publicApiUrl: ingestion.url });
 * messaging.grantSending(ingestion.apiFunction); // test sends, unsubscribe routes
 * messaging.monitor(monitoring);
 */
export class Messaging extends Construct {
  /** The From address (`SENDER_EMAIL`). */
  readonly fromAddress: string;
  readonly unsubscribeKeySecret: secretsmanager.Secret;
  readonly configurationSet: ses.ConfigurationSet;
  readonly configurationSetArn: string;
  readonly sendQueue: sqs.Queue;
  readonly sendDeadLetterQueue: sqs.Queue;
  readonly sender: EngageFunction;
  readonly feedbackQueue: sqs.Queue;
  /** Feedback messages that failed 5 receives, and SES events EventBridge could not deliver to the queue. */
  readonly feedbackDeadLetterQueue: sqs.Queue;
  readonly feedback: EngageFunction;
  /** The rule on the default bus that forwards this configuration set's SES events to the feedback queue. */
  readonly feedbackRule: events.Rule;
  readonly smsFeedbackRule: events.Rule;
  private readonly props: MessagingProps;
  private readonly sesIdentityArns: string[];
  private readonly smsIdentityArn: string | undefined;

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    this.props = props;
    const stack = Stack.of(this);

    this.fromAddress = fromAddress(props.senderEmail);
    this.sesIdentityArns = sesIdentities(props.senderEmail).map((identity) =>
      stack.formatArn({ service: 'ses', resource: 'identity', resourceName: identity }),
    );
    this.smsIdentityArn = props.smsOriginationIdentity === '' ? undefined : smsOriginationIdentityArn(stack, props.smsOriginationIdentity);

    // ---- Unsubscribe key ----------------------------------------------------------------
    this.unsubscribeKeySecret = new secretsmanager.Secret(this, 'UnsubscribeKey', {
      description: 'Engage unsubscribe key: HMAC key of the signed one-click unsubscribe links (RFC 8058).',
      generateSecretString: { excludePunctuation: true, includeSpace: false, passwordLength: UNSUBSCRIBE_KEY_LENGTH },
    });
    acknowledgeOnResource(
      this.unsubscribeKeySecret,
      'AwsSolutions-SMG4',
      'The unsubscribe key signs the links in every email already sent, which must keep working for months (CAN-SPAM: at least 30 days; recipients click old mail); an automatic rotation would turn every outstanding link into a 400. It is rotated by hand, deliberately, knowing old links stop working.',
    );

    // ---- SES configuration set and its events -------------------------------------------
    this.configurationSet = new ses.ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName: props.sesConfigurationSetName,
      reputationMetrics: true,
      sendingEnabled: true,
      // Hard bounces and complaints also go on the account's suppression list (the engine
      // keeps its own list too, which covers SMS and other senders of the account).
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
    });
    this.configurationSetArn = stack.formatArn({
      service: 'ses',
      resource: 'configuration-set',
      resourceName: this.configurationSet.configurationSetName,
    });
    // SES publishes only to the default bus: the rule below takes this configuration set's
    // events from there (and the outbox republishes `Message *` on the Engage bus).
    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    this.configurationSet.addEventDestination('ToEventBridge', {
      destination: ses.EventDestination.eventBus(defaultBus),
      events: [...SES_EVENT_TYPES],
    });

    // ---- Send queue and sender ----------------------------------------------------------
    ({ queue: this.sendQueue, deadLetterQueue: this.sendDeadLetterQueue } = workQueue(this, 'Send', {
      consumerTimeout: SENDER_SETTINGS.timeout,
      maxReceiveCount: SENDER_SETTINGS.maxReceiveCount,
    }));

    this.sender = new EngageFunction(this, 'SenderFunction', {
      entry: 'functions/sender/handler.ts',
      serviceName: 'sender',
      description: 'Sender: one recipient per message, claimed before the SES / SMS call (exactly-once sends)',
      timeout: SENDER_SETTINGS.timeout,
      environment: {
        PUBLIC_API_URL: props.publicApiUrl,
        ACCOUNT_SEND_RATE: String(props.accountSendRatePerSecond),
        CLAIM_GRACE_SECONDS: String(SENDER_SETTINGS.claimGrace.toSeconds()),
      },
    });
    // Read-write: claims, send records, the message log, the rate limiter's counters.
    props.table.bind(this.sender, 'readWrite');
    // It re-queues deferred messages (rate limit, local-time recipients) onto its own queue.
    this.bindSendQueue(this.sender);
    this.grantSending(this.sender);
    this.sender.function.addEventSource(
      new SqsEventSource(this.sendQueue, {
        batchSize: SENDER_SETTINGS.batchSize,
        reportBatchItemFailures: true,
        // With the rate limiter, bounds what all senders together ask of SES and the table.
        maxConcurrency: props.senderMaxConcurrency,
      }),
    );
    acknowledgeOnResource(
      onlyEventSourceMapping(this.sender),
      'Serverless-LambdaEventSourceMappingDestination',
      sqsMappingDestinationReason('send', SENDER_SETTINGS.maxReceiveCount),
    );

    // ---- Feedback -----------------------------------------------------------------------
    ({ queue: this.feedbackQueue, deadLetterQueue: this.feedbackDeadLetterQueue } = workQueue(this, 'Feedback', {
      consumerTimeout: FEEDBACK_SETTINGS.timeout,
      maxReceiveCount: FEEDBACK_SETTINGS.maxReceiveCount,
    }));
    this.feedbackRule = new events.Rule(this, 'FeedbackRule', {
      description: `SES events of the configuration set ${props.sesConfigurationSetName} to the Engage feedback queue`,
      eventBus: defaultBus,
      eventPattern: {
        source: ['aws.ses'],
        detail: { mail: { tags: { 'ses:configuration-set': [this.configurationSet.configurationSetName] } } },
      },
    });
    // The target adds the queue policy statement: events.amazonaws.com, aws:SourceArn = this rule.
    this.feedbackRule.addTarget(
      new targets.SqsQueue(this.feedbackQueue, {
        // Undeliverable events wait in the feedback DLQ with the failed messages: the same
        // envelope, so one redrive to the feedback queue replays both.
        deadLetterQueue: this.feedbackDeadLetterQueue,
        maxEventAge: FEEDBACK_SETTINGS.ruleMaxEventAge,
        retryAttempts: FEEDBACK_SETTINGS.ruleRetryAttempts,
      }),
    );

    // End User Messaging SMS sends delivery events to the default bus itself (no configuration
    // set needed); only ours carry the sender's context tag.
    this.smsFeedbackRule = new events.Rule(this, 'SmsFeedbackRule', {
      description: 'End User Messaging SMS delivery events of Engage messages to the Engage feedback queue',
      eventBus: defaultBus,
      eventPattern: {
        source: ['aws.sms-voice'],
        detailType: ['Text Message Delivery Status Updated'],
        detail: { context: { engage_message: [{ exists: true }] } },
      },
    });
    this.smsFeedbackRule.addTarget(
      new targets.SqsQueue(this.feedbackQueue, {
        deadLetterQueue: this.feedbackDeadLetterQueue,
        maxEventAge: FEEDBACK_SETTINGS.ruleMaxEventAge,
        retryAttempts: FEEDBACK_SETTINGS.ruleRetryAttempts,
      }),
    );

    this.feedback = new EngageFunction(this, 'FeedbackFunction', {
      entry: 'functions/messaging-feedback/handler.ts',
      serviceName: 'messaging-feedback',
      description: 'SES and SMS delivery feedback: message statuses, broadcast counts, suppression of bounces and complaints',
      timeout: FEEDBACK_SETTINGS.timeout,
    });
    props.table.bind(this.feedback, 'readWrite');
    this.feedback.function.addEventSource(
      new SqsEventSource(this.feedbackQueue, { batchSize: FEEDBACK_SETTINGS.batchSize, reportBatchItemFailures: true }),
    );
    acknowledgeOnResource(
      onlyEventSourceMapping(this.feedback),
      'Serverless-LambdaEventSourceMappingDestination',
      sqsMappingDestinationReason('feedback', FEEDBACK_SETTINGS.maxReceiveCount),
    );
  }

  /** The sending settings, as the environment variables of `shared/config.ts`. */
  get sendingEnvironment(): Record<SendingEnvironmentKey, string> {
    return {
      SENDER_EMAIL: this.fromAddress,
      SES_CONFIGURATION_SET: this.configurationSet.configurationSetName,
      SMS_ORIGINATION_IDENTITY: this.props.smsOriginationIdentity,
      UNSUBSCRIBE_KEY_SECRET_ARN: this.unsubscribeKeySecret.secretArn,
    };
  }

  /**
   * Lets `fn` send email and SMS as the sender does, and sets what it needs to, in one call:
   * `ses:SendEmail` as the sender identity through the configuration set only;
   * `sms-voice:SendTextMessage` from the origination identity only (nothing when SMS is
   * disabled); read access to the unsubscribe key, which signs and verifies the links.
   */
  grantSending(fn: EngageFunction): void {
    for (const [key, value] of Object.entries(this.sendingEnvironment)) fn.addEnvironment(key, value);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ses:SendEmail'],
        resources: [...this.sesIdentityArns, this.configurationSetArn],
      }),
    );
    if (this.smsIdentityArn !== undefined) {
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sms-voice:SendTextMessage'], resources: [this.smsIdentityArn] }),
      );
    }
    this.unsubscribeKeySecret.grantRead(fn);
  }

  /** Sets `QUEUE_URL_SEND` and allows sending to the send queue, in one call. */
  bindSendQueue(fn: EngageFunction): void {
    fn.addEnvironment(SEND_QUEUE_URL_ENV, this.sendQueue.queueUrl);
    this.sendQueue.grantSendMessages(fn);
  }

  /** Adds the messaging section to the dashboard and its alarms. */
  monitor(monitoring: Monitoring): void {
    const period = Duration.minutes(1);
    const emf = (serviceName: string, metricName: string, label: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: serviceName },
        statistic: 'Sum',
        period,
        label,
      });
    // Message events are counted where they are published (the outbox), whichever path sent them.
    const outbox = 'outbox';
    const depth = (queue: sqs.IQueue, label: string): cloudwatch.Metric =>
      queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label });
    const sender = this.sender.function;
    const feedback = this.feedback.function;
    // Account-level reputation (no dimension): what SES reviews the account on.
    const reputation = (metricName: string, label?: string): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: 'AWS/SES', metricName, statistic: 'Maximum', period: Duration.minutes(15), label });

    monitoring.addSection('Messaging', [
      new cloudwatch.GraphWidget({
        title: 'Messages',
        left: [
          emf(outbox, 'MessageSent', 'Sent'),
          emf(outbox, 'MessageDelivered', 'Delivered'),
          emf(outbox, 'MessageBounced', 'Bounced'),
          emf(outbox, 'MessageComplained', 'Complained'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Sender outcomes',
        left: [
          emf(this.sender.serviceName, 'Send_sent', 'Sent'),
          emf(this.sender.serviceName, 'Send_skipped', 'Skipped'),
          emf(this.sender.serviceName, 'Send_failed', 'Failed'),
          emf(this.sender.serviceName, 'Send_deferred', 'Deferred (rate, local time)'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'SES reputation',
        left: [reputation('Reputation.BounceRate', 'Bounce rate'), reputation('Reputation.ComplaintRate', 'Complaint rate')],
        leftAnnotations: [
          { value: SES_REPUTATION_THRESHOLDS.bounceRate, label: 'Bounce alarm' },
          { value: SES_REPUTATION_THRESHOLDS.complaintRate, label: 'Complaint alarm' },
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Send queue',
        left: [depth(this.sendQueue, 'Waiting'), depth(this.sendDeadLetterQueue, 'Dead-letter queue')],
        right: [this.sendQueue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'Oldest message age' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Sender',
        left: [
          sender.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          sender.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
          sender.metricThrottles({ period, statistic: 'Sum', label: 'Throttles' }),
        ],
        right: [sender.metricDuration({ period, statistic: 'p99', label: 'Duration p99' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Delivery feedback',
        left: [depth(this.feedbackQueue, 'Waiting'), depth(this.feedbackDeadLetterQueue, 'Dead-letter queue')],
        right: [feedback.metricErrors({ period, statistic: 'Sum', label: 'Function errors' })],
        width: 8,
      }),
    ]);

    monitoring.addDlqAlarm('SendDlqDepth', this.sendDeadLetterQueue, {
      description: 'A send message failed 10 times: its recipient got nothing and its broadcast may never be marked sent. See the send dead-letter queue.',
    });
    monitoring.addDlqAlarm('FeedbackDlqDepth', this.feedbackDeadLetterQueue, {
      description: 'An SES delivery event could not be applied or delivered to the feedback queue: statuses, counts or suppressions are missing. See the feedback dead-letter queue.',
    });
    const reputationAlarm = (id: string, metricName: string, threshold: number, description: string): void => {
      monitoring.addAlarm(
        new cloudwatch.Alarm(this, id, {
          metric: reputation(metricName),
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          // No email sent, no rate: nothing to worry about.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          alarmDescription: description,
        }),
      );
    };
    reputationAlarm(
      'SesBounceRateAlarm',
      'Reputation.BounceRate',
      SES_REPUTATION_THRESHOLDS.bounceRate,
      'The SES account bounce rate is above 5%: SES puts the account under review and may pause sending. Check the audience (stale or bought addresses).',
    );
    reputationAlarm(
      'SesComplaintRateAlarm',
      'Reputation.ComplaintRate',
      SES_REPUTATION_THRESHOLDS.complaintRate,
      'The SES account complaint rate is above 0.1%: SES puts the account under review and may pause sending. Check consent and the unsubscribe link.',
    );
  }
}
