import { createHash } from 'node:crypto';
import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SFN_NAME_MAX_LENGTH } from '../../shared/aws/sfn/workflow-engine';

/**
 * Deployment settings read from `cdk.json` context (SPEC.md section 5). Values may also arrive
 * from the command line (`cdk deploy -c engage:eventRetentionDays=90`), where every value is a
 * string, so numbers are accepted as numbers or as numeric strings.
 */
export interface EngageSettings {
  /** Sender email address or verified domain for SES (used by messaging). */
  readonly senderEmail: string;
  /** AWS End User Messaging SMS origination identity; empty string disables SMS. */
  readonly smsOriginationIdentity: string;
  /** Days an event is kept before its TTL expires. */
  readonly eventRetentionDays: number;
  /** HTTP API steady-state rate limit, requests per second, for every route of the stage. */
  readonly apiThrottleRateLimit: number;
  /** HTTP API burst limit, requests, for every route of the stage. */
  readonly apiThrottleBurstLimit: number;
  /** Name of the deployment's EventBridge bus (SPEC.md section 4); `engage` when not set. */
  readonly eventBusName: string;
  /**
   * Messages per second every sender together may hand to SES and SMS (`ACCOUNT_SEND_RATE`):
   * the account's SES maximum send rate (14 is the rate of a new production account).
   */
  readonly accountSendRatePerSecond: number;
  /** At most this many sender functions run at once (the send queue's maximum concurrency). */
  readonly senderMaxConcurrency: number;
  /** Name of the SES configuration set the stack creates; `<stack name>-engage` when not set. */
  readonly sesConfigurationSetName: string;
  /**
   * `JOURNEY_NAME_PREFIX`: every journey state machine is `<prefix>-<journeyId>`, and IAM and the
   * execution-status rule match `<prefix>-*` only, so no other deployment in the account and
   * region may use a prefix that begins with `<prefix>-`. `<stack name>_journey` when not set
   * (see {@link defaultJourneyNamePrefix}).
   */
  readonly journeyNamePrefix: string;
}

/** Context keys, as they are spelled in `cdk.json`. */
export const CONTEXT_KEYS = {
  senderEmail: 'engage:senderEmail',
  smsOriginationIdentity: 'engage:smsOriginationIdentity',
  eventRetentionDays: 'engage:eventRetentionDays',
  apiThrottleRateLimit: 'engage:apiThrottleRateLimit',
  apiThrottleBurstLimit: 'engage:apiThrottleBurstLimit',
  eventBusName: 'engage:eventBusName',
  accountSendRatePerSecond: 'engage:accountSendRatePerSecond',
  senderMaxConcurrency: 'engage:senderMaxConcurrency',
  sesConfigurationSetName: 'engage:sesConfigurationSetName',
  journeyNamePrefix: 'engage:journeyNamePrefix',
} as const;

/** The bus name used when `engage:eventBusName` is not set. */
export const DEFAULT_EVENT_BUS_NAME = 'engage';

/** `ACCOUNT_SEND_RATE` when `engage:accountSendRatePerSecond` is not set (a new SES production account). */
export const DEFAULT_ACCOUNT_SEND_RATE_PER_SECOND = 14;
/** Sender concurrency when `engage:senderMaxConcurrency` is not set. */
export const DEFAULT_SENDER_MAX_CONCURRENCY = 10;

/** The SES configuration set name used when `engage:sesConfigurationSetName` is not set. */
export function defaultSesConfigurationSetName(stackName: string): string {
  return `${stackName.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 57)}-engage`;
}

/** Journey ids are at most this long (the API generates and validates them). */
export const MAX_JOURNEY_ID_LENGTH = 24;
/** `<prefix>-<journeyId>` must fit a state machine name (80 characters) for every journey id. */
export const MAX_JOURNEY_NAME_PREFIX_LENGTH = SFN_NAME_MAX_LENGTH - 1 - MAX_JOURNEY_ID_LENGTH;
/** Appended to the stack name in the default journey name prefix. */
const JOURNEY_PREFIX_SUFFIX = '_journey';

/**
 * The journey name prefix used when `engage:journeyNamePrefix` is not set:
 * `<stack name>_journey` (`Engage_journey`, machines `Engage_journey-<journeyId>`).
 *
 * IAM policies and the execution-status rule match `<prefix>-*`, so no other deployment's
 * machines may start with `<prefix>-`. Stack names never contain `_`, so no other stack of the
 * account and region has a prefix that begins with this one. A stack name too long for the
 * 55-character limit is cut to 40 characters plus 6 hexadecimal digits of its SHA-256.
 *
 * @example defaultJourneyNamePrefix('Engage') // 'Engage_journey'
 */
