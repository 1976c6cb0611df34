import {
  SendMessageBatchCommand,
  type BatchResultErrorEntry,
  type SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import type { OutgoingMessage, Queue, QueueName } from '../../ports';
import { backoffMs, chunk, sleep } from '../batching';

/** Every logical queue, in a fixed order. */
export const QUEUE_NAMES: readonly QueueName[] = ['backfill', 'send', 'fanout', 'entry', 'feedback'];

/** SendMessageBatch takes at most 10 entries. */
export const SQS_MAX_BATCH_ENTRIES = 10;
/**
 * Largest message, and largest sum of the messages of one batch, that we send. SQS now accepts
 * 1 MiB, but a queue's `MaximumMessageSize` may still be the former 256 KiB default; staying under
 * it keeps every queue and every consumer (Lambda's 256 KB async payload) safe.
 */
export const SQS_MAX_PAYLOAD_BYTES = 256 * 1024;
/** SQS limit for DelaySeconds. */
export const SQS_MAX_DELAY_SECONDS = 900;

/** Thrown when messages could not be sent, after the retries. Names the queue, never the bodies. */
export class QueueSendError extends Error {
  constructor(
    readonly queue: QueueName,
    readonly failedCount: number,
    readonly total: number,
    readonly codes: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `queue "${queue}": ${failedCount} of ${total} message(s) were not sent` + (codes.length > 0 ? ` (${codes.join(', ')})` : ''),
      options,
    );
    this.name = 'QueueSendError';
  }
}

/**
 * Name of the environment variable that holds a queue's URL.
 * @example queueUrlEnvVar('fanout') // 'QUEUE_URL_FANOUT'
 */
export function queueUrlEnvVar(queue: string): string {
  return `QUEUE_URL_${queue.toUpperCase()}`;
}

/**
 * Reads the queue URLs a function was given (`QUEUE_URL_BACKFILL`, `QUEUE_URL_SEND`,
 * `QUEUE_URL_FANOUT`, `QUEUE_URL_ENTRY`); missing or empty ones are `undefined`, and only fail when
 * that queue is used.
 * @example new SqsQueue(sqsClient, queueUrlsFromEnv(process.env))
 */
export function queueUrlsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Record<QueueName, string | undefined> {
  const read = (queue: QueueName): string | undefined => {
    const value = env[queueUrlEnvVar(queue)]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return { backfill: read('backfill'), send: read('send'), fanout: read('fanout'), entry: read('entry'), feedback: read('feedback') };
}

/**
 * A message body as SQS receives it: JSON, with U+FFFE and U+FFFF escaped (JSON.stringify leaves
 * them as they are, and SQS rejects them as InvalidMessageContents; every other character JSON
 * leaves unescaped is allowed).
 */
export function encodeMessageBody(body: unknown): string {
  const json: unknown = JSON.stringify(body);
  if (typeof json !== 'string') throw new TypeError(`a message body must be serialisable as JSON, got ${typeof body}`);
  return json.replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** Checks one message against SQS limits; throws a RangeError naming the queue and the message index. */
export function checkMessageLimits(queue: QueueName, index: number, bodyBytes: number, delaySeconds: number | undefined): void {
  if (bodyBytes > SQS_MAX_PAYLOAD_BYTES) {
    throw new RangeError(`queue "${queue}": message ${index} is ${bodyBytes} bytes, over the ${SQS_MAX_PAYLOAD_BYTES}-byte limit`);
  }
  if (delaySeconds !== undefined && (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > SQS_MAX_DELAY_SECONDS)) {
    throw new RangeError(`queue "${queue}": message ${index} has delaySeconds ${delaySeconds}, expected an integer from 0 to ${SQS_MAX_DELAY_SECONDS}`);
  }
}

export interface SqsQueueOptions {
  /** Attempts per batch entry, the first included. Default 4. */
  maxAttempts?: number;
  /** First back-off before retrying failed entries; doubles each time, with jitter. Default 100 ms. */
  baseDelayMs?: number;
  /** Batches sent at the same time by one `send`. Default 4. */
  parallelBatches?: number;
}

interface Prepared {
  entry: SendMessageBatchRequestEntry;
  bytes: number;
}

/**
 * The queue port on SQS: batches of up to 10 messages and 256 KiB, entries reported in `Failed`
 * retried with back-off (except sender faults, which would fail again), and a QueueSendError if
 * any message is still unsent. Messages of other batches may have been sent when it throws: the
 * caller retries the whole send, and consumers are idempotent (at-least-once delivery).
 */
export class SqsQueue implements Queue {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly parallelBatches: number;

  constructor(
    private readonly client: SQSClient,
    private readonly urls: Record<QueueName, string | undefined>,
    options: SqsQueueOptions = {},
  ) {
    this.maxAttempts = positiveInteger(options.maxAttempts ?? 4, 'maxAttempts');
    this.baseDelayMs = Math.max(0, options.baseDelayMs ?? 100);
    this.parallelBatches = positiveInteger(options.parallelBatches ?? 4, 'parallelBatches');
  }

  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    const url = Object.hasOwn(this.urls, queue) ? this.urls[queue] : undefined;
    if (url === undefined || url === '') throw new Error(`${queueUrlEnvVar(queue)} is not set for this function (queue "${queue}")`);
    if (messages.length === 0) return;

    const prepared: Prepared[] = messages.map((message, index) => {
      const body = encodeMessageBody(message.body);
      const bytes = Buffer.byteLength(body, 'utf8');
      checkMessageLimits(queue, index, bytes, message.delaySeconds);
      const entry: SendMessageBatchRequestEntry = { Id: String(index), MessageBody: body };
      if (message.delaySeconds !== undefined) entry.DelaySeconds = message.delaySeconds;
      return { entry, bytes };
    });
    const batches = chunk(prepared, SQS_MAX_BATCH_ENTRIES, SQS_MAX_PAYLOAD_BYTES);

    const unsent: BatchResultErrorEntry[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < batches.length; i = next++) {
        const batch = batches[i];
        if (batch !== undefined) unsent.push(...(await this.sendBatch(url, batch)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.parallelBatches, batches.length) }, worker));

    if (unsent.length > 0) {
      const codes = [...new Set(unsent.map((failure) => failure.Code ?? 'Unknown'))].sort();
      throw new QueueSendError(queue, unsent.length, messages.length, codes);
    }
  }

  /** Sends one batch, retrying what SQS reports in `Failed`; returns what is still unsent. */
  private async sendBatch(url: string, batch: readonly Prepared[]): Promise<BatchResultErrorEntry[]> {
    let pending = batch.map((p) => p.entry);
    const permanent: BatchResultErrorEntry[] = [];
    let last: BatchResultErrorEntry[] = [];
    for (let attempt = 1; attempt <= this.maxAttempts && pending.length > 0; attempt += 1) {
      if (attempt > 1) await sleep(backoffMs(this.baseDelayMs, attempt - 1));
      const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: pending }));
      const failed = out.Failed ?? [];
      const byId = new Map(pending.map((entry) => [entry.Id, entry]));
      const retry: SendMessageBatchRequestEntry[] = [];
      last = [];
      for (const failure of failed) {
        const entry = byId.get(failure.Id);
        if (entry === undefined) continue;
        if (failure.SenderFault === true) permanent.push(failure);
        else {
          retry.push(entry);
          last.push(failure);
        }
      }
      pending = retry;
    }
    return [...permanent, ...(pending.length > 0 ? last : [])];
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
