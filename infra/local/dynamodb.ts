/**
 * Local DynamoDB for the local runtime and the integration tests: dynalite in process, plus
 * what dynalite lacks and the design relies on (ARCHITECTURE.md, "Local runtime"):
 * - DynamoDB Streams records, captured by a middleware on `client` (see capture.ts);
 * - their delivery to registered consumers like Lambda event source mappings (see streams.ts);
 * - TTL deletions (`sweepExpired`, and a periodic sweep).
 */
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';
import dynalite from 'dynalite';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { EVENTS_BY_NAME_INDEX, EVENTS_BY_TIME_INDEX, GSI1, TABLE_KEYS } from '../../shared/aws/dynamodb/table-definition';
import { ChangeCapture } from './capture';
import { StreamBus, errorName, type OnFailureEntry, type StreamConsumerOptions, type StreamHandler } from './streams';

export type { OnFailureEntry, StreamConsumerOptions, StreamHandler } from './streams';
export { TTL_USER_IDENTITY } from './capture';

export interface LocalDynamo {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** Capturing client: give it to the production adapters. */
  client: DynamoDBClient;
  /** Unwrapped client: its writes produce no stream records. */
  rawClient: DynamoDBClient;
  tableName: string;
  registerConsumer(name: string, handler: StreamHandler, options?: StreamConsumerOptions): void;
  /** Records handed to the on-failure destination. */
  onFailure(): OnFailureEntry[];
  /** Resolves when every record captured so far (and every record those deliveries caused) is delivered or failed over. */
  drain(timeoutMs?: number): Promise<void>;
  /** Deletes items whose `expiresAt` < now as TTL does (REMOVE records with the service userIdentity); returns the count. */
  sweepExpired(nowEpochSeconds?: number): Promise<number>;
  /** Stops timers, waits for in-flight deliveries, closes the dynalite server. */
  close(): Promise<void>;
}

export interface StartLocalDynamoOptions {
  /** 0 = a random free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** dynalite `path` (LevelDB directory); in memory when absent. */
  dataDir?: string;
  tableName: string;
  /** Default us-east-1. */
  region?: string;
  /** Virtual stream shards. Default 4. */
  shardCount?: number;
  /** TTL sweep interval; 0 disables. Default 60000. */
  sweepIntervalMs?: number;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startLocalDynamo(options: StartLocalDynamoOptions): Promise<LocalDynamo> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  const region = options.region ?? 'us-east-1';
  const { tableName } = options;
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;

  // Probe first: once dynalite has opened a LevelDB directory, a failed listen would leave it locked.
  if (requestedPort !== 0) await assertPortFree(host, requestedPort);
  const server = dynalite({
    ...(options.dataDir === undefined ? {} : { path: options.dataDir }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listen(server, host, requestedPort);
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const clientConfig = { endpoint, region, credentials: LOCAL_CREDENTIALS };
  const client = new DynamoDBClient(clientConfig);
  const rawClient = new DynamoDBClient(clientConfig);
  const bus = new StreamBus(options.shardCount ?? 4);
  const capture = new ChangeCapture({ client, rawClient, tableName, region, bus });
  capture.install();

  let sweeping: Promise<number> | undefined;
  const sweepExpired = async (nowEpochSeconds: number = Math.floor(Date.now() / 1000)): Promise<number> => {
    let deleted = 0;
    let exclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await rawClient.send(
        new ScanCommand({
          TableName: tableName,
          ConsistentRead: true,
          FilterExpression: '#ttl < :now',
          ProjectionExpression: '#pk, #sk',
          ExpressionAttributeNames: { '#ttl': TABLE_KEYS.ttlAttribute, '#pk': TABLE_KEYS.partitionKey, '#sk': TABLE_KEYS.sortKey },
          ExpressionAttributeValues: { ':now': { N: String(nowEpochSeconds) } },
          ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
        }),
      );
      for (const key of page.Items ?? []) {
        if (await capture.deleteIfExpired(key, nowEpochSeconds)) deleted += 1;
      }
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    return deleted;
  };

  const sweepTimer =
    sweepIntervalMs > 0
      ? setInterval(() => {
          if (sweeping !== undefined) return;
          sweeping = sweepExpired()
            .catch((error: unknown) => {
              console.error(`[local-dynamodb] TTL sweep failed: ${errorName(error)}`);
              return 0;
            })
            .finally(() => {
              sweeping = undefined;
            });
        }, sweepIntervalMs)
      : undefined;
  sweepTimer?.unref();

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    if (sweepTimer !== undefined) clearInterval(sweepTimer);
    await sweeping;
    await bus.close();
    client.destroy();
    rawClient.destroy();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  };

  return {
    endpoint,
    client,
    rawClient,
    tableName,
    registerConsumer: (name, handler, consumerOptions) => bus.register(name, handler, consumerOptions),
    onFailure: () => bus.onFailure(),
    drain: (timeoutMs) => bus.drain(timeoutMs),
    sweepExpired,
    close: () => {
      closed ??= close();
      return closed;
    },
  };
}

/** Creates the single table (idempotent) from table-definition.ts and waits until it is ACTIVE. */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const projection = { ProjectionType: 'ALL' as const };
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
          { AttributeName: EVENTS_BY_TIME_INDEX.sortKey, AttributeType: 'S' },
          { AttributeName: EVENTS_BY_NAME_INDEX.sortKey, AttributeType: 'S' },
          { AttributeName: GSI1.partitionKey, AttributeType: 'S' },
          { AttributeName: GSI1.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        LocalSecondaryIndexes: [
          {
            IndexName: EVENTS_BY_TIME_INDEX.name,
            KeySchema: [
              { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
              { AttributeName: EVENTS_BY_TIME_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: projection,
          },
          {
            IndexName: EVENTS_BY_NAME_INDEX.name,
            KeySchema: [
              { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
              { AttributeName: EVENTS_BY_NAME_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: projection,
          },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: GSI1.name,
            KeySchema: [
              { AttributeName: GSI1.partitionKey, KeyType: 'HASH' },
              { AttributeName: GSI1.sortKey, KeyType: 'RANGE' },
            ],
            Projection: projection,
          },
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === undefined || index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE within 10 s (status ${Table?.TableStatus ?? 'unknown'})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function portInUse(port: number): Error {
  return new Error(`port ${port} is already in use (set ENGAGE_DYNAMODB_PORT)`);
}

function isAddressInUse(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'EADDRINUSE';
}

async function assertPortFree(host: string, port: number): Promise<void> {
  const probe = createServer();
  await listen(probe, host, port); // rejects with the port-in-use message
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(isAddressInUse(error) ? portInUse(port) : error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address: AddressInfo | string | null = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('dynalite is not listening on a TCP port'));
        return;
      }
      resolve(address.port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
