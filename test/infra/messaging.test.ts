import { CfnResource as CfnResourceConstruct, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { OUTBOX_ENTITY_KEYS, OUTBOX_SORT_KEY_PREFIXES } from '../../infra/aws/constructs/audiences';
import { FANOUT_QUEUE_URL_ENV, FANOUT_SETTINGS, SCHEDULE_NAME_PREFIX } from '../../infra/aws/constructs/broadcasts';
import {
  FEEDBACK_QUEUE_URL_ENV,
  SEND_QUEUE_URL_ENV,
  SENDER_SETTINGS,
  fromAddress,
  sesIdentities,
} from '../../infra/aws/constructs/messaging';
import type { EngageStack } from '../../infra/aws/engage-stack';
import { AUDIENCE_SHARD_COUNT, BROADCAST_SK, MESSAGE_SK_PREFIX, broadcastPk, messageSk } from '../../shared/aws/dynamodb/keys';
import { queueUrlEnvVar } from '../../shared/aws/sqs/queue';
import {
  asArray,
  buildApp,
  type CfnResource,
  logicalIdOf,
  type PolicyStatement,
  resourcesOf,
  statementsOf,
  statementsOfRole,
} from './helpers';

const API = 'IngestionApiFunction';
const SENDER = 'MessagingSenderFunction';
const FEEDBACK = 'MessagingFeedbackFunction';
const FANOUT = 'BroadcastsFanoutFunction';
const START = 'BroadcastsStartFunction';
const PROGRESS = 'BroadcastsProgressFunction';
const OUTBOX = 'AudiencesOutboxFunction';

/** The environment variables of the function whose logical id starts with `prefix`. */
function environmentOf(template: Template, prefix: string): Record<string, unknown> {
  const id = logicalIdOf(template, 'AWS::Lambda::Function', prefix);
  const fn: CfnResource | undefined = template.toJSON().Resources[id];
  return fn?.Properties.Environment.Variables;
}

function roleStatements(template: Template, functionPrefix: string): PolicyStatement[] {
  return statementsOfRole(template, logicalIdOf(template, 'AWS::IAM::Role', `${functionPrefix}ServiceRole`));
}

const withAction = (statements: PolicyStatement[], test: (action: string) => boolean): PolicyStatement[] =>
  statements.filter((s) => asArray(s.Action).some(test));

/** Every role (by logical id) that has a statement with an action matching `test`. */
function rolesWith(template: Template, test: (action: string) => boolean): string[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter((p) => withAction(statementsOf([p]), test).length > 0)
    .flatMap((p): Array<{ Ref: string }> => p.Properties.Roles)
    .map((r) => r.Ref)
    .sort();
}

const arnJoin = (suffix: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, suffix, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, expect.any(String)]],
});

