import { verifyUnsubscribeToken, type UnsubscribeTokenPayload } from '../../domain/messaging/unsubscribe';
import type { ProfileRef } from '../../domain/profile/profile';
import { ValidationError } from '../../errors';
import type { Clock, KeyProvider, ProfileStore } from '../../ports';
import { updateProfile } from '../profile-updates';

export interface UnsubscribeDeps {
  profiles: ProfileStore;
  keys: KeyProvider;
  clock: Clock;
}

/** The signed payload of an unsubscribe link; a forged, altered or truncated token is a 400. */
export async function readUnsubscribeToken(deps: UnsubscribeDeps, token: string): Promise<UnsubscribeTokenPayload> {
  const payload = verifyUnsubscribeToken(await deps.keys.unsubscribeKey(), token);
  if (!payload) throw new ValidationError('token: this unsubscribe link is not valid', [{ path: 'token', message: 'is not a valid unsubscribe token' }]);
  return payload;
}

/**
 * One-click unsubscribe (RFC 8058): the link's channel becomes `unsubscribed` on the profile.
 * Idempotent; a profile erased since the message was sent has nothing left to change.
 */
export async function unsubscribe(deps: UnsubscribeDeps, token: string): Promise<UnsubscribeTokenPayload> {
  const payload = await readUnsubscribeToken(deps, token);
  const ref: ProfileRef = payload.anonymous ? { kind: 'anonymous', id: payload.userId } : { kind: 'user', id: payload.userId };
  const now = deps.clock.now().toISOString();
  await updateProfile(deps.profiles, ref, (p) =>
    p && p.erasureRequestedAt === undefined && p.subscriptions[payload.channel] !== 'unsubscribed'
      ? { ...p, subscriptions: { ...p.subscriptions, [payload.channel]: 'unsubscribed' }, updatedAt: now }
      : undefined,
  );
  return payload;
}
