import type { ProfileRef } from '../domain/profile/profile';
import { profileFromItem } from '../aws/dynamodb/profile-store';
import {
  AUDIENCE_SK,
  COUNTER_SK,
  EVENT_SK_PREFIX,
  MEMBERSHIP_SK_PREFIX,
  PROFILE_SK,
  parseAudienceShardPk,
  parseProfilePk,
  parseSendPk,
  parseJourneyStatPk,
  isRunSk,
  JOURNEY_SK,
} from '../aws/dynamodb/keys';
import { countDelta, type SendRecord } from '../domain/broadcast/broadcast';
import type { AudienceStore, Clock, JourneyStore, MembershipStore, ProfileStore, Queue, SendStore, WorkflowEngine } from '../ports';
import { deepEqual } from '../domain/profile/profile';
import { onAudienceDefinitionChange } from './audiences/backfill';
import type { AudienceCatalog } from './audiences/catalog';
import { evaluateProfile, type EvaluationOutcome, type Trigger } from './audiences/evaluate-profile';
import { continueErasure } from './erasure';
import { continueMerge } from './identity-merge';
import { onJourneyEvent, onJourneyMembership, onRunChange, stopAllRuns, type JourneyCatalog } from './journeys/triggers';

/** A table change as the stream delivers it, images already unmarshalled. */
export interface TableChange {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  sequenceNumber: string;
  keys: { pk: string; sk: string };
  oldImage?: Record<string, unknown>;
  newImage?: Record<string, unknown>;
}

export interface RouterDeps {
  profiles: ProfileStore;
  memberships: MembershipStore;
  audiences: AudienceStore;
  sends: SendStore;
  catalog: AudienceCatalog;
  journeys: JourneyStore;
  journeyCatalog: JourneyCatalog;
  engine: WorkflowEngine;
  queue: Queue;
  clock: Clock;
  /** Time the current invocation may still spend on long maintenance (merge, erasure). */
  budgetMs: number;
  backfill: { segments: number; delaySeconds: number };
}

export type RouteResult =
  | { kind: 'ignored' }
  | { kind: 'maintenance'; outcome: string }
  | { kind: 'evaluated'; outcome: EvaluationOutcome }
  | { kind: 'projected' }
  | { kind: 'audience-definition' }
  | { kind: 'journey-definition' };

function sendRecordOf(image: Record<string, unknown> | undefined): SendRecord | undefined {
  return image && typeof image.status === 'string' ? (image as unknown as SendRecord) : undefined;
}

/** Top-level trait keys whose values differ between two trait maps. */
function changedRoots(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => !deepEqual(before[k], after[k]));
}

/**
 * Routes one table change to the work it starts. Every branch is idempotent and acts on
 * current state, so a replayed record changes nothing:
 * - profile → merge / erasure, and the audiences its changed traits can affect;
 * - event → the audiences that count that event name;
 * - membership → the audience's member shard; member shard → the shard's counter;
 * - broadcast send record → its partition's counts;
 * - audience definition → cache invalidation, backfill or purge.
 */
