/**
 * Where the local scheduler keeps its schedules: the single table (dynalite locally), so that
 * with ENGAGE_DATA_DIR they survive a restart like every other item.
 *
 * Items: `pk = LOCALSCHED`, `sk = <schedule name>`, `itemType = "localSchedule"`, `at` (ISO time)
 * and `payload` (the JSON text a schedule's target gets, as EventBridge Scheduler's `Input`).
 * Local-only: nothing on AWS writes them. The stream router ignores the `LOCALSCHED` partition;
 * building the document client on `LocalDynamo.rawClient` avoids the stream records altogether.
 */
import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LocalScheduleEntry, LocalScheduleStore } from './scheduler';

export const LOCAL_SCHEDULE_PK = 'LOCALSCHED';

export class DynamoDbScheduleStore implements LocalScheduleStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Where unreadable items are reported (sort key only). Default console.error. */
    private readonly log: (message: string) => void = (message) => console.error(message),
  ) {}

  async load(): Promise<LocalScheduleEntry[]> {
    const entries: LocalScheduleEntry[] = [];
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ExpressionAttributeValues: { ':pk': LOCAL_SCHEDULE_PK },
          ConsistentRead: true,
          ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
        }),
      );
      for (const item of page.Items ?? []) {
        const entry = toEntry(item);
        if (entry === undefined) this.log(`[local-scheduler] unreadable stored schedule "${String(item.sk)}" skipped`);
        else entries.push(entry);
      }
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    return entries;
  }

  async save(entry: LocalScheduleEntry): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: LOCAL_SCHEDULE_PK, sk: entry.name, itemType: 'localSchedule', at: entry.at.toISOString(), payload: JSON.stringify(entry.payload) },
      }),
    );
  }

  async remove(name: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: LOCAL_SCHEDULE_PK, sk: name } }));
  }
}

function toEntry(item: Record<string, unknown>): LocalScheduleEntry | undefined {
  const { sk, at, payload } = item;
  if (typeof sk !== 'string' || typeof at !== 'string' || typeof payload !== 'string') return undefined;
  const time = new Date(at);
  if (Number.isNaN(time.getTime())) return undefined;
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return { name: sk, at: time, payload: parsed as Record<string, unknown> };
  } catch {
    return undefined;
  }
}
