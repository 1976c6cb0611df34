import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryAll } from './query-all';
import type { EvaluationEvent } from '../../domain/audience/evaluate';
import type { ProfileRef } from '../../domain/profile/profile';
import type { MembershipStore, ProfileAudienceState } from '../../ports';
import {
  MEMBERSHIP_SK_PREFIX,
  TIMER_SHARD_COUNT,
  TIMER_SK_PREFIX,
  eventNameRange,
  membershipSk,
  parseProfilePk,
  profilePk,
  shardOf,
  timerPartition,
  timerSortKey,
  timersDueBound,
  timerSk,
} from './keys';
import { EVENTS_BY_NAME_INDEX, GSI1 } from './table-definition';
import { conditional } from './conditional';

/**
 * Memberships (`AUD#<id>`) and timers (`AUDT#<id>`) live under the profile, so one query reads
 * a profile's whole audience state and erasure removes it with the rest. Timers are also in
 * GSI1 by due time, which is what the recheck reads.
 */
export class DynamoMembershipStore implements MembershipStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async state(ref: ProfileRef): Promise<ProfileAudienceState> {
    const memberships = new Map<string, { enteredAt: string }>();
    const timers = new Map<string, string>();
    // `AUD#` and `AUDT#` share the prefix `AUD`: one query reads both.
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': profilePk(ref), ':prefix': 'AUD' },
      ConsistentRead: true,
    });
    for (const item of items) {
      const sk = String(item.sk);
      if (sk.startsWith(MEMBERSHIP_SK_PREFIX)) memberships.set(sk.slice(MEMBERSHIP_SK_PREFIX.length), { enteredAt: String(item.enteredAt) });
      else if (sk.startsWith(TIMER_SK_PREFIX)) timers.set(sk.slice(TIMER_SK_PREFIX.length), String(item.dueAt));
    }
    return { memberships, timers };
  }

  async membership(ref: ProfileRef, audienceId: string): Promise<{ enteredAt: string } | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: profilePk(ref), sk: membershipSk(audienceId) }, ConsistentRead: true }),
    );
    return out.Item ? { enteredAt: String(out.Item.enteredAt) } : undefined;
  }

  async enter(ref: ProfileRef, audienceId: string, enteredAt: string): Promise<boolean> {
    const pk = profilePk(ref);
    return conditional(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk, sk: membershipSk(audienceId), itemType: 'membership', audienceId, enteredAt, ...this.identity(ref) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async exit(ref: ProfileRef, audienceId: string): Promise<boolean> {
    return conditional(() =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: profilePk(ref), sk: membershipSk(audienceId) },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      ),
    );
  }

  async setTimer(ref: ProfileRef, audienceId: string, dueAt: Date): Promise<void> {
    const pk = profilePk(ref);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk,
          sk: timerSk(audienceId),
          itemType: 'audienceTimer',
          audienceId,
          dueAt: dueAt.toISOString(),
          gsi1pk: timerPartition(shardOf(pk, TIMER_SHARD_COUNT)),
          gsi1sk: timerSortKey(dueAt, pk, audienceId),
        },
      }),
    );
  }

  async clearTimer(ref: ProfileRef, audienceId: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: profilePk(ref), sk: timerSk(audienceId) } }));
  }

  async eventsNamed(ref: ProfileRef, name: string, sinceIso: string | null): Promise<EvaluationEvent[]> {
    const { from, to } = eventNameRange(name, sinceIso);
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      IndexName: EVENTS_BY_NAME_INDEX.name,
      KeyConditionExpression: 'pk = :pk AND esk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#event': 'event', '#timestamp': 'timestamp' },
      ExpressionAttributeValues: { ':pk': profilePk(ref), ':from': from, ':to': to },
      ProjectionExpression: '#event, #timestamp, properties',
      // Strongly consistent (an LSI allows it): the event being evaluated must be seen.
      ConsistentRead: true,
    });
    const events: EvaluationEvent[] = [];
    for (const item of items) {
      if (item.event !== name) continue;
      const timestamp = String(item.timestamp);
      events.push({ event: name, timestamp, time: Date.parse(timestamp), properties: (item.properties as Record<string, unknown> | undefined) ?? {} });
    }
    return events;
  }

  async dueTimers(shard: number, now: Date, limit: number): Promise<Array<{ ref: ProfileRef; audienceId: string; dueAt: string }>> {
    const items = await queryAll(
      this.client,
      {
        TableName: this.tableName,
        IndexName: GSI1.name,
        KeyConditionExpression: 'gsi1pk = :partition AND gsi1sk < :due',
        ExpressionAttributeValues: { ':partition': timerPartition(shard), ':due': timersDueBound(now) },
      },
      limit,
    );
    return items.flatMap((item) => {
      const ref = parseProfilePk(String(item.pk));
      return ref ? [{ ref, audienceId: String(item.audienceId), dueAt: String(item.dueAt) }] : [];
    });
  }

  private identity(ref: ProfileRef): Record<string, string> {
    return ref.kind === 'user' ? { userId: ref.id } : { anonymousId: ref.id };
  }
}
