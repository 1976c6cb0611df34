import type { IngestMessage } from '../ingestion/messages';

export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];
export type SubscriptionStatus = 'subscribed' | 'unsubscribed';
export type Subscriptions = Partial<Record<Channel, SubscriptionStatus>>;

/** Identified users and anonymous visitors live in separate key spaces so ids cannot collide. */
export type ProfileRef = { kind: 'user'; id: string } | { kind: 'anonymous'; id: string };

export interface Profile {
  ref: ProfileRef;
  traits: Record<string, unknown>;
  /** Group memberships from `group` calls: group id → its traits. */
  groups: Record<string, Record<string, unknown>>;
  subscriptions: Subscriptions;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-concurrency counter; 0 for a profile not yet stored. */
  version: number;
  /** Set on a profile merged into a user: its messages now go to that user. */
  mergedInto?: string;
  /** When the merge (traits copied, events re-attributed) finished. */
  mergeCompletedAt?: string;
  /** Set when erasure was requested; the profile is invisible from then on. */
  erasureRequestedAt?: string;
  /**
   * Bumped by long-running maintenance (merge, erasure) that stops after a time budget: the
   * write produces a stream record that resumes the work in the next invocation.
   */
  maintenanceRound?: number;
}

export function sameRef(a: ProfileRef, b: ProfileRef): boolean {
  return a.kind === b.kind && a.id === b.id;
}

export function newProfile(ref: ProfileRef, now: string): Profile {
  return { ref, traits: {}, groups: {}, subscriptions: {}, createdAt: now, updatedAt: now, version: 0 };
}

/** Identify merges traits key by key (as Segment does); `null` removes a trait. */
export function applyTraits(traits: Record<string, unknown>, update: Record<string, unknown>): Record<string, unknown> {
  const next = { ...traits };
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  return next;
}

/**
 * The profile after one message. Returns the same object when the message changes nothing
 * (so that no write, and no stream record, follows a track on a known profile).
 */
export function applyMessage(profile: Profile, message: IngestMessage): Profile {
  switch (message.type) {
    case 'identify': {
      const traits = applyTraits(profile.traits, message.traits ?? {});
      if (deepEqual(traits, profile.traits)) return profile;
      return { ...profile, traits, updatedAt: message.receivedAt };
    }
    case 'group': {
      const groupId = message.groupId;
      if (groupId === undefined) return profile;
      const groupTraits = applyTraits(profile.groups[groupId] ?? {}, message.traits ?? {});
      if (profile.groups[groupId] && deepEqual(groupTraits, profile.groups[groupId])) return profile;
      return { ...profile, groups: { ...profile.groups, [groupId]: groupTraits }, updatedAt: message.receivedAt };
    }
    case 'track':
    case 'page':
    case 'screen':
    case 'alias':
      return profile;
  }
}

/**
 * Merges a source profile (anonymous, or an aliased user) into the surviving user:
 * traits, groups and subscriptions the user lacks are copied; the user's own values win.
 * Merging the same source twice gives the same result.
 */
export function mergeInto(target: Profile, source: Profile, now: string): Profile {
  const traits = { ...source.traits, ...target.traits };
  const groups = { ...source.groups, ...target.groups };
  const subscriptions = { ...source.subscriptions, ...target.subscriptions };
  const createdAt = source.createdAt < target.createdAt ? source.createdAt : target.createdAt;
  const merged = { ...target, traits, groups, subscriptions, createdAt };
  if (deepEqual({ ...merged, updatedAt: target.updatedAt }, target)) return target;
  return { ...merged, updatedAt: now };
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && deepEqual(ra[k], rb[k]));
}

/** A profile that stands for its user: present, not being erased, not merged into another. */
export function isActiveProfile(profile: Profile | undefined): profile is Profile {
  return profile !== undefined && profile.erasureRequestedAt === undefined && profile.mergedInto === undefined;
}
