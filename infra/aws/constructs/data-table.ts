import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { EVENTS_BY_NAME_INDEX, EVENTS_BY_TIME_INDEX, GSI1, TABLE_KEYS } from '../../../shared/aws/dynamodb/table-definition';
import { acknowledgeOnDefaultPolicy } from '../nag';
import type { EngageFunction } from './engage-function';

/** What a function may do with the table. */
export type TableAccess = 'read' | 'readWrite';

export interface DataTableProps {
  /**
   * What happens to the table when it leaves the stack.
   * @default - RemovalPolicy.RETAIN: profiles and events outlive a `cdk destroy`
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single DynamoDB table (ARCHITECTURE.md "Single DynamoDB table"): profiles, events,
 * memberships, journeys and messages, keyed as in `shared/aws/dynamodb/table-definition.ts` so
 * that the stack and the local runtime cannot drift apart.
 */
export class DataTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: DataTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // The stream is the outbox: consumers need both images to see what changed.
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      // KMS encryption with the AWS managed key (aws/dynamodb) rather than a customer managed
      // key: data is still encrypted with KMS and every use is in CloudTrail, but there is no key
      // policy to get wrong, no key whose deletion or disabling would make all data unreadable,
      // no monthly key cost, and no kms:* grants (with wildcard actions such as
      // kms:GenerateDataKey*) on every function role. Switch to CUSTOMER_MANAGED if your
      // compliance rules require control over the key.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addLocalSecondaryIndex({
      indexName: EVENTS_BY_TIME_INDEX.name,
      sortKey: { name: EVENTS_BY_TIME_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addLocalSecondaryIndex({
      indexName: EVENTS_BY_NAME_INDEX.name,
      sortKey: { name: EVENTS_BY_NAME_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: GSI1.name,
      partitionKey: { name: GSI1.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: GSI1.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /**
   * Gives `fn` access to the table and sets `TABLE_NAME` in the same call, so a function can
   * never know the table without being allowed to use it (or the reverse).
   *
   * @example
   * table.bind(ingestFunction, 'readWrite');
   */
  bind(fn: EngageFunction, access: TableAccess): void {
    fn.addEnvironment('TABLE_NAME', this.table.tableName);
    switch (access) {
      case 'read':
        this.table.grantReadData(fn);
        break;
      case 'readWrite':
        this.table.grantReadWriteData(fn);
        break;
      default:
        throw new Error(`DataTable.bind: access must be "read" or "readWrite", received ${JSON.stringify(access)}.`);
    }
    acknowledgeOnDefaultPolicy(
      fn.role,
      `AwsSolutions-IAM5[Resource::<${this.tableLogicalId()}.Arn>/index/*]`,
      `Queries on this table's own secondary indexes (${EVENTS_BY_TIME_INDEX.name}, ${EVENTS_BY_NAME_INDEX.name}, ${GSI1.name}); the wildcard covers only indexes of this one table.`,
    );
  }

  private tableLogicalId(): string {
    const cfn = this.table.node.defaultChild;
    if (!(cfn instanceof dynamodb.CfnTable)) throw new Error(`${this.node.path}: the table has no CfnTable.`);
    return String(Stack.of(this).resolve(cfn.logicalId));
  }
}
