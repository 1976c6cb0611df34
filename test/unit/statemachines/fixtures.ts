import type { JourneyDefinition } from '../../../shared/domain/journey/definition';
import type { JourneyResources } from '../../../statemachines/compile-journey';

export const RESOURCES: JourneyResources = {
  sendQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/engage-send',
  holdUntilFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:engage-hold-until',
  waitUntilFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:engage-wait-until',
  checkConditionFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:engage-check-condition',
};

export const RUN_TABLE = 'engage-table';

export const OPTIONS = { journeyId: 'j_cart', version: 1, resources: RESOURCES };

/** The example journey of SPEC section 3, with real-looking ids. */
export function specExample(): JourneyDefinition {
  return {
    name: 'Abandoned cart',
    entry: { event: 'Cart Abandoned', where: [{ property: 'total', op: 'gte', value: 20 }] },
    reentry: { mode: 'every_event', key: 'cartId' },
    exit: { event: 'Order Completed' },
    goal: { event: 'Order Completed', within: 'P14D' },
    start: 'wait_1',
    steps: {
      wait_1: { type: 'wait', duration: 'P3D', next: 'check' },
      check: {
        type: 'branch',
        branches: [{ name: 'Still has cart', rule: { not: { event: 'Order Completed', within: 'P3D' } }, next: 'split' }],
        default: 'done',
      },
      split: {
        type: 'split',
        variants: [
          { name: 'A', percent: 45, next: 'email' },
          { name: 'B', percent: 45, next: 'sms' },
          { name: 'Holdout', percent: 10, next: null },
        ],
      },
      email: { type: 'send', channel: 'email', template: 'tpl_cart_reminder', next: 'hold' },
      sms: { type: 'send', channel: 'sms', template: 'tpl_cart_sms', next: null },
      hold: { type: 'hold_until', event: 'Order Completed', match: ['cartId'], timeout: 'P2D', next: null, timeoutNext: 'reminder' },
      reminder: { type: 'wait_until', time: '09:00', timezone: 'user', next: 'email2' },
      email2: { type: 'send', channel: 'email', template: 'tpl_last_chance', next: null },
      done: { type: 'exit' },
    },
  };
}

export const TEMPLATE_NAMES = { tpl_cart_reminder: 'Cart reminder', tpl_cart_sms: 'Cart SMS', tpl_last_chance: 'Last chance' };
