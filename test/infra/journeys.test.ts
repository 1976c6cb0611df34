import { CfnResource as CfnResourceConstruct, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import {
  ENTRY_QUEUE_URL_ENV,
  EXECUTION_STATUS_DETAIL_TYPE,
  JOURNEY_WORKER_SETTINGS,
  LOG_DELIVERY_ACTIONS,
  PUBLISH_ACTIONS,
  RECORDED_RUN_ATTRIBUTES,
  XRAY_ACTIONS,
} from '../../infra/aws/constructs/journeys';
import { SEND_QUEUE_URL_ENV } from '../../infra/aws/constructs/messaging';
import type { EngageStack } from '../../infra/aws/engage-stack';
import { MAX_JOURNEY_ID_LENGTH, MAX_JOURNEY_NAME_PREFIX_LENGTH, defaultJourneyNamePrefix } from '../../infra/aws/settings';
import { SFN_NAME_MAX_LENGTH } from '../../shared/aws/sfn/workflow-engine';
import { queueUrlEnvVar } from '../../shared/aws/sqs/queue';
import type { JourneyDefinition } from '../../shared/domain/journey/definition';
import { compileJourney } from '../../statemachines/compile-journey';
import {
  asArray,
  buildApp,
  type CfnResource,
  CDK_JSON_CONTEXT,
  logicalIdOf,
  type PolicyStatement,
  resourcesOf,
  statementsOf,
  statementsOfRole,
} from './helpers';

const API = 'IngestionApiFunction';
const STREAM = 'StreamProcessingConsumerFunction';
const WORKER = 'JourneysWorkerFunction';
const HOLD_UNTIL = 'JourneysHoldUntilFunction';
const WAIT_UNTIL = 'JourneysWaitUntilFunction';
const CHECK_CONDITION = 'JourneysCheckConditionFunction';
const STATUS = 'JourneysStatusFunction';
const PREFIX = 'Engage_journey';

/** `arn:<partition>:states:<region>:<account><suffix>` as CloudFormation renders it. */
const statesArn = (suffix: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, suffix]],
});
const MACHINES = statesArn(`:stateMachine:${PREFIX}-*`);
const MACHINE_VERSIONS = statesArn(`:stateMachine:${PREFIX}-*:*`);
const EXECUTIONS = statesArn(`:execution:${PREFIX}-*:*`);

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

const serviceRole = (template: Template, fn: string): string => logicalIdOf(template, 'AWS::IAM::Role', `${fn}ServiceRole`);
const getAtt = (template: Template, type: string, prefix: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalIdOf(template, type, prefix), attribute] });

