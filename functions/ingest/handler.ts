import {
  MAX_BATCH_BYTES,
  parseBatch,
  parseSingle,
  type IngestMessage,
  type MessageType,
} from '../../shared/domain/ingestion/messages';
import { NotFoundError, PayloadTooLargeError, UnauthorizedError } from '../../shared/errors';
import { ingestMessages } from '../../shared/services/ingest';
import { bodyText, header, httpHandler, json, parseJsonBody, sameSecret, type HttpEvent } from '../lib/http';
import { getServices } from '../lib/wiring';

const SINGLE_ROUTES: Record<string, MessageType> = {
  '/v1/identify': 'identify',
  '/v1/track': 'track',
  '/v1/page': 'page',
  '/v1/screen': 'screen',
  '/v1/group': 'group',
  '/v1/alias': 'alias',
};

/** The write key as Segment sends it: the HTTP Basic user name, with an empty password. */
function basicAuthUser(event: HttpEvent): string | undefined {
  const basic = /^Basic\s+(.+)$/i.exec(header(event, 'authorization') ?? '');
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(0, colon) : decoded;
}

function bodyWriteKey(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && 'writeKey' in body && typeof body.writeKey === 'string' ? body.writeKey : undefined;
}

const WRITE_KEY_REQUIRED = 'a valid write key is required (HTTP Basic user name, or writeKey in the body)';

/**
 * Segment-compatible ingestion (SPEC section 2): authenticate, validate the whole request,
 * then store. Nothing of an invalid request is stored.
 */
export const handler = httpHandler(async (event) => {
  const { keys, clock, profiles } = getServices();
  const path = event.rawPath.replace(/\/+$/, '');
  const type = SINGLE_ROUTES[path];
  if (type === undefined && path !== '/v1/batch') throw new NotFoundError(`no route for ${event.requestContext.http.method} ${path}`);

  if (Buffer.byteLength(bodyText(event), 'utf8') > MAX_BATCH_BYTES) {
    throw new PayloadTooLargeError(`request body is larger than ${MAX_BATCH_BYTES / 1024} KB`);
  }
  // With Basic auth the key is checked before the body is read; otherwise it is in the body.
  const writeKey = await keys.writeKey();
  const basicUser = basicAuthUser(event);
  if (basicUser !== undefined && !sameSecret(basicUser, writeKey)) throw new UnauthorizedError(WRITE_KEY_REQUIRED);
  const body = parseJsonBody(event);
  if (basicUser === undefined && !sameSecret(bodyWriteKey(body), writeKey)) throw new UnauthorizedError(WRITE_KEY_REQUIRED);

  const receivedAt = clock.now().toISOString();
  const messages: IngestMessage[] = type === undefined ? parseBatch(body, receivedAt) : [parseSingle(type, body, receivedAt)];
  await ingestMessages({ profiles }, messages);
  return json(200, { success: true });
});
