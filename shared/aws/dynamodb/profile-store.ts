import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { Profile, ProfileRef, Subscriptions } from '../../domain/profile/profile';
import { ConcurrentUpdateError } from '../../errors';
import type { Membership, Page, PageRequest, ProfileStore, StoredEvent } from '../../ports';
import { decodeCursor, encodeCursor } from './cursor';
import { queryAll } from './query-all';
import {
  ALIAS_SK_PREFIX,
  EVENT_SK_PREFIX,
  MEMBERSHIP_SK_PREFIX,
  MESSAGE_SK_PREFIX,
  PROFILE_SK,
  aliasSk,
  eventSk,
  eventNameSk,
  eventTimeSk,
  parseProfilePk,
  profilePk,
} from './keys';
import { EVENTS_BY_TIME_INDEX } from './table-definition';
import { conditional } from './conditional';

const DAY_SECONDS = 86_400;

export interface DynamoProfileStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Events expire (DynamoDB TTL) this many days after they happened. */
  eventRetentionDays: number;
}

interface ProfileItem {
  pk: string;
  sk: string;
  type: 'profile';
  userId?: string;
  anonymousId?: string;
  traits: Record<string, unknown>;
  groups: Record<string, Record<string, unknown>>;
  subscriptions: Subscriptions;
  createdAt: string;
  updatedAt: string;
  version: number;
  mergedInto?: string;
  mergeCompletedAt?: string;
  erasureRequestedAt?: string;
  maintenanceRound?: number;
}

function toItem(profile: Profile, version: number): ProfileItem {
  return {
    pk: profilePk(profile.ref),
    sk: PROFILE_SK,
    type: 'profile',
    ...(profile.ref.kind === 'user' ? { userId: profile.ref.id } : { anonymousId: profile.ref.id }),
    traits: profile.traits,
    groups: profile.groups,
    subscriptions: profile.subscriptions,
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
    version,
    mergedInto: profile.mergedInto,
    mergeCompletedAt: profile.mergeCompletedAt,
    erasureRequestedAt: profile.erasureRequestedAt,
    maintenanceRound: profile.maintenanceRound,
  };
}

/** Reads a profile item (also from a stream image) back into the domain shape. */
export function profileFromItem(item: Record<string, unknown>): Profile | undefined {
  const ref = typeof item.pk === 'string' ? parseProfilePk(item.pk) : undefined;
  if (!ref || item.sk !== PROFILE_SK) return undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const obj = <T>(v: unknown, fallback: T): T => (typeof v === 'object' && v !== null ? (v as T) : fallback);
  return {
    ref,
    traits: obj(item.traits, {}),
    groups: obj(item.groups, {}),
    subscriptions: obj(item.subscriptions, {}),
    createdAt: str(item.createdAt) ?? '',
    updatedAt: str(item.updatedAt) ?? '',
    version: typeof item.version === 'number' ? item.version : 0,
    mergedInto: str(item.mergedInto),
    mergeCompletedAt: str(item.mergeCompletedAt),
    erasureRequestedAt: str(item.erasureRequestedAt),
    maintenanceRound: typeof item.maintenanceRound === 'number' ? item.maintenanceRound : undefined,
  };
}

function eventFromItem(item: Record<string, unknown>): StoredEvent {
  const { pk: _pk, sk: _sk, tsk: _tsk, esk: _esk, expiresAt: _ttl, itemType: _t, ...rest } = item;
  return rest as unknown as StoredEvent;
}

