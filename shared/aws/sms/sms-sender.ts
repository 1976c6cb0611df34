import { SendTextMessageCommand, type PinpointSMSVoiceV2Client, type SendTextMessageCommandInput } from '@aws-sdk/client-pinpoint-sms-voice-v2';
import { PermanentSendError, type SendReceipt, type SmsMessage, type SmsSender } from '../../ports';
import { sanitisedProviderError } from '../ses/mailer';

export type SmsMessageType = 'TRANSACTIONAL' | 'PROMOTIONAL';

export interface EndUserMessagingSmsSenderOptions {
  /** Phone number, pool, sender ID (id or ARN) that sends. Required (cdk.json `engage:smsOriginationIdentity`). */
  originationIdentity: string;
  /** Configuration set whose event destination reports delivery events. */
  configurationSetName?: string;
  /** Default PROMOTIONAL (campaigns); TRANSACTIONAL for time-critical messages. */
  messageType?: SmsMessageType;
}

/**
 * `Context` limits of SendTextMessage: up to 5 entries, keys of 1–100 and values of 1–800
 * characters without white space. Tags beyond are dropped (they are ids for the event stream).
 */
export const SMS_CONTEXT_MAX_ENTRIES = 5;
export const SMS_CONTEXT_MAX_KEY_LENGTH = 100;
export const SMS_CONTEXT_MAX_VALUE_LENGTH = 800;

/** ValidationException reasons about the destination number, its country or this message. */
const PERMANENT_VALIDATION_REASONS: ReadonlySet<string> = new Set([
  'CANNOT_PARSE',
  'COUNTRY_CODE_MISMATCH',
  'COUNTRY_NOT_ENABLED',
  'DESTINATION_COUNTRY_BLOCKED',
  'INTERNATIONAL_SENDING_NOT_SUPPORTED',
  'INVALID_IDENTITY_FOR_DESTINATION_COUNTRY',
  'MAXIMUM_SIZE_EXCEEDED',
  'PRICE_OVER_THRESHOLD',
  'SENDER_ID_NOT_SUPPORTED',
]);

/** ValidationException reasons whose verdict depends on which field failed (`Fields[].Name`). */
const FIELD_VALIDATION_REASONS: ReadonlySet<string> = new Set(['FIELD_VALIDATION_FAILED', 'INVALID_PARAMETER', 'MISSING_PARAMETER', 'OTHER']);

/** Request fields that belong to this message rather than to the deployment's configuration. */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(['destinationphonenumber', 'messagebody']);

/** ConflictException reasons that refuse this destination: opted out, blocked, not verified (sandbox). */
const PERMANENT_CONFLICT_REASONS: ReadonlySet<string> = new Set([
  'DESTINATION_PHONE_NUMBER_OPTED_OUT',
  'DESTINATION_PHONE_NUMBER_NOT_VERIFIED',
  'DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE',
  'DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION',
  'NO_ORIGINATION_IDENTITIES_FOUND',
]);

/**
 * The SmsSender port on AWS End User Messaging SMS (`pinpoint-sms-voice-v2` `SendTextMessage`):
 * the recipient's number, the configured origination identity, the body, the message type, the
 * configuration set, and the tags as `Context` (which the event destination reports back).
 *
 * Error mapping (the SDK has already retried throttling and 5xx with its own back-off):
 *
 * | error | reason | outcome |
 * |---|---|---|
 * | `ValidationException` | `CANNOT_PARSE`, `COUNTRY_CODE_MISMATCH`, `COUNTRY_NOT_ENABLED`, `DESTINATION_COUNTRY_BLOCKED`, `INTERNATIONAL_SENDING_NOT_SUPPORTED`, `INVALID_IDENTITY_FOR_DESTINATION_COUNTRY`, `MAXIMUM_SIZE_EXCEEDED`, `PRICE_OVER_THRESHOLD`, `SENDER_ID_NOT_SUPPORTED` | PermanentSendError (this number, its country or this body) |
 * | `ValidationException` | `FIELD_VALIDATION_FAILED`, `INVALID_PARAMETER`, `MISSING_PARAMETER`, `OTHER` or none, with `Fields` naming `DestinationPhoneNumber` or `MessageBody` | PermanentSendError |
 * | `ValidationException` | any other (`INVALID_ARN`, `RESOURCE_NOT_ACCESSIBLE`, sender-ID registration, other fields) | rethrown: configuration |
 * | `ConflictException` | `DESTINATION_PHONE_NUMBER_OPTED_OUT`, `DESTINATION_PHONE_NUMBER_NOT_VERIFIED`, `…_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE`, `DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION`, `NO_ORIGINATION_IDENTITIES_FOUND` (no identity of the pool serves that country) | PermanentSendError |
 * | `ConflictException` | any other (`RESOURCE_NOT_ACTIVE`, `MESSAGE_TYPE_MISMATCH`, …) | rethrown: configuration |
 * | `ThrottlingException`, `ServiceQuotaExceededException` (MPS, monthly spend limit) | | rethrown: retry later |
 * | `AccessDeniedException` (account disabled, IAM), `ResourceNotFoundException` (origination identity, configuration set) | | rethrown: account or deployment problem, no recipient at fault |
 * | `InternalServerException`, 5xx, network errors, anything else | | rethrown |
 *
 * Every thrown error is rebuilt without the provider's message (which may quote the number):
 * name, HTTP status, request id and, for the two reasoned exceptions, the reason code. An opted-out
 * number reads `… (ConflictException: DESTINATION_PHONE_NUMBER_OPTED_OUT)`.
 */
