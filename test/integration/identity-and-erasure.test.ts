import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { handler as streamHandler } from '../../functions/stream/handler';
import { localLambdaContext } from '../../infra/local/lambda-context';
import { continueErasure } from '../../shared/services/erasure';
import { continueMerge } from '../../shared/services/identity-merge';
import { startTestEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;
const recorded: DynamoDBStreamEvent['Records'] = [];

beforeAll(async () => {
  engine = await startTestEngine();
  // A second consumer on the stream keeps every record, to replay batches to the real handler.
  engine.dynamo.registerConsumer('recorder', async (event) => {
    recorded.push(...event.Records);
  });
});

afterEach(() => {
  // Nothing may end on the stream's on-failure destination.
  expect(engine.dynamo.onFailure()).toEqual([]);
});

afterAll(async () => {
  await engine.close();
});

let n = 0;
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++n}`;
/** Changes a stored item without producing a stream record (the raw client is not captured). */
async function patchSilently(pk: string, sk: string, patch: Record<string, unknown>): Promise<void> {
  const { Item } = await engine.dynamo.rawClient.send(new GetItemCommand({ TableName: engine.dynamo.tableName, Key: marshall({ pk, sk }), ConsistentRead: true }));
  if (!Item) throw new Error(`no item ${pk} ${sk}`);
  await engine.dynamo.rawClient.send(new PutItemCommand({ TableName: engine.dynamo.tableName, Item: marshall({ ...unmarshall(Item), ...patch }) }));
}

const pksOf = (items: Record<string, unknown>[]) => new Set(items.map((i) => String(i.pk)));

describe('identity merge', () => {
  it('merges an anonymous profile into the user on identify with both ids', async () => {
    // Prepare
    const anonymousId = uid('anon');
    const userId = uid('user');
    await engine.ingest('/v1/page', { anonymousId, name: 'Home' });
    await engine.ingest('/v1/track', { anonymousId, event: 'Cart Abandoned', properties: { cartId: 'c1' } });
    await engine.ingest('/v1/identify', { anonymousId, traits: { utm: 'ad', plan: 'free' } });
    // Act
    await engine.ingest('/v1/identify', { anonymousId, userId, traits: { plan: 'pro', email: 'u@example.com' } });
    await engine.settle();
    // Assess
    const profile = await engine.api('GET', `/v1/profiles/${userId}`);
    expect(profile.body.traits).toEqual({ plan: 'pro', email: 'u@example.com', utm: 'ad' });
    const events = await engine.api('GET', `/v1/profiles/${userId}/events`);
    expect(events.body.items.map((e: { event: string | null }) => e.event).sort()).toEqual(['Cart Abandoned', 'Page Viewed', null, null].sort());
    const items = await engine.snapshot();
    expect(items.filter((i) => i.pk === `ANON#${anonymousId}`)).toEqual([
      expect.objectContaining({ sk: 'PROFILE', mergedInto: userId, mergeCompletedAt: expect.any(String), traits: {} }),
    ]);
  });

  it('routes later anonymous-only messages to the user', async () => {
    const anonymousId = uid('anon');
    const userId = uid('user');
    await engine.ingest('/v1/identify', { anonymousId, userId });
    await engine.ingest('/v1/track', { anonymousId, event: 'Later' });
    await engine.settle();
    const events = await engine.api('GET', `/v1/profiles/${userId}/events`);
    expect(events.body.items.map((e: { event: string | null }) => e.event)).toContain('Later');
    // The anonymous id resolves to the user too.
    expect((await engine.api('GET', `/v1/profiles/${anonymousId}`)).body.userId).toBe(userId);
  });

  it('merges a previous user id on alias', async () => {
    const previousId = uid('old');
    const userId = uid('new');
    await engine.ingest('/v1/identify', { userId: previousId, traits: { firstName: 'Ada', plan: 'free' } });
    await engine.ingest('/v1/track', { userId: previousId, event: 'Signed Up' });
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro' } });
    await engine.ingest('/v1/alias', { previousId, userId });
    await engine.settle();
    const profile = await engine.api('GET', `/v1/profiles/${userId}`);
    expect(profile.body.traits).toEqual({ firstName: 'Ada', plan: 'pro' });
    const events = await engine.api('GET', `/v1/profiles/${userId}/events`);
    expect(events.body.items.map((e: { type: string; event: string | null }) => e.event ?? e.type)).toEqual(expect.arrayContaining(['Signed Up', 'alias']));
  });

  it('resumes a merge cut short by its time budget, through the stream', async () => {
    // Prepare: a merge link written by hand, as ingest does, then a run with no time budget.
    const anonymousId = uid('anon');
    const userId = uid('user');
    const batch = Array.from({ length: 30 }, (_, i) => ({ type: 'track', anonymousId, event: `E${i}` }));
    await engine.ingest('/v1/batch', { batch });
    await engine.ingest('/v1/identify', { userId, traits: { plan: 'pro' } });
    await engine.settle();
    await patchSilently(`ANON#${anonymousId}`, 'PROFILE', { mergedInto: userId });
    const linked = await engine.services.profiles.getProfile({ kind: 'anonymous', id: anonymousId });
    if (!linked) throw new Error('anonymous profile missing');
    // Act: one page, then the budget is spent; the bumped round resumes it from the stream.
    const outcome = await continueMerge({ profiles: engine.services.profiles, clock: engine.services.clock, budgetMs: -1, pageSize: 10 }, linked);
    await engine.settle();
    // Assess
    expect(outcome).toBe('resumed');
    const events = await engine.api('GET', `/v1/profiles/${userId}/events?limit=100`);
    expect(events.body.items.filter((e: { type: string }) => e.type === 'track')).toHaveLength(30);
    expect((await engine.snapshot()).filter((i) => i.pk === `ANON#${anonymousId}`)).toHaveLength(1);
  });

  it('erases, instead of merging, an identity linked to a user who was erased meanwhile', async () => {
    // Prepare: the link is processed only after the user is gone (they sit on different shards).
    const anonymousId = uid('anon');
    const userId = uid('user');
    await engine.ingest('/v1/track', { anonymousId, event: 'Viewed' });
    await engine.settle();
    await patchSilently(`ANON#${anonymousId}`, 'PROFILE', { mergedInto: userId });
    const linked = await engine.services.profiles.getProfile({ kind: 'anonymous', id: anonymousId });
    if (!linked) throw new Error('anonymous profile missing');
    // Act
    const outcome = await continueMerge({ profiles: engine.services.profiles, clock: engine.services.clock }, linked);
    await engine.settle();
    // Assess
    expect(outcome).toBe('erasing');
    const pks = pksOf(await engine.snapshot());
    expect(pks.has(`USER#${userId}`)).toBe(false);
    expect(pks.has(`ANON#${anonymousId}`)).toBe(false);
  });

  it('marks re-attributed events with the identity they came from', async () => {
    const anonymousId = uid('anon');
    const userId = uid('user');
    await engine.ingest('/v1/track', { anonymousId, event: 'Viewed', messageId: `${anonymousId}-m` });
    await engine.ingest('/v1/identify', { anonymousId, userId });
    await engine.settle();
    const moved = (await engine.snapshot()).find((i) => i.pk === `USER#${userId}` && i.sk === `EVT#${anonymousId}-m`);
    expect(moved).toMatchObject({ movedFrom: `anonymous:${anonymousId}` });
  });
});

