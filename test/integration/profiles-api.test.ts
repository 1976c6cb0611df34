import { startTestEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;
const userId = `profile-api-${Date.now().toString(36)}`;

beforeAll(async () => {
  engine = await startTestEngine();
  await engine.ingest('/v1/identify', { userId, traits: { email: 'p@example.com' } });
});

afterEach(() => {
  expect(engine.dynamo.onFailure()).toEqual([]);
});

afterAll(async () => {
  await engine.close();
});

describe('authentication', () => {
  it.each([
    ['no key', null],
    ['a wrong key', 'wrong-key'],
    ['the write key', 'test-write-key-0123456789'],
  ])('answers 401 with %s', async (_name, key) => {
    const r = await engine.api('GET', `/v1/profiles/${userId}`, undefined, key);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('unauthorized');
  });

  it('serves health without a key', async () => {
    expect(await engine.api('GET', '/v1/health', undefined, null)).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('needs the key for the OpenAPI document', async () => {
    expect((await engine.api('GET', '/v1/openapi.json', undefined, null)).status).toBe(401);
  });
});

describe('GET /v1/profiles/{userId}', () => {
  it('answers 404 for an unknown profile', async () => {
    const r = await engine.api('GET', '/v1/profiles/nobody');
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/nobody/);
  });

  it('decodes ids in the path', async () => {
    const id = 'user with spaces/and-slash@example.com';
    await engine.ingest('/v1/identify', { userId: id, traits: { plan: 'x' } });
    const r = await engine.api('GET', `/v1/profiles/${encodeURIComponent(id)}`);
    expect(r.body.userId).toBe(id);
  });

  it('returns an empty message log for now', async () => {
    expect((await engine.api('GET', `/v1/profiles/${userId}/messages`)).body).toEqual({ items: [], nextCursor: null });
  });

  it.each([
    ['limit=0', /limit/],
    ['limit=abc', /limit/],
    ['limit=101', /limit/],
    ['cursor=not-a-cursor', /cursor/],
    ['colour=blue', /colour/],
  ])('refuses ?%s with 400 naming the parameter', async (query, message) => {
    const r = await engine.api('GET', `/v1/profiles/${userId}/events?${query}`);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.error)).toMatch(message);
  });
});

describe('PUT /v1/profiles/{userId}/subscriptions', () => {
  it('unsubscribes and resubscribes per channel', async () => {
    const r = await engine.api('PUT', `/v1/profiles/${userId}/subscriptions`, { email: 'unsubscribed' });
    expect(r).toEqual({ status: 200, body: { email: 'unsubscribed', sms: 'subscribed' } });
    expect((await engine.api('GET', `/v1/profiles/${userId}`)).body.subscriptions).toEqual({ email: 'unsubscribed', sms: 'subscribed' });
    await engine.api('PUT', `/v1/profiles/${userId}/subscriptions`, { email: 'subscribed', sms: 'unsubscribed' });
    expect((await engine.api('GET', `/v1/profiles/${userId}`)).body.subscriptions).toEqual({ email: 'subscribed', sms: 'unsubscribed' });
  });

  it.each([
    ['a bad status', { email: 'yes' }, /email/],
    ['an unknown channel', { push: 'subscribed' }, /push/],
    ['an empty body', {}, /email or sms/],
    ['malformed JSON', '{', /body/],
  ])('refuses %s with 400 and changes nothing', async (_name, body, message) => {
    await engine.settle();
    const before = await engine.snapshot();
    const r = await engine.api('PUT', `/v1/profiles/${userId}/subscriptions`, body);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.error)).toMatch(message);
    expect(await engine.snapshot()).toEqual(before);
  });

  it('answers 404 for an unknown profile and creates nothing', async () => {
    const before = await engine.snapshot();
    expect((await engine.api('PUT', '/v1/profiles/nobody/subscriptions', { email: 'unsubscribed' })).status).toBe(404);
    expect(await engine.snapshot()).toEqual(before);
  });
});

describe('GET /v1/openapi.json', () => {
  it('describes every route as OpenAPI 3.1 with schemas from the validators', async () => {
    const r = await engine.api('GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    for (const path of ['/v1/identify', '/v1/track', '/v1/page', '/v1/screen', '/v1/group', '/v1/alias', '/v1/batch', '/v1/profiles/{userId}', '/v1/profiles/{userId}/events', '/v1/profiles/{userId}/messages', '/v1/profiles/{userId}/subscriptions', '/v1/health']) {
      expect(r.body.paths).toHaveProperty([path]);
    }
    expect(r.body.paths['/v1/profiles/{userId}'].delete.responses).toHaveProperty('202');
    expect(r.body.components.schemas.Identify.properties.traits).toBeDefined();
    expect(r.body.components.schemas.SubscriptionsUpdate.properties.email.enum).toEqual(['subscribed', 'unsubscribed']);
    // Every $ref resolves.
    const refs = [...JSON.stringify(r.body).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
    for (const ref of refs) expect(r.body.components.schemas).toHaveProperty([ref]);
  });
});
