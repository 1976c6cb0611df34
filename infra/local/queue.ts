/**
 * In-process emulation of SQS queues consumed through Lambda event source mappings.
 *
 * - Standard-queue semantics: at-least-once delivery, roughly first-in first-out, `delaySeconds`
 *   honoured (real seconds), message size and delay limits checked as SQS checks them.
 * - A received message is invisible for the consumer's visibility timeout. A batch that succeeds
 *   is deleted; a handler that throws leaves every message of the batch to reappear when its
 *   visibility timeout ends; a `batchItemFailures` response deletes all but the listed messages
 *   (an empty or unknown itemIdentifier fails the whole batch, as on AWS).
 * - Every receive increments `ApproximateReceiveCount`; a message whose visibility timeout ends
 *   after `maxReceiveCount` receives goes to the queue's dead-letter list instead of back on the
 *   queue (SQS moves it on the next receive attempt; moving it at once lets drain() finish).
 * - Up to `concurrency` batches per queue run at once (the event source mapping's maximum
 *   concurrency); `batchWindowMs` waits for a full batch as MaximumBatchingWindowInSeconds does.
 * - One timer per queue, armed for the earliest due time in a min-heap (delays, visibility
 *   timeouts, batch window); timers are unref()ed so they never keep the process alive.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { QUEUE_NAMES, checkMessageLimits, encodeMessageBody } from '../../shared/aws/sqs/queue';
import type { OutgoingMessage, Queue, QueueName } from '../../shared/ports';
import { ChangeSignal } from './change-signal';
import { MinHeap } from './min-heap';
import { errorMessage, errorName } from './streams';

export type QueueHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface QueueConsumerOptions {
  /** Largest batch handed to the handler (event source mapping BatchSize). Default 10. */
  batchSize?: number;
  /** How long a received message stays invisible (the queue's VisibilityTimeout). Default 30000. */
  visibilityTimeoutMs?: number;
  /** Receives before a failing message goes to the dead-letter list (redrive policy). Default 5. */
  maxReceiveCount?: number;
  /** Batches in flight at once (event source mapping MaximumConcurrency). Default 2. */
  concurrency?: number;
  /** Wait up to this long for a full batch (MaximumBatchingWindowInSeconds). Default 0. */
  batchWindowMs?: number;
}

/** A message as accepted by `send`, for the `onSend` hook. */
export interface SentMessage {
  messageId: string;
  /** The body as SQS stores it: JSON text. */
  body: string;
  delaySeconds: number;
}

/** A message moved to a queue's dead-letter list. */
export interface DeadLetter {
  messageId: string;
  body: string;
  receiveCount: number;
  /** What the last failed delivery reported (`Name: message`), if a delivery failed. */
  lastError: string | undefined;
  sentAt: string;
  deadAt: string;
}

export interface LocalQueuesOptions {
  /**
   * Called with each accepted batch before it is stored. A hook that throws makes `send` reject
   * with nothing stored, which lets tests simulate an unavailable queue.
   */
  onSend?: (queue: QueueName, messages: readonly SentMessage[]) => void;
  /** Where failures are reported (message ids only, never bodies). Default console.error. */
  log?: (message: string) => void;
  /** Region in the records' ARNs. Default us-east-1. */
  region?: string;
}

type MessageState = 'delayed' | 'visible' | 'inflight';

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly sentAt: number;
  state: MessageState;
  /** Bumped on every state change; heap and deque entries from older generations are stale. */
  gen: number;
  receiveCount: number;
  firstReceiveAt: number | undefined;
  receiptHandle: string | undefined;
  lastError: string | undefined;
}

interface Ref {
  readonly id: string;
  readonly gen: number;
}

interface Timed extends Ref {
  readonly due: number;
  readonly seq: number;
}

interface Consumer {
  readonly handler: QueueHandler;
  readonly batchSize: number;
  readonly visibilityTimeoutMs: number;
  readonly maxReceiveCount: number;
  readonly concurrency: number;
  readonly batchWindowMs: number;
}