describe('stream redelivery', () => {
  it('replaying the same stream batch twice changes nothing', async () => {
    // Prepare
    const anonymousId = uid('anon');
    const userId = uid('user');
    recorded.length = 0;
    await engine.ingest('/v1/track', { anonymousId, event: 'Viewed' });
    await engine.ingest('/v1/identify', { anonymousId, userId, traits: { plan: 'pro' } });
    await engine.settle();
    const batch: DynamoDBStreamEvent = { Records: [...recorded] };
    expect(batch.Records.length).toBeGreaterThan(0);
    const before = await engine.snapshot();
    // Act
    const first = await streamHandler(batch, localLambdaContext('stream'));
    const second = await streamHandler(batch, localLambdaContext('stream'));
    await engine.settle();
    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(await engine.snapshot()).toEqual(before);
  });
});

describe('erasure', () => {
  it('erases the profile, its events and the identities merged into it; GET answers 404 at once', async () => {
    // Prepare
    const anonymousId = uid('anon');
    const userId = uid('user');
    await engine.ingest('/v1/track', { anonymousId, event: 'Viewed' });
    await engine.ingest('/v1/identify', { anonymousId, userId, traits: { email: 'erase@example.com' } });
    await engine.ingest('/v1/track', { userId, event: 'Bought' });
    await engine.settle();
    // Act
    const accepted = await engine.api('DELETE', `/v1/profiles/${userId}`);
    const immediately = await engine.api('GET', `/v1/profiles/${userId}`);
    await engine.settle();
    // Assess
    expect(accepted.status).toBe(202);
    expect(immediately.status).toBe(404);
    const pks = pksOf(await engine.snapshot());
    expect(pks.has(`USER#${userId}`)).toBe(false);
    expect(pks.has(`ANON#${anonymousId}`)).toBe(false);
    expect((await engine.api('GET', `/v1/profiles/${userId}/events`)).status).toBe(404);
    expect((await engine.api('DELETE', `/v1/profiles/${userId}`)).status).toBe(404);
  });

  it('resumes an erasure cut short by its time budget', async () => {
    const userId = uid('user');
    await engine.ingest('/v1/batch', { batch: Array.from({ length: 250 }, (_, i) => ({ type: 'track', userId, event: `E${i}` })) });
    await engine.settle();
    await patchSilently(`USER#${userId}`, 'PROFILE', { erasureRequestedAt: new Date().toISOString() });
    const marked = await engine.services.profiles.getProfile({ kind: 'user', id: userId });
    if (!marked) throw new Error('profile missing');
    const outcome = await continueErasure({ profiles: engine.services.profiles, clock: engine.services.clock, budgetMs: -1 }, marked);
    expect(outcome).toBe('resumed');
    await engine.settle();
    expect(pksOf(await engine.snapshot()).has(`USER#${userId}`)).toBe(false);
  });

  it('answers 404 for an unknown profile', async () => {
    expect((await engine.api('DELETE', '/v1/profiles/nobody-here')).status).toBe(404);
  });

  it('erases an anonymous profile by its anonymous id', async () => {
    const anonymousId = uid('anon');
    await engine.ingest('/v1/track', { anonymousId, event: 'Viewed' });
    expect((await engine.api('DELETE', `/v1/profiles/${anonymousId}`)).status).toBe(202);
    await engine.settle();
    expect(pksOf(await engine.snapshot()).has(`ANON#${anonymousId}`)).toBe(false);
  });

  it('erases identities merged at any depth (anonymous → user → aliased user)', async () => {
    const anonymousId = uid('anon');
    const first = uid('first');
    const second = uid('second');
    await engine.ingest('/v1/track', { anonymousId, event: 'Viewed' });
    await engine.ingest('/v1/identify', { anonymousId, userId: first });
    await engine.settle();
    await engine.ingest('/v1/alias', { previousId: first, userId: second });
    await engine.settle();
    expect((await engine.api('DELETE', `/v1/profiles/${second}`)).status).toBe(202);
    await engine.settle();
    const pks = pksOf(await engine.snapshot());
    for (const pk of [`USER#${second}`, `USER#${first}`, `ANON#${anonymousId}`]) expect(pks.has(pk)).toBe(false);
  });

  it('stores nothing for a user while their erasure runs', async () => {
    const userId = uid('user');
    await engine.ingest('/v1/identify', { userId });
    await engine.settle();
    await patchSilently(`USER#${userId}`, 'PROFILE', { erasureRequestedAt: new Date().toISOString() });
    const before = await engine.snapshot();
    expect((await engine.ingest('/v1/track', { userId, event: 'During erasure' })).status).toBe(200);
    expect(await engine.snapshot()).toEqual(before);
  });
});
