import { DAY, HOUR, ManualClock, MINUTE } from '../helpers/clock';
import { startTestEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;
const clock = new ManualClock('2026-11-20T12:00:00.000Z');

beforeAll(async () => {
  // The recheck runs when the tests say so (engine.recheck), on the manual clock.
  engine = await startTestEngine({ clock, recheckIntervalMs: 0 });
});

afterEach(() => {
  expect(engine.dynamo.onFailure()).toEqual([]);
  expect(engine.queues.deadLetters('backfill')).toEqual([]);
});

afterAll(async () => {
  await engine.close();
});

let n = 0;
const uid = (prefix: string) => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
const ago = (ms: number) => new Date(clock.now().getTime() - ms).toISOString();

async function createAudience(name: string, rule: unknown): Promise<string> {
  const r = await engine.api('POST', '/v1/audiences', { name, rule });
  expect(r.status).toBe(201);
  await engine.settle();
  return r.body.id as string;
}

async function memberIds(audienceId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: Array<{ userId: string }>; nextCursor: string | null } } = await engine.api(
      'GET',
      `/v1/audiences/${audienceId}/members?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    );
    ids.push(...page.body.items.map((m) => m.userId));
    cursor = page.body.nextCursor;
  } while (cursor);
  return ids.sort();
}

function transitions(audienceId: string, userId: string): string[] {
  return engine.bus
    .recent(1000)
    .filter((e) => e.detail.audienceId === audienceId && e.detail.userId === userId)
    .map((e) => e['detail-type']);
}

describe('creating an audience', () => {
  it('backfills existing profiles: status building, then ready with its size', async () => {
    // Prepare
    const pro = [uid('pro'), uid('pro')];
    const free = uid('free');
    for (const userId of pro) await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro', tag: 'backfill-1' } });
    await engine.ingest('/v1/identify', { userId: free, traits: { plan: 'free', tag: 'backfill-1' } });
    await engine.settle();
    // Act
    const created = await engine.api('POST', '/v1/audiences', {
      name: 'Pro (backfill)',
      rule: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { trait: 'tag', op: 'eq', value: 'backfill-1' }] },
    });
    // Assess
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'building', size: null, name: 'Pro (backfill)' });
    await engine.settle();
    const ready = await engine.api('GET', `/v1/audiences/${created.body.id}`);
    expect(ready.body).toMatchObject({ status: 'ready', size: 2 });
    expect(await memberIds(created.body.id)).toEqual([...pro].sort());
    const profile = await engine.api('GET', `/v1/profiles/${pro[0]}`);
    expect(profile.body.audiences).toEqual([{ id: created.body.id, enteredAt: expect.any(String) }]);
    expect(transitions(created.body.id, pro[0] ?? '')).toEqual(['Audience Entered']);
  });

  it.each([
    ['an unknown op', { trait: 'plan', op: 'equals', value: 'x' }, 'rule.op'],
    ['a bad nested node', { all: [{ trait: 'plan', op: 'eq', value: 'x' }, { event: 'X', within: 'seven days' }] }, 'rule.all[1].within'],
    ['an unknown audience', { audience: 'aud_missing' }, 'rule'],
  ])('refuses %s with 400 naming the path, and stores nothing', async (_name, rule, path) => {
    await engine.settle();
    const before = await engine.snapshot();
    const r = await engine.api('POST', '/v1/audiences', { name: 'Bad', rule });
    expect(r.status).toBe(400);
    expect(r.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
    await engine.settle();
    expect(await engine.snapshot()).toEqual(before);
  });

  it('refuses a missing name', async () => {
    const r = await engine.api('POST', '/v1/audiences', { rule: { trait: 'plan', op: 'exists' } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/name/);
  });
});

describe('real-time membership', () => {
  it('enters when a qualifying event arrives and publishes one Audience Entered', async () => {
    const audienceId = await createAudience('Bought recently', { event: 'Order Completed (rt)', within: 'P7D' });
    const userId = uid('buyer');
    await engine.ingest('/v1/track', { userId, event: 'Order Completed (rt)', timestamp: ago(HOUR) });
    await engine.settle();
    expect(await memberIds(audienceId)).toEqual([userId]);
    expect(transitions(audienceId, userId)).toEqual(['Audience Entered']);
    // Locally, what the bus carried is listed at /v1/local/events.
    const local = await engine.api('GET', '/v1/local/events?detailType=Audience%20Entered&limit=1000');
    expect(local.body.items.filter((e: { detail: { audienceId: string; userId: string } }) => e.detail.audienceId === audienceId && e.detail.userId === userId)).toEqual([
      expect.objectContaining({ source: 'engage', 'detail-type': 'Audience Entered', detail: expect.objectContaining({ eventId: expect.any(String), timestamp: expect.any(String) }) }),
    ]);
    expect((await engine.api('GET', '/v1/local/events', undefined, null)).status).toBe(401);
    // A second qualifying event changes nothing.
    await engine.ingest('/v1/track', { userId, event: 'Order Completed (rt)', timestamp: ago(MINUTE) });
    await engine.settle();
    expect(transitions(audienceId, userId)).toEqual(['Audience Entered']);
  });

  it('exits by the passage of time when the only qualifying event leaves the window', async () => {
    // Prepare
    const audienceId = await createAudience('Viewed pricing in the last day', { event: 'Pricing Viewed (time)', within: 'P1D' });
    const userId = uid('window');
    await engine.ingest('/v1/track', { userId, event: 'Pricing Viewed (time)', timestamp: ago(23 * HOUR) });
    await engine.settle();
    expect(await memberIds(audienceId)).toEqual([userId]);
    // Act: 61 minutes later the event is 24h01m old; no new data arrives.
    clock.advance(61 * MINUTE);
    await engine.recheck();
    await engine.settle();
    // Assess
    expect(await memberIds(audienceId)).toEqual([]);
    expect(transitions(audienceId, userId)).toEqual(['Audience Entered', 'Audience Exited']);
    expect((await engine.api('GET', `/v1/audiences/${audienceId}`)).body.size).toBe(0);
  });

  it('"did not perform X within P1D": enters when the event leaves the window', async () => {
    // Prepare
    const tag = uid('tag');
    const audienceId = await createAudience('No login today', {
      all: [{ trait: 'tag', op: 'eq', value: tag }, { not: { event: 'Logged In (nw)', within: 'P1D' } }],
    });
    const userId = uid('quiet');
    await engine.ingest('/v1/identify', { userId, traits: { tag } });
    await engine.settle();
    expect(await memberIds(audienceId)).toEqual([userId]);
    // Act 1: the event makes the user exit.
    await engine.ingest('/v1/track', { userId, event: 'Logged In (nw)' });
    await engine.settle();
    expect(await memberIds(audienceId)).toEqual([]);
    // Act 2: a day later, with no new data, the user enters again.
    clock.advance(DAY + 2 * MINUTE);
    await engine.recheck();
    await engine.settle();
    // Assess
    expect(await memberIds(audienceId)).toEqual([userId]);
    expect(transitions(audienceId, userId)).toEqual(['Audience Entered', 'Audience Exited', 'Audience Entered']);
  });

  it('evaluates nested audiences in order, and refuses a cycle on update', async () => {
    // Prepare
    const tag = uid('tag');
    const pro = await createAudience('Pro (nested)', { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { trait: 'tag', op: 'eq', value: tag }] });
    const proBuyers = await createAudience('Pro buyers', { all: [{ audience: pro }, { event: 'Order Completed (nested)' }] });
    const userId = uid('nested');
    // Act
    await engine.ingest('/v1/track', { userId, event: 'Order Completed (nested)' });
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro', tag } });
    await engine.settle();
    // Assess
    expect(await memberIds(pro)).toEqual([userId]);
    expect(await memberIds(proBuyers)).toEqual([userId]);
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'free' } });
    await engine.settle();
    expect(await memberIds(proBuyers)).toEqual([]);
    const cycle = await engine.api('PUT', `/v1/audiences/${pro}`, { rule: { audience: proBuyers } });
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.message).toMatch(/cycle/);
    // In use by another audience: deleting is refused.
    expect((await engine.api('DELETE', `/v1/audiences/${pro}`)).status).toBe(409);
  });

  it('reads dotted trait paths and compares ISO dates by time', async () => {
    const tag = uid('tag');
    const audienceId = await createAudience('Parisians who signed up in 2026', {
      all: [
        { trait: 'tag', op: 'eq', value: tag },
        { trait: 'address.city', op: 'eq', value: 'Paris' },
        { trait: 'signedUpAt', op: 'after', value: '2026-01-01T00:00:00Z' },
      ],
    });
    const yes = uid('paris');
    const before2026 = uid('paris-old');
    const lyon = uid('lyon');
    await engine.ingest('/v1/identify', { userId: yes, traits: { tag, address: { city: 'Paris' }, signedUpAt: '2026-03-01T10:00:00+02:00' } });
    await engine.ingest('/v1/identify', { userId: before2026, traits: { tag, address: { city: 'Paris' }, signedUpAt: '2025-12-31T23:00:00-05:00' } });
    await engine.ingest('/v1/identify', { userId: lyon, traits: { tag, address: { city: 'Lyon' }, signedUpAt: '2026-03-01T10:00:00Z' } });
    await engine.settle();
    // 2025-12-31T23:00-05:00 is 2026-01-01T04:00Z: after the boundary, by time, not by text.
    expect(await memberIds(audienceId)).toEqual([yes, before2026].sort());
  });
});

describe('editing and deleting', () => {
  it('rebuilds membership on a rule change: users who no longer match exit', async () => {
    const tag = uid('tag');
    const a = uid('edit');
    const b = uid('edit');
    await engine.ingest('/v1/identify', { userId: a, traits: { tag, score: 10 } });
    await engine.ingest('/v1/identify', { userId: b, traits: { tag, score: 50 } });
    const audienceId = await createAudience('Score', { all: [{ trait: 'tag', op: 'eq', value: tag }, { trait: 'score', op: 'gte', value: 5 }] });
    expect(await memberIds(audienceId)).toEqual([a, b].sort());
    const updated = await engine.api('PUT', `/v1/audiences/${audienceId}`, { rule: { all: [{ trait: 'tag', op: 'eq', value: tag }, { trait: 'score', op: 'gte', value: 20 }] } });
    expect(updated.status).toBe(200);
    expect(updated.body.status).toBe('building');
    await engine.settle();
    expect((await engine.api('GET', `/v1/audiences/${audienceId}`)).body).toMatchObject({ status: 'ready', size: 1 });
    expect(await memberIds(audienceId)).toEqual([b]);
    expect(transitions(audienceId, a)).toEqual(['Audience Entered', 'Audience Exited']);
  });

  it('deletes an audience: 204, then its memberships are removed', async () => {
    const tag = uid('tag');
    const userId = uid('del');
    await engine.ingest('/v1/identify', { userId, traits: { tag } });
    const audienceId = await createAudience('To delete', { trait: 'tag', op: 'eq', value: tag });
    expect(await memberIds(audienceId)).toEqual([userId]);
    expect((await engine.api('DELETE', `/v1/audiences/${audienceId}`)).status).toBe(204);
    await engine.settle();
    expect((await engine.api('GET', `/v1/audiences/${audienceId}`)).status).toBe(404);
    expect((await engine.api('GET', `/v1/profiles/${userId}`)).body.audiences).toEqual([]);
    expect((await engine.api('DELETE', `/v1/audiences/${audienceId}`)).status).toBe(404);
  });
});

describe('preview', () => {
  it('evaluates without saving anything', async () => {
    const tag = uid('tag');
    const users = [uid('pv'), uid('pv'), uid('pv')];
    for (const userId of users) await engine.ingest('/v1/identify', { userId, traits: { tag } });
    await engine.settle();
    const before = await engine.snapshot();
    const r = await engine.api('POST', '/v1/audiences/preview', { rule: { trait: 'tag', op: 'eq', value: tag } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ size: 3, estimated: false });
    expect([...r.body.sample].sort()).toEqual([...users].sort());
    await engine.settle();
    expect(await engine.snapshot()).toEqual(before);
  });

  it('refuses a bad rule with 400 naming the path', async () => {
    const r = await engine.api('POST', '/v1/audiences/preview', { rule: { any: [] } });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0].path).toBe('rule.any');
  });
});
