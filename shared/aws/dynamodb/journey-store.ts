import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Journey, type JourneyRun, type JourneyVersionRecord, type RunStatus } from '../../domain/journey/journey';
import type { JourneyHold, JourneyStore } from '../../ports';
import { EntityTable } from './entity-table';
import {
  COUNTER_SK,
  JOURNEY_LIST_PK,
  JOURNEY_SK,
  JOURNEY_STAT_SHARD_COUNT,
  RUN_SK_PREFIX,
  runSk,
  runSkPrefix,
  holdSk,
  holdSkPrefix,
  journeyPk,
  journeyStatPk,
  journeyVersionSk,
  paddedSequence,
  shardOf,
} from './keys';
import { queryAll } from './query-all';
import { conditional } from './conditional';
import { batchGetAll } from './batch-get';

/** Count markers outlive any stream replay (24 hours) by far. */
const MARKER_TTL_SECONDS = 30 * 86_400;

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const { pk: _pk, sk: _sk, itemType: _type, expiresAt: _ttl, ...rest } = item;
  return rest;
}

function runFromItem(item: Record<string, unknown>): JourneyRun {
  return strip(item) as unknown as JourneyRun;
}

/**
 * Journeys in the single table (docs/data-model.md): the journey record (`JOURNEY#<id>` /
 * `JOURNEY`, listed through GSI1) and its versions (`VERSION#000001`); under each profile the
 * runs (`JRUN#<journeyId>#<execution>`), re-entry slots (`JSLOT#…`) and holds (`JHOLD#…`); and
 * the counts, as markers and counters in `JSTAT#<journeyId>#<shard>` partitions.
 */
