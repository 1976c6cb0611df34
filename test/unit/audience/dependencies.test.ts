import { buildDependencyIndex } from '../../../shared/domain/audience/dependencies';
import type { Rule } from '../../../shared/domain/audience/rule';

/**
 * buyers ← vip ← vip_fr          (← : is referenced by)
 * buyers ← lapsed
 * visitors                       (no references)
 * city (trait address.city) ← vip_fr
 */
const audiences: Array<{ id: string; rule: Rule }> = [
  { id: 'vip_fr', rule: { all: [{ audience: 'vip' }, { trait: 'address.city', op: 'eq', value: 'Paris' }] } },
  { id: 'vip', rule: { all: [{ audience: 'buyers' }, { trait: 'plan', op: 'eq', value: 'pro' }] } },
  { id: 'buyers', rule: { event: 'Order Completed', within: 'P30D' } },
  { id: 'lapsed', rule: { all: [{ audience: 'buyers' }, { not: { event: 'Page Viewed', within: 'P7D' } }] } },
  { id: 'visitors', rule: { event: 'Page Viewed' } },
];

describe('buildDependencyIndex', () => {
  const index = buildDependencyIndex(audiences);

  describe('when an event arrives', () => {
    it('names only the audiences whose rule reads it', () => {
      expect(index.forEvent('Order Completed')).toEqual(['buyers']);
      expect(index.forEvent('Page Viewed')).toEqual(['lapsed', 'visitors']);
      expect(index.forEvent('Unknown')).toEqual([]);
    });

    it('affects those audiences, then their dependents, in dependency order', () => {
      // Act
      const affected = index.affectedBy({ eventNames: ['Order Completed'] });
      // Assess
      expect(affected).toEqual(['buyers', 'vip', 'vip_fr', 'lapsed']);
      expect(affected.indexOf('vip')).toBeLessThan(affected.indexOf('vip_fr'));
    });
  });

  describe('when traits change', () => {
    it('names the audiences reading those top-level keys, dotted paths included', () => {
      expect(index.forTraits(['address'])).toEqual(['vip_fr']);
      expect(index.forTraits(['address.zip', 'plan'])).toEqual(['vip', 'vip_fr']);
      expect(index.forTraits(['email'])).toEqual([]);
    });

    it('affects them and their dependents', () => {
      expect(index.affectedBy({ traitRoots: ['plan'] })).toEqual(['vip', 'vip_fr']);
    });
  });

  describe('when memberships change', () => {
    it('lists dependents transitively, without the audience itself', () => {
      expect(index.dependentsOf('buyers')).toEqual(['vip', 'vip_fr', 'lapsed']);
      expect(index.dependentsOf('vip_fr')).toEqual([]);
      expect(index.dependentsOf('nope')).toEqual([]);
    });

    it('affects the dependents, not the audience whose membership changed', () => {
      expect(index.affectedBy({ audienceIds: ['vip'] })).toEqual(['vip_fr']);
    });
  });

  describe('when asked for an order', () => {
    it('puts every audience after the audiences it references, each once', () => {
      // Act
      const order = index.order(['vip_fr', 'buyers', 'visitors', 'buyers']);
      // Assess
      expect(order).toEqual(['buyers', 'vip', 'vip_fr', 'lapsed', 'visitors']);
    });

    it('orders all audiences topologically', () => {
      // Act
      const order = index.order(audiences.map((a) => a.id));
      // Assess
      for (const { id, rule } of audiences) {
        for (const ref of JSON.stringify(rule).match(/"audience":"([^"]+)"/g) ?? []) {
          expect(order.indexOf(ref.slice(12, -1))).toBeLessThan(order.indexOf(id));
        }
      }
      expect(order).toHaveLength(audiences.length);
    });

    it('puts unknown ids first, in the order given', () => {
      expect(index.order(['new', 'vip_fr', 'other'])).toEqual(['new', 'other', 'vip_fr']);
    });

    it('combines every kind of change into one list', () => {
      expect(index.affectedBy({ eventNames: ['Page Viewed'], traitRoots: ['address'], audienceIds: ['lapsed'] })).toEqual(['vip_fr', 'lapsed', 'visitors']);
    });
  });

  describe('when a cycle slipped in', () => {
    const cyclic = buildDependencyIndex([
      { id: 'a', rule: { all: [{ audience: 'c' }, { event: 'X' }] } },
      { id: 'b', rule: { audience: 'a' } },
      { id: 'c', rule: { any: [{ audience: 'b' }, { audience: 'c' }] } },
      { id: 'd', rule: { audience: 'c' } },
    ]);

    it('breaks it deterministically and terminates', () => {
      // Act
      const first = cyclic.affectedBy({ eventNames: ['X'] });
      const again = buildDependencyIndex([
        { id: 'a', rule: { all: [{ audience: 'c' }, { event: 'X' }] } },
        { id: 'b', rule: { audience: 'a' } },
        { id: 'c', rule: { any: [{ audience: 'b' }, { audience: 'c' }] } },
        { id: 'd', rule: { audience: 'c' } },
      ]).affectedBy({ eventNames: ['X'] });
      // Assess
      expect(first).toEqual(['b', 'c', 'a', 'd']);
      expect(again).toEqual(first);
      expect(cyclic.dependentsOf('a')).toEqual(['b', 'c', 'd']);
    });
  });

  describe('when there are many audiences in a chain', () => {
    it('orders them without recursion limits', () => {
      // Prepare: a0 ← a1 ← ... ← a19999, given in reverse
      const chain = Array.from({ length: 20_000 }, (_, i) => ({ id: `a${i}`, rule: i === 0 ? ({ event: 'X' } as Rule) : { audience: `a${i - 1}` } })).reverse();
      // Act
      const order = buildDependencyIndex(chain).affectedBy({ eventNames: ['X'] });
      // Assess
      expect(order).toHaveLength(20_000);
      expect(order[0]).toBe('a0');
      expect(order[19_999]).toBe('a19999');
    });
  });
});
