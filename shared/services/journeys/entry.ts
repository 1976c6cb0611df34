import { isActiveProfile } from '../../domain/profile/profile';
import { z } from 'zod';
import { durationSeconds, type JourneyDefinition } from '../../domain/journey/definition';
import {
  entryOf,
  entryTime,
  isEntryEvent,
  executionNameFor,
  reentryBound,
  slotKey,
  triggerId,
  type EntryTrigger,
  type Journey,
  type JourneyRun,
} from '../../domain/journey/journey';
import { parseProfilePk, runSk } from '../../aws/dynamodb/keys';
import { closeRun } from './run-status';
import type { Clock, JourneyStore, MembershipStore, ProfileStore, Queue, WorkflowEngine } from '../../ports';

/**
 * The journey worker's use cases, fed by the entry queue: enter a user (re-entry rule, then a
 * deterministically named execution), stop a user's runs (exit event, leaving the audience),
 * and resume a hold (a task-token callback). Each is idempotent: a redelivered message changes
 * nothing more, and Step Functions throttling is a thrown error the queue retries.
 */

export interface EntryDeps {
  journeys: JourneyStore;
  engine: WorkflowEngine;
  profiles: ProfileStore;
  memberships: MembershipStore;
  clock: Clock;
}

const TriggerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('audience'), audienceId: z.string().min(1), enteredAt: z.string().min(1) }),
  z.object({ kind: z.literal('event'), messageId: z.string().min(1), event: z.string().min(1), properties: z.record(z.string(), z.unknown()), timestamp: z.string().min(1) }),
  z.object({ kind: z.literal('manual'), requestId: z.string().min(1), properties: z.record(z.string(), z.unknown()).optional() }),
]);

/** How many times Step Functions throttled this message (each time it went back on the queue). */
const Throttled = z.number().int().min(0).optional();

/** A message on the entry queue. */
export const JourneyMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('enter'),
    journeyId: z.string().min(1),
    profile: z.string().min(1),
    trigger: TriggerSchema,
    throttled: Throttled,
  }),
  z.object({
    type: z.literal('exit'),
    journeyId: z.string().min(1),
    profile: z.string().min(1),
    reason: z.enum(['event', 'audience']),
    /** Runs that started after this instant are not stopped (a replayed exit must not stop a newer run). */
    at: z.string().min(1),
    throttled: Throttled,
  }),
  z.object({
    type: z.literal('resume'),
    journeyId: z.string().min(1),
    profile: z.string().min(1),
    executionName: z.string().min(1),
    stepId: z.string().min(1),
    taskToken: z.string().min(1),
    messageId: z.string().min(1),
    /** The awaited event's time (a later hold of the run looks back only past it). */
    eventTimestamp: z.string().min(1).optional(),
    throttled: Throttled,
  }),
]);
export type JourneyMessage = z.infer<typeof JourneyMessageSchema>;

export type EnterOutcome =
  | { kind: 'started'; executionName: string; version: number; duplicate: boolean }
  | { kind: 'not-live' }
  | { kind: 'stale' }
  | { kind: 'no-profile' }
  | { kind: 'missing-key'; key: string }
  | { kind: 'reentry-refused' }
  | { kind: 'start-failed'; executionName: string; error: string };

/**
 * Errors of StartExecution that no retry can mend: the run is ended as `failed` and its slot
 * freed, rather than left `running` with no execution behind it.
 */
const PERMANENT_START_ERRORS = new Set(['InvalidExecutionInput', 'InvalidName', 'InvalidArn', 'StateMachineDoesNotExist', 'StateMachineDeleting', 'ValidationException', 'ExecutionAlreadyExists']);

/**
 * Enters one user: checks the journey takes entries and the trigger still holds (a replayed
 * audience entry of someone who has left since starts nothing), claims the re-entry slot with a
 * conditional write, writes the run, then starts the execution on the live *version*, named from
 * version, user and trigger. A redelivery finds its own claim and run, and Step Functions refuses
 * the second start of the name; a trigger whose run an earlier attempt already wrote is carried
 * through even if the journey was paused or the membership changed since (the entry happened).
 * After the start, what happened while the entry waited is caught up with: a run ended meanwhile
 * (exit, erasure) has its execution stopped, an exit or goal event since the entry applies.
 */
