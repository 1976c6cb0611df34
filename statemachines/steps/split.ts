import type { SplitStep } from '../../shared/domain/journey/definition';
import type { ChoiceRule } from '../asl';
import { dataPath, outcomeTarget, type EmitContext, type Links, type StateSpec } from './common';

/**
 * The draw is an integer in [0, SPLIT_DRAW_RANGE): each percent point is 100 draws. AWS
 * documents `States.MathRandom(start, end)` with `end` exclusive (0..9,999 here) while
 * aws-local-stepfunctions 3.0.0 includes it (0..10,000): the extra 10,000 goes to the default
 * (last non-zero) variant, a 0.01 % bias locally and none on AWS. `MathRandom(1, 100)` would be
 * a 1 % bias on AWS (1..99).
 */
export const SPLIT_DRAW_RANGE = 10_000;

/** `A 45% / B 45% / Holdout 10%`. */
export function splitLabel(step: SplitStep): string {
  return step.variants.map((variant) => `${variant.name} ${variant.percent}%`).join(' / ');
}

/**
 * `split` → a `Pass` that draws once with `States.MathRandom` into `$.split.<stepId>.draw`,
 * then a native `Choice` on cumulative ranges (`draw < 4500` → A, `< 9000` → B, else the last
 * variant). No Lambda. Journeys are acyclic, so a run enters each split once and its variant
 * stays fixed; the draw stays in the run's data for later steps and for audits.
 * Variants at 0 % keep a rule that can never match (their range is empty), so the states they
 * lead to stay reachable in the graph as Step Functions requires.
 */
export function emitSplit(step: SplitStep, ctx: EmitContext): StateSpec[] {
  const label = splitLabel(step);
  const path = dataPath('split', ctx.stepId);
  const outcomes = step.variants.map((variant, i) => outcomeTarget(ctx, `record-${i}`, `Record variant: ${variant.name}`, variant.name, variant.next));
  let lastPositive = 0;
  step.variants.forEach((variant, i) => {
    if (variant.percent > 0) lastPositive = i;
  });
  const thresholds: number[] = [];
  step.variants.reduce((cumulative, variant) => {
    thresholds.push((cumulative + variant.percent) * (SPLIT_DRAW_RANGE / 100));
    return cumulative + variant.percent;
  }, 0);
  const choices = (links: Links): ChoiceRule[] =>
    outcomes.map((outcome, i) => ({ Variable: `${path}.draw`, NumericLessThan: thresholds[i] ?? SPLIT_DRAW_RANGE, Next: outcome.next(links) }));
  return [
    {
      key: 'draw',
      label: `Draw: ${label}`,
      build: (links) => ({
        Type: 'Pass',
        Comment: ctx.comment,
        Parameters: { 'draw.$': `States.MathRandom(0, ${SPLIT_DRAW_RANGE})` },
        ResultPath: path,
        Next: links.own('choose'),
      }),
    },
    {
      key: 'choose',
      label: `Split: ${label}`,
      build: (links) => {
        const fallback = outcomes[lastPositive];
        if (fallback === undefined) throw new Error(`split "${ctx.stepId}" has no variant`);
        return { Type: 'Choice', Comment: ctx.comment, Choices: choices(links), Default: fallback.next(links) };
      },
    },
    ...outcomes.flatMap((outcome) => outcome.specs),
  ];
}
