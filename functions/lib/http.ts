import { timingSafeEqual } from 'node:crypto';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { EngageError, UnauthorizedError, ValidationError } from '../../shared/errors';
import { logger } from './logger';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorBody(error: EngageError): { error: { code: string; message: string; issues?: unknown } } {
  return { error: { code: error.code, message: error.message, ...(error.issues ? { issues: error.issues } : {}) } };
}

/** The raw body as text; API Gateway base64-encodes bodies it considers binary. */
export function bodyText(event: HttpEvent): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function parseJsonBody(event: HttpEvent): unknown {
  const text = bodyText(event);
  if (text.trim() === '') throw new ValidationError('body: a JSON body is required', [{ path: 'body', message: 'a JSON body is required' }]);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError('body: is not valid JSON', [{ path: 'body', message: 'is not valid JSON' }], { cause: error });
  }
}

/** The base URL the caller used (API Gateway's domain, or the local server), for links and OpenAPI. */
export function publicBaseUrl(event: HttpEvent): string {
  return `${header(event, 'x-forwarded-proto') ?? 'https'}://${event.requestContext.domainName}`;
}

export function html(statusCode: number, body: string): HttpResult {
  return { statusCode, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body };
}

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** Constant-time comparison so that response timing does not reveal a key's prefix. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function requireApiKey(event: HttpEvent, apiKey: () => Promise<string>): Promise<void> {
  const match = /^Bearer\s+(.+)$/i.exec(header(event, 'authorization') ?? '');
  if (!sameSecret(match?.[1]?.trim(), await apiKey())) {
    throw new UnauthorizedError('Authorization: a valid "Bearer <api key>" header is required');
  }
}

/**
 * The one error mapping of the HTTP API: errors meant for callers keep their status and
 * message; anything else is logged (ids only) and becomes a generic 500.
 */
export function httpErrors(): MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof EngageError) {
        request.response = json(error.statusCode, errorBody(error));
        return;
      }
      logger.error('unhandled error', { errorName: error?.name, errorMessage: error?.message, requestId: request.event.requestContext?.requestId });
      request.response = json(500, { error: { code: 'internal_error', message: 'Internal error' } });
    },
  };
}

export function httpHandler(
  fn: (event: HttpEvent, context: Context) => Promise<HttpResult>,
): (event: HttpEvent, context: Context) => Promise<HttpResult> {
  return middy<HttpEvent, HttpResult>({ timeoutEarlyInMillis: 0 }).use(httpErrors()).handler(fn);
}