export async function enterJourney(deps: EntryDeps, input: { journeyId: string; profile: string; trigger: EntryTrigger; journey?: Journey }): Promise<EnterOutcome> {
  // The manual route has the journey already (a strongly consistent read of up to 200 KB).
  const journey = input.journey ?? (await deps.journeys.get(input.journeyId));
  if (!journey?.live) return { kind: 'not-live' };
  const live = journey.live;
  const ref = parseProfilePk(input.profile);
  if (!ref) return { kind: 'no-profile' };
  const { trigger } = input;
  const definition = live.definition;
  const now = deps.clock.now();
  const entry = entryOf(trigger, definition, now);
  const slot = slotKey(journey.id, definition, entry);
  if ('missingKey' in slot) return { kind: 'missing-key', key: slot.missingKey };
  const id = triggerId(trigger);

  // Dropped only if no earlier attempt of this trigger already holds the slot (and wrote the run).
  const dropped = async (outcome: EnterOutcome): Promise<EnterOutcome | undefined> => ((await deps.journeys.slotHolder(input.profile, slot.sk))?.triggerId === id ? undefined : outcome);
  if (journey.status !== 'live') {
    const drop = await dropped({ kind: 'not-live' });
    if (drop) return drop;
  }
  if (trigger.kind === 'audience') {
    const membership = await deps.memberships.membership(ref, trigger.audienceId);
    if (membership?.enteredAt !== trigger.enteredAt) {
      const drop = await dropped({ kind: 'stale' });
      if (drop) return drop;
    }
  }
  const profile = await deps.profiles.getProfile(ref);
  if (!isActiveProfile(profile)) return { kind: 'no-profile' };

  const bound = reentryBound(definition, now);
  const executionName = await deps.journeys.claimSlot(input.profile, slot.sk, {
    triggerId: id,
    executionName: executionNameFor(live.version, input.profile, id),
    journeyId: journey.id,
    ...(bound === undefined ? {} : { reentryBound: bound }),
  });
  if (executionName === undefined) return { kind: 'reentry-refused' };

  const run: JourneyRun = {
    journeyId: journey.id,
    version: live.version,
    versionArn: live.versionArn,
    executionName,
    userId: ref.kind === 'user' ? ref.id : null,
    ...(ref.kind === 'anonymous' ? { anonymousId: ref.id } : {}),
    runStatus: 'running',
    startedAt: now.toISOString(),
    entry,
    triggerId: id,
    slotSk: slot.sk,
  };
  // The run exists before the execution does: its first state writes to it.
  const fresh = await deps.journeys.putRun(input.profile, run);
  const existing = fresh ? run : await deps.journeys.getRun(input.profile, journey.id, executionName);
  // Gone (erased meanwhile), or ended (a redelivery after the end, or stopped before it started).
  if (!existing) return { kind: 'no-profile' };
  if (existing.runStatus !== 'running') return { kind: 'started', executionName, version: existing.version, duplicate: true };
  const versionArn = existing.versionArn ?? journey.versions.find((v) => v.version === existing.version)?.versionArn ?? live.versionArn;
  let started: { executionArn: string; started: boolean };
  try {
    started = await deps.engine.start(versionArn, executionName, {
      userId: existing.userId ?? `anonymous:${ref.id}`,
      entry: existing.entry,
      run: { pk: input.profile, sk: runSk(journey.id, executionName) },
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    if (!PERMANENT_START_ERRORS.has(name)) throw error;
    await closeRun(deps, input.profile, existing, 'failed', deps.clock.now().toISOString(), `could not start: ${name}`);
    return { kind: 'start-failed', executionName, error: name };
  }
  if (!existing.executionArn) await deps.journeys.setExecutionArn(input.profile, journey.id, executionName, started.executionArn);
  const current = { ...existing, executionArn: started.executionArn };
  await catchUp(deps, input.profile, definition, current);
  return { kind: 'started', executionName, version: existing.version, duplicate: !fresh || !started.started };
}

/**
 * What happened while the entry waited in the queue, now that the run exists (so the stream
 * sees anything later): the run ended meanwhile (an exit or erasure found no execution to stop),
 * the exit event or the goal event came after the entry, the user left the entry audience.
 */
async function catchUp(deps: EntryDeps, profile: string, definition: JourneyDefinition, run: JourneyRun): Promise<void> {
  const now = await deps.journeys.getRun(profile, run.journeyId, run.executionName);
  if (!now || now.runStatus !== 'running') {
    if (run.executionArn !== undefined) await deps.engine.stop(run.executionArn, now ? `run ${now.runStatus} before its execution started` : 'profile erased');
    return;
  }
  const ref = parseProfilePk(profile);
  if (!ref) return;
  const since = entryTime(run.entry, run.startedAt);
  const after = async (event: string): Promise<Array<{ timestamp: string }>> =>
    (await deps.memberships.eventsNamed(ref, event, since)).filter((e) => e.timestamp >= since && !isEntryEvent(run.entry, e));
  if (definition.goal) {
    const windowEnd = new Date(Date.parse(since) + durationSeconds(definition.goal.within) * 1000).toISOString();
    const reached = (await after(definition.goal.event)).find((e) => e.timestamp <= windowEnd);
    if (reached) await deps.journeys.markConverted(profile, run.journeyId, run.executionName, reached.timestamp);
  }
  if (definition.exit?.event !== undefined && (await after(definition.exit.event)).length > 0) {
    await stopRun(deps, profile, now, 'exit event');
    return;
  }
  if (definition.exit?.onAudienceExit === true && 'audience' in definition.entry && !(await deps.memberships.membership(ref, definition.entry.audience))) {
    await stopRun(deps, profile, now, 'left the entry audience');
  }
}

/**
 * Stops the user's running runs of a journey (exit event, or leaving the entry audience) and
 * marks them exited: stop first, so a run marked exited never sends again. Acts on current
 * state: an audience exit is ignored when the user is (again) a member, and runs that started
 * after the exit are left alone.
 */
export async function exitRuns(deps: EntryDeps, input: { journeyId: string; profile: string; reason: 'event' | 'audience'; at: string }): Promise<number> {
  const ref = parseProfilePk(input.profile);
  if (!ref) return 0;
  if (input.reason === 'audience') {
    const journey = await deps.journeys.get(input.journeyId);
    const definition = journey?.live?.definition;
    if (definition && 'audience' in definition.entry && (await deps.memberships.membership(ref, definition.entry.audience))) return 0;
  }
  const runs = (await deps.journeys.runsOf(input.profile, input.journeyId)).filter((run) => run.runStatus === 'running' && run.startedAt <= input.at);
  let stopped = 0;
  for (const run of runs) {
    await stopRun(deps, input.profile, run, input.reason === 'event' ? 'exit event' : 'left the entry audience');
    stopped++;
  }
  return stopped;
}

/**
 * Stops one run's execution and records it as exited early (also used by erasure). An execution
 * that had already ended by itself (its status event not applied yet) keeps its own outcome.
 */
export async function stopRun(deps: Pick<EntryDeps, 'journeys' | 'engine' | 'clock'>, profile: string, run: JourneyRun, reason: string): Promise<void> {
  // A run whose ARN was not stored yet (its worker died after starting it) is stopped all the same.
  const executionArn = run.executionArn ?? (run.versionArn === undefined ? undefined : deps.engine.executionArn(run.versionArn, run.executionName));
  let status: 'exited' | 'completed' | 'failed' = 'exited';
  if (executionArn !== undefined) {
    await deps.engine.stop(executionArn, reason);
    // The status only (no GetExecutionHistory: not granted to the worker and the stream router, and rate-limited).
    const ended = (await deps.engine.describe(executionArn, { currentState: false }))?.status;
    if (ended === 'succeeded') status = 'completed';
    if (ended === 'failed' || ended === 'timed_out') status = 'failed';
  }
  await closeRun(deps, profile, run, status, deps.clock.now().toISOString(), status === 'exited' ? reason : undefined);
}

/**
 * Completes a hold's task token (the awaited event arrived) and forgets the hold. The event's
 * time is kept on the run: a later hold of the same run looks back only past it, so one event
 * never resumes two holds.
 */
export async function resumeHold(deps: EntryDeps, input: Extract<JourneyMessage, { type: 'resume' }>): Promise<void> {
  if (input.eventTimestamp !== undefined) await deps.journeys.markHoldResumed(input.profile, input.journeyId, input.executionName, input.eventTimestamp);
  await deps.engine.sendTaskSuccess(input.taskToken, { resumedBy: input.messageId });
  await deps.journeys.deleteHold(input.profile, input);
}

/** The worker's dispatcher. */
export async function handleJourneyMessage(deps: EntryDeps, message: JourneyMessage): Promise<string> {
  switch (message.type) {
    case 'enter':
      return (await enterJourney(deps, message)).kind;
    case 'exit':
      return `stopped ${await exitRuns(deps, message)}`;
    case 'resume':
      await resumeHold(deps, message);
      return 'resumed';
  }
}

/** Step Functions' answers that mean "not now": the start rate or the open-executions quota. */
const THROTTLING = new Set(['ThrottlingException', 'ExecutionLimitExceeded', 'TooManyRequestsException', 'Throttling']);

/** Re-queued throttled messages wait 2, 4, 8… seconds, up to 15 minutes (SQS's longest delay), jittered. */
export function throttleDelaySeconds(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(900, 2 ** Math.min(attempt + 1, 10));
  return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/** After this many throttled attempts (days of waiting) the message fails like any other, to the DLQ. */
export const MAX_THROTTLED_ATTEMPTS = 500;

/**
 * The worker's entry point. A throttled call (StartExecution's token bucket, the quota of open
 * executions, a throttled StopExecution or SendTaskSuccess) puts the message back on the queue with a growing delay instead of failing it, so
 * a million simultaneous entries wait as long as they must without spending their receive count
 * (which would dead-letter them after `maxReceiveCount × visibility`). Everything else fails the
 * message, which SQS redelivers.
 */
export async function processJourneyMessage(deps: EntryDeps & { queue: Queue }, message: JourneyMessage): Promise<string> {
  try {
    return await handleJourneyMessage(deps, message);
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const attempt = message.throttled ?? 0;
    if (!THROTTLING.has(name) || attempt >= MAX_THROTTLED_ATTEMPTS) throw error;
    await deps.queue.send('entry', [{ body: { ...message, throttled: attempt + 1 }, delaySeconds: throttleDelaySeconds(attempt) }]);
    return 'throttled';
  }
}

