import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { LOG_DELIVERY_ACTIONS } from '../../infra/aws/constructs/journeys';
import type { EngageStack } from '../../infra/aws/engage-stack';
import { EVENTS_BY_NAME_INDEX, EVENTS_BY_TIME_INDEX, GSI1, TABLE_KEYS } from '../../shared/aws/dynamodb/table-definition';
import {
  asArray,
  buildApp,
  CDK_JSON_CONTEXT,
  logicalIdOf,
  type PolicyStatement,
  resourcesOf,
  statementsOf,
  statementsOfRole,
} from './helpers';

describe('EngageStack', () => {
  let stack: EngageStack;
  let template: Template;
  let templateJson: string;

  beforeAll(() => {
    // Prepare
    ({ stack } = buildApp());
    // Act (also runs the cdk-nag validation plugins: findings would throw here)
    template = Template.fromStack(stack);
    templateJson = JSON.stringify(template.toJSON());
  });

  describe('the table', () => {
    it('has the shared key schema, on-demand billing, stream, PITR, TTL and KMS encryption', () => {
      // Assess
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
        // SSEEnabled without a key id: KMS with the AWS managed key aws/dynamodb.
        SSESpecification: { SSEEnabled: true, KMSMasterKeyId: Match.absent() },
      });
    });

    it('has the byTime and byEvent LSIs and the gsi1 GSI, both projecting all attributes', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        LocalSecondaryIndexes: [
          {
            IndexName: EVENTS_BY_TIME_INDEX.name,
            KeySchema: [
              { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
              { AttributeName: EVENTS_BY_TIME_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: EVENTS_BY_NAME_INDEX.name,
            KeySchema: [
              { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
              { AttributeName: EVENTS_BY_NAME_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: GSI1.name,
            KeySchema: [
              { AttributeName: GSI1.partitionKey, KeyType: 'HASH' },
              { AttributeName: GSI1.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      });
    });

    it('is retained when it leaves the stack', () => {
      template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });
  });

  describe('the functions', () => {
    it('are sixteen, all Node.js 22 on arm64 with TABLE_NAME, JSON logs, tracing and source maps', () => {
      // Assess: ingest, API, stream router, outbox, audience backfill, audience recheck, sender,
      // messaging feedback, broadcast fan-out, broadcast start, broadcast progress, journey
      // worker, hold_until, wait_until, check condition, journey status
      template.resourceCountIs('AWS::Lambda::Function', 16);
      for (const fn of resourcesOf(template, 'AWS::Lambda::Function')) {
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
          Environment: {
            Variables: {
              TABLE_NAME: { Ref: expect.stringMatching(/^DataTable/) },
              NODE_OPTIONS: '--enable-source-maps',
              POWERTOOLS_SERVICE_NAME: expect.any(String),
            },
          },
        });
      }
    });

    it('give every log group a retention period', () => {
      const groups = resourcesOf(template, 'AWS::Logs::LogGroup');
      // One per function, the API access logs and the journey execution logs.
      expect(groups).toHaveLength(18);
      for (const group of groups) expect(group.Properties.RetentionInDays).toEqual(expect.any(Number));
    });

    it('attach no AWS managed policy to their roles', () => {
      template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    });

    it('pass the secret ARNs and event retention to the HTTP functions', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            POWERTOOLS_SERVICE_NAME: 'ingest',
            WRITE_KEY_SECRET_ARN: { Ref: Match.stringLikeRegexp('^IngestionWriteKey') },
            EVENT_RETENTION_DAYS: String(CDK_JSON_CONTEXT['engage:eventRetentionDays']),
          }),
        },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            POWERTOOLS_SERVICE_NAME: 'api',
            API_KEY_SECRET_ARN: { Ref: Match.stringLikeRegexp('^IngestionApiKey') },
          }),
        },
      });
    });
  });

  describe('the HTTP API', () => {
    it.each(['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'])(
      'routes POST /v1/%s to the ingest function',
      (name) => {
        template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
          RouteKey: `POST /v1/${name}`,
          Target: { 'Fn::Join': ['', ['integrations/', { Ref: Match.stringLikeRegexp('IngestIntegration') }]] },
        });
      },
    );

    it('routes $default (management, health, openapi) to the API function', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Route', 8);
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: '$default',
        Target: { 'Fn::Join': ['', ['integrations/', { Ref: Match.stringLikeRegexp('ApiIntegration') }]] },
      });
    });

    it('throttles the default stage with the context limits', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: CDK_JSON_CONTEXT['engage:apiThrottleRateLimit'],
          ThrottlingBurstLimit: CDK_JSON_CONTEXT['engage:apiThrottleBurstLimit'],
        },
      });
    });

    it('writes JSON access logs without bodies to a log group', () => {
      const stages = resourcesOf(template, 'AWS::ApiGatewayV2::Stage');
      expect(stages).toHaveLength(1);
      const settings: { DestinationArn: unknown; Format: string } = stages[0]?.Properties.AccessLogSettings;
      expect(settings.DestinationArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^IngestionAccessLogs/), 'Arn'] });
      const format: Record<string, string> = JSON.parse(settings.Format);
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
      expect(settings.Format).not.toMatch(/body|requestBody|responseBody/i);
    });
  });

  describe('the stream consumer', () => {
    it('reads the table stream with partial failures, bisection, retries and an on-failure queue', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: Match.stringLikeRegexp('^StreamProcessingConsumerFunction') },
        FilterCriteria: Match.absent(),
        EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataTable'), 'StreamArn'] },
        BatchSize: 100,
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        MaximumRecordAgeInSeconds: 86400,
        ParallelizationFactor: 2,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StreamProcessingOnFailureQueue'), 'Arn'] } },
        },
      });
    });

    it('sends failures to an encrypted, SSL-only queue that keeps them 14 days', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });
  });

  describe('the secrets', () => {
    it('are three, generated by Secrets Manager without punctuation (40-character keys, a 64-character HMAC key)', () => {
      template.resourceCountIs('AWS::SecretsManager::Secret', 3);
      const lengths = Object.entries(template.findResources('AWS::SecretsManager::Secret'))
        .map(([id, secret]) => {
          expect(secret.Properties.GenerateSecretString).toMatchObject({ ExcludePunctuation: true });
          return `${id.replace(/[0-9A-F]{8}$/, '')}:${secret.Properties.GenerateSecretString.PasswordLength}`;
        })
        .sort();
      expect(lengths).toEqual(['IngestionApiKey:40', 'IngestionWriteKey:40', 'MessagingUnsubscribeKey:64']);
    });

    it('never appear in the template as a value', () => {
      expect(templateJson).not.toContain('"SecretString"');
      expect(templateJson).toContain('"GenerateSecretString"');
    });
  });

  describe('IAM', () => {
    const secretRefs = (statements: PolicyStatement[], secretPrefix: string): PolicyStatement[] =>
      statements.filter((s) => JSON.stringify(s.Resource).includes(`"${secretPrefix}`));

    it('lets the ingest function read the write key but not the API key', () => {
      const role = logicalIdOf(template, 'AWS::IAM::Role', 'IngestionIngestFunctionServiceRole');
      const statements = statementsOfRole(template, role);
      expect(secretRefs(statements, 'IngestionWriteKey')).toHaveLength(1);
      expect(secretRefs(statements, 'IngestionApiKey')).toHaveLength(0);
    });

    it('lets the API function read the API key but not the write key', () => {
      const role = logicalIdOf(template, 'AWS::IAM::Role', 'IngestionApiFunctionServiceRole');
      const statements = statementsOfRole(template, role);
      expect(secretRefs(statements, 'IngestionApiKey')).toHaveLength(1);
      expect(secretRefs(statements, 'IngestionWriteKey')).toHaveLength(0);
    });

    it('gives the stream consumer no secret at all', () => {
      const role = logicalIdOf(template, 'AWS::IAM::Role', 'StreamProcessingConsumerFunctionServiceRole');
      const statements = statementsOfRole(template, role);
      expect(statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('secretsmanager:')))).toHaveLength(0);
    });

    it('grants no wildcard action anywhere', () => {
      const actions = statementsOf(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((s) => asArray(s.Action));
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    });

    it('uses Resource "*" only for actions without resource-level permissions', () => {
      const starActions = statementsOf(resourcesOf(template, 'AWS::IAM::Policy'))
        .filter((s) => s.Resource === '*')
        .flatMap((s) => asArray(s.Action));
      expect(new Set(starActions)).toEqual(
        new Set([
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'dynamodb:ListStreams',
          // The journey role (traced state machines) and vended log delivery (journeys.test.ts).
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          ...LOG_DELIVERY_ACTIONS,
        ]),
      );
    });
  });

  describe('monitoring', () => {
    it('has a dashboard named after the stack', () => {
      template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: `Engage-${stack.stackName}` });
    });

    it('alarms on stream iterator age above 60 s for 5 minutes', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'IteratorAge',
        Statistic: 'Maximum',
        Threshold: 60000,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 5,
        DatapointsToAlarm: 5,
        Period: 60,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      });
    });

    it('alarms on any message in the on-failure queue and on ingest function errors', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^IngestionIngestFunction') } }],
      });
    });

    it('notifies an encrypted SSL-only topic', () => {
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitoringAlarmTopicKey'), 'Arn'] },
      });
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    });
  });

  describe('outputs', () => {
    it.each(['ApiUrl', 'WriteKeySecretName', 'ApiKeySecretName', 'EventBusName', 'DashboardUrl', 'UnsubscribeKeySecretName', 'SesConfigurationSetName', 'JourneyNamePrefix'])('has %s', (name) => {
      template.hasOutput(name, { Value: Match.anyValue() });
    });

    it('builds the dashboard URL with the region token', () => {
      const outputs = template.findOutputs('DashboardUrl');
      expect(JSON.stringify(outputs)).toContain('"Ref":"AWS::Region"');
      expect(JSON.stringify(outputs)).toContain('#dashboards:name=');
    });
  });
});

