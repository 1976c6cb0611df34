import type { BranchStep } from '../../shared/domain/journey/definition';
import type { ChoiceRule } from '../asl';
import { DEFAULT_BRANCH } from '../../shared/domain/journey/definition';
import { dataPath, LAMBDA_INVOKE, LAMBDA_RETRY, outcomeTarget, runFields, toJson, type EmitContext, type Links, type StateSpec } from './common';

/** `Still has cart?`; several branches read `Gold? / Silver?`. */
export function branchQuestion(step: BranchStep): string {
  return step.branches.map((branch) => (branch.name.endsWith('?') ? branch.name : `${branch.name}?`)).join(' / ');
}

/**
 * `branch` → a Lambda task that evaluates the rules on fresh profile data, then a native
 * `Choice` on the index it returns (first matching rule wins; no match → `default`).
 *
 * The function receives `{journeyId, version, stepId, executionName, userId, entry, branches:
 * [{name, rule}]}` (the rules inline: a published version never changes, so the task needs no
 * lookup) and returns `{"branchIndex": n}`, -1 when no rule matches. It is stored at
 * `$.branch.<stepId>.index`.
 */
export function emitBranch(step: BranchStep, ctx: EmitContext): StateSpec[] {
  const question = branchQuestion(step);
  const path = `${dataPath('branch', ctx.stepId)}.index`;
  const branchOutcomes = step.branches.map((branch, i) => outcomeTarget(ctx, `record-${i}`, `Record branch: ${branch.name}`, branch.name, branch.next));
  const defaultOutcome = outcomeTarget(ctx, 'record-default', 'Record branch: default', DEFAULT_BRANCH, step.default);
  const outcomes = [...branchOutcomes, defaultOutcome];
  const choices = (links: Links): ChoiceRule[] => branchOutcomes.map((outcome, i) => ({ Variable: path, NumericEquals: i, Next: outcome.next(links) }));
  return [
    {
      key: 'check',
      label: `Check: ${question}`,
      build: (links) => ({
        Type: 'Task',
        Comment: ctx.comment,
        Resource: LAMBDA_INVOKE,
        Parameters: {
          FunctionName: ctx.resources.checkConditionFunctionArn,
          Payload: {
            ...runFields(ctx),
            'entry.$': '$.entry',
            branches: step.branches.map((branch) => ({ name: branch.name, rule: toJson(branch.rule) })),
          },
        },
        ResultSelector: { 'index.$': '$.Payload.branchIndex' },
        ResultPath: dataPath('branch', ctx.stepId),
        Retry: LAMBDA_RETRY,
        Next: links.own('choose'),
      }),
    },
    {
      key: 'choose',
      label: question,
      build: (links) => ({ Type: 'Choice', Comment: ctx.comment, Choices: choices(links), Default: defaultOutcome.next(links) }),
    },
    ...outcomes.flatMap((outcome) => outcome.specs),
  ];
}
