import { SendEmailCommand, type MessageHeader, type MessageTag, type SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { PermanentSendError, type EmailMessage, type Mailer, type SendReceipt } from '../../ports';

/** SES message tags: names and values of `[A-Za-z0-9_-]`, at most 256 characters each. */
export const SES_TAG_MAX_LENGTH = 256;
/** Tags kept per message (SES accepts up to 50 message tags). */
export const SES_MAX_TAGS = 50;

export interface SesMailerOptions {
  /** Configuration set whose event destination reports deliveries, bounces, complaints, opens and clicks. */
  configurationSetName?: string;
}

/**
 * SESv2 errors of `SendEmail` that are about *this* message or *this* recipient: sending it again
 * gives the same answer, so the send fails for good (PermanentSendError) and is not retried.
 */
const PERMANENT_ERRORS: ReadonlySet<string> = new Set(['BadRequestException', 'MessageRejected']);

/**
 * The Mailer port on Amazon SES (API v2): one `SendEmail` per message, Simple content (subject,
 * HTML and text parts in UTF-8, custom headers such as List-Unsubscribe), the configuration set,
 * and the message tags as SES `EmailTags`.
 *
 * Error mapping (the SDK has already retried throttling and 5xx with its own back-off):
 *
 * | SES error | outcome | why |
 * |---|---|---|
 * | `BadRequestException` | PermanentSendError | the request built for this recipient is invalid (malformed address, bad header): it will never be accepted |
 * | `MessageRejected` | PermanentSendError | the content or the recipient is refused (virus, sandbox: recipient not verified) |
 * | `MessageRejected` naming the sender (its address or domain) | rethrown (transient) | the sender identity is not verified: an account problem, not the recipient's |
 * | `MailFromDomainNotVerifiedException` | rethrown | the MAIL FROM domain's DNS is wrong: every message fails until it is fixed |
 * | `AccountSuspendedException`, `SendingPausedException` | rethrown | the account or configuration set cannot send: no recipient is at fault; the queue retries and the dead-letter queue keeps the message for a redrive |
 * | `NotFoundException` | rethrown | the configuration set (or identity) does not exist: a deployment problem |
 * | `TooManyRequestsException`, `LimitExceededException` | rethrown | throttling or sending quota: retry later |
 * | `InternalServiceErrorException`, any 5xx, network errors, anything else | rethrown | transient or unknown: a retry is safe, the dead-letter queue bounds it |
 *
 * Rethrown errors are *not* the SDK's: SES messages can quote addresses ("The following identities
 * failed the check: …"), so every error this adapter throws is rebuilt from the error name, the
 * HTTP status and the request id only, and keeps the SES name (`error.name === 'TooManyRequestsException'`).
 * A PermanentSendError's `cause` is such a sanitised error. Addresses and bodies never appear in
 * an error message.
 *
 * @example
 * const mailer = new SesMailer(new SESv2Client({}), { configurationSetName: 'engage' });
 * const { providerMessageId } = await mailer.sendEmail(message);
 */
export class SesMailer implements Mailer {
  private readonly configurationSetName: string | undefined;

  constructor(
    private readonly client: SESv2Client,
    options: SesMailerOptions = {},
  ) {
    const name = options.configurationSetName?.trim();
    this.configurationSetName = name === undefined || name === '' ? undefined : name;
  }

  async sendEmail(message: EmailMessage): Promise<SendReceipt> {
    const input = buildSendEmailInput(message, this.configurationSetName);
    try {
      const output = await this.client.send(new SendEmailCommand(input));
      // Never throw after SES accepted the message: a retry would send it twice.
      return { providerMessageId: output.MessageId ?? '' };
    } catch (error) {
      throw mapSesError(error, message.from);
    }
  }
}

/** The SendEmail request for one message (exported for tests and benchmarks). */
export function buildSendEmailInput(message: EmailMessage, configurationSetName?: string): SendEmailCommandInput {
  const body: NonNullable<NonNullable<SendEmailCommandInput['Content']>['Simple']>['Body'] = {};
  if (message.html !== '') body.Html = { Data: message.html, Charset: 'UTF-8' };
  if (message.text !== '') body.Text = { Data: message.text, Charset: 'UTF-8' };
  const headers: MessageHeader[] = message.headers.map((h) => ({ Name: h.name, Value: h.value }));
  const input: SendEmailCommandInput = {
    FromEmailAddress: message.from,
    Destination: { ToAddresses: [message.to] },
    Content: {
      Simple: {
        Subject: { Data: message.subject, Charset: 'UTF-8' },
        Body: body,
        ...(headers.length > 0 ? { Headers: headers } : {}),
      },
    },
  };
  if (configurationSetName !== undefined) input.ConfigurationSetName = configurationSetName;
  const tags = sesEmailTags(message.tags);
  if (tags.length > 0) input.EmailTags = tags;
  return input;
}

/**
 * Message tags as SES accepts them: every character outside `[A-Za-z0-9_-]` becomes `_`, names
 * and values are cut to 256 characters, tags whose name or value ends up empty are dropped, the
 * first of two tags whose names collide after sanitising wins, and at most 50 are kept.
 * @example sesEmailTags({ 'broadcast.id': 'b:1', empty: '' }) // [{ Name: 'broadcast_id', Value: 'b_1' }]
 */
export function sesEmailTags(tags: Readonly<Record<string, string>>): MessageTag[] {
  const out: MessageTag[] = [];
  const seen = new Set<string>();
  for (const [rawName, rawValue] of Object.entries(tags)) {
    if (out.length >= SES_MAX_TAGS) break;
    const name = sanitiseTagPart(rawName);
    const value = sanitiseTagPart(String(rawValue));
    if (name === '' || value === '' || seen.has(name)) continue;
    seen.add(name);
    out.push({ Name: name, Value: value });
  }
  return out;
}

function sanitiseTagPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, SES_TAG_MAX_LENGTH);
}

