import { createHash } from 'node:crypto';
import { deepEqual } from '../profile/profile';
import { durationSeconds, type JourneyDefinition, type StepType } from './definition';

/**
 * Journeys as stored and run: the journey record and its published versions, the run of one
 * user (one Step Functions execution), the re-entry slot that decides whether a user may enter,
 * and the counts derived from run changes. Pure: no I/O.
 */

export type JourneyStatus = 'draft' | 'live' | 'paused' | 'archived';

/** The version new entries use, copied onto the journey so that an entry reads one item. */
export interface LiveVersion {
  version: number;
  versionArn: string;
  publishedAt: string;
  definition: JourneyDefinition;
}

export interface Journey {
  id: string;
  name: string;
  status: JourneyStatus;
  /** The editable definition (`PUT`); what the next `publish` compiles. */
  draft: JourneyDefinition;
  live?: LiveVersion;
  stateMachineArn?: string;
  /** Every published version, oldest first. */
  versions: Array<{ version: number; versionArn: string; publishedAt: string }>;
  /**
   * The events `hold_until` steps of any published version await: only those make the stream
   * look for a profile's holds (runs on old versions may still hold on an event the live one dropped).
   */
  holdEvents?: string[];
  /** Each step id's type across published versions (counts place branches and variants by it). */
  stepTypes?: Record<string, StepType>;
  createdAt: string;
  updatedAt: string;
  /** Optimistic concurrency of the record (not a published version). */
  version: number;
}

/** One published version: its definition, compiled ASL and the state → step map. */
export interface JourneyVersionRecord {
  journeyId: string;
  version: number;
  versionArn: string;
  publishedAt: string;
  definition: JourneyDefinition;
  asl: Record<string, unknown>;
  stepOfState: Record<string, string | null>;
}

export type RunStatus = 'running' | 'completed' | 'exited' | 'failed';

/** One user's run through a journey: the item under the profile the state machine writes to. */
export interface JourneyRun {
  journeyId: string;
  version: number;
  /** The version the run started on (its execution's ARN follows from it and the name). */
  versionArn?: string;
  executionName: string;
  executionArn?: string;
  userId: string | null;
  anonymousId?: string;
  runStatus: RunStatus;
  currentStep?: string | null;
  stepOutcome?: string | null;
  startedAt: string;
  endedAt?: string;
  /** Why a run ended early (the exit event, leaving the audience, a stop, erasure) or could not start. */
  exitReason?: string;
  /** The time of the event that resumed the run's last hold: later holds look back only past it. */
  holdResumedAt?: string;
  convertedAt?: string;
  entry: Record<string, unknown>;
  triggerId: string;
  /** Sort key of the re-entry slot this run holds. */
  slotSk: string;
}

/** What started an entry: joining the entry audience, an entry event, or the API. */
export type EntryTrigger =
  | { kind: 'audience'; audienceId: string; enteredAt: string }
  | { kind: 'event'; messageId: string; event: string; properties: Record<string, unknown>; timestamp: string }
  | { kind: 'manual'; requestId: string; properties?: Record<string, unknown> };

/** Identifies a trigger across redeliveries: the same trigger retried is recognised by its slot. */
export function triggerId(trigger: EntryTrigger): string {
  switch (trigger.kind) {
    case 'audience':
      return `aud:${trigger.audienceId}:${trigger.enteredAt}`;
    case 'event':
      return `evt:${trigger.messageId}`;
    case 'manual':
      return `manual:${trigger.requestId}`;
  }
}

/** The `entry` a run carries (templates read `entry.properties.*`, holds match against it). */
export function entryOf(trigger: EntryTrigger, definition: JourneyDefinition, now: Date): Record<string, unknown> {
  switch (trigger.kind) {
    case 'audience':
      return { audience: trigger.audienceId, enteredAt: trigger.enteredAt };
    case 'event':
      return { event: trigger.event, messageId: trigger.messageId, properties: trigger.properties, timestamp: trigger.timestamp };
    case 'manual':
      return 'event' in definition.entry
        ? { event: definition.entry.event, messageId: trigger.requestId, properties: trigger.properties ?? {}, timestamp: now.toISOString(), manual: true }
        : { audience: definition.entry.audience, enteredAt: now.toISOString(), manual: true };
  }
}

/**
 * Whether an event is the run's entry event (the byEvent index returns no message id: it is
 * recognised by name, time and properties). The entry event never exits, converts or resumes its own run.
 */
export function isEntryEvent(entry: Record<string, unknown>, event: { event: string; timestamp: string; properties: Record<string, unknown> }): boolean {
  return entry.event === event.event && entry.timestamp === event.timestamp && deepEqual(entry.properties ?? {}, event.properties);
}

/** When the entry happened: events at or after it count for exits, goals and holds. */
export function entryTime(entry: Record<string, unknown>, fallback: string): string {
  if (typeof entry.timestamp === 'string') return entry.timestamp;
  if (typeof entry.enteredAt === 'string') return entry.enteredAt;
  return fallback;
}

