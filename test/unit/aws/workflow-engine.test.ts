import {
  ConflictException,
  CreateStateMachineAliasCommand,
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionLimitExceeded,
  GetExecutionHistoryCommand,
  InvalidDefinition,
  InvalidOutput,
  InvalidToken,
  ResourceNotFound,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineAlreadyExists,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
  UpdateStateMachineAliasCommand,
  UpdateStateMachineCommand,
  ValidationException,
  type ExecutionStatus as SfnExecutionStatus,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { executionArnOf, parseVersionArn, StepFunctionsWorkflowEngine, type StepFunctionsWorkflowEngineOptions } from '../../../shared/aws/sfn/workflow-engine';
import type { ExecutionStatus } from '../../../shared/ports';

const sfnMock = mockClient(SFNClient);
const client = new SFNClient({ region: 'eu-west-1' });
const ROLE = 'arn:aws:iam::123456789012:role/engage-journeys';
const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:engage-j_cart';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:engage-j_cart:j_cart-1-u_1-0';
const DEFINITION = { StartAt: 'Wait 3 days', States: { 'Wait 3 days': { Type: 'Wait', Seconds: 259200, End: true } } };
const meta = { $metadata: { httpStatusCode: 400 } };

function engine(extra: Partial<StepFunctionsWorkflowEngineOptions> = {}): StepFunctionsWorkflowEngine {
  return new StepFunctionsWorkflowEngine(client, { roleArn: ROLE, namePrefix: 'engage', ...extra });
}

function serviceError(name: string): SFNServiceException {
  return new SFNServiceException({ name, $fault: 'client', message: name, ...meta });
}

describe('StepFunctionsWorkflowEngine', () => {
  afterEach(() => {
    sfnMock.reset();
  });

  describe('publish', () => {
    it('creates a STANDARD state machine with a published version and a live alias on it', async () => {
      // Prepare
      sfnMock.on(CreateStateMachineCommand).resolves({ stateMachineArn: MACHINE, creationDate: new Date(), stateMachineVersionArn: `${MACHINE}:1` });
      sfnMock.on(CreateStateMachineAliasCommand).resolves({ stateMachineAliasArn: `${MACHINE}:live`, creationDate: new Date() });
      const logging = { level: 'ERROR' as const, includeExecutionData: false, destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: 'arn:aws:logs:eu-west-1:123456789012:log-group:journeys:*' } }] };

      // Act
      const published = await engine({ loggingConfiguration: logging, tracing: true }).publish('j_cart', DEFINITION, 'Abandoned cart, version 1');

      // Assess
      expect(published).toEqual({ stateMachineArn: MACHINE, versionArn: `${MACHINE}:1`, version: 1 });
      expect(sfnMock).toHaveReceivedCommandWith(CreateStateMachineCommand, {
        name: 'engage-j_cart',
        type: 'STANDARD',
        definition: JSON.stringify(DEFINITION),
        roleArn: ROLE,
        publish: true,
        versionDescription: 'Abandoned cart, version 1',
        loggingConfiguration: logging,
        tracingConfiguration: { enabled: true },
      });
      expect(sfnMock).toHaveReceivedCommandWith(CreateStateMachineAliasCommand, { name: 'live', routingConfiguration: [{ stateMachineVersionArn: `${MACHINE}:1`, weight: 100 }] });
      expect(sfnMock).not.toHaveReceivedCommand(UpdateStateMachineCommand);
      expect(sfnMock).not.toHaveReceivedCommand(UpdateStateMachineAliasCommand);
    });

    it('updates an existing state machine with publish: true and moves the alias to the new version', async () => {
      // Prepare
      sfnMock.on(CreateStateMachineCommand).rejects(new StateMachineAlreadyExists({ message: `State Machine Already Exists: '${MACHINE}'`, ...meta }));
      sfnMock.on(UpdateStateMachineCommand).resolves({ updateDate: new Date(), stateMachineVersionArn: `${MACHINE}:4` });
      sfnMock.on(UpdateStateMachineAliasCommand).resolves({ updateDate: new Date() });

      // Act
      const published = await engine().publish('j_cart', DEFINITION, 'version 4');

      // Assess
      expect(published).toEqual({ stateMachineArn: MACHINE, versionArn: `${MACHINE}:4`, version: 4 });
      const update = sfnMock.commandCalls(UpdateStateMachineCommand)[0]?.args[0].input;
      expect(update).toEqual({ stateMachineArn: MACHINE, definition: JSON.stringify(DEFINITION), roleArn: ROLE, publish: true, versionDescription: 'version 4' });
      expect(sfnMock).toHaveReceivedCommandWith(UpdateStateMachineAliasCommand, {
        stateMachineAliasArn: `${MACHINE}:live`,
        routingConfiguration: [{ stateMachineVersionArn: `${MACHINE}:4`, weight: 100 }],
      });
      expect(sfnMock).not.toHaveReceivedCommand(CreateStateMachineAliasCommand);
    });

    it('creates the alias when an existing state machine has none', async () => {
      // Prepare
      sfnMock.on(CreateStateMachineCommand).rejects(new StateMachineAlreadyExists({ message: 'exists', ...meta }));
      sfnMock.on(UpdateStateMachineCommand).resolves({ updateDate: new Date(), stateMachineVersionArn: `${MACHINE}:2` });
      sfnMock.on(UpdateStateMachineAliasCommand).rejects(new ResourceNotFound({ message: 'no alias', ...meta }));
      sfnMock.on(CreateStateMachineAliasCommand).resolves({ stateMachineAliasArn: `${MACHINE}:live`, creationDate: new Date() });

      // Act
      await engine().publish('j_cart', DEFINITION, 'v2');

      // Assess
      expect(sfnMock).toHaveReceivedCommandWith(CreateStateMachineAliasCommand, { name: 'live', routingConfiguration: [{ stateMachineVersionArn: `${MACHINE}:2`, weight: 100 }] });
    });

    it('moves an alias that exists already on a new state machine (a publish retried after a partial failure)', async () => {
      // Prepare
      sfnMock.on(CreateStateMachineCommand).resolves({ stateMachineArn: MACHINE, creationDate: new Date(), stateMachineVersionArn: `${MACHINE}:1` });
      sfnMock.on(CreateStateMachineAliasCommand).rejects(new ConflictException({ message: 'alias exists', ...meta }));
      sfnMock.on(UpdateStateMachineAliasCommand).resolves({ updateDate: new Date() });

      // Act
      await engine().publish('j_cart', DEFINITION, 'v1');

      // Assess
      expect(sfnMock).toHaveReceivedCommandWith(UpdateStateMachineAliasCommand, { stateMachineAliasArn: `${MACHINE}:live` });
    });

    it('builds the state machine ARN from the client region and the role account unless given', async () => {
      // Prepare
      const other = new SFNClient({ region: 'us-west-2' });
      sfnMock.on(CreateStateMachineCommand).rejects(new StateMachineAlreadyExists({ message: 'exists', ...meta }));
      sfnMock.on(UpdateStateMachineCommand).resolves({ updateDate: new Date(), stateMachineVersionArn: 'arn:aws:states:us-west-2:123456789012:stateMachine:engage-j_cart:2' });
      sfnMock.on(UpdateStateMachineAliasCommand).resolves({ updateDate: new Date() });

      // Act
      await new StepFunctionsWorkflowEngine(other, { roleArn: ROLE, namePrefix: 'engage' }).publish('j_cart', DEFINITION, 'v2');
      await engine({ region: 'ap-south-1', accountId: '210987654321' }).publish('j_cart', DEFINITION, 'v2');

      // Assess
      const arns = sfnMock.commandCalls(UpdateStateMachineCommand).map((call) => call.args[0].input.stateMachineArn);
      expect(arns).toEqual(['arn:aws:states:us-west-2:123456789012:stateMachine:engage-j_cart', 'arn:aws:states:ap-south-1:210987654321:stateMachine:engage-j_cart']);
    });

    it('cuts the version description to 256 characters', async () => {
      // Prepare
      sfnMock.on(CreateStateMachineCommand).resolves({ stateMachineArn: MACHINE, creationDate: new Date(), stateMachineVersionArn: `${MACHINE}:1` });
      sfnMock.on(CreateStateMachineAliasCommand).resolves({});

      // Act
      await engine().publish('j_cart', DEFINITION, 'x'.repeat(300));

      // Assess
      expect(sfnMock.commandCalls(CreateStateMachineCommand)[0]?.args[0].input.versionDescription).toHaveLength(256);
    });

    it('rethrows other errors (an invalid definition) without touching the alias', async () => {
      // Prepare
      sfnMock.on(CreateStateMachineCommand).rejects(new InvalidDefinition({ message: 'bad', ...meta }));

      // Act
      const publishing = engine().publish('j_cart', DEFINITION, 'v1');

      // Assess
      await expect(publishing).rejects.toMatchObject({ name: 'InvalidDefinition' });
      expect(sfnMock).not.toHaveReceivedCommand(CreateStateMachineAliasCommand);
      expect(sfnMock).not.toHaveReceivedCommand(UpdateStateMachineAliasCommand);
    });

    it('refuses a journey id that makes no valid state machine name, before calling AWS', async () => {
      // Act & Assess
      await expect(engine().publish('j cart', DEFINITION, 'v1')).rejects.toThrow(RangeError);
      await expect(engine().publish('j'.repeat(80), DEFINITION, 'v1')).rejects.toThrow(RangeError);
      expect(sfnMock.calls()).toHaveLength(0);
    });

    it('refuses a bad role ARN or name prefix', () => {
      expect(() => new StepFunctionsWorkflowEngine(client, { roleArn: 'engage-role', namePrefix: 'engage' })).toThrow('roleArn');
      expect(() => new StepFunctionsWorkflowEngine(client, { roleArn: ROLE, namePrefix: 'has space' })).toThrow(RangeError);
    });
  });

  describe('start', () => {
    it('starts the execution on the version ARN with the name and the input as JSON', async () => {
      // Prepare
      sfnMock.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });

      // Act
      const result = await engine().start(`${MACHINE}:3`, 'j_cart-1-u_1-0', { userId: 'u_1', entry: { audience: 'aud_1' } });

      // Assess
      expect(result).toEqual({ executionArn: EXECUTION, started: true });
      expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, {
        stateMachineArn: `${MACHINE}:3`,
        name: 'j_cart-1-u_1-0',
        input: '{"userId":"u_1","entry":{"audience":"aud_1"}}',
      });
    });

    it('reports a duplicate name as not started, with the existing execution ARN', async () => {
      // Prepare
      sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', ...meta }));

      // Act
      const result = await engine().start(`${MACHINE}:3`, 'j_cart-1-u_1-0', {});

      // Assess
      expect(result).toEqual({ executionArn: EXECUTION, started: false });
    });

    it.each([
      ['ThrottlingException', serviceError('ThrottlingException')],
      ['ExecutionLimitExceeded', new ExecutionLimitExceeded({ message: 'limit', ...meta })],
      ['StateMachineDoesNotExist', serviceError('StateMachineDoesNotExist')],
    ])('rethrows %s (throttling: the entry queue redelivers)', async (name, error) => {
      // Prepare
      sfnMock.on(StartExecutionCommand).rejects(error);

      // Act & Assess
      await expect(engine().start(`${MACHINE}:3`, 'n', {})).rejects.toMatchObject({ name });
    });
  });

  describe('stop', () => {
    it('stops the execution with the cause', async () => {
      // Prepare
      sfnMock.on(StopExecutionCommand).resolves({ stopDate: new Date() });

      // Act
      await engine().stop(EXECUTION, 'exit event Order Completed');

      // Assess
      expect(sfnMock).toHaveReceivedCommandWith(StopExecutionCommand, { executionArn: EXECUTION, cause: 'exit event Order Completed' });
    });

    it('is fine with an execution that does not exist', async () => {
      // Prepare
      sfnMock.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', ...meta }));

      // Act & Assess
      await expect(engine().stop(EXECUTION, 'exit')).resolves.toBeUndefined();
    });

    it('is fine with a validation error for an execution that has ended, and rethrows it for a running one', async () => {
      // Prepare
      sfnMock.on(StopExecutionCommand).rejects(new ValidationException({ message: 'not running', ...meta }));
      sfnMock
        .on(DescribeExecutionCommand)
        .resolvesOnce({ executionArn: EXECUTION, stateMachineArn: `${MACHINE}:3`, status: 'SUCCEEDED', startDate: new Date(), stopDate: new Date() })
        .resolvesOnce({ executionArn: EXECUTION, stateMachineArn: `${MACHINE}:3`, status: 'RUNNING', startDate: new Date() });

      // Act & Assess
      await expect(engine().stop(EXECUTION, 'exit')).resolves.toBeUndefined();
      await expect(engine().stop(EXECUTION, 'exit')).rejects.toMatchObject({ name: 'ValidationException' });
    });

    it('rethrows throttling', async () => {
      // Prepare
      sfnMock.on(StopExecutionCommand).rejects(serviceError('ThrottlingException'));

      // Act & Assess
      await expect(engine().stop(EXECUTION, 'exit')).rejects.toMatchObject({ name: 'ThrottlingException' });
    });
  });

  describe('task tokens', () => {
    it('sends success with the output as JSON, and failure with error and cause', async () => {
      // Prepare
      sfnMock.on(SendTaskSuccessCommand).resolves({});
      sfnMock.on(SendTaskFailureCommand).resolves({});

      // Act
      await engine().sendTaskSuccess('token-1', { event: 'Order Completed', messageId: 'm_2' });
      await engine().sendTaskFailure('token-2', 'Hold.Cancelled', 'c'.repeat(40_000));

      // Assess
      expect(sfnMock).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'token-1', output: '{"event":"Order Completed","messageId":"m_2"}' });
      const failure = sfnMock.commandCalls(SendTaskFailureCommand)[0]?.args[0].input;
      expect(failure?.error).toBe('Hold.Cancelled');
      expect(failure?.cause).toHaveLength(32_768);
    });

    it.each([
      ['TaskTimedOut', new TaskTimedOut({ message: 'timed out', ...meta })],
      ['TaskDoesNotExist', new TaskDoesNotExist({ message: 'gone', ...meta })],
      ['InvalidToken', new InvalidToken({ message: 'bad token', ...meta })],
    ])('treats %s as done', async (_name, error) => {
      // Prepare
      sfnMock.on(SendTaskSuccessCommand).rejects(error);
      sfnMock.on(SendTaskFailureCommand).rejects(error);

      // Act & Assess
      await expect(engine().sendTaskSuccess('t', {})).resolves.toBeUndefined();
      await expect(engine().sendTaskFailure('t', 'E', 'c')).resolves.toBeUndefined();
    });

    it('rethrows anything else', async () => {
      // Prepare
      sfnMock.on(SendTaskSuccessCommand).rejects(new InvalidOutput({ message: 'too big', ...meta }));
      sfnMock.on(SendTaskFailureCommand).rejects(serviceError('ThrottlingException'));

      // Act & Assess
      await expect(engine().sendTaskSuccess('t', {})).rejects.toMatchObject({ name: 'InvalidOutput' });
      await expect(engine().sendTaskFailure('t', 'E', 'c')).rejects.toMatchObject({ name: 'ThrottlingException' });
    });
  });

  describe('describe', () => {
    it('reads only DescribeExecution when the current state is not asked for (no GetExecutionHistory call or permission)', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, stateMachineArn: MACHINE, name: 'n', status: 'SUCCEEDED', startDate: new Date('2026-03-01T10:00:00Z'), stopDate: new Date('2026-03-02T10:00:00Z') });
      sfnMock.on(GetExecutionHistoryCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
      // Act
      const description = await engine().describe(EXECUTION, { currentState: false });
      // Assess
      expect(description).toMatchObject({ status: 'succeeded', stoppedAt: '2026-03-02T10:00:00.000Z' });
      expect(sfnMock.commandCalls(GetExecutionHistoryCommand)).toHaveLength(0);
    });

    it('returns status, times and the state entered last (one page of history, newest first, no data)', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).resolves({
        executionArn: EXECUTION,
        stateMachineArn: `${MACHINE}:3`,
        name: 'j_cart-1-u_1-0',
        status: 'RUNNING',
        startDate: new Date('2026-03-01T10:00:00Z'),
        input: '{"userId":"u_1","run":{"pk":"USER#u_1","sk":"JRUN#j_cart#n"}}',
      });
      sfnMock.on(GetExecutionHistoryCommand).resolves({
        events: [
          { id: 9, timestamp: new Date(), type: 'TaskSubmitted' },
          { id: 8, timestamp: new Date(), type: 'TaskScheduled' },
          { id: 7, timestamp: new Date(), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Hold until Order Completed (2 days)' } },
          { id: 6, timestamp: new Date(), type: 'WaitStateExited', stateExitedEventDetails: { name: 'Wait 3 days' } },
          { id: 5, timestamp: new Date(), type: 'WaitStateEntered', stateEnteredEventDetails: { name: 'Wait 3 days' } },
        ],
      });

      // Act
      const description = await engine().describe(EXECUTION);

      // Assess
      expect(description).toEqual({
        executionArn: EXECUTION,
        name: 'j_cart-1-u_1-0',
        status: 'running',
        startedAt: '2026-03-01T10:00:00.000Z',
        input: { userId: 'u_1', run: { pk: 'USER#u_1', sk: 'JRUN#j_cart#n' } },
        currentState: 'Hold until Order Completed (2 days)',
      });
      expect(sfnMock).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { executionArn: EXECUTION, reverseOrder: true, maxResults: 100, includeExecutionData: false });
      expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 1);
    });

    it('gives the stop time of an ended run and leaves out the state when the page has none', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).resolves({
        executionArn: EXECUTION,
        stateMachineArn: `${MACHINE}:3`,
        name: 'n',
        status: 'ABORTED',
        startDate: new Date('2026-03-01T10:00:00Z'),
        stopDate: new Date('2026-03-02T10:00:00Z'),
      });
      sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [{ id: 3, timestamp: new Date(), type: 'ExecutionAborted' }] });

      // Act
      const description = await engine().describe(EXECUTION);

      // Assess
      expect(description).toEqual({ executionArn: EXECUTION, name: 'n', status: 'aborted', startedAt: '2026-03-01T10:00:00.000Z', stoppedAt: '2026-03-02T10:00:00.000Z' });
    });

    it.each<[SfnExecutionStatus, ExecutionStatus]>([
      ['RUNNING', 'running'],
      ['PENDING_REDRIVE', 'running'],
      ['SUCCEEDED', 'succeeded'],
      ['FAILED', 'failed'],
      ['TIMED_OUT', 'timed_out'],
      ['ABORTED', 'aborted'],
    ])('maps %s to %s', async (status, expected) => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, stateMachineArn: MACHINE, name: 'n', status, startDate: new Date() });
      sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });

      // Act & Assess
      expect((await engine().describe(EXECUTION))?.status).toBe(expected);
    });

    it('returns undefined for an execution that does not exist', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: 'none', ...meta }));

      // Act & Assess
      await expect(engine().describe(EXECUTION)).resolves.toBeUndefined();
      expect(sfnMock).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
    });

    it('rethrows throttling of either call', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, stateMachineArn: MACHINE, name: 'n', status: 'RUNNING', startDate: new Date() });
      sfnMock.on(GetExecutionHistoryCommand).rejects(serviceError('ThrottlingException'));

      // Act & Assess
      await expect(engine().describe(EXECUTION)).rejects.toMatchObject({ name: 'ThrottlingException' });
    });
  });

  describe('ARN helpers', () => {
    it('parses a version ARN and refuses anything else', () => {
      expect(parseVersionArn(`${MACHINE}:12`)).toEqual({ stateMachineArn: MACHINE, version: 12 });
      expect(() => parseVersionArn(MACHINE)).toThrow('not a state machine version ARN');
      expect(() => parseVersionArn(`${MACHINE}:live`)).toThrow('not a state machine version ARN');
    });

    it('builds execution ARNs from state machine, version or alias ARNs', () => {
      expect(executionArnOf(MACHINE, 'x')).toBe('arn:aws:states:eu-west-1:123456789012:execution:engage-j_cart:x');
      expect(executionArnOf(`${MACHINE}:3`, 'x')).toBe('arn:aws:states:eu-west-1:123456789012:execution:engage-j_cart:x');
      expect(executionArnOf(`${MACHINE}:live`, 'x')).toBe('arn:aws:states:eu-west-1:123456789012:execution:engage-j_cart:x');
      expect(engine().executionArn(`${MACHINE}:3`, 'x')).toBe('arn:aws:states:eu-west-1:123456789012:execution:engage-j_cart:x');
    });
  });
});
