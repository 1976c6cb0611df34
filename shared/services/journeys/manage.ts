import { isActiveProfile } from '../../domain/profile/profile';
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { referencedAudiences } from '../../domain/audience/rule';
import { parseJourneyDefinition, validateJourney, type Channel, type JourneyDefinition } from '../../domain/journey/definition';
import { countsView, holdEventsOf, stepTypesOf, type Journey, type JourneyRun } from '../../domain/journey/journey';
import { profilePk } from '../../aws/dynamodb/keys';
import { ConcurrentUpdateError, ConflictError, EngageError, NotFoundError, PayloadTooLargeError, ValidationError } from '../../errors';
import type { AudienceStore, Clock, JourneyStore, Page, PageRequest, ProfileStore, Queue, StoredTemplate, TemplateStore, WorkflowEngine } from '../../ports';
import { compileJourneyWithMap, type JourneyResources } from '../../../statemachines/compile-journey';
import { updateWithRetry } from '../versioned';
import { enterJourney, type EntryDeps } from './entry';

export interface JourneyDeps extends EntryDeps {
  journeys: JourneyStore;
  audiences: AudienceStore;
  templates: TemplateStore;
  profiles: ProfileStore;
  engine: WorkflowEngine;
  queue: Queue;
  clock: Clock;
  /** What compiled journeys call: the send queue, the task functions, the table record states write to. */
  journeyResources: JourneyResources;
}

/** Manual entry properties: the size ingestion allows a whole message. */
export const MAX_MANUAL_PROPERTIES_BYTES = 32 * 1024;

/** Step Functions' hard quota on a state machine definition (1 MB). */
export const MAX_DEFINITION_BYTES = 1_048_576;

export const ManualEntrySchema = z
  .object({
    userId: z.string().min(1, 'must not be empty').max(512),
    /** For journeys entered by an event: the entry event's properties (templates read `entry.properties.*`). */
    properties: z
      .record(z.string(), z.unknown())
      .refine((p) => Buffer.byteLength(JSON.stringify(p), 'utf8') <= MAX_MANUAL_PROPERTIES_BYTES, `must be at most ${MAX_MANUAL_PROPERTIES_BYTES} bytes of JSON (as an event's)`)
      .optional(),
  })
  .strict()
  .meta({ id: 'JourneyManualEntry' });

/**
 * The largest definition saved (JSON bytes): the journey item holds the draft and the live
 * definition, within DynamoDB's 400 KB item limit with room to spare.
 */
export const MAX_DEFINITION_JSON_BYTES = 100_000;

