import { IANAZone } from 'luxon';
import { z } from 'zod';
import { combinedEventRequirements, compileRule } from '../../domain/audience/evaluate';
import { loadEventWindows } from '../audiences/evaluate-profile';
import type { Rule } from '../../domain/audience/rule';
import { nextWallClockTime, DEFAULT_ZONE } from '../../domain/journey/wait-until';
import { WEEKDAYS } from '../../domain/journey/definition';
import { entryTime, isEntryEvent } from '../../domain/journey/journey';
import { deepEqual } from '../../domain/profile/profile';
import { parseProfilePk } from '../../aws/dynamodb/keys';
import type { Clock, JourneyHold, JourneyStore, MembershipStore, ProfileStore, WorkflowEngine } from '../../ports';
import { ValidationError } from '../../errors';

/**
 * What the Lambda tasks of compiled journeys do (see statemachines/steps/*.ts for the payloads):
 * register a hold's task token, find the next wall-clock time, evaluate branch rules on fresh data.
 */

export interface TaskDeps {
  journeys: JourneyStore;
  engine: WorkflowEngine;
  profiles: ProfileStore;
  memberships: MembershipStore;
  clock: Clock;
}

const RunFields = {
  journeyId: z.string().min(1),
  version: z.number().int().positive(),
  stepId: z.string().min(1),
  executionName: z.string().min(1),
  userId: z.string().min(1),
  profile: z.string().min(1),
};

export const HoldPayloadSchema = z.object({
  ...RunFields,
  taskToken: z.string().min(1),
  event: z.string().min(1),
  match: z.array(z.string()).optional(),
  entry: z.record(z.string(), z.unknown()),
  timeoutSeconds: z.number().positive(),
});

export const WaitUntilPayloadSchema = z.object({
  ...RunFields,
  time: z.string().regex(/^\d{2}:\d{2}$/),
  timezone: z.string().min(1),
  weekdays: z.array(z.enum(WEEKDAYS)).optional(),
});

export const CheckConditionPayloadSchema = z.object({
  ...RunFields,
  entry: z.record(z.string(), z.unknown()).optional(),
  branches: z.array(z.object({ name: z.string(), rule: z.unknown() })),
});

