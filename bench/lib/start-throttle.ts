/**
 * Step Functions' StartExecution throttling, modelled for the local engine: a token bucket
 * (per account and region on AWS) in front of `WorkflowEngine.start`, which throws what the SDK
 * throws once its own retries are spent.
 */
import type { WorkflowEngine } from '../../shared/ports';

/**
 * StartExecution quota of Standard workflows, per account and region ("Quotas related to API
 * action throttling", https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 * Soft quotas: AWS may raise them, and an account can ask for more.
 */
export const START_EXECUTION_QUOTA = {
  /** US East (N. Virginia), US West (Oregon), Europe (Ireland). */
  largeRegions: { bucket: 1_300, refillPerSecond: 300 },
  otherRegions: { bucket: 800, refillPerSecond: 150 },
} as const;

/**
 * A token bucket that starts full and refills continuously.
 * @example
 * const bucket = new TokenBucket(130, 30);
 * if (!bucket.tryTake()) throw new StartExecutionThrottledError();
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!(capacity >= 1) || !(refillPerSecond > 0)) throw new RangeError(`bucket needs capacity >= 1 and refill > 0, got ${capacity} and ${refillPerSecond}`);
    this.tokens = capacity;
    this.last = nowMs();
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    const now = this.nowMs();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.refillPerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** What `StartExecution` answers an empty bucket with (HTTP 400, code `ThrottlingException`, "Rate exceeded"). */
export class StartExecutionThrottledError extends Error {
  constructor(options?: ErrorOptions) {
    super('Rate exceeded', options);
    this.name = 'ThrottlingException';
  }
}

/** What the throttled engine saw, for the report. */
export interface StartStats {
  /** Calls to `start`. */
  attempts: number;
  /** Refused by the bucket. */
  throttled: number;
  /** Let through to the engine (each took a token). */
  admitted: number;
  /** Admitted calls that started a new execution. */
  started: number;
  /** Admitted calls for a name that already had an execution (`started: false`). */
  alreadyStarted: number;
  /** Admitted calls that failed in the engine itself. */
  failed: number;
  /** ms (performance.now()) of the first refusal and of the last admitted call. */
  firstThrottledAt: number | undefined;
  lastAdmittedAt: number | undefined;
  /** Admitted calls from the first refusal on (the sustained part, after the burst the full bucket allows). */
  admittedAfterFirstThrottle: number;
}

export function emptyStartStats(): StartStats {
  return {
    attempts: 0,
    throttled: 0,
    admitted: 0,
    started: 0,
    alreadyStarted: 0,
    failed: 0,
    firstThrottledAt: undefined,
    lastAdmittedAt: undefined,
    admittedAfterFirstThrottle: 0,
  };
}

/**
 * The engine with `start` behind the bucket; every other method is the engine's own. A Proxy
 * rather than a wrapper class, so that the engine keeps its whole type (the local runner's
 * `executions()` and the like) whatever the port gains.
 */
export function throttleStarts<T extends WorkflowEngine>(engine: T, bucket: TokenBucket, stats: StartStats): T {
  const start: WorkflowEngine['start'] = async (versionArn, name, input) => {
    stats.attempts += 1;
    const now = performance.now();
    if (!bucket.tryTake()) {
      stats.throttled += 1;
      stats.firstThrottledAt ??= now;
      throw new StartExecutionThrottledError();
    }
    stats.admitted += 1;
    stats.lastAdmittedAt = now;
    if (stats.firstThrottledAt !== undefined) stats.admittedAfterFirstThrottle += 1;
    try {
      const result = await engine.start(versionArn, name, input);
      if (result.started) stats.started += 1;
      else stats.alreadyStarted += 1;
      return result;
    } catch (error) {
      stats.failed += 1;
      throw error;
    }
  };
  return new Proxy(engine, {
    get: (target, property) => {
      if (property === 'start') return start;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