describe('Messaging and broadcasts', () => {
  let stack: EngageStack;
  let template: Template;

  beforeAll(() => {
    // Prepare
    ({ stack } = buildApp());
    // Act (also runs the cdk-nag validation plugins)
    template = Template.fromStack(stack);
  });

  describe('the queues', () => {
    it.each([
      ['MessagingSend', SENDER, 10, 60],
      ['BroadcastsFanout', FANOUT, 5, 120],
      ['MessagingFeedback', FEEDBACK, 5, 30],
    ])('%s queue: SSE, 14 days, read by %s, a DLQ after %i receives, visibility at least 6x the %i s timeout', (prefix, consumer, maxReceiveCount, timeout) => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', `${prefix}Queue`);
      const dlqId = logicalIdOf(template, 'AWS::SQS::Queue', `${prefix}DeadLetterQueue`);
      const resources = template.toJSON().Resources;
      const fn = resources[logicalIdOf(template, 'AWS::Lambda::Function', consumer)];
      expect(fn.Properties.Timeout).toBe(timeout);
      expect(resources[queueId].Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount },
      });
      expect(resources[queueId].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
      expect(resources[dlqId].Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it('lets a held send claim expire before the message is dead-lettered', () => {
      const visibility = SENDER_SETTINGS.timeout.toSeconds() * 6;
      expect(SENDER_SETTINGS.maxReceiveCount * visibility).toBeGreaterThan(SENDER_SETTINGS.claimGrace.toSeconds());
    });

    it.each([
      'MessagingSendQueue',
      'MessagingSendDeadLetterQueue',
      'MessagingFeedbackQueue',
      'MessagingFeedbackDeadLetterQueue',
      'BroadcastsFanoutQueue',
      'BroadcastsFanoutDeadLetterQueue',
      'BroadcastsStartDeadLetterQueue',
      'BroadcastsProgressDeadLetterQueue',
    ])('%s is encrypted and refuses non-TLS access', (prefix) => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', prefix);
      template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    });

    it('spells the queue URL variables as the SQS adapter reads them', () => {
      expect(SEND_QUEUE_URL_ENV).toBe(queueUrlEnvVar('send'));
      expect(FANOUT_QUEUE_URL_ENV).toBe(queueUrlEnvVar('fanout'));
      expect(FEEDBACK_QUEUE_URL_ENV).toBe(queueUrlEnvVar('feedback'));
    });

    it.each([
      [SENDER, ['MessagingSendQueue']],
      [FANOUT, ['MessagingSendQueue', 'BroadcastsFanoutQueue']],
      [START, ['BroadcastsFanoutQueue']],
      [API, ['BroadcastsFanoutQueue']],
      [FEEDBACK, []],
      [PROGRESS, []],
    ])('lets %s send to exactly %p, named in its QUEUE_URL_* variables', (fn, queues) => {
      const work = ['MessagingSendQueue', 'BroadcastsFanoutQueue', 'MessagingFeedbackQueue'];
      const ids = Object.fromEntries(work.map((prefix) => [prefix, logicalIdOf(template, 'AWS::SQS::Queue', prefix)]));
      const sentTo = withAction(roleStatements(template, fn), (a) => a === 'sqs:SendMessage')
        .map((s) => JSON.stringify(s.Resource))
        .flatMap((resource) => work.filter((prefix) => resource.includes(`"${ids[prefix]}"`)))
        .sort();
      expect(sentTo).toEqual([...queues].sort());
      // The one URL known without sending: the API compiles the send queue into journeys' send
      // states (the journey role sends; journeys.test.ts).
      const compiledOnly: Record<string, string[]> = { [API]: ['MessagingSendQueue'] };
      const environment = environmentOf(template, fn);
      for (const prefix of work) {
        const variable = { MessagingSendQueue: SEND_QUEUE_URL_ENV, BroadcastsFanoutQueue: FANOUT_QUEUE_URL_ENV, MessagingFeedbackQueue: FEEDBACK_QUEUE_URL_ENV }[prefix] ?? '';
        const known = queues.includes(prefix) || (compiledOnly[fn] ?? []).includes(prefix);
        expect(environment[variable]).toEqual(known ? { Ref: ids[prefix] } : undefined);
      }
    });
  });

  describe('the event source mappings', () => {
    const mappingOf = (fn: string): CfnResource => {
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: Match.stringLikeRegexp(`^${fn}`) } },
      });
      expect(mappings).toHaveLength(1);
      return mappings[0] as CfnResource;
    };

    it('feed the sender 10 messages at a time, at most engage:senderMaxConcurrency (10) batches at once, with partial failures', () => {
      expect(mappingOf(SENDER).Properties).toEqual({
        BatchSize: 10,
        EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingSendQueue'), 'Arn'] },
        FunctionName: { Ref: expect.stringMatching(`^${SENDER}`) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 10 },
      });
    });

    it('take the sender concurrency from the context', () => {
      const { stack: other } = buildApp({ 'engage:senderMaxConcurrency': 40 });
      Template.fromStack(other).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: Match.stringLikeRegexp(`^${SENDER}`) },
        ScalingConfig: { MaximumConcurrency: 40 },
      });
    });

    it('feed the fan-out 5 pages at a time, one batch per audience shard at most, with partial failures', () => {
      expect(mappingOf(FANOUT).Properties).toMatchObject({
        BatchSize: 5,
        EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'BroadcastsFanoutQueue'), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 16 },
      });
      expect(FANOUT_SETTINGS.maxConcurrency).toBe(AUDIENCE_SHARD_COUNT);
    });

    it('feed the feedback function 10 events at a time, with partial failures', () => {
      expect(mappingOf(FEEDBACK).Properties).toMatchObject({
        BatchSize: 10,
        EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingFeedbackQueue'), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('leave the table stream with exactly two readers (the router and the outbox)', () => {
      const readers = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').filter((m) =>
        JSON.stringify(m.Properties.EventSourceArn).includes('"StreamArn"'),
      );
      expect(readers.map((m) => String(m.Properties.FunctionName.Ref)).sort()).toEqual([
        expect.stringMatching(`^${OUTBOX}`),
        expect.stringMatching('^StreamProcessingConsumerFunction'),
      ]);
      // Two stream readers; the sender, fan-out, feedback, backfill and journey entry queues.
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2 + 5);
    });
  });

  describe('the outbox', () => {
    it('also receives message log items (sk MSG#...) and broadcast items (pk BROADCAST#..., sk BROADCAST)', () => {
      const [mapping] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: Match.stringLikeRegexp(`^${OUTBOX}`) } },
      });
      const patterns = (mapping?.Properties.FilterCriteria.Filters as Array<{ Pattern: string }>).map((f) => JSON.parse(f.Pattern));
      expect(patterns).toContainEqual({ dynamodb: { Keys: { sk: { S: expect.arrayContaining([{ prefix: 'AUD#' }, { prefix: 'MSG#' }]) } } } });
      expect(patterns).toContainEqual({ dynamodb: { Keys: { pk: { S: [{ prefix: 'BROADCAST#' }] }, sk: { S: ['BROADCAST'] } } } });
    });

    it('uses the keys the stores write', () => {
      expect(messageSk('m1').startsWith(MESSAGE_SK_PREFIX)).toBe(true);
      expect(OUTBOX_SORT_KEY_PREFIXES).toContain(MESSAGE_SK_PREFIX);
      expect(OUTBOX_ENTITY_KEYS).toContainEqual({ partitionKeyPrefix: 'BROADCAST#', sortKey: BROADCAST_SK });
      expect(broadcastPk('b1').startsWith('BROADCAST#')).toBe(true);
    });
  });

  describe('the sender', () => {
    it('has its settings in the environment', () => {
      const environment = environmentOf(template, SENDER);
      expect(environment).toMatchObject({
        SENDER_EMAIL: 'no-reply@example.com',
        ACCOUNT_SEND_RATE: '14',
        CLAIM_GRACE_SECONDS: '600',
        SES_CONFIGURATION_SET: { Ref: logicalIdOf(template, 'AWS::SES::ConfigurationSet', 'MessagingConfigurationSet') },
        SMS_ORIGINATION_IDENTITY: '',
        UNSUBSCRIBE_KEY_SECRET_ARN: { Ref: logicalIdOf(template, 'AWS::SecretsManager::Secret', 'MessagingUnsubscribeKey') },
        TABLE_NAME: { Ref: expect.stringMatching(/^DataTable/) },
      });
      // The API's base URL, built from the API id.
      expect(JSON.stringify(environment.PUBLIC_API_URL)).toContain(`"Ref":"${logicalIdOf(template, 'AWS::ApiGatewayV2::Api', 'IngestionHttpApi')}"`);
    });

    it('takes the account send rate from the context', () => {
      const { stack: other } = buildApp({ 'engage:accountSendRatePerSecond': 200 });
      expect(environmentOf(Template.fromStack(other), SENDER).ACCOUNT_SEND_RATE).toBe('200');
    });

    it('has 60 s and read-write table access', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'sender' }) },
        Timeout: 60,
      });
      const actions = roleStatements(template, SENDER).flatMap((s) => asArray(s.Action));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']));
    });
  });

  describe('SES and SMS permissions', () => {
    const configurationSetId = () => logicalIdOf(template, 'AWS::SES::ConfigurationSet', 'MessagingConfigurationSet');

    it('let only the sender and the API send, as the sender identity (domain and address) through the configuration set', () => {
      expect(rolesWith(template, (a) => a.startsWith('ses:'))).toEqual(
        [`${SENDER}ServiceRole`, `${API}ServiceRole`].map((prefix) => logicalIdOf(template, 'AWS::IAM::Role', prefix)).sort(),
      );
      for (const fn of [SENDER, API]) {
        const statements = withAction(roleStatements(template, fn), (a) => a.startsWith('ses:'));
        expect(statements).toEqual([
          {
            Effect: 'Allow',
            Action: 'ses:SendEmail',
            Resource: [
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':identity/example.com']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':identity/no-reply@example.com']] },
              {
                'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ses:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':configuration-set/', { Ref: configurationSetId() }]],
              },
            ],
          },
        ]);
      }
    });

    it('grant no ses:* wildcard, no SendRawEmail and never Resource "*" for SES or SMS', () => {
      const statements = statementsOf(resourcesOf(template, 'AWS::IAM::Policy'));
      const messaging = withAction(statements, (a) => a.startsWith('ses:') || a.startsWith('sms-voice:'));
      expect(messaging.length).toBeGreaterThan(0);
      for (const s of messaging) {
        expect(asArray(s.Action)).not.toContain('ses:*');
        expect(asArray(s.Action)).not.toContain('ses:SendRawEmail');
        expect(JSON.stringify(s.Resource)).not.toContain('"*"');
      }
    });

    it('grant no SMS permission when engage:smsOriginationIdentity is empty', () => {
      expect(rolesWith(template, (a) => a.startsWith('sms-voice:'))).toEqual([]);
    });

    it.each([
      ['phone-0123456789abcdef0123456789abcdef', ':phone-number/phone-0123456789abcdef0123456789abcdef'],
      ['pool-0123456789abcdef0123456789abcdef', ':pool/pool-0123456789abcdef0123456789abcdef'],
    ])('scope SendTextMessage to the origination identity %s', (identity, suffix) => {
      const other = Template.fromStack(buildApp({ 'engage:smsOriginationIdentity': identity }).stack);
      for (const fn of [SENDER, API]) {
        expect(environmentOf(other, fn).SMS_ORIGINATION_IDENTITY).toBe(identity);
        expect(withAction(roleStatements(other, fn), (a) => a.startsWith('sms-voice:'))).toEqual([
          {
            Effect: 'Allow',
            Action: 'sms-voice:SendTextMessage',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sms-voice:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, suffix]] },
          },
        ]);
      }
      expect(rolesWith(other, (a) => a.startsWith('sms-voice:'))).toHaveLength(2);
    });

    it('scope SendTextMessage to an origination identity ARN as given', () => {
      const arn = 'arn:aws:sms-voice:eu-west-1:123456789012:sender-id/ENGAGE/GB';
      const other = Template.fromStack(buildApp({ 'engage:smsOriginationIdentity': arn }).stack);
      expect(withAction(roleStatements(other, SENDER), (a) => a.startsWith('sms-voice:'))).toEqual([
        { Effect: 'Allow', Action: 'sms-voice:SendTextMessage', Resource: arn },
      ]);
    });

    it('scope SendEmail to the domain identity alone when engage:senderEmail is a domain, sending as no-reply@', () => {
      const other = Template.fromStack(buildApp({ 'engage:senderEmail': 'example.org' }).stack);
      expect(environmentOf(other, SENDER).SENDER_EMAIL).toBe('no-reply@example.org');
      const [statement] = withAction(roleStatements(other, SENDER), (a) => a.startsWith('ses:'));
      const resources = JSON.stringify(statement?.Resource);
      expect(resources).toContain(':identity/example.org"');
      expect(resources).not.toContain('@');
      expect(resources).toContain(':configuration-set/');
      expect(asArray(statement?.Resource as string[])).toHaveLength(2);
    });

    it('derive identities and From addresses', () => {
      expect(sesIdentities('news@mail.example.com')).toEqual(['mail.example.com', 'news@mail.example.com']);
      expect(sesIdentities('example.com')).toEqual(['example.com']);
      expect(fromAddress('example.com')).toBe('no-reply@example.com');
      expect(fromAddress('news@example.com')).toBe('news@example.com');
    });
  });

  describe('the SES configuration set', () => {
    it('is named <stack>-engage, with reputation metrics and bounce and complaint suppression; the identity is not created', () => {
      template.resourceCountIs('AWS::SES::ConfigurationSet', 1);
      template.hasResourceProperties('AWS::SES::ConfigurationSet', {
        Name: 'Engage-engage',
        ReputationOptions: { ReputationMetricsEnabled: true },
        SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
      });
      template.resourceCountIs('AWS::SES::EmailIdentity', 0);
      template.hasOutput('SesConfigurationSetName', { Value: { Ref: logicalIdOf(template, 'AWS::SES::ConfigurationSet', 'MessagingConfigurationSet') } });
    });

    it('takes its name from engage:sesConfigurationSetName', () => {
      const other = Template.fromStack(buildApp({ 'engage:sesConfigurationSetName': 'engage-prod' }).stack);
      other.hasResourceProperties('AWS::SES::ConfigurationSet', { Name: 'engage-prod' });
      other.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { detail: { mail: { tags: { 'ses:configuration-set': [{ Ref: Match.stringLikeRegexp('^MessagingConfigurationSet') }] } } } },
      });
    });

    it('sends send, delivery, bounce, complaint, open, click, reject and rendering failure events to the default bus', () => {
      template.resourceCountIs('AWS::SES::ConfigurationSetEventDestination', 1);
      const [destination] = resourcesOf(template, 'AWS::SES::ConfigurationSetEventDestination');
      expect(destination?.Properties).toEqual({
        ConfigurationSetName: { Ref: logicalIdOf(template, 'AWS::SES::ConfigurationSet', 'MessagingConfigurationSet') },
        EventDestination: {
          Enabled: true,
          EventBridgeDestination: { EventBusArn: arnJoin(':events:') },
          MatchingEventTypes: ['send', 'delivery', 'bounce', 'complaint', 'open', 'click', 'reject', 'renderingFailure'],
        },
      });
      expect(JSON.stringify(destination?.Properties.EventDestination.EventBridgeDestination)).toContain(':event-bus/default');
    });
  });

  describe('the feedback rule', () => {
    it('takes SES events of this configuration set from the default bus into the feedback queue, with a DLQ', () => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingFeedbackQueue');
      const dlqId = logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingFeedbackDeadLetterQueue');
      const rules = resourcesOf(template, 'AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.ses'] } } });
      expect(rules).toHaveLength(1);
      expect(rules[0]?.Properties).toMatchObject({
        EventBusName: 'default',
        EventPattern: {
          source: ['aws.ses'],
          detail: { mail: { tags: { 'ses:configuration-set': [{ Ref: logicalIdOf(template, 'AWS::SES::ConfigurationSet', 'MessagingConfigurationSet') }] } } },
        },
        Targets: [{ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } } }],
      });
    });

    it('lets in only the two feedback rules (events.amazonaws.com, aws:SourceArn = each rule)', () => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingFeedbackQueue');
      const ruleIds = ['MessagingFeedbackRule', 'MessagingSmsFeedbackRule'].map((prefix) => logicalIdOf(template, 'AWS::Events::Rule', prefix));
      const [policy] = resourcesOf(template, 'AWS::SQS::QueuePolicy', { Properties: { Queues: [{ Ref: queueId }] } });
      const allows = (policy?.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).filter((s) => s.Effect === 'Allow');
      expect(allows).toEqual(
        ruleIds.map((ruleId) => ({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: expect.arrayContaining(['sqs:SendMessage']),
          Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
        })),
      );
    });
  });

  describe('the unsubscribe key', () => {
    it('is generated by Secrets Manager, never written in the template', () => {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: { ExcludePunctuation: true, PasswordLength: 64 },
        SecretString: Match.absent(),
      });
      expect(JSON.stringify(template.toJSON())).not.toContain('"SecretString"');
      template.hasOutput('UnsubscribeKeySecretName', { Value: Match.anyValue() });
    });

    it('is readable by the sender and the API only', () => {
      const secretId = logicalIdOf(template, 'AWS::SecretsManager::Secret', 'MessagingUnsubscribeKey');
      const readers = resourcesOf(template, 'AWS::IAM::Policy')
        .filter((p) => statementsOf([p]).some((s) => JSON.stringify(s.Resource) === JSON.stringify({ Ref: secretId })))
        .flatMap((p): Array<{ Ref: string }> => p.Properties.Roles)
        .map((r) => r.Ref)
        .sort();
      expect(readers).toEqual([`${SENDER}ServiceRole`, `${API}ServiceRole`].map((prefix) => logicalIdOf(template, 'AWS::IAM::Role', prefix)).sort());
    });
  });

  describe('broadcast schedules', () => {
    it('live in the stack\'s own schedule group', () => {
      template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'Engage-broadcasts' });
    });

    it('use a role trusted for that group only that may invoke the start function and nothing else', () => {
      const roleId = logicalIdOf(template, 'AWS::IAM::Role', 'BroadcastsScheduleRole');
      const groupId = logicalIdOf(template, 'AWS::Scheduler::ScheduleGroup', 'BroadcastsScheduleGroup');
      const role: CfnResource = template.toJSON().Resources[roleId];
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' }, 'aws:SourceArn': { 'Fn::GetAtt': [groupId, 'Arn'] } } },
        },
      ]);
      expect(statementsOfRole(template, roleId)).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::Lambda::Function', START), 'Arn'] } },
      ]);
    });

    it('are created and deleted by the API only, in the group and under the prefix only', () => {
      expect(rolesWith(template, (a) => a.startsWith('scheduler:'))).toEqual([logicalIdOf(template, 'AWS::IAM::Role', `${API}ServiceRole`)]);
      const statements = withAction(roleStatements(template, API), (a) => a.startsWith('scheduler:'));
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
          Resource: {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:schedule/Engage-broadcasts/${SCHEDULE_NAME_PREFIX}-*`]],
          },
        },
      ]);
    });

    it('get the schedule role passed by the API only, to EventBridge Scheduler only', () => {
      expect(rolesWith(template, (a) => a === 'iam:PassRole')).toEqual([logicalIdOf(template, 'AWS::IAM::Role', `${API}ServiceRole`)]);
      const scheduleRoleId = logicalIdOf(template, 'AWS::IAM::Role', 'BroadcastsScheduleRole');
      const passes = withAction(roleStatements(template, API), (a) => a.startsWith('iam:'));
      // The other PassRole of the API is the journey role's, to Step Functions (journeys.test.ts).
      expect(passes.filter((s) => JSON.stringify(s.Resource).includes(`"${scheduleRoleId}"`))).toEqual([
        {
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::IAM::Role', 'BroadcastsScheduleRole'), 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        },
      ]);
    });

    it('are described to the API in its environment', () => {
      expect(environmentOf(template, API)).toMatchObject({
        SCHEDULER_TARGET_ARN: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::Lambda::Function', START), 'Arn'] },
        SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::IAM::Role', 'BroadcastsScheduleRole'), 'Arn'] },
        SCHEDULER_GROUP: 'Engage-broadcasts',
        SCHEDULE_NAME_PREFIX: SCHEDULE_NAME_PREFIX,
      });
    });
  });

  describe('the API function', () => {
    it('sends test messages as the sender does and verifies unsubscribe tokens', () => {
      const api = environmentOf(template, API);
      const sender = environmentOf(template, SENDER);
      for (const key of ['SENDER_EMAIL', 'SES_CONFIGURATION_SET', 'SMS_ORIGINATION_IDENTITY', 'UNSUBSCRIBE_KEY_SECRET_ARN', 'PUBLIC_API_URL']) {
        expect(api[key]).toEqual(sender[key]);
      }
      // Known for compiling journeys' send states, but never sent to by the API itself.
      const sendQueueId = logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingSendQueue');
      expect(api[SEND_QUEUE_URL_ENV]).toEqual({ Ref: sendQueueId });
      expect(roleStatements(template, API).filter((s) => JSON.stringify(s.Resource).includes(`"${sendQueueId}"`))).toEqual([]);
    });

    it('knows its own URL without a dependency cycle in the template', () => {
      const resources: Record<string, CfnResource> = template.toJSON().Resources;
      const dependencies = (value: unknown, into: Set<string>): Set<string> => {
        if (Array.isArray(value)) value.forEach((v) => dependencies(v, into));
        else if (value !== null && typeof value === 'object') {
          for (const [key, v] of Object.entries(value)) {
            if (key === 'Ref' && typeof v === 'string' && v in resources) into.add(v);
            else if (key === 'Fn::GetAtt' && Array.isArray(v)) into.add(String(v[0]));
            else dependencies(v, into);
          }
        }
        return into;
      };
      const graph = new Map(
        Object.entries(resources).map(([id, r]) => [id, [...dependencies(r.Properties ?? {}, new Set()), ...asArray(r.DependsOn ?? [])]]),
      );
      const state = new Map<string, 'visiting' | 'done'>();
      const cycles: string[] = [];
      const visit = (id: string, path: string[]): void => {
        state.set(id, 'visiting');
        for (const next of graph.get(id) ?? []) {
          if (state.get(next) === 'visiting') cycles.push([...path, next].join(' -> '));
          else if (!state.has(next)) visit(next, [...path, next]);
        }
        state.set(id, 'done');
      };
      for (const id of graph.keys()) if (!state.has(id)) visit(id, [id]);
      expect(cycles).toEqual([]);
    });
  });

  describe('the start, fan-out and progress functions', () => {
    it('start: 30 s, a dead-letter queue for failed asynchronous invocations, read-write table', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'broadcast-start' }) },
        Timeout: 30,
        DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BroadcastsStartDeadLetterQueue'), 'Arn'] } },
      });
    });

    it('progress: every minute on EventBridge Scheduler, reserved concurrency 1, 2 minutes, no Lambda retry', () => {
      const progressId = logicalIdOf(template, 'AWS::Lambda::Function', PROGRESS);
      const dlq = { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'BroadcastsProgressDeadLetterQueue'), 'Arn'] };
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 minute)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: { 'Fn::GetAtt': [progressId, 'Arn'] },
          RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BroadcastsProgressScheduleRole'), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 300 },
          DeadLetterConfig: { Arn: dlq },
        },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'broadcast-progress' }) },
        ReservedConcurrentExecutions: 1,
        Timeout: 120,
        DeadLetterConfig: { TargetArn: dlq },
      });
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: progressId }, MaximumRetryAttempts: 0 });
      const role = logicalIdOf(template, 'AWS::IAM::Role', 'BroadcastsProgressScheduleRole');
      expect(withAction(statementsOfRole(template, role), (a) => a.startsWith('lambda:'))).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [progressId, 'Arn'] } },
      ]);
    });

    it.each([FANOUT, START, PROGRESS, FEEDBACK])('%s has the table read-write and no secret, SES or scheduler permission', (fn) => {
      const actions = roleStatements(template, fn).flatMap((s) => asArray(s.Action));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']));
      expect(actions.filter((a) => /^(secretsmanager|ses|sms-voice|scheduler|iam):/.test(a))).toEqual([]);
    });
  });

  describe('monitoring', () => {
    const alarmOn = (metricName: string, dimensions: unknown, extra: object = {}) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        Dimensions: dimensions,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
        ...extra,
      });

    it.each([
      'MessagingSendDeadLetterQueue',
      'MessagingFeedbackDeadLetterQueue',
      'BroadcastsFanoutDeadLetterQueue',
      'BroadcastsStartDeadLetterQueue',
      'BroadcastsProgressDeadLetterQueue',
    ])('alarms on any message in %s', (prefix) => {
      alarmOn(
        'ApproximateNumberOfMessagesVisible',
        [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', prefix), 'QueueName'] } }],
        { Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' },
      );
    });

    it('alarms on the SES bounce rate above 5% and the complaint rate above 0.1%', () => {
      alarmOn('Reputation.BounceRate', Match.absent(), { Namespace: 'AWS/SES', Threshold: 0.05, ComparisonOperator: 'GreaterThanThreshold' });
      alarmOn('Reputation.ComplaintRate', Match.absent(), { Namespace: 'AWS/SES', Threshold: 0.001, ComparisonOperator: 'GreaterThanThreshold' });
    });

    it('alarms on progress function errors', () => {
      alarmOn('Errors', [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp(`^${PROGRESS}`) } }]);
    });

    it('charts messages as the outbox counts them, queue depths and the sender', () => {
      const [dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
      const body = JSON.stringify(dashboard?.Properties.DashboardBody);
      expect(environmentOf(template, OUTBOX).POWERTOOLS_SERVICE_NAME).toBe('outbox');
      for (const metric of ['MessageSent', 'MessageDelivered', 'MessageBounced', 'MessageComplained']) {
        expect(body).toContain(`[\\"Engage\\",\\"${metric}\\",\\"service\\",\\"outbox\\"`);
      }
      for (const title of ['## Messaging', '## Broadcasts', 'Send queue', 'Fan-out queue', 'Delivery feedback', 'Sender']) expect(body).toContain(title);
      expect(body).toContain('Reputation.BounceRate');
      for (const prefix of [SENDER]) {
        const id = logicalIdOf(template, 'AWS::Lambda::Function', prefix);
        for (const metric of ['Errors', 'Duration', 'Throttles']) expect(body).toContain(`[\\"AWS/Lambda\\",\\"${metric}\\",\\"FunctionName\\",\\"`);
        expect(body).toContain(id);
      }
    });
  });
});

