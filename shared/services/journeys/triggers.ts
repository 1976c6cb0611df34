import { compileRule, type CompiledRule } from '../../domain/audience/evaluate';
import type { Rule } from '../../domain/audience/rule';
import { durationSeconds } from '../../domain/journey/definition';
import { countKinds, type Journey, type JourneyRun } from '../../domain/journey/journey';
import { profilePk } from '../../aws/dynamodb/keys';
import type { ProfileRef } from '../../domain/profile/profile';
import type { Clock, JourneyStore, Queue, WorkflowEngine } from '../../ports';
import type { JourneyMessage } from './entry';
import { stopRun } from './entry';
import { eventResumesHold } from './tasks';

/**
 * Journey work the stream starts: entries (an entry event, joining the entry audience), exits
 * (the exit event, leaving the audience), goal conversions, hold resumptions, and the counts of
 * run changes. Entries, exits and resumptions go to the entry queue (the worker calls Step
 * Functions with bounded concurrency, and throttling waits there); the rest are conditional
 * writes done here.
 */

/** Journeys by what the stream reacts to, cached per container like the audience catalog. */
export class JourneyCatalog {
  private cached?: { at: number; journeys: Promise<Journey[]> };
  /** Each loaded journey's event-entry rule, compiled once: it goes with the snapshot it came from. */
  private readonly entryRules = new WeakMap<Journey, CompiledRule>();

  constructor(
    private readonly store: JourneyStore,
    private readonly clock: Clock,
    readonly ttlMs: number,
  ) {}

