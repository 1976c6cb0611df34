import { z } from 'zod';
import {
  AliasSchema,
  GroupSchema,
  IdentifySchema,
  PageSchema,
  TrackSchema,
} from '../../shared/domain/ingestion/messages';
import type { Route } from './router';
import { ErrorSchema } from './schemas';

type JsonObject = Record<string, unknown>;

/** Ingestion routes are served by their own function; they are described here all the same. */
const BatchSchema = z
  .object({
    batch: z.array(z.object({ type: z.enum(['identify', 'track', 'page', 'screen', 'group', 'alias']) }).loose()),
    context: z.record(z.string(), z.unknown()).optional(),
    writeKey: z.string().optional(),
  })
  .meta({ id: 'Batch' });

const INGESTION: Array<{ path: string; summary: string; schema: z.ZodType; id: string }> = [
  { path: '/v1/identify', summary: 'Identify a user and set traits', schema: IdentifySchema, id: 'Identify' },
  { path: '/v1/track', summary: 'Record an event', schema: TrackSchema, id: 'Track' },
  { path: '/v1/page', summary: 'Record a page view (stored as "Page Viewed")', schema: PageSchema, id: 'Page' },
  { path: '/v1/screen', summary: 'Record a screen view (stored as "Screen Viewed")', schema: PageSchema, id: 'Screen' },
  { path: '/v1/group', summary: 'Associate the user with a group', schema: GroupSchema, id: 'Group' },
  { path: '/v1/alias', summary: 'Merge a previous identity into a user', schema: AliasSchema, id: 'Alias' },
  { path: '/v1/batch', summary: 'Up to 2,500 messages (500 KB) in one request', schema: BatchSchema, id: 'Batch' },
];

class SchemaCollector {
  readonly components: Record<string, JsonObject> = {};

  /** JSON Schema 2020-12 (OpenAPI 3.1's dialect) with named schemas moved to components. */
  add(schema: z.ZodType, io: 'input' | 'output', name?: string): JsonObject {
    const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonObject;
    const { $schema: _dialect, $defs, $id: _id, id: _metaId, ...rest } = converted;
    for (const [key, value] of Object.entries((typeof $defs === 'object' && $defs) || {})) {
      this.components[key] = this.rewrite(value);
    }
    const body = this.rewrite(rest);
    const id = name ?? schema.meta()?.id;
    if (typeof id !== 'string') return body;
    const ref = `#/components/schemas/${id}`;
    // A schema with its own id converts to a $ref to its $defs entry, already collected above.
    if (body.$ref !== ref) this.components[id] = body;
    return { $ref: ref };
  }

  private rewrite(value: unknown): JsonObject {
    return JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonObject;
  }
}

const STATUS_TEXT: Record<number, string> = { 400: 'Invalid input', 401: 'Missing or invalid credentials', 404: 'Not found', 405: 'Method not allowed', 409: 'Conflict', 413: 'Payload too large' };

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(routes: Route[], serverUrl?: string): JsonObject {
  const schemas = new SchemaCollector();
  const error = schemas.add(ErrorSchema, 'output');
  const errorResponse = (status: number) => ({ description: STATUS_TEXT[status] ?? 'Error', content: { 'application/json': { schema: error } } });
  const paths: Record<string, Record<string, JsonObject>> = {};

  for (const r of routes) {
    const parameters: JsonObject[] = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const q = schemas.add(r.query, 'input') as { properties?: Record<string, JsonObject>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    const responses: Record<string, JsonObject> = {};
    for (const [status, response] of Object.entries(r.responses)) {
      const code = Number(status);
      responses[status] =
        code >= 400
          ? { ...errorResponse(code), description: response.description }
          : { description: response.description, ...(response.schema ? { content: { 'application/json': { schema: schemas.add(response.schema, 'output') } } } : {}) };
    }
    if (r.body) responses['400'] ??= errorResponse(400);
    if (r.auth === 'apiKey') responses['401'] = errorResponse(401);
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemas.add(r.body, 'input') } } } } : {}),
      responses,
      security: r.auth === 'apiKey' ? [{ apiKey: [] }] : [],
    };
  }

  for (const ingestion of INGESTION) {
    paths[ingestion.path] = {
      post: {
        summary: ingestion.summary,
        tags: ['Ingestion (Segment-compatible)'],
        requestBody: { required: true, content: { 'application/json': { schema: schemas.add(ingestion.schema, 'input', ingestion.id) } } },
        responses: {
          200: { description: 'Stored (or already stored: messageId is idempotent)', content: { 'application/json': { schema: { type: 'object', properties: { success: { const: true } } } } } },
          400: errorResponse(400),
          401: errorResponse(401),
          413: errorResponse(413),
        },
        security: [{ writeKey: [] }],
      },
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Engage on AWS',
      version: '1',
      description: 'Audiences, journeys and broadcasts in your own AWS account. Ingestion follows the Segment HTTP Tracking API.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'The API key (a secret in Secrets Manager; printed by `npm start`)' },
        writeKey: { type: 'http', scheme: 'basic', description: 'The write key as user name and an empty password, as Segment clients send it' },
      },
    },
  };
}
