import type { JourneyDefinition } from '../../../shared/domain/journey/definition';
import { countKinds, countsView, executionNameFor, reentryBound, slotKey, stepTypesOf, triggerId } from '../../../shared/domain/journey/journey';

const base: JourneyDefinition = {
  name: 'J',
  entry: { event: 'Cart Abandoned' },
  start: 'b',
  steps: {
    b: { type: 'branch', branches: [{ name: 'Gold', rule: { trait: 'plan', op: 'eq', value: 'gold' }, next: 's' }], default: null },
    s: { type: 'split', variants: [{ name: 'A', percent: 50, next: null }, { name: 'B', percent: 50, next: null }] },
  },
};

describe('journey runs (domain)', () => {
  it('names executions deterministically from hashes, within Step Functions limits, different per version, user and trigger', () => {
    // Act
    const name = executionNameFor(3, 'USER#ada@example.com with spaces and a very long id that goes on and on', 'evt:m_1');
    // Assess: hashes only (no user id, which may be an email, in the console or logs).
    expect(name).toMatch(/^v3-[0-9a-f]{20}-[0-9a-f]{20}$/);
    expect(name).not.toContain('ada');
    expect(executionNameFor(3, 'USER#u', 'evt:m_1')).toBe(executionNameFor(3, 'USER#u', 'evt:m_1'));
    const variants = new Set([executionNameFor(3, 'USER#u', 'evt:m_1'), executionNameFor(4, 'USER#u', 'evt:m_1'), executionNameFor(3, 'ANON#u', 'evt:m_1'), executionNameFor(3, 'USER#u', 'evt:m_2')]);
    expect(variants.size).toBe(4);
  });

  it('identifies triggers so that a redelivered one is recognised', () => {
    expect(triggerId({ kind: 'audience', audienceId: 'aud_1', enteredAt: '2026-01-01T00:00:00.000Z' })).toBe('aud:aud_1:2026-01-01T00:00:00.000Z');
    expect(triggerId({ kind: 'event', messageId: 'm1', event: 'E', properties: {}, timestamp: 't' })).toBe('evt:m1');
  });

  it('keeps one re-entry slot per journey, or one per key value for every_event, and names a missing key', () => {
    // Prepare
    const perCart: JourneyDefinition = { ...base, reentry: { mode: 'every_event', key: 'cartId' } };
    // Act & Assess
    expect(slotKey('j1', base, {})).toEqual({ sk: 'JSLOT#j1' });
    const a = slotKey('j1', perCart, { properties: { cartId: 'c1' } });
    const b = slotKey('j1', perCart, { properties: { cartId: 'c2' } });
    expect(a).not.toEqual(b);
    expect(slotKey('j1', perCart, { properties: { cartId: 'c1' } })).toEqual(a);
    expect(slotKey('j1', perCart, { properties: {} })).toEqual({ missingKey: 'cartId' });
  });

  it('lets after_exit journeys admit a user whose previous run ended before the cooldown', () => {
    const now = new Date('2026-03-10T00:00:00Z');
    expect(reentryBound({ ...base, reentry: { mode: 'after_exit', cooldown: 'P7D' } }, now)).toBe('2026-03-03T00:00:00.000Z');
    expect(reentryBound({ ...base, reentry: { mode: 'after_exit' } }, now)).toBe(now.toISOString());
    expect(reentryBound(base, now)).toBeUndefined();
  });

  it('derives each count from a run change once: entry, steps with their outcome, the end and the conversion', () => {
    // Prepare
    const running = { journeyId: 'j', executionName: 'e', runStatus: 'running' as const };
    // Act & Assess
    expect(countKinds(undefined, running)).toEqual(['entered']);
    expect(countKinds(running, { ...running, currentStep: 'b', stepOutcome: 'Gold' })).toEqual(['step:b', 'outcome:b:Gold']);
    expect(countKinds({ ...running, currentStep: 'b' }, { ...running, currentStep: 'b' })).toEqual([]);
    expect(countKinds(running, { ...running, runStatus: 'exited' })).toEqual(['exitedEarly']);
    expect(countKinds(running, { ...running, runStatus: 'completed', convertedAt: 't' })).toEqual(['completed', 'converted']);
    expect(countKinds(running, undefined)).toEqual([]);
  });

  it('views counts with branches and variants placed by step type, and active as what has not ended', () => {
    // Act
    const view = countsView({ entered: 5, completed: 2, exitedEarly: 1, 'step:b': 3, 'outcome:b:Gold': 2, 'outcome:b:default': 1, 'step:s': 2, 'outcome:s:A': 2 }, stepTypesOf([base]));
    // Assess
    expect(view).toEqual({
      entered: 5,
      active: 2,
      completed: 2,
      exitedEarly: 1,
      failed: 0,
      converted: 0,
      steps: { b: { reached: 3, branches: { Gold: 2, default: 1 } }, s: { reached: 2, variants: { A: 2 } } },
    });
  });
});
