import { createHash } from 'node:crypto';
import { CreateScheduleCommand, DeleteScheduleCommand, type CreateScheduleCommandInput, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { systemClock, type Clock, type Scheduler } from '../../ports';

/** EventBridge Scheduler schedule names: 1–64 characters of `[0-9a-zA-Z-_.]`. */
export const SCHEDULE_NAME_MAX_LENGTH = 64;
const SCHEDULE_NAME_PATTERN = /^[0-9A-Za-z_.-]+$/;
/** Longest `namePrefix`: leaves room for `-<readable part>-<hash>`. */
export const SCHEDULE_PREFIX_MAX_LENGTH = 32;
/** Hex characters of the SHA-256 kept in a hashed name (64 bits). */
const HASH_LENGTH = 16;

/**
 * How far ahead of now a schedule is created at the earliest. A one-time `at(...)` schedule
 * must name a future time — EventBridge Scheduler does not promise to invoke one whose time has
 * passed (it may refuse it, or keep it without ever firing) — and it fires with one-minute
 * precision anyway. A time in the past, or less than this far ahead, is moved to now + 60 s.
 */
export const MIN_LEAD_SECONDS = 60;

export interface EventBridgeSchedulerOptions {
  /** Schedule group. Default `default`. */
  groupName?: string;
  /** What the schedule invokes (for Engage, a Lambda function or an SQS queue). */
  targetArn: string;
  /** Role EventBridge Scheduler assumes to invoke the target. */
  roleArn: string;
  /** SQS queue that receives invocations that still failed after the retries. */
  deadLetterArn?: string;
  /** Prefix of every schedule name, e.g. the stack name: `<namePrefix>-<name>`. */
  namePrefix: string;
  /** Retries of a failed invocation. Default 185 (the service's maximum and default). */
  maximumRetryAttempts?: number;
  /** How long failed invocations are retried. Default 86400 (24 h, the maximum). */
  maximumEventAgeInSeconds?: number;
  /** Default the system clock. */
  clock?: Clock;
}

/**
 * The Scheduler port on Amazon EventBridge Scheduler: one-time `at(...)` schedules in UTC,
 * without a flexible window, deleted by the service after they fired (ActionAfterCompletion
 * DELETE), whose target gets `payload` as its JSON input.
 *
 * - Idempotent by name: a ConflictException (the schedule exists) counts as success and leaves
 *   the existing schedule as it is, whatever its time or payload. Because fired schedules are
 *   deleted, calling `scheduleOnce` again after it fired creates a new schedule: the target must be
 *   idempotent (it is, as every consumer in Engage).
 * - `at` in the past or less than 60 s ahead → the schedule is created for now + 60 s (rounded up
 *   to the second), so it still fires, about one to two minutes later. Callers that want "now"
 *   should not go through a schedule.
 * - `cancel` deletes; a ResourceNotFoundException (fired, cancelled or never created) is success.
 * - Names: see `scheduleName`.
 */
export class EventBridgeScheduler implements Scheduler {
  private readonly groupName: string;
  private readonly clock: Clock;

  constructor(
    private readonly client: SchedulerClient,
    private readonly options: EventBridgeSchedulerOptions,
  ) {
    checkPrefix(options.namePrefix);
    if (options.targetArn.trim() === '') throw new Error('EventBridgeScheduler: targetArn is empty');
    if (options.roleArn.trim() === '') throw new Error('EventBridgeScheduler: roleArn is empty');
    this.groupName = options.groupName ?? 'default';
    this.clock = options.clock ?? systemClock;
  }

  async scheduleOnce(name: string, at: Date, payload: Record<string, unknown>): Promise<void> {
    const input = this.createScheduleInput(name, at, payload);
    try {
      await this.client.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (errorName(error) === 'ConflictException') return;
      throw error;
    }
  }

  async cancel(name: string): Promise<void> {
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: scheduleName(this.options.namePrefix, name), GroupName: this.groupName }));
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return;
      throw error;
    }
  }

  /** The CreateSchedule request (exported through the class for tests). */
  createScheduleInput(name: string, at: Date, payload: Record<string, unknown>): CreateScheduleCommandInput {
    const time = at.getTime();
    if (Number.isNaN(time)) throw new RangeError(`schedule "${name}": invalid date`);
    const input = JSON.stringify(payload);
    if (typeof input !== 'string') throw new TypeError(`schedule "${name}": the payload must be serialisable as JSON`);
    const { deadLetterArn } = this.options;
    return {
      Name: scheduleName(this.options.namePrefix, name),
      GroupName: this.groupName,
      ScheduleExpression: atExpression(effectiveTime(at, this.clock.now())),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Target: {
        Arn: this.options.targetArn,
        RoleArn: this.options.roleArn,
        Input: input,
        RetryPolicy: {
          MaximumRetryAttempts: this.options.maximumRetryAttempts ?? 185,
          MaximumEventAgeInSeconds: this.options.maximumEventAgeInSeconds ?? 86_400,
        },
        ...(deadLetterArn === undefined || deadLetterArn === '' ? {} : { DeadLetterConfig: { Arn: deadLetterArn } }),
      },
    };
  }
}

/**
 * The schedule's name on AWS: `<prefix>-<name>` when that is at most 64 characters of
 * `[0-9a-zA-Z-_.]`; otherwise `<prefix>-<readable start of the name>-<16 hex of SHA-256(name)>`,
 * 64 characters at most, so that different names never share a schedule and `cancel(name)`
 * finds what `scheduleOnce(name)` created.
 * @example scheduleName('engage', 'broadcast-b1') // 'engage-broadcast-b1'
 * @example scheduleName('engage', 'broadcast:b1#+05:30') // 'engage-broadcast_b1__05_30-<hash>'
 */
export function scheduleName(prefix: string, name: string): string {
  const plain = `${prefix}-${name}`;
  if (name !== '' && plain.length <= SCHEDULE_NAME_MAX_LENGTH && SCHEDULE_NAME_PATTERN.test(name)) return plain;
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  const room = SCHEDULE_NAME_MAX_LENGTH - prefix.length - HASH_LENGTH - 2;
  const readable = name.replace(/[^0-9A-Za-z_.-]/g, '_').slice(0, Math.max(0, room));
  return readable === '' ? `${prefix}-${hash}` : `${prefix}-${readable}-${hash}`;
}

/** The time the schedule is created for: `at`, or now + 60 s if `at` is earlier than that; whole seconds, rounded up. */
export function effectiveTime(at: Date, now: Date): Date {
  const earliest = now.getTime() + MIN_LEAD_SECONDS * 1000;
  return new Date(Math.ceil(Math.max(at.getTime(), earliest) / 1000) * 1000);
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC. */
export function atExpression(at: Date): string {
  return `at(${at.toISOString().slice(0, 19)})`;
}

function checkPrefix(prefix: string): void {
  if (prefix.length < 1 || prefix.length > SCHEDULE_PREFIX_MAX_LENGTH || !SCHEDULE_NAME_PATTERN.test(prefix)) {
    throw new RangeError(`EventBridgeScheduler: namePrefix must be 1-${SCHEDULE_PREFIX_MAX_LENGTH} characters of [0-9a-zA-Z-_.], got "${prefix}"`);
  }
}

function errorName(error: unknown): string {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string' ? error.name : '';
}