function hash(value: string, length: number): string {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/**
 * Where the re-entry decision is kept under the profile: one slot per journey (`never`,
 * `after_exit`), or one per entry key value (`every_event`). A conditional write on it admits
 * one run; two triggers at the same moment race for the same slot and one loses.
 */
export function slotKey(journeyId: string, definition: JourneyDefinition, entry: Record<string, unknown>): { sk: string } | { missingKey: string } {
  const reentry = definition.reentry ?? { mode: 'never' };
  if (reentry.mode !== 'every_event') return { sk: `JSLOT#${journeyId}` };
  const properties = entry.properties;
  const value = typeof properties === 'object' && properties !== null ? (properties as Record<string, unknown>)[reentry.key] : undefined;
  if (value === undefined || value === null || value === '') return { missingKey: reentry.key };
  return { sk: `JSLOT#${journeyId}#${hash(JSON.stringify(value), 32)}` };
}

/**
 * The execution name: from the journey version, the user and the trigger, deterministic so that
 * a redelivered entry starts nothing new (Step Functions refuses a second execution of a name):
 * `v3-<user hash>-<trigger hash>`. Only hashes: execution names show in the console, in logs
 * without execution data, in CloudWatch and in count markers, and a user id may be an email.
 */
export function executionNameFor(version: number, profileKey: string, trigger: string): string {
  return `v${version}-${hash(profileKey, 20)}-${hash(trigger, 20)}`;
}

/** The oldest end of the previous run that lets a user back in now (`after_exit` with a cooldown). */
export function reentryBound(definition: JourneyDefinition, now: Date): string | undefined {
  const reentry = definition.reentry ?? { mode: 'never' };
  if (reentry.mode !== 'after_exit') return undefined;
  const cooldown = reentry.cooldown === undefined ? 0 : durationSeconds(reentry.cooldown);
  return new Date(now.getTime() - cooldown * 1000).toISOString();
}

// ---- Counts ------------------------------------------------------------------------------

/**
 * What one run change adds to the journey's counts, as count names: `entered`, `completed`,
 * `exitedEarly`, `failed`, `converted`, `step:<stepId>` (reached) and `outcome:<stepId>:<name>`
 * (a branch or variant taken). Each name is counted once per run (markers make it so).
 */
export function countKinds(before: Partial<JourneyRun> | undefined, after: Partial<JourneyRun> | undefined): string[] {
  if (after === undefined) return [];
  const kinds: string[] = [];
  if (before === undefined && after.runStatus !== undefined) kinds.push('entered');
  if (after.runStatus !== before?.runStatus) {
    if (after.runStatus === 'completed') kinds.push('completed');
    if (after.runStatus === 'exited') kinds.push('exitedEarly');
    if (after.runStatus === 'failed') kinds.push('failed');
  }
  if (typeof after.currentStep === 'string' && after.currentStep !== before?.currentStep) {
    kinds.push(`step:${after.currentStep}`);
    if (typeof after.stepOutcome === 'string') kinds.push(`outcome:${after.currentStep}:${after.stepOutcome}`);
  }
  if (after.convertedAt !== undefined && before?.convertedAt === undefined) kinds.push('converted');
  return kinds;
}

export interface StepCounts {
  reached: number;
  branches?: Record<string, number>;
  variants?: Record<string, number>;
}

export interface JourneyCounts {
  entered: number;
  active: number;
  completed: number;
  exitedEarly: number;
  failed: number;
  converted: number;
  steps: Record<string, StepCounts>;
}

/** Each step id's type across definitions, the latest definition winning (kept on the journey at publish). */
export function stepTypesOf(definitions: readonly JourneyDefinition[]): Record<string, StepType> {
  const types: Record<string, StepType> = {};
  for (const definition of definitions) for (const [id, step] of Object.entries(definition.steps)) types[id] = step.type;
  return types;
}

/**
 * The counts of SPEC section 3 from summed counters. Branches and variants are placed by the
 * step's type in every published version (a step may have been removed since: `stepTypes`),
 * and a branch or split step counts as reached once per outcome taken.
 */
export function countsView(totals: Readonly<Record<string, number>>, stepTypes: Readonly<Record<string, StepType>>): JourneyCounts {
  const value = (name: string): number => totals[name] ?? 0;
  const steps: Record<string, StepCounts> = {};
  for (const [id, type] of Object.entries(stepTypes)) {
    steps[id] = { reached: 0, ...(type === 'branch' ? { branches: {} } : {}), ...(type === 'split' ? { variants: {} } : {}) };
  }
  for (const [name, count] of Object.entries(totals)) {
    if (name.startsWith('step:')) {
      const id = name.slice(5);
      steps[id] ??= { reached: 0 };
      steps[id].reached += count;
    } else if (name.startsWith('outcome:')) {
      const rest = name.slice(8);
      const cut = rest.indexOf(':');
      const id = rest.slice(0, cut);
      const outcome = rest.slice(cut + 1);
      const type = stepTypes[id];
      const entry = (steps[id] ??= { reached: 0 });
      const bucket = type === 'split' ? (entry.variants ??= {}) : (entry.branches ??= {});
      bucket[outcome] = (bucket[outcome] ?? 0) + count;
    }
  }
  const entered = value('entered');
  const ended = value('completed') + value('exitedEarly') + value('failed');
  return {
    entered,
    active: Math.max(0, entered - ended),
    completed: value('completed'),
    exitedEarly: value('exitedEarly'),
    failed: value('failed'),
    converted: value('converted'),
    steps,
  };
}

/** How an execution's end maps to the run's status. */
export function runStatusOfExecution(status: 'succeeded' | 'failed' | 'timed_out' | 'aborted'): Exclude<RunStatus, 'running'> {
  switch (status) {
    case 'succeeded':
      return 'completed';
    case 'aborted':
      return 'exited';
    default:
      return 'failed';
  }
}

/** The events a definition's `hold_until` steps await. */
export function holdEventsOf(definition: JourneyDefinition): string[] {
  return [...new Set(Object.values(definition.steps).flatMap((step) => (step.type === 'hold_until' ? [step.event] : [])))];
}