describe('context validation', () => {
  it.each([
    ['engage:eventRetentionDays', 'forever'],
    ['engage:eventRetentionDays', 0],
    ['engage:apiThrottleRateLimit', -1],
    ['engage:apiThrottleBurstLimit', 1.5],
    ['engage:senderEmail', 'not an email'],
    ['engage:senderEmail', undefined],
    ['engage:eventBusName', 'default'],
    ['engage:eventBusName', 'aws.engage'],
    ['engage:eventBusName', 'partner/bus'],
    ['engage:eventBusName', 'has space'],
    ['engage:eventBusName', ''],
    ['engage:eventBusName', 42],
    ['engage:accountSendRatePerSecond', 0],
    ['engage:accountSendRatePerSecond', 2.5],
    ['engage:accountSendRatePerSecond', 'fast'],
    ['engage:senderMaxConcurrency', 1],
    ['engage:senderMaxConcurrency', 1001],
    ['engage:senderMaxConcurrency', 4.5],
    ['engage:sesConfigurationSetName', 'has space'],
    ['engage:sesConfigurationSetName', 'engage.sets'],
    ['engage:sesConfigurationSetName', 'x'.repeat(65)],
    ['engage:sesConfigurationSetName', 7],
    ['engage:smsOriginationIdentity', '+15555550100'],
    ['engage:smsOriginationIdentity', 'MySender'],
    ['engage:smsOriginationIdentity', 'arn:aws:sns:us-east-1:123456789012:topic'],
  ])('when %s is %p, throws naming the key and the value', (key, value) => {
    // Prepare
    const context = { ...CDK_JSON_CONTEXT, [key]: value };
    // Act
    const act = () => buildApp(context);
    // Assess
    expect(act).toThrow(key);
    expect(act).toThrow(value === undefined ? 'missing' : JSON.stringify(value));
  });

  it('accepts numbers given as strings on the command line (-c key=value)', () => {
    const { stack } = buildApp({
      'engage:eventRetentionDays': '30',
      'engage:apiThrottleRateLimit': '50',
      'engage:accountSendRatePerSecond': '200',
      'engage:senderMaxConcurrency': '40',
    });
    expect(stack.settings).toMatchObject({
      eventRetentionDays: 30,
      apiThrottleRateLimit: 50,
      accountSendRatePerSecond: 200,
      senderMaxConcurrency: 40,
    });
  });

  it('defaults the messaging keys when they are missing (14 per second, 10 senders, <stack>-engage)', () => {
    const { stack } = buildApp({
      'engage:accountSendRatePerSecond': undefined,
      'engage:senderMaxConcurrency': undefined,
      'engage:sesConfigurationSetName': undefined,
    });
    expect(stack.settings).toMatchObject({
      accountSendRatePerSecond: 14,
      senderMaxConcurrency: 10,
      sesConfigurationSetName: 'Engage-engage',
    });
  });

  it('reads an empty engage:sesConfigurationSetName (as in cdk.json) as the default name', () => {
    expect(CDK_JSON_CONTEXT['engage:sesConfigurationSetName']).toBe('');
    expect(buildApp().stack.settings.sesConfigurationSetName).toBe('Engage-engage');
  });
});

describe('cdk-nag', () => {
  const findings = (app: App): string[] =>
    [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack
        .validateScope(app)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
    );

  describe('when the app is synthesized with the AwsSolutions and Serverless checks', () => {
    it('reports no unacknowledged finding', () => {
      // Prepare
      const { app } = buildApp();
      // Act
      const act = () => app.synth();
      // Assess
      expect(findings(app)).toEqual([]);
      expect(act).not.toThrow();
    });
  });

  describe('when a resource has an unacknowledged finding', () => {
    it('fails the synthesis, and the pack names the rule', () => {
      // Prepare
      const { app, stack } = buildApp();
      new sqs.Queue(stack, 'UnencryptedQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
      // Act
      const act = () => app.synth();
      // Assess
      expect(findings(app)).toContain('AwsSolutions-SQS2 at Engage/UnencryptedQueue/Resource');
      expect(act).toThrow(/AwsSolutions-SQS2/);
    });
  });
});
