import { RUN_SK_PREFIX } from '../../aws/dynamodb/keys';
import { countsView, runStatusOfExecution, type JourneyRun, type RunStatus } from '../../domain/journey/journey';
import type { Clock, ExecutionStatus, JourneyStore } from '../../ports';

/** An execution's end, as Step Functions reports it (EventBridge "Execution Status Change") or the local runner does. */
export interface ExecutionEnd {
  executionName: string;
  status: Exclude<ExecutionStatus, 'running'>;
  /** The execution input (`{userId, entry, run: {pk, sk}}`), where the run's key is. */
  input: unknown;
  stoppedAt?: string;
}

function runKey(input: unknown): { pk: string; sk: string } | undefined {
  const run = typeof input === 'object' && input !== null ? (input as { run?: unknown }).run : undefined;
  if (typeof run !== 'object' || run === null) return undefined;
  const { pk, sk } = run as { pk?: unknown; sk?: unknown };
  return typeof pk === 'string' && typeof sk === 'string' && sk.startsWith(RUN_SK_PREFIX) ? { pk, sk } : undefined;
}

/**
 * Records the end of a run: `completed`, `failed` (failed or timed out) or `exited` (stopped:
 * the exit path marks it first, with its reason). Frees the re-entry slot and forgets any hold
 * whose token has lapsed. Idempotent: a run that already ended keeps its first status.
 */
export async function recordExecutionEnd(deps: { journeys: JourneyStore; clock: Clock }, end: ExecutionEnd): Promise<'recorded' | 'already-ended' | 'unknown-run'> {
  const key = runKey(end.input);
  if (!key) return 'unknown-run';
  const journeyId = key.sk.slice(RUN_SK_PREFIX.length, key.sk.length - end.executionName.length - 1);
  const run = await deps.journeys.getRun(key.pk, journeyId, end.executionName);
  if (!run) return 'unknown-run';
  const status = runStatusOfExecution(end.status);
  const changed = await closeRun(deps, key.pk, run, status, end.stoppedAt ?? deps.clock.now().toISOString(), status === 'exited' ? 'stopped' : undefined);
  return changed ? 'recorded' : 'already-ended';
}

/**
 * Ends a run (if it is still running: the first end wins), frees its re-entry slot and forgets
 * its holds. Every path that ends a run goes through here: the status event, an exit, erasure,
 * a failed start, a local restart. Returns whether this call ended it.
 */
export async function closeRun(
  deps: { journeys: JourneyStore },
  profile: string,
  run: Pick<JourneyRun, 'journeyId' | 'executionName' | 'slotSk'>,
  status: Exclude<RunStatus, 'running'>,
  at: string,
  reason?: string,
): Promise<boolean> {
  const changed = await deps.journeys.endRun(profile, run.journeyId, run.executionName, status, at, reason);
  await deps.journeys.releaseSlot(profile, run.slotSk, run.executionName, at);
  await Promise.all((await deps.journeys.holdsOf(profile, run)).map((hold) => deps.journeys.deleteHold(profile, hold)));
  return changed;
}

/**
 * Runs in flight across the deployment's journeys (`active` of their counts), for the dashboard's
 * "running" line: one BatchGetItem of its 16 counters per journey, once a minute.
 */
export async function activeRuns(deps: { journeys: JourneyStore }): Promise<{ journeys: number; active: number }> {
  const journeys = (await deps.journeys.listAll()).filter((journey) => journey.live !== undefined);
  const totals = await Promise.all(journeys.map((journey) => deps.journeys.countTotals(journey.id)));
  return { journeys: journeys.length, active: totals.reduce((sum, counted) => sum + countsView(counted, {}).active, 0) };
}
