import { profilePk } from '../../../shared/aws/dynamodb/keys';
import type { OutgoingMessage, Queue, QueueName, WorkflowEngine } from '../../../shared/ports';
import { enterJourney, processJourneyMessage, type JourneyMessage } from '../../../shared/services/journeys/entry';
import { driver, startTestEngine, TIME_SCALE, unique, type TestEngine } from './helpers';

/**
 * Review: partial failures of an entry leave state behind (slot claimed, run "running" without
 * an execution), and inputs the API accepts make it answer 500.
 */

let engine: TestEngine;
const d = driver(() => engine);

beforeAll(async () => {
  engine = await startTestEngine({ timeScale: TIME_SCALE, recheckIntervalMs: 0 });
});

afterAll(async () => {
  jest.restoreAllMocks();
  await engine?.close();
});

describe('journeys: entries that fail part-way (review findings)', () => {
  it('answers a 4xx and stores nothing for entry properties too large for an execution input', async () => {
    // Prepare
    const id = await d.publish({ name: 'Big entry', entry: { event: unique('Never') }, start: 'a', steps: { a: { type: 'wait', duration: 'PT1H', next: null } } });
    const someone = await d.user();

    // Act: 300 KB of properties (Step Functions takes at most 256 KB of input).
    const big = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: someone, properties: { blob: 'x'.repeat(300_000) } });
    await engine.settle();
    const runs = await engine.services.journeys.runsOf(profilePk({ kind: 'user', id: someone }), id);
    const retry = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: someone, properties: {} });

    // Assess: SPEC §8: input of any shape gets a 4xx, never a 5xx, and stores nothing.
    expect({ status: big.status, storedRuns: runs.map((r) => r.runStatus), retry: retry.status }).toEqual({ status: 400, storedRuns: [], retry: 202 });
    expect(JSON.stringify(big.body.error.issues)).toContain('properties');
  });

  it('queues a manual entry that Step Functions throttled, and the worker starts it: no phantom run, no lock-out', async () => {
    // Prepare
    const id = await d.publish({ name: 'Flaky start', entry: { event: unique('Never') }, start: 'a', steps: { a: { type: 'wait', duration: 'P300D', next: null } } });
    const someone = await d.user();
    jest.spyOn(engine.workflows, 'start').mockRejectedValueOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act
    const first = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: someone });
    await engine.settle();
    const second = await engine.api('POST', `/v1/journeys/${id}/entries`, { userId: someone });

    // Assess: the first entry happened (queued, then started by the worker); "never" refuses the second.
    const executions = engine.workflows.executions().filter((e) => e.journeyId === id);
    const runs = await engine.services.journeys.runsOf(profilePk({ kind: 'user', id: someone }), id);
    expect({ first: first.status, queued: first.body.status, second: second.status }).toEqual({ first: 202, queued: 'queued', second: 409 });
    expect({ runs: runs.map((r) => r.runStatus), executions: executions.map((e) => e.status) }).toEqual({ runs: ['running'], executions: ['running'] });
  });

  it('refuses a cooldown past ten years when the journey is saved (400 naming it), rather than failing entries', async () => {
    const created = await engine.api('POST', '/v1/journeys', {
      name: 'Long cooldown',
      entry: { event: unique('Never') },
      reentry: { mode: 'after_exit', cooldown: 'P300000Y' },
      start: 'a',
      steps: { a: { type: 'wait', duration: 'PT1H', next: null } },
    });
    expect(created.status).toBe(400);
    expect(created.body.error.issues).toEqual([{ path: 'reentry.cooldown', message: 'must be at most 3650 days' }]);
  });

  it('starts a throttled entry whose retry finds the journey paused (the entry was accepted): no run left without an execution', async () => {
    // Prepare: the first attempt writes the run and is throttled by StartExecution (an entry storm).
    const event = unique('Storm');
    const id = await d.publish({ name: 'Throttled then paused', entry: { event }, reentry: { mode: 'after_exit' }, start: 'a', steps: { a: { type: 'wait', duration: 'P300D', next: null } } });
    const someone = await d.user();
    const profile = profilePk({ kind: 'user', id: someone });
    const requeued: OutgoingMessage[] = [];
    const queue = { send: (_q: QueueName, messages: OutgoingMessage[]) => Promise.resolve(void requeued.push(...messages)) } as Queue;
    const w = engine.workflows;
    const throttled = {
      publish: (...a: Parameters<WorkflowEngine['publish']>) => w.publish(...a),
      executionArn: (...a: Parameters<WorkflowEngine['executionArn']>) => w.executionArn(...a),
      stop: (...a: Parameters<WorkflowEngine['stop']>) => w.stop(...a),
      sendTaskSuccess: (...a: Parameters<WorkflowEngine['sendTaskSuccess']>) => w.sendTaskSuccess(...a),
      sendTaskFailure: (...a: Parameters<WorkflowEngine['sendTaskFailure']>) => w.sendTaskFailure(...a),
      describe: (...a: Parameters<WorkflowEngine['describe']>) => w.describe(...a),
      start: () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })),
    } as WorkflowEngine;
    const message: JourneyMessage = { type: 'enter', journeyId: id, profile, trigger: { kind: 'event', messageId: unique('m'), event, properties: {}, timestamp: new Date().toISOString() } };
    expect(await processJourneyMessage({ ...engine.services, engine: throttled, queue }, message)).toBe('throttled');

    // Act: the operator pauses the journey; the re-queued message comes back.
    expect((await engine.api('POST', `/v1/journeys/${id}/pause`)).status).toBe(200);
    const retried = await processJourneyMessage({ ...engine.services, queue }, requeued[0]?.body as JourneyMessage);
    await engine.settle();

    // Assess: the entry was accepted before the pause (its run written, Journey Entered published):
    // it goes through, so the run has its execution and the counts agree.
    expect(retried).toBe('started');
    const runs = await engine.services.journeys.runsOf(profile, id);
    const executions = engine.workflows.executions().filter((e) => e.journeyId === id);
    expect({ running: runs.filter((r) => r.runStatus === 'running').length, executions: executions.length, active: (await d.counts(id)).active }).toEqual({ running: 1, executions: 1, active: 1 });
  });

  it('does not leave an execution running for a profile erased between the run write and StartExecution', async () => {
    // Prepare
    const event = unique('Entry');
    const id = await d.publish({ name: 'Erased while starting', entry: { event }, start: 'a', steps: { a: { type: 'wait', duration: 'P300D', next: null } } });
    const someone = await d.user();
    const profile = profilePk({ kind: 'user', id: someone });
    const w = engine.workflows;
    const racing = {
      publish: (...a: Parameters<WorkflowEngine['publish']>) => w.publish(...a),
      executionArn: (...a: Parameters<WorkflowEngine['executionArn']>) => w.executionArn(...a),
      stop: (...a: Parameters<WorkflowEngine['stop']>) => w.stop(...a),
      sendTaskSuccess: (...a: Parameters<WorkflowEngine['sendTaskSuccess']>) => w.sendTaskSuccess(...a),
      sendTaskFailure: (...a: Parameters<WorkflowEngine['sendTaskFailure']>) => w.sendTaskFailure(...a),
      describe: (...a: Parameters<WorkflowEngine['describe']>) => w.describe(...a),
      start: async (versionArn: string, name: string, input: Record<string, unknown>) => {
        // DELETE /v1/profiles/{id} is processed by the stream while this worker is about to start.
        expect((await engine.api('DELETE', `/v1/profiles/${someone}`)).status).toBe(202);
        await engine.settle();
        return w.start(versionArn, name, input);
      },
    } as WorkflowEngine;

    // Act
    await enterJourney({ ...engine.services, engine: racing }, { journeyId: id, profile, trigger: { kind: 'event', messageId: unique('m'), event, properties: {}, timestamp: new Date().toISOString() } });
    await engine.settle();

    // Assess: SPEC: erasure stops the profile's journey executions.
    expect(engine.workflows.executions().filter((e) => e.journeyId === id).map((e) => e.status)).not.toContain('running');
  });
});
