import type { z } from 'zod';
import { MethodNotAllowedError, NotFoundError, ValidationError } from '../../shared/errors';
import { formatPath } from '../../shared/domain/ingestion/messages';
import type { HttpEvent, HttpResult } from '../lib/http';
import type { Services } from '../lib/wiring';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteRequest<Q, B> {
  params: Record<string, string>;
  query: Q;
  body: B;
  event: HttpEvent;
  services: Services;
}

/**
 * One route of the management API. The same zod schemas validate requests and describe
 * them in the OpenAPI document, so the two cannot disagree.
 */
export interface Route<Q = unknown, B = unknown> {
  method: Method;
  /** OpenAPI path template, e.g. `/v1/profiles/{userId}`. */
  path: string;
  summary: string;
  tag: string;
  auth: 'apiKey' | 'none';
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handle(request: RouteRequest<Q, B>): Promise<HttpResult>;
}

/** Lets routes with different query/body types live in one table. */
export function route<Q, B>(definition: Route<Q, B>): Route {
  return definition as unknown as Route;
}

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

export function validate<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'query' | 'body'): T {
  if (!schema) return value as T;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: formatPath(i.path) || where, message: i.message }));
  const first = issues[0];
  throw new ValidationError(first ? `${first.path}: ${first.message}` : `invalid ${where}`, issues);
}

/**
 * Ids are stored in DynamoDB keys, which hold at most 2,048 bytes (partition) and 1,024 (sort):
 * a longer path id names nothing that can exist (user ids are at most 255 characters, 1,020 bytes).
 */
export const MAX_PATH_ID_BYTES = 1024;

function decodePathSegment(name: string, raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ValidationError(`${name}: is not a valid URL-encoded path segment`, [{ path: name, message: 'is not a valid URL-encoded path segment' }]);
  }
  if (Buffer.byteLength(decoded, 'utf8') > MAX_PATH_ID_BYTES) throw new NotFoundError(`${name}: no such ${name} (at most ${MAX_PATH_ID_BYTES} bytes)`);
  return decoded;
}

export interface Matched {
  route: Route;
  params: Record<string, string>;
}

export class Router {
  private readonly compiled: CompiledRoute[];

  constructor(
    readonly routes: Route[],
    /** Paths served elsewhere (ingestion) so that a wrong method here is a 405, not a 404. */
    private readonly foreignPaths: Record<string, Method[]> = {},
  ) {
    this.compiled = routes.map(compile);
  }

  match(method: string, path: string): Matched {
    const allowed = new Set<string>(this.foreignPaths[path] ?? []);
    for (const c of this.compiled) {
      const m = c.pattern.exec(path);
      if (!m) continue;
      if (c.route.method === method) {
        const params: Record<string, string> = {};
        c.names.forEach((name, i) => {
          params[name] = decodePathSegment(name, m[i + 1] ?? '');
        });
        return { route: c.route, params };
      }
      allowed.add(c.route.method);
    }
    if (allowed.size > 0) throw new MethodNotAllowedError(`${method} is not allowed on ${path}; allowed: ${[...allowed].sort().join(', ')}`);
    throw new NotFoundError(`no route for ${method} ${path}`);
  }
}