function parse<T>(schema: z.ZodType<T>, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new ValidationError(`invalid task payload: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function refOf(profile: string): NonNullable<ReturnType<typeof parseProfilePk>> {
  const ref = parseProfilePk(profile);
  if (!ref) throw new ValidationError(`invalid task payload: profile ${profile} is not a profile key`);
  return ref;
}

/** The entry event's value of each `match` key: the awaited event must carry the same. */
function matchValues(entry: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const properties = typeof entry.properties === 'object' && entry.properties !== null ? (entry.properties as Record<string, unknown>) : {};
  return Object.fromEntries(keys.map((key) => [key, properties[key] ?? null]));
}

/** Whether an event resumes a hold: its name, its `match` properties, and not the run's own entry event. */
export function eventResumesHold(hold: Pick<JourneyHold, 'event' | 'match' | 'entryMessageId'>, event: { event: string; messageId?: string; properties: Record<string, unknown> }): boolean {
  if (event.event !== hold.event) return false;
  if (event.messageId !== undefined && event.messageId === hold.entryMessageId) return false;
  return Object.entries(hold.match).every(([key, value]) => deepEqual(event.properties[key] ?? null, value));
}

/**
 * `hold_until`: stores the task token under the profile, where the stream router finds it when
 * the awaited event is ingested. Then looks for one that came since the run started (between
 * entry and now): the router may have seen it before the token was stored. Whichever of the two
 * sees both completes the token; completing twice is harmless. The entry event itself never
 * counts, even when it is also the awaited event.
 */
export async function registerHold(deps: TaskDeps, payload: unknown): Promise<{ registered: boolean; resumedAtOnce: boolean }> {
  const input = parse(HoldPayloadSchema, payload);
  const ref = refOf(input.profile);
  const run = await deps.journeys.getRun(input.profile, input.journeyId, input.executionName);
  // A run stopped (or erased) while this task was on its way: nothing to wait for, nothing to keep.
  if (!run || run.runStatus !== 'running') return { registered: false, resumedAtOnce: false };
  // "Since entry": the entry event's time (the awaited event may be ingested before the run even
  // starts, while the entry waits in the queue), or the audience entry's, but past the event that
  // resumed an earlier hold of this run (one event resumes one hold).
  const since = entryTime(input.entry, run.startedAt);
  const pastResumed = (timestamp: string): boolean => run.holdResumedAt === undefined || timestamp > run.holdResumedAt;
  const hold: JourneyHold = {
    journeyId: input.journeyId,
    executionName: input.executionName,
    stepId: input.stepId,
    event: input.event,
    match: matchValues(input.entry, input.match ?? []),
    taskToken: input.taskToken,
    since,
    ...(typeof input.entry.messageId === 'string' ? { entryMessageId: input.entry.messageId } : {}),
    // Kept a day past the timeout, then removed by TTL (the token has lapsed by then).
    expiresAt: Math.floor(deps.clock.now().getTime() / 1000 + input.timeoutSeconds + 86_400),
  };
  await deps.journeys.putHold(input.profile, hold);
  const arrived = (await deps.memberships.eventsNamed(ref, input.event, since)).find(
    (event) => event.timestamp >= since && pastResumed(event.timestamp) && eventResumesHold(hold, { ...event, messageId: undefined }) && !isEntryEvent(input.entry, event),
  );
  if (arrived === undefined) return { registered: true, resumedAtOnce: false };
  await deps.journeys.markHoldResumed(input.profile, input.journeyId, input.executionName, arrived.timestamp);
  await deps.engine.sendTaskSuccess(input.taskToken, { resumedBy: 'event before hold' });
  await deps.journeys.deleteHold(input.profile, hold);
  return { registered: true, resumedAtOnce: true };
}


/**
 * `wait_until`: the next occurrence of the wall-clock time in the step's zone, or in the user's
 * `timezone` trait for `"user"` (UTC when the profile has none).
 */
export async function findNextTime(deps: TaskDeps, payload: unknown): Promise<{ timestamp: string; zone: string }> {
  const input = parse(WaitUntilPayloadSchema, payload);
  const wanted: unknown = input.timezone === 'user' ? (await deps.profiles.getProfile(refOf(input.profile)))?.traits.timezone : input.timezone;
  // No zone, or a trait that is not one: the run waits in UTC rather than fail.
  const zone = typeof wanted === 'string' && IANAZone.isValidZone(wanted) ? wanted : DEFAULT_ZONE;
  const at = nextWallClockTime(deps.clock.now(), input.time, zone, input.weekdays);
  return { timestamp: at.toISOString(), zone };
}

/**
 * `branch`: the index of the first branch whose rule matches the profile now (traits, events in
 * their windows, audience memberships), -1 for the default.
 */
export async function checkCondition(deps: TaskDeps, payload: unknown): Promise<{ branchIndex: number }> {
  const input = parse(CheckConditionPayloadSchema, payload);
  const ref = refOf(input.profile);
  const [profile, state] = await Promise.all([deps.profiles.getProfile(ref), deps.memberships.state(ref)]);
  if (!profile) return { branchIndex: -1 };
  const now = deps.clock.now();
  const compiled = input.branches.map((branch) => compileRule(branch.rule as Rule));
  const events = await loadEventWindows(deps.memberships, ref, combinedEventRequirements(compiled), now);
  const members = new Set(state.memberships.keys());
  const index = compiled.findIndex(
    (rule) => rule.evaluate({ traits: profile.traits, eventsNamed: (name) => events.get(name) ?? [], isMember: (id) => members.has(id), now }).matches,
  );
  return { branchIndex: index };
}
