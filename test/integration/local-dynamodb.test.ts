import { mkdtemp, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { createTable, startLocalDynamo, type LocalDynamo } from '../../infra/local/dynamodb';
import { StreamBus } from '../../infra/local/streams';

const TABLE = 'engage-local-test';

const started: LocalDynamo[] = [];

async function start(options: { dataDir?: string; port?: number } = {}): Promise<LocalDynamo> {
  const local = await startLocalDynamo({ tableName: TABLE, sweepIntervalMs: 0, ...options });
  started.push(local);
  await createTable(local.client, TABLE);
  return local;
}

/** Registers a consumer that records every record it is handed, in delivery order. */
function collect(local: LocalDynamo, name = 'collector'): DynamoDBRecord[] {
  const records: DynamoDBRecord[] = [];
  local.registerConsumer(name, async (event) => {
    records.push(...event.Records);
  });
  return records;
}

const key = (pk: string, sk = 'meta') => ({ pk: { S: pk }, sk: { S: sk } });

beforeEach(() => {
  // Delivery failures are logged on purpose in several tests.
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(started.splice(0).map((local) => local.close()));
});

describe('change capture', () => {
  it('emits INSERT, MODIFY and REMOVE records with old and new images in the Lambda event shape', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);

    // Act
    const put = await local.client.send(
      new PutItemCommand({ TableName: TABLE, Item: { ...key('p#1'), n: { N: '1' }, tags: { SS: ['a', 'b'] } } }),
    );
    const update = await local.client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('p#1'),
        UpdateExpression: 'SET n = :n',
        ExpressionAttributeValues: { ':n': { N: '2' } },
      }),
    );
    const removed = await local.client.send(new DeleteItemCommand({ TableName: TABLE, Key: key('p#1') }));
    await local.drain();

    // Assess
    expect(put.Attributes).toBeUndefined();
    expect(update.Attributes).toBeUndefined();
    expect(removed.Attributes).toBeUndefined();
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = records;
    expect(insert).toMatchObject({
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}/stream/local`,
      dynamodb: {
        Keys: key('p#1'),
        NewImage: { ...key('p#1'), n: { N: '1' }, tags: { SS: ['a', 'b'] } },
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(insert?.eventID).toMatch(/^[0-9a-f]{32}$/);
    expect(insert?.dynamodb?.OldImage).toBeUndefined();
    expect(typeof insert?.dynamodb?.ApproximateCreationDateTime).toBe('number');
    expect(insert?.dynamodb?.SizeBytes).toBeGreaterThan(0);
    expect(modify?.dynamodb?.OldImage).toEqual({ ...key('p#1'), n: { N: '1' }, tags: { SS: ['a', 'b'] } });
    expect(modify?.dynamodb?.NewImage).toEqual({ ...key('p#1'), n: { N: '2' }, tags: { SS: ['a', 'b'] } });
    expect(remove?.dynamodb?.OldImage).toEqual({ ...key('p#1'), n: { N: '2' }, tags: { SS: ['a', 'b'] } });
    expect(remove?.dynamodb?.NewImage).toBeUndefined();
    expect(remove?.userIdentity).toBeUndefined();
    const sequenceNumbers = records.map((r) => r.dynamodb?.SequenceNumber ?? '');
    expect(sequenceNumbers.every((s) => /^\d{21}$/.test(s))).toBe(true);
    expect([...sequenceNumbers].sort()).toEqual(sequenceNumbers);
    expect(new Set(records.map((r) => r.eventID)).size).toBe(3);
  });

  it('returns exactly the return values the caller asked for', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('p#rv'), n: { N: '1' } } }));

    // Act
    const put = await local.client.send(
      new PutItemCommand({ TableName: TABLE, Item: { ...key('p#rv'), n: { N: '2' } }, ReturnValues: 'ALL_OLD' }),
    );
    const update = await local.client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key('p#rv'),
        UpdateExpression: 'SET n = :n',
        ExpressionAttributeValues: { ':n': { N: '3' } },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    const removed = await local.client.send(new DeleteItemCommand({ TableName: TABLE, Key: key('p#rv'), ReturnValues: 'ALL_OLD' }));
    await local.drain();

    // Assess
    expect(put.Attributes).toEqual({ ...key('p#rv'), n: { N: '1' } });
    expect(update.Attributes).toEqual({ n: { N: '2' } });
    expect(removed.Attributes).toEqual({ ...key('p#rv'), n: { N: '3' } });
    expect(records.map((r) => [r.eventName, r.dynamodb?.NewImage?.n?.N, r.dynamodb?.OldImage?.n?.N])).toEqual([
      ['INSERT', '1', undefined],
      ['MODIFY', '2', '1'],
      ['MODIFY', '3', '2'],
      ['REMOVE', undefined, '3'],
    ]);
  });

  it('emits nothing for a no-op put or a failed condition, and the caller sees ConditionalCheckFailedException', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);
    const item = { ...key('p#noop'), n: { N: '1' }, s: { SS: ['x', 'y'] } };
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    await local.drain();
    records.length = 0;

    // Act
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...item, s: { SS: ['y', 'x'] } } }));
    const conditional = local.client.send(
      new PutItemCommand({ TableName: TABLE, Item: { ...item, n: { N: '9' } }, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    await expect(conditional).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await local.client.send(new DeleteItemCommand({ TableName: TABLE, Key: key('p#absent') }));
    await local.drain();

    // Assess
    expect(records).toEqual([]);
    const stored = await local.rawClient.send(new GetItemCommand({ TableName: TABLE, Key: key('p#noop'), ConsistentRead: true }));
    expect(stored.Item?.n).toEqual({ N: '1' });
  });

  it('splits BatchWriteItem into single puts and deletes', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('p#b3'), n: { N: '0' } } }));

    // Act
    const response = await local.client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TABLE]: [
            { PutRequest: { Item: { ...key('p#b1'), n: { N: '1' } } } },
            { PutRequest: { Item: { ...key('p#b2'), n: { N: '2' } } } },
            { DeleteRequest: { Key: key('p#b3') } },
          ],
        },
      }),
    );
    await local.drain();

    // Assess
    expect(response.UnprocessedItems).toEqual({});
    expect(response.$metadata.httpStatusCode).toBe(200);
    const summary = records.map((r) => `${r.eventName} ${r.dynamodb?.Keys?.pk?.S ?? ''}`).sort();
    expect(summary).toEqual(['INSERT p#b1', 'INSERT p#b2', 'INSERT p#b3', 'REMOVE p#b3']);
  });

  it('refuses TransactWriteItems with a clear error', async () => {
    // Prepare
    const local = await start();

    // Act
    const transaction = local.client.send(
      new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: TABLE, Item: key('p#tx') } }] }),
    );

    // Assess
    await expect(transaction).rejects.toThrow(/TransactWriteItems is not supported by the local runtime/);
  });

  it('works through the lib-dynamodb document client (put, update, delete, query)', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);
    const doc = DynamoDBDocumentClient.from(local.client);

    // Act
    await doc.send(new PutCommand({ TableName: TABLE, Item: { pk: 'd#1', sk: 'a', name: 'Ada', count: 1 } }));
    await doc.send(new PutCommand({ TableName: TABLE, Item: { pk: 'd#1', sk: 'b', name: 'Bob', count: 1 } }));
    const updated = await doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: 'd#1', sk: 'a' },
        UpdateExpression: 'SET #count = #count + :one',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    await doc.send(new DeleteCommand({ TableName: TABLE, Key: { pk: 'd#1', sk: 'b' } }));
    const queried = await doc.send(
      new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'd#1' } }),
    );
    await local.drain();

    // Assess
    expect(updated.Attributes).toEqual({ pk: 'd#1', sk: 'a', name: 'Ada', count: 2 });
    expect(queried.Items).toEqual([{ pk: 'd#1', sk: 'a', name: 'Ada', count: 2 }]);
    expect(records.map((r) => `${r.eventName} ${r.dynamodb?.Keys?.sk?.S ?? ''}`)).toEqual([
      'INSERT a',
      'INSERT b',
      'MODIFY a',
      'REMOVE b',
    ]);
    expect(records[2]?.dynamodb?.NewImage).toEqual({ pk: { S: 'd#1' }, sk: { S: 'a' }, name: { S: 'Ada' }, count: { N: '2' } });
  });
});

describe('delivery', () => {
  it('keeps order per partition key under concurrent writes to several keys', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);
    const partitions = ['o#1', 'o#2', 'o#3', 'o#4', 'o#5', 'o#6'];
    const writesPerPartition = 15;

    // Act
    await Promise.all(
      partitions.map(async (pk) => {
        for (let i = 1; i <= writesPerPartition; i += 1) {
          await local.client.send(
            new UpdateItemCommand({
              TableName: TABLE,
              Key: key(pk, `s#${i % 3}`),
              UpdateExpression: 'SET v = :v',
              ExpressionAttributeValues: { ':v': { N: String(i) } },
            }),
          );
        }
      }),
    );
    await local.drain();

    // Assess
    expect(records).toHaveLength(partitions.length * writesPerPartition);
    for (const pk of partitions) {
      const values = records.filter((r) => r.dynamodb?.Keys?.pk?.S === pk).map((r) => Number(r.dynamodb?.NewImage?.v?.N));
      expect(values).toEqual(Array.from({ length: writesPerPartition }, (_, i) => i + 1));
    }
  });

  it('gives every consumer its own cursor and starts a late consumer at the latest record', async () => {
    // Prepare
    const local = await start();
    const early = collect(local, 'early');
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key('c#1') }));
    await local.drain();

    // Act
    const late = collect(local, 'late');
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key('c#2') }));
    await local.drain();

    // Assess
    expect(early.map((r) => r.dynamodb?.Keys?.pk?.S)).toEqual(['c#1', 'c#2']);
    expect(late.map((r) => r.dynamodb?.Keys?.pk?.S)).toEqual(['c#2']);
    expect(() => collect(local, 'late')).toThrow(/already registered/);
  });

  it('delivers the rest of a batch around a poison record and sends the poison to on-failure after the retries', async () => {
    // Prepare
    const local = await start();
    const delivered = new Map<string, number>();
    let poisonDeliveries = 0;
    const maxRetries = 3;
    local.registerConsumer(
      'poisoned',
      async (event: DynamoDBStreamEvent) => {
        if (event.Records.some((r) => r.dynamodb?.Keys?.sk?.S === 'poison')) {
          if (event.Records.length === 1) poisonDeliveries += 1;
          throw new Error('cannot handle this one');
        }
        for (const r of event.Records) {
          const sk = r.dynamodb?.Keys?.sk?.S ?? '';
          delivered.set(sk, (delivered.get(sk) ?? 0) + 1);
        }
      },
      { maxRetries },
    );
    const sortKeys = Array.from({ length: 20 }, (_, i) => (i === 7 ? 'poison' : `ok#${String(i).padStart(2, '0')}`));

    // Act
    await local.client.send(
      new BatchWriteItemCommand({ RequestItems: { [TABLE]: sortKeys.map((sk) => ({ PutRequest: { Item: key('same-partition', sk) } })) } }),
    );
    await local.drain();

    // Assess
    expect([...delivered.keys()].sort()).toEqual(sortKeys.filter((sk) => sk !== 'poison').sort());
    expect(poisonDeliveries).toBe(maxRetries + 1);
    const failures = local.onFailure();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      consumer: 'poisoned',
      error: 'cannot handle this one',
      records: [{ eventName: 'INSERT', keys: key('same-partition', 'poison') }],
    });
    expect(failures[0]?.records[0]?.eventID).toMatch(/^[0-9a-f]{32}$/);
    expect(failures[0]?.records[0]?.sequenceNumber).toMatch(/^\d{21}$/);
    expect(Number.isNaN(Date.parse(failures[0]?.at ?? ''))).toBe(false);
  });

  it('retries from the first record named in batchItemFailures', async () => {
    // Prepare
    const local = await start();
    const calls: string[][] = [];
    let failedOnce = false;
    local.registerConsumer('partial', async (event): Promise<DynamoDBBatchResponse> => {
      const sortKeys = event.Records.map((r) => r.dynamodb?.Keys?.sk?.S ?? '');
      calls.push(sortKeys);
      const third = event.Records.find((r) => r.dynamodb?.Keys?.sk?.S === 'r3');
      if (!failedOnce && third?.eventID !== undefined) {
        failedOnce = true;
        return { batchItemFailures: [{ itemIdentifier: third.eventID }] };
      }
      return { batchItemFailures: [] };
    });
    const sortKeys = ['r1', 'r2', 'r3', 'r4', 'r5'];

    // Act
    await local.client.send(
      new BatchWriteItemCommand({ RequestItems: { [TABLE]: sortKeys.map((sk) => ({ PutRequest: { Item: key('partial', sk) } })) } }),
    );
    await local.drain();

    // Assess
    const failedCall = calls.findIndex((sortKeys) => sortKeys.includes('r3'));
    const firstCall = calls[failedCall] ?? [];
    const firstIndex = firstCall.indexOf('r3');
    expect(calls[failedCall + 1]?.[0]).toBe('r3');
    const deliveredAfterRetry = calls.slice(failedCall + 1).flat();
    // Checkpointed records (before r3 in the first batch) are not delivered again.
    for (const sk of firstCall.slice(0, firstIndex)) expect(deliveredAfterRetry).not.toContain(sk);
    // Everything from r3 on in the first batch is delivered again.
    for (const sk of firstCall.slice(firstIndex)) expect(deliveredAfterRetry).toContain(sk);
    expect(new Set(calls.flat())).toEqual(new Set(sortKeys));
    expect(local.onFailure()).toEqual([]);
  });

  it('sends a record always reported in batchItemFailures to on-failure and moves on', async () => {
    // Prepare
    const local = await start();
    const seen: string[] = [];
    local.registerConsumer(
      'stubborn',
      async (event) => {
        const failures = event.Records.filter((r) => r.dynamodb?.Keys?.sk?.S === 'bad').map((r) => ({ itemIdentifier: r.eventID ?? '' }));
        for (const r of event.Records) seen.push(r.dynamodb?.Keys?.sk?.S ?? '');
        return { batchItemFailures: failures };
      },
      { maxRetries: 1 },
    );

    // Act
    for (const sk of ['a', 'bad', 'c']) await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key('stubborn', sk) }));
    await local.drain();

    // Assess
    expect(seen.filter((sk) => sk === 'bad')).toHaveLength(2);
    expect(seen).toContain('c');
    expect(seen[seen.length - 1]).toBe('c');
    expect(local.onFailure().map((f) => f.records.map((r) => r.keys))).toEqual([[key('stubborn', 'bad')]]);
  });

  it('delivers records produced by a consumer’s own writes before drain() resolves', async () => {
    // Prepare
    const local = await start();
    const derived: DynamoDBRecord[] = [];
    local.registerConsumer('projector', async (event) => {
      for (const record of event.Records) {
        const pk = record.dynamodb?.Keys?.pk?.S ?? '';
        if (record.eventName === 'INSERT' && pk.startsWith('order#')) {
          await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key(`derived#${pk}`), hop: { N: '1' } } }));
        } else if (record.eventName === 'INSERT' && pk.startsWith('derived#order#')) {
          await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key(`derived#${pk}`) }));
        } else if (pk.startsWith('derived#derived#')) {
          derived.push(record);
        }
      }
    });

    // Act
    for (let i = 0; i < 10; i += 1) await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key(`order#${i}`) }));
    await local.drain();

    // Assess
    expect(derived).toHaveLength(10);
  });

  it('rejects drain() on timeout with a message', async () => {
    // Prepare
    const local = await start();
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    local.registerConsumer('slow', async () => blocked);
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key('slow') }));

    // Act
    const drained = local.drain(150);

    // Assess
    await expect(drained).rejects.toThrow(/drain\(\) timed out after 150 ms: .*consumer "slow"/);
    release();
    await local.drain();
  });
});

