import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { handler as apiHandler } from '../../functions/api/handler';
import { handler as ingestHandler } from '../../functions/ingest/handler';
import { buildServices, setServices, type Services } from '../../functions/lib/wiring';
import { handler as streamHandler } from '../../functions/stream/handler';
import { StaticKeyProvider } from '../../shared/aws/secrets/key-provider';
import type { Clock } from '../../shared/ports';
import { createTable, startLocalDynamo, type LocalDynamo } from './dynamodb';
import { createLocalHttpServer, type HttpLambda } from './http-server';
import { localLambdaContext } from './lambda-context';
import type { LocalSettings } from './settings';

export const LOCAL_TABLE_NAME = 'engage';
const INGESTION_PATHS = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'].map((p) => `/v1/${p}`);

export interface LocalEngine {
  url: string;
  port: number;
  writeKey: string;
  apiKey: string;
  dynamo: LocalDynamo;
  services: Services;
  /** Waits until every stream record so far has been processed (tests, demo). */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<LocalSettings> {
  host?: string;
  clock?: Clock;
  /** Virtual stream shards. */
  shardCount?: number;
}

function generatedKey(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString('base64url')}`;
}

/** With a data folder, generated keys are kept there so that configured clients keep working. */
function resolveKeys(options: StartOptions): { writeKey: string; apiKey: string } {
  const file = options.dataDir ? join(options.dataDir, 'keys.json') : undefined;
  let stored: { writeKey?: string; apiKey?: string } = {};
  if (file && existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
  const keys = {
    writeKey: options.writeKey ?? stored.writeKey ?? generatedKey('wk'),
    apiKey: options.apiKey ?? stored.apiKey ?? generatedKey('ak'),
  };
  if (file) writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} is already in use (set ENGAGE_PORT)`) : error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * The whole engine on one machine (SPEC section 9): dynalite with captured stream records,
 * the same Lambda handlers behind a local API Gateway, and the stream consumers.
 */
export async function startLocalEngine(options: StartOptions = {}): Promise<LocalEngine> {
  const host = options.host ?? '127.0.0.1';
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const keys = resolveKeys(options);

  const dynamo = await startLocalDynamo({
    port: options.dynamodbPort ?? 8000,
    host,
    dataDir: options.dataDir ? join(options.dataDir, 'dynamodb') : undefined,
    tableName: LOCAL_TABLE_NAME,
    shardCount: options.shardCount,
  });
  await createTable(dynamo.rawClient, LOCAL_TABLE_NAME);
  const server = createLocalHttpServer({
    routes: INGESTION_PATHS.map((path) => ({ method: 'POST', path, handler: ingestHandler as HttpLambda })),
    defaultHandler: apiHandler as HttpLambda,
  });
  try {
    const services = buildServices({
      dynamodb: dynamo.client,
      tableName: LOCAL_TABLE_NAME,
      eventRetentionDays: options.eventRetentionDays ?? 400,
      keys: new StaticKeyProvider(keys),
      clock: options.clock,
    });
    setServices(services);
    dynamo.registerConsumer('stream', (event) => streamHandler(event, localLambdaContext('stream', 900_000)), { batchSize: 100, maxRetries: 10 });

    const port = await listen(server, host, options.port ?? 3000);
    const url = `http://${host}:${port}`;
    return {
      url,
      port,
      ...keys,
      dynamo,
      services,
      settle: (timeoutMs) => dynamo.drain(timeoutMs),
      close: async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await dynamo.close();
        setServices(undefined);
      },
    };
  } catch (error) {
    server.close();
    await dynamo.close();
    throw error;
  }
}
