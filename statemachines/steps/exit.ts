import type { ExitStep } from '../../shared/domain/journey/definition';
import type { EmitContext, StateSpec } from './common';

export const EXIT_LABEL = 'Exit journey';

/**
 * `exit` → a `Succeed` state of its own: the user leaves the journey by design, and the
 * execution succeeds (counted as completed). "Exited early" is kept for runs stopped from
 * outside (the exit event or leaving the entry audience), which end as aborted executions.
 * One state per exit step, not the shared end, so the history shows which exit was taken.
 */
export function emitExit(_step: ExitStep, ctx: EmitContext): StateSpec[] {
  return [{ key: 'exit', label: EXIT_LABEL, build: () => ({ Type: 'Succeed', Comment: ctx.comment }) }];
}
