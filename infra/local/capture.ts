/**
 * Change capture for dynalite (which has no DynamoDB Streams): an AWS SDK v3 middleware on the
 * local DynamoDB client that, for every write to the table, locks the item's key, reads the
 * item, sends the original request unchanged, reads the item again, unlocks, and publishes an
 * INSERT / MODIFY / REMOVE record when (and only when) the item changed.
 *
 * To save reads, a PutItem or DeleteItem that asks for no return values is sent (with the same
 * marshalled input) through the unwrapped client with ReturnValues ALL_OLD, an UpdateItem with
 * ALL_NEW, and `Attributes` is stripped from the response again, so callers see DynamoDB's
 * response. (Going through `next` instead would not work for lib-dynamodb callers: the document
 * client unmarshalls `Attributes` below the build step.) Writes that ask for return values, item
 * collection metrics or ReturnValuesOnConditionCheckFailure go out unchanged through `next`,
 * between two consistent reads.
 */
import { randomUUID } from 'crypto';
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  type DeleteItemCommandInput,
  type DynamoDBClient,
  type PutItemCommandInput,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  type UpdateItemCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue as StreamAttributeValue, DynamoDBRecord, StreamRecord } from 'aws-lambda';
import { TABLE_KEYS } from '../../shared/aws/dynamodb/table-definition';
import { errorName, type StreamBus } from './streams';

export type Item = Record<string, AttributeValue>;
export type StreamImage = Record<string, StreamAttributeValue>;

/** The userIdentity DynamoDB puts on REMOVE records of TTL deletions. */
export const TTL_USER_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' } as const;

export const CAPTURE_MIDDLEWARE_NAME = 'localDynamoStreamCapture';

interface Sent {
  output: ServiceOutputTypes;
  response: unknown;
}

interface Captured<T> {
  result: T;
  oldImage: Item | undefined;
  newImage: Item | undefined;
}

export interface ChangeCaptureOptions {
  /** The capturing client (BatchWriteItem is split into single writes sent through it). */
  client: DynamoDBClient;
  /** Unwrapped client for the reads around a write. */
  rawClient: DynamoDBClient;
  tableName: string;
  region: string;
  bus: StreamBus;
}

export class ChangeCapture {
  private readonly locks = new KeyLocks();
  private sequence = BigInt(Date.now()) * 1_000_000n;
  private readonly streamArn: string;

  constructor(private readonly options: ChangeCaptureOptions) {
    this.streamArn = `arn:aws:dynamodb:${options.region}:000000000000:table/${options.tableName}/stream/local`;
  }

