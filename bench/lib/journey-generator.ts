/**
 * A large, valid journey for compile-time measurements: `blocks` blocks of ten steps that use
 * every step type, chained one after the other (the last block ends with `next: null`).
 *
 * One block (`i` is the block number):
 *
 *     w{i}  wait PT1H ─► b{i} branch ─ VIP ─────────► e{i} send email ─► sp{i}
 *                                    ─ Unsubscribed ► x{i} exit
 *                                    ─ default ─────► sp{i}
 *     sp{i} split A 50 % ─► m{i} send email ─► h{i}
 *                 B 40 % ─► t{i} send sms ───► h{i}
 *                 Holdout ───────────────────► h{i}
 *     h{i}  hold_until Order Completed (PT1H) ─ resumed ─► n{i} wait PT30M ─► u{i}
 *                                             ─ timeout ─► u{i}
 *     u{i}  wait_until 09:00 (Europe/Paris, weekdays on odd blocks) ─► w{i+1} | null
 *
 * The longest path waits 20 × (1 h + 1 h + 30 min + a wait_until bound of at most 3 days + 2 h),
 * well under the 365-day limit.
 */
import type { JourneyDefinition, JourneyStep } from '../../shared/domain/journey/definition';

export const STEPS_PER_BLOCK = 10;

export function generateJourney(blocks: number): JourneyDefinition {
  const steps: Record<string, JourneyStep> = {};
  for (let i = 1; i <= blocks; i++) {
    const after = i < blocks ? `w${i + 1}` : null;
    steps[`w${i}`] = { type: 'wait', duration: 'PT1H', next: `b${i}` };
    steps[`b${i}`] = {
      type: 'branch',
      branches: [
        { name: 'VIP', rule: { trait: 'plan', op: 'eq', value: 'vip' }, next: `e${i}` },
        { name: 'Unsubscribed', rule: { trait: 'unsubscribed', op: 'eq', value: true }, next: `x${i}` },
      ],
      default: `sp${i}`,
    };
    steps[`e${i}`] = { type: 'send', channel: 'email', template: `tpl_vip_${i}`, next: `sp${i}` };
    steps[`x${i}`] = { type: 'exit' };
    steps[`sp${i}`] = {
      type: 'split',
      variants: [
        { name: 'A', percent: 50, next: `m${i}` },
        { name: 'B', percent: 40, next: `t${i}` },
        { name: 'Holdout', percent: 10, next: `h${i}` },
      ],
    };
    steps[`m${i}`] = { type: 'send', channel: 'email', template: `tpl_a_${i}`, next: `h${i}` };
    steps[`t${i}`] = { type: 'send', channel: 'sms', template: `tpl_b_${i}`, next: `h${i}` };
    steps[`h${i}`] = { type: 'hold_until', event: 'Order Completed', timeout: 'PT1H', next: `n${i}`, timeoutNext: `u${i}` };
    steps[`n${i}`] = { type: 'wait', duration: 'PT30M', next: `u${i}` };
    steps[`u${i}`] =
      i % 2 === 1
        ? { type: 'wait_until', time: '09:00', timezone: 'Europe/Paris', weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'], next: after }
        : { type: 'wait_until', time: '09:00', timezone: 'Europe/Paris', next: after };
  }
  return {
    name: `Generated journey, ${blocks * STEPS_PER_BLOCK} steps`,
    entry: { event: 'Cart Abandoned' },
    reentry: { mode: 'never' },
    start: 'w1',
    steps,
  };
}