describe('stream bus', () => {
  const syntheticRecord = (i: number): DynamoDBRecord => ({
    eventID: `e${i}`,
    eventName: 'INSERT',
    dynamodb: { Keys: key('bus', `s${i}`), SequenceNumber: String(i).padStart(21, '0') },
  });

  it('bisects a failing batch down to the poison record, and counts retries only for the isolated record', async () => {
    // Prepare
    const logs: string[] = [];
    const bus = new StreamBus(1, (line) => logs.push(line));
    const batchSizes: number[] = [];
    const processed: string[] = [];
    bus.register(
      'bisect',
      async (event) => {
        batchSizes.push(event.Records.length);
        if (event.Records.some((r) => r.eventID === 'e13')) throw new Error('poison');
        processed.push(...event.Records.map((r) => r.eventID ?? ''));
      },
      { batchSize: 16, maxRetries: 2 },
    );

    // Act
    for (let i = 0; i < 16; i += 1) bus.publish(syntheticRecord(i), 'bus');
    await bus.drain(5_000);
    await bus.close();

    // Assess
    // 16 fails; 0-7 ok; 8-15 fails; 8-11 ok; 12-15 fails; 12-13 fails; 12 ok; 13 fails 3 times
    // (first try + maxRetries) and goes to on-failure; then the rest of its half, 14-15.
    expect(batchSizes).toEqual([16, 8, 8, 4, 4, 2, 1, 1, 1, 1, 2]);
    expect(processed).toEqual(Array.from({ length: 16 }, (_, i) => `e${i}`).filter((id) => id !== 'e13'));
    expect(bus.onFailure().map((f) => f.records.map((r) => r.eventID))).toEqual([['e13']]);
    expect(logs.some((line) => line.includes('e13') && line.includes('on-failure'))).toBe(true);
    expect(logs.every((line) => !line.includes('"S"'))).toBe(true);
  });

  it('without bisection sends the whole failing batch to on-failure after the retries', async () => {
    // Prepare
    const bus = new StreamBus(1, () => undefined);
    let calls = 0;
    bus.register(
      'whole',
      async () => {
        calls += 1;
        throw new Error('always');
      },
      { batchSize: 10, maxRetries: 1, bisectOnError: false },
    );

    // Act
    for (let i = 0; i < 4; i += 1) bus.publish(syntheticRecord(i), 'bus');
    await bus.drain(5_000);
    await bus.close();

    // Assess
    expect(calls).toBe(2);
    expect(bus.onFailure()).toEqual([
      expect.objectContaining({ consumer: 'whole', error: 'always', records: [0, 1, 2, 3].map((i) => expect.objectContaining({ eventID: `e${i}` })) }),
    ]);
  });

  it('delivers shards independently: a stuck shard does not hold up the others', async () => {
    // Prepare
    const bus = new StreamBus(8, () => undefined);
    const seen: string[] = [];
    bus.register(
      'independent',
      async (event) => {
        for (const r of event.Records) {
          if (r.eventID === 'stuck') throw new Error('stuck');
          seen.push(r.eventID ?? '');
        }
      },
      { maxRetries: 3 },
    );
    const partitions = Array.from({ length: 40 }, (_, i) => `p${i}`);

    // Act
    for (const pk of partitions) bus.publish({ ...syntheticRecord(0), eventID: pk === 'p0' ? 'stuck' : pk }, pk);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const seenEarly = [...seen];
    await bus.drain(5_000);
    await bus.close();

    // Assess
    expect(seenEarly.length).toBeGreaterThan(0);
    expect(seen).toHaveLength(39);
  });
});