interface QueueState {
  readonly name: QueueName;
  readonly arn: string;
  readonly messages: Map<string, StoredMessage>;
  readonly visible: Deque<Ref>;
  readonly timed: MinHeap<Timed>;
  readonly running: Set<Promise<void>>;
  readonly dead: DeadLetter[];
  consumer: Consumer | undefined;
  timer: NodeJS.Timeout | undefined;
  timerDue: number;
  pumpQueued: boolean;
  windowOpenedAt: number | undefined;
}

type Outcome = { kind: 'ok' } | { kind: 'partial'; failedIds: ReadonlySet<string> } | { kind: 'error'; error: string };

const ACCOUNT_ID = '000000000000';
/** Shape of an IAM unique id, as SQS reports the sender. */
const SENDER_ID = 'AIDAENGAGELOCAL000000';
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * The queue port locally, plus what a Lambda event source mapping would do with each queue.
 * @example
 * const queues = new LocalQueues();
 * queues.registerConsumer('send', senderHandler, { batchSize: 10, visibilityTimeoutMs: 30_000 });
 * await queues.send('send', [{ body: { messageId: 'm-1' } }]);
 * await queues.drain();
 */
export class LocalQueues implements Queue {
  private readonly queues = new Map<QueueName, QueueState>();
  private readonly changed = new ChangeSignal();
  private readonly log: (message: string) => void;
  private readonly onSend: LocalQueuesOptions['onSend'];
  private readonly region: string;
  private seq = 0;
  private closing = false;

  constructor(options: LocalQueuesOptions = {}) {
    this.log = options.log ?? ((message) => console.error(message));
    this.onSend = options.onSend;
    this.region = options.region ?? 'us-east-1';
    for (const name of QUEUE_NAMES) {
      this.queues.set(name, {
        name,
        arn: `arn:aws:sqs:${this.region}:${ACCOUNT_ID}:${name}`,
        messages: new Map(),
        visible: new Deque(),
        timed: new MinHeap((a, b) => a.due - b.due || a.seq - b.seq),
        running: new Set(),
        dead: [],
        consumer: undefined,
        timer: undefined,
        timerDue: Number.POSITIVE_INFINITY,
        pumpQueued: false,
        windowOpenedAt: undefined,
      });
    }
  }