describe('Journeys', () => {
  let stack: EngageStack;
  let template: Template;

  beforeAll(() => {
    // Prepare
    ({ stack } = buildApp());
    // Act (also runs the cdk-nag validation plugins: findings would throw here)
    template = Template.fromStack(stack);
  });

  describe('the name prefix', () => {
    it('is <stack name>_journey by default, an output, and leaves room for every journey id', () => {
      expect(stack.settings.journeyNamePrefix).toBe(PREFIX);
      expect(stack.journeys.namePrefix).toBe(PREFIX);
      template.hasOutput('JourneyNamePrefix', { Value: PREFIX });
      expect(MAX_JOURNEY_NAME_PREFIX_LENGTH + 1 + MAX_JOURNEY_ID_LENGTH).toBe(SFN_NAME_MAX_LENGTH);
    });

    it('shortens long stack names with a hash, keeping distinct stacks distinct', () => {
      const long = `Engage-${'x'.repeat(100)}`;
      const a = defaultJourneyNamePrefix(`${long}-a`);
      const b = defaultJourneyNamePrefix(`${long}-b`);
      expect(a.length).toBeLessThanOrEqual(MAX_JOURNEY_NAME_PREFIX_LENGTH);
      expect(a).toMatch(/^Engage-x+-[0-9a-f]{6}_journey$/);
      expect(a).not.toBe(b);
      expect(defaultJourneyNamePrefix('x'.repeat(47))).toBe(`${'x'.repeat(47)}_journey`);
      expect(`${a}-${'j'.repeat(MAX_JOURNEY_ID_LENGTH)}`.length).toBeLessThanOrEqual(SFN_NAME_MAX_LENGTH);
    });

    it('cannot be the beginning of another stack\'s default prefix ("_" never occurs in a stack name)', () => {
      const names = ['Engage', 'Engage-journey', 'Engage-prod', 'Engage_journey-x'.replace('_', '-')];
      for (const one of names) {
        for (const other of names) {
          if (one !== other) expect(`${defaultJourneyNamePrefix(other)}-`.startsWith(`${defaultJourneyNamePrefix(one)}-`)).toBe(false);
        }
      }
    });

    it('takes engage:journeyNamePrefix from the context, scoping IAM, the rule and the log group with it', () => {
      const other = Template.fromStack(buildApp({ 'engage:journeyNamePrefix': 'acme-eng' }).stack);
      expect(environmentOf(other, API).JOURNEY_NAME_PREFIX).toBe('acme-eng');
      expect(JSON.stringify(other.toJSON())).toContain(':stateMachine:acme-eng-*');
      expect(JSON.stringify(other.toJSON())).not.toContain(PREFIX);
      other.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/vendedlogs/states/acme-eng' });
    });

    it.each([['has space'], ['x'.repeat(MAX_JOURNEY_NAME_PREFIX_LENGTH + 1)], ['engage.prod'], [7]])(
      'refuses engage:journeyNamePrefix %p, naming the key',
      (value) => {
        const act = () => buildApp({ ...CDK_JSON_CONTEXT, 'engage:journeyNamePrefix': value });
        expect(act).toThrow('engage:journeyNamePrefix');
        expect(act).toThrow(JSON.stringify(value));
      },
    );
  });

  describe('the journey role', () => {
    const roleId = () => logicalIdOf(template, 'AWS::IAM::Role', 'JourneysJourneyRole');

    it('is trusted by Step Functions for this account only', () => {
      const role: CfnResource = template.toJSON().Resources[roleId()];
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'states.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ]);
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties.Policies).toBeUndefined();
    });

    it('may invoke the three task functions, send to the send queue, record steps, trace and deliver logs: nothing else', () => {
      expect(statementsOfRole(template, roleId())).toEqual([
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: [HOLD_UNTIL, WAIT_UNTIL, CHECK_CONDITION].map((fn) => getAtt(template, 'AWS::Lambda::Function', fn)),
        },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: getAtt(template, 'AWS::SQS::Queue', 'MessagingSendQueue') },
        {
          Effect: 'Allow',
          Action: 'dynamodb:UpdateItem',
          Resource: getAtt(template, 'AWS::DynamoDB::Table', 'DataTable'),
          Condition: {
            'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'currentStep', 'stepOutcome', 'runStatus'] },
            StringEqualsIfExists: { 'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD', 'UPDATED_NEW'] },
          },
        },
        {
          Effect: 'Allow',
          Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
          Resource: '*',
        },
        { Effect: 'Allow', Action: [...LOG_DELIVERY_ACTIONS], Resource: '*' },
      ]);
      // The send queue is SQS-managed encryption: no KMS key to grant.
      template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, KmsMasterKeyId: Match.absent() });
    });

    it('allows every attribute a compiled record state names (key, SET and condition)', () => {
      // Prepare
      const definition: JourneyDefinition = {
        name: 'Attributes',
        entry: { event: 'Cart Abandoned' },
        start: 'w',
        steps: {
          w: { type: 'wait', duration: 'P1D', next: 'b' },
          b: { type: 'branch', branches: [{ name: 'VIP', rule: { audience: 'aud_vip' }, next: 's' }], default: null },
          s: { type: 'split', variants: [{ name: 'A', percent: 50, next: 'e' }, { name: 'B', percent: 50, next: null }] },
          e: { type: 'send', channel: 'email', template: 'tpl_a', next: null },
        },
      };
      // Act
      const asl = compileJourney(definition, {
        journeyId: 'j_attr',
        version: 1,
        resources: {
          sendQueueUrl: 'https://sqs.example/send',
          holdUntilFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:hold',
          waitUntilFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:wait',
          checkConditionFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:check',
          runTableName: 'table',
        },
      });
      const updates = Object.values(asl.States).filter(
        (state): state is Extract<typeof state, { Type: 'Task' }> => state.Type === 'Task' && state.Resource === 'arn:aws:states:::dynamodb:updateItem',
      );
      const named = new Set<string>();
      const keywords = /^(SET|REMOVE|ADD|DELETE|AND|OR|NOT|IN|BETWEEN|attribute_exists|attribute_not_exists|attribute_type|begins_with|contains|size|if_not_exists|list_append)$/;
      for (const state of updates) {
        const parameters = state.Parameters as { Key: object; UpdateExpression: string; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string> };
        for (const key of Object.keys(parameters.Key)) named.add(key);
        expect(['NONE', 'UPDATED_OLD', 'UPDATED_NEW', undefined]).toContain((parameters as { ReturnValues?: string }).ReturnValues);
        for (const expression of [parameters.UpdateExpression, parameters.ConditionExpression ?? '']) {
          for (const word of expression.replace(/:[A-Za-z0-9_]+/g, ' ').match(/#?[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
            if (keywords.test(word)) continue;
            named.add(word.startsWith('#') ? (parameters.ExpressionAttributeNames?.[word] ?? word) : word);
          }
        }
      }
      // Assess
      expect(updates.length).toBeGreaterThan(0);
      expect([...named].filter((name) => !(RECORDED_RUN_ATTRIBUTES as readonly string[]).includes(name))).toEqual([]);
    });
  });

  describe('the API function', () => {
    it('publishes journeys only under the prefix, starts, stops and reads only their executions', () => {
      expect(withAction(roleStatements(template, API), (a) => a.startsWith('states:'))).toEqual([
        { Effect: 'Allow', Action: [...PUBLISH_ACTIONS], Resource: [MACHINES, MACHINE_VERSIONS] },
        { Effect: 'Allow', Action: 'states:StartExecution', Resource: [MACHINES, MACHINE_VERSIONS] },
        { Effect: 'Allow', Action: ['states:StopExecution', 'states:DescribeExecution', 'states:GetExecutionHistory'], Resource: EXECUTIONS },
      ]);
      expect(PUBLISH_ACTIONS).toEqual([
        'states:CreateStateMachine',
        'states:UpdateStateMachine',
        'states:DescribeStateMachine',
        'states:PublishStateMachineVersion',
        'states:ListStateMachineVersions',
        'states:CreateStateMachineAlias',
        'states:UpdateStateMachineAlias',
        'states:DescribeStateMachineAlias',
        'states:TagResource',
      ]);
    });

    it('passes the journey role to Step Functions only (and the schedule role to Scheduler only)', () => {
      expect(rolesWith(template, (a) => a === 'iam:PassRole')).toEqual([serviceRole(template, API)]);
      expect(withAction(roleStatements(template, API), (a) => a.startsWith('iam:'))).toEqual([
        {
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: getAtt(template, 'AWS::IAM::Role', 'BroadcastsScheduleRole'),
          Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        },
        {
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: getAtt(template, 'AWS::IAM::Role', 'JourneysJourneyRole'),
          Condition: { StringEquals: { 'iam:PassedToService': 'states.amazonaws.com' } },
        },
      ]);
    });

    it('may set up the log delivery of the machines it creates (Resource "*", as AWS requires)', () => {
      expect(withAction(roleStatements(template, API), (a) => (LOG_DELIVERY_ACTIONS as readonly string[]).includes(a))).toEqual([
        { Effect: 'Allow', Action: [...LOG_DELIVERY_ACTIONS], Resource: '*' },
      ]);
      expect(rolesWith(template, (a) => a === 'logs:CreateLogDelivery')).toEqual(
        [serviceRole(template, API), logicalIdOf(template, 'AWS::IAM::Role', 'JourneysJourneyRole')].sort(),
      );
    });
  });

  describe('the entry queue and worker', () => {
    it('keep entries 14 days, redeliver a failed one after 6x the worker timeout, dead-letter it after 20 receives', () => {
      const resources = template.toJSON().Resources;
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'JourneysEntryQueue');
      const dlqId = logicalIdOf(template, 'AWS::SQS::Queue', 'JourneysEntryDeadLetterQueue');
      expect(resources[logicalIdOf(template, 'AWS::Lambda::Function', WORKER)].Properties.Timeout).toBe(30);
      expect(resources[queueId].Properties).toEqual({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
        VisibilityTimeout: 180,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 20 },
      });
      expect(resources[dlqId].Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
      // Failures other than throttling (re-queued by the worker) are retried for an hour before an entry is given up on.
      expect(JOURNEY_WORKER_SETTINGS.maxReceiveCount * JOURNEY_WORKER_SETTINGS.timeout.toSeconds() * 6).toBeGreaterThanOrEqual(3600);
    });

    it('feed the worker 10 entries at a time, at most 20 batches at once, with partial failures', () => {
      const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: Match.stringLikeRegexp(`^${WORKER}`) } },
      });
      expect(mappings.map((m) => m.Properties)).toEqual([
        {
          BatchSize: 10,
          EventSourceArn: getAtt(template, 'AWS::SQS::Queue', 'JourneysEntryQueue'),
          FunctionName: { Ref: expect.stringMatching(`^${WORKER}`) },
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 20 },
        },
      ]);
    });

    it('let the worker start, stop and describe executions and complete hold tokens of this deployment only', () => {
      expect(withAction(roleStatements(template, WORKER), (a) => a.startsWith('states:'))).toEqual([
        { Effect: 'Allow', Action: 'states:StartExecution', Resource: [MACHINES, MACHINE_VERSIONS] },
        { Effect: 'Allow', Action: ['states:StopExecution', 'states:DescribeExecution'], Resource: EXECUTIONS },
        { Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: [MACHINES, MACHINE_VERSIONS] },
      ]);
    });

    it.each([
      [API, 'the API'],
      [STREAM, 'the stream router (entries, exits, hold completions)'],
      [WORKER, 'the worker (a throttled start goes back on the queue with a delay)'],
    ])('lets %s send to the entry queue and names it in QUEUE_URL_ENTRY (%s)', (fn) => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'JourneysEntryQueue');
      expect(environmentOf(template, fn)[ENTRY_QUEUE_URL_ENV]).toEqual({ Ref: queueId });
      const sends = roleStatements(template, fn).filter(
        (s) => asArray(s.Action).includes('sqs:SendMessage') && JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] }),
      );
      expect(sends).toHaveLength(1);
    });

    it('is sent to by no one else', () => {
      const queueId = logicalIdOf(template, 'AWS::SQS::Queue', 'JourneysEntryQueue');
      const senders = resourcesOf(template, 'AWS::IAM::Policy')
        .filter((p) => statementsOf([p]).some((s) => asArray(s.Action).includes('sqs:SendMessage') && JSON.stringify(s.Resource).includes(`"${queueId}"`)))
        .flatMap((p): Array<{ Ref: string }> => p.Properties.Roles)
        .map((r) => r.Ref)
        .sort();
      expect(senders).toEqual([API, STREAM, WORKER].map((fn) => serviceRole(template, fn)).sort());
      for (const fn of [HOLD_UNTIL, WAIT_UNTIL, CHECK_CONDITION, STATUS]) expect(environmentOf(template, fn)[ENTRY_QUEUE_URL_ENV]).toBeUndefined();
    });

    it('spells the queue URL variable as the SQS adapter reads it', () => {
      expect(ENTRY_QUEUE_URL_ENV).toBe(queueUrlEnvVar('entry'));
    });
  });

  describe('the stream router', () => {
    it('may stop and describe executions of this deployment only (erasure)', () => {
      expect(withAction(roleStatements(template, STREAM), (a) => a.startsWith('states:'))).toEqual([
        { Effect: 'Allow', Action: ['states:StopExecution', 'states:DescribeExecution'], Resource: EXECUTIONS },
      ]);
    });
  });

  describe('the task functions', () => {
    it('hold_until: read-write table, completes tokens of this deployment, nothing else of Step Functions', () => {
      const statements = roleStatements(template, HOLD_UNTIL);
      expect(withAction(statements, (a) => a.startsWith('states:'))).toEqual([
        { Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: [MACHINES, MACHINE_VERSIONS] },
      ]);
      expect(statements.flatMap((s) => asArray(s.Action))).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:DeleteItem']));
    });

    it.each([WAIT_UNTIL, CHECK_CONDITION])('%s: reads the table, writes nothing, no Step Functions or queue access', (fn) => {
      const actions = roleStatements(template, fn).flatMap((s) => asArray(s.Action));
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      expect(actions.filter((a) => /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem)$|^(states|sqs|iam|ses):/.test(a))).toEqual([]);
    });

    it('are invoked by the journey role only (no resource policy)', () => {
      const taskIds = [HOLD_UNTIL, WAIT_UNTIL, CHECK_CONDITION].map((fn) => logicalIdOf(template, 'AWS::Lambda::Function', fn));
      const permissions = resourcesOf(template, 'AWS::Lambda::Permission').filter((p) => taskIds.some((id) => JSON.stringify(p.Properties.FunctionName).includes(`"${id}"`)));
      expect(permissions).toEqual([]);
      expect(rolesWith(template, (a) => a === 'lambda:InvokeFunction')).toEqual(
        expect.arrayContaining([logicalIdOf(template, 'AWS::IAM::Role', 'JourneysJourneyRole')]),
      );
    });

    it('only the API, the worker, the router, hold_until and the status function have any Step Functions permission', () => {
      expect(rolesWith(template, (a) => a.startsWith('states:'))).toEqual([API, STREAM, WORKER, HOLD_UNTIL, STATUS].map((fn) => serviceRole(template, fn)).sort());
    });
  });

  describe('the environment', () => {
    // What the workflow engine is built from (shared/aws/sfn/workflow-engine.ts).
    const engine = () => ({
      JOURNEY_NAME_PREFIX: PREFIX,
      JOURNEY_ROLE_ARN: getAtt(template, 'AWS::IAM::Role', 'JourneysJourneyRole'),
      JOURNEY_LOG_GROUP_ARN: getAtt(template, 'AWS::Logs::LogGroup', 'JourneysExecutionLogs'),
      JOURNEY_TRACING: 'true',
    });
    // What the compiler writes into the states.
    const compile = () => ({
      JOURNEY_HOLD_UNTIL_ARN: getAtt(template, 'AWS::Lambda::Function', HOLD_UNTIL),
      JOURNEY_WAIT_UNTIL_ARN: getAtt(template, 'AWS::Lambda::Function', WAIT_UNTIL),
      JOURNEY_CHECK_CONDITION_ARN: getAtt(template, 'AWS::Lambda::Function', CHECK_CONDITION),
      [SEND_QUEUE_URL_ENV]: { Ref: logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingSendQueue') },
    });
    const entryQueue = () => ({ [ENTRY_QUEUE_URL_ENV]: { Ref: logicalIdOf(template, 'AWS::SQS::Queue', 'JourneysEntryQueue') } });

    it.each([API, STREAM])('gives %s every journey setting and the entry queue', (fn) => {
      expect(environmentOf(template, fn)).toMatchObject({ ...engine(), ...compile(), ...entryQueue() });
    });

    it('gives the worker every journey setting', () => {
      expect(environmentOf(template, WORKER)).toMatchObject({ ...engine(), ...compile() });
    });

    it.each([HOLD_UNTIL, STATUS])('gives %s the engine settings only (hold_until\'s own ARN would be a cycle)', (fn) => {
      const environment = environmentOf(template, fn);
      expect(environment).toMatchObject(engine());
      for (const key of Object.keys(compile())) expect(environment[key]).toBeUndefined();
    });

    it.each([WAIT_UNTIL, CHECK_CONDITION])('gives %s no journey setting (it reads the table only)', (fn) => {
      expect(Object.keys(environmentOf(template, fn)).filter((key) => key.startsWith('JOURNEY_') || key.startsWith('QUEUE_URL_'))).toEqual([]);
    });

    it('names a log group ARN ending ":*" (what CloudFormation returns for Arn) as Step Functions wants', () => {
      expect(environmentOf(template, API).JOURNEY_LOG_GROUP_ARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^JourneysExecutionLogs/), 'Arn'] });
    });

    it('never lets a function that knows the send queue URL only for compiling send to it', () => {
      const sendQueueId = logicalIdOf(template, 'AWS::SQS::Queue', 'MessagingSendQueue');
      for (const fn of [API, STREAM, WORKER]) {
        expect(roleStatements(template, fn).filter((s) => JSON.stringify(s.Resource).includes(`"${sendQueueId}"`))).toEqual([]);
      }
    });
  });

  describe('execution logs and tracing', () => {
    it('go to one /aws/vendedlogs/ log group with a retention, removed with the stack', () => {
      template.hasResource('AWS::Logs::LogGroup', {
        Properties: { LogGroupName: `/aws/vendedlogs/states/${PREFIX}`, RetentionInDays: 90, KmsKeyId: Match.absent() },
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
      });
    });

    it('are traced (JOURNEY_TRACING) with X-Ray permissions on the journey role', () => {
      expect(environmentOf(template, API).JOURNEY_TRACING).toBe('true');
      expect(XRAY_ACTIONS).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets']);
    });
  });

  describe('the execution-status rule', () => {
    it('takes this deployment\'s execution status changes from the default bus to the status function, with a DLQ and retries', () => {
      const rules = resourcesOf(template, 'AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } });
      expect(rules).toHaveLength(1);
      expect(rules[0]?.Properties).toEqual({
        Description: expect.any(String),
        EventBusName: 'default',
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.states'],
          'detail-type': [EXECUTION_STATUS_DETAIL_TYPE],
          detail: { stateMachineArn: [{ prefix: statesArn(`:stateMachine:${PREFIX}-`) }] },
        },
        Targets: [
          {
            Id: 'Target0',
            Arn: getAtt(template, 'AWS::Lambda::Function', STATUS),
            DeadLetterConfig: { Arn: getAtt(template, 'AWS::SQS::Queue', 'JourneysStatusDeadLetterQueue') },
            RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
          },
        ],
      });
      expect(EXECUTION_STATUS_DETAIL_TYPE).toBe('Step Functions Execution Status Change');
    });

    it('and the once-a-minute active-runs rule are the only ones allowed to invoke the status function, and to dead-letter into its queue', () => {
      const rules = ['JourneysStatusRule', 'JourneysActiveRunsRule'];
      const permissions = resourcesOf(template, 'AWS::Lambda::Permission', { Properties: { FunctionName: getAtt(template, 'AWS::Lambda::Function', STATUS) } });
      expect(permissions.map((p) => p.Properties)).toEqual(
        rules.map((rule) => ({ Action: 'lambda:InvokeFunction', FunctionName: getAtt(template, 'AWS::Lambda::Function', STATUS), Principal: 'events.amazonaws.com', SourceArn: getAtt(template, 'AWS::Events::Rule', rule) })),
      );
      const dlqId = logicalIdOf(template, 'AWS::SQS::Queue', 'JourneysStatusDeadLetterQueue');
      const [policy] = resourcesOf(template, 'AWS::SQS::QueuePolicy', { Properties: { Queues: [{ Ref: dlqId }] } });
      const allows = (policy?.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).filter((s) => s.Effect === 'Allow');
      expect(allows).toEqual(
        rules.map((rule) =>
          expect.objectContaining({
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': getAtt(template, 'AWS::Events::Rule', rule) } },
          }),
        ),
      );
    });

    it('asks for the runs in flight once a minute, with a fixed input', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [Match.objectLike({ Arn: getAtt(template, 'AWS::Lambda::Function', STATUS), Input: JSON.stringify({ kind: 'active-runs' }), RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 300 } })],
      });
    });

    it('status function: read-write table, its failed asynchronous invocations in the same DLQ, reads executions of this deployment only', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'journey-status', POWERTOOLS_METRICS_NAMESPACE: 'Engage' }) },
        DeadLetterConfig: { TargetArn: getAtt(template, 'AWS::SQS::Queue', 'JourneysStatusDeadLetterQueue') },
      });
      const statements = roleStatements(template, STATUS);
      expect(statements.flatMap((s) => asArray(s.Action))).toEqual(expect.arrayContaining(['dynamodb:UpdateItem']));
      // The input of a large execution is left out of the event: it is read from the execution.
      expect(withAction(statements, (a) => a.startsWith('states:'))).toEqual([
        { Effect: 'Allow', Action: ['states:DescribeExecution', 'states:GetExecutionHistory'], Resource: EXECUTIONS },
      ]);
    });
  });

  describe('the functions', () => {
    it.each([
      [WORKER, 'journey-worker'],
      [HOLD_UNTIL, 'journey-hold-until'],
      [WAIT_UNTIL, 'journey-wait-until'],
      [CHECK_CONDITION, 'journey-check-condition'],
      [STATUS, 'journey-status'],
    ])('%s has the service name %s and the table', (fn, serviceName) => {
      expect(environmentOf(template, fn)).toMatchObject({
        POWERTOOLS_SERVICE_NAME: serviceName,
        TABLE_NAME: { Ref: expect.stringMatching(/^DataTable/) },
      });
    });
  });

  describe('monitoring', () => {
    it('alarms on any failed journey execution (EMF JourneyExecutionsFailed of the status function)', () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Engage',
        MetricName: 'JourneyExecutionsFailed',
        Dimensions: [{ Name: 'service', Value: 'journey-status' }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      });
    });

    it.each(['JourneysEntryDeadLetterQueue', 'JourneysStatusDeadLetterQueue'])('alarms on any message in %s', (prefix) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: getAtt(template, 'AWS::SQS::Queue', prefix, 'QueueName') }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      });
    });

    it('charts executions started and failed, the entry queue and its DLQ, the worker and StartExecution throttling', () => {
      const [dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
      const body = JSON.stringify(dashboard?.Properties.DashboardBody);
      // Started: counted by the worker as it starts them; failed: by the status function.
      expect(body).toContain('[\\"Engage\\",\\"JourneyExecutionsStarted\\",\\"service\\",\\"journey-worker\\"');
      expect(body).toContain('[\\"Engage\\",\\"JourneyExecutionsFailed\\",\\"service\\",\\"journey-status\\"');
      for (const title of ['## Journeys', 'Journey executions', 'Entry queue', 'Entry worker', 'StartExecution (account)']) expect(body).toContain(title);
      expect(body).toContain('[\\"AWS/States\\",\\"ThrottledEvents\\",\\"APIName\\",\\"StartExecution\\"');
      for (const queue of ['JourneysEntryQueue', 'JourneysEntryDeadLetterQueue']) expect(body).toContain(logicalIdOf(template, 'AWS::SQS::Queue', queue));
    });
  });
});

