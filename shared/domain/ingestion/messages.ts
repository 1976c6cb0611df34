import { randomUUID } from 'node:crypto';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { PayloadTooLargeError, ValidationError, type ErrorIssue } from '../../errors';

/** Segment's own limits (HTTP Tracking API): per message, per batch request, messages per batch. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const MAX_BATCH_MESSAGES = 2500;

export const MESSAGE_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** E.164: a plus sign, a non-zero country digit, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{1,14}$/;

/** Segment clients may send numeric ids; they are stored as strings, as Segment does. */
const IdSchema = z
  .union([z.string(), z.number().finite()])
  .transform((v) => String(v))
  .pipe(z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters'));

const TimestampSchema = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T09:00:00Z' })
  .transform((v) => new Date(v).toISOString());

const JsonObjectSchema = z.record(z.string(), z.unknown());

/**
 * Reserved traits are validated; `null` clears a trait. Other traits pass through as given.
 */
export const TraitsSchema = z
  .object({
    email: z.email({ message: 'must be an email address' }).max(254).nullable().optional(),
    phone: z.string().regex(E164, 'must be an E.164 phone number, e.g. +14155550123').nullable().optional(),
    timezone: z
      .string()
      .refine((tz) => IANAZone.isValidZone(tz), 'must be an IANA time zone name, e.g. Europe/Paris')
      .nullable()
      .optional(),
    firstName: z.string().max(255).nullable().optional(),
    lastName: z.string().max(255).nullable().optional(),
  })
  .catchall(z.unknown());

export type Traits = z.infer<typeof TraitsSchema>;

const common = {
  userId: IdSchema.optional(),
  anonymousId: IdSchema.optional(),
  // Bounded in bytes: it is part of index keys, which DynamoDB caps at 1,024 bytes.
  messageId: z
    .string()
    .trim()
    .min(1)
    .refine((v) => Buffer.byteLength(v, 'utf8') <= 200, 'must be at most 200 bytes')
    .optional(),
  timestamp: TimestampSchema.optional(),
  context: JsonObjectSchema.optional(),
  integrations: JsonObjectSchema.optional(),
};

function requireIdentity<T extends { userId?: string; anonymousId?: string }>(value: T, ctx: z.RefinementCtx): void {
  if (value.userId === undefined && value.anonymousId === undefined) {
    ctx.addIssue({ code: 'custom', path: ['userId'], message: 'userId or anonymousId is required' });
  }
}

export const IdentifySchema = z.object({ ...common, traits: TraitsSchema.optional() }).superRefine(requireIdentity);
export const TrackSchema = z
  .object({
    ...common,
    event: z.string({ message: 'event is required and must be a string' }).trim().min(1, 'event must not be empty').max(255),
    properties: JsonObjectSchema.optional(),
  })
  .superRefine(requireIdentity);
export const PageSchema = z
  .object({
    ...common,
    name: z.string().max(255).optional(),
    category: z.string().max(255).optional(),
    properties: JsonObjectSchema.optional(),
  })
  .superRefine(requireIdentity);
export const GroupSchema = z
  .object({ ...common, groupId: IdSchema, traits: JsonObjectSchema.optional() })
  .superRefine(requireIdentity);
export const AliasSchema = z.object({ ...common, userId: IdSchema, previousId: IdSchema });

/** A validated message, normalised to what the engine stores. */
export interface IngestMessage {
  type: MessageType;
  messageId: string;
  userId?: string;
  anonymousId?: string;
  /** Track name; page and screen calls become `Page Viewed` / `Screen Viewed`. */
  event?: string;
  properties: Record<string, unknown>;
  traits?: Record<string, unknown>;
  groupId?: string;
  previousId?: string;
  timestamp: string;
  receivedAt: string;
  context?: Record<string, unknown>;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function issuesOf(error: z.ZodError, prefix: ReadonlyArray<PropertyKey>): ErrorIssue[] {
  return error.issues.map((issue) => ({ path: formatPath([...prefix, ...issue.path]), message: issue.message }));
}

function describe(issues: ErrorIssue[]): string {
  const first = issues[0];
  if (!first) return 'Invalid request';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${first.path || 'body'}: ${first.message}${more}`;
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type CommonFields = { userId?: string; anonymousId?: string; messageId?: string; timestamp?: string; context?: Record<string, unknown> };
type ParseResult = { ok: true; message: IngestMessage } | { ok: false; issues: ErrorIssue[] };

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && (MESSAGE_TYPES as readonly string[]).includes(value);
}

/**
 * Validates one raw message of the given type and normalises it. Returns issues (with paths
 * under `prefix`) instead of throwing so that a batch can report every bad message at once.
 */
export function parseMessage(
  type: MessageType,
  raw: unknown,
  receivedAt: string,
  prefix: ReadonlyArray<PropertyKey> = [],
  batchContext?: Record<string, unknown>,
): ParseResult {
  const fail = (error: z.ZodError): ParseResult => ({ ok: false, issues: issuesOf(error, prefix) });
  const base = (m: CommonFields) => ({
    type,
    messageId: m.messageId ?? `engage-${randomUUID()}`,
    userId: m.userId,
    anonymousId: m.anonymousId,
    timestamp: m.timestamp ?? receivedAt,
    receivedAt,
    context: batchContext || m.context ? { ...batchContext, ...m.context } : undefined,
  });
  switch (type) {
    case 'identify': {
      const r = IdentifySchema.safeParse(raw);
      if (!r.success) return fail(r.error);
      return { ok: true, message: { ...base(r.data), properties: {}, traits: r.data.traits ?? {} } };
    }
    case 'track': {
      const r = TrackSchema.safeParse(raw);
      if (!r.success) return fail(r.error);
      return { ok: true, message: { ...base(r.data), event: r.data.event, properties: r.data.properties ?? {} } };
    }
    case 'page':
    case 'screen': {
      const r = PageSchema.safeParse(raw);
      if (!r.success) return fail(r.error);
      const properties: Record<string, unknown> = { ...r.data.properties };
      if (r.data.name !== undefined) properties.name = r.data.name;
      if (r.data.category !== undefined) properties.category = r.data.category;
      const event = type === 'page' ? 'Page Viewed' : 'Screen Viewed';
      return { ok: true, message: { ...base(r.data), event, properties } };
    }
    case 'group': {
      const r = GroupSchema.safeParse(raw);
      if (!r.success) return fail(r.error);
      return { ok: true, message: { ...base(r.data), groupId: r.data.groupId, properties: {}, traits: r.data.traits ?? {} } };
    }
    case 'alias': {
      const r = AliasSchema.safeParse(raw);
      if (!r.success) return fail(r.error);
      return { ok: true, message: { ...base(r.data), previousId: r.data.previousId, properties: {} } };
    }
  }
}

/** Parses the body of a single-message route (`/v1/track` ...). Throws 400 / 413. */
export function parseSingle(type: MessageType, body: unknown, receivedAt: string): IngestMessage {
  if (!isObject(body)) throw new ValidationError('body: must be a JSON object', [{ path: 'body', message: 'must be a JSON object' }]);
  if (byteLength(body) > MAX_MESSAGE_BYTES) {
    throw new PayloadTooLargeError(`message is larger than ${MAX_MESSAGE_BYTES / 1024} KB`);
  }
  const result = parseMessage(type, body, receivedAt);
  if (!result.ok) throw new ValidationError(describe(result.issues), result.issues);
  return result.message;
}

/**
 * Parses `/v1/batch`. The whole batch is validated first: one bad message refuses the batch,
 * so that nothing of an invalid batch is stored.
 */
export function parseBatch(body: unknown, receivedAt: string): IngestMessage[] {
  if (!isObject(body)) throw new ValidationError('body: must be a JSON object', [{ path: 'body', message: 'must be a JSON object' }]);
  const batch = body.batch;
  if (!Array.isArray(batch)) {
    throw new ValidationError('batch: must be an array of messages', [{ path: 'batch', message: 'must be an array of messages' }]);
  }
  if (batch.length > MAX_BATCH_MESSAGES) {
    throw new PayloadTooLargeError(`batch has ${batch.length} messages; at most ${MAX_BATCH_MESSAGES} are allowed`);
  }
  const batchContext = isObject(body.context) ? body.context : undefined;
  const messages: IngestMessage[] = [];
  const issues: ErrorIssue[] = [];
  batch.forEach((raw: unknown, index) => {
    if (byteLength(raw) > MAX_MESSAGE_BYTES) {
      throw new PayloadTooLargeError(`batch[${index}] is larger than ${MAX_MESSAGE_BYTES / 1024} KB`);
    }
    const type = isObject(raw) ? raw.type : undefined;
    if (!isMessageType(type)) {
      issues.push({ path: `batch[${index}].type`, message: `must be one of ${MESSAGE_TYPES.join(', ')}` });
      return;
    }
    const result = parseMessage(type, raw, receivedAt, ['batch', index], batchContext);
    if (result.ok) messages.push(result.message);
    else issues.push(...result.issues);
  });
  if (issues.length > 0) throw new ValidationError(describe(issues), issues);
  return messages;
}
