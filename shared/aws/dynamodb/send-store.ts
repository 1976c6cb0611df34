import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Counts, SendRecord, SendStatus } from '../../domain/broadcast/broadcast';
import type { SendRecordKey, SendStore } from '../../ports';
import { COUNTER_SK, journeySendSk, paddedSequence, profilePk, sendPk } from './keys';
import { conditional } from './conditional';

/**
 * Send records and journey send claims are kept 90 days: long enough for late feedback, audits
 * and any redelivery (SQS keeps a message 14 days at most), then DynamoDB TTL removes them.
 */
const SEND_RECORD_TTL_SECONDS = 90 * 86_400;

function expiresAt(): number {
  return Math.floor(Date.now() / 1000) + SEND_RECORD_TTL_SECONDS;
}

function keyOf(key: SendRecordKey): { pk: string; sk: string } {
  if ('journeyId' in key) return { pk: profilePk(key.ref), sk: journeySendSk(key.journeyId, key.executionName, key.stepId) };
  return { pk: sendPk(key.broadcastId, key.shard), sk: profilePk(key.ref) };
}

/** The stored item: the record, its key, its kind, its expiry. */
function itemOf(key: SendRecordKey, record: SendRecord): Record<string, unknown> {
  return { ...record, ...keyOf(key), itemType: 'journeyId' in key ? 'journeySendClaim' : 'sendRecord', expiresAt: expiresAt() };
}

function recordFrom(item: Record<string, unknown>): SendRecord {
  const { pk: _pk, sk: _sk, itemType: _t, expiresAt: _e, ...rest } = item;
  return rest as unknown as SendRecord;
}

function setExpression(change: Record<string, unknown>, names: Record<string, string>, values: Record<string, unknown>): string {
  const sets = Object.entries(change)
    .filter(([, v]) => v !== undefined)
    .map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      return `#f${i} = :v${i}`;
    });
  return `SET ${sets.join(', ')}`;
}

/**
 * Send records: one per broadcast recipient, and one per journey send step of an execution (the
 * journey send claim, under the profile), written with a conditional put before the provider
 * is called (the claim), so that a redelivered message or a retried function never sends twice.
 * Every change of a broadcast's record is a stream record that the router turns into counts;
 * journey claims live in the profile partition, which the router does not count.
 */
export class DynamoSendStore implements SendStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(key: SendRecordKey): Promise<SendRecord | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keyOf(key), ConsistentRead: true }));
    return out.Item ? recordFrom(out.Item) : undefined;
  }

  create(key: SendRecordKey, record: SendRecord): Promise<boolean> {
    return conditional(() =>
      this.client.send(
        new PutCommand({ TableName: this.tableName, Item: itemOf(key, record), ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    );
  }

  takeOver(key: SendRecordKey, staleClaimedAt: string, record: SendRecord): Promise<boolean> {
    return conditional(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: itemOf(key, record),
          ConditionExpression: '#status = :sending AND claimedAt = :stale',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':sending': 'sending', ':stale': staleClaimedAt },
        }),
      ),
    );
  }

  finish(key: SendRecordKey, messageId: string, change: Partial<SendRecord> & { status: SendStatus }): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':sending': 'sending', ':messageId': messageId };
    const update = setExpression(change, names, values);
    return conditional(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(key),
          UpdateExpression: update,
          ConditionExpression: '#status = :sending AND messageId = :messageId',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  async release(key: SendRecordKey, messageId: string): Promise<void> {
    await conditional(() =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keyOf(key),
          ConditionExpression: '#status = :sending AND messageId = :messageId',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':sending': 'sending', ':messageId': messageId },
        }),
      ),
    );
  }

  async recordFeedback(key: SendRecordKey, change: Pick<SendRecord, 'delivery' | 'opened' | 'clicked'>): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const fields = { delivery: change.delivery, opened: change.opened || undefined, clicked: change.clicked || undefined };
    if (Object.values(fields).every((v) => v === undefined)) return;
    const update = setExpression(fields, names, values);
    // Feedback for a record that is gone (erased) is dropped.
    await conditional(() =>
      this.client.send(
        new UpdateCommand({ TableName: this.tableName, Key: keyOf(key), UpdateExpression: update, ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: names, ExpressionAttributeValues: values }),
      ),
    );
  }

  async applyCounts(broadcastId: string, shard: number, delta: Partial<Counts>, sequenceNumber: string): Promise<void> {
    const fields = Object.entries(delta).filter(([, v]) => v !== 0 && v !== undefined);
    if (fields.length === 0) return;
    const names: Record<string, string> = { '#seq': 'seq' };
    const values: Record<string, unknown> = { ':seq': paddedSequence(sequenceNumber), ':type': 'sendCounter' };
    const adds = fields.map(([field, value], i) => {
      names[`#c${i}`] = field;
      values[`:d${i}`] = value;
      return `#c${i} :d${i}`;
    });
    // The condition makes a replayed record a no-op: it was applied before.
    await conditional(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: sendPk(broadcastId, shard), sk: COUNTER_SK },
          UpdateExpression: `ADD ${adds.join(', ')} SET #seq = :seq, itemType = :type`,
          ConditionExpression: 'attribute_not_exists(#seq) OR #seq < :seq',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }
}