describe('cdk-nag on journeys', () => {
  const acknowledgementsUnder = (scope: IConstruct) =>
    scope.node
      .findAll()
      .flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) =>
            Object.entries(m.data as Record<string, string>).map(([rule, reason]) => ({ construct: c, rule: rule.replace(/^Annotation::/, ''), reason })),
          ),
      );
  const house = /^(AwsSolutions-IAM5\[Resource::<DataTable.*|AwsSolutions-L1|Serverless-LambdaLatestVersion|Serverless-LambdaDLQ)$/;
  const nagArn = (resource: string) => `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:${resource}]`;

  it('acknowledges findings only on CloudFormation resources, each one listed here with a reason', () => {
    // Prepare
    const { stack } = buildApp();
    // Act
    const own = acknowledgementsUnder(stack.journeys);
    const onApi = acknowledgementsUnder(stack.ingestion.apiFunction.role.node.findChild('DefaultPolicy')).filter(({ rule }) => rule.includes(':states:'));
    const onStream = acknowledgementsUnder(stack.streamProcessing.consumer.role.node.findChild('DefaultPolicy')).filter(({ rule }) => rule.includes(':states:'));
    // Assess
    for (const { construct, reason } of [...own, ...onApi, ...onStream]) {
      expect(construct).toBeInstanceOf(CfnResourceConstruct);
      expect(reason.length).toBeGreaterThan(40);
    }
    expect(
      own
        .filter(({ rule }) => !house.test(rule))
        .map(({ construct, rule }) => `${rule} at ${construct.node.path}`)
        .sort(),
    ).toEqual([
      'AwsSolutions-IAM5[Resource::*] at Engage/Journeys/CheckConditionFunction/ServiceRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] at Engage/Journeys/HoldUntilFunction/ServiceRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] at Engage/Journeys/JourneyRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] at Engage/Journeys/StatusFunction/ServiceRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] at Engage/Journeys/WaitUntilFunction/ServiceRole/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] at Engage/Journeys/WorkerFunction/ServiceRole/DefaultPolicy/Resource',
      `${nagArn(`execution:${PREFIX}-*:*`)} at Engage/Journeys/StatusFunction/ServiceRole/DefaultPolicy/Resource`,
      `${nagArn(`execution:${PREFIX}-*:*`)} at Engage/Journeys/WorkerFunction/ServiceRole/DefaultPolicy/Resource`,
      `${nagArn(`stateMachine:${PREFIX}-*:*`)} at Engage/Journeys/HoldUntilFunction/ServiceRole/DefaultPolicy/Resource`,
      `${nagArn(`stateMachine:${PREFIX}-*:*`)} at Engage/Journeys/WorkerFunction/ServiceRole/DefaultPolicy/Resource`,
      `${nagArn(`stateMachine:${PREFIX}-*`)} at Engage/Journeys/HoldUntilFunction/ServiceRole/DefaultPolicy/Resource`,
      `${nagArn(`stateMachine:${PREFIX}-*`)} at Engage/Journeys/WorkerFunction/ServiceRole/DefaultPolicy/Resource`,
      'AwsSolutions-SQS3 at Engage/Journeys/StatusDeadLetterQueue/Resource',
      expect.stringMatching(/^Serverless-LambdaEventSourceMappingDestination at Engage\/Journeys\/WorkerFunction\/Function\/SqsEventSource:.*\/Resource$/),
      'Serverless-SQSRedrivePolicy at Engage/Journeys/EntryDeadLetterQueue/Resource',
      'Serverless-SQSRedrivePolicy at Engage/Journeys/StatusDeadLetterQueue/Resource',
    ]);
    expect(onApi.map(({ rule }) => rule).sort()).toEqual(
      [nagArn(`execution:${PREFIX}-*:*`), nagArn(`stateMachine:${PREFIX}-*:*`), nagArn(`stateMachine:${PREFIX}-*`)].sort(),
    );
    expect(onStream.map(({ rule }) => rule)).toEqual([nagArn(`execution:${PREFIX}-*:*`)]);
  });

  it('gives the Resource "*" of the journey role and the API a written reason naming the log delivery actions', () => {
    const { stack } = buildApp();
    const reasons = (scope: IConstruct) =>
      acknowledgementsUnder(scope)
        .filter(({ rule }) => rule === 'AwsSolutions-IAM5[Resource::*]')
        .map(({ reason }) => reason)
        .join(' ');
    expect(reasons(stack.journeys.journeyRole)).toMatch(/logs:CreateLogDelivery.*DescribeLogGroups/);
    expect(reasons(stack.journeys.journeyRole)).toContain('xray:GetSamplingTargets');
    expect(reasons(stack.ingestion.apiFunction.role)).toMatch(/Journeys: .*logs:CreateLogDelivery/);
  });

  it.each([
    ['the cdk.json context', {}],
    ['another journey name prefix', { 'engage:journeyNamePrefix': 'acme-eng' }],
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
