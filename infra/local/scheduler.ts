/**
 * In-process emulation of EventBridge Scheduler one-time schedules (the Scheduler port locally).
 *
 * - A schedule fires at its `at` time; one already past fires at once (on the next tick, never
 *   inside `scheduleOnce`). Unlike the AWS adapter, nothing is moved to now + 60 s: locally a past
 *   time fires at once.
 * - One timer, armed for the earliest due schedule (a min-heap with lazy deletion), unref()ed so
 *   that it never keeps the process alive; delays over setTimeout's 24.8-day limit re-arm.
 * - Idempotent by name: `scheduleOnce` for a name that is pending or firing changes nothing.
 *   `cancel` removes it (and stops the retries of one that is firing).
 * - A schedule is deleted once it fired (ActionAfterCompletion DELETE); its name is then free again.
 * - `onFire` failures are retried with exponential back-off (`maxAttempts`, default 4 attempts);
 *   after the last one the schedule is logged by name only and listed by `failed()` (EventBridge
 *   Scheduler would send it to the dead-letter queue).
 * - With a `store` (schedule-store.ts on the DynamoDB table) schedules survive a restart: each is
 *   saved before `scheduleOnce` resolves and removed after it fired, failed for good or was
 *   cancelled; `start()` loads the stored ones and arms the timer. A process that dies while a
 *   schedule fires fires it again after the restart (at-least-once, as on AWS).
 * - `timeScale` (ENGAGE_TIME_SCALE) compresses waiting: the scheduler's time runs `timeScale`
 *   times faster than `clock` from the moment it was constructed, so a schedule a day ahead fires
 *   after one second at 86400. Retry back-off is real time.
 */
import { systemClock, type Clock, type Scheduler } from '../../shared/ports';
import { MinHeap } from './min-heap';
import { errorMessage, errorName } from './streams';

export interface LocalScheduleEntry {
  name: string;
  at: Date;
  payload: Record<string, unknown>;
}

/** Where schedules are kept across restarts (see schedule-store.ts). */
export interface LocalScheduleStore {
  load(): Promise<LocalScheduleEntry[]>;
  save(entry: LocalScheduleEntry): Promise<void>;
  remove(name: string): Promise<void>;
}

export interface FailedSchedule extends LocalScheduleEntry {
  attempts: number;
  /** `Name: message` of the last failure. */
  lastError: string;
  /** ISO time (of `clock`). */
  failedAt: string;
}

export interface LocalSchedulerOptions {
  /** What a schedule invokes: the local stand-in for the schedule's target. */
  onFire: (name: string, payload: Record<string, unknown>) => Promise<void>;
  store?: LocalScheduleStore;
  /** Default 1. */
  timeScale?: number;
  /** Default the system clock. */
  clock?: Clock;
  /** Attempts per firing, the first included. Default 4. */
  maxAttempts?: number;
  /** First retry delay in real milliseconds; doubles each retry. Default 100. */
  retryBaseMs?: number;
  /** Where failures are reported (schedule names only). Default console.error. */
  log?: (message: string) => void;
}

interface Pending {
  readonly entry: LocalScheduleEntry;
  readonly seq: number;
}

interface HeapItem {
  readonly name: string;
  readonly seq: number;
  readonly at: number;
}

interface Firing {
  cancelled: boolean;
}

