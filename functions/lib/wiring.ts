import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoProfileStore } from '../../shared/aws/dynamodb/profile-store';
import { SecretsManagerKeyProvider } from '../../shared/aws/secrets/key-provider';
import { loadConfig } from '../../shared/config';
import { systemClock, type Clock, type KeyProvider, type ProfileStore } from '../../shared/ports';

/** Everything a handler needs, built once per container (cold start) and reused. */
export interface Services {
  profiles: ProfileStore;
  keys: KeyProvider;
  clock: Clock;
}

let services: Services | undefined;

/** Builds adapters on one DynamoDB client; the local runtime passes its capturing client. */
export function buildServices(options: {
  dynamodb: DynamoDBClient;
  tableName: string;
  eventRetentionDays: number;
  keys: KeyProvider;
  clock?: Clock;
}): Services {
  const documents = DynamoDBDocumentClient.from(options.dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    profiles: new DynamoProfileStore({ client: documents, tableName: options.tableName, eventRetentionDays: options.eventRetentionDays }),
    keys: options.keys,
    clock: options.clock ?? systemClock,
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
    });
  }
  return services;
}
