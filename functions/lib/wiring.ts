import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PinpointSMSVoiceV2Client } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAudienceStore } from '../../shared/aws/dynamodb/audience-store';
import { DynamoBroadcastStore } from '../../shared/aws/dynamodb/broadcast-store';
import { DynamoJourneyStore } from '../../shared/aws/dynamodb/journey-store';
import { StepFunctionsWorkflowEngine } from '../../shared/aws/sfn/workflow-engine';
import { DynamoMembershipStore } from '../../shared/aws/dynamodb/membership-store';
import { DynamoMessageLog } from '../../shared/aws/dynamodb/message-log';
import { DynamoOutboxLedger } from '../../shared/aws/dynamodb/outbox-ledger';
import { DynamoProfileStore } from '../../shared/aws/dynamodb/profile-store';
import { DynamoRateLimiter } from '../../shared/aws/dynamodb/rate-limiter';
import { DynamoSendStore } from '../../shared/aws/dynamodb/send-store';
import { DynamoSuppressionList } from '../../shared/aws/dynamodb/suppression-list';
import { DynamoTemplateStore } from '../../shared/aws/dynamodb/template-store';
import { EventBridgeBus } from '../../shared/aws/eventbridge/event-bus';
import { EventBridgeScheduler } from '../../shared/aws/scheduler/scheduler';
import { SecretsManagerKeyProvider } from '../../shared/aws/secrets/key-provider';
import { SesMailer } from '../../shared/aws/ses/mailer';
import { EndUserMessagingSmsSender } from '../../shared/aws/sms/sms-sender';
import { SqsQueue, queueUrlsFromEnv } from '../../shared/aws/sqs/queue';
import { loadConfig } from '../../shared/config';
import {
  systemClock,
  type AudienceStore,
  type BroadcastStore,
  type Clock,
  type EventBus,
  type KeyProvider,
  type Mailer,
  type MembershipStore,
  type MessageLog,
  type ProfileStore,
  type Queue,
  type RateLimiter,
  type Scheduler,
  type SendStore,
  type SmsSender,
  type SuppressionList,
  type TemplateStore,
  type JourneyStore,
  type WorkflowEngine,
} from '../../shared/ports';
import { JourneyCatalog } from '../../shared/services/journeys/triggers';
import type { JourneyResources } from '../../statemachines/compile-journey';
import { AudienceCatalog } from '../../shared/services/audiences/catalog';
import type { SenderSettings } from '../../shared/services/messaging/sender';
import type { OutboxLedger } from '../../shared/services/outbox';
import { logger } from './logger';

/** Everything a handler needs, built once per container (cold start) and reused. */
export interface Services {
  profiles: ProfileStore;
  audiences: AudienceStore;
  memberships: MembershipStore;
  catalog: AudienceCatalog;
  ledger: OutboxLedger;
  templates: TemplateStore;
  broadcasts: BroadcastStore;
  sends: SendStore;
  messageLog: MessageLog;
  suppressions: SuppressionList;
  rateLimiter: RateLimiter;
  queue: Queue;
  bus: EventBus;
  mailer: Mailer;
  sms: SmsSender;
  scheduler: Scheduler;
  keys: KeyProvider;
  clock: Clock;
  backfill: { segments: number; delaySeconds: number };
  messaging: SenderSettings;
  journeys: JourneyStore;
  journeyCatalog: JourneyCatalog;
  engine: WorkflowEngine;
  journeyResources: JourneyResources;
}

let services: Services | undefined;

export interface ServiceOptions {
  dynamodb: DynamoDBClient;
  tableName: string;
  eventRetentionDays: number;
  keys: KeyProvider;
  queue: Queue;
  bus: EventBus;
  mailer: Mailer;
  sms: SmsSender;
  scheduler: Scheduler;
  messaging: SenderSettings;
  engine: WorkflowEngine;
  journeyResources: JourneyResources;
  clock?: Clock;
  audienceCacheTtlMs?: number;
  backfill?: { segments: number; delaySeconds: number };
}