describe('TTL sweep', () => {
  it('deletes expired items with REMOVE records carrying the DynamoDB service identity', async () => {
    // Prepare
    const local = await start();
    const records = collect(local);
    const now = 1_800_000_000;
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('ttl#old'), expiresAt: { N: String(now - 1) } } }));
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('ttl#new'), expiresAt: { N: String(now + 60) } } }));
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('ttl#text'), expiresAt: { S: 'soon' } } }));
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: key('ttl#none') }));
    await local.drain();
    records.length = 0;

    // Act
    const count = await local.sweepExpired(now);
    await local.drain();

    // Assess
    expect(count).toBe(1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      eventName: 'REMOVE',
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      dynamodb: { Keys: key('ttl#old'), OldImage: { ...key('ttl#old'), expiresAt: { N: String(now - 1) } } },
    });
    const gone = await local.rawClient.send(new GetItemCommand({ TableName: TABLE, Key: key('ttl#old'), ConsistentRead: true }));
    expect(gone.Item).toBeUndefined();
    expect(await local.sweepExpired(now)).toBe(0);
  });

  it('sweeps periodically when sweepIntervalMs is set', async () => {
    // Prepare
    const local = await startLocalDynamo({ tableName: TABLE, sweepIntervalMs: 40 });
    started.push(local);
    await createTable(local.client, TABLE);
    const records = collect(local);
    const past = Math.floor(Date.now() / 1000) - 10;

    // Act
    await local.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('ttl#auto'), expiresAt: { N: String(past) } } }));
    const deadline = Date.now() + 5_000;
    while (!records.some((r) => r.eventName === 'REMOVE') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await local.drain();

    // Assess
    expect(records.map((r) => [r.eventName, r.userIdentity?.principalId])).toEqual([
      ['INSERT', undefined],
      ['REMOVE', 'dynamodb.amazonaws.com'],
    ]);
  });
});

describe('server', () => {
  it('keeps data across close and restart with a data directory', async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), 'engage-dynalite-'));
    try {
      const first = await start({ dataDir });
      await first.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key('keep'), v: { S: 'kept' } } }));
      await first.close();

      // Act
      const second = await start({ dataDir });
      const read = await second.client.send(new GetItemCommand({ TableName: TABLE, Key: key('keep'), ConsistentRead: true }));

      // Assess
      expect(read.Item?.v).toEqual({ S: 'kept' });
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('reports a port already in use', async () => {
    // Prepare
    const first = await start();
    const port = Number(new URL(first.endpoint).port);

    // Act
    const second = startLocalDynamo({ tableName: TABLE, port, sweepIntervalMs: 0 });

    // Assess
    await expect(second).rejects.toThrow(`port ${port} is already in use (set ENGAGE_DYNAMODB_PORT)`);
  });
});