function parseDefinition(body: unknown): JourneyDefinition {
  const bytes = Buffer.byteLength(JSON.stringify(body) ?? '', 'utf8');
  if (bytes > MAX_DEFINITION_JSON_BYTES) throw new PayloadTooLargeError(`the journey definition is ${bytes} bytes; at most ${MAX_DEFINITION_JSON_BYTES}`);
  const parsed = parseJourneyDefinition(body);
  if (!parsed.ok) throw new ValidationError(`invalid journey: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, parsed.issues);
  return parsed.definition;
}

async function load(deps: Pick<JourneyDeps, 'journeys'>, id: string): Promise<Journey> {
  const journey = await deps.journeys.get(id);
  if (!journey) throw new NotFoundError(`journey ${id} not found`);
  return journey;
}

/** Read–modify–write of the journey record; retries lost races. */
function update(deps: Pick<JourneyDeps, 'journeys'>, id: string, change: (current: Journey) => Journey): Promise<Journey> {
  return updateWithRetry(deps.journeys, id, change, 'journey');
}

export async function journeyView(deps: Pick<JourneyDeps, 'journeys'>, journey: Journey): Promise<Record<string, unknown>> {
  const totals = await deps.journeys.countTotals(journey.id);
  return {
    id: journey.id,
    name: journey.name,
    status: journey.status,
    definition: journey.draft,
    liveVersion: journey.live?.version ?? null,
    versions: journey.versions.map(({ version, publishedAt }) => ({ version, publishedAt, live: version === journey.live?.version })),
    stateMachineArn: journey.stateMachineArn ?? null,
    counts: countsView(totals, journey.stepTypes ?? stepTypesOf([journey.draft])),
    createdAt: journey.createdAt,
    updatedAt: journey.updatedAt,
  };
}

/** `POST /v1/journeys`: a draft, shape-checked (the graph is checked on publish). */
export async function createJourney(deps: JourneyDeps, body: unknown): Promise<Record<string, unknown>> {
  const definition = parseDefinition(body);
  const now = deps.clock.now().toISOString();
  const journey: Journey = {
    id: `jrn_${randomBytes(8).toString('hex')}`,
    name: definition.name,
    status: 'draft',
    draft: definition,
    versions: [],
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
  await deps.journeys.create(journey);
  return journeyView(deps, { ...journey, version: 1 });
}

/** `PUT /v1/journeys/{id}`: replaces the draft; live runs and the live version are untouched. */
export async function updateJourney(deps: JourneyDeps, id: string, body: unknown): Promise<Record<string, unknown>> {
  const definition = parseDefinition(body);
  const saved = await update(deps, id, (current) => {
    if (current.status === 'archived') throw new ConflictError(`journey ${id} is archived`);
    return { ...current, name: definition.name, draft: definition, updatedAt: deps.clock.now().toISOString() };
  });
  return journeyView(deps, saved);
}

export async function getJourney(deps: JourneyDeps, id: string): Promise<Record<string, unknown>> {
  return journeyView(deps, await load(deps, id));
}

export async function listJourneys(deps: JourneyDeps, page: PageRequest): Promise<Page<Record<string, unknown>>> {
  const result = await deps.journeys.list(page);
  return {
    items: result.items.map((j) => ({ id: j.id, name: j.name, status: j.status, liveVersion: j.live?.version ?? null, createdAt: j.createdAt, updatedAt: j.updatedAt })),
    nextCursor: result.nextCursor,
  };
}

function templateIds(definition: JourneyDefinition): string[] {
  return [...new Set(Object.values(definition.steps).flatMap((step) => (step.type === 'send' ? [step.template] : [])))];
}

function audienceIds(definition: JourneyDefinition): string[] {
  const ids = new Set<string>();
  if ('audience' in definition.entry) ids.add(definition.entry.audience);
  for (const step of Object.values(definition.steps)) {
    if (step.type === 'branch') for (const branch of step.branches) for (const id of referencedAudiences(branch.rule)) ids.add(id);
  }
  return [...ids];
}

/** Registers (or removes) the journey in `usedBy` of the audiences and templates it references. */
async function markUse(deps: JourneyDeps, journeyId: string, definition: JourneyDefinition | undefined, previous: JourneyDefinition | undefined): Promise<void> {
  const now = new Set([...(definition ? audienceIds(definition) : [])]);
  const before = new Set([...(previous ? audienceIds(previous) : [])]);
  const apply = (usedBy: Record<string, string>, inUse: boolean): Record<string, string> => {
    const next = { ...usedBy };
    if (inUse) next[journeyId] = 'journey';
    else delete next[journeyId];
    return next;
  };
  for (const id of new Set([...now, ...before])) {
    await updateWithRetry(deps.audiences, id, (a) => ({ ...a, usedBy: apply(a.usedBy, now.has(id)) })).catch((error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
  }
  const templatesNow = new Set(definition ? templateIds(definition) : []);
  for (const id of new Set([...templatesNow, ...(previous ? templateIds(previous) : [])])) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const template = await deps.templates.get(id);
      if (!template) break;
      try {
        await deps.templates.save({ ...template, usedBy: apply(template.usedBy, templatesNow.has(id)) });
        break;
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError)) throw error;
      }
    }
  }
}

/**
 * `POST /v1/journeys/{id}/publish`: validates the draft against the workspace (400 naming the
 * step), compiles it, publishes a state machine version and moves the `live` alias. Runs in
 * flight keep the version they started on; new entries use this one.
 */
export async function publishJourney(deps: JourneyDeps, id: string): Promise<Record<string, unknown>> {
  const journey = await load(deps, id);
  if (journey.status === 'archived') throw new ConflictError(`journey ${id} is archived; create a new journey instead`);
  const definition = journey.draft;

  const templates = new Map<string, StoredTemplate | undefined>();
  await Promise.all(templateIds(definition).map(async (t) => templates.set(t, await deps.templates.get(t))));
  const audiences = new Map<string, boolean>();
  await Promise.all(audienceIds(definition).map(async (a) => audiences.set(a, (await deps.audiences.get(a)) !== undefined)));
  const violations = validateJourney(definition, {
    templateExists: (t: string, channel: Channel) => templates.get(t)?.channel === channel,
    audienceExists: (a: string) => audiences.get(a) === true,
  });
  if (violations.length > 0) {
    throw new ValidationError(
      `journey cannot be published: ${violations.map((v) => `${v.path}: ${v.message}`).join('; ')}`,
      violations.map(({ path, message }) => ({ path, message })),
    );
  }

  const version = journey.versions.length + 1;
  const templateNames = Object.fromEntries([...templates].flatMap(([t, template]) => (template ? [[t, template.name]] : [])));
  const compiled = compileJourneyWithMap(definition, { journeyId: id, version, resources: deps.journeyResources, templateNames });
  const asl = compiled.asl as unknown as Record<string, unknown>;
  const bytes = Buffer.byteLength(JSON.stringify(asl), 'utf8');
  if (bytes > MAX_DEFINITION_BYTES) {
    const message = `the compiled state machine is ${bytes} bytes, over Step Functions' limit of ${MAX_DEFINITION_BYTES}: split the journey or shorten its rules`;
    throw new ValidationError(`journey cannot be published: steps: ${message}`, [{ path: 'steps', message }]);
  }
  const published = await deps.engine.publish(id, asl, `${definition.name} v${version}`.slice(0, 256));
  const publishedAt = deps.clock.now().toISOString();
  if (!(await deps.journeys.putVersion({ journeyId: id, version, versionArn: published.versionArn, publishedAt, definition, asl, stepOfState: compiled.stepOfState }))) {
    // Taken: by this very publish retried after a crash (Step Functions returned the same
    // version for the same definition), or by another publish at the same time.
    if ((await deps.journeys.getVersion(id, version))?.versionArn !== published.versionArn) {
      throw new ConflictError(`journey ${id} was published by another request at the same time; publish again`);
    }
  }
  await markUse(deps, id, definition, journey.live?.definition);

  const saved = await update(deps, id, (current) => ({
    ...current,
    status: current.status === 'paused' ? 'paused' : 'live',
    live: { version, versionArn: published.versionArn, publishedAt, definition },
    stateMachineArn: published.stateMachineArn,
    versions: [...current.versions.filter((v) => v.version !== version), { version, versionArn: published.versionArn, publishedAt }],
    holdEvents: [...new Set([...(current.holdEvents ?? []), ...holdEventsOf(definition)])],
    stepTypes: { ...current.stepTypes, ...stepTypesOf([definition]) },
    updatedAt: publishedAt,
  }));
  return journeyView(deps, saved);
}

