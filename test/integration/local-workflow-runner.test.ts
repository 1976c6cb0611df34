import {
  LocalWorkflowRunner,
  type LocalExecution,
  type LocalExecutionChange,
  type LocalInvokeContext,
  type LocalStateMachineVersion,
  type LocalWorkflowRunnerOptions,
  type LocalWorkflowStore,
} from '../../infra/local/workflow-runner';
import type { JourneyDefinition, JourneyStep } from '../../shared/domain/journey/definition';
import type { JsonValue } from '../../statemachines/asl';
import { compileJourney } from '../../statemachines/compile-journey';
import { RUN_TABLE, RESOURCES } from '../unit/statemachines/fixtures';

/**
 * The local workflow engine running compiled journeys in aws-local-stepfunctions with scaled
 * time. Most tests use a time scale at which a day lasts a few milliseconds.
 */

const FAST = 86_400 * 200; // a day in 5 ms
const INPUT = {
  userId: 'u_1',
  entry: { event: 'Cart Abandoned', messageId: 'm_1', properties: { cartId: 'c_9' }, timestamp: '2026-03-01T10:00:00Z' },
  run: { pk: 'USER#u_1', sk: 'JRUN#j_test#u_1-1' },
};

function journey(start: string, steps: Record<string, JourneyStep>): JourneyDefinition {
  return { name: 'Test journey', entry: { event: 'Cart Abandoned' }, start, steps };
}

function asl(definition: JourneyDefinition, version = 1, resources = RESOURCES): Record<string, unknown> {
  return { ...compileJourney(definition, { journeyId: 'j_test', version, resources }) };
}

interface Harness {
  runner: LocalWorkflowRunner;
  sent: Array<{ queueUrl: string; body: JsonValue }>;
  invoked: Array<{ functionArn: string; payload: JsonValue; context: LocalInvokeContext }>;
  changes: Array<{ name: string; change: LocalExecutionChange }>;
}

const runners: LocalWorkflowRunner[] = [];

/** A runner that records sends and invocations; `answer` is what each invoked function returns. */
function harness(timeScale: number, answer: (functionArn: string, payload: JsonValue) => JsonValue | Promise<JsonValue> = () => null, extra: Partial<LocalWorkflowRunnerOptions> = {}): Harness {
  const sent: Harness['sent'] = [];
  const invoked: Harness['invoked'] = [];
  const changes: Harness['changes'] = [];
  const runner = new LocalWorkflowRunner({
    timeScale,
    sendMessage: (queueUrl, body) => {
      sent.push({ queueUrl, body });
    },
    invoke: (functionArn, payload, context) => {
      invoked.push({ functionArn, payload, context });
      return answer(functionArn, payload);
    },
    onChange: (execution: LocalExecution, change) => changes.push({ name: execution.name, change }),
    // asl-validator costs about 0.15 s per publish; the test of refusals turns it on.
    validate: false,
    ...extra,
  });
  runners.push(runner);
  return { runner, sent, invoked, changes };
}

