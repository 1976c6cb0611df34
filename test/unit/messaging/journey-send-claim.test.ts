import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { journeySendSk, parseProfilePk, parseSendPk } from '../../../shared/aws/dynamodb/keys';
import { DynamoSendStore } from '../../../shared/aws/dynamodb/send-store';
import type { JourneySendKey, BroadcastSendKey } from '../../../shared/ports';
import { routeChange, type RouterDeps } from '../../../shared/services/stream-router';

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const dynamoMock = mockClient(DynamoDBDocumentClient);
const TABLE = 'engage';

const JOURNEY_KEY: JourneySendKey = { journeyId: 'j_cart', executionName: 'j_cart-3-abc-once', stepId: 'email', ref: { kind: 'user', id: 'u_1' } };
const BROADCAST_KEY: BroadcastSendKey = { broadcastId: 'brd_1', shard: 7, ref: { kind: 'user', id: 'u_1' } };

/** Router dependencies that fail the test when anything is touched: the change must be ignored for free. */
function untouchedDeps(touched: string[]): RouterDeps {
  const store = (name: string) =>
    new Proxy(
      {},
      {
        get: (_target, property) => () => {
          touched.push(`${name}.${String(property)}`);
          return Promise.resolve(undefined);
        },
      },
    );
  const names = ['profiles', 'memberships', 'audiences', 'sends', 'catalog', 'journeys', 'journeyCatalog', 'engine', 'queue'];
  const deps = Object.fromEntries(names.map((name) => [name, store(name)]));
  return { ...deps, clock: { now: () => new Date() }, budgetMs: 1_000, backfill: { segments: 1, delaySeconds: 1 } } as unknown as RouterDeps;
}

describe('journey send claim', () => {
  afterEach(() => {
    dynamoMock.reset();
  });

  describe('its key', () => {
    it('returns the profile pk and JSEND#<journeyId>#<executionName>#<stepId>', async () => {
      // Prepare
      dynamoMock.on(PutCommand).resolves({});
      const store = new DynamoSendStore(documents, TABLE);

      // Act
      const created = await store.create(JOURNEY_KEY, { status: 'sending', messageId: 'msg_1', claimedAt: '2026-03-01T10:00:00.000Z' });

      // Assess
      expect(created).toBe(true);
      expect(dynamoMock).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE,
        Item: expect.objectContaining({ pk: 'USER#u_1', sk: 'JSEND#j_cart#j_cart-3-abc-once#email', itemType: 'journeySendClaim', status: 'sending', messageId: 'msg_1' }),
        ConditionExpression: 'attribute_not_exists(pk)',
      });
    });

    it('is the same for finish and release, each conditioned on the claim', async () => {
      // Prepare
      dynamoMock.on(UpdateCommand).resolves({});
      dynamoMock.on(DeleteCommand).resolves({});
      const store = new DynamoSendStore(documents, TABLE);
      const key = { pk: 'USER#u_1', sk: 'JSEND#j_cart#j_cart-3-abc-once#email' };

      // Act
      await store.finish(JOURNEY_KEY, 'msg_1', { status: 'sent', sentAt: '2026-03-01T10:00:01.000Z' });
      await store.release(JOURNEY_KEY, 'msg_1');

      // Assess
      expect(dynamoMock).toHaveReceivedCommandWith(UpdateCommand, { Key: key, ConditionExpression: '#status = :sending AND messageId = :messageId' });
      expect(dynamoMock).toHaveReceivedCommandWith(DeleteCommand, { Key: key, ConditionExpression: '#status = :sending AND messageId = :messageId' });
    });

    it('leaves a broadcast recipient’s send record where it was (SEND#<broadcastId>#<shard> / profile pk)', async () => {
      dynamoMock.on(PutCommand).resolves({});
      await new DynamoSendStore(documents, TABLE).create(BROADCAST_KEY, { status: 'skipped', skipReason: 'noAddress' });
      expect(dynamoMock).toHaveReceivedCommandWith(PutCommand, { Item: expect.objectContaining({ pk: 'SEND#brd_1#7', sk: 'USER#u_1', itemType: 'sendRecord' }) });
    });

    it('hashes a step id long enough to push the sort key past 1,024 bytes', () => {
      const long = 'ü'.repeat(600);
      const sk = journeySendSk('j_cart', 'j_cart-3-abc-once', long);
      expect(sk).toMatch(/^JSEND#j_cart#j_cart-3-abc-once##H[0-9a-f]{64}$/);
      expect(journeySendSk('j_cart', 'j_cart-3-abc-once', long)).toBe(sk);
      expect(journeySendSk('j_cart', 'j_cart-3-abc-once', 'email')).toBe('JSEND#j_cart#j_cart-3-abc-once#email');
    });
  });

  describe('when its change reaches the stream router', () => {
    it.each([
      ['INSERT', undefined, { status: 'sending', messageId: 'msg_1', claimedAt: '2026-03-01T10:00:00.000Z' }],
      ['MODIFY', { status: 'sending', messageId: 'msg_1' }, { status: 'sent', messageId: 'msg_1', sentAt: '2026-03-01T10:00:01.000Z' }],
      ['MODIFY', undefined, { status: 'skipped', skipReason: 'unsubscribed' }],
      ['REMOVE', { status: 'sending', messageId: 'msg_1' }, undefined],
    ] as const)('returns ignored for a %s and counts nothing into broadcasts', async (eventName, oldImage, newImage) => {
      // Prepare
      const touched: string[] = [];
      const keys = { pk: 'USER#u_1', sk: journeySendSk('j_cart', 'j_cart-3-abc-once', 'email') };

      // Act
      const result = await routeChange(untouchedDeps(touched), {
        eventName,
        sequenceNumber: '100',
        keys,
        ...(oldImage ? { oldImage: { ...keys, ...oldImage } } : {}),
        ...(newImage ? { newImage: { ...keys, ...newImage, itemType: 'journeySendClaim' } } : {}),
      });

      // Assess
      expect(result).toEqual({ kind: 'ignored' });
      expect(touched).toEqual([]);
      expect(parseSendPk(keys.pk)).toBeUndefined();
      expect(parseProfilePk(keys.pk)).toEqual({ kind: 'user', id: 'u_1' });
    });
  });
});
