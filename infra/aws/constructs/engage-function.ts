import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeOnDefaultPolicy, acknowledgeOnResource } from '../nag';

/** CloudWatch namespace of the metrics functions emit with Powertools Metrics (EMF). */
export const METRICS_NAMESPACE = 'Engage';

/** The repository root: entries are given relative to it (`functions/ingest/handler.ts`). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface EngageFunctionProps {
  /** Handler file relative to the repository root, for example `functions/ingest/handler.ts`. */
  readonly entry: string;
  /**
   * Exported handler name in `entry`.
   * @default - `handler`
   */
  readonly handler?: string;
  /** Powertools service name (`POWERTOOLS_SERVICE_NAME`), also used in log lines. */
  readonly serviceName: string;
  /**
   * Description shown in the Lambda console.
   * @default - no description
   */
  readonly description?: string;
  /**
   * Extra environment variables, merged over the house defaults.
   * @default - only the house defaults
   */
  readonly environment?: Record<string, string>;
  /**
   * Memory in MB (CPU scales with it).
   * @default - 512
   */
  readonly memorySize?: number;
  /**
   * Maximum run time of one invocation.
   * @default - 10 seconds (an HTTP API integration times out at 30 seconds)
   */
  readonly timeout?: Duration;
  /**
   * How long the function's log group keeps logs.
   * @default - one month
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Dead-letter queue for asynchronous invocations (EventBridge Scheduler, S3, SNS...). Give one
   * to every function that is invoked asynchronously.
   * @default - none: the function is invoked synchronously (API Gateway, a Step Functions task) or by an event source
   * mapping, whose failures go to the mapping's on-failure destination
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Why further statements of this function's role need `Resource: *` (actions without
   * resource-level permissions), added to the X-Ray reason of the one cdk-nag acknowledgement
   * of `AwsSolutions-IAM5[Resource::*]` on the role's default policy.
   * @default - only X-Ray tracing needs `Resource: *`
   */
  readonly wildcardResourceReasons?: string[];
  /**
   * Reserved concurrency.
   * @default - unreserved (shares the account's concurrency)
   */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * A Lambda function with the house defaults: Node.js 22 on arm64, esbuild bundle (CommonJS,
 * minified, source maps, AWS SDK v3 left to the runtime), JSON logs into its own log group with
 * retention, X-Ray active tracing and a role that can write only to that log group.
 *
 * @example
 * const fn = new EngageFunction(this, 'IngestFunction', {
 *   entry: 'functions/ingest/handler.ts',
 *   serviceName: 'ingest',
 * });
 * table.bind(fn, 'readWrite');
 */
export class EngageFunction extends Construct implements iam.IGrantable {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;
  /**
   * The Powertools service name (`POWERTOOLS_SERVICE_NAME`): also the value of the `service`
   * dimension of every metric the function emits with Powertools Metrics (EMF).
   */
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: EngageFunctionProps) {
    super(scope, id);
    this.serviceName = props.serviceName;
    if (path.isAbsolute(props.entry) || props.entry.startsWith('..')) {
      throw new Error(`EngageFunction ${this.node.path}: entry must be relative to the repository root, received "${props.entry}".`);
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // An explicit role instead of the default one: the default attaches the managed
    // AWSLambdaBasicExecutionRole (logs:* on every log group); this one may only write here.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: props.handler ?? 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueue: props.deadLetterQueue,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      // INFO keeps the platform START/END/REPORT lines (duration, memory, init time).
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        // esbuild is a local dev dependency: never fall back to Docker.
        forceDockerBundling: false,
        // CommonJS output: esbuild rewrites ESM-only dependencies (middy) into the bundle.
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The Node.js 22 runtime ships AWS SDK v3; bundling it would only grow cold starts.
        externalModules: ['@aws-sdk/*'],
      },
    });
    this.grantPrincipal = this.role;

    acknowledgeOnDefaultPolicy(
      this.role,
      'AwsSolutions-IAM5[Resource::*]',
      [
        'Only actions without resource-level permissions have Resource "*": X-Ray active tracing (xray:PutTraceSegments, xray:PutTelemetryRecords)',
        ...(props.wildcardResourceReasons ?? []),
      ].join('; ') + '.',
    );
    const runtimeReason =
      'Pinned to Node.js 22 (ARCHITECTURE.md "Lambda runtime"): the dependency pins (middy 6, AWS SDK v3 3.11xx) are tested against it; moving to a newer runtime is a deliberate upgrade, not a side effect of a cdk-lib bump.';
    acknowledgeOnResource(this.function, 'AwsSolutions-L1', runtimeReason);
    acknowledgeOnResource(this.function, 'Serverless-LambdaLatestVersion', runtimeReason);
    if (!props.deadLetterQueue) {
      acknowledgeOnResource(
        this.function,
        'Serverless-LambdaDLQ',
        'A function DLQ only catches asynchronous invocations; this function is invoked synchronously (API Gateway, a Step Functions Task state) or by an event source mapping, whose failures go to the mapping\'s on-failure destination.',
      );
    }
  }

  /** Sets one environment variable (use it in the same call that grants the access it names). */
  addEnvironment(key: string, value: string): this {
    this.function.addEnvironment(key, value);
    return this;
  }
}