/** Turns an error of `SendEmail` into what the Mailer port promises (see SesMailer). */
export function mapSesError(error: unknown, fromAddress?: string): Error {
  const safe = sanitisedProviderError('SES SendEmail', error);
  if (!PERMANENT_ERRORS.has(safe.name)) return safe;
  if (safe.name === 'MessageRejected' && fromAddress !== undefined && mentionsSender(error, fromAddress)) return safe;
  return new PermanentSendError(`SES refused the message for this recipient (${safe.name})`, { cause: safe });
}

/**
 * Whether the provider's own message names the sender's address, or its domain as an identity of
 * its own (not as the domain of some other address, such as a recipient's): an unverified sender.
 */
function mentionsSender(error: unknown, fromAddress: string): boolean {
  const text = providerText(error).toLowerCase();
  if (text === '') return false;
  const address = (/<([^>]*)>/.exec(fromAddress)?.[1] ?? fromAddress).trim().toLowerCase();
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return (address !== '' && text.includes(address)) || (domain !== '' && new RegExp(`(^|[^a-z0-9.@-])${escapeRegExp(domain)}($|[^a-z0-9-])`).test(text));
}

function providerText(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const parts: string[] = [];
  if ('message' in error && typeof error.message === 'string') parts.push(error.message);
  if ('Message' in error && typeof error.Message === 'string') parts.push(error.Message);
  return parts.join(' ');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A new Error carrying only the provider error's name, HTTP status and request id — never its
 * message, which may quote addresses. `name` is the provider's error name.
 */
export function sanitisedProviderError(operation: string, error: unknown): Error {
  const name = errorNameOf(error);
  const meta = metadataOf(error);
  const details = [meta.httpStatusCode === undefined ? undefined : `HTTP ${meta.httpStatusCode}`, meta.requestId === undefined ? undefined : `request ${meta.requestId}`]
    .filter((part): part is string => part !== undefined)
    .join(', ');
  const safe = new Error(`${operation} failed: ${name}${details === '' ? '' : ` (${details})`}`);
  safe.name = name;
  return safe;
}

function errorNameOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string' && error.name !== '') return error.name;
  return 'UnknownError';
}

function metadataOf(error: unknown): { httpStatusCode?: number; requestId?: string } {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return {};
  const meta: unknown = error.$metadata;
  if (typeof meta !== 'object' || meta === null) return {};
  const out: { httpStatusCode?: number; requestId?: string } = {};
  if ('httpStatusCode' in meta && typeof meta.httpStatusCode === 'number') out.httpStatusCode = meta.httpStatusCode;
  if ('requestId' in meta && typeof meta.requestId === 'string' && /^[A-Za-z0-9-]{1,128}$/.test(meta.requestId)) out.requestId = meta.requestId;
  return out;
}
