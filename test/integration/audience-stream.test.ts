import type { DynamoDBStreamEvent } from 'aws-lambda';
import { handler as outboxHandler } from '../../functions/outbox/handler';
import { handler as streamHandler } from '../../functions/stream/handler';
import { localLambdaContext } from '../../infra/local/lambda-context';
import type { ProfileRef } from '../../shared/domain/profile/profile';
import { startTestEngine, type TestEngine } from '../helpers/engine';

let engine: TestEngine;
const recorded: DynamoDBStreamEvent['Records'] = [];

beforeAll(async () => {
  engine = await startTestEngine({ recheckIntervalMs: 0 });
  engine.dynamo.registerConsumer('recorder', async (event) => {
    recorded.push(...event.Records);
  });
});

afterAll(async () => {
  await engine.close();
});

async function createAudience(rule: unknown): Promise<string> {
  const r = await engine.api('POST', '/v1/audiences', { name: 'Stream test', rule });
  expect(r.status).toBe(201);
  await engine.settle();
  return r.body.id as string;
}

describe('replaying stream batches', () => {
  it('emits no duplicate transition and changes nothing, through the router and the outbox', async () => {
    // Prepare: entries and exits recorded as they happen.
    const audienceId = await createAudience({ event: 'Replay Me', within: 'P7D' });
    const other = await createAudience({ trait: 'vip', op: 'eq', value: true });
    recorded.length = 0;
    for (const userId of ['replay-1', 'replay-2', 'replay-3']) {
      await engine.ingest('/v1/track', { userId, event: 'Replay Me' });
      await engine.ingest('/v1/identify', { userId, traits: { vip: true } });
    }
    await engine.ingest('/v1/identify', { userId: 'replay-2', traits: { vip: false } });
    await engine.settle();
    const batch: DynamoDBStreamEvent = { Records: [...recorded] };
    const before = await engine.snapshot();
    const published = engine.bus.recent(10_000).length;
    expect(engine.bus.recent(10_000, { detailType: 'Audience Entered' }).filter((e) => e.detail.audienceId === audienceId)).toHaveLength(3);
    expect(engine.bus.recent(10_000, { detailType: 'Audience Exited' }).filter((e) => e.detail.audienceId === other)).toHaveLength(1);
    // Act: the whole batch again, twice, to both readers; then each record alone, out of order.
    for (let i = 0; i < 2; i++) {
      expect((await streamHandler(batch, localLambdaContext('stream'))).batchItemFailures).toEqual([]);
      expect((await outboxHandler(batch)).batchItemFailures).toEqual([]);
    }
    for (const record of [...batch.Records].reverse()) {
      expect((await streamHandler({ Records: [record] }, localLambdaContext('stream'))).batchItemFailures).toEqual([]);
    }
    await engine.settle();
    // Assess
    expect(await engine.snapshot()).toEqual(before);
    expect(engine.bus.recent(10_000)).toHaveLength(published);
  });
});

describe('a poison record', () => {
  it('ends on the on-failure list with its ids and does not block the rest of its batch', async () => {
    // Prepare: writing one user's membership always fails.
    const audienceId = await createAudience({ event: 'Poison Test' });
    const poisoned = 'poison-user';
    const enter = engine.services.memberships.enter.bind(engine.services.memberships);
    const spy = jest.spyOn(engine.services.memberships, 'enter').mockImplementation(async (ref: ProfileRef, id: string, at: string) => {
      if (ref.id === poisoned) throw new Error('simulated failure');
      return enter(ref, id, at);
    });
    const silence = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      // Act: one batch request, so the records travel together.
      const users = ['healthy-1', poisoned, 'healthy-2', 'healthy-3'];
      await engine.ingest('/v1/batch', { batch: users.map((userId) => ({ type: 'track', userId, event: 'Poison Test' })) });
      await engine.settle(60_000);
    } finally {
      spy.mockRestore();
      silence.mockRestore();
    }
    // Assess
    const failures = engine.dynamo.onFailure().filter((f) => f.consumer === 'stream');
    expect(failures.length).toBeGreaterThan(0);
    const failedKeys = failures.flatMap((f) => f.records.map((r) => JSON.stringify(r.keys)));
    expect(failedKeys.every((k) => k.includes(poisoned))).toBe(true);
    expect(failures.flatMap((f) => f.records.map((r) => r.eventID)).every((id) => id.length > 0)).toBe(true);
    const members = await engine.api('GET', `/v1/audiences/${audienceId}/members`);
    expect(members.body.items.map((m: { userId: string }) => m.userId).sort()).toEqual(['healthy-1', 'healthy-2', 'healthy-3']);
  });
});
