import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, PutCommand, UpdateCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { COUNT_FIELDS, zeroCounts, type Broadcast, type Counts } from '../../domain/broadcast/broadcast';
import type { BroadcastStore } from '../../ports';
import { EntityTable } from './entity-table';
import { AUDIENCE_SHARD_COUNT, BROADCAST_LIST_PK, BROADCAST_SK, COUNTER_SK, broadcastPk, fanoutDoneSk, sendPk } from './keys';

export class DynamoBroadcastStore extends EntityTable<Broadcast> implements BroadcastStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    super(documents, table, { type: 'broadcast', pk: broadcastPk, sk: BROADCAST_SK, listPk: BROADCAST_LIST_PK }, (item) => item as unknown as Broadcast);
  }

  async counts(broadcast: Broadcast): Promise<Counts> {
    const keys = broadcast.groups.flatMap((group) => Array.from({ length: AUDIENCE_SHARD_COUNT }, (_, shard) => ({ pk: sendPk(broadcast.id, group, shard), sk: COUNTER_SK })));
    const total = zeroCounts();
    // BatchGetItem reads at most 100 keys; unprocessed keys are read again.
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100);
      for (let attempt = 0; pending && pending.length > 0 && attempt < 8; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        const out: BatchGetCommandOutput = await this.documents.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }));
        for (const item of out.Responses?.[this.table] ?? []) {
          for (const field of COUNT_FIELDS) total[field] += typeof item[field] === 'number' ? item[field] : 0;
        }
        pending = out.UnprocessedKeys?.[this.table]?.Keys;
      }
    }
    return total;
  }

  async markFanoutDone(id: string, group: string, shard: number): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: broadcastPk(id), sk: fanoutDoneSk(group, shard), itemType: 'fanoutShard' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async completeFanout(id: string): Promise<void> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: broadcastPk(id), sk: BROADCAST_SK },
          // The version moves too, so that a concurrent read–modify–write (cancel) retries.
          UpdateExpression: 'ADD fanoutRemaining :minus, #version :one',
          ConditionExpression: 'fanoutRemaining > :zero',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':minus': -1, ':zero': 0, ':one': 1 },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async listSending(): Promise<Broadcast[]> {
    return (await this.listAll()).filter((b) => b.status === 'sending');
  }
}