  /** Stores the messages (all or none) and returns; delivery happens asynchronously. */
  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    this.enqueue(this.queueOf(queue), messages);
  }

  /** Wires a handler to a queue, like an event source mapping; one consumer per queue. */
  registerConsumer(queue: QueueName, handler: QueueHandler, options: QueueConsumerOptions = {}): void {
    const q = this.queueOf(queue);
    if (q.consumer !== undefined) throw new Error(`queue "${queue}" already has a consumer`);
    q.consumer = {
      handler,
      batchSize: integerIn(options.batchSize ?? 10, 1, 10_000, 'batchSize'),
      visibilityTimeoutMs: integerIn(options.visibilityTimeoutMs ?? 30_000, 1, 12 * 3_600_000, 'visibilityTimeoutMs'),
      maxReceiveCount: integerIn(options.maxReceiveCount ?? 5, 1, 1_000, 'maxReceiveCount'),
      concurrency: integerIn(options.concurrency ?? 2, 1, 1_000, 'concurrency'),
      batchWindowMs: integerIn(options.batchWindowMs ?? 0, 0, 300_000, 'batchWindowMs'),
    };
    this.requestPump(q);
  }

  /** Messages on the queue: visible, in flight and delayed (not the dead letters). */
  depth(queue: QueueName): number {
    return this.queueOf(queue).messages.size;
  }

  /** Messages moved to the queue's dead-letter list, oldest first. */
  deadLetters(queue: QueueName): DeadLetter[] {
    return this.queueOf(queue).dead.map((letter) => ({ ...letter }));
  }

  /**
   * Resolves when every queue that has a consumer is empty (delayed messages included) and no
   * handler is running, messages sent by handlers meanwhile included. Queues without a consumer
   * are not waited for: nothing would ever empty them.
   */
  async drain(timeoutMs: number = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.isQuiescent()) {
        // Let anything scheduled in this turn (setImmediate, resolved promises) show itself.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.isQuiescent()) return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`drain() timed out after ${timeoutMs} ms: ${this.describePending()}`);
      await this.changed.wait(Math.min(remaining, 100));
    }
  }

  /**
   * Stops delivering: clears the timers and waits for the handlers that are running. Messages
   * stay where they are (in memory); later sends are stored but not delivered.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const q of this.queues.values()) this.disarm(q);
    for (;;) {
      const running = [...this.queues.values()].flatMap((q) => [...q.running]);
      if (running.length === 0) break;
      await Promise.allSettled(running);
    }
    this.changed.notify();
  }

  private queueOf(queue: QueueName): QueueState {
    const q = this.queues.get(queue);
    if (q === undefined) throw new Error(`unknown queue "${String(queue)}"; expected one of ${QUEUE_NAMES.join(', ')}`);
    return q;
  }

  private enqueue(q: QueueState, messages: readonly OutgoingMessage[]): void {
    const sent: SentMessage[] = messages.map((message, index) => {
      const body = encodeMessageBody(message.body);
      checkMessageLimits(q.name, index, Buffer.byteLength(body, 'utf8'), message.delaySeconds);
      return { messageId: randomUUID(), body, delaySeconds: message.delaySeconds ?? 0 };
    });
    if (sent.length === 0) return;
    this.onSend?.(q.name, sent.map((m) => ({ ...m })));

    const now = Date.now();
    for (const { messageId, body, delaySeconds } of sent) {
      const message: StoredMessage = {
        id: messageId,
        body,
        md5: createHash('md5').update(body, 'utf8').digest('hex'),
        sentAt: now,
        state: delaySeconds > 0 ? 'delayed' : 'visible',
        gen: 0,
        receiveCount: 0,
        firstReceiveAt: undefined,
        receiptHandle: undefined,
        lastError: undefined,
      };
      q.messages.set(messageId, message);
      if (message.state === 'delayed') q.timed.push({ id: messageId, gen: 0, due: now + delaySeconds * 1000, seq: this.seq++ });
      else q.visible.push({ id: messageId, gen: 0 });
    }
    this.requestPump(q);
    this.changed.notify();
  }

  /** Runs pump() once on the next turn, so that messages sent in one turn gather into batches. */
  private requestPump(q: QueueState): void {
    if (q.pumpQueued || this.closing) return;
    q.pumpQueued = true;
    setImmediate(() => {
      q.pumpQueued = false;
      this.pump(q);
    });
  }

  private pump(q: QueueState): void {
    if (this.closing) return;
    const now = Date.now();
    for (let top = q.timed.peek(); top !== undefined && top.due <= now; top = q.timed.peek()) {
      q.timed.pop();
      const message = q.messages.get(top.id);
      if (message === undefined || message.gen !== top.gen) continue;
      if (message.state === 'inflight' && q.consumer !== undefined && message.receiveCount >= q.consumer.maxReceiveCount) {
        this.deadLetter(q, message, now);
      } else {
        message.state = 'visible';
        message.gen += 1;
        q.visible.push({ id: message.id, gen: message.gen });
      }
    }
    this.dispatch(q, now);
    this.arm(q, now);
  }

  private dispatch(q: QueueState, now: number): void {
    const consumer = q.consumer;
    if (consumer === undefined) return;
    while (q.running.size < consumer.concurrency) {
      this.dropStaleHead(q);
      if (q.visible.length === 0) {
        q.windowOpenedAt = undefined;
        return;
      }
      if (consumer.batchWindowMs > 0 && q.visible.length < consumer.batchSize) {
        q.windowOpenedAt ??= now;
        if (now < q.windowOpenedAt + consumer.batchWindowMs) return;
      }
      q.windowOpenedAt = undefined;
      const batch: StoredMessage[] = [];
      while (batch.length < consumer.batchSize && q.visible.length > 0) {
        const ref = q.visible.shift();
        const message = ref === undefined ? undefined : q.messages.get(ref.id);
        if (ref !== undefined && message !== undefined && message.gen === ref.gen && message.state === 'visible') batch.push(message);
      }
      if (batch.length > 0) this.deliver(q, consumer, batch, now);
    }
  }

  private dropStaleHead(q: QueueState): void {
    for (let ref = q.visible.peek(); ref !== undefined; ref = q.visible.peek()) {
      const message = q.messages.get(ref.id);
      if (message !== undefined && message.gen === ref.gen && message.state === 'visible') return;
      q.visible.shift();
    }
  }

  private deliver(q: QueueState, consumer: Consumer, batch: readonly StoredMessage[], now: number): void {
    const receipts = new Map<string, string>();
    const records: SQSRecord[] = batch.map((message) => {
      message.receiveCount += 1;
      message.firstReceiveAt ??= now;
      message.receiptHandle = randomBytes(96).toString('base64');
      message.state = 'inflight';
      message.gen += 1;
      q.timed.push({ id: message.id, gen: message.gen, due: now + consumer.visibilityTimeoutMs, seq: this.seq++ });
      receipts.set(message.id, message.receiptHandle);
      return {
        messageId: message.id,
        receiptHandle: message.receiptHandle,
        body: message.body,
        attributes: {
          ApproximateReceiveCount: String(message.receiveCount),
          SentTimestamp: String(message.sentAt),
          SenderId: SENDER_ID,
          ApproximateFirstReceiveTimestamp: String(message.firstReceiveAt),
        },
        messageAttributes: {},
        md5OfBody: message.md5,
        eventSource: 'aws:sqs',
        eventSourceARN: q.arn,
        awsRegion: this.region,
      };
    });

    const run = (async (): Promise<void> => {
      // Start the handler on a later turn, as a separate invocation would.
      await Promise.resolve();
      const outcome = await invoke(consumer.handler, { Records: records }, receipts);
      try {
        this.settle(q, consumer, receipts, outcome);
      } catch (error) {
        this.log(`[local-queue] ${q.name}: settling a batch failed: ${errorName(error)}`);
      }
    })();
    q.running.add(run);
    void run.finally(() => {
      q.running.delete(run);
      this.requestPump(q);
      this.changed.notify();
    });
  }

  /** What the event source mapping does after an invocation: delete what succeeded. */
  private settle(q: QueueState, consumer: Consumer, receipts: ReadonlyMap<string, string>, outcome: Outcome): void {
    const failed: StoredMessage[] = [];
    for (const [id, receiptHandle] of receipts) {
      const message = q.messages.get(id);
      // A stale receipt handle (the message was received again meanwhile) deletes nothing, as in SQS.
      if (message === undefined || message.receiptHandle !== receiptHandle) continue;
      const ok = outcome.kind === 'ok' || (outcome.kind === 'partial' && !outcome.failedIds.has(id));
      if (ok) {
        q.messages.delete(id);
        continue;
      }
      message.lastError = outcome.kind === 'error' ? outcome.error : 'reported in batchItemFailures';
      failed.push(message);
    }
    if (failed.length > 0) {
      const how = outcome.kind === 'error' ? `handler threw ${outcome.error.split(':')[0] ?? 'an error'}` : 'batchItemFailures';
      const receives = Math.max(...failed.map((m) => m.receiveCount));
      this.log(
        `[local-queue] ${q.name}: ${how} for ${describeIds(failed)} (receive ${receives} of ${consumer.maxReceiveCount}); ` +
          `visible again after the ${consumer.visibilityTimeoutMs} ms visibility timeout`,
      );
    }
  }

  private deadLetter(q: QueueState, message: StoredMessage, now: number): void {
    q.messages.delete(message.id);
    q.dead.push({
      messageId: message.id,
      body: message.body,
      receiveCount: message.receiveCount,
      lastError: message.lastError,
      sentAt: new Date(message.sentAt).toISOString(),
      deadAt: new Date(now).toISOString(),
    });
    this.log(`[local-queue] ${q.name}: messageId ${message.id} moved to the dead-letter list after ${message.receiveCount} receive(s)`);
    this.changed.notify();
  }

  /** Arms the queue's one timer for the earliest due time (delay, visibility timeout, batch window). */
  private arm(q: QueueState, now: number): void {
    let due = q.timed.peek()?.due ?? Number.POSITIVE_INFINITY;
    const consumer = q.consumer;
    if (consumer !== undefined && q.windowOpenedAt !== undefined && q.visible.length > 0 && q.running.size < consumer.concurrency) {
      due = Math.min(due, q.windowOpenedAt + consumer.batchWindowMs);
    }
    if (due === Number.POSITIVE_INFINITY) {
      this.disarm(q);
      return;
    }
    if (q.timer !== undefined && q.timerDue <= due) return;
    this.disarm(q);
    q.timerDue = due;
    q.timer = setTimeout(() => {
      q.timer = undefined;
      q.timerDue = Number.POSITIVE_INFINITY;
      this.pump(q);
    }, Math.max(0, due - now));
    q.timer.unref();
  }

  private disarm(q: QueueState): void {
    if (q.timer !== undefined) clearTimeout(q.timer);
    q.timer = undefined;
    q.timerDue = Number.POSITIVE_INFINITY;
  }

  private isQuiescent(): boolean {
    for (const q of this.queues.values()) {
      if (q.running.size > 0) return false;
      if (q.consumer !== undefined && q.messages.size > 0) return false;
    }
    return true;
  }

  private describePending(): string {
    const parts: string[] = [];
    for (const q of this.queues.values()) {
      if (q.consumer === undefined && q.running.size === 0) continue;
      const counts: Record<MessageState, number> = { delayed: 0, visible: 0, inflight: 0 };
      for (const message of q.messages.values()) counts[message.state] += 1;
      if (q.messages.size > 0 || q.running.size > 0) {
        parts.push(
          `queue "${q.name}": ${counts.visible} visible, ${counts.inflight} in flight, ${counts.delayed} delayed, ${q.running.size} batch(es) running`,
        );
      }
    }
    return parts.join('; ');
  }
}