/** setTimeout's largest delay. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export class LocalScheduler implements Scheduler {
  private readonly onFire: LocalSchedulerOptions['onFire'];
  private readonly store: LocalScheduleStore | undefined;
  private readonly timeScale: number;
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly log: (message: string) => void;
  private readonly origin: number;

  private readonly pending = new Map<string, Pending>();
  private readonly firing = new Map<string, Firing>();
  /** Names whose scheduleOnce is saving them to the store. */
  private readonly saving = new Map<string, Firing>();
  private readonly heap = new MinHeap<HeapItem>((a, b) => a.at - b.at || a.seq - b.seq);
  private readonly running = new Set<Promise<void>>();
  private readonly failures: FailedSchedule[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private seq = 0;
  private started: Promise<void> | undefined;
  private closed = false;

  constructor(options: LocalSchedulerOptions) {
    this.onFire = options.onFire;
    this.store = options.store;
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0) || !Number.isFinite(this.timeScale)) throw new RangeError(`timeScale must be a positive number, got ${options.timeScale}`);
    this.clock = options.clock ?? systemClock;
    this.maxAttempts = options.maxAttempts ?? 4;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${options.maxAttempts}`);
    this.retryBaseMs = Math.max(0, options.retryBaseMs ?? 100);
    this.log = options.log ?? ((message) => console.error(message));
    this.origin = this.clock.now().getTime();
  }

  /** Loads the stored schedules (if there is a store) and arms the timer. Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      let stored: LocalScheduleEntry[];
      try {
        stored = this.store === undefined ? [] : await this.store.load();
      } catch (error) {
        this.started = undefined; // may be tried again
        throw error;
      }
      for (const entry of stored) {
        if (this.closed || this.pending.has(entry.name) || this.firing.has(entry.name) || this.saving.has(entry.name) || Number.isNaN(entry.at.getTime())) continue;
        this.add({ name: entry.name, at: new Date(entry.at.getTime()), payload: entry.payload });
      }
      this.arm();
    })();
    return this.started;
  }

  async scheduleOnce(name: string, at: Date, payload: Record<string, unknown>): Promise<void> {
    if (this.closed) throw new Error('local scheduler is closed');
    if (name === '') throw new RangeError('a schedule name must not be empty');
    if (Number.isNaN(at.getTime())) throw new RangeError(`schedule "${name}": invalid date`);
    const json: unknown = JSON.stringify(payload);
    if (typeof json !== 'string') throw new TypeError(`schedule "${name}": the payload must be serialisable as JSON`);
    if (this.pending.has(name) || this.firing.has(name) || this.saving.has(name)) return;
    const entry: LocalScheduleEntry = { name, at: new Date(at.getTime()), payload: JSON.parse(json) as Record<string, unknown> };
    if (this.store !== undefined) {
      // Stored before it can fire, so that its removal after firing cannot precede the save.
      const saving: Firing = { cancelled: false };
      this.saving.set(name, saving);
      try {
        await this.store.save(entry);
      } finally {
        if (this.saving.get(name) === saving) this.saving.delete(name);
      }
      if (saving.cancelled) {
        // cancel() ran during the save and its removal may have come first: remove again,
        // unless the name has been scheduled anew since.
        if (!this.pending.has(name) && !this.saving.has(name) && !this.firing.has(name)) await this.store.remove(name);
        return;
      }
    }
    if (this.closed) return; // stored: it fires after a restart
    this.add(entry);
    this.arm();
  }

  async cancel(name: string): Promise<void> {
    this.pending.delete(name);
    const saving = this.saving.get(name);
    if (saving !== undefined) {
      saving.cancelled = true;
      this.saving.delete(name);
    }
    const firing = this.firing.get(name);
    if (firing !== undefined) {
      // Stops its retries and frees the name at once, as DeleteSchedule does.
      firing.cancelled = true;
      this.firing.delete(name);
    }
    this.arm();
    await this.store?.remove(name);
  }

  /** Pending schedules, earliest first (for tests and the local API). */
  list(): LocalScheduleEntry[] {
    return [...this.pending.values()]
      .sort((a, b) => a.entry.at.getTime() - b.entry.at.getTime() || a.seq - b.seq)
      .map(({ entry }) => ({ name: entry.name, at: new Date(entry.at.getTime()), payload: clone(entry.payload) }));
  }

  /** Schedules whose every attempt failed, oldest first. */
  failed(): FailedSchedule[] {
    return this.failures.map((f) => ({ ...f, at: new Date(f.at.getTime()), payload: clone(f.payload) }));
  }

  /**
   * Reads the clock again: fires what is due now and re-arms the timer. The timer follows real
   * time; call this after moving a manual clock forward (tests).
   */
  check(): void {
    if (this.closed) return;
    this.clearTimer();
    this.fireDue();
    this.arm();
  }

  /** Resolves when no schedule is firing (schedules not yet due are not waited for). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /**
   * Stops the timer and waits for the schedules that are firing; their retries stop, and those
   * that have not succeeded stay in the store, to fire again after a restart.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimer();
    await this.idle();
  }

  /** The scheduler's current time: `clock`, sped up by `timeScale` since construction. */
  now(): number {
    const real = this.clock.now().getTime();
    return this.timeScale === 1 ? real : this.origin + (real - this.origin) * this.timeScale;
  }

  private add(entry: LocalScheduleEntry): void {
    const pending: Pending = { entry, seq: this.seq++ };
    this.pending.set(entry.name, pending);
    this.heap.push({ name: entry.name, seq: pending.seq, at: entry.at.getTime() });
  }

  /** The heap's top, once stale items (cancelled, fired, replaced) are dropped. */
  private peekLive(): HeapItem | undefined {
    for (let top = this.heap.peek(); top !== undefined; top = this.heap.peek()) {
      if (this.pending.get(top.name)?.seq === top.seq) return top;
      this.heap.pop();
    }
    return undefined;
  }

  private arm(): void {
    if (this.closed) return;
    const next = this.peekLive();
    if (next === undefined) {
      this.clearTimer();
      return;
    }
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, Math.ceil((next.at - this.now()) / this.timeScale)));
    const due = Date.now() + delay;
    if (this.timer !== undefined && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.fireDue();
      this.arm();
    }, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  /** Starts every schedule that is due, in time order. */
  private fireDue(): void {
    const now = this.now();
    for (let top = this.peekLive(); top !== undefined && top.at <= now; top = this.peekLive()) {
      this.heap.pop();
      const pending = this.pending.get(top.name);
      if (pending === undefined) continue;
      this.pending.delete(top.name);
      const firing: Firing = { cancelled: false };
      this.firing.set(top.name, firing);
      const run = this.fire(pending.entry, firing).finally(() => {
        this.running.delete(run);
      });
      this.running.add(run);
    }
  }

  private async fire(entry: LocalScheduleEntry, firing: Firing): Promise<void> {
    let attempts = 0;
    let lastError: unknown;
    let succeeded = false;
    while (attempts < this.maxAttempts && !firing.cancelled && !this.closed) {
      attempts += 1;
      try {
        await this.onFire(entry.name, clone(entry.payload));
        succeeded = true;
        break;
      } catch (error) {
        lastError = error;
        if (attempts < this.maxAttempts) await sleep(this.retryBaseMs * 2 ** (attempts - 1));
      }
    }
    try {
      if (firing.cancelled) return; // cancel() removed it, from the store too
      if (!succeeded && this.closed) return; // stays stored: fires again after a restart
      if (!succeeded) {
        this.failures.push({ ...entry, attempts, lastError: `${errorName(lastError)}: ${errorMessage(lastError)}`, failedAt: this.clock.now().toISOString() });
        this.log(`[local-scheduler] schedule "${entry.name}" failed after ${attempts} attempt(s) (${errorName(lastError)})`);
      }
      // Deleted after completion. The name stays taken until then, so that a scheduleOnce of the
      // same name cannot save a new entry that this removal would then delete.
      if (this.store !== undefined) {
        try {
          await this.store.remove(entry.name);
        } catch (error) {
          this.log(`[local-scheduler] could not remove schedule "${entry.name}" from the store (${errorName(error)})`);
        }
      }
    } finally {
      if (this.firing.get(entry.name) === firing) this.firing.delete(entry.name);
    }
  }
}

function clone(payload: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
