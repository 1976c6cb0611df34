import { profilePk } from '../../../shared/aws/dynamodb/keys';
import type { WorkflowEngine } from '../../../shared/ports';
import { enterJourney, exitRuns } from '../../../shared/services/journeys/entry';
import { handler as statusHandler } from '../../../functions/journey-status/handler';
import { driver, startTestEngine, TIME_SCALE, unique, until, type TestEngine } from './helpers';

/**
 * Review: races between the stream router, the entry worker and the status function.
 */

let engine: TestEngine;
const d = driver(() => engine);

beforeAll(async () => {
  engine = await startTestEngine({ timeScale: TIME_SCALE, recheckIntervalMs: 0 });
});

afterAll(async () => {
  await engine?.close();
});

/** The runner's methods, so that one of them can be replaced (its methods live on the prototype). */
function engineWith(overrides: Partial<WorkflowEngine>): WorkflowEngine {
  const w = engine.workflows;
  return {
    publish: (...a) => w.publish(...a),
    executionArn: (...a) => w.executionArn(...a),
    start: (...a) => w.start(...a),
    stop: (...a) => w.stop(...a),
    sendTaskSuccess: (...a) => w.sendTaskSuccess(...a),
    sendTaskFailure: (...a) => w.sendTaskFailure(...a),
    describe: (...a) => w.describe(...a),
    ...overrides,
  } as WorkflowEngine;
}

describe('journeys: exits and goals racing entries (review findings)', () => {
  it('stops the run when the exit event is ingested right after the entry event (entry still queued)', async () => {
    // Prepare
    const entryEvent = unique('Cart Abandoned');
    const exitEvent = unique('Order Completed');
    const id = await d.publish({
      name: 'Exit right after entry',
      entry: { event: entryEvent },
      exit: { event: exitEvent },
      start: 'wait',
      steps: { wait: { type: 'wait', duration: 'P300D', next: null } },
    });
    const someone = await d.user();
    const t0 = Date.now();

    // Act: the user abandons the cart and orders a second later (one batch, as a Segment client sends them).
    const response = await engine.ingest('/v1/batch', {
      batch: [
        { type: 'track', userId: someone, event: entryEvent, properties: { cartId: 'c1' }, timestamp: new Date(t0).toISOString() },
        { type: 'track', userId: someone, event: exitEvent, properties: { cartId: 'c1' }, timestamp: new Date(t0 + 1000).toISOString() },
      ],
    });
    expect(response.status).toBe(200);
    await engine.settle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await engine.settle();

    // Assess: SPEC: performing the exit event stops the run within a minute. It is still running.
    const runs = await d.executions(id, someone);
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
  });

  it('converts the run when the goal event is ingested right after the entry event (entry still queued)', async () => {
    // Prepare
    const entryEvent = unique('Signed Up');
    const goalEvent = unique('Activated');
    const id = await d.publish({
      name: 'Goal right after entry',
      entry: { event: entryEvent },
      goal: { event: goalEvent, within: 'P14D' },
      start: 'wait',
      steps: { wait: { type: 'wait', duration: 'P300D', next: null } },
    });
    const someone = await d.user();
    const t0 = Date.now();

    // Act
    await engine.ingest('/v1/batch', {
      batch: [
        { type: 'track', userId: someone, event: entryEvent, timestamp: new Date(t0).toISOString() },
        { type: 'track', userId: someone, event: goalEvent, timestamp: new Date(t0 + 1000).toISOString() },
      ],
    });
    await until(() => d.executions(id, someone), (items) => items.length === 1);

    // Assess: the goal event came 1 s after entry, well within P14D: the run converted.
    expect((await d.counts(id)).converted).toBe(1);
  });

  it('does not leave an execution running (and sending) for a run that an exit marked exited before StartExecution', async () => {
    // Prepare: an exit is processed by another worker between the run item's write and StartExecution.
    const template = await d.emailTemplate();
    const entryEvent = unique('Entry');
    const id = await d.publish({
      name: 'Exit between putRun and start',
      entry: { event: entryEvent },
      exit: { event: unique('Exit') },
      start: 'mail',
      steps: { mail: { type: 'send', channel: 'email', template, next: 'wait' }, wait: { type: 'wait', duration: 'P300D', next: null } },
    });
    const someone = await d.user();
    const profile = profilePk({ kind: 'user', id: someone });
    const racing = engineWith({
      start: async (versionArn, name, input) => {
        await exitRuns({ ...engine.services, engine: engine.workflows }, { journeyId: id, profile, reason: 'event', at: new Date().toISOString() });
        return engine.workflows.start(versionArn, name, input);
      },
    });

    // Act
    const outcome = await enterJourney({ ...engine.services, engine: racing }, {
      journeyId: id,
      profile,
      trigger: { kind: 'event', messageId: unique('m'), event: entryEvent, properties: {}, timestamp: new Date().toISOString() },
    });
    await engine.settle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await engine.settle();

    // Assess
    expect(outcome.kind).toBe('started');
    const [run] = await engine.services.journeys.runsOf(profile, id);
    expect(run?.runStatus).toBe('exited');
    const execution = engine.workflows.executions().find((e) => e.name === run?.executionName);
    // An exited run must not go on: SPEC "an exited run never sends again".
    // It ends at "Run already ended" (its record state finds the run exited) or is stopped: never sends.
    expect(['aborted', 'succeeded']).toContain(execution?.status);
    expect(execution?.statesEntered.some((state) => state.startsWith('Send email'))).toBe(false);
    expect((await d.mailsTo(`${someone}@example.com`)).length).toBe(0);
  });

  it('records a run whose execution already succeeded as completed, not exited early, when an exit arrives before the status event', async () => {
    // Prepare: the execution has ended (SUCCEEDED) and its EventBridge status event is on its way;
    // StopExecution of an ended execution is a no-op (as StepFunctionsWorkflowEngine.stop documents).
    const id = await d.publish({ name: 'Completed then exit', entry: { event: unique('E') }, exit: { event: unique('X') }, start: 'a', steps: { a: { type: 'wait', duration: 'PT1M', next: null } } });
    const someone = await d.user();
    const profile = profilePk({ kind: 'user', id: someone });
    let input: unknown;
    const ended = engineWith({
      start: (versionArn, name, given) => {
        input = given;
        return Promise.resolve({ executionArn: engine.workflows.executionArn(versionArn, name), started: true });
      },
      stop: () => Promise.resolve(), // the execution is no longer running
      describe: (executionArn) => Promise.resolve({ executionArn, name: 'n', status: 'succeeded', startedAt: new Date().toISOString() }),
    });
    const outcome = await enterJourney({ ...engine.services, engine: ended }, { journeyId: id, profile, trigger: { kind: 'manual', requestId: unique('r') } });
    if (outcome.kind !== 'started') throw new Error(outcome.kind);

    // Act: the exit event's message is handled, then the SUCCEEDED status event arrives.
    await exitRuns({ ...engine.services, engine: ended }, { journeyId: id, profile, reason: 'event', at: new Date().toISOString() });
    const status = await statusHandler({
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: 'arn:aws:states:local:000000000000:execution:x:y', name: outcome.executionName, status: 'SUCCEEDED', stopDate: Date.now(), input: JSON.stringify(input) },
    });
    await engine.settle();

    // Assess: the run went through every step; nothing was stopped.
    expect(status).toEqual({ outcome: 'already-ended' });
    expect((await engine.services.journeys.runsOf(profile, id))[0]?.runStatus).toBe('completed');
  });
});