async function invoke(handler: QueueHandler, event: SQSEvent, receipts: ReadonlyMap<string, string>): Promise<Outcome> {
  let response: SQSBatchResponse | void;
  try {
    response = await handler(event);
  } catch (error) {
    return { kind: 'error', error: `${errorName(error)}: ${errorMessage(error)}` };
  }
  const failures: unknown = response?.batchItemFailures;
  if (failures === undefined || failures === null || (Array.isArray(failures) && failures.length === 0)) return { kind: 'ok' };
  if (!Array.isArray(failures)) return { kind: 'error', error: 'InvalidBatchItemFailures: batchItemFailures is not an array' };
  const list: unknown[] = failures;
  const failedIds = new Set<string>();
  for (const failure of list) {
    const id: unknown = typeof failure === 'object' && failure !== null && 'itemIdentifier' in failure ? failure.itemIdentifier : undefined;
    if (typeof id !== 'string' || !receipts.has(id)) {
      // As on AWS: an empty, null or unknown itemIdentifier fails the whole batch.
      return { kind: 'error', error: 'InvalidBatchItemFailures: batchItemFailures named an itemIdentifier not in the batch' };
    }
    failedIds.add(id);
  }
  return { kind: 'partial', failedIds };
}

function describeIds(messages: readonly StoredMessage[]): string {
  const ids = messages.map((m) => m.id);
  return `messageId(s) ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}`;
}

function integerIn(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

/** FIFO with amortised O(1) shift. */
class Deque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
