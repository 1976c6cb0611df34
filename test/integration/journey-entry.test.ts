import { profilePk } from '../../shared/aws/dynamodb/keys';
import type { WorkflowEngine } from '../../shared/ports';
import { enterJourney, handleJourneyMessage, MAX_THROTTLED_ATTEMPTS, processJourneyMessage, throttleDelaySeconds, type JourneyMessage } from '../../shared/services/journeys/entry';
import type { OutgoingMessage, Queue, QueueName } from '../../shared/ports';
import { publishJourney, createJourney } from '../../shared/services/journeys/manage';
import { startTestEngine, type TestEngine } from '../helpers/engine';
import { handler as statusHandler } from '../../functions/journey-status/handler';
import { checkCondition, findNextTime, registerHold } from '../../shared/services/journeys/tasks';
import { ValidationError } from '../../shared/errors';

/**
 * The entry worker against the local engine's real stores and runner: redelivery, throttling and
 * cooldowns, driven directly (the HTTP tests drive the same code through the stream).
 */

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ timeScale: 86_400, recheckIntervalMs: 0 });
});

afterAll(async () => {
  await engine?.close();
});

async function journey(definition: Record<string, unknown>): Promise<string> {
  const created = await createJourney(engine.services, definition);
  await publishJourney(engine.services, created.id as string);
  return created.id as string;
}

async function user(id: string): Promise<string> {
  await engine.ingest('/v1/identify', { userId: id, traits: { plan: 'x' } });
  await engine.settle();
  return profilePk({ kind: 'user', id });
}

const LONG = { a: { type: 'wait', duration: 'P300D', next: null } };

