import { durationSeconds, type WaitStep } from '../../shared/domain/journey/definition';
import { humanDuration } from '../naming';
import type { EmitContext, StateSpec } from './common';

/**
 * `wait` → one native `Wait` state with `Seconds` (no Lambda). ASL has no calendar arithmetic
 * in JSONPath, so calendar units get fixed lengths: a month is 30 days, a year 365 (luxon's
 * casual lengths, the same the 365-day path check counts). `P1M` waits 30 days whatever the
 * month.
 *
 * @example
 * // {"type": "wait", "duration": "P3D", "next": "check"} →
 * // "Wait 3 days": {"Type": "Wait", "Seconds": 259200, "Next": "<check>"}
 */
export function emitWait(step: WaitStep, ctx: EmitContext): StateSpec[] {
  return [
    {
      key: 'wait',
      label: `Wait ${humanDuration(step.duration)}`,
      build: (links) => ({ Type: 'Wait', Comment: ctx.comment, Seconds: durationSeconds(step.duration), Next: links.step(step.next) }),
    },
  ];
}