  current(): Promise<Journey[]> {
    const now = this.clock.now().getTime();
    if (!this.cached || now - this.cached.at >= this.ttlMs) {
      const journeys = this.store.listAll().then((all) => all.filter((j) => j.live !== undefined));
      this.cached = { at: now, journeys };
      journeys.catch(() => {
        if (this.cached?.journeys === journeys) this.cached = undefined;
      });
    }
    return this.cached.journeys;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  /** Whether an event passes a journey's event entry and its `where` clauses (the rule language on this one event). */
  entersOn(journey: Journey, event: { event: string; timestamp: string; properties: Record<string, unknown> }, now: Date): boolean {
    const entry = journey.live?.definition.entry;
    if (!entry || !('event' in entry) || entry.event !== event.event) return false;
    if (entry.where === undefined || entry.where.length === 0) return true;
    let rule = this.entryRules.get(journey);
    if (!rule) {
      rule = compileRule({ event: entry.event, where: entry.where } as Rule);
      this.entryRules.set(journey, rule);
    }
    const at = Date.parse(event.timestamp);
    return rule.evaluate({ traits: {}, eventsNamed: () => [{ ...event, time: at }], isMember: () => false, now: new Date(Math.max(now.getTime(), at)) }).matches;
  }
}

export interface TriggerDeps {
  journeys: JourneyStore;
  journeyCatalog: JourneyCatalog;
  queue: Queue;
  engine: WorkflowEngine;
  clock: Clock;
}

async function enqueue(deps: TriggerDeps, messages: JourneyMessage[]): Promise<void> {
  if (messages.length > 0) await deps.queue.send('entry', messages.map((body) => ({ body })));
}

/** An ingested event: entries, exits, goals and holds waiting for it. */
export async function onJourneyEvent(deps: TriggerDeps, ref: ProfileRef, event: { event: string; messageId: string; timestamp: string; properties: Record<string, unknown> }): Promise<void> {
  const profile = profilePk(ref);
  const now = deps.clock.now();
  const journeys = await deps.journeyCatalog.current();
  const messages: JourneyMessage[] = [];
  for (const journey of journeys) {
    const definition = journey.live?.definition;
    if (!definition) continue;
    if (journey.status === 'live' && deps.journeyCatalog.entersOn(journey, event, now)) {
      messages.push({ type: 'enter', journeyId: journey.id, profile, trigger: { kind: 'event', ...event } });
    }
    const exitOnEvent = definition.exit?.event === event.event;
    const goalEvent = definition.goal?.event === event.event;
    if (!exitOnEvent && !goalEvent) continue;
    const runs = await deps.journeys.runsOf(profile, journey.id);
    if (exitOnEvent && runs.some((run) => run.runStatus === 'running' && run.entry.messageId !== event.messageId)) {
      messages.push({ type: 'exit', journeyId: journey.id, profile, reason: 'event', at: now.toISOString() });
    }
    if (goalEvent && definition.goal) await convert(deps, profile, runs, definition.goal.within, event);
  }
  // Only an event some published version holds on can resume anything: no read for the others.
  const awaited = journeys.some((journey) => journey.holdEvents?.includes(event.event) === true);
  const holds = awaited ? (await deps.journeys.holdsOf(profile)).filter((hold) => eventResumesHold(hold, event)) : [];
  for (const hold of holds) {
    messages.push({
      type: 'resume',
      journeyId: hold.journeyId,
      profile,
      executionName: hold.executionName,
      stepId: hold.stepId,
      taskToken: hold.taskToken,
      messageId: event.messageId,
      eventTimestamp: event.timestamp,
    });
  }
  await enqueue(deps, messages);
}

/** Goal: a run converts when the goal event comes within `within` of its start (once per run). */
async function convert(deps: TriggerDeps, profile: string, runs: JourneyRun[], within: string, event: { messageId: string; timestamp: string }): Promise<void> {
  const at = Date.parse(event.timestamp);
  const windowMs = durationSeconds(within) * 1000;
  for (const run of runs) {
    if (run.convertedAt !== undefined || run.entry.messageId === event.messageId) continue;
    const started = Date.parse(run.startedAt);
    // A little slack for client clocks: an event stamped just before the run started still counts.
    if (at >= started - 60_000 && at <= started + windowMs) await deps.journeys.markConverted(profile, run.journeyId, run.executionName, event.timestamp);
  }
}

/** A membership appeared or went: entries into audience journeys, exits with `onAudienceExit`. */
export async function onJourneyMembership(deps: TriggerDeps, ref: ProfileRef, audienceId: string, change: { entered?: string; exited: boolean }): Promise<void> {
  const profile = profilePk(ref);
  const journeys = await deps.journeyCatalog.current();
  const messages: JourneyMessage[] = [];
  for (const journey of journeys) {
    const definition = journey.live?.definition;
    if (!definition || !('audience' in definition.entry) || definition.entry.audience !== audienceId) continue;
    if (change.entered !== undefined && journey.status === 'live') {
      messages.push({ type: 'enter', journeyId: journey.id, profile, trigger: { kind: 'audience', audienceId, enteredAt: change.entered } });
    }
    if (change.exited && definition.exit?.onAudienceExit === true) {
      const runs = await deps.journeys.runsOf(profile, journey.id);
      if (runs.some((run) => run.runStatus === 'running')) messages.push({ type: 'exit', journeyId: journey.id, profile, reason: 'audience', at: deps.clock.now().toISOString() });
    }
  }
  await enqueue(deps, messages);
}

/** A run item changed: each count it adds gets a marker (counted once, from the marker's stream record). */
export async function onRunChange(deps: Pick<TriggerDeps, 'journeys'>, before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): Promise<number> {
  const run = (after ?? before) as Partial<JourneyRun> | undefined;
  if (!run?.journeyId || !run.executionName) return 0;
  const kinds = countKinds(before as Partial<JourneyRun> | undefined, after as Partial<JourneyRun> | undefined);
  for (const kind of kinds) await deps.journeys.putCountMarker(run.journeyId, run.executionName, kind);
  return kinds.length;
}

/** Erasure: every running run of the profile stops before its items are deleted. */
export async function stopAllRuns(deps: Pick<TriggerDeps, 'journeys' | 'engine' | 'clock'>, ref: ProfileRef): Promise<number> {
  const profile = profilePk(ref);
  const running = (await deps.journeys.runsOf(profile)).filter((run) => run.runStatus === 'running');
  for (const run of running) await stopRun(deps, profile, run, 'profile erased');
  return running.length;
}