export class DynamoProfileStore implements ProfileStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly retentionSeconds: number;

  constructor(options: DynamoProfileStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.retentionSeconds = options.eventRetentionDays * DAY_SECONDS;
  }

  async getProfile(ref: ProfileRef): Promise<Profile | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: profilePk(ref), sk: PROFILE_SK }, ConsistentRead: true }),
    );
    return out.Item ? profileFromItem(out.Item) : undefined;
  }

  async saveProfile(profile: Profile): Promise<Profile> {
    const version = profile.version + 1;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(profile, version),
          ConditionExpression: profile.version === 0 ? 'attribute_not_exists(pk)' : '#version = :expected',
          ...(profile.version === 0
            ? {}
            : { ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': profile.version } }),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ConcurrentUpdateError(`profile ${profilePk(profile.ref)} changed concurrently`, { cause: error });
      }
      throw error;
    }
    return { ...profile, version };
  }

  async hasEvent(ref: ProfileRef, messageId: string): Promise<boolean> {
    const out = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: profilePk(ref), sk: eventSk(messageId) },
        ProjectionExpression: 'pk',
        ConsistentRead: true,
      }),
    );
    return out.Item !== undefined;
  }

  async putEvent(ref: ProfileRef, event: StoredEvent): Promise<boolean> {
    const expiresAt = Math.floor(Date.parse(event.timestamp) / 1000) + this.retentionSeconds;
    return conditional(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...event,
            pk: profilePk(ref),
            sk: eventSk(event.messageId),
            tsk: eventTimeSk(event.timestamp, event.messageId),
            ...(event.event !== undefined ? { esk: eventNameSk(event.event, event.timestamp, event.messageId) } : {}),
            itemType: 'event',
            expiresAt,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async deleteEvent(ref: ProfileRef, messageId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: profilePk(ref), sk: eventSk(messageId) } }));
  }

  async listEvents(ref: ProfileRef, page: PageRequest): Promise<Page<StoredEvent>> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: EVENTS_BY_TIME_INDEX.name,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': profilePk(ref) },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    );
    return { items: (out.Items ?? []).map(eventFromItem), nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }

  async scanEvents(ref: ProfileRef, limit: number): Promise<StoredEvent[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': profilePk(ref), ':prefix': EVENT_SK_PREFIX },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(eventFromItem);
  }

  async putAlias(userId: string, source: ProfileRef, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: profilePk({ kind: 'user', id: userId }), sk: aliasSk(source), itemType: 'alias', source: profilePk(source), mergedAt: at },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    ).catch((error: unknown) => {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    });
  }

  async listAliases(userId: string): Promise<ProfileRef[]> {
    const items = await this.queryAll(profilePk({ kind: 'user', id: userId }), ALIAS_SK_PREFIX);
    return items.map((i) => (typeof i.source === 'string' ? parseProfilePk(i.source) : undefined)).filter((r): r is ProfileRef => r !== undefined);
  }

  async listMemberships(ref: ProfileRef): Promise<Membership[]> {
    const items = await this.queryAll(profilePk(ref), MEMBERSHIP_SK_PREFIX);
    return items.map((i) => ({ id: String(i.audienceId ?? String(i.sk).slice(MEMBERSHIP_SK_PREFIX.length)), enteredAt: String(i.enteredAt ?? '') }));
  }

  async listMessages(ref: ProfileRef, page: PageRequest): Promise<Page<Record<string, unknown>>> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': profilePk(ref), ':prefix': MESSAGE_SK_PREFIX },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: decodeCursor(page.cursor),
      }),
    );
    const items = (out.Items ?? []).map(({ pk: _pk, sk: _sk, itemType: _t, expiresAt: _e, gsi1pk: _g, gsi1sk: _gs, sendShard: _s, ...rest }) => rest);
    return { items, nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }

  async listOwnedItems(ref: ProfileRef, limit: number): Promise<string[]> {
    // A filter may not name a key attribute, so the profile item is dropped here instead.
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': profilePk(ref) },
        ProjectionExpression: 'sk',
        Limit: limit + 1,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? [])
      .map((i) => String(i.sk))
      .filter((sk) => sk !== PROFILE_SK)
      .slice(0, limit);
  }

  async deleteOwnedItems(ref: ProfileRef, sortKeys: string[]): Promise<void> {
    const pk = profilePk(ref);
    // BatchWriteItem takes at most 25 requests; unprocessed items are retried until none remain.
    for (let i = 0; i < sortKeys.length; i += 25) {
      let requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string] | undefined = sortKeys
        .slice(i, i + 25)
        .map((sk) => ({ DeleteRequest: { Key: { pk, sk } } }));
      for (let attempt = 0; requests && requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        const out: BatchWriteCommandOutput = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
        requests = out.UnprocessedItems?.[this.tableName];
      }
    }
  }

  async deleteProfile(ref: ProfileRef): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: profilePk(ref), sk: PROFILE_SK } }));
  }

  async scanProfiles(segment: number, totalSegments: number, limit: number, cursor?: string): Promise<Page<Profile>> {
    const out = await this.client.send(
      new ScanCommand({
        TableName: this.tableName,
        Segment: segment,
        TotalSegments: totalSegments,
        // A filter may not name the sort key: profile items carry `type: profile` for this.
        FilterExpression: '#type = :profile',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues: { ':profile': 'profile' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
      }),
    );
    const profiles = (out.Items ?? []).map(profileFromItem).filter((p): p is Profile => p !== undefined);
    return { items: profiles, nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }

  private queryAll(pk: string, prefix: string): Promise<Record<string, unknown>[]> {
    return queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
    });
  }
}