export async function routeChange(deps: RouterDeps, change: TableChange): Promise<RouteResult> {
  const { pk, sk } = change.keys;
  const ref = parseProfilePk(pk);

  if (ref && sk === PROFILE_SK) return routeProfileChange(deps, change, ref);

  if (ref && sk.startsWith(EVENT_SK_PREFIX)) {
    const image = change.newImage ?? change.oldImage;
    const name = typeof image?.event === 'string' ? image.event : undefined;
    if (name === undefined) return { kind: 'ignored' };
    const outcome = await evaluate(deps, ref, { eventNames: [name] });
    // Journeys react to events as ingested, not to events moved by a merge (they were seen before).
    const event = change.newImage;
    if (change.eventName === 'INSERT' && event && event.movedFrom === undefined && typeof event.messageId === 'string' && typeof event.timestamp === 'string') {
      await onJourneyEvent(deps, ref, {
        event: name,
        messageId: event.messageId,
        timestamp: event.timestamp,
        properties: typeof event.properties === 'object' && event.properties !== null ? (event.properties as Record<string, unknown>) : {},
      });
    }
    return { kind: 'evaluated', outcome };
  }

  if (ref && sk.startsWith(MEMBERSHIP_SK_PREFIX)) {
    // The shard copies the membership as it is now, not as the record says: a replayed
    // entry of someone who has left since must not put them back on the list.
    const audienceId = sk.slice(MEMBERSHIP_SK_PREFIX.length);
    const current = await deps.memberships.membership(ref, audienceId);
    if (current) await deps.audiences.putShardMember(audienceId, ref, current.enteredAt);
    else await deps.audiences.deleteShardMember(audienceId, ref);
    if (change.eventName !== 'MODIFY') {
      const enteredAt = change.eventName === 'INSERT' && typeof change.newImage?.enteredAt === 'string' ? change.newImage.enteredAt : undefined;
      await onJourneyMembership(deps, ref, audienceId, { ...(enteredAt === undefined ? {} : { entered: enteredAt }), exited: change.eventName === 'REMOVE' });
    }
    return { kind: 'projected' };
  }

  if (ref && isRunSk(sk)) {
    await onRunChange(deps, change.oldImage, change.newImage);
    return { kind: 'projected' };
  }

  const stat = parseJourneyStatPk(pk);
  if (stat && sk !== COUNTER_SK) {
    if (change.eventName !== 'INSERT' || typeof change.newImage?.kind !== 'string') return { kind: 'ignored' };
    await deps.journeys.applyCount(stat.journeyId, stat.shard, change.newImage.kind, change.sequenceNumber);
    return { kind: 'projected' };
  }

  if (pk.startsWith('JOURNEY#') && sk === JOURNEY_SK) {
    deps.journeyCatalog.invalidate();
    return { kind: 'journey-definition' };
  }

  const shard = parseAudienceShardPk(pk);
  if (shard && sk !== COUNTER_SK) {
    if (change.eventName === 'MODIFY') return { kind: 'ignored' };
    await deps.audiences.applyCount(shard.audienceId, shard.shard, change.eventName === 'INSERT' ? 1 : -1, change.sequenceNumber);
    return { kind: 'projected' };
  }

  const send = parseSendPk(pk);
  if (send && sk !== COUNTER_SK) {
    const delta = countDelta(sendRecordOf(change.oldImage), sendRecordOf(change.newImage));
    await deps.sends.applyCounts(send.broadcastId, send.shard, delta, change.sequenceNumber);
    return { kind: 'projected' };
  }

  if (pk.startsWith('AUDIENCE#') && sk === AUDIENCE_SK) {
    deps.catalog.invalidate();
    await onAudienceDefinitionChange(deps, change);
    return { kind: 'audience-definition' };
  }
  return { kind: 'ignored' };
}

async function routeProfileChange(deps: RouterDeps, change: TableChange, ref: ProfileRef): Promise<RouteResult> {
  const before = change.oldImage ? profileFromItem(change.oldImage) : undefined;
  const after = change.newImage ? profileFromItem(change.newImage) : undefined;
  if (!after) return { kind: 'ignored' }; // REMOVE: erasure already removed what the profile owned

  if (after.erasureRequestedAt !== undefined || after.mergedInto !== undefined) {
    // Act on the profile as it is now, not as the (possibly replayed, stale) record shows it.
    const current = await deps.profiles.getProfile(ref);
    if (!current) return { kind: 'ignored' };
    // Runs stop before erasure deletes their items, on the user and on every identity merged
    // into it (a run left going would send to an erased user).
    const maintenance = { profiles: deps.profiles, clock: deps.clock, budgetMs: deps.budgetMs, beforeErasing: (identity: ProfileRef) => stopAllRuns(deps, identity) };
    const outcome = current.erasureRequestedAt !== undefined ? await continueErasure(maintenance, current) : await continueMerge(maintenance, current);
    // A merged identity leaves its audiences (its user is evaluated from the moved events).
    if (current.mergedInto !== undefined && current.erasureRequestedAt === undefined) await evaluate(deps, ref, { all: true });
    return { kind: 'maintenance', outcome };
  }

  const trigger: Trigger = before ? { traitRoots: changedRoots(before.traits, after.traits) } : { all: true };
  return { kind: 'evaluated', outcome: await evaluate(deps, ref, trigger) };
}

async function evaluate(deps: RouterDeps, ref: ProfileRef, trigger: Trigger): Promise<EvaluationOutcome> {
  return evaluateProfile(deps, await deps.catalog.current(), ref, trigger);
}
