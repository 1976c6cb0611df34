import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '../../errors';
import type { Page, PageRequest } from '../../ports';
import { decodeCursor, encodeCursor } from './cursor';
import { GSI1 } from './table-definition';

interface Entity {
  id: string;
  createdAt: string;
  version: number;
}

export interface EntityKeys {
  /** Item type, stored as `itemType`. */
  type: string;
  pk: (id: string) => string;
  sk: string;
  /** GSI1 partition listing every entity of the type, oldest first. */
  listPk: string;
}

/**
 * Definitions (audiences, templates, broadcasts): one item each, listed through GSI1, saved
 * with optimistic concurrency on `version`.
 */
export class EntityTable<T extends Entity> {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly keys: EntityKeys,
    /** Extra GSI-free attributes derived from the entity (none by default). */
    private readonly fromItem: (item: Record<string, unknown>) => T,
  ) {}

  async create(entity: T): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: this.toItem({ ...entity, version: 1 }), ConditionExpression: 'attribute_not_exists(pk)' }));
  }

  async get(id: string): Promise<T | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: this.keys.pk(id), sk: this.keys.sk }, ConsistentRead: true }));
    return out.Item ? this.read(out.Item) : undefined;
  }

  async list(page: PageRequest): Promise<Page<T>> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: GSI1.name,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': this.keys.listPk },
        Limit: page.limit,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    );
    return { items: (out.Items ?? []).map((i) => this.read(i)), nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }

  async listAll(): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.list({ limit: 500, cursor });
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }

  async save(entity: T): Promise<T> {
    const version = entity.version + 1;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.toItem({ ...entity, version }),
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':expected': entity.version },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConcurrentUpdateError(`${this.keys.type} ${entity.id} changed concurrently`, { cause: error });
      throw error;
    }
    return { ...entity, version };
  }

  async delete(id: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: this.keys.pk(id), sk: this.keys.sk } }));
  }

  private read(item: Record<string, unknown>): T {
    const { pk: _pk, sk: _sk, gsi1pk: _g, gsi1sk: _gs, itemType: _t, ...rest } = item;
    return this.fromItem(rest);
  }

  private toItem(entity: T): Record<string, unknown> {
    const fields: Record<string, unknown> = Object.fromEntries(Object.entries(entity));
    return { ...fields, pk: this.keys.pk(entity.id), sk: this.keys.sk, itemType: this.keys.type, gsi1pk: this.keys.listPk, gsi1sk: `${entity.createdAt}#${entity.id}` };
  }
}
