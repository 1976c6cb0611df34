import { json, httpHandler, publicBaseUrl, parseJsonBody, requireApiKey } from '../lib/http';
import { getServices } from '../lib/wiring';
import { buildOpenApiDocument } from './openapi';
import { audienceRoutes } from './audiences';
import { journeyRoutes } from './journeys';
import { messagingRoutes } from './messaging';
import { profileRoutes } from './profiles';
import { Router, route, validate, type Method, type Route } from './router';

const INGESTION_PATHS: Record<string, Method[]> = Object.fromEntries(
  ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch'].map((p) => [`/v1/${p}`, ['POST']]),
);

const systemRoutes: Route[] = [
  route({
    method: 'GET',
    path: '/v1/health',
    tag: 'System',
    summary: 'Liveness: 200 once the engine is up (no key needed; reveals nothing)',
    auth: 'none',
    responses: { 200: { description: 'Up' } },
    handle: () => Promise.resolve(json(200, { status: 'ok' })),
  }),
  route({
    method: 'GET',
    path: '/v1/openapi.json',
    tag: 'System',
    summary: 'This API described as OpenAPI 3.1',
    auth: 'apiKey',
    responses: { 200: { description: 'The OpenAPI document' } },
    handle: ({ event }) => Promise.resolve(json(200, openApi(publicBaseUrl(event)))),
  }),
];

export const routes: Route[] = [...systemRoutes, ...profileRoutes, ...audienceRoutes, ...journeyRoutes, ...messagingRoutes];
const router = new Router(routes, INGESTION_PATHS);

let openApiDocument: Record<string, unknown> | undefined;
function openApi(serverUrl: string): Record<string, unknown> {
  openApiDocument ??= buildOpenApiDocument(routes);
  return { ...openApiDocument, servers: [{ url: serverUrl }] };
}

/** The management API: one function, one router, one error shape (SPEC section 3). */
export const handler = httpHandler(async (event) => {
  const services = getServices();
  const path = event.rawPath.length > 1 ? event.rawPath.replace(/\/+$/, '') : event.rawPath;
  const { route: matched, params } = router.match(event.requestContext.http.method, path);
  if (matched.auth === 'apiKey') await requireApiKey(event, () => services.keys.apiKey());
  const query = validate(matched.query, event.queryStringParameters ?? {}, 'query');
  const body = matched.body ? validate(matched.body, parseJsonBody(event), 'body') : undefined;
  return matched.handle({ params, query, body, event, services });
});
