import { startTestEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});

afterEach(() => {
  expect(engine.dynamo.onFailure()).toEqual([]);
});

afterAll(async () => {
  await engine.close();
});

let n = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++n}`;

describe('when messages are valid', () => {
  it('stores identify, track, page, screen and group on the profile and its events', async () => {
    // Prepare
    const userId = uid('user');
    // Act
    const results = await Promise.all([
      engine.ingest('/v1/identify', { userId, traits: { email: 'ada@example.com', plan: 'pro', address: { city: 'Paris' } }, messageId: `${userId}-1` }),
    ]);
    results.push(await engine.ingest('/v1/track', { userId, event: 'Order Completed', properties: { total: 10 }, timestamp: '2026-11-01T10:00:00Z' }));
    results.push(await engine.ingest('/v1/page', { userId, name: 'Pricing', properties: { path: '/pricing' } }));
    results.push(await engine.ingest('/v1/screen', { userId, name: 'Home' }));
    results.push(await engine.ingest('/v1/group', { userId, groupId: 'acme', traits: { plan: 'enterprise' } }));
    // Assess
    for (const r of results) expect(r).toEqual({ status: 200, body: { success: true } });
    const profile = await engine.api('GET', `/v1/profiles/${userId}`);
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({
      userId,
      traits: { email: 'ada@example.com', plan: 'pro', address: { city: 'Paris' } },
      groups: { acme: { plan: 'enterprise' } },
      audiences: [],
      subscriptions: { email: 'subscribed', sms: 'subscribed' },
    });
    const events = await engine.api('GET', `/v1/profiles/${userId}/events`);
    expect(events.body.items.map((e: { event: string | null }) => e.event)).toEqual(expect.arrayContaining(['Order Completed', 'Page Viewed', 'Screen Viewed', null]));
    expect(events.body.items.find((e: { event: string }) => e.event === 'Page Viewed').properties).toEqual({ path: '/pricing', name: 'Pricing' });
  });

  it('accepts the write key in the body', async () => {
    const userId = uid('bodykey');
    const r = await engine.ingest('/v1/track', { userId, event: 'X', writeKey: 'test-write-key-0123456789' }, 'none');
    expect(r.status).toBe(200);
  });

  it('lists events newest first by event time, with cursor paging', async () => {
    // Prepare
    const userId = uid('paging');
    const batch = Array.from({ length: 7 }, (_, i) => ({ type: 'track', userId, event: `E${i}`, timestamp: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }));
    await engine.ingest('/v1/batch', { batch: [...batch].reverse() });
    // Act
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ event: string }>; nextCursor: string | null } } = await engine.api('GET', `/v1/profiles/${userId}/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((e) => e.event));
      cursor = page.body.nextCursor;
    } while (cursor);
    // Assess
    expect(seen).toEqual(['E6', 'E5', 'E4', 'E3', 'E2', 'E1', 'E0']);
  });
});

describe('when input is bad, it answers 4xx naming the problem and stores nothing', () => {
  const cases: Array<[string, string, unknown, 'basic' | 'none' | { basic: string }, number, RegExp]> = [
    ['malformed JSON', '/v1/track', '{"userId": "u", "event": ', 'basic', 400, /body: is not valid JSON/],
    ['no userId or anonymousId', '/v1/track', { event: 'X' }, 'basic', 400, /userId/],
    ['no event name', '/v1/track', { userId: 'bad-1' }, 'basic', 400, /event/],
    ['a wrong type', '/v1/track', { userId: 'bad-1', event: 'X', properties: 'nope' }, 'basic', 400, /properties/],
    ['a bad timestamp', '/v1/track', { userId: 'bad-1', event: 'X', timestamp: '31/12/2026' }, 'basic', 400, /timestamp/],
    ['a bad email', '/v1/identify', { userId: 'bad-1', traits: { email: 'nope' } }, 'basic', 400, /traits\.email/],
    ['a bad phone', '/v1/identify', { userId: 'bad-1', traits: { phone: '0612345678' } }, 'basic', 400, /traits\.phone/],
    ['a bad time zone', '/v1/identify', { userId: 'bad-1', traits: { timezone: 'Paris' } }, 'basic', 400, /traits\.timezone/],
    ['an oversize message', '/v1/track', { userId: 'bad-1', event: 'X', properties: { b: 'x'.repeat(33_000) } }, 'basic', 413, /32 KB/],
    ['an oversize batch', '/v1/batch', { batch: Array.from({ length: 20 }, () => ({ type: 'track', userId: 'bad-1', event: 'X', properties: { b: 'x'.repeat(30_000) } })) }, 'basic', 413, /500 KB/],
    ['too many messages', '/v1/batch', { batch: Array.from({ length: 2501 }, () => ({ type: 'track', userId: 'bad-1', event: 'X' })) }, 'basic', 413, /2500/],
    ['a missing write key', '/v1/track', { userId: 'bad-1', event: 'X' }, 'none', 401, /write key/],
    ['a wrong write key', '/v1/track', { userId: 'bad-1', event: 'X' }, { basic: 'wrong' }, 401, /write key/],
    ['the API key as write key', '/v1/track', { userId: 'bad-1', event: 'X' }, { basic: 'test-api-key-0123456789' }, 401, /write key/],
    ['an invalid batch with a valid half', '/v1/batch', { batch: [{ type: 'identify', userId: 'bad-1', traits: { plan: 'x' } }, { type: 'track', userId: 'bad-1' }] }, 'basic', 400, /batch\[1\]\.event/],
  ];

  it.each(cases)('%s', async (_name, path, body, auth, status, message) => {
    // Prepare
    const before = await engine.snapshot();
    // Act
    const r = await engine.ingest(path, body, auth);
    await engine.settle();
    // Assess
    expect(r.status).toBe(status);
    expect(r.body).toEqual({ error: expect.objectContaining({ code: expect.any(String), message: expect.stringMatching(message) }) });
    expect(await engine.snapshot()).toEqual(before);
  });

  it('answers 404 for an unknown route and 405 for a wrong method', async () => {
    expect((await engine.api('GET', '/v1/nothing-here')).status).toBe(404);
    expect((await engine.ingest('/v1/nothing-here', {})).status).toBe(404);
    const wrongMethod = await engine.api('GET', '/v1/track');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.body.error.message).toMatch(/POST/);
  });
});

describe('when messages are redelivered', () => {
  it('ignores a messageId already stored: nothing changes', async () => {
    // Prepare
    const userId = uid('redelivery');
    const message = { userId, event: 'Order Completed', messageId: `${userId}-m1`, properties: { total: 5 } };
    await engine.ingest('/v1/track', message);
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro' }, messageId: `${userId}-i1` });
    await engine.settle();
    const before = await engine.snapshot();
    // Act
    expect((await engine.ingest('/v1/track', message)).status).toBe(200);
    expect((await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro' }, messageId: `${userId}-i1` })).status).toBe(200);
    expect((await engine.ingest('/v1/batch', { batch: [{ type: 'track', ...message }] })).status).toBe(200);
    await engine.settle();
    // Assess
    expect(await engine.snapshot()).toEqual(before);
  });

  it('does not let a replayed old identify overwrite newer traits', async () => {
    const userId = uid('stale');
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'free' }, messageId: `${userId}-old` });
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro' }, messageId: `${userId}-new` });
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'free' }, messageId: `${userId}-old` });
    expect((await engine.api('GET', `/v1/profiles/${userId}`)).body.traits.plan).toBe('pro');
  });
});
