import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { ProfileRef } from '../../domain/profile/profile';
import type { AudienceDefinition, AudienceMemberEntry, AudienceStore, Page, PageRequest } from '../../ports';
import { decodeCursor, encodeCursor, invalidCursorError } from './cursor';
import {
  AUDIENCE_LIST_PK,
  AUDIENCE_SHARD_COUNT,
  AUDIENCE_SK,
  COUNTER_SK,
  audiencePk,
  audienceShardPk,
  backfillSegmentSk,
  paddedSequence,
  parseProfilePk,
  profilePk,
  shardOf,
} from './keys';
import { EntityTable } from './entity-table';
import { conditional } from './conditional';
import { batchGetAll } from './batch-get';

function definitionFromItem(item: Record<string, unknown>): AudienceDefinition {
  const definition = item as unknown as AudienceDefinition;
  return { ...definition, usedBy: definition.usedBy ?? {}, backfillRemaining: definition.backfillRemaining ?? 0 };
}

function memberFromItem(item: Record<string, unknown>): AudienceMemberEntry | undefined {
  const ref = typeof item.sk === 'string' ? parseProfilePk(item.sk) : undefined;
  return ref ? { ref, enteredAt: String(item.enteredAt ?? '') } : undefined;
}

interface ShardCursor {
  shard: number;
  key?: Record<string, unknown>;
}

export class DynamoAudienceStore implements AudienceStore {
  private readonly entities: EntityTable<AudienceDefinition>;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.entities = new EntityTable(client, tableName, { type: 'audience', pk: audiencePk, sk: AUDIENCE_SK, listPk: AUDIENCE_LIST_PK }, definitionFromItem);
  }

  create(definition: AudienceDefinition): Promise<void> {
    return this.entities.create(definition);
  }

  get(id: string): Promise<AudienceDefinition | undefined> {
    return this.entities.get(id);
  }

  list(page: PageRequest): Promise<Page<AudienceDefinition>> {
    return this.entities.list(page);
  }

  listAll(): Promise<AudienceDefinition[]> {
    return this.entities.listAll();
  }

  save(definition: AudienceDefinition): Promise<AudienceDefinition> {
    return this.entities.save(definition);
  }

  delete(id: string): Promise<void> {
    return this.entities.delete(id);
  }

  async size(id: string): Promise<number> {
    const keys = Array.from({ length: AUDIENCE_SHARD_COUNT }, (_, shard) => ({ pk: audienceShardPk(id, shard), sk: COUNTER_SK }));
    const counters = await batchGetAll(this.client, this.tableName, keys, { consistentRead: true });
    return counters.reduce((total, item) => total + (typeof item.count === 'number' ? item.count : 0), 0);
  }

  async members(id: string, page: PageRequest): Promise<Page<AudienceMemberEntry>> {
    // The cursor walks the shards in order; each page may span the end of one and the next.
    const decoded = page.cursor ? this.decodeShardCursor(page.cursor) : { shard: 0 };
    const items: AudienceMemberEntry[] = [];
    let cursor: ShardCursor | undefined = decoded;
    while (cursor && items.length < page.limit) {
      const out = await this.queryShard(id, cursor.shard, page.limit - items.length, cursor.key);
      items.push(...(out.Items ?? []).map(memberFromItem).filter((m): m is AudienceMemberEntry => m !== undefined));
      if (out.LastEvaluatedKey) cursor = { shard: cursor.shard, key: out.LastEvaluatedKey };
      else cursor = cursor.shard + 1 < AUDIENCE_SHARD_COUNT ? { shard: cursor.shard + 1 } : undefined;
    }
    return { items, nextCursor: cursor ? Buffer.from(JSON.stringify(cursor)).toString('base64url') : undefined };
  }

  async shardMembers(id: string, shard: number, limit: number, cursor?: string): Promise<Page<AudienceMemberEntry>> {
    const out = await this.queryShard(id, shard, limit, decodeCursor(cursor));
    return {
      items: (out.Items ?? []).map(memberFromItem).filter((m): m is AudienceMemberEntry => m !== undefined),
      nextCursor: encodeCursor(out.LastEvaluatedKey),
    };
  }

  async putShardMember(id: string, ref: ProfileRef, enteredAt: string): Promise<void> {
    const pk = profilePk(ref);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: audienceShardPk(id, shardOf(pk, AUDIENCE_SHARD_COUNT)), sk: pk, itemType: 'audienceMember', audienceId: id, enteredAt },
      }),
    );
  }

  async deleteShardMember(id: string, ref: ProfileRef): Promise<void> {
    const pk = profilePk(ref);
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: audienceShardPk(id, shardOf(pk, AUDIENCE_SHARD_COUNT)), sk: pk } }));
  }

  async applyCount(id: string, shard: number, delta: number, sequenceNumber: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: audienceShardPk(id, shard), sk: COUNTER_SK },
          UpdateExpression: 'ADD #count :delta SET #seq = :seq, itemType = :type, audienceId = :id',
          ConditionExpression: 'attribute_not_exists(#seq) OR #seq < :seq',
          ExpressionAttributeNames: { '#count': 'count', '#seq': 'seq' },
          ExpressionAttributeValues: { ':delta': delta, ':seq': paddedSequence(sequenceNumber), ':type': 'audienceCounter', ':id': id },
        }),
      );
    } catch (error) {
      // Already applied: this record was delivered before.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async markSegmentDone(id: string, ruleVersion: number, segment: number): Promise<boolean> {
    return conditional(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: audiencePk(id), sk: backfillSegmentSk(ruleVersion, segment), itemType: 'backfillSegment', expiresAt: Math.floor(Date.now() / 1000) + 7 * 86_400 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async completeSegment(id: string, ruleVersion: number): Promise<void> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: audiencePk(id), sk: AUDIENCE_SK },
          // The version moves too, so that a concurrent edit (a rename) retries instead of
          // writing back the old progress.
          UpdateExpression: 'ADD backfillRemaining :minus, #version :one',
          ConditionExpression: 'ruleVersion = :v AND backfillRemaining > :zero',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':minus': -1, ':v': ruleVersion, ':zero': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (out.Attributes?.backfillRemaining === 0) {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: audiencePk(id), sk: AUDIENCE_SK },
            UpdateExpression: 'SET #status = :ready ADD #version :one',
            ConditionExpression: 'ruleVersion = :v AND backfillRemaining = :zero',
            ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
            ExpressionAttributeValues: { ':ready': 'ready', ':v': ruleVersion, ':zero': 0, ':one': 1 },
          }),
        );
      }
    } catch (error) {
      // The rule changed meanwhile (a newer backfill owns the status) or the audience is gone.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private queryShard(id: string, shard: number, limit: number, start?: Record<string, unknown>): Promise<QueryCommandOutput> {
    return this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        // Member keys start with USER# or ANON#, which sort after the counter's '#COUNT'.
        KeyConditionExpression: 'pk = :pk AND sk > :counter',
        ExpressionAttributeValues: { ':pk': audienceShardPk(id, shard), ':counter': COUNTER_SK },
        Limit: limit,
        ExclusiveStartKey: start,
      }),
    );
  }

  private decodeShardCursor(cursor: string): ShardCursor {
    try {
      const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (typeof value === 'object' && value !== null && 'shard' in value && typeof value.shard === 'number' && value.shard >= 0 && value.shard < AUDIENCE_SHARD_COUNT) {
        const key = 'key' in value && typeof value.key === 'object' && value.key !== null ? (value.key as Record<string, unknown>) : undefined;
        return { shard: value.shard, key };
      }
    } catch {
      // fall through
    }
    throw invalidCursorError();
  }
}
