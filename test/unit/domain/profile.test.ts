import type { IngestMessage } from '../../../shared/domain/ingestion/messages';
import { applyMessage, mergeInto, newProfile, type Profile } from '../../../shared/domain/profile/profile';

const T0 = '2026-11-01T00:00:00.000Z';
const T1 = '2026-11-02T00:00:00.000Z';

function message(partial: Partial<IngestMessage>): IngestMessage {
  return { type: 'track', messageId: 'm', properties: {}, timestamp: T1, receivedAt: T1, userId: 'u', ...partial };
}

describe('applyMessage', () => {
  it('merges identify traits key by key and removes null traits', () => {
    // Prepare
    const profile: Profile = { ...newProfile({ kind: 'user', id: 'u' }, T0), traits: { plan: 'free', email: 'a@b.co', city: 'Paris' } };
    // Act
    const next = applyMessage(profile, message({ type: 'identify', traits: { plan: 'pro', city: null } }));
    // Assess
    expect(next.traits).toEqual({ plan: 'pro', email: 'a@b.co' });
    expect(next.updatedAt).toBe(T1);
  });

  it('returns the same profile when identify changes nothing (no write follows)', () => {
    const profile: Profile = { ...newProfile({ kind: 'user', id: 'u' }, T0), traits: { plan: 'pro' } };
    expect(applyMessage(profile, message({ type: 'identify', traits: { plan: 'pro' } }))).toBe(profile);
  });

  it('returns the same profile for a track', () => {
    const profile = newProfile({ kind: 'user', id: 'u' }, T0);
    expect(applyMessage(profile, message({ type: 'track', event: 'X' }))).toBe(profile);
  });

  it('stores group traits under groups', () => {
    const next = applyMessage(newProfile({ kind: 'user', id: 'u' }, T0), message({ type: 'group', groupId: 'g1', traits: { name: 'Acme' } }));
    expect(next.groups).toEqual({ g1: { name: 'Acme' } });
  });
});

describe('mergeInto', () => {
  const user: Profile = { ...newProfile({ kind: 'user', id: 'u' }, T1), traits: { email: 'user@x.co', plan: 'pro' }, subscriptions: { email: 'unsubscribed' } };
  const anonymous: Profile = {
    ...newProfile({ kind: 'anonymous', id: 'a' }, T0),
    traits: { email: 'anon@x.co', utm: 'ad' },
    subscriptions: { email: 'subscribed', sms: 'unsubscribed' },
  };

  it('copies only the traits the user lacks; the user wins', () => {
    const merged = mergeInto(user, anonymous, T1);
    expect(merged.traits).toEqual({ email: 'user@x.co', plan: 'pro', utm: 'ad' });
    expect(merged.subscriptions).toEqual({ email: 'unsubscribed', sms: 'unsubscribed' });
    expect(merged.createdAt).toBe(T0);
  });

  it('is idempotent: merging twice gives the same profile object', () => {
    const once = mergeInto(user, anonymous, T1);
    expect(mergeInto(once, anonymous, '2030-01-01T00:00:00.000Z')).toBe(once);
  });
});
