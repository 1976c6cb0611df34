/**
 * Counts the DynamoDB requests a client sends, by operation, with an AWS SDK v3 middleware at
 * the `initialize` step (before serialisation, retries and the local change-capture
 * middleware, which sits at `build`). One `client.send()` = one counted request.
 *
 * The local change capture splits a BatchWriteItem on the table into PutItem / DeleteItem calls
 * sent through the same (capturing) client; those inner calls are an artefact of the local
 * runtime (on AWS the batch is one request), so they are counted apart as `nested`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems', 'ExecuteStatement']);
export const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems', 'ExecuteTransaction']);

export type Counts = Record<string, number>;

export interface CounterSnapshot {
  /** Requests by operation name (e.g. `GetItem`). */
  requests: Counts;
  /** Items written by BatchWriteItem / TransactWriteItems (each is billed as one write). */
  batchedWriteItems: number;
  /** Calls made by the local runtime inside a counted BatchWriteItem (not application requests). */
  nested: Counts;
  /** HTTP requests that reached the endpoint (after the capture middleware, one per retry attempt). */
  wire: Counts;
  /** Counted requests by the label the optional classifier gave them (empty without one). */
  kinds: Counts;
}

/** Labels a counted request (e.g. by the item it addresses); given the operation name and the command input. */
export type RequestClassifier = (operation: string, input: unknown) => string;

interface BatchScope {
  active: boolean;
}

function itemCount(input: unknown, field: 'RequestItems' | 'TransactItems'): number {
  if (typeof input !== 'object' || input === null || !(field in input)) return 0;
  const value: unknown = (input as Record<string, unknown>)[field];
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'object' && value !== null) {
    return Object.values(value).reduce<number>((sum, requests) => sum + (Array.isArray(requests) ? requests.length : 0), 0);
  }
  return 0;
}

export class RequestCounter {
  private requests: Counts = {};
  private nested: Counts = {};
  private wire: Counts = {};
  private kinds: Counts = {};
  private batchedWriteItems = 0;
  private readonly scope = new AsyncLocalStorage<BatchScope>();

  constructor(
    readonly name: string,
    private readonly classify?: RequestClassifier,
  ) {}

  install(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const outer = this.scope.getStore();
        if (outer?.active) {
          this.nested[operation] = (this.nested[operation] ?? 0) + 1;
          return next(args);
        }
        this.requests[operation] = (this.requests[operation] ?? 0) + 1;
        if (this.classify !== undefined) {
          const kind = this.classify(operation, args.input);
          this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
        }
        if (operation === 'BatchWriteItem' || operation === 'TransactWriteItems') {
          this.batchedWriteItems += itemCount(args.input, operation === 'BatchWriteItem' ? 'RequestItems' : 'TransactItems');
          const scope: BatchScope = { active: true };
          try {
            return await this.scope.run(scope, () => next(args));
          } finally {
            // Work scheduled from inside the batch (stream deliveries) inherits the scope object.
            scope.active = false;
          }
        }
        return next(args);
      },
      { step: 'initialize', name: `benchRequestCounter-${this.name}`, priority: 'high' },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.wire[operation] = (this.wire[operation] ?? 0) + 1;
        return next(args);
      },
      { step: 'deserialize', name: `benchWireCounter-${this.name}`, priority: 'low' },
    );
    return this;
  }

  snapshot(): CounterSnapshot {
    return {
      requests: { ...this.requests },
      nested: { ...this.nested },
      wire: { ...this.wire },
      kinds: { ...this.kinds },
      batchedWriteItems: this.batchedWriteItems,
    };
  }
}

export function diffCounts(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [op, n] of Object.entries(after)) {
    const d = n - (before[op] ?? 0);
    if (d !== 0) out[op] = d;
  }
  return out;
}

export function diffSnapshots(after: CounterSnapshot, before: CounterSnapshot): CounterSnapshot {
  return {
    requests: diffCounts(after.requests, before.requests),
    nested: diffCounts(after.nested, before.nested),
    wire: diffCounts(after.wire, before.wire),
    kinds: diffCounts(after.kinds, before.kinds),
    batchedWriteItems: after.batchedWriteItems - before.batchedWriteItems,
  };
}

export function sumOf(counts: Counts, operations?: Set<string>): number {
  return Object.entries(counts).reduce((sum, [op, n]) => (operations === undefined || operations.has(op) ? sum + n : sum), 0);
}

/** Write requests, and write items (a BatchWriteItem of 25 is one request but 25 billed writes). */
export function writesOf(snapshot: CounterSnapshot): { requests: number; items: number } {
  const requests = sumOf(snapshot.requests, WRITE_OPERATIONS);
  const batches = (snapshot.requests.BatchWriteItem ?? 0) + (snapshot.requests.TransactWriteItems ?? 0);
  return { requests, items: requests - batches + snapshot.batchedWriteItems };
}

export function readsOf(snapshot: CounterSnapshot): number {
  return sumOf(snapshot.requests, READ_OPERATIONS);
}