/** Waits until the execution has ended (real time, bounded). */
async function ended(runner: LocalWorkflowRunner, executionArn: string, timeoutMs = 5000): Promise<LocalExecution> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const execution = runner.execution(executionArn);
    if (execution !== undefined && execution.status !== 'running') return execution;
    if (Date.now() > deadline) throw new Error(`${executionArn} still running in ${execution?.currentState ?? '?'}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until the execution has entered `state` (real time, bounded). */
async function inState(runner: LocalWorkflowRunner, executionArn: string, state: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (runner.execution(executionArn)?.currentState !== state) {
    if (Date.now() > deadline) throw new Error(`${executionArn} never entered "${state}"`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.close()));
});

const WAIT_ONE_DAY = journey('wait', { wait: { type: 'wait', duration: 'P1D', next: null } });

describe('LocalWorkflowRunner', () => {
  describe('waits', () => {
    it('runs a one-day Wait in about a second at a time scale of 86400', async () => {
      // Prepare
      const { runner } = harness(86_400);
      const { versionArn } = await runner.publish('j_test', asl(WAIT_ONE_DAY), 'v1');

      // Act
      const startedAt = Date.now();
      const { executionArn, started } = await runner.start(versionArn, 'u_1-1', INPUT);
      const execution = await ended(runner, executionArn);
      const elapsed = Date.now() - startedAt;

      // Assess
      expect(started).toBe(true);
      expect(execution.status).toBe('succeeded');
      expect(execution.statesEntered).toEqual(['Wait 1 day', 'End of journey']);
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(2500);
    });

    it('waits until the timestamp from wait_until, scaled: (timestamp − now) / timeScale', async () => {
      // Prepare: the function answers "one day from now"; at 86400 × 4 that is 250 ms.
      const definition = journey('at9', { at9: { type: 'wait_until', time: '09:00', timezone: 'Europe/Paris', next: null } });
      const { runner, invoked } = harness(86_400 * 4, () => ({ timestamp: new Date(Date.now() + 86_400_000).toISOString() }));
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');

      // Act
      const startedAt = Date.now();
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      const execution = await ended(runner, executionArn);
      const elapsed = Date.now() - startedAt;

      // Assess
      expect(execution.status).toBe('succeeded');
      expect(invoked[0]?.functionArn).toBe(RESOURCES.waitUntilFunctionArn);
      expect(execution.statesEntered).toEqual(['Find next 09:00 (Europe/Paris)', 'Wait until 09:00 (Europe/Paris)', 'End of journey']);
      expect(elapsed).toBeGreaterThanOrEqual(200);
      expect(elapsed).toBeLessThan(1500);
    });

    it('passes a timestamp already past at once, and fails the run on one that is not a timestamp', async () => {
      // Prepare
      const definition = journey('at9', { at9: { type: 'wait_until', time: '09:00', timezone: 'UTC', next: null } });
      let answer: JsonValue = { timestamp: '2020-01-01T00:00:00Z' };
      const { runner } = harness(1, () => answer);
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');

      // Act
      const past = await ended(runner, (await runner.start(versionArn, 'past', INPUT)).executionArn);
      answer = { timestamp: 'tomorrow' };
      const bad = await ended(runner, (await runner.start(versionArn, 'bad', INPUT)).executionArn);

      // Assess
      expect(past.status).toBe('succeeded');
      expect(bad.status).toBe('failed');
      expect(bad.error).toBe('States.Runtime');
    });
  });

  describe('tasks', () => {
    it('puts a send step on the send queue with the run and step in the body', async () => {
      // Prepare
      const definition = journey('email', { email: { type: 'send', channel: 'email', template: 'tpl_welcome', next: null } });
      const { runner, sent } = harness(FAST);
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');

      // Act
      const execution = await ended(runner, (await runner.start(versionArn, 'u_1-1', INPUT)).executionArn);

      // Assess
      expect(execution.status).toBe('succeeded');
      expect(sent).toEqual([
        {
          queueUrl: RESOURCES.sendQueueUrl,
          body: { kind: 'journey', journeyId: 'j_test', version: 1, stepId: 'email', executionName: 'u_1-1', userId: 'u_1', profile: 'USER#u_1', templateId: 'tpl_welcome', channel: 'email', entry: INPUT.entry },
        },
      ]);
    });

    it('invokes the check function of a branch and follows the index it returns (-1: default)', async () => {
      // Prepare
      const definition = journey('check', {
        check: {
          type: 'branch',
          branches: [
            { name: 'Gold', rule: { trait: 'tier', op: 'eq', value: 'gold' }, next: 'gold' },
            { name: 'Silver', rule: { trait: 'tier', op: 'eq', value: 'silver' }, next: 'silver' },
          ],
          default: 'other',
        },
        gold: { type: 'send', channel: 'email', template: 'tpl_gold', next: null },
        silver: { type: 'send', channel: 'email', template: 'tpl_silver', next: null },
        other: { type: 'send', channel: 'email', template: 'tpl_other', next: null },
      });
      const answers = new Map([
        ['u_silver', 1],
        ['u_none', -1],
      ]);
      const { runner, sent, invoked } = harness(FAST, (_arn, payload) => {
        const user = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload.userId : undefined;
        return { branchIndex: answers.get(String(user)) ?? 0 };
      });
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');

      // Act
      for (const user of ['u_silver', 'u_none']) await ended(runner, (await runner.start(versionArn, user, { ...INPUT, userId: user })).executionArn);

      // Assess
      expect(invoked.map(({ functionArn }) => functionArn)).toEqual([RESOURCES.checkConditionFunctionArn, RESOURCES.checkConditionFunctionArn]);
      expect(invoked[0]?.payload).toMatchObject({ stepId: 'check', userId: 'u_silver', branches: [{ name: 'Gold' }, { name: 'Silver' }] });
      expect(sent.map(({ body }) => (typeof body === 'object' && body !== null && !Array.isArray(body) ? body.templateId : undefined))).toEqual(['tpl_silver', 'tpl_other']);
    });

    it('retries a failing Lambda task with scaled back-off, and fails the run on an error nobody catches', async () => {
      // Prepare: LAMBDA_RETRY waits 2 s, 4 s... (scaled to microseconds here).
      const definition = journey('check', {
        check: { type: 'branch', branches: [{ name: 'Gold', rule: { trait: 'tier', op: 'eq', value: 'gold' }, next: null }], default: null },
      });
      let failures = 0;
      const { runner, invoked } = harness(FAST, (_arn, payload) => {
        const user = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload.userId : undefined;
        if (user === 'u_flaky' && failures++ < 2) throw Object.assign(new Error('throttled'), { name: 'Lambda.TooManyRequestsException' });
        if (user === 'u_broken') throw new TypeError('bug');
        return { branchIndex: 0 };
      });
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');

      // Act
      const flaky = await ended(runner, (await runner.start(versionArn, 'flaky', { ...INPUT, userId: 'u_flaky' })).executionArn);
      const broken = await ended(runner, (await runner.start(versionArn, 'broken', { ...INPUT, userId: 'u_broken' })).executionArn);

      // Assess
      expect(flaky.status).toBe('succeeded');
      expect(invoked.filter(({ payload }) => JSON.stringify(payload).includes('u_flaky'))).toHaveLength(3);
      expect(broken).toMatchObject({ status: 'failed', error: 'TypeError', cause: 'bug' });
    });

    it('hands record states (dynamodb:updateItem) to updateItem: a failed write goes on, a failed condition ends the run before its step', async () => {
      // Prepare
      const definition = journey('email', { email: { type: 'send', channel: 'email', template: 'tpl_welcome', next: null } });
      const updates: JsonValue[] = [];
      let failure: string | undefined;
      const updateItem = (parameters: JsonValue): JsonValue => {
        updates.push(parameters);
        if (failure) throw Object.assign(new Error('failed'), { name: failure });
        return {};
      };
      const { runner, sent } = harness(FAST, () => null, { updateItem });
      const { versionArn } = await runner.publish('j_test', asl(definition, 1, { ...RESOURCES, runTableName: RUN_TABLE }), 'v1');

      // Act
      const first = await ended(runner, (await runner.start(versionArn, 'u_1-1', INPUT)).executionArn);
      failure = 'AccessDeniedException';
      const second = await ended(runner, (await runner.start(versionArn, 'u_1-2', INPUT)).executionArn);
      failure = 'ConditionalCheckFailedException';
      const third = await ended(runner, (await runner.start(versionArn, 'u_1-3', INPUT)).executionArn);

      // Assess
      expect([first.status, second.status, third.status]).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(sent).toHaveLength(2);
      expect(updates[0]).toMatchObject({
        TableName: RUN_TABLE,
        Key: { pk: { S: 'USER#u_1' }, sk: { S: 'JRUN#j_test#u_1-1' } },
        ConditionExpression: 'runStatus = :running',
        ExpressionAttributeValues: { ':step': { S: 'email' }, ':outcome': { NULL: true }, ':running': { S: 'running' } },
      });
      expect(second.output).toMatchObject({ recordError: { Error: 'DynamoDB.AccessDeniedException' } });
      expect(third.statesEntered).toEqual(['Record: Send email: tpl_welcome', 'Run already ended']);
    });
  });

  describe('hold_until', () => {
    const HOLD = journey('hold', {
      hold: { type: 'hold_until', event: 'Order Completed', match: ['cartId'], timeout: 'P1D', next: 'thanks', timeoutNext: 'reminder' },
      thanks: { type: 'send', channel: 'email', template: 'tpl_thanks', next: null },
      reminder: { type: 'send', channel: 'email', template: 'tpl_reminder', next: null },
    });

    function templates(sent: Harness['sent']): unknown[] {
      return sent.map(({ body }) => (typeof body === 'object' && body !== null && !Array.isArray(body) ? body.templateId : undefined));
    }

    it('hands the hold function a task token, and goes to next when sendTaskSuccess completes it', async () => {
      // Prepare
      const { runner, sent, invoked } = harness(86_400);
      const { versionArn } = await runner.publish('j_test', asl(HOLD), 'v1');
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      await runner.idle(2000);
      const token = runner.pendingToken(executionArn);

      // Act
      expect(token).toBeDefined();
      await runner.sendTaskSuccess(token ?? '', { event: 'Order Completed' });
      const execution = await ended(runner, executionArn);

      // Assess
      expect(invoked[0]?.functionArn).toBe(RESOURCES.holdUntilFunctionArn);
      expect(invoked[0]?.payload).toMatchObject({ taskToken: token, stepId: 'hold', event: 'Order Completed', match: ['cartId'], entry: INPUT.entry, timeoutSeconds: 86_400 });
      expect(invoked[0]?.context.taskToken).toBe(token);
      expect(execution.status).toBe('succeeded');
      expect(templates(sent)).toEqual(['tpl_thanks']);
      // A token that was used is gone: completing it again changes nothing.
      await expect(runner.sendTaskSuccess(token ?? '', {})).resolves.toBeUndefined();
      expect(runner.pendingToken(executionArn)).toBeUndefined();
    });

    it('accepts the token while the hold function is still storing it (the event raced the hold)', async () => {
      // Prepare: the hold function itself completes the token before returning.
      const self: { runner?: LocalWorkflowRunner } = {};
      const h = harness(FAST, async (_arn, payload) => {
        const token = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload.taskToken : undefined;
        await self.runner?.sendTaskSuccess(String(token), {});
        return null;
      });
      const runner = (self.runner = h.runner);
      const { versionArn } = await runner.publish('j_test', asl(HOLD), 'v1');

      // Act
      const execution = await ended(runner, (await runner.start(versionArn, 'u_1-1', INPUT)).executionArn);

      // Assess
      expect(execution.status).toBe('succeeded');
      expect(templates(h.sent)).toEqual(['tpl_thanks']);
    });

    it('times out after the scaled TimeoutSeconds and goes to timeoutNext; the lapsed token is a no-op', async () => {
      // Prepare: P1D at 86400 × 2 → ceil(0.5 s) = 1 s (whole seconds, at least 1).
      const { runner, sent } = harness(86_400 * 2);
      const { versionArn } = await runner.publish('j_test', asl(HOLD), 'v1');
      const startedAt = Date.now();
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      await runner.idle(2000);
      const token = runner.pendingToken(executionArn) ?? '';

      // Act
      const execution = await ended(runner, executionArn);
      const elapsed = Date.now() - startedAt;
      await runner.sendTaskSuccess(token, {});

      // Assess
      expect(execution.status).toBe('succeeded');
      expect(execution.statesEntered).toEqual(['Hold until Order Completed with same cartId (1 day)', 'Send email: tpl_reminder', 'End of journey']);
      expect(templates(sent)).toEqual(['tpl_reminder']);
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(2500);
    });

    it('fails the run with the error of sendTaskFailure', async () => {
      // Prepare
      const { runner } = harness(FAST);
      const { versionArn } = await runner.publish('j_test', asl(HOLD), 'v1');
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      await runner.idle(2000);

      // Act
      await runner.sendTaskFailure(runner.pendingToken(executionArn) ?? '', 'Hold.Cancelled', 'profile deleted');
      const execution = await ended(runner, executionArn);

      // Assess
      expect(execution).toMatchObject({ status: 'failed', error: 'Hold.Cancelled', cause: 'profile deleted' });
      await expect(runner.sendTaskFailure('no-such-token', 'X', 'y')).resolves.toBeUndefined();
    });
  });

  describe('executions', () => {
    const LONG_WAIT = journey('wait', { wait: { type: 'wait', duration: 'P30D', next: null } });

    it('refuses a duplicate name on the same state machine, whichever version', async () => {
      // Prepare
      const { runner } = harness(1);
      const v1 = await runner.publish('j_test', asl(LONG_WAIT), 'v1');
      const v2 = await runner.publish('j_test', asl(WAIT_ONE_DAY, 2), 'v2');

      // Act
      const first = await runner.start(v1.versionArn, 'u_1-1', INPUT);
      const again = await runner.start(v1.versionArn, 'u_1-1', INPUT);
      const onV2 = await runner.start(v2.versionArn, 'u_1-1', { userId: 'other' });

      // Assess
      expect(first.started).toBe(true);
      expect(again).toEqual({ executionArn: first.executionArn, started: false });
      expect(onV2).toEqual({ executionArn: first.executionArn, started: false });
      expect(runner.executions()).toHaveLength(1);
    });

    it('stops a waiting run: aborted, with its state, and stopping again or an unknown run is fine', async () => {
      // Prepare
      const { runner, changes } = harness(1);
      const { versionArn } = await runner.publish('j_test', asl(LONG_WAIT), 'v1');
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      await inState(runner, executionArn, 'Wait 30 days');

      // Act
      await runner.stop(executionArn, 'Order Completed');
      await runner.stop(executionArn, 'again');
      await runner.stop('arn:aws:states:local:000000000000:execution:engage-j_test:nobody', 'unknown');

      // Assess
      expect(await runner.describe(executionArn)).toEqual({
        executionArn,
        name: 'u_1-1',
        status: 'aborted',
        startedAt: expect.any(String),
        stoppedAt: expect.any(String),
        currentState: 'Wait 30 days',
        input: INPUT,
      });
      expect(runner.execution(executionArn)?.cause).toBe('Order Completed');
      expect(changes.map(({ change }) => change)).toEqual([
        { type: 'started' },
        { type: 'state_entered', state: 'Wait 30 days', stateType: 'Wait' },
        { type: 'ended', status: 'aborted' },
      ]);
    });

    it('stops a run waiting on a task token; its token lapses', async () => {
      // Prepare
      const definition = journey('hold', { hold: { type: 'hold_until', event: 'Order Completed', timeout: 'P7D', next: null, timeoutNext: null } });
      const { runner } = harness(1);
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      await runner.idle(2000);
      const token = runner.pendingToken(executionArn) ?? '';

      // Act
      await runner.stop(executionArn, 'exit event');
      await runner.sendTaskSuccess(token, {});

      // Assess
      expect(runner.execution(executionArn)).toMatchObject({ status: 'aborted', currentState: 'Hold until Order Completed (7 days)' });
      expect(runner.pendingToken(executionArn)).toBeUndefined();
    });

    it('keeps a run on the version it started with after a new version is published', async () => {
      // Prepare
      const v1Journey = journey('wait', {
        wait: { type: 'wait', duration: 'PT12H', next: 'email' },
        email: { type: 'send', channel: 'email', template: 'tpl_v1', next: null },
      });
      const v2Journey = journey('email', { email: { type: 'send', channel: 'email', template: 'tpl_v2', next: null } });
      const { runner, sent } = harness(86_400 * 2); // 12 h → 250 ms
      const v1 = await runner.publish('j_test', asl(v1Journey, 1), 'version 1');
      const old = await runner.start(v1.versionArn, 'u_old', INPUT);

      // Act
      const v2 = await runner.publish('j_test', asl(v2Journey, 2), 'version 2');
      const fresh = await runner.start(v2.versionArn, 'u_new', INPUT);
      const [oldRun, freshRun] = await Promise.all([ended(runner, old.executionArn), ended(runner, fresh.executionArn)]);

      // Assess
      expect(v1).toEqual({ stateMachineArn: 'arn:aws:states:local:000000000000:stateMachine:engage-j_test', versionArn: `${v1.stateMachineArn}:1`, version: 1 });
      expect(v2).toEqual({ stateMachineArn: v1.stateMachineArn, versionArn: `${v1.stateMachineArn}:2`, version: 2 });
      expect(oldRun).toMatchObject({ status: 'succeeded', version: 1, statesEntered: ['Wait 12 hours', 'Send email: tpl_v1', 'End of journey'] });
      expect(freshRun).toMatchObject({ status: 'succeeded', version: 2 });
      expect(sent.map(({ body }) => JSON.stringify(body))).toEqual([expect.stringContaining('"tpl_v2"'), expect.stringContaining('"tpl_v1"')]);
      expect(runner.stateMachines()[0]).toMatchObject({ liveVersionArn: v2.versionArn, versions: [{ version: 1, description: 'version 1' }, { version: 2, description: 'version 2' }] });
      expect(JSON.stringify(runner.definition(`${v1.stateMachineArn}:live`))).toContain('tpl_v2');
    });

    it('keeps versions in a store: another runner on it runs the old versions and numbers on', async () => {
      // Prepare
      const saved: LocalStateMachineVersion[] = [];
      const store: LocalWorkflowStore = {
        loadVersions: () => Promise.resolve(structuredClone(saved)),
        saveVersion: (version) => {
          saved.push(structuredClone(version));
          return Promise.resolve();
        },
      };
      const send = (template: string): JourneyDefinition => journey('email', { email: { type: 'send', channel: 'email', template, next: null } });
      const first = harness(FAST, () => null, { store });
      const [v1, v2] = await Promise.all([first.runner.publish('j_test', asl(send('tpl_1')), 'v1'), first.runner.publish('j_test', asl(send('tpl_2'), 2), 'v2')]);
      await first.runner.close();

      // Act
      const second = harness(FAST, () => null, { store });
      const execution = await ended(second.runner, (await second.runner.start(v1.versionArn, 'u_1-1', INPUT)).executionArn);
      const v3 = await second.runner.publish('j_test', asl(send('tpl_3'), 3), 'v3');

      // Assess
      expect([v1.version, v2.version, v3.version]).toEqual([1, 2, 3]);
      expect(execution).toMatchObject({ status: 'succeeded', version: 1 });
      expect(second.sent[0]?.body).toMatchObject({ templateId: 'tpl_1' });
      expect(saved.map(({ version, description }) => `${version}:${description}`)).toEqual(['1:v1', '2:v2', '3:v3']);
    });

    it('returns the latest version when the same definition is published again', async () => {
      // Prepare
      const { runner } = harness(FAST);
      const first = await runner.publish('j_test', asl(WAIT_ONE_DAY), 'v1');

      // Act
      const again = await runner.publish('j_test', asl(WAIT_ONE_DAY), 'v1 again');

      // Assess
      expect(again).toEqual(first);
    });

    it('describes a run: status, times, current state and input; unknown → undefined', async () => {
      // Prepare
      const definition = journey('email', {
        email: { type: 'send', channel: 'email', template: 'tpl_welcome', next: 'wait' },
        wait: { type: 'wait', duration: 'P30D', next: null },
      });
      const { runner } = harness(1);
      const { versionArn } = await runner.publish('j_test', asl(definition), 'v1');
      const { executionArn } = await runner.start(versionArn, 'u_1-1', INPUT);
      await inState(runner, executionArn, 'Wait 30 days');

      // Act
      const description = await runner.describe(executionArn);
      const unknown = await runner.describe(`${executionArn}-nope`);

      // Assess
      expect(description).toEqual({ executionArn, name: 'u_1-1', status: 'running', startedAt: expect.any(String), currentState: 'Wait 30 days', input: INPUT });
      expect(unknown).toBeUndefined();
      expect(runner.execution(executionArn)?.statesEntered).toEqual(['Send email: tpl_welcome', 'Wait 30 days']);
    });

    it('refuses invalid names, unknown versions, resources it cannot run, and work after close', async () => {
      // Prepare
      const { runner } = harness(FAST, () => null, { validate: true });
      const { versionArn } = await runner.publish('j_test', asl(WAIT_ONE_DAY), 'v1');
      const foreign = { StartAt: 'Put', States: { Put: { Type: 'Task', Resource: 'arn:aws:states:::dynamodb:putItem', Parameters: { TableName: 't' }, End: true } } };

      // Act & Assess
      await expect(runner.start(versionArn, 'has space', INPUT)).rejects.toMatchObject({ name: 'InvalidName' });
      await expect(runner.start(versionArn, 'x'.repeat(81), INPUT)).rejects.toMatchObject({ name: 'InvalidName' });
      await expect(runner.start(`${versionArn.slice(0, -2)}:9`, 'u_1', INPUT)).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
      await expect(runner.publish('j_other', foreign, 'v1')).rejects.toMatchObject({ name: 'InvalidDefinition' });
      await expect(runner.publish('j_other', { StartAt: 'Nowhere', States: {} }, 'v1')).rejects.toMatchObject({ name: 'InvalidDefinition' });
      await runner.close();
      await expect(runner.start(versionArn, 'u_2', INPUT)).rejects.toThrow('closed');
    });

    it('close() aborts every running execution', async () => {
      // Prepare
      const { runner } = harness(1);
      const { versionArn } = await runner.publish('j_test', asl(journey('wait', { wait: { type: 'wait', duration: 'P30D', next: null } })), 'v1');
      const runs = await Promise.all(['a', 'b', 'c'].map((name) => runner.start(versionArn, name, INPUT)));

      // Act
      await runner.close();

      // Assess
      expect(runs.map(({ executionArn }) => runner.execution(executionArn)?.status)).toEqual(['aborted', 'aborted', 'aborted']);
    });
  });
});
