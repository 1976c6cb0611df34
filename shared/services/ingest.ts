import type { IngestMessage } from '../domain/ingestion/messages';
import { applyMessage, sameRef, type Profile, type ProfileRef } from '../domain/profile/profile';
import type { ProfileStore, StoredEvent } from '../ports';
import { resolveProfile, upsertProfile } from './profile-updates';

export interface IngestDeps {
  profiles: ProfileStore;
}

/** Profiles written in parallel; messages of one profile stay in order. */
const PROFILE_CONCURRENCY = 16;

function toStoredEvent(message: IngestMessage): StoredEvent {
  return {
    messageId: message.messageId,
    type: message.type,
    event: message.event,
    properties: message.properties,
    traits: message.traits,
    groupId: message.groupId,
    previousId: message.previousId,
    userId: message.userId,
    anonymousId: message.anonymousId,
    timestamp: message.timestamp,
    receivedAt: message.receivedAt,
    context: message.context,
  };
}

/** The identity whose profile a message's data lands on, before following merge links. */
function primaryRef(message: IngestMessage): ProfileRef {
  if (message.userId !== undefined) return { kind: 'user', id: message.userId };
  if (message.anonymousId !== undefined) return { kind: 'anonymous', id: message.anonymousId };
  throw new Error('validated messages carry userId or anonymousId');
}

/** The identity a message asks to merge into its user: the anonymous id, or alias's previousId. */
async function mergeSource(store: ProfileStore, message: IngestMessage): Promise<ProfileRef | undefined> {
  if (message.type === 'alias' && message.previousId !== undefined) {
    const previousUser: ProfileRef = { kind: 'user', id: message.previousId };
    return (await store.getProfile(previousUser)) ? previousUser : { kind: 'anonymous', id: message.previousId };
  }
  if (message.userId !== undefined && message.anonymousId !== undefined) {
    return { kind: 'anonymous', id: message.anonymousId };
  }
  return undefined;
}

/**
 * Links `source` to the user: from now on its messages go to the user, and the stream
 * processor copies its traits and re-attributes its events (see identity-merge.ts).
 * The first link wins: an identity already merged into another user stays there.
 */
async function linkToUser(store: ProfileStore, source: ProfileRef, userId: string, now: string): Promise<void> {
  if (sameRef(source, { kind: 'user', id: userId })) return;
  await upsertProfile(store, source, now, (profile): Profile =>
    profile.mergedInto !== undefined ? profile : { ...profile, mergedInto: userId, updatedAt: now },
  );
}

/**
 * Stores one validated message: profile changes first, then the event, so that a retry after
 * a crash between the two repeats the (idempotent) profile change and then stores the event.
 * A message whose messageId is already stored is ignored.
 */
export async function ingestMessage(deps: IngestDeps, message: IngestMessage): Promise<void> {
  const { profiles } = deps;
  const { ref: target, profile } = await resolveProfile(profiles, primaryRef(message));
  // Erasure in progress: what arrives now would be erased with the rest, or left behind.
  if (profile?.erasureRequestedAt !== undefined) return;
  if (await profiles.hasEvent(target, message.messageId)) return;

  await upsertProfile(profiles, target, message.receivedAt, (current) => applyMessage(current, message), { profile });

  const source = target.kind === 'user' ? await mergeSource(profiles, message) : undefined;
  if (source && target.kind === 'user') await linkToUser(profiles, source, target.id, message.receivedAt);

  await profiles.putEvent(target, toStoredEvent(message));
}

/**
 * Stores a validated batch. Messages are grouped by the identity they name so that one
 * user's identify-then-track keeps its order, while different users are written in parallel.
 */
export async function ingestMessages(deps: IngestDeps, messages: IngestMessage[]): Promise<void> {
  const groups = new Map<string, IngestMessage[]>();
  for (const message of messages) {
    const key = message.userId !== undefined ? `u:${message.userId}` : `a:${message.anonymousId ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(message);
    else groups.set(key, [message]);
  }
  const queue = [...groups.values()];
  const worker = async (): Promise<void> => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      for (const message of group) await ingestMessage(deps, message);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROFILE_CONCURRENCY, queue.length) }, worker));
}
