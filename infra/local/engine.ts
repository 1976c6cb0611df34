import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { handler as apiHandler } from '../../functions/api/handler';
import { handler as ingestHandler } from '../../functions/ingest/handler';
import { buildServices, setServices, type Services } from '../../functions/lib/wiring';
import { handler as backfillHandler } from '../../functions/audience-backfill/handler';
import { handler as recheckHandler } from '../../functions/audience-recheck/handler';
import { handler as outboxHandler } from '../../functions/outbox/handler';
import { handler as fanoutHandler } from '../../functions/broadcast-fanout/handler';
import { handler as progressHandler } from '../../functions/broadcast-progress/handler';
import { handler as startHandler } from '../../functions/broadcast-start/handler';
import { handler as feedbackHandler } from '../../functions/messaging-feedback/handler';
import { handler as senderHandler } from '../../functions/sender/handler';
import { SesMailer } from '../../shared/aws/ses/mailer';
import type { SenderSettings } from '../../shared/services/messaging/sender';
import { handler as streamHandler } from '../../functions/stream/handler';
import { handler as journeyWorkerHandler } from '../../functions/journey-worker/handler';
import { handler as holdUntilHandler } from '../../functions/journey-hold-until/handler';
import { handler as waitUntilHandler } from '../../functions/journey-wait-until/handler';
import { handler as checkConditionHandler } from '../../functions/journey-check-condition/handler';
import { handler as journeyStatusHandler } from '../../functions/journey-status/handler';
import { UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { JourneyResources } from '../../statemachines/compile-journey';
import type { JsonValue } from '../../statemachines/asl';
import { LocalWorkflowRunner, type LocalExecution, type LocalStateMachineVersion } from './workflow-runner';
import { QUEUE_NAMES } from '../../shared/aws/sqs/queue';
import { StaticKeyProvider } from '../../shared/aws/secrets/key-provider';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../shared/ports';
import { createTable, startLocalDynamo, type LocalDynamo } from './dynamodb';
import { LocalEventBus } from './event-bus';
import { createLocalHttpServer, type HttpLambda } from './http-server';
import { localEventsRoute, localOutboxRoute } from './local-routes';
import { LocalQueues } from './queue';
import { LocalScheduler } from './scheduler';
import { DynamoDbScheduleStore } from './schedule-store';
import { startLocalSes, type LocalSes } from './ses';
import { LocalSesEvents } from './ses-events';
import { LocalSmsEvents } from './sms-events';
import { LocalSmsOutbox } from './sms-outbox';
import { localLambdaContext } from './lambda-context';
import { endRunsLostOnRestart } from './orphaned-runs';
import type { LocalSettings } from './settings';

export const LOCAL_TABLE_NAME = 'engage';
const INGESTION_PATHS = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'].map((p) => `/v1/${p}`);

export interface LocalEngine {
  url: string;
  port: number;
  writeKey: string;
  apiKey: string;
  unsubscribeKey: string;
  dynamo: LocalDynamo;
  queues: LocalQueues;
  bus: LocalEventBus;
  ses: LocalSes;
  smsOutbox: LocalSmsOutbox;
  scheduler: LocalScheduler;
  /** Journeys' state machines, run by aws-local-stepfunctions with time scaled by `timeScale`. */
  workflows: LocalWorkflowRunner;
  services: Services;
  /** Runs the audience recheck now (it also runs every `recheckIntervalMs`). */
  recheck(): Promise<void>;
  /** Waits until every stream record so far has been processed (tests, demo). */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions extends Partial<LocalSettings> {
  host?: string;
  clock?: Clock;
  /** Virtual stream shards. */
  shardCount?: number;
  /** How often timers are rechecked and broadcasts checked for completion (AWS: every minute). Default 2000; 0 disables. */
  recheckIntervalMs?: number;
  /** Messaging overrides (tests): send rate, claim grace, From address. */
  messaging?: Partial<SenderSettings>;
}

function generatedKey(prefix: string): string {
  return `${prefix}_${randomBytes(18).toString('base64url')}`;
}

/** With a data folder, generated keys are kept there so that configured clients keep working. */
function resolveKeys(options: StartOptions): { writeKey: string; apiKey: string; unsubscribeKey: string } {
  const file = options.dataDir ? join(options.dataDir, 'keys.json') : undefined;
  let stored: { writeKey?: string; apiKey?: string; unsubscribeKey?: string } = {};
  if (file && existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
  const keys = {
    writeKey: options.writeKey ?? stored.writeKey ?? generatedKey('wk'),
    apiKey: options.apiKey ?? stored.apiKey ?? generatedKey('ak'),
    // Signs unsubscribe links: kept with the data so that links in sent mail keep working.
    unsubscribeKey: stored.unsubscribeKey ?? randomBytes(32).toString('base64url'),
  };
  if (file) writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

/** What local journeys call: ARNs and a queue URL in the shape AWS uses, dispatched in process. */
export const LOCAL_JOURNEY_RESOURCES: JourneyResources = {
  sendQueueUrl: 'https://sqs.local.amazonaws.com/000000000000/engage-send',
  holdUntilFunctionArn: 'arn:aws:lambda:local:000000000000:function:engage-journey-hold-until',
  waitUntilFunctionArn: 'arn:aws:lambda:local:000000000000:function:engage-journey-wait-until',
  checkConditionFunctionArn: 'arn:aws:lambda:local:000000000000:function:engage-journey-check-condition',
  runTableName: LOCAL_TABLE_NAME,
};

const STATUS_OF_END: Record<string, string> = { succeeded: 'SUCCEEDED', failed: 'FAILED', timed_out: 'TIMED_OUT', aborted: 'ABORTED' };

/** Published versions kept in the data folder, so that journeys published before a restart still take entries. */
function versionFileStore(dataDir: string | undefined): { loadVersions(): Promise<LocalStateMachineVersion[]>; saveVersion(v: LocalStateMachineVersion): Promise<void> } | undefined {
  if (!dataDir) return undefined;
  const file = join(dataDir, 'state-machines.json');
  const read = (): LocalStateMachineVersion[] => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LocalStateMachineVersion[]) : []);
  return {
    loadVersions: () => Promise.resolve(read()),
    saveVersion: (version) => {
      writeFileSync(file, JSON.stringify([...read(), version]));
      return Promise.resolve();
    },
  };
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
  const queues = new LocalQueues();
  const bus = new LocalEventBus();
  const keyProvider = new StaticKeyProvider(keys);
  const smsOutbox = new LocalSmsOutbox();
  let ses: LocalSes;
  try {
    ses = await startLocalSes({ port: options.sesPort ?? 8005, host });
  } catch (error) {
    await dynamo.close();
    throw error;
  }
  const server = createLocalHttpServer({
    routes: [
      ...INGESTION_PATHS.map((path) => ({ method: 'POST', path, handler: ingestHandler as HttpLambda })),
      localEventsRoute(bus, keyProvider),
      localOutboxRoute(smsOutbox, ses, keyProvider),
    ],
    defaultHandler: apiHandler as HttpLambda,
  });
  let recheckTimer: NodeJS.Timeout | undefined;
  const scheduler = new LocalScheduler({
    onFire: async (_name, payload) => {
      await startHandler(payload);
    },
    store: new DynamoDbScheduleStore(DynamoDBDocumentClient.from(dynamo.rawClient), LOCAL_TABLE_NAME),
    clock: options.clock,
  });
  // The public URL is known once the server listens; links are built after that.
  const messaging: SenderSettings = {
    fromEmail: 'Engage (local) <engage@localhost.localdomain>',
    publicApiUrl: '',
    accountSendRatePerSecond: 200,
    claimGraceMs: 60_000,
    claimRecheckSeconds: 2,
    ...options.messaging,
  };
  const pendingStatus = new Set<Promise<unknown>>();
  // Closing aborts the runs in memory: that is the process stopping, not the runs ending.
  let closing = false;
  const localFunctions: Record<string, (payload: unknown) => Promise<unknown>> = {
    [LOCAL_JOURNEY_RESOURCES.holdUntilFunctionArn]: holdUntilHandler,
    [LOCAL_JOURNEY_RESOURCES.waitUntilFunctionArn]: waitUntilHandler,
    [LOCAL_JOURNEY_RESOURCES.checkConditionFunctionArn]: checkConditionHandler,
  };
  const workflows = new LocalWorkflowRunner({
    timeScale: options.timeScale ?? 1,
    clock: options.clock,
    store: versionFileStore(options.dataDir),
    // The compiled ASL's send step: onto the local send queue, as the SQS integration would.
    sendMessage: async (_queueUrl, body) => {
      await queues.send('send', [{ body: typeof body === 'string' ? (JSON.parse(body) as unknown) : body }]);
    },
    invoke: async (functionArn, payload) => {
      const fn = localFunctions[functionArn];
      if (!fn) throw Object.assign(new Error(`no local function ${functionArn}`), { name: 'Lambda.ResourceNotFoundException' });
      return (await fn(payload)) as JsonValue;
    },
    // Record states: the native DynamoDB integration, against the capturing client (the stream sees the change).
    updateItem: async (parameters) => {
      await dynamo.client.send(new UpdateItemCommand(parameters as unknown as UpdateItemCommandInput));
      return {};
    },
    // Ends reach the same handler as Step Functions' EventBridge status events on AWS.
    onChange: (execution: LocalExecution, change) => {
      if (change.type !== 'ended' || closing) return;
      const pending = journeyStatusHandler({
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        detail: {
          executionArn: execution.executionArn,
          name: execution.name,
          status: STATUS_OF_END[change.status],
          stopDate: Date.parse(execution.stoppedAt ?? new Date().toISOString()),
          input: JSON.stringify(execution.input),
        },
      }).catch((error: unknown) => console.error(`journey status failed: ${error instanceof Error ? error.name : 'unknown'}`));
      pendingStatus.add(pending);
      void pending.finally(() => pendingStatus.delete(pending));
    },
  });
  try {
    const services = buildServices({
      engine: workflows,
      journeyResources: LOCAL_JOURNEY_RESOURCES,
      mailer: new LocalSesEvents(new SesMailer(ses.client, { configurationSetName: 'engage-local' }), queues),
      sms: new LocalSmsEvents(smsOutbox, queues),
      scheduler,
      messaging,
      dynamodb: dynamo.client,
      tableName: LOCAL_TABLE_NAME,
      eventRetentionDays: options.eventRetentionDays ?? 400,
      keys: keyProvider,
      clock: options.clock,
      queue: queues,
      bus,
      // One process: caches can be short and backfills can start almost at once.
      audienceCacheTtlMs: 500,
      backfill: { segments: 4, delaySeconds: 1 },
    });
    setServices(services);
    // The same two stream readers as on AWS: the router and the outbox.
    dynamo.registerConsumer('stream', (event) => streamHandler(event, localLambdaContext('stream', 900_000)), { batchSize: 100, maxRetries: 10 });
    dynamo.registerConsumer('outbox', (event) => outboxHandler(event), { batchSize: 100, maxRetries: 10 });
    queues.registerConsumer('backfill', (event) => backfillHandler(event, localLambdaContext('audience-backfill', 900_000)), {
      batchSize: 10,
      visibilityTimeoutMs: 60_000,
      maxReceiveCount: 5,
      concurrency: 2,
    });
    queues.registerConsumer('fanout', (event) => fanoutHandler(event, localLambdaContext('broadcast-fanout', 120_000)), {
      batchSize: 5,
      visibilityTimeoutMs: 30_000,
      maxReceiveCount: 5,
      concurrency: 2,
    });
    // Short visibility: a held claim is looked at again soon (AWS: the queue's timeout).
    queues.registerConsumer('send', (event) => senderHandler(event, localLambdaContext('sender', 60_000)), {
      batchSize: 10,
      visibilityTimeoutMs: 2_000,
      maxReceiveCount: 10,
      concurrency: 4,
    });
    queues.registerConsumer('entry', (event) => journeyWorkerHandler(event, localLambdaContext('journey-worker', 60_000)), {
      batchSize: 10,
      visibilityTimeoutMs: 5_000,
      maxReceiveCount: 10,
      concurrency: 4,
    });
    queues.registerConsumer('feedback', (event) => feedbackHandler(event, localLambdaContext('messaging-feedback', 30_000)), {
      batchSize: 10,
      visibilityTimeoutMs: 2_000,
      maxReceiveCount: 10,
      concurrency: 2,
    });
    await scheduler.start();
    const lost = await endRunsLostOnRestart(DynamoDBDocumentClient.from(dynamo.client), LOCAL_TABLE_NAME, services);
    if (lost > 0) console.log(`${lost} journey run(s) in flight when the engine last stopped were ended as failed (local runs live in memory).`);

    let rechecking: Promise<void> | undefined;
    const recheck = (): Promise<void> => {
      rechecking ??= Promise.all([recheckHandler(), progressHandler()])
        .then(() => undefined)
        .catch((error: unknown) => console.error(`audience recheck failed: ${error instanceof Error ? error.name : 'unknown'}`))
        .finally(() => {
          rechecking = undefined;
        });
      return rechecking;
    };
    const interval = options.recheckIntervalMs ?? 2_000;
    if (interval > 0) {
      recheckTimer = setInterval(() => void recheck(), interval);
      recheckTimer.unref();
    }

    const settle = async (timeoutMs?: number): Promise<void> => {
      // Stream consumers enqueue work whose handlers write more records: loop until all is quiet.
      for (let round = 0; round < 20; round++) {
        await dynamo.drain(timeoutMs);
        await queues.drain(timeoutMs);
        await Promise.all([...pendingStatus]);
        await bus.drain(timeoutMs);
        await dynamo.drain(timeoutMs);
        if (QUEUE_NAMES.every((q) => queues.depth(q) === 0) && pendingStatus.size === 0) return;
      }
    };

    const port = await listen(server, host, options.port ?? 3000);
    const url = `http://${host}:${port}`;
    messaging.publicApiUrl = url;
    return {
      url,
      port,
      ...keys,
      dynamo,
      queues,
      bus,
      ses,
      smsOutbox,
      scheduler,
      workflows,
      services,
      recheck,
      settle,
      close: async () => {
        if (recheckTimer) clearInterval(recheckTimer);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await rechecking;
        closing = true;
        await workflows.close();
        await Promise.all([...pendingStatus]);
        await scheduler.close();
        await queues.close();
        await bus.close();
        await ses.close();
        await dynamo.close();
        setServices(undefined);
      },
    };
  } catch (error) {
    if (recheckTimer) clearInterval(recheckTimer);
    server.close();
    closing = true;
    await workflows.close();
    await scheduler.close();
    await queues.close();
    await bus.close();
    await ses.close();
    await dynamo.close();
    throw error;
  }
}
