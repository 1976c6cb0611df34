import { type App, CfnResource as CfnResourceConstruct, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import {
  BACKFILL_QUEUE_URL_ENV,
  BACKFILL_WORKER_SETTINGS,
  DEFAULT_AUDIENCE_SETTINGS,
  OUTBOX_SORT_KEY_PREFIXES,
  validateAudienceSettings,
} from '../../infra/aws/constructs/audiences';
import type { EngageStack } from '../../infra/aws/engage-stack';
import { MEMBERSHIP_SK_PREFIX, PROFILE_SK, RUN_SK_PREFIX, TIMER_SK_PREFIX, eventSk } from '../../shared/aws/dynamodb/keys';
import { queueUrlEnvVar } from '../../shared/aws/sqs/queue';
import {
  asArray,
  buildApp,
  type CfnResource,
  logicalIdOf,
  resourcesOf,
  statementsOf,
  statementsOfRole,
} from './helpers';

/** The environment variables of the function whose logical id starts with `prefix`. */
function environmentOf(template: Template, prefix: string): Record<string, unknown> {
  const id = logicalIdOf(template, 'AWS::Lambda::Function', prefix);
  const fn: CfnResource | undefined = template.toJSON().Resources[id];
  return fn?.Properties.Environment.Variables;
}

const ROUTER = 'StreamProcessingConsumerFunction';
const API = 'IngestionApiFunction';
const OUTBOX = 'AudiencesOutboxFunction';
const BACKFILL = 'AudiencesBackfillFunction';
const RECHECK = 'AudiencesRecheckFunction';

describe('Audiences', () => {
  let stack: EngageStack;
  let template: Template;

  beforeAll(() => {
    // Prepare
    ({ stack } = buildApp());
    // Act (also runs the cdk-nag validation plugins)
    template = Template.fromStack(stack);
  });

  describe('the event bus', () => {
    it('is named from engage:eventBusName and is an output', () => {
      template.resourceCountIs('AWS::Events::EventBus', 1);
      template.hasResourceProperties('AWS::Events::EventBus', { Name: 'engage' });
      const busId = logicalIdOf(template, 'AWS::Events::EventBus', 'EventBus');
      template.hasOutput('EventBusName', { Value: { Ref: busId } });
    });

    it('takes another name from the context', () => {
      const { stack: other } = buildApp({ 'engage:eventBusName': 'engage-staging' });
      Template.fromStack(other).hasResourceProperties('AWS::Events::EventBus', { Name: 'engage-staging' });
    });

    it('is named "engage" when the context key is missing', () => {
      const { stack: other } = buildApp({ 'engage:eventBusName': undefined });
      expect(other.settings.eventBusName).toBe('engage');
      Template.fromStack(other).hasResourceProperties('AWS::Events::EventBus', { Name: 'engage' });
    });

    it('is given to the outbox as EVENT_BUS_NAME', () => {
      const busId = logicalIdOf(template, 'AWS::Events::EventBus', 'EventBus');
      expect(environmentOf(template, OUTBOX)).toMatchObject({ EVENT_BUS_NAME: { Ref: busId } });
    });
  });

  describe('the table stream', () => {
    it('has exactly two readers: the router and the outbox', () => {
      const readers = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter(
        (m) => JSON.stringify(m.Properties.EventSourceArn).includes('"StreamArn"'),
      );
      expect(readers).toHaveLength(2);
      const functions = readers.map((m) => String(m.Properties.FunctionName.Ref)).sort();
      expect(functions).toEqual([expect.stringMatching(`^${OUTBOX}`), expect.stringMatching(`^${ROUTER}`)]);
    });
  });

  describe('the outbox', () => {
    it('reads the stream in order with partial failures, bisection, bounded retries and its own on-failure queue', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: Match.stringLikeRegexp(`^${OUTBOX}`) },
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataTable'), 'StreamArn'] },
        BatchSize: 100,
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 86400,
        ParallelizationFactor: 1,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AudiencesOutboxOnFailureQueue'), 'Arn'] } },
        },
      });
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'AudiencesOutboxOnFailureQueue');
      const queue: CfnResource | undefined = template.toJSON().Resources[queueId];
      expect(queue?.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it('is invoked only for memberships, message log entries, journey runs (AUD#, MSG#, JRUN#) and broadcast items', () => {
      const [mapping] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: Match.stringLikeRegexp(`^${OUTBOX}`) } },
      });
      const filters: Array<{ Pattern: string }> = mapping?.Properties.FilterCriteria.Filters;
      // Lambda ORs the filters of a mapping.
      expect(filters.map((f) => JSON.parse(f.Pattern))).toEqual([
        { dynamodb: { Keys: { sk: { S: [{ prefix: 'AUD#' }, { prefix: 'MSG#' }, { prefix: 'JRUN#' }] } } } },
        { dynamodb: { Keys: { pk: { S: [{ prefix: 'BROADCAST#' }] }, sk: { S: ['BROADCAST'] } } } },
      ]);
      // Journey runs are the items the journey store writes under the profile.
      expect(RUN_SK_PREFIX).toBe('JRUN#');
    });

    it('lets memberships through and keeps timers, profiles and events out', () => {
      const passes = (sk: string) => OUTBOX_SORT_KEY_PREFIXES.some((prefix) => sk.startsWith(prefix));
      expect(OUTBOX_SORT_KEY_PREFIXES).toContain(MEMBERSHIP_SK_PREFIX);
      expect(passes(`${MEMBERSHIP_SK_PREFIX}a1`)).toBe(true);
      expect(passes(`${TIMER_SK_PREFIX}a1`)).toBe(false);
      expect(passes(PROFILE_SK)).toBe(false);
      expect(passes(eventSk('m1'))).toBe(false);
    });
  });

  describe('the backfill', () => {
    it('has an SSE, SSL-only queue with a visibility timeout of at least 6x the worker timeout and a redrive after 5 receives', () => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'AudiencesBackfillQueue');
      const dlqId = logicalIdOf(template, 'AWS::SQS::Queue', 'AudiencesBackfillDeadLetterQueue');
      const worker = resourcesOf(template, 'AWS::Lambda::Function').find((f) =>
        JSON.stringify(f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).includes('audience-backfill'),
      );
      expect(worker?.Properties.Timeout).toBe(300);
      const queue: CfnResource | undefined = template.toJSON().Resources[queueId];
      expect(queue?.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
      });
      expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 300);
      const dlq: CfnResource | undefined = template.toJSON().Resources[dlqId];
      expect(dlq?.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it.each(['AudiencesBackfillQueue', 'AudiencesBackfillDeadLetterQueue', 'AudiencesOutboxOnFailureQueue', 'AudiencesRecheckDeadLetterQueue'])(
      'refuses non-TLS access to %s',
      (prefix) => {
        const queueId = logicalIdOf(template, 'AWS::SQS::Queue', prefix);
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueId }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            ]),
          },
        });
      },
    );

    it('feeds the worker 10 messages at a time, at most 5 batches at once, with partial failures', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: Match.stringLikeRegexp(`^${BACKFILL}`) },
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AudiencesBackfillQueue'), 'Arn'] },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
      expect(BACKFILL_WORKER_SETTINGS).toMatchObject({ batchSize: 10, maxConcurrency: 5, maxReceiveCount: 5 });
    });

    it.each([
      [ROUTER, 'the router (which enqueues backfills)'],
      [BACKFILL, 'the worker (which sends continuations)'],
    ])('lets %s send to the queue and names it in QUEUE_URL_BACKFILL (%s)', (prefix) => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'AudiencesBackfillQueue');
      expect(environmentOf(template, prefix)).toMatchObject({ [BACKFILL_QUEUE_URL_ENV]: { Ref: queueId } });
      const role = logicalIdOf(template, 'AWS::IAM::Role', `${prefix}ServiceRole`);
      const sends = statementsOfRole(template, role).filter(
        (s) => asArray(s.Action).includes('sqs:SendMessage') && JSON.stringify(s.Resource).includes(`"${queueId}"`),
      );
      expect(sends).toHaveLength(1);
    });

    it('spells the queue URL variable as the SQS adapter reads it', () => {
      expect(BACKFILL_QUEUE_URL_ENV).toBe(queueUrlEnvVar('backfill'));
    });
  });

  describe('shared audience settings', () => {
    it('give the router and the API the same BACKFILL_SEGMENTS', () => {
      const router = environmentOf(template, ROUTER);
      const api = environmentOf(template, API);
      expect(router.BACKFILL_SEGMENTS).toBe(String(DEFAULT_AUDIENCE_SETTINGS.backfillSegments));
      expect(api.BACKFILL_SEGMENTS).toBe(router.BACKFILL_SEGMENTS);
      expect(environmentOf(template, BACKFILL).BACKFILL_SEGMENTS).toBe(router.BACKFILL_SEGMENTS);
    });

    it('give every audience function the same AUDIENCE_CACHE_TTL_MS, and the backfill senders the same delay', () => {
      const ttl = String(DEFAULT_AUDIENCE_SETTINGS.audienceCacheTtlMs);
      for (const prefix of [ROUTER, API, BACKFILL, RECHECK]) {
        expect(environmentOf(template, prefix).AUDIENCE_CACHE_TTL_MS).toBe(ttl);
      }
      const delay = String(DEFAULT_AUDIENCE_SETTINGS.backfillDelaySeconds);
      expect(environmentOf(template, ROUTER).BACKFILL_DELAY_SECONDS).toBe(delay);
      expect(environmentOf(template, BACKFILL).BACKFILL_DELAY_SECONDS).toBe(delay);
    });

    it('give the API no backfill queue (the router enqueues)', () => {
      expect(environmentOf(template, API)[BACKFILL_QUEUE_URL_ENV]).toBeUndefined();
    });

    it.each([
      [{ backfillSegments: 0 }, 'backfillSegments'],
      [{ backfillSegments: 1.5 }, 'backfillSegments'],
      [{ backfillDelaySeconds: 901 }, 'backfillDelaySeconds'],
      [{ audienceCacheTtlMs: -1 }, 'audienceCacheTtlMs'],
      [{ backfillDelaySeconds: 15, audienceCacheTtlMs: 15_000 }, 'must exceed audienceCacheTtlMs'],
    ])('refuses %p', (patch, message) => {
      expect(() => validateAudienceSettings({ ...DEFAULT_AUDIENCE_SETTINGS, ...patch })).toThrow(message);
    });

    it('accepts the defaults', () => {
      expect(validateAudienceSettings(DEFAULT_AUDIENCE_SETTINGS)).toBe(DEFAULT_AUDIENCE_SETTINGS);
    });
  });

  describe('the recheck', () => {
    it('runs every minute on EventBridge Scheduler, without flexible window, with retries and a dead-letter queue', () => {
      const recheckId = logicalIdOf(template, 'AWS::Lambda::Function', RECHECK);
      // One schedule per recurring job: the recheck and the broadcast progress check.
      expect(resourcesOf(template, 'AWS::Scheduler::Schedule').filter((s) => JSON.stringify(s).includes(`"${recheckId}"`))).toHaveLength(1);
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 minute)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: { 'Fn::GetAtt': [recheckId, 'Arn'] },
          RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AudiencesRecheckScheduleRole'), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 300 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AudiencesRecheckDeadLetterQueue'), 'Arn'] } },
        },
      });
    });

    it('uses a schedule role that may invoke the recheck function and nothing else', () => {
      const recheckId = logicalIdOf(template, 'AWS::Lambda::Function', RECHECK);
      const role = logicalIdOf(template, 'AWS::IAM::Role', 'AudiencesRecheckScheduleRole');
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Principal: { Service: 'scheduler.amazonaws.com' },
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' }, 'aws:SourceArn': Match.anyValue() } },
            }),
          ],
        },
      });
      const statements = statementsOfRole(template, role);
      const lambdaStatements = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('lambda:')));
      expect(lambdaStatements).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [recheckId, 'Arn'] } },
      ]);
      // The only other permission: its dead-letter queue.
      const others = statements.filter((s) => !lambdaStatements.includes(s));
      expect(others).toEqual([
        {
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'AudiencesRecheckDeadLetterQueue'), 'Arn'] },
        },
      ]);
    });

    it('never overlaps (reserved concurrency 1), has 2 minutes and is not retried by Lambda', () => {
      const recheckId = logicalIdOf(template, 'AWS::Lambda::Function', RECHECK);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'audience-recheck' }) },
        ReservedConcurrentExecutions: 1,
        Timeout: 120,
        DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AudiencesRecheckDeadLetterQueue'), 'Arn'] } },
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: recheckId },
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 300,
      });
    });
  });

  describe('IAM', () => {
    it('lets only the outbox put events, and only on the bus', () => {
      const busId = logicalIdOf(template, 'AWS::Events::EventBus', 'EventBus');
      const outboxRole = logicalIdOf(template, 'AWS::IAM::Role', `${OUTBOX}ServiceRole`);
      const publishing = resourcesOf(template, 'AWS::IAM::Policy').filter((p) =>
        statementsOf([p]).some((s) => asArray(s.Action).some((a) => a.startsWith('events:'))),
      );
      expect(publishing.map((p) => p.Properties.Roles)).toEqual([[{ Ref: outboxRole }]]);
      const statements = statementsOf(publishing).filter((s) => asArray(s.Action).some((a) => a.startsWith('events:')));
      expect(statements).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [busId, 'Arn'] } }]);
    });

    it.each([OUTBOX, BACKFILL, RECHECK])('gives %s the table (read-write) and no secret', (prefix) => {
      const role = logicalIdOf(template, 'AWS::IAM::Role', `${prefix}ServiceRole`);
      const actions = statementsOfRole(template, role).flatMap((s) => asArray(s.Action));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem']));
      expect(actions.filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
    });
  });

  describe('monitoring', () => {
    const alarmOn = (metricName: string, dimension: { Name: string; Value: unknown }) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        Dimensions: [dimension],
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      });

    it('alarms on outbox iterator age', () => {
      alarmOn('IteratorAge', { Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp(`^${OUTBOX}`) } });
    });

    it.each(['AudiencesOutboxOnFailureQueue', 'AudiencesBackfillDeadLetterQueue', 'AudiencesRecheckDeadLetterQueue'])(
      'alarms on any message in %s',
      (prefix) => {
        alarmOn('ApproximateNumberOfMessagesVisible', {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', prefix), 'QueueName'] },
        });
      },
    );

    it('alarms on recheck errors', () => {
      alarmOn('Errors', { Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp(`^${RECHECK}`) } });
    });

    it('charts evaluation metrics under the router and transitions under the outbox, as they emit them', () => {
      const routerService = environmentOf(template, ROUTER).POWERTOOLS_SERVICE_NAME;
      const outboxService = environmentOf(template, OUTBOX).POWERTOOLS_SERVICE_NAME;
      expect(routerService).toBe('stream');
      expect(outboxService).toBe('outbox');
      const [dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
      const body = JSON.stringify(dashboard?.Properties.DashboardBody);
      for (const metric of ['AudienceEvaluationLag', 'AudienceEvaluations']) {
        expect(body).toContain(`[\\"Engage\\",\\"${metric}\\",\\"service\\",\\"${routerService}\\"`);
      }
      for (const metric of ['AudienceEntered', 'AudienceExited']) {
        expect(body).toContain(`[\\"Engage\\",\\"${metric}\\",\\"service\\",\\"${outboxService}\\"`);
      }
      expect(body).toContain('\\"stat\\":\\"p50\\"');
      expect(body).toContain('\\"stat\\":\\"p99\\"');
    });
  });
});