  install(): void {
    this.options.client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = context.commandName;
        const input: ServiceInputTypes = args.input;
        if (command === 'TransactWriteItemsCommand' || command === 'ExecuteTransactionCommand') {
          throw new Error(
            `${command.replace(/Command$/, '')} is not supported by the local runtime: dynalite has no transactions, ` +
              'and the design uses single-item conditional writes only (see ARCHITECTURE.md, "Local runtime").',
          );
        }
        const original = async (): Promise<Sent> => next(args);
        if (command === 'PutItemCommand' && isPutItemInput(input) && input.TableName === this.options.tableName) {
          return this.put(input, original);
        }
        if (command === 'UpdateItemCommand' && isUpdateItemInput(input) && input.TableName === this.options.tableName) {
          return this.update(input, original);
        }
        if (command === 'DeleteItemCommand' && isDeleteItemInput(input) && input.TableName === this.options.tableName) {
          return this.delete(input, original);
        }
        if (command === 'BatchWriteItemCommand' && isBatchWriteItemInput(input)) {
          return this.batchWrite(input, async () => next(args));
        }
        return next(args);
      },
      { step: 'build', priority: 'high', name: CAPTURE_MIDDLEWARE_NAME, override: true },
    );
  }

  /** Deletes an item if its TTL attribute is still below `now`, emitting a TTL-style REMOVE. */
  async deleteIfExpired(key: Item, nowEpochSeconds: number): Promise<boolean> {
    return this.withCapture(key, TTL_USER_IDENTITY, async () => {
      try {
        const out = await this.options.rawClient.send(
          new DeleteItemCommand({
            TableName: this.options.tableName,
            Key: key,
            ConditionExpression: '#ttl < :now',
            ExpressionAttributeNames: { '#ttl': TABLE_KEYS.ttlAttribute },
            ExpressionAttributeValues: { ':now': { N: String(nowEpochSeconds) } },
            ReturnValues: 'ALL_OLD',
          }),
        );
        return { result: true, oldImage: out.Attributes, newImage: undefined };
      } catch (error) {
        if (errorName(error) === 'ConditionalCheckFailedException') {
          return { result: false, oldImage: undefined, newImage: undefined };
        }
        throw error;
      }
    });
  }

  private async put(input: PutItemCommandInput, original: () => Promise<Sent>): Promise<Sent> {
    const key = keyOf(input.Item);
    if (key === undefined) return original(); // let DynamoDB reject it
    return this.withCapture(key, undefined, async () => {
      if (asksForNothingBack(input)) {
        const { Attributes, ...output } = await this.options.rawClient.send(new PutItemCommand({ ...input, ReturnValues: 'ALL_OLD' }));
        return { result: synthetic(output), oldImage: Attributes, newImage: await this.read(key) };
      }
      const oldImage = await this.read(key);
      const result = await original();
      return { result, oldImage, newImage: await this.read(key) };
    });
  }

  private async update(input: UpdateItemCommandInput, original: () => Promise<Sent>): Promise<Sent> {
    const key = keyOf(input.Key);
    if (key === undefined) return original();
    return this.withCapture(key, undefined, async () => {
      const oldImage = await this.read(key);
      if (asksForNothingBack(input)) {
        const { Attributes, ...output } = await this.options.rawClient.send(new UpdateItemCommand({ ...input, ReturnValues: 'ALL_NEW' }));
        return { result: synthetic(output), oldImage, newImage: Attributes };
      }
      const result = await original();
      return { result, oldImage, newImage: await this.read(key) };
    });
  }

  private async delete(input: DeleteItemCommandInput, original: () => Promise<Sent>): Promise<Sent> {
    const key = keyOf(input.Key);
    if (key === undefined) return original();
    return this.withCapture(key, undefined, async () => {
      if (asksForNothingBack(input)) {
        const { Attributes, ...output } = await this.options.rawClient.send(new DeleteItemCommand({ ...input, ReturnValues: 'ALL_OLD' }));
        return { result: synthetic(output), oldImage: Attributes, newImage: undefined };
      }
      const oldImage = await this.read(key);
      const result = await original();
      return { result, oldImage, newImage: undefined };
    });
  }

  /**
   * Splits the table's part of a BatchWriteItem into single PutItem / DeleteItem calls through
   * the capturing client; other tables' requests go out unchanged in one BatchWriteItem.
   */
  private async batchWrite(input: BatchWriteItemCommandInput, passThrough: () => Promise<Sent>): Promise<Sent> {
    const { client, rawClient, tableName } = this.options;
    const requestItems = input.RequestItems ?? {};
    const mine = requestItems[tableName];
    if (mine === undefined || mine.length === 0) return passThrough();
    validateBatch(requestItems, tableName);

    const others: Record<string, WriteRequest[]> = {};
    for (const [name, requests] of Object.entries(requestItems)) if (name !== tableName) others[name] = requests;
    let unprocessed: Record<string, WriteRequest[]> = {};
    if (Object.keys(others).length > 0) {
      const out = await rawClient.send(new BatchWriteItemCommand({ RequestItems: others }));
      unprocessed = out.UnprocessedItems ?? {};
    }
    const settled = await Promise.allSettled(
      mine.map(async (request) => {
        if (request.PutRequest !== undefined) {
          await client.send(new PutItemCommand({ TableName: tableName, Item: request.PutRequest.Item }));
        } else if (request.DeleteRequest !== undefined) {
          await client.send(new DeleteItemCommand({ TableName: tableName, Key: request.DeleteRequest.Key }));
        }
      }),
    );
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
    const output: BatchWriteItemCommandOutput = {
      $metadata: { httpStatusCode: 200, attempts: 1, totalRetryDelay: 0 },
      UnprocessedItems: unprocessed,
    };
    return { output, response: { statusCode: 200, headers: {} } };
  }

  private async read(key: Item): Promise<Item | undefined> {
    const out = await this.options.rawClient.send(
      new GetItemCommand({ TableName: this.options.tableName, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }

  private async withCapture<T>(
    key: Item,
    userIdentity: typeof TTL_USER_IDENTITY | undefined,
    work: () => Promise<Captured<T>>,
  ): Promise<T> {
    const { bus, tableName } = this.options;
    const partitionKey = canonicalValue(toStreamValue(key[TABLE_KEYS.partitionKey] ?? { NULL: true }));
    const sortKey = canonicalValue(toStreamValue(key[TABLE_KEYS.sortKey] ?? { NULL: true }));
    return bus.trackCapture(() =>
      this.locks.run(`${tableName}\u0000${partitionKey}\u0000${sortKey}`, async () => {
        const { result, oldImage, newImage } = await work();
        this.emit(key, partitionKey, oldImage, newImage, userIdentity);
        return result;
      }),
    );
  }

  private emit(
    key: Item,
    partitionKey: string,
    oldItem: Item | undefined,
    newItem: Item | undefined,
    userIdentity: typeof TTL_USER_IDENTITY | undefined,
  ): void {
    const oldImage = oldItem === undefined ? undefined : toStreamImage(oldItem);
    const newImage = newItem === undefined ? undefined : toStreamImage(newItem);
    if (oldImage === undefined && newImage === undefined) return;
    if (oldImage !== undefined && newImage !== undefined && canonicalImage(oldImage) === canonicalImage(newImage)) return;
    const eventName = oldImage === undefined ? 'INSERT' : newImage === undefined ? 'REMOVE' : 'MODIFY';
    const Keys = toStreamImage(key);
    this.sequence += 1n;
    const dynamodb: StreamRecord = {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys,
      ...(newImage === undefined ? {} : { NewImage: newImage }),
      ...(oldImage === undefined ? {} : { OldImage: oldImage }),
      SequenceNumber: this.sequence.toString().padStart(21, '0'),
      SizeBytes: Buffer.byteLength(JSON.stringify({ Keys, NewImage: newImage, OldImage: oldImage })),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    };
    const record: DynamoDBRecord = {
      eventID: randomUUID().replace(/-/g, ''),
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.options.region,
      dynamodb,
      eventSourceARN: this.streamArn,
      ...(userIdentity === undefined ? {} : { userIdentity: { ...userIdentity } }),
    };
    this.options.bus.publish(record, partitionKey);
  }
}

/** Serialises async work per key (FIFO). */
class KeyLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => held);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

function isNone(value: string | undefined): boolean {
  return value === undefined || value === 'NONE';
}

/** True when DynamoDB's response to the write carries no item data (only metadata and capacity). */
function asksForNothingBack(
  input: Pick<PutItemCommandInput, 'ReturnValues' | 'ReturnItemCollectionMetrics' | 'ReturnValuesOnConditionCheckFailure'>,
): boolean {
  return isNone(input.ReturnValues) && isNone(input.ReturnItemCollectionMetrics) && isNone(input.ReturnValuesOnConditionCheckFailure);
}

function synthetic(output: ServiceOutputTypes): Sent {
  return { output, response: { statusCode: 200, headers: {} } };
}

function keyOf(item: Item | undefined): Item | undefined {
  const pk = item?.[TABLE_KEYS.partitionKey];
  const sk = item?.[TABLE_KEYS.sortKey];
  if (pk === undefined || sk === undefined) return undefined;
  return { [TABLE_KEYS.partitionKey]: pk, [TABLE_KEYS.sortKey]: sk };
}

function isPutItemInput(input: ServiceInputTypes): input is PutItemCommandInput {
  return 'Item' in input && 'TableName' in input;
}

function isUpdateItemInput(input: ServiceInputTypes): input is UpdateItemCommandInput {
  return 'Key' in input && 'TableName' in input;
}

function isDeleteItemInput(input: ServiceInputTypes): input is DeleteItemCommandInput {
  return 'Key' in input && 'TableName' in input;
}

function isBatchWriteItemInput(input: ServiceInputTypes): input is BatchWriteItemCommandInput {
  return 'RequestItems' in input;
}

function validationError(message: string): DynamoDBServiceException {
  return new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', $metadata: {}, message });
}

function validateBatch(requestItems: Record<string, WriteRequest[]>, tableName: string): void {
  const total = Object.values(requestItems).reduce((sum, requests) => sum + requests.length, 0);
  if (total > 25) {
    throw validationError('1 validation error detected: Member must have length less than or equal to 25');
  }
  const seen = new Set<string>();
  for (const request of requestItems[tableName] ?? []) {
    if ((request.PutRequest === undefined) === (request.DeleteRequest === undefined)) {
      throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
    }
    const key = keyOf(request.PutRequest?.Item ?? request.DeleteRequest?.Key);
    if (key === undefined) throw validationError('The provided key element does not match the schema');
    const id = canonicalImage(toStreamImage(key));
    if (seen.has(id)) throw validationError('Provided list of item keys contains duplicates');
    seen.add(id);
  }
}

/** SDK AttributeValue (Uint8Array binaries) to the Lambda stream event form (base64 binaries). */
export function toStreamValue(value: AttributeValue): StreamAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toStreamValue) };
  if (value.M !== undefined) return { M: toStreamImage(value.M) };
  throw new Error('unsupported DynamoDB attribute value type');
}

export function toStreamImage(item: Item): StreamImage {
  const image: StreamImage = {};
  for (const [name, value] of Object.entries(item)) image[name] = toStreamValue(value);
  return image;
}

/** Order-insensitive (map keys, set members) string form, for change detection and hashing. */
export function canonicalValue(value: StreamAttributeValue): string {
  if (value.SS !== undefined) return `SS${JSON.stringify([...value.SS].sort())}`;
  if (value.NS !== undefined) return `NS${JSON.stringify([...value.NS].sort())}`;
  if (value.BS !== undefined) return `BS${JSON.stringify([...value.BS].sort())}`;
  if (value.L !== undefined) return `L[${value.L.map(canonicalValue).join(',')}]`;
  if (value.M !== undefined) return `M${canonicalImage(value.M)}`;
  return JSON.stringify(value);
}

export function canonicalImage(image: StreamImage): string {
  const entries = Object.entries(image).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, value]) => `${JSON.stringify(name)}:${canonicalValue(value)}`).join(',')}}`;
}