describe('cdk-nag on messaging and broadcasts', () => {
  const acknowledgementsUnder = (scope: IConstruct) =>
    scope.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) => Object.keys(m.data as object).map((rule) => ({ construct: c, rule: rule.replace(/^Annotation::/, '') }))),
      );
  const house = /^(AwsSolutions-IAM5\[Resource::\*\]|AwsSolutions-IAM5\[Resource::<DataTable.*|AwsSolutions-L1|Serverless-LambdaLatestVersion|Serverless-LambdaDLQ)$/;

  it('acknowledges findings only on CloudFormation resources, each one listed here', () => {
    // Prepare
    const { stack } = buildApp();
    // Act
    const acknowledged = [...acknowledgementsUnder(stack.messaging), ...acknowledgementsUnder(stack.broadcasts)];
    const apiPolicy = stack.ingestion.apiFunction.role.node.findChild('DefaultPolicy');
    // The journeys' acknowledgements on the API policy (`:states:` resources) are journeys.test.ts's.
    const onApi = acknowledgementsUnder(apiPolicy).filter(({ rule }) => !house.test(rule) && !rule.includes(':states:'));
    // Assess
    for (const { construct } of [...acknowledged, ...onApi]) expect(construct).toBeInstanceOf(CfnResourceConstruct);
    const own = acknowledged
      .filter(({ rule }) => !house.test(rule))
      .map(({ construct, rule }) => `${rule} at ${construct.node.path}`)
      .sort();
    expect(own).toEqual([
      'AwsSolutions-SMG4 at Engage/Messaging/UnsubscribeKey/Resource',
      'AwsSolutions-SQS3 at Engage/Broadcasts/ProgressDeadLetterQueue/Resource',
      'AwsSolutions-SQS3 at Engage/Broadcasts/StartDeadLetterQueue/Resource',
      'Serverless-LambdaAsyncFailureDestination at Engage/Broadcasts/ProgressFunction/Function/EventInvokeConfig/Resource',
      expect.stringMatching(/^Serverless-LambdaEventSourceMappingDestination at Engage\/Broadcasts\/FanoutFunction\/Function\/SqsEventSource:.*\/Resource$/),
      expect.stringMatching(/^Serverless-LambdaEventSourceMappingDestination at Engage\/Messaging\/FeedbackFunction\/Function\/SqsEventSource:.*\/Resource$/),
      expect.stringMatching(/^Serverless-LambdaEventSourceMappingDestination at Engage\/Messaging\/SenderFunction\/Function\/SqsEventSource:.*\/Resource$/),
      'Serverless-SQSRedrivePolicy at Engage/Broadcasts/FanoutDeadLetterQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Broadcasts/ProgressDeadLetterQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Broadcasts/StartDeadLetterQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Messaging/FeedbackDeadLetterQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Messaging/SendDeadLetterQueue/Resource',
    ]);
    // The one wildcard of the feature: the API's broadcast schedules, in the group, under the prefix.
    expect(onApi.map(({ rule }) => rule)).toEqual([
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/Engage-broadcasts/${SCHEDULE_NAME_PREFIX}-*]`,
    ]);
  });

  it.each([
    ['the cdk.json context', {}],
    ['SMS enabled and a domain sender', { 'engage:smsOriginationIdentity': 'pool-0123456789abcdef0123456789abcdef', 'engage:senderEmail': 'example.org' }],
  ])('reports no unacknowledged finding with %s', (_name, context) => {
    // Prepare
    const { app } = buildApp(context);
    // Act
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
    );
    // Assess
    expect(findings).toEqual([]);
  });
});

describe('SMS delivery feedback', () => {
  it('routes End User Messaging SMS events carrying the Engage context tag to the feedback queue', () => {
    const template = Template.fromStack(buildApp().stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.sms-voice'],
        'detail-type': ['Text Message Delivery Status Updated'],
        detail: { context: { engage_message: [{ exists: true }] } },
      },
      Targets: Match.arrayWith([Match.objectLike({ Arn: Match.anyValue() })]),
    });
  });
});
