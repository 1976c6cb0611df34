import type { Profile, ProfileRef, Subscriptions } from '../domain/profile/profile';
import { CHANNELS } from '../domain/profile/profile';
import { NotFoundError } from '../errors';
import type { Membership, Page, PageRequest, ProfileStore, StoredEvent } from '../ports';
import { resolveProfile, updateProfile } from './profile-updates';

export interface ProfileView {
  userId: string | null;
  anonymousId?: string;
  traits: Record<string, unknown>;
  groups: Record<string, Record<string, unknown>>;
  audiences: Membership[];
  subscriptions: Required<Subscriptions>;
  createdAt: string;
  updatedAt: string;
}

/** A channel nobody opted out of counts as subscribed (as Braze and Pinpoint default). */
export function effectiveSubscriptions(subscriptions: Subscriptions): Required<Subscriptions> {
  return Object.fromEntries(CHANNELS.map((c) => [c, subscriptions[c] ?? 'subscribed'])) as Required<Subscriptions>;
}

/**
 * Finds the live profile an id names: a user id, or an anonymous id; an identity merged into a
 * user resolves to that user. Profiles being erased are gone for the API.
 */
export async function findProfile(store: ProfileStore, id: string): Promise<{ ref: ProfileRef; profile: Profile }> {
  for (const ref of [{ kind: 'user', id }, { kind: 'anonymous', id }] satisfies ProfileRef[]) {
    const found = await resolveProfile(store, ref);
    if (found.profile && found.profile.erasureRequestedAt === undefined) return { ref: found.ref, profile: found.profile };
  }
  throw new NotFoundError(`profile ${id} not found`);
}

export async function getProfileView(store: ProfileStore, id: string): Promise<ProfileView> {
  const { ref, profile } = await findProfile(store, id);
  const audiences = await store.listMemberships(ref);
  return {
    userId: ref.kind === 'user' ? ref.id : null,
    ...(ref.kind === 'anonymous' ? { anonymousId: ref.id } : {}),
    traits: profile.traits,
    groups: profile.groups,
    audiences,
    subscriptions: effectiveSubscriptions(profile.subscriptions),
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
  };
}

export async function listProfileEvents(store: ProfileStore, id: string, page: PageRequest): Promise<Page<StoredEvent>> {
  const { ref } = await findProfile(store, id);
  return store.listEvents(ref, page);
}

export async function listProfileMessages(store: ProfileStore, id: string, page: PageRequest): Promise<Page<Record<string, unknown>>> {
  const { ref } = await findProfile(store, id);
  return store.listMessages(ref, page);
}

export async function updateSubscriptions(store: ProfileStore, id: string, update: Subscriptions, now: string): Promise<Required<Subscriptions>> {
  const { ref } = await findProfile(store, id);
  const saved = await updateProfile(store, ref, (p) => {
    if (!p || p.erasureRequestedAt !== undefined) return undefined;
    const subscriptions = { ...p.subscriptions, ...update };
    return CHANNELS.every((c) => subscriptions[c] === p.subscriptions[c]) ? p : { ...p, subscriptions, updatedAt: now };
  });
  if (!saved || saved.erasureRequestedAt !== undefined) throw new NotFoundError(`profile ${id} not found`);
  return effectiveSubscriptions(saved.subscriptions);
}