export function defaultJourneyNamePrefix(stackName: string): string {
  const room = MAX_JOURNEY_NAME_PREFIX_LENGTH - JOURNEY_PREFIX_SUFFIX.length;
  const safe = stackName.replace(/[^A-Za-z0-9-]/g, '-');
  const base = safe.length <= room ? safe : `${safe.slice(0, room - 7)}-${createHash('sha256').update(stackName).digest('hex').slice(0, 6)}`;
  return `${base}${JOURNEY_PREFIX_SUFFIX}`;
}

/** Thrown at synth time when a context value is missing or malformed. */
export class InvalidContextError extends Error {
  constructor(key: string, received: unknown, expected: string, options?: ErrorOptions) {
    super(`Invalid cdk.json context "${key}": expected ${expected}, received ${describe(received)}.`, options);
    this.name = 'InvalidContextError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  try {
    return `${JSON.stringify(value)} (${typeof value})`;
  } catch {
    return String(value);
  }
}

// A pragmatic check: one "@", no spaces, a dot in the domain. SES verifies the real thing.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// A bare domain (SES domain identity): labels of letters, digits and hyphens.
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
// A custom EventBridge bus name: 1 to 256 of these characters ("/" is for partner buses only).
const EVENT_BUS_NAME = /^[A-Za-z0-9._-]{1,256}$/;
// An SES configuration set name: 1 to 64 letters, digits, "_" or "-".
const SES_CONFIGURATION_SET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
// A journey name prefix: characters Step Functions (and CloudWatch Logs delivery) accept in
// state machine names, short enough for `<prefix>-<24-character journey id>`.
const JOURNEY_NAME_PREFIX = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_JOURNEY_NAME_PREFIX_LENGTH}}$`);
// SMS origination identities IAM can name: an End User Messaging ARN (phone number, pool or
// sender ID), a phone number id or a pool id. A +E.164 number or a bare sender ID cannot be
// turned into an ARN at synth time (the ARN holds the number's id, or the sender ID's country).
const SMS_IDENTITY_ARN = /^arn:aws[a-z-]*:sms-voice:[a-z0-9-]+:\d{12}:(phone-number|pool|sender-id)\/[A-Za-z0-9_/-]+$/;
const SMS_IDENTITY_ID = /^(phone|pool)-[A-Za-z0-9]{12,}$/;

function readNumber(
  scope: Construct,
  key: string,
  opts: { integer: boolean; min: number; max: number; default?: number },
): number {
  const context: unknown = scope.node.tryGetContext(key);
  const raw: unknown = context === undefined ? opts.default : context;
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  const expected = `${opts.integer ? 'an integer' : 'a number'} from ${opts.min} to ${opts.max}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidContextError(key, raw, expected);
  if (opts.integer && !Number.isInteger(value)) throw new InvalidContextError(key, raw, expected);
  if (value < opts.min || value > opts.max) throw new InvalidContextError(key, raw, expected);
  return value;
}

function readString(scope: Construct, key: string, opts: { allowEmpty: boolean; default?: string }): string {
  const context: unknown = scope.node.tryGetContext(key);
  const raw: unknown = context === undefined ? opts.default : context;
  const expected = opts.allowEmpty ? 'a string (may be empty)' : 'a non-empty string';
  if (typeof raw !== 'string') throw new InvalidContextError(key, raw, expected);
  const value = raw.trim();
  if (!opts.allowEmpty && value === '') throw new InvalidContextError(key, raw, expected);
  return value;
}

/**
 * Reads and validates every `engage:*` context key, throwing {@link InvalidContextError} that
 * names the key and the value that arrived.
 *
 * @example
 * const settings = readEngageSettings(stack);
 * settings.eventRetentionDays; // 400
 */
