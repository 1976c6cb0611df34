import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Counts, SendRecord, SendStatus } from '../../domain/broadcast/broadcast';
import type { Page, SendRecordKey, SendStore } from '../../ports';
import { decodeCursor, encodeCursor } from './cursor';
import { COUNTER_SK, paddedSequence, parseProfilePk, profilePk, sendPk } from './keys';

function keyOf(key: SendRecordKey): { pk: string; sk: string } {
  return { pk: sendPk(key.broadcastId, key.group, key.shard), sk: profilePk(key.ref) };
}

function recordFrom(item: Record<string, unknown>): SendRecord {
  const { pk: _pk, sk: _sk, itemType: _t, ...rest } = item;
  return rest as unknown as SendRecord;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException;
}

/**
 * Send records: one per broadcast recipient, claimed with a conditional write before the
 * provider is called, so that a redelivered message or a retried function never sends twice.
 */
export class DynamoSendStore implements SendStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async createPending(key: SendRecordKey, notBefore?: string): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keyOf(key), itemType: 'sendRecord', status: 'pending', attempts: 0, ...(notBefore ? { notBefore } : {}) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(key: SendRecordKey): Promise<SendRecord | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keyOf(key), ConsistentRead: true }));
    return out.Item ? recordFrom(out.Item) : undefined;
  }

  async claim(key: SendRecordKey, expected: SendRecord, now: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(key),
          UpdateExpression: 'SET #status = :sending, claimedAt = :now ADD attempts :one',
          ConditionExpression:
            expected.status === 'pending' ? '#status = :pending' : '#status = :sending AND claimedAt = :claimedAt',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':sending': 'sending',
            ':now': now,
            ':one': 1,
            ...(expected.status === 'pending' ? { ':pending': 'pending' } : { ':claimedAt': expected.claimedAt ?? '' }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async finish(key: SendRecordKey, from: SendStatus, change: Partial<SendRecord> & { status: SendStatus }): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':from': from };
    const sets = Object.entries(change)
      .filter(([, v]) => v !== undefined)
      .map(([field, value], i) => {
        names[`#f${i}`] = field;
        values[`:v${i}`] = value;
        return `#f${i} = :v${i}`;
      });
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(key),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async release(key: SendRecordKey, claimedAt: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(key),
          UpdateExpression: 'SET #status = :pending REMOVE claimedAt',
          ConditionExpression: '#status = :sending AND claimedAt = :claimedAt',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':pending': 'pending', ':sending': 'sending', ':claimedAt': claimedAt },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async recordFeedback(key: SendRecordKey, change: Pick<SendRecord, 'delivery' | 'opened' | 'clicked'>): Promise<void> {
    const sets: string[] = [];
    const values: Record<string, unknown> = {};
    if (change.delivery !== undefined) {
      sets.push('delivery = :delivery');
      values[':delivery'] = change.delivery;
    }
    if (change.opened) sets.push('opened = :true');
    if (change.clicked) sets.push('clicked = :true');
    if (change.opened || change.clicked) values[':true'] = true;
    if (sets.length === 0) return;
    try {
      await this.client.send(
        new UpdateCommand({ TableName: this.tableName, Key: keyOf(key), UpdateExpression: `SET ${sets.join(', ')}`, ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: values }),
      );
    } catch (error) {
      // Feedback for a record that is gone (erased) is dropped.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async page(broadcastId: string, group: string, shard: number, limit: number, cursor?: string): Promise<Page<{ key: SendRecordKey; record: SendRecord }>> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        // Recipient keys (USER#, ANON#) sort after the counter's '#COUNT'.
        KeyConditionExpression: 'pk = :pk AND sk > :counter',
        ExpressionAttributeValues: { ':pk': sendPk(broadcastId, group, shard), ':counter': COUNTER_SK },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
        ConsistentRead: true,
      }),
    );
    const items = (out.Items ?? []).flatMap((item) => {
      const ref = parseProfilePk(String(item.sk));
      return ref ? [{ key: { broadcastId, group, shard, ref }, record: recordFrom(item) }] : [];
    });
    return { items, nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }

  async applyCounts(broadcastId: string, group: string, shard: number, delta: Partial<Counts>, sequenceNumber: string): Promise<void> {
    const fields = Object.entries(delta).filter(([, v]) => v !== 0 && v !== undefined);
    if (fields.length === 0) return;
    const names: Record<string, string> = { '#seq': 'seq' };
    const values: Record<string, unknown> = { ':seq': paddedSequence(sequenceNumber), ':type': 'sendCounter' };
    const adds = fields.map(([field, value], i) => {
      names[`#c${i}`] = field;
      values[`:d${i}`] = value;
      return `#c${i} :d${i}`;
    });
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: sendPk(broadcastId, group, shard), sk: COUNTER_SK },
          UpdateExpression: `ADD ${adds.join(', ')} SET #seq = :seq, itemType = :type`,
          ConditionExpression: 'attribute_not_exists(#seq) OR #seq < :seq',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      // Already applied: this record was delivered before.
      if (!isConditionFailure(error)) throw error;
    }
  }
}
