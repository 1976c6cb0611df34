import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoProfileStore } from '../../shared/aws/dynamodb/profile-store';
import { newProfile, type ProfileRef } from '../../shared/domain/profile/profile';
import { ConcurrentUpdateError, ValidationError } from '../../shared/errors';
import type { StoredEvent } from '../../shared/ports';
import { createTable, startLocalDynamo, type LocalDynamo } from '../../infra/local/dynamodb';

let dynamo: LocalDynamo;
let store: DynamoProfileStore;
const TABLE = 'profile-store-test';

beforeAll(async () => {
  dynamo = await startLocalDynamo({ tableName: TABLE, sweepIntervalMs: 0 });
  await createTable(dynamo.rawClient, TABLE);
  store = new DynamoProfileStore({ client: DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } }), tableName: TABLE, eventRetentionDays: 30 });
});

afterAll(async () => {
  await dynamo.close();
});

let n = 0;
const ref = (): ProfileRef => ({ kind: 'user', id: `store-${++n}` });
const event = (messageId: string, timestamp: string, name = 'Viewed'): StoredEvent => ({ messageId, type: 'track', event: name, properties: {}, timestamp, receivedAt: timestamp });

describe('DynamoProfileStore against dynalite', () => {
  it('saves with optimistic concurrency: a stale version loses with ConcurrentUpdateError', async () => {
    // Prepare
    const profile = newProfile(ref(), '2026-01-01T00:00:00.000Z');
    const saved = await store.saveProfile(profile);
    await store.saveProfile({ ...saved, traits: { plan: 'pro' } });
    // Act + Assess
    await expect(store.saveProfile({ ...saved, traits: { plan: 'free' } })).rejects.toBeInstanceOf(ConcurrentUpdateError);
    await expect(store.saveProfile(profile)).rejects.toBeInstanceOf(ConcurrentUpdateError);
    expect((await store.getProfile(profile.ref))?.traits).toEqual({ plan: 'pro' });
  });

  it('stores an event once per messageId (the conditional put is the idempotency check)', async () => {
    const r = ref();
    expect(await store.putEvent(r, event('m-1', '2026-01-01T00:00:00.000Z'))).toBe(true);
    expect(await store.putEvent(r, event('m-1', '2026-01-02T00:00:00.000Z'))).toBe(false);
    expect(await store.hasEvent(r, 'm-1')).toBe(true);
    expect((await store.listEvents(r, { limit: 10 })).items.map((e) => e.timestamp)).toEqual(['2026-01-01T00:00:00.000Z']);
  });

  it('lists events newest first across pages, and refuses a cursor it did not issue', async () => {
    const r = ref();
    for (let i = 0; i < 7; i++) await store.putEvent(r, event(`e-${i}`, new Date(Date.UTC(2026, 0, 10 - i)).toISOString()));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listEvents(r, { limit: 3, cursor });
      seen.push(...page.items.map((e) => e.messageId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['e-0', 'e-1', 'e-2', 'e-3', 'e-4', 'e-5', 'e-6']);
    await expect(store.listEvents(r, { limit: 3, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(ValidationError);
  });

  it('lists and deletes everything a profile owns except the profile, in batches over 25', async () => {
    const r = ref();
    await store.saveProfile(newProfile(r, '2026-01-01T00:00:00.000Z'));
    for (let i = 0; i < 60; i++) await store.putEvent(r, event(`d-${i}`, '2026-01-01T00:00:00.000Z'));
    const owned = await store.listOwnedItems(r, 100);
    expect(owned).toHaveLength(60);
    expect(owned).not.toContain('PROFILE');
    await store.deleteOwnedItems(r, owned);
    expect(await store.listOwnedItems(r, 100)).toEqual([]);
    expect(await store.getProfile(r)).toBeDefined();
  });

  it('scans only profile items in parallel segments', async () => {
    const refs = [ref(), ref(), ref()];
    for (const r of refs) {
      await store.saveProfile(newProfile(r, '2026-01-01T00:00:00.000Z'));
      await store.putEvent(r, event(`s-${r.id}`, '2026-01-01T00:00:00.000Z'));
    }
    const found: string[] = [];
    for (let segment = 0; segment < 2; segment++) {
      let cursor: string | undefined;
      do {
        const page = await store.scanProfiles(segment, 2, 5, cursor);
        found.push(...page.items.map((p) => p.ref.id));
        cursor = page.nextCursor;
      } while (cursor);
    }
    for (const r of refs) expect(found).toContain(r.id);
    expect(found.every((id) => id.startsWith('store-'))).toBe(true);
  });

  it('records merge links once and lists them', async () => {
    const user = ref();
    await store.putAlias(user.id, { kind: 'anonymous', id: 'anon-x' }, '2026-01-01T00:00:00.000Z');
    await store.putAlias(user.id, { kind: 'anonymous', id: 'anon-x' }, '2026-01-02T00:00:00.000Z');
    expect(await store.listAliases(user.id)).toEqual([{ kind: 'anonymous', id: 'anon-x' }]);
  });
});