describe('journey entry worker', () => {
  it('starts one execution for a message delivered three times, and counts one entry', async () => {
    // Prepare
    const id = await journey({ name: 'Redelivery', entry: { event: 'Never' }, start: 'a', steps: LONG });
    const profile = await user('redelivered');
    const message: JourneyMessage = { type: 'enter', journeyId: id, profile, trigger: { kind: 'event', messageId: 'm-1', event: 'Never', properties: {}, timestamp: new Date().toISOString() } };

    // Act
    const outcomes = [await handleJourneyMessage(engine.services, message), await handleJourneyMessage(engine.services, message), await handleJourneyMessage(engine.services, message)];
    await engine.settle();

    // Assess
    expect(outcomes).toEqual(['started', 'started', 'started']);
    expect(engine.workflows.executions().filter((e) => e.journeyId === id)).toHaveLength(1);
    expect(await engine.services.journeys.runsOf(profile, id)).toHaveLength(1);
    expect((await engine.services.journeys.countTotals(id)).entered).toBe(1);
  });

  it('gives a message redelivered after a new version was published the run it already started, on its version', async () => {
    // Prepare
    const definition = { name: 'Redelivered across versions', entry: { event: 'Never' }, start: 'a', steps: LONG };
    const id = await journey(definition);
    const profile = await user('across-versions');
    const message: JourneyMessage = { type: 'enter', journeyId: id, profile, trigger: { kind: 'event', messageId: 'm-v', event: 'Never', properties: {}, timestamp: new Date().toISOString() } };
    await handleJourneyMessage(engine.services, message);

    // Act
    await publishJourney(engine.services, id);
    const again = await enterJourney(engine.services, message);

    // Assess
    expect(again).toMatchObject({ kind: 'started', version: 1, duplicate: true });
    expect(engine.workflows.executions().filter((e) => e.journeyId === id)).toHaveLength(1);
    expect((await engine.services.journeys.runsOf(profile, id)).map((r) => r.version)).toEqual([1]);
  });

  it('leaves a throttled start to the queue: the retry starts the same execution once', async () => {
    // Prepare
    const id = await journey({ name: 'Throttled', entry: { event: 'Never' }, start: 'a', steps: LONG });
    const profile = await user('throttled');
    let throttle = true;
    const flaky: WorkflowEngine = {
      ...engine.workflows,
      start: (versionArn, name, input) => {
        if (throttle) {
          throttle = false;
          return Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
        }
        return engine.workflows.start(versionArn, name, input);
      },
    } as WorkflowEngine;
    const deps = { ...engine.services, engine: flaky };
    const input = { journeyId: id, profile, trigger: { kind: 'event' as const, messageId: 'm-2', event: 'Never', properties: {}, timestamp: new Date().toISOString() } };

    // Act
    await expect(enterJourney(deps, input)).rejects.toThrow('Rate exceeded');
    const retried = await enterJourney(deps, input);

    // Assess
    expect(retried).toMatchObject({ kind: 'started' });
    expect(engine.workflows.executions().filter((e) => e.journeyId === id)).toHaveLength(1);
  });

  it('puts a throttled entry back on the queue with a growing delay instead of spending its receives, and fails other errors', async () => {
    // Prepare
    const id = await journey({ name: 'Requeued', entry: { event: 'Never' }, start: 'a', steps: LONG });
    const profile = await user('requeued');
    const sent: Array<{ queue: QueueName; messages: OutgoingMessage[] }> = [];
    const queue = { send: (q: QueueName, messages: OutgoingMessage[]) => Promise.resolve(void sent.push({ queue: q, messages })) } as Queue;
    let error = 'ThrottlingException';
    const failing = { ...engine.workflows, start: () => Promise.reject(Object.assign(new Error('no'), { name: error })) } as unknown as WorkflowEngine;
    const deps = { ...engine.services, engine: failing, queue };
    const message: JourneyMessage = { type: 'enter', journeyId: id, profile, trigger: { kind: 'event', messageId: 'm-q', event: 'Never', properties: {}, timestamp: new Date().toISOString() } };

    // Act
    const first = await processJourneyMessage(deps, message);
    const second = await processJourneyMessage(deps, { ...message, throttled: 1 });
    error = 'ExecutionLimitExceeded';
    const quota = await processJourneyMessage(deps, message);
    error = 'AccessDeniedException';
    const denied = processJourneyMessage(deps, message);
    const exhausted = processJourneyMessage({ ...deps, engine: { ...failing, start: () => Promise.reject(Object.assign(new Error('no'), { name: 'ThrottlingException' })) } as unknown as WorkflowEngine }, { ...message, throttled: MAX_THROTTLED_ATTEMPTS });

    // Assess
    expect([first, second, quota]).toEqual(['throttled', 'throttled', 'throttled']);
    await expect(denied).rejects.toThrow('no');
    await expect(exhausted).rejects.toThrow('no');
    expect(sent.map((s) => [s.queue, (s.messages[0]?.body as { throttled?: number }).throttled])).toEqual([['entry', 1], ['entry', 2], ['entry', 1]]);
    expect(sent.every((s) => (s.messages[0]?.delaySeconds ?? 0) >= 1)).toBe(true);
    // Exits and resumptions back off the same way.
    const stopThrottled = { ...deps, engine: { ...failing, stop: () => Promise.reject(Object.assign(new Error('no'), { name: 'ThrottlingException' })) } as unknown as WorkflowEngine };
    await enterJourney({ ...engine.services }, message);
    const exit = await processJourneyMessage(stopThrottled, { type: 'exit', journeyId: id, profile, reason: 'event', at: new Date(Date.now() + 60_000).toISOString(), throttled: 7 });
    expect(exit).toBe('throttled');
    expect((sent.at(-1)?.messages[0]?.body as { throttled?: number }).throttled).toBe(8);
    expect(throttleDelaySeconds(0, () => 0)).toBe(1);
    expect(throttleDelaySeconds(3, () => 1)).toBe(16);
    expect(throttleDelaySeconds(50, () => 1)).toBe(900);
  });

  it('refuses re-entry during the after_exit cooldown, and a second trigger while a run is active', async () => {
    // Prepare
    const id = await journey({ name: 'Cooldown', entry: { event: 'Never' }, reentry: { mode: 'after_exit', cooldown: 'P7D' }, start: 'a', steps: { a: { type: 'wait', duration: 'PT1M', next: null } } });
    const profile = await user('cooled');
    const enter = (messageId: string) => enterJourney(engine.services, { journeyId: id, profile, trigger: { kind: 'event', messageId, event: 'Never', properties: {}, timestamp: new Date().toISOString() } });

    // Act
    const first = await enter('c-1');
    const whileActive = await enter('c-2');
    for (let i = 0; i < 100 && (await engine.services.journeys.runsOf(profile, id))[0]?.runStatus === 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    await engine.settle();
    const duringCooldown = await enter('c-3');

    // Assess
    expect(first.kind).toBe('started');
    expect(whileActive.kind).toBe('reentry-refused');
    expect((await engine.services.journeys.runsOf(profile, id))[0]?.runStatus).toBe('completed');
    expect(duringCooldown.kind).toBe('reentry-refused');
  });

  it('does not re-arm an after_exit slot when an old trigger is redelivered after its run ended', async () => {
    // Prepare
    const id = await journey({ name: 'No re-arm', entry: { event: 'Never' }, reentry: { mode: 'after_exit' }, start: 'a', steps: { a: { type: 'wait', duration: 'PT1M', next: null } } });
    const profile = await user('rearm');
    const enter = (messageId: string) => enterJourney(engine.services, { journeyId: id, profile, trigger: { kind: 'event', messageId, event: 'Never', properties: {}, timestamp: new Date().toISOString() } });
    await enter('old');
    for (let i = 0; i < 100 && (await engine.services.journeys.runsOf(profile, id))[0]?.runStatus === 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    await engine.settle();

    // Act
    const redelivered = await enter('old');
    const next = await enter('new');

    // Assess
    expect(redelivered).toMatchObject({ kind: 'started', duplicate: true });
    expect(next).toMatchObject({ kind: 'started', duplicate: false });
    expect(await engine.services.journeys.runsOf(profile, id)).toHaveLength(2);
  });

  it('drops a replayed audience entry of someone who has left the audience since', async () => {
    // Prepare
    const audience = await engine.api('POST', '/v1/audiences', { name: 'Plan y', rule: { trait: 'plan', op: 'eq', value: 'y' } });
    const id = await journey({ name: 'Stale', entry: { audience: audience.body.id }, start: 'a', steps: LONG });
    const profile = await user('stale');

    // Act
    const outcome = await enterJourney(engine.services, { journeyId: id, profile, trigger: { kind: 'audience', audienceId: audience.body.id as string, enteredAt: '2026-01-01T00:00:00.000Z' } });

    // Assess
    expect(outcome.kind).toBe('stale');
    expect(await engine.services.journeys.runsOf(profile, id)).toEqual([]);
  });

  it('records a failed execution as failed, counts it, frees the slot and publishes it as exited with reason failed', async () => {
    // Prepare
    const id = await journey({ name: 'Fails', entry: { event: 'Never' }, reentry: { mode: 'after_exit' }, start: 'a', steps: LONG });
    const profile = await user('failing');
    const started = await enterJourney(engine.services, { journeyId: id, profile, trigger: { kind: 'manual', requestId: 'r-1' } });
    if (started.kind !== 'started') throw new Error(started.kind);
    const [run] = await engine.services.journeys.runsOf(profile, id);
    const event = {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: { executionArn: run?.executionArn, name: started.executionName, status: 'FAILED', stopDate: Date.now(), input: JSON.stringify({ run: { pk: profile, sk: `JRUN#${id}#${started.executionName}` } }) },
    };

    // Act
    const outcomes = [await statusHandler(event), await statusHandler(event)];
    await engine.settle();

    // Assess
    expect(outcomes).toEqual([{ outcome: 'recorded' }, { outcome: 'already-ended' }]);
    expect((await engine.services.journeys.runsOf(profile, id))[0]?.runStatus).toBe('failed');
    expect(await engine.services.journeys.countTotals(id)).toMatchObject({ entered: 1, failed: 1 });
    expect(engine.bus.recent(1000, { detailType: 'Journey Exited' }).filter((e) => e.detail.journeyId === id).map((e) => e.detail.reason)).toEqual(['failed']);
    // after_exit: the failed run's slot is free again.
    expect((await enterJourney(engine.services, { journeyId: id, profile, trigger: { kind: 'manual', requestId: 'r-2' } })).kind).toBe('started');
  });

  it('reports the runs in flight across journeys, for the dashboard', async () => {
    // Prepare
    const id = await journey({ name: 'Gauge', entry: { event: 'Never' }, start: 'a', steps: LONG });
    const profile = await user('gauge');
    const before = await statusHandler({ kind: 'active-runs' });
    await enterJourney(engine.services, { journeyId: id, profile, trigger: { kind: 'manual', requestId: 'g-1' } });
    await engine.settle();
    // Act
    const after = await statusHandler({ kind: 'active-runs' });
    // Assess
    const count = (outcome: { outcome: string }): number => Number(outcome.outcome.replace('active ', ''));
    expect(count(after)).toBe(count(before) + 1);
  });

  it('drops a malformed status event and ignores executions that are not journey runs', async () => {
    expect(await statusHandler({ 'detail-type': 'Something else' })).toEqual({ outcome: 'invalid' });
    expect(
      await statusHandler({ 'detail-type': 'Step Functions Execution Status Change', detail: { executionArn: 'arn:x', name: 'n', status: 'SUCCEEDED', input: '{"not":"a run"}' } }),
    ).toEqual({ outcome: 'unknown-run' });
    expect(await statusHandler({ 'detail-type': 'Step Functions Execution Status Change', detail: { executionArn: 'arn:x', name: 'n', status: 'RUNNING' } })).toEqual({ outcome: 'not-ended' });
  });

  describe('task functions', () => {
    const run = { journeyId: 'j', version: 1, stepId: 's', executionName: 'e', userId: 'tasks' };

    it("finds the next time in the user's zone, and in UTC when the profile has none", async () => {
      // Prepare
      const tokyo = await user('tasks-tokyo');
      await engine.ingest('/v1/identify', { userId: 'tasks-tokyo', traits: { timezone: 'Asia/Tokyo' } });
      await engine.settle();
      const plain = await user('tasks-plain');
      // Act
      const inTokyo = await findNextTime(engine.services, { ...run, profile: tokyo, time: '09:00', timezone: 'user' });
      const inUtc = await findNextTime(engine.services, { ...run, profile: plain, time: '09:00', timezone: 'user' });
      // Assess
      expect(inTokyo.zone).toBe('Asia/Tokyo');
      expect(new Date(inTokyo.timestamp).getUTCHours()).toBe(0);
      expect(inUtc.zone).toBe('UTC');
      expect(new Date(inUtc.timestamp).getUTCHours()).toBe(9);
    });

    it('evaluates branch rules on fresh data: first match wins, -1 for none', async () => {
      // Prepare
      const profile = await user('tasks-branch');
      const branches = [
        { name: 'Gold', rule: { trait: 'plan', op: 'eq', value: 'gold' } },
        { name: 'Any plan', rule: { trait: 'plan', op: 'exists' } },
      ];
      // Act & Assess
      expect(await checkCondition(engine.services, { ...run, profile, branches })).toEqual({ branchIndex: 1 });
      expect(await checkCondition(engine.services, { ...run, profile, branches: branches.slice(0, 1) })).toEqual({ branchIndex: -1 });
    });

    it('refuses malformed payloads (the run fails visibly rather than guessing)', async () => {
      await expect(registerHold(engine.services, { ...run, profile: 'USER#x' })).rejects.toThrow(ValidationError);
      await expect(findNextTime(engine.services, { ...run, profile: 'nobody', time: '9am', timezone: 'UTC' })).rejects.toThrow(ValidationError);
      await expect(checkCondition(engine.services, { ...run, profile: 'NOPE#x', branches: [] })).rejects.toThrow(ValidationError);
    });
  });
});
