import { profilePk } from '../../../shared/aws/dynamodb/keys';
import { driver, startTestEngine, TIME_SCALE, unique, until, type TestEngine } from './helpers';

/**
 * Review: per-step counts and branch placement, and bad path ids.
 */

let engine: TestEngine;
const d = driver(() => engine);

beforeAll(async () => {
  engine = await startTestEngine({ timeScale: TIME_SCALE, recheckIntervalMs: 0 });
});

afterAll(async () => {
  await engine?.close();
});

async function ended(id: string, userId: string): Promise<void> {
  await until(
    async () => {
      await engine.settle();
      return d.executions(id, userId);
    },
    (items) => items.length >= 1 && items.every((item) => item.status !== 'running'),
  );
}

describe('journeys: step ids, branch names, holds and ids (review findings)', () => {
  it.each(['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'])('refuses the step id "%s" (a member of every JavaScript object) with a 400 naming it, storing nothing', async (stepId) => {
    // Prepare
    const before = await engine.snapshot();
    const body = `{"name": "Reserved", "entry": {"event": "Go"}, "start": "a", "steps": {"a": {"type": "wait", "duration": "P1D", "next": "${stepId}"}, "${stepId}": {"type": "exit"}}}`;
    // Act
    const created = await engine.api('POST', '/v1/journeys', body);
    // Assess
    expect(created.status).toBe(400);
    expect(created.body.error.issues).toEqual([{ path: `steps.${stepId}`, message: expect.stringContaining('reserved') }]);
    expect(await engine.snapshot()).toEqual(before);
  });

  it('refuses a branch named "default" (the name counts and events give the default path) with a 400 naming it', async () => {
    const created = await engine.api('POST', '/v1/journeys', {
      name: 'Default named branch',
      entry: { event: unique('Check') },
      start: 'check',
      steps: { check: { type: 'branch', branches: [{ name: 'default', rule: { trait: 'plan', op: 'eq', value: 'gold' }, next: null }], default: null } },
    });
    expect(created.status).toBe(400);
    expect(created.body.error.issues).toEqual([{ path: 'steps.check.branches[0].name', message: expect.stringContaining('default path') }]);
  });

  it('does not let one event resume two successive holds on that event', async () => {
    // Prepare: hold until "Opened", wait, hold until "Opened" again.
    const entry = unique('Start');
    const opened = unique('Opened');
    const id = await d.publish({
      name: 'Two holds',
      entry: { event: entry },
      start: 'first',
      steps: {
        first: { type: 'hold_until', event: opened, timeout: 'P2D', next: 'pause', timeoutNext: null },
        pause: { type: 'wait', duration: 'PT1H', next: 'second' },
        second: { type: 'hold_until', event: opened, timeout: 'P2D', next: 'again', timeoutNext: 'noSecondOpen' },
        again: { type: 'exit' },
        noSecondOpen: { type: 'exit' },
      },
    });
    const someone = await d.user();
    await d.track(someone, entry);
    await until(() => d.executions(id, someone), (items) => items[0]?.currentStep === 'first');

    // Act: one "Opened", while the run waits at the first hold.
    await d.track(someone, opened);
    await ended(id, someone);

    // Assess: the second hold saw no new "Opened": it times out.
    expect((await d.executions(id, someone))[0]).toMatchObject({ status: 'completed', currentStep: 'noSecondOpen' });
  });
});

describe('review: bad path ids', () => {
  it('answers 404 (not 500) for a journey id too long to be a key', async () => {
    const long = 'j'.repeat(3000);
    const statuses = await Promise.all([
      engine.api('GET', `/v1/journeys/${long}`),
      engine.api('POST', `/v1/journeys/${long}/publish`),
      engine.api('POST', `/v1/journeys/${long}/entries`, { userId: 'u' }),
      engine.api('DELETE', `/v1/journeys/${long}`),
    ]);
    expect(statuses.map((s) => s.status)).toEqual([404, 404, 404, 404]);
    expect(profilePk({ kind: 'user', id: 'u' })).toBeDefined();
  });
});
