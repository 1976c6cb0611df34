import { z } from 'zod';
import { JourneyDefinitionSchema } from '../../shared/domain/journey/definition';
import {
  archiveJourney,
  createJourney,
  enterManually,
  getJourney,
  listExecutions,
  listJourneys,
  liveDefinition,
  ManualEntrySchema,
  publishJourney,
  setJourneyPaused,
  updateJourney,
  type JourneyDeps,
} from '../../shared/services/journeys/manage';
import { json, parseJsonBody } from '../lib/http';
import type { Services } from '../lib/wiring';
import { route, type Route } from './router';
import { PageQuerySchema, pageOf } from './schemas';

const StepCountsSchema = z.object({
  reached: z.number().int(),
  branches: z.record(z.string(), z.number().int()).optional(),
  variants: z.record(z.string(), z.number().int()).optional(),
});

const JourneySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['draft', 'live', 'paused', 'archived']),
    definition: z.unknown(),
    liveVersion: z.number().int().nullable(),
    versions: z.array(z.object({ version: z.number().int(), publishedAt: z.string(), live: z.boolean() })),
    stateMachineArn: z.string().nullable(),
    counts: z.object({
      entered: z.number().int(),
      active: z.number().int(),
      completed: z.number().int(),
      exitedEarly: z.number().int(),
      failed: z.number().int(),
      converted: z.number().int(),
      steps: z.record(z.string(), StepCountsSchema),
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Journey' });

const JourneySummarySchema = z
  .object({ id: z.string(), name: z.string(), status: z.string(), liveVersion: z.number().int().nullable(), createdAt: z.string(), updatedAt: z.string() })
  .meta({ id: 'JourneySummary' });

const ExecutionSchema = z
  .object({
    executionName: z.string(),
    version: z.number().int(),
    status: z.enum(['running', 'completed', 'exited', 'failed']),
    currentStep: z.string().nullable(),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
    exitReason: z.string().optional(),
    convertedAt: z.string().optional(),
  })
  .meta({ id: 'JourneyExecution' });

const ExecutionsQuerySchema = z.object({ userId: z.string().min(1, 'must not be empty').max(512).optional() }).strict();

const notFound = { description: 'No journey with this id' };
const deps = (s: Services): JourneyDeps => s;

export const journeyRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/journeys',
    tag: 'Journeys',
    summary: 'Create a journey as a draft (its shape is checked now, its graph on publish)',
    auth: 'apiKey',
    body: JourneyDefinitionSchema,
    responses: { 201: { description: 'Created, as a draft', schema: JourneySchema } },
    // The service parses the raw body again: a `__proto__` step id is refused there (zod drops it).
    handle: async ({ event, services }) => json(201, await createJourney(deps(services), parseJsonBody(event))),
  }),
  route({
    method: 'GET',
    path: '/v1/journeys',
    tag: 'Journeys',
    summary: 'List journeys, oldest first',
    auth: 'apiKey',
    query: PageQuerySchema,
    responses: { 200: { description: 'A page of journeys', schema: pageOf(JourneySummarySchema, 'JourneyPage') } },
    handle: async ({ query, services }) => {
      const page = await listJourneys(deps(services), query);
      return json(200, { items: page.items, nextCursor: page.nextCursor ?? null });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/journeys/{id}',
    tag: 'Journeys',
    summary: 'A journey: its draft, status, versions, state machine and counts',
    auth: 'apiKey',
    responses: { 200: { description: 'The journey', schema: JourneySchema }, 404: notFound },
    handle: async ({ params, services }) => json(200, await getJourney(deps(services), params.id ?? '')),
  }),
  route({
    method: 'PUT',
    path: '/v1/journeys/{id}',
    tag: 'Journeys',
    summary: 'Replace the draft (the live version and runs in flight are unchanged until publish)',
    auth: 'apiKey',
    body: JourneyDefinitionSchema,
    responses: { 200: { description: 'The journey', schema: JourneySchema }, 404: notFound, 409: { description: 'Archived' } },
    handle: async ({ params, event, services }) => json(200, await updateJourney(deps(services), params.id ?? '', parseJsonBody(event))),
  }),
  route({
    method: 'DELETE',
    path: '/v1/journeys/{id}',
    tag: 'Journeys',
    summary: 'Archive: no new entries; runs in flight finish',
    auth: 'apiKey',
    responses: { 204: { description: 'Archived' }, 404: notFound },
    handle: async ({ params, services }) => {
      await archiveJourney(deps(services), params.id ?? '');
      return { statusCode: 204, headers: {}, body: '' };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/journeys/{id}/publish',
    tag: 'Journeys',
    summary: 'Validate and compile the draft, publish a state machine version and make it live',
    auth: 'apiKey',
    responses: { 200: { description: 'The journey, live', schema: JourneySchema }, 400: { description: 'The draft cannot be published (issues name the step)' }, 404: notFound, 409: { description: 'Archived' } },
    handle: async ({ params, services }) => json(200, await publishJourney(deps(services), params.id ?? '')),
  }),
  route({
    method: 'POST',
    path: '/v1/journeys/{id}/pause',
    tag: 'Journeys',
    summary: 'Stop taking entries (runs in flight go on)',
    auth: 'apiKey',
    responses: { 200: { description: 'The journey', schema: JourneySchema }, 404: notFound, 409: { description: 'Not published, or archived' } },
    handle: async ({ params, services }) => json(200, await setJourneyPaused(deps(services), params.id ?? '', true)),
  }),
  route({
    method: 'POST',
    path: '/v1/journeys/{id}/resume',
    tag: 'Journeys',
    summary: 'Take entries again',
    auth: 'apiKey',
    responses: { 200: { description: 'The journey', schema: JourneySchema }, 404: notFound, 409: { description: 'Not published, or archived' } },
    handle: async ({ params, services }) => json(200, await setJourneyPaused(deps(services), params.id ?? '', false)),
  }),
  route({
    method: 'GET',
    path: '/v1/journeys/{id}/definition.asl.json',
    tag: 'Journeys',
    summary: 'The compiled state machine (Amazon States Language) of the live version',
    auth: 'apiKey',
    responses: { 200: { description: 'ASL JSON' }, 404: { description: 'No journey, or never published' } },
    handle: async ({ params, services }) => json(200, await liveDefinition(deps(services), params.id ?? '')),
  }),
  route({
    method: 'GET',
    path: '/v1/journeys/{id}/executions',
    tag: 'Journeys',
    summary: "A user's runs through the journey, newest first",
    auth: 'apiKey',
    query: ExecutionsQuerySchema,
    responses: { 200: { description: 'Runs', schema: z.object({ items: z.array(ExecutionSchema) }).meta({ id: 'JourneyExecutions' }) }, 400: { description: 'userId missing' }, 404: notFound },
    handle: async ({ params, query, services }) => json(200, await listExecutions(deps(services), params.id ?? '', query.userId)),
  }),
  route({
    method: 'POST',
    path: '/v1/journeys/{id}/entries',
    tag: 'Journeys',
    summary: 'Enter a user by hand (testing, support), under the re-entry rule',
    auth: 'apiKey',
    body: ManualEntrySchema,
    responses: {
      202: {
        description: 'Entered: the execution is starting (`running`), or Step Functions was busy and the entry worker will start it (`queued`)',
        schema: z.object({ executionName: z.string().optional(), version: z.number().int().optional(), status: z.enum(['running', 'queued']) }).meta({ id: 'JourneyEntryResult' }),
      },
      404: { description: 'No journey, or no such profile' },
      409: { description: 'The journey takes no entries, or the re-entry rule refuses this user' },
    },
    handle: async ({ params, body, services }) => json(202, await enterManually(deps(services), params.id ?? '', body)),
  }),
];