describe('cdk-nag on the audiences', () => {
  it('acknowledges findings only on CloudFormation resources, never on a whole construct', () => {
    // Prepare
    const { stack } = buildApp();
    // Act
    const acknowledged = stack.audiences.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) => Object.keys(m.data as object).map((rule) => ({ construct: c, rule }))),
      );
    // Assess
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { construct } of acknowledged) expect(construct).toBeInstanceOf(CfnResourceConstruct);
    // The acknowledgements of this feature (the house ones of EngageFunction and DataTable.bind aside).
    const own = acknowledged
      .filter(({ rule }) => !/AwsSolutions-IAM5|AwsSolutions-L1|Serverless-LambdaLatestVersion|Serverless-LambdaDLQ/.test(rule))
      .map(({ construct, rule }) => `${rule.replace(/^Annotation::/, '')} at ${construct.node.path}`)
      .sort();
    expect(own).toEqual([
      'AwsSolutions-SQS3 at Engage/Audiences/OutboxOnFailureQueue/Resource',
      'AwsSolutions-SQS3 at Engage/Audiences/RecheckDeadLetterQueue/Resource',
      expect.stringMatching(/^Serverless-LambdaAsyncFailureDestination at Engage\/Audiences\/RecheckFunction\/Function\/EventInvokeConfig\/Resource$/),
      expect.stringMatching(/^Serverless-LambdaEventSourceMappingDestination at Engage\/Audiences\/BackfillFunction\/Function\/SqsEventSource:.*\/Resource$/),
      'Serverless-SQSRedrivePolicy at Engage/Audiences/BackfillDeadLetterQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Audiences/OutboxOnFailureQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Audiences/RecheckDeadLetterQueue/Resource',
    ]);
  });

  it('reports no unacknowledged finding in the app', () => {
    // Prepare
    const { app }: { app: App } = buildApp();
    // Act
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
    );
    // Assess
    expect(findings).toEqual([]);
  });
});
