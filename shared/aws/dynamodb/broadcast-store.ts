import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryAll } from './query-all';
import { COUNT_FIELDS, zeroCounts, type Broadcast, type Counts } from '../../domain/broadcast/broadcast';
import type { BroadcastStore } from '../../ports';
import { EntityTable } from './entity-table';
import { AUDIENCE_SHARD_COUNT, BROADCAST_LIST_PK, BROADCAST_SK, COUNTER_SK, FANOUT_SK_PREFIX, broadcastPk, fanoutDoneSk, fanoutPageSk, sendPk } from './keys';
import { conditional } from './conditional';
import { batchGetAll } from './batch-get';

export class DynamoBroadcastStore extends EntityTable<Broadcast> implements BroadcastStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    super(documents, table, { type: 'broadcast', pk: broadcastPk, sk: BROADCAST_SK, listPk: BROADCAST_LIST_PK }, (item) => item as unknown as Broadcast);
  }

  async counts(broadcast: Broadcast): Promise<Counts> {
    const keys = Array.from({ length: AUDIENCE_SHARD_COUNT }, (_, shard) => ({ pk: sendPk(broadcast.id, shard), sk: COUNTER_SK }));
    const total = zeroCounts();
    for (const item of await batchGetAll(this.documents, this.table, keys, { consistentRead: true })) {
      for (const field of COUNT_FIELDS) total[field] += typeof item[field] === 'number' ? item[field] : 0;
    }
    // Recipients: what the fan-out pages enqueued (one marker per page).
    const pages = await queryAll(this.documents, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': broadcastPk(broadcast.id), ':prefix': FANOUT_SK_PREFIX },
      ProjectionExpression: 'recipients',
      ConsistentRead: true,
    });
    for (const item of pages) total.recipients += typeof item.recipients === 'number' ? item.recipients : 0;
    return total;
  }

  async recordFanoutPage(id: string, shard: number, page: number, recipients: number): Promise<boolean> {
    return this.putOnce({ pk: broadcastPk(id), sk: fanoutPageSk(shard, page), itemType: 'fanoutPage', recipients });
  }

  async completeFanoutShard(id: string, shard: number): Promise<void> {
    // The marker is what completion counts; `fanoutRemaining` is progress for people, and a
    // crash between the two writes only leaves that figure one too high.
    if (!(await this.putOnce({ pk: broadcastPk(id), sk: fanoutDoneSk(shard), itemType: 'fanoutShardDone' }))) return;
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

  async fanoutShardsDone(id: string): Promise<number> {
    const out = await this.documents.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': broadcastPk(id), ':prefix': 'FANOUTDONE#' },
        Select: 'COUNT',
        ConsistentRead: true,
      }),
    );
    return out.Count ?? 0;
  }

  async listSending(): Promise<Broadcast[]> {
    return (await this.listAll()).filter((b) => b.status === 'sending');
  }

  private async putOnce(item: Record<string, unknown>): Promise<boolean> {
    return conditional(() => this.documents.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
  }
}