export function readEngageSettings(scope: Construct): EngageSettings {
  const senderEmail = readString(scope, CONTEXT_KEYS.senderEmail, { allowEmpty: false });
  if (!EMAIL.test(senderEmail) && !DOMAIN.test(senderEmail)) {
    throw new InvalidContextError(
      CONTEXT_KEYS.senderEmail,
      senderEmail,
      'an email address (no-reply@example.com) or a domain (example.com)',
    );
  }
  const apiThrottleRateLimit = readNumber(scope, CONTEXT_KEYS.apiThrottleRateLimit, {
    integer: false,
    min: 1,
    max: 1_000_000,
  });
  const apiThrottleBurstLimit = readNumber(scope, CONTEXT_KEYS.apiThrottleBurstLimit, {
    integer: true,
    min: 1,
    max: 1_000_000,
  });
  const eventBusName = readString(scope, CONTEXT_KEYS.eventBusName, { allowEmpty: false, default: DEFAULT_EVENT_BUS_NAME });
  // "default" is the account's own bus, which a stack cannot create; "aws." names are reserved.
  if (!EVENT_BUS_NAME.test(eventBusName) || eventBusName === 'default' || eventBusName.startsWith('aws.')) {
    throw new InvalidContextError(
      CONTEXT_KEYS.eventBusName,
      eventBusName,
      'an EventBridge bus name: 1 to 256 letters, digits, ".", "_" or "-", neither "default" nor starting with "aws."',
    );
  }
  const smsOriginationIdentity = readString(scope, CONTEXT_KEYS.smsOriginationIdentity, { allowEmpty: true });
  if (smsOriginationIdentity !== '' && !SMS_IDENTITY_ARN.test(smsOriginationIdentity) && !SMS_IDENTITY_ID.test(smsOriginationIdentity)) {
    throw new InvalidContextError(
      CONTEXT_KEYS.smsOriginationIdentity,
      smsOriginationIdentity,
      'an empty string (no SMS), a phone number id (phone-...), a pool id (pool-...) or the ARN of a phone number, pool or sender ID (IAM cannot be scoped to a +E.164 number or a bare sender ID)',
    );
  }
  // The context key may be missing or empty: both mean the default name.
  const sesConfigurationSetContext: unknown = scope.node.tryGetContext(CONTEXT_KEYS.sesConfigurationSetName);
  const sesConfigurationSetName =
    sesConfigurationSetContext === undefined || sesConfigurationSetContext === ''
      ? defaultSesConfigurationSetName(Stack.of(scope).stackName)
      : readString(scope, CONTEXT_KEYS.sesConfigurationSetName, { allowEmpty: false });
  if (!SES_CONFIGURATION_SET_NAME.test(sesConfigurationSetName)) {
    throw new InvalidContextError(
      CONTEXT_KEYS.sesConfigurationSetName,
      sesConfigurationSetName,
      'an SES configuration set name: 1 to 64 letters, digits, "_" or "-" (or empty for <stack name>-engage)',
    );
  }
  const journeyPrefixContext: unknown = scope.node.tryGetContext(CONTEXT_KEYS.journeyNamePrefix);
  const journeyNamePrefix =
    journeyPrefixContext === undefined || journeyPrefixContext === ''
      ? defaultJourneyNamePrefix(Stack.of(scope).stackName)
      : readString(scope, CONTEXT_KEYS.journeyNamePrefix, { allowEmpty: false });
  if (!JOURNEY_NAME_PREFIX.test(journeyNamePrefix)) {
    throw new InvalidContextError(
      CONTEXT_KEYS.journeyNamePrefix,
      journeyNamePrefix,
      `a journey name prefix: 1 to ${MAX_JOURNEY_NAME_PREFIX_LENGTH} letters, digits, "_" or "-" (or empty for <stack name>_journey)`,
    );
  }
  return {
    senderEmail,
    smsOriginationIdentity,
    // DynamoDB TTL needs at least a day; 10 years is far beyond any sensible event retention.
    eventRetentionDays: readNumber(scope, CONTEXT_KEYS.eventRetentionDays, { integer: true, min: 1, max: 3650 }),
    apiThrottleRateLimit,
    apiThrottleBurstLimit,
    eventBusName,
    // `ACCOUNT_SEND_RATE` is a positive integer in shared/config.ts.
    accountSendRatePerSecond: readNumber(scope, CONTEXT_KEYS.accountSendRatePerSecond, {
      integer: true,
      min: 1,
      max: 100_000,
      default: DEFAULT_ACCOUNT_SEND_RATE_PER_SECOND,
    }),
    // Lambda's SQS maximum concurrency is 2 to 1000.
    senderMaxConcurrency: readNumber(scope, CONTEXT_KEYS.senderMaxConcurrency, {
      integer: true,
      min: 2,
      max: 1000,
      default: DEFAULT_SENDER_MAX_CONCURRENCY,
    }),
    sesConfigurationSetName,
    journeyNamePrefix,
  };
}