/** `pause` stops new entries (runs in flight go on); `resume` lets them in again. */
export async function setJourneyPaused(deps: JourneyDeps, id: string, paused: boolean): Promise<Record<string, unknown>> {
  const saved = await update(deps, id, (current) => {
    if (current.status === 'archived') throw new ConflictError(`journey ${id} is archived`);
    if (current.live === undefined) throw new ConflictError(`journey ${id} has not been published`);
    return { ...current, status: paused ? 'paused' : 'live', updatedAt: deps.clock.now().toISOString() };
  });
  return journeyView(deps, saved);
}

/** `DELETE`: archived, no new entries; runs in flight finish. The audiences and templates are freed. */
export async function archiveJourney(deps: JourneyDeps, id: string): Promise<void> {
  const journey = await load(deps, id);
  if (journey.status === 'archived') return;
  await update(deps, id, (current) => ({ ...current, status: 'archived', updatedAt: deps.clock.now().toISOString() }));
  await markUse(deps, id, undefined, journey.live?.definition);
}

/** `GET /v1/journeys/{id}/definition.asl.json`: the live version's state machine. */
export async function liveDefinition(deps: JourneyDeps, id: string): Promise<Record<string, unknown>> {
  const journey = await load(deps, id);
  if (journey.live === undefined) throw new NotFoundError(`journey ${id} has no published version`);
  const record = await deps.journeys.getVersion(id, journey.live.version);
  if (!record) throw new NotFoundError(`journey ${id} version ${journey.live.version} not found`);
  return record.asl;
}

