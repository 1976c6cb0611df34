/**
 * Helpers shared by the batching AWS adapters (EventBridge PutEvents, SQS SendMessageBatch):
 * splitting entries into request-sized batches and retrying throttled ones with back-off.
 */

/**
 * Greedy split, in order, into chunks of at most `maxCount` items and `maxBytes` bytes.
 * An item larger than `maxBytes` gets a chunk of its own (both callers reject such items beforehand).
 */
export function chunk<T extends { bytes: number }>(items: readonly T[], maxCount: number, maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxCount || bytes + item.bytes > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Exponential back-off with "equal jitter": half fixed, half random. The delay before retry
 * `retry` (1-based) is between half and all of `baseMs * 2^(retry - 1)`, capped at 5 s.
 */
export function backoffMs(baseMs: number, retry: number): number {
  const ceiling = Math.min(baseMs * 2 ** (retry - 1), 5_000);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
