import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { Audiences } from './constructs/audiences';
import { Broadcasts } from './constructs/broadcasts';
import { DataTable } from './constructs/data-table';
import { Ingestion } from './constructs/ingestion';
import { Journeys } from './constructs/journeys';
import { Messaging } from './constructs/messaging';
import { Monitoring } from './constructs/monitoring';
import { StreamProcessing } from './constructs/stream-processing';
import { type EngageSettings, readEngageSettings } from './settings';

export type EngageStackProps = StackProps;

/**
 * The one Engage stack (SPEC.md section 5). It only reads settings and wires constructs; each
 * concern lives in its own construct under `constructs/`. Construct ids are a contract:
 * renaming one replaces its resources (the table is retained, but a new one would be empty).
 */
export class EngageStack extends Stack {
  readonly settings: EngageSettings;
  readonly data: DataTable;
  readonly ingestion: Ingestion;
  readonly streamProcessing: StreamProcessing;
  readonly monitoring: Monitoring;
  /** The deployment's event bus (SPEC.md section 4), shared by every feature that publishes. */
  readonly eventBus: events.EventBus;
  readonly audiences: Audiences;
  readonly messaging: Messaging;
  readonly broadcasts: Broadcasts;
  readonly journeys: Journeys;

  constructor(scope: Construct, id: string, props: EngageStackProps = {}) {
    super(scope, id, {
      description: 'Engage on AWS: audiences, journeys and broadcasts (serverless customer engagement)',
      ...props,
    });
    this.settings = readEngageSettings(this);

    this.monitoring = new Monitoring(this, 'Monitoring');
    this.data = new DataTable(this, 'Data');
    // At stack level, not in a feature construct: journeys, messages and broadcasts publish to
    // it too, and moving a named bus later would replace it (a new bus without the users' rules).
    this.eventBus = new events.EventBus(this, 'EventBus', {
      eventBusName: this.settings.eventBusName,
      description: 'Engage state changes (source "engage"): audiences, journeys, messages, broadcasts',
    });
    this.ingestion = new Ingestion(this, 'Ingestion', {
      table: this.data,
      eventRetentionDays: this.settings.eventRetentionDays,
      throttleRateLimit: this.settings.apiThrottleRateLimit,
      throttleBurstLimit: this.settings.apiThrottleBurstLimit,
    });
    this.streamProcessing = new StreamProcessing(this, 'StreamProcessing', {
      table: this.data,
      eventRetentionDays: this.settings.eventRetentionDays,
    });

    this.audiences = new Audiences(this, 'Audiences', {
      table: this.data,
      eventBus: this.eventBus,
      router: this.streamProcessing.consumer,
      apiFunction: this.ingestion.apiFunction,
    });

    this.messaging = new Messaging(this, 'Messaging', {
      table: this.data,
      senderEmail: this.settings.senderEmail,
      smsOriginationIdentity: this.settings.smsOriginationIdentity,
      accountSendRatePerSecond: this.settings.accountSendRatePerSecond,
      senderMaxConcurrency: this.settings.senderMaxConcurrency,
      sesConfigurationSetName: this.settings.sesConfigurationSetName,
      // The sender signs unsubscribe links to this API.
      publicApiUrl: this.ingestion.url,
    });
    // The API links to itself in test sends and render previews. No dependency cycle: the
    // `$default` stage URL is built from the Api resource's id alone, which references neither
    // the function nor its integration (a test checks the template is acyclic).
    this.ingestion.apiFunction.addEnvironment('PUBLIC_API_URL', this.ingestion.url);
    this.broadcasts = new Broadcasts(this, 'Broadcasts', {
      table: this.data,
      messaging: this.messaging,
      apiFunction: this.ingestion.apiFunction,
    });
    // After messaging: journeys send through its send queue.
    this.journeys = new Journeys(this, 'Journeys', {
      table: this.data,
      messaging: this.messaging,
      apiFunction: this.ingestion.apiFunction,
      streamFunction: this.streamProcessing.consumer,
      namePrefix: this.settings.journeyNamePrefix,
    });

    this.ingestion.monitor(this.monitoring);
    this.streamProcessing.monitor(this.monitoring);
    this.audiences.monitor(this.monitoring);
    this.messaging.monitor(this.monitoring);
    this.broadcasts.monitor(this.monitoring);
    this.journeys.monitor(this.monitoring);

    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the ingestion and management API',
      value: this.ingestion.url,
    });
    new CfnOutput(this, 'WriteKeySecretName', {
      description: 'Secrets Manager secret holding the write key (ingestion)',
      value: this.ingestion.writeKeySecret.secretName,
    });
    new CfnOutput(this, 'ApiKeySecretName', {
      description: 'Secrets Manager secret holding the API key (management API)',
      value: this.ingestion.apiKeySecret.secretName,
    });
    new CfnOutput(this, 'EventBusName', {
      description: 'EventBridge bus that receives Engage events (attach your own rules to it)',
      value: this.eventBus.eventBusName,
    });
    new CfnOutput(this, 'UnsubscribeKeySecretName', {
      description: 'Secrets Manager secret holding the HMAC key of the unsubscribe links',
      value: this.messaging.unsubscribeKeySecret.secretName,
    });
    new CfnOutput(this, 'SesConfigurationSetName', {
      description: 'SES configuration set every Engage email is sent through (events go to the default EventBridge bus)',
      value: this.messaging.configurationSet.configurationSetName,
    });
    new CfnOutput(this, 'JourneyNamePrefix', {
      description: 'Every journey state machine is named <prefix>-<journey id> (Step Functions console)',
      value: this.journeys.namePrefix,
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'CloudWatch dashboard',
      value: this.monitoring.dashboardUrl,
    });
  }
}