function runView(run: JourneyRun): Record<string, unknown> {
  return {
    executionName: run.executionName,
    version: run.version,
    status: run.runStatus,
    currentStep: run.currentStep ?? null,
    startedAt: run.startedAt,
    endedAt: run.endedAt ?? null,
    ...(run.exitReason !== undefined ? { exitReason: run.exitReason } : {}),
    ...(run.convertedAt !== undefined ? { convertedAt: run.convertedAt } : {}),
  };
}

/** `GET /v1/journeys/{id}/executions?userId=`: the user's runs, newest first. */
export async function listExecutions(deps: JourneyDeps, id: string, userId: string | undefined): Promise<{ items: Record<string, unknown>[] }> {
  if (userId === undefined || userId === '') throw new ValidationError('userId: required', [{ path: 'userId', message: 'required (query parameter)' }]);
  await load(deps, id);
  const runs = await deps.journeys.runsOf(profilePk({ kind: 'user', id: userId }), id);
  runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return { items: runs.map(runView) };
}

/** `POST /v1/journeys/{id}/entries`: enters a user by hand, under the journey's re-entry rule. */
export async function enterManually(deps: JourneyDeps, id: string, input: z.infer<typeof ManualEntrySchema>): Promise<Record<string, unknown>> {
  const journey = await load(deps, id);
  if (journey.status !== 'live' || journey.live === undefined) throw new ConflictError(`journey ${id} is ${journey.status === 'live' ? 'not published' : journey.status}: it takes no entries`);
  const ref = { kind: 'user' as const, id: input.userId };
  const profile = await deps.profiles.getProfile(ref);
  if (!isActiveProfile(profile)) throw new NotFoundError(`profile ${input.userId} not found`);
  const entry = {
    journeyId: id,
    profile: profilePk(ref),
    trigger: { kind: 'manual' as const, requestId: randomUUID(), ...(input.properties === undefined ? {} : { properties: input.properties }) },
  };
  let outcome: Awaited<ReturnType<typeof enterJourney>>;
  try {
    outcome = await enterJourney(deps, { ...entry, journey });
  } catch (error) {
    if (error instanceof EngageError) throw error;
    // Step Functions throttled or failed for a moment: the entry worker finishes it (the claim
    // and the run are written; the queued entry carries the same trigger).
    await deps.queue.send('entry', [{ body: { type: 'enter', ...entry } }]);
    return { status: 'queued' };
  }
  switch (outcome.kind) {
    case 'started':
      return { executionName: outcome.executionName, version: outcome.version, status: 'running' };
    case 'start-failed':
      throw new EngageError(502, 'start_failed', `the execution could not be started (${outcome.error}); the run is recorded as failed`);
    case 'reentry-refused':
      throw new ConflictError(`user ${input.userId} may not enter journey ${id} again (reentry ${journey.live.definition.reentry?.mode ?? 'never'})`);
    case 'missing-key':
      throw new ValidationError(`properties.${outcome.key}: required (the journey's reentry key)`, [{ path: `properties.${outcome.key}`, message: "required: the journey's reentry key" }]);
    default:
      throw new ConflictError(`user ${input.userId} was not entered: ${outcome.kind}`);
  }
}
