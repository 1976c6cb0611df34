import { z } from 'zod';
import {
  entryOf,
  executionNameFor,
  reentryBound,
  runSk,
  slotKey,
  triggerId,
  type EntryTrigger,
  type JourneyRun,
} from '../../domain/journey/journey';
import { parseProfilePk } from '../../aws/dynamodb/keys';
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
  | { kind: 'reentry-refused' };

/**
 * Enters one user: checks the journey takes entries and the trigger still holds (a replayed
 * audience entry of someone who has left since starts nothing), claims the re-entry slot with a
 * conditional write, writes the run, then starts the execution on the live *version*, named from
 * version, user and trigger. A redelivery finds its own claim and run, and Step Functions refuses
 * the second start of the name.
 */
export async function enterJourney(deps: EntryDeps, input: { journeyId: string; profile: string; trigger: EntryTrigger }): Promise<EnterOutcome> {
  const journey = await deps.journeys.get(input.journeyId);
  // A manual entry is checked by its route; queued ones are dropped once the journey stops taking entries.
  if (!journey?.live || journey.status !== 'live') return { kind: 'not-live' };
  const ref = parseProfilePk(input.profile);
  if (!ref) return { kind: 'no-profile' };
  const { trigger } = input;
  if (trigger.kind === 'audience') {
    const membership = await deps.memberships.membership(ref, trigger.audienceId);
    if (membership?.enteredAt !== trigger.enteredAt) return { kind: 'stale' };
  }
  const profile = await deps.profiles.getProfile(ref);
  if (!profile || profile.erasureRequestedAt !== undefined || profile.mergedInto !== undefined) return { kind: 'no-profile' };

  const definition = journey.live.definition;
  const now = deps.clock.now();
  const entry = entryOf(trigger, definition, now);
  const slot = slotKey(journey.id, definition, entry);
  if ('missingKey' in slot) return { kind: 'missing-key', key: slot.missingKey };
  const id = triggerId(trigger);
  const bound = reentryBound(definition, now);
  const executionName = await deps.journeys.claimSlot(input.profile, slot.sk, {
    triggerId: id,
    executionName: executionNameFor(journey.live.version, input.profile, id),
    journeyId: journey.id,
    ...(bound === undefined ? {} : { reentryBound: bound }),
  });
  if (executionName === undefined) return { kind: 'reentry-refused' };

  const run: JourneyRun = {
    journeyId: journey.id,
    version: journey.live.version,
    versionArn: journey.live.versionArn,
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
  if (existing && existing.runStatus !== 'running') return { kind: 'started', executionName, version: existing.version, duplicate: true };
  const versionArn = existing && existing.version !== journey.live.version ? journey.versions.find((v) => v.version === existing.version)?.versionArn : journey.live.versionArn;
  const started = await deps.engine.start(versionArn ?? journey.live.versionArn, executionName, {
    userId: run.userId ?? `anonymous:${ref.id}`,
    entry: existing?.entry ?? entry,
    run: { pk: input.profile, sk: runSk(journey.id, executionName) },
  });
  if (!existing?.executionArn) await deps.journeys.setExecutionArn(input.profile, journey.id, executionName, started.executionArn);
  return { kind: 'started', executionName, version: existing?.version ?? run.version, duplicate: !fresh || !started.started };
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

/** Stops one run's execution and records it as exited early (also used by erasure). */
export async function stopRun(deps: Pick<EntryDeps, 'journeys' | 'engine' | 'clock'>, profile: string, run: JourneyRun, reason: string): Promise<void> {
  // A run whose ARN was not stored yet (its worker died after starting it) is stopped all the same.
  const executionArn = run.executionArn ?? (run.versionArn === undefined ? undefined : deps.engine.executionArn(run.versionArn, run.executionName));
  if (executionArn !== undefined) await deps.engine.stop(executionArn, reason);
  const at = deps.clock.now().toISOString();
  await deps.journeys.endRun(profile, run.journeyId, run.executionName, 'exited', at, reason);
  await deps.journeys.releaseSlot(profile, run.slotSk, run.executionName, at);
}

/** Completes a hold's task token (the awaited event arrived) and forgets the hold. */
export async function resumeHold(deps: EntryDeps, input: Extract<JourneyMessage, { type: 'resume' }>): Promise<void> {
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

