import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { localLambdaContext } from './lambda-context';

export type HttpLambda = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** A route as API Gateway would match it: exact method+path routes first, else `$default`. */
export interface LocalRoutes {
  routes: Array<{ method: string; path: string; handler: HttpLambda }>;
  defaultHandler: HttpLambda;
}

/** API Gateway's own payload limit: a bigger body never reaches the function. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Builds the API Gateway HTTP API (payload format 2.0) event for a Node request. */
export function toApiGatewayEvent(req: IncomingMessage, body: Buffer, routeKey: string, host: string): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', `http://${host}`);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-proto'] = 'http';
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const now = new Date();
  const contentType = headers['content-type'] ?? '';
  const isText = body.length === 0 || /json|text|x-www-form-urlencoded|xml/i.test(contentType) || contentType === '';
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: host,
      domainPrefix: 'local',
      http: {
        method: (req.method ?? 'GET').toUpperCase(),
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body.length === 0 ? undefined : isText ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) headers[key] = String(value);
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode ?? 200, headers);
  if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
  res.end(body);
}

/**
 * The local stand-in for API Gateway: the same routes, the same event shape, the same
 * handlers. A handler crash becomes the 500 API Gateway would answer.
 */
export function createLocalHttpServer(routes: LocalRoutes): Server {
  return createServer((req, res) => {
    void (async () => {
      const host = req.headers.host ?? '127.0.0.1';
      const body = await readBody(req);
      if (body === 'too-large') {
        send(res, { statusCode: 413, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Request Entity Too Large' }) });
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const path = new URL(req.url ?? '/', `http://${host}`).pathname;
      const exact = routes.routes.find((r) => r.method === method && r.path === path);
      const routeKey = exact ? `${method} ${path}` : '$default';
      const event = toApiGatewayEvent(req, body, routeKey, host);
      const handler = exact?.handler ?? routes.defaultHandler;
      send(res, await handler(event, localLambdaContext(exact ? 'ingest' : 'api')));
    })().catch((error: unknown) => {
      console.error('local API: handler crashed', error instanceof Error ? error.name : 'unknown');
      if (!res.headersSent) send(res, { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal Server Error' }) });
    });
  });
}
