import { z } from 'zod';
import { RuleSchema } from '../../shared/domain/audience/rule';
import {
  createAudience,
  deleteAudience,
  getAudience,
  listAudiences,
  listMembers,
  previewAudience,
  updateAudience,
  type ManageDeps,
} from '../../shared/services/audiences/manage';
import { json } from '../lib/http';
import type { Services } from '../lib/wiring';
import { route, type Route } from './router';
import { PageQuerySchema, pageOf } from './schemas';

const NameSchema = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const DescriptionSchema = z.string().max(2000, 'must be at most 2000 characters');

export const AudienceCreateSchema = z
  .object({ name: NameSchema, description: DescriptionSchema.optional(), rule: RuleSchema })
  .strict()
  .meta({ id: 'AudienceCreate' });

export const AudienceUpdateSchema = z
  .object({ name: NameSchema.optional(), description: DescriptionSchema.optional(), rule: RuleSchema.optional() })
  .strict()
  .refine((v) => v.name !== undefined || v.description !== undefined || v.rule !== undefined, { message: 'set name, description or rule', path: ['name'] })
  .meta({ id: 'AudienceUpdate' });

const PreviewSchema = z.object({ rule: RuleSchema }).strict().meta({ id: 'AudiencePreviewRequest' });

const AudienceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().optional(),
    rule: z.unknown(),
    status: z.enum(['building', 'ready']),
    size: z.number().int().nullable(),
    usedBy: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Audience' });

const MemberSchema = z.object({ userId: z.string().nullable(), anonymousId: z.string().optional(), enteredAt: z.string() }).meta({ id: 'AudienceMember' });
const PreviewResultSchema = z
  .object({ size: z.number().int(), sample: z.array(z.string()), estimated: z.boolean(), evaluated: z.number().int() })
  .meta({ id: 'AudiencePreview' });

const notFound = { description: 'No audience with this id' };
const deps = (s: Services): ManageDeps => s;

export const audienceRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/audiences',
    tag: 'Audiences',
    summary: 'Create an audience; existing profiles are evaluated (backfill), then status becomes ready',
    auth: 'apiKey',
    body: AudienceCreateSchema,
    responses: { 201: { description: 'Created, building', schema: AudienceSchema } },
    handle: async ({ body, services }) => json(201, await createAudience(deps(services), body)),
  }),
  route({
    method: 'GET',
    path: '/v1/audiences',
    tag: 'Audiences',
    summary: 'List audiences, oldest first',
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of audiences', schema: pageOf(AudienceSchema, 'AudiencePage') } },
    handle: async ({ query, services }) => {
      const page = await listAudiences(deps(services), query);
      return json(200, { items: page.items, nextCursor: page.nextCursor ?? null });
    },
  }),
  route({
    method: 'POST',
    path: '/v1/audiences/preview',
    tag: 'Audiences',
    summary: 'Evaluate a rule without saving anything: exact on small data, a sampled estimate beyond 2,000 profiles',
    auth: 'apiKey',
    body: PreviewSchema,
    responses: { 200: { description: 'Size and a sample of user ids', schema: PreviewResultSchema } },
    handle: async ({ body, services }) => json(200, await previewAudience(deps(services), body.rule)),
  }),
  route({
    method: 'GET',
    path: '/v1/audiences/{id}',
    tag: 'Audiences',
    summary: 'An audience with its size and status',
    auth: 'apiKey',
    responses: { 200: { description: 'The audience', schema: AudienceSchema }, 404: notFound },
    handle: async ({ params, services }) => json(200, await getAudience(deps(services), params.id ?? '')),
  }),
  route({
    method: 'PUT',
    path: '/v1/audiences/{id}',
    tag: 'Audiences',
    summary: 'Edit an audience; a new rule rebuilds membership and users who no longer match exit',
    auth: 'apiKey',
    body: AudienceUpdateSchema,
    responses: { 200: { description: 'The audience', schema: AudienceSchema }, 404: notFound },
    handle: async ({ params, body, services }) => json(200, await updateAudience(deps(services), params.id ?? '', body)),
  }),
  route({
    method: 'DELETE',
    path: '/v1/audiences/{id}',
    tag: 'Audiences',
    summary: 'Delete an audience (409 while a live journey, a scheduled broadcast or another audience uses it)',
    auth: 'apiKey',
    responses: { 204: { description: 'Deleted; memberships are removed in the background' }, 404: notFound, 409: { description: 'In use' } },
    handle: async ({ params, services }) => {
      await deleteAudience(deps(services), params.id ?? '');
      return { statusCode: 204, headers: {}, body: '' };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/audiences/{id}/members',
    tag: 'Audiences',
    summary: 'Members of an audience',
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of members', schema: pageOf(MemberSchema, 'AudienceMemberPage') }, 404: notFound },
    handle: async ({ params, query, services }) => {
      const page = await listMembers(deps(services), params.id ?? '', query);
      return json(200, { items: page.items, nextCursor: page.nextCursor ?? null });
    },
  }),
];
