import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAudienceStore } from '../../shared/aws/dynamodb/audience-store';
import { DynamoMembershipStore } from '../../shared/aws/dynamodb/membership-store';
import { DynamoOutboxLedger } from '../../shared/aws/dynamodb/outbox-ledger';
import { DynamoProfileStore } from '../../shared/aws/dynamodb/profile-store';
import { EventBridgeBus } from '../../shared/aws/eventbridge/event-bus';
import { SecretsManagerKeyProvider } from '../../shared/aws/secrets/key-provider';
import { SqsQueue, queueUrlsFromEnv } from '../../shared/aws/sqs/queue';
import { loadConfig } from '../../shared/config';
import {
  systemClock,
  type AudienceStore,
  type Clock,
  type EventBus,
  type KeyProvider,
  type MembershipStore,
  type ProfileStore,
  type Queue,
} from '../../shared/ports';
import { AudienceCatalog } from '../../shared/services/audiences/catalog';
import { logger } from './logger';
import type { OutboxLedger } from '../../shared/services/outbox';

/** Everything a handler needs, built once per container (cold start) and reused. */
export interface Services {
  profiles: ProfileStore;
  audiences: AudienceStore;
  memberships: MembershipStore;
  catalog: AudienceCatalog;
  ledger: OutboxLedger;
  queue: Queue;
  bus: EventBus;
  keys: KeyProvider;
  clock: Clock;
  backfill: { segments: number; delaySeconds: number };
}

let services: Services | undefined;

export interface ServiceOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  eventRetentionDays: number;
  keys: KeyProvider;
  queue: Queue;
  bus: EventBus;
  clock?: Clock;
  audienceCacheTtlMs?: number;
  backfill?: { segments: number; delaySeconds: number };
}

/** Builds adapters on one DynamoDB client; the local runtime passes its capturing client. */
export function buildServices(options: ServiceOptions): Services {
  const documents = DynamoDBDocumentClient.from(options.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const clock = options.clock ?? systemClock;
  const audiences = new DynamoAudienceStore(documents, options.tableName);
  return {
    profiles: new DynamoProfileStore({ client: documents, tableName: options.tableName, eventRetentionDays: options.eventRetentionDays }),
    audiences,
    memberships: new DynamoMembershipStore(documents, options.tableName),
    catalog: new AudienceCatalog(audiences, clock, options.audienceCacheTtlMs ?? 15_000, (audienceId, error) =>
      logger.error('audience definition cannot be compiled; it is skipped', { audienceId, errorName: error instanceof Error ? error.name : 'unknown' }),
    ),
    ledger: new DynamoOutboxLedger(documents, options.tableName),
    queue: options.queue,
    bus: options.bus,
    keys: options.keys,
    clock,
    backfill: options.backfill ?? { segments: 8, delaySeconds: 20 },
  };
}

/** Installs the services handlers use (local runtime, tests). */
export function setServices(value: Services | undefined): void {
  services = value;
}

export function getServices(): Services {
  if (!services) {
    const config = loadConfig();
    services = buildServices({
      dynamodb: new DynamoDBClient({}),
      tableName: config.TABLE_NAME,
      eventRetentionDays: config.EVENT_RETENTION_DAYS,
      keys: new SecretsManagerKeyProvider(new SecretsManagerClient({}), {
        writeKey: config.WRITE_KEY_SECRET_ARN,
        apiKey: config.API_KEY_SECRET_ARN,
      }),
      queue: new SqsQueue(new SQSClient({}), queueUrlsFromEnv(process.env)),
      bus: new EventBridgeBus(new EventBridgeClient({}), config.EVENT_BUS_NAME),
      audienceCacheTtlMs: config.AUDIENCE_CACHE_TTL_MS,
      backfill: { segments: config.BACKFILL_SEGMENTS, delaySeconds: config.BACKFILL_DELAY_SECONDS },
    });
  }
  return services;
}
