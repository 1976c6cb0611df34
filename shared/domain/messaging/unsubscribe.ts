import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Signed unsubscribe tokens: `base64url(JSON payload) + "." + base64url(HMAC-SHA256)`.
 *
 * Tokens do not expire, on purpose: an unsubscribe link in an email read a year later must
 * still work (CAN-SPAM and RFC 8058 expect the link to keep working; a dead link turns into a
 * spam complaint). So a token carries `issuedAt` for the record, not for checking, and the
 * only way to invalidate all tokens is to rotate the secret — which also breaks every link in
 * mail already sent. Keep the secret stable.
 *
 * The MAC covers a purpose label as well as the payload, so a MAC made with the same secret
 * for another purpose never verifies here.
 */

const PURPOSE = 'engage.unsubscribe.v1';
/** Far above any real token; bounds the work a forged request can cause. */
const MAX_TOKEN_CHARS = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export const UnsubscribeTokenPayloadSchema = z.object({
  userId: z.string().min(1),
  /** The id is an anonymousId (the profile has no userId yet). */
  anonymous: z.boolean().optional(),
  channel: z.enum(['email', 'sms']),
  messageId: z.string().min(1).optional(),
  broadcastId: z.string().min(1).optional(),
  journeyId: z.string().min(1).optional(),
  issuedAt: z.iso.datetime({ offset: true }),
});

export type UnsubscribeTokenPayload = z.infer<typeof UnsubscribeTokenPayloadSchema>;

function mac(secret: string, encodedPayload: string): string {
  return createHmac('sha256', secret).update(`${PURPOSE}.${encodedPayload}`).digest('base64url');
}

function assertSecret(secret: string): void {
  // A programming or configuration error, not a bad request: never sign or verify with an empty key.
  if (typeof secret !== 'string' || secret.length === 0) throw new Error('unsubscribe token secret must be a non-empty string');
}

/**
 * Signs an unsubscribe token. The payload is validated first (a bad payload throws: it is the
 * caller's bug, not user input).
 *
 * @example
 * const token = signUnsubscribeToken(secret, { userId: 'u1', channel: 'email', broadcastId: 'b1', issuedAt: new Date().toISOString() });
 */
export function signUnsubscribeToken(secret: string, payload: UnsubscribeTokenPayload): string {
  assertSecret(secret);
  const valid = UnsubscribeTokenPayloadSchema.parse(payload);
  const encoded = Buffer.from(JSON.stringify(valid), 'utf8').toString('base64url');
  return `${encoded}.${mac(secret, encoded)}`;
}

/**
 * The payload of a token signed with `secret`, or `undefined` for anything else: altered or
 * truncated payload or MAC, another key, bad JSON, a payload of the wrong shape, garbage.
 * The MAC is compared in constant time, as its canonical base64url text (so an encoding
 * variant of the same bytes is refused too). Tokens never expire; see the module comment.
 */
export function verifyUnsubscribeToken(secret: string, token: unknown): UnsubscribeTokenPayload | undefined {
  assertSecret(secret);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return undefined;
  const parts = token.split('.');
  if (parts.length !== 2) return undefined;
  const [encoded, given] = parts;
  if (encoded === undefined || given === undefined || !BASE64URL.test(encoded) || !BASE64URL.test(given)) return undefined;
  const expected = Buffer.from(mac(secret, encoded), 'utf8');
  const actual = Buffer.from(given, 'utf8');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = UnsubscribeTokenPayloadSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The public unsubscribe link: `<baseUrl>/v1/unsubscribe?token=<token>`. `baseUrl` is the API's
 * public URL (a path such as an API Gateway stage is kept; a trailing slash is not doubled).
 *
 * @example
 * unsubscribeUrl('https://abc.execute-api.eu-west-1.amazonaws.com/prod/', token);
 * // 'https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/unsubscribe?token=…'
 */
export function unsubscribeUrl(baseUrl: string, token: string): string {
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new Error(`unsubscribe base URL must be an absolute http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.search !== '' || parsed.hash !== '') {
    throw new Error(`unsubscribe base URL must be an http(s) URL without query or fragment, got ${JSON.stringify(baseUrl)}`);
  }
  return `${baseUrl.replace(/\/+$/, '')}/v1/unsubscribe?token=${encodeURIComponent(token)}`;
}

export interface EmailHeader {
  name: string;
  value: string;
}

/**
 * RFC 8058 one-click unsubscribe headers (also what Gmail and Yahoo require of bulk senders):
 * the mail client POSTs `List-Unsubscribe=One-Click` to the URL. RFC 8058 asks for an HTTPS URL;
 * local mode serves plain HTTP, so that is the caller's to choose.
 */
export function listUnsubscribeHeaders(url: string): EmailHeader[] {
  // A header value cannot hold a line break, and `>` would end the <URI> early.
  if (/[\r\n<>]/.test(url)) throw new Error('unsubscribe URL must not contain line breaks or angle brackets');
  return [
    { name: 'List-Unsubscribe', value: `<${url}>` },
    { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
  ];
}