export class EndUserMessagingSmsSender implements SmsSender {
  private readonly originationIdentity: string;
  private readonly configurationSetName: string | undefined;
  private readonly messageType: SmsMessageType;

  constructor(
    private readonly client: PinpointSMSVoiceV2Client,
    options: EndUserMessagingSmsSenderOptions,
  ) {
    // Settings may come from untyped context: treat a missing identity as empty.
    const identity = (options.originationIdentity as string | undefined)?.trim() ?? '';
    if (identity === '') throw new Error('SMS is not configured (engage:smsOriginationIdentity)');
    this.originationIdentity = identity;
    const set = options.configurationSetName?.trim();
    this.configurationSetName = set === undefined || set === '' ? undefined : set;
    this.messageType = options.messageType ?? 'PROMOTIONAL';
  }

  async sendSms(message: SmsMessage): Promise<SendReceipt> {
    const input: SendTextMessageCommandInput = {
      DestinationPhoneNumber: message.to,
      OriginationIdentity: this.originationIdentity,
      MessageBody: message.body,
      MessageType: this.messageType,
    };
    if (this.configurationSetName !== undefined) input.ConfigurationSetName = this.configurationSetName;
    const context = smsContext(message.tags);
    if (Object.keys(context).length > 0) input.Context = context;
    try {
      const output = await this.client.send(new SendTextMessageCommand(input));
      // Never throw after the provider accepted the message: a retry would send it twice.
      return { providerMessageId: output.MessageId ?? '' };
    } catch (error) {
      throw mapSmsError(error);
    }
  }
}

/**
 * Tags as a SendTextMessage `Context`: white space becomes `_`, keys are cut to 100 and values to
 * 800 characters, empty ones are dropped, and the first 5 are kept.
 * @example smsContext({ broadcastId: 'b 1', x: '' }) // { broadcastId: 'b_1' }
 */
export function smsContext(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  let count = 0;
  for (const [rawKey, rawValue] of Object.entries(tags)) {
    if (count >= SMS_CONTEXT_MAX_ENTRIES) break;
    const key = rawKey.replace(/\s/g, '_').slice(0, SMS_CONTEXT_MAX_KEY_LENGTH);
    const value = String(rawValue).replace(/\s/g, '_').slice(0, SMS_CONTEXT_MAX_VALUE_LENGTH);
    if (key === '' || value === '' || Object.hasOwn(out, key)) continue;
    out[key] = value;
    count += 1;
  }
  return out;
}

/** Turns an error of `SendTextMessage` into what the SmsSender port promises (see EndUserMessagingSmsSender). */
export function mapSmsError(error: unknown): Error {
  const reason = stringField(error, 'Reason');
  const safe = sanitisedProviderError('SMS SendTextMessage', error);
  if (reason !== undefined && /^[A-Z0-9_]{1,100}$/.test(reason)) safe.message += ` [${reason}]`;
  if (!isPermanent(safe.name, reason, fieldNames(error))) return safe;
  return new PermanentSendError(`SMS refused for this recipient (${safe.name}${reason === undefined ? '' : `: ${reason}`})`, { cause: safe });
}

function isPermanent(name: string, reason: string | undefined, fields: readonly string[]): boolean {
  if (name === 'ConflictException') return reason !== undefined && PERMANENT_CONFLICT_REASONS.has(reason);
  if (name !== 'ValidationException') return false;
  if (reason !== undefined && PERMANENT_VALIDATION_REASONS.has(reason)) return true;
  return (reason === undefined || FIELD_VALIDATION_REASONS.has(reason)) && fields.some((field) => MESSAGE_FIELDS.has(field.toLowerCase()));
}

function stringField(error: unknown, field: string): string | undefined {
  if (typeof error !== 'object' || error === null || !(field in error)) return undefined;
  const value: unknown = (error as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

function fieldNames(error: unknown): string[] {
  if (typeof error !== 'object' || error === null || !('Fields' in error) || !Array.isArray(error.Fields)) return [];
  const names: string[] = [];
  for (const field of error.Fields as unknown[]) {
    if (typeof field === 'object' && field !== null && 'Name' in field && typeof field.Name === 'string') names.push(field.Name);
  }
  return names;
}