export class DynamoJourneyStore extends EntityTable<Journey> implements JourneyStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    super(documents, table, { type: 'journey', pk: journeyPk, sk: JOURNEY_SK, listPk: JOURNEY_LIST_PK }, (item) => {
      const journey = item as unknown as Journey;
      return { ...journey, versions: journey.versions ?? [] };
    });
  }

  async putVersion(record: JourneyVersionRecord): Promise<boolean> {
    // The ASL is kept gzipped: up to 1 MB of JSON (Step Functions' limit) in a 400 KB item.
    const { asl, ...rest } = record;
    return conditional(() =>
      this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...rest, aslGzip: gzipSync(JSON.stringify(asl)), pk: journeyPk(record.journeyId), sk: journeyVersionSk(record.version), itemType: 'journeyVersion' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async getVersion(journeyId: string, version: number): Promise<JourneyVersionRecord | undefined> {
    const out = await this.documents.send(new GetCommand({ TableName: this.table, Key: { pk: journeyPk(journeyId), sk: journeyVersionSk(version) } }));
    if (!out.Item) return undefined;
    const { aslGzip, ...rest } = strip(out.Item);
    const asl = aslGzip instanceof Uint8Array ? (JSON.parse(gunzipSync(aslGzip).toString('utf8')) as Record<string, unknown>) : {};
    return { ...(rest as unknown as Omit<JourneyVersionRecord, 'asl'>), asl };
  }

  async claimSlot(profileKey: string, slotSk: string, claim: { triggerId: string; executionName: string; journeyId: string; reentryBound?: string }): Promise<string | undefined> {
    // A slot is reopened for a new trigger only: the same trigger redelivered after its run ended must not re-arm it.
    const reopen = claim.reentryBound === undefined ? '' : ' OR (slotStatus = :ended AND endedAt <= :bound AND triggerId <> :trigger)';
    const claimed = await conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: profileKey, sk: slotSk },
          UpdateExpression: 'SET triggerId = :trigger, executionName = :name, slotStatus = :active, journeyId = :journey, itemType = :type REMOVE endedAt',
          ConditionExpression: `attribute_not_exists(pk)${reopen}`,
          ExpressionAttributeValues: {
            ':trigger': claim.triggerId,
            ':name': claim.executionName,
            ':active': 'active',
            ':journey': claim.journeyId,
            ':type': 'journeySlot',
            ...(claim.reentryBound === undefined ? {} : { ':ended': 'ended', ':bound': claim.reentryBound }),
          },
        }),
      ),
    );
    if (claimed) return claim.executionName;
    // Held: by this very trigger (a redelivery, perhaps after a new version was published: its
    // run keeps the name it was given), or by another one.
    const out = await this.documents.send(new GetCommand({ TableName: this.table, Key: { pk: profileKey, sk: slotSk }, ConsistentRead: true }));
    return out.Item?.triggerId === claim.triggerId && typeof out.Item.executionName === 'string' ? out.Item.executionName : undefined;
  }

  async slotHolder(profileKey: string, slotSk: string): Promise<{ triggerId: string; executionName: string } | undefined> {
    const out = await this.documents.send(new GetCommand({ TableName: this.table, Key: { pk: profileKey, sk: slotSk }, ConsistentRead: true }));
    const item = out.Item;
    return item && typeof item.triggerId === 'string' && typeof item.executionName === 'string' ? { triggerId: item.triggerId, executionName: item.executionName } : undefined;
  }

  async releaseSlot(profileKey: string, slotSk: string, executionName: string, endedAt: string): Promise<void> {
    await conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: profileKey, sk: slotSk },
          UpdateExpression: 'SET slotStatus = :ended, endedAt = :at',
          ConditionExpression: 'executionName = :name AND slotStatus = :active',
          ExpressionAttributeValues: { ':ended': 'ended', ':at': endedAt, ':name': executionName, ':active': 'active' },
        }),
      ),
    );
  }

  async putRun(profileKey: string, run: JourneyRun): Promise<boolean> {
    return conditional(() =>
      this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...run, pk: profileKey, sk: runSk(run.journeyId, run.executionName), itemType: 'journeyRun' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async getRun(profileKey: string, journeyId: string, executionName: string): Promise<JourneyRun | undefined> {
    const out = await this.documents.send(new GetCommand({ TableName: this.table, Key: { pk: profileKey, sk: runSk(journeyId, executionName) }, ConsistentRead: true }));
    return out.Item ? runFromItem(out.Item) : undefined;
  }

  async runsOf(profileKey: string, journeyId?: string): Promise<JourneyRun[]> {
    const items = await queryAll(this.documents, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': profileKey, ':prefix': journeyId === undefined ? RUN_SK_PREFIX : runSkPrefix(journeyId) },
      ConsistentRead: true,
    });
    return items.map(runFromItem);
  }

  async endRun(profileKey: string, journeyId: string, executionName: string, status: Exclude<RunStatus, 'running'>, at: string, reason?: string): Promise<boolean> {
    return conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: profileKey, sk: runSk(journeyId, executionName) },
          UpdateExpression: `SET runStatus = :status, endedAt = :at${reason === undefined ? '' : ', exitReason = :reason'}`,
          ConditionExpression: 'runStatus = :running',
          ExpressionAttributeValues: { ':status': status, ':at': at, ':running': 'running', ...(reason === undefined ? {} : { ':reason': reason }) },
        }),
      ),
    );
  }

  async setExecutionArn(profileKey: string, journeyId: string, executionName: string, executionArn: string): Promise<void> {
    await conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: profileKey, sk: runSk(journeyId, executionName) },
          UpdateExpression: 'SET executionArn = :arn',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':arn': executionArn },
        }),
      ),
    );
  }

  async markHoldResumed(profileKey: string, journeyId: string, executionName: string, eventTimestamp: string): Promise<void> {
    await conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: profileKey, sk: runSk(journeyId, executionName) },
          UpdateExpression: 'SET holdResumedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(holdResumedAt) OR holdResumedAt < :at)',
          ExpressionAttributeValues: { ':at': eventTimestamp },
        }),
      ),
    );
  }

  async markConverted(profileKey: string, journeyId: string, executionName: string, at: string): Promise<boolean> {
    return conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: profileKey, sk: runSk(journeyId, executionName) },
          UpdateExpression: 'SET convertedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(convertedAt)',
          ExpressionAttributeValues: { ':at': at },
        }),
      ),
    );
  }

  async putHold(profileKey: string, hold: JourneyHold): Promise<void> {
    await this.documents.send(
      new PutCommand({ TableName: this.table, Item: { ...hold, pk: profileKey, sk: holdSk(hold.journeyId, hold.executionName, hold.stepId), itemType: 'journeyHold' } }),
    );
  }

  async holdsOf(profileKey: string, run?: { journeyId: string; executionName: string }): Promise<JourneyHold[]> {
    const items = await queryAll(this.documents, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': profileKey, ':prefix': holdSkPrefix(run) },
      ConsistentRead: true,
    });
    // TTL deletes lazily (up to days late): an expired hold is over.
    const now = Math.floor(Date.now() / 1000);
    return items.filter((item) => typeof item.expiresAt !== 'number' || item.expiresAt > now).map((item) => ({ ...strip(item), expiresAt: item.expiresAt }) as unknown as JourneyHold);
  }

  async deleteHold(profileKey: string, hold: Pick<JourneyHold, 'journeyId' | 'executionName' | 'stepId'>): Promise<void> {
    await this.documents.send(new DeleteCommand({ TableName: this.table, Key: { pk: profileKey, sk: holdSk(hold.journeyId, hold.executionName, hold.stepId) } }));
  }

  async putCountMarker(journeyId: string, executionName: string, kind: string): Promise<boolean> {
    const shard = shardOf(executionName, JOURNEY_STAT_SHARD_COUNT);
    return conditional(() =>
      this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: journeyStatPk(journeyId, shard),
            sk: `M#${executionName}#${kind}`,
            itemType: 'journeyCountMarker',
            journeyId,
            kind,
            expiresAt: Math.floor(Date.now() / 1000) + MARKER_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  async applyCount(journeyId: string, shard: number, kind: string, sequenceNumber: string): Promise<void> {
    // Conditioned on the stream sequence of the marker's partition: a replayed record counts nothing.
    await conditional(() =>
      this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: journeyStatPk(journeyId, shard), sk: COUNTER_SK },
          UpdateExpression: 'ADD #kind :one SET #seq = :seq, itemType = :type, journeyId = :journey',
          ConditionExpression: 'attribute_not_exists(#seq) OR #seq < :seq',
          ExpressionAttributeNames: { '#kind': `c:${kind}`, '#seq': 'seq' },
          ExpressionAttributeValues: { ':one': 1, ':seq': paddedSequence(sequenceNumber), ':type': 'journeyCounter', ':journey': journeyId },
        }),
      ),
    );
  }

  async countTotals(journeyId: string): Promise<Record<string, number>> {
    const keys = Array.from({ length: JOURNEY_STAT_SHARD_COUNT }, (_, shard) => ({ pk: journeyStatPk(journeyId, shard), sk: COUNTER_SK }));
    const counters = await batchGetAll(this.documents, this.table, keys);
    const totals: Record<string, number> = {};
    for (const item of counters) {
      for (const [name, value] of Object.entries(item)) {
        if (name.startsWith('c:') && typeof value === 'number') totals[name.slice(2)] = (totals[name.slice(2)] ?? 0) + value;
      }
    }
    return totals;
  }
}