/** Builds adapters on one DynamoDB client; the local runtime passes its capturing client. */
export function buildServices(options: ServiceOptions): Services {
  const documents = DynamoDBDocumentClient.from(options.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const table = options.tableName;
  const clock = options.clock ?? systemClock;
  const audiences = new DynamoAudienceStore(documents, table);
  const journeys = new DynamoJourneyStore(documents, table);
  return {
    profiles: new DynamoProfileStore({ client: documents, tableName: table, eventRetentionDays: options.eventRetentionDays }),
    audiences,
    memberships: new DynamoMembershipStore(documents, table),
    catalog: new AudienceCatalog(audiences, clock, options.audienceCacheTtlMs ?? 15_000, (audienceId, error) =>
      logger.error('audience definition cannot be compiled; it is skipped', { audienceId, errorName: error instanceof Error ? error.name : 'unknown' }),
    ),
    ledger: new DynamoOutboxLedger(documents, table),
    templates: new DynamoTemplateStore(documents, table),
    broadcasts: new DynamoBroadcastStore(documents, table),
    sends: new DynamoSendStore(documents, table),
    messageLog: new DynamoMessageLog(documents, table),
    suppressions: new DynamoSuppressionList(documents, table),
    rateLimiter: new DynamoRateLimiter(documents, table),
    queue: options.queue,
    bus: options.bus,
    mailer: options.mailer,
    sms: options.sms,
    scheduler: options.scheduler,
    keys: options.keys,
    clock,
    backfill: options.backfill ?? { segments: 8, delaySeconds: 20 },
    messaging: options.messaging,
    journeys,
    journeyCatalog: new JourneyCatalog(journeys, clock, options.audienceCacheTtlMs ?? 15_000),
    engine: options.engine,
    journeyResources: options.journeyResources,
  };
}

/**
 * An adapter built on first use: functions that never send SMS (or schedule) must not fail
 * their cold start because that channel is not configured.
 */
function lazy<T extends object>(build: () => T): T {
  let instance: T | undefined;
  return new Proxy({} as T, {
    get: (_target, property) => {
      instance ??= build();
      const value: unknown = Reflect.get(instance, property);
      return typeof value === 'function' ? value.bind(instance) : value;
    },
  });
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
        unsubscribeKey: config.UNSUBSCRIBE_KEY_SECRET_ARN,
      }),
      queue: new SqsQueue(new SQSClient({}), queueUrlsFromEnv(process.env)),
      bus: new EventBridgeBus(new EventBridgeClient({}), config.EVENT_BUS_NAME),
      mailer: lazy(() => new SesMailer(new SESv2Client({}), { configurationSetName: config.SES_CONFIGURATION_SET })),
      sms: lazy(
        () => new EndUserMessagingSmsSender(new PinpointSMSVoiceV2Client({}), { originationIdentity: config.SMS_ORIGINATION_IDENTITY, configurationSetName: config.SMS_CONFIGURATION_SET }),
      ),
      scheduler: lazy(
        () =>
          new EventBridgeScheduler(new SchedulerClient({}), {
            groupName: config.SCHEDULER_GROUP,
            targetArn: config.SCHEDULER_TARGET_ARN,
            roleArn: config.SCHEDULER_ROLE_ARN,
            namePrefix: config.SCHEDULE_NAME_PREFIX,
          }),
      ),
      messaging: {
        fromEmail: config.SENDER_EMAIL,
        publicApiUrl: config.PUBLIC_API_URL,
        accountSendRatePerSecond: config.ACCOUNT_SEND_RATE,
        claimGraceMs: config.CLAIM_GRACE_SECONDS * 1000,
      },
      engine: lazy(
        () =>
          new StepFunctionsWorkflowEngine(new SFNClient({}), {
            roleArn: config.JOURNEY_ROLE_ARN,
            namePrefix: config.JOURNEY_NAME_PREFIX,
            tracing: config.JOURNEY_TRACING === 'true',
            ...(config.JOURNEY_LOG_GROUP_ARN
              ? { loggingConfiguration: { level: 'ERROR', includeExecutionData: false, destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: config.JOURNEY_LOG_GROUP_ARN } }] } }
              : {}),
          }),
      ),
      journeyResources: {
        sendQueueUrl: process.env.QUEUE_URL_SEND ?? '',
        holdUntilFunctionArn: config.JOURNEY_HOLD_UNTIL_ARN,
        waitUntilFunctionArn: config.JOURNEY_WAIT_UNTIL_ARN,
        checkConditionFunctionArn: config.JOURNEY_CHECK_CONDITION_ARN,
        runTableName: config.TABLE_NAME,
      },
      audienceCacheTtlMs: config.AUDIENCE_CACHE_TTL_MS,
      backfill: { segments: config.BACKFILL_SEGMENTS, delaySeconds: config.BACKFILL_DELAY_SECONDS },
    });
  }
  return services;
}
