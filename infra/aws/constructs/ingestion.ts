import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledgeOnResource } from '../nag';
import type { DataTable } from './data-table';
import { EngageFunction } from './engage-function';
import type { Monitoring } from './monitoring';

/** The Segment-compatible ingestion routes (SPEC.md section 2), each `POST /v1/<name>`. */
export const INGESTION_ROUTES = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'] as const;

export interface IngestionProps {
  /** The single table; both functions get read-write access. */
  readonly table: DataTable;
  /** Days an event is kept (`EVENT_RETENTION_DAYS`). */
  readonly eventRetentionDays: number;
  /** Steady-state rate limit of the stage, requests per second. */
  readonly throttleRateLimit: number;
  /** Burst limit of the stage, requests. */
  readonly throttleBurstLimit: number;
  /**
   * Retention of the API access logs.
   * @default - three months
   */
  readonly accessLogRetention?: logs.RetentionDays;
}

const KEY_SECRET = {
  excludePunctuation: true,
  includeSpace: false,
  passwordLength: 40,
} as const satisfies secretsmanager.SecretStringGenerator;

const NO_ROTATION_REASON =
  'is copied by operators into client configurations (SDKs, scripts), which cannot fetch it from Secrets Manager; an automatic rotation would lock them out without warning. It is rotated by hand: put a new value, then update the clients.';

/**
 * Access log line: JSON (one object per request) with request metadata only. HTTP API access
 * logs cannot contain bodies, and none of these variables carries a message or contact detail.
 */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  errorMessage: '$context.error.message',
});

/**
 * The HTTP API: Segment-compatible ingestion routes to the ingest function, every other route
 * (`$default`) to the API function, which serves the management API, `/v1/health`,
 * `/v1/openapi.json` and its own 404/405. Authentication happens in the functions (write key
 * for ingestion, bearer API key for management), both keys generated into Secrets Manager.
 */
export class Ingestion extends Construct {
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly accessLogs: logs.LogGroup;
  readonly ingestFunction: EngageFunction;
  readonly apiFunction: EngageFunction;
  readonly writeKeySecret: secretsmanager.Secret;
  readonly apiKeySecret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: IngestionProps) {
    super(scope, id);

    this.writeKeySecret = new secretsmanager.Secret(this, 'WriteKey', {
      description: 'Engage write key: HTTP Basic user name (or body writeKey) of the ingestion API.',
      generateSecretString: KEY_SECRET,
    });
    this.apiKeySecret = new secretsmanager.Secret(this, 'ApiKey', {
      description: 'Engage API key: Authorization: Bearer <key> of the management API.',
      generateSecretString: KEY_SECRET,
    });
    acknowledgeOnResource(this.writeKeySecret, 'AwsSolutions-SMG4', `The write key ${NO_ROTATION_REASON}`);
    acknowledgeOnResource(this.apiKeySecret, 'AwsSolutions-SMG4', `The API key ${NO_ROTATION_REASON}`);

    const environment = { EVENT_RETENTION_DAYS: String(props.eventRetentionDays) };

    this.ingestFunction = new EngageFunction(this, 'IngestFunction', {
      entry: 'functions/ingest/handler.ts',
      serviceName: 'ingest',
      description: 'Segment-compatible ingestion: POST /v1/identify|track|page|screen|group|alias|batch',
      environment: { ...environment, WRITE_KEY_SECRET_ARN: this.writeKeySecret.secretArn },
    });
    this.writeKeySecret.grantRead(this.ingestFunction);
    props.table.bind(this.ingestFunction, 'readWrite');

    this.apiFunction = new EngageFunction(this, 'ApiFunction', {
      entry: 'functions/api/handler.ts',
      serviceName: 'api',
      description: 'Management API, /v1/health and /v1/openapi.json (every route but ingestion)',
      environment: { ...environment, API_KEY_SECRET_ARN: this.apiKeySecret.secretArn },
    });
    this.apiKeySecret.grantRead(this.apiFunction);
    // Read-write: the API records erasure requests, audiences, journeys and broadcasts.
    props.table.bind(this.apiFunction, 'readWrite');

    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Engage ingestion and management API',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('ApiIntegration', this.apiFunction.function),
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.THREE_MONTHS,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });

    const ingestIntegration = new HttpLambdaIntegration('IngestIntegration', this.ingestFunction.function);
    for (const name of INGESTION_ROUTES) {
      const [route] = this.api.addRoutes({
        path: `/v1/${name}`,
        methods: [apigwv2.HttpMethod.POST],
        integration: ingestIntegration,
      });
      if (route) {
        acknowledgeOnResource(
          route,
          'AwsSolutions-APIG4',
          'Ingestion authenticates in the ingest function with the write key (HTTP Basic user name or body writeKey), as the Segment HTTP API does; an API Gateway authorizer cannot read the body key and would add a second Lambda call per event.',
        );
      }
    }
    const defaultRoute = this.api.node.tryFindChild('DefaultRoute');
    if (!defaultRoute) throw new Error(`${this.api.node.path}: expected the $default route construct "DefaultRoute".`);
    acknowledgeOnResource(
      defaultRoute,
      'AwsSolutions-APIG4',
      'The $default route carries the management API, authenticated in the API function (Authorization: Bearer <API key>, checked against Secrets Manager), and the one-click unsubscribe routes, which SPEC.md section 8 requires to work without any key.',
    );
  }

  /** The base URL of the API (ends with `/`). */
  get url(): string {
    return this.stage.url;
  }

  /** Adds the ingestion section to the dashboard and the ingestion alarms. */
  monitor(monitoring: Monitoring): void {
    const period = Duration.minutes(1);
    const ingest = this.ingestFunction.function;
    monitoring.addSection('Ingestion', [
      new cloudwatch.GraphWidget({
        title: 'API requests',
        left: [this.stage.metricCount({ period, statistic: 'Sum', label: 'Requests' })],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'API errors',
        left: [
          this.stage.metricClientError({ period, statistic: 'Sum', label: '4xx' }),
          this.stage.metricServerError({ period, statistic: 'Sum', label: '5xx' }),
        ],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency',
        left: [
          this.stage.metricLatency({ period, statistic: 'p50', label: 'p50' }),
          this.stage.metricLatency({ period, statistic: 'p99', label: 'p99' }),
        ],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Ingest function',
        left: [
          ingest.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
          ingest.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
          ingest.metricThrottles({ period, statistic: 'Sum', label: 'Throttles' }),
        ],
        right: [ingest.metricDuration({ period, statistic: 'p99', label: 'Duration p99' })],
        width: 6,
      }),
    ]);
    monitoring.addFunctionErrorsAlarm('IngestFunctionErrors', ingest, {
      description: 'The ingest function failed: ingestion answers 5xx, which SPEC.md says never happens.',
    });
  }
}
