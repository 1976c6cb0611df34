import '../../../infra/local/promise-polyfill';
import { performance } from 'node:perf_hooks';
import type { JourneyDefinition, JourneyStep } from '../../../shared/domain/journey/definition';
import { ValidationError } from '../../../shared/errors';
import { compileJourney, compileJourneyWithMap, type CompileJourneyOptions } from '../../../statemachines/compile-journey';
import { StateNames } from '../../../statemachines/naming';
import { LAMBDA_RETRY, SQS_RETRY } from '../../../statemachines/steps/common';
import { OPTIONS, RUN_TABLE, RESOURCES, specExample, TEMPLATE_NAMES } from './fixtures';
import { aslErrors, DEFAULT_INPUT, LocalJourney, runLocal, type RunScript } from './run-local';

const END = 'End of journey';

/** A one-journey definition around `steps` (event entry, so holds may match). */
function journey(steps: Record<string, JourneyStep>, start = Object.keys(steps)[0] ?? ''): JourneyDefinition {
  return { name: 'Test journey', entry: { event: 'Cart Abandoned' }, start, steps };
}

const send = (next: string | null, template = 'tpl_a'): JourneyStep => ({ type: 'send', channel: 'email', template, next });

function compiled(definition: JourneyDefinition, options: Partial<CompileJourneyOptions> = {}) {
  return compileJourneyWithMap(definition, { ...OPTIONS, ...options });
}

describe('compileJourney', () => {
  describe('when compiling each step type', () => {
    it('wait → a Wait state with Seconds, then the next step', async () => {
      // Prepare
      const definition = journey({ w: { type: 'wait', duration: 'P3D', next: 's' }, s: send(null) });
      // Act
      const result = compiled(definition);
      const run = await runLocal(result);
      // Assess
      expect(result.asl.States['Wait 3 days']).toEqual({ Type: 'Wait', Comment: 'step w', Seconds: 259_200, Next: 'Send email: tpl_a' });
      expect(aslErrors(result.asl)).toEqual([]);
      expect(run.visited).toEqual(['Wait 3 days', 'Send email: tpl_a', END]);
    });

    it.each([
      ['P1M', 'Wait 1 month', 2_592_000],
      ['P1Y', 'Wait 1 year', 31_536_000],
      ['PT1H30M', 'Wait 1 hour 30 minutes', 5_400],
      ['P1DT12H', 'Wait 1 day 12 hours', 129_600],
      ['P2W', 'Wait 2 weeks', 1_209_600],
      ['PT0.5S', 'Wait 0.5 seconds', 1],
    ])('wait %s → "%s", %i seconds (a month is 30 days, a year 365)', (duration, name, seconds) => {
      // Act
      const asl = compileJourney(journey({ w: { type: 'wait', duration, next: null } }), OPTIONS);
      // Assess
      expect(asl.States[name]).toEqual({ Type: 'Wait', Comment: 'step w', Seconds: seconds, Next: END });
    });

    it('wait_until → a Lambda that finds the time, then a Wait on TimestampPath', async () => {
      // Prepare
      const definition = journey({ u: { type: 'wait_until', time: '09:00', timezone: 'Europe/Paris', weekdays: ['mon', 'fri'], next: null } });
      // Act
      const result = compiled(definition);
      const run = await runLocal(result, { waitUntilTimestamp: '2026-03-02T08:00:00Z' });
      // Assess
      expect(result.asl).toEqual({
        Comment: 'Journey "Test journey" (j_cart), version 1',
        StartAt: 'Find next Mon, Fri 09:00 (Europe/Paris)',
        States: {
          'Find next Mon, Fri 09:00 (Europe/Paris)': {
            Type: 'Task',
            Comment: 'step u',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: {
              FunctionName: RESOURCES.waitUntilFunctionArn,
              Payload: {
                journeyId: 'j_cart',
                version: 1,
                stepId: 'u',
                'executionName.$': '$$.Execution.Name',
                'userId.$': '$.userId',
                'profile.$': '$.run.pk',
                time: '09:00',
                timezone: 'Europe/Paris',
                weekdays: ['mon', 'fri'],
              },
            },
            ResultSelector: { 'timestamp.$': '$.Payload.timestamp' },
            ResultPath: '$.waitUntil.u',
            Retry: LAMBDA_RETRY,
            Next: 'Wait until Mon, Fri 09:00 (Europe/Paris)',
          },
          'Wait until Mon, Fri 09:00 (Europe/Paris)': { Type: 'Wait', Comment: 'step u', TimestampPath: '$.waitUntil.u.timestamp', Next: END },
          [END]: { Type: 'Succeed', Comment: 'next: null' },
        },
      });
      expect(aslErrors(result.asl)).toEqual([]);
      expect(run.visited).toEqual(['Find next Mon, Fri 09:00 (Europe/Paris)', 'Wait until Mon, Fri 09:00 (Europe/Paris)', END]);
      expect(run.payloads['Find next Mon, Fri 09:00 (Europe/Paris)']).toEqual({
        FunctionName: RESOURCES.waitUntilFunctionArn,
        Payload: { journeyId: 'j_cart', version: 1, stepId: 'u', executionName: 'exec-1', userId: 'u_1', profile: 'USER#u_1', time: '09:00', timezone: 'Europe/Paris', weekdays: ['mon', 'fri'] },
      });
      expect(run.output).toMatchObject({ waitUntil: { u: { timestamp: '2026-03-02T08:00:00Z' } } });
    });

    it('wait_until in the user\'s zone says so', () => {
      // Act
      const asl = compileJourney(journey({ u: { type: 'wait_until', time: '18:30', timezone: 'user', next: null } }), OPTIONS);
      // Assess
      expect(Object.keys(asl.States)).toEqual(["Find next 18:30 (user's time zone)", "Wait until 18:30 (user's time zone)", END]);
    });

    describe('hold_until', () => {
      const definition = journey({
        h: { type: 'hold_until', event: 'Order Completed', match: ['cartId'], timeout: 'P2D', next: 'thanks', timeoutNext: 'nudge' },
        thanks: send(null, 'tpl_thanks'),
        nudge: send(null, 'tpl_nudge'),
      });
      const HOLD = 'Hold until Order Completed with same cartId (2 days)';

      it('→ one waitForTaskToken Lambda task with TimeoutSeconds and a Catch of States.Timeout', () => {
        // Act
        const asl = compileJourney(definition, OPTIONS);
        // Assess
        expect(asl.States[HOLD]).toEqual({
          Type: 'Task',
          Comment: 'step h',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: {
            FunctionName: RESOURCES.holdUntilFunctionArn,
            Payload: {
              'taskToken.$': '$$.Task.Token',
              journeyId: 'j_cart',
              version: 1,
              stepId: 'h',
              'executionName.$': '$$.Execution.Name',
              'userId.$': '$.userId',
              'profile.$': '$.run.pk',
              event: 'Order Completed',
              match: ['cartId'],
              'entry.$': '$.entry',
              timeoutSeconds: 172_800,
            },
          },
          TimeoutSeconds: 172_800,
          ResultPath: null,
          Retry: LAMBDA_RETRY,
          Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.hold.h', Next: 'Send email: tpl_nudge' }],
          Next: 'Send email: tpl_thanks',
        });
        expect(aslErrors(asl)).toEqual([]);
      });

      it('resumes to next when the event arrives (the token is completed), with the token and entry in the payload', async () => {
        // Act
        const run = await runLocal(compiled(definition), { holds: { h: 'event' } });
        // Assess
        expect(run.visited).toEqual([HOLD, 'Send email: tpl_thanks', END]);
        expect(run.payloads[HOLD]).toMatchObject({ Payload: { taskToken: 'token-exec-1', match: ['cartId'], entry: DEFAULT_INPUT.entry, userId: 'u_1', executionName: 'exec-1' } });
        expect(run.output).toEqual(DEFAULT_INPUT);
      });

      it('goes to timeoutNext when TimeoutSeconds elapses (a PT1S hold, run for real)', async () => {
        // Prepare: TimeoutSeconds cannot be shortened locally, so this journey holds for 1 s.
        const short = journey({ h: { type: 'hold_until', event: 'Order Completed', timeout: 'PT1S', next: 'thanks', timeoutNext: 'nudge' }, thanks: send(null, 'tpl_thanks'), nudge: send(null, 'tpl_nudge') });
        // Act
        const run = await runLocal(compiled(short), { holds: { h: 'timeout' } });
        // Assess
        expect(run.visited).toEqual(['Hold until Order Completed (1 second)', 'Send email: tpl_nudge', END]);
        expect(run.output).toMatchObject({ hold: { h: { Error: 'States.Timeout' } }, userId: 'u_1' });
      });

      it('ends the journey on timeout when timeoutNext is null', async () => {
        // Prepare
        const ending = journey({ h: { type: 'hold_until', event: 'Order Completed', timeout: 'P1D', next: 'thanks', timeoutNext: null }, thanks: send(null, 'tpl_thanks') });
        // Act
        const run = await runLocal(compiled(ending), { holds: { h: 'simulated-timeout' } });
        // Assess
        expect(run.visited).toEqual(['Hold until Order Completed (1 day)', END]);
      });
    });

    describe('branch', () => {
      const definition = journey({
        b: {
          type: 'branch',
          branches: [
            { name: 'Gold', rule: { trait: 'tier', op: 'eq', value: 'gold' }, next: 'gold' },
            { name: 'Silver', rule: { trait: 'tier', op: 'eq', value: 'silver' }, next: 'silver' },
          ],
          default: 'other',
        },
        gold: send(null, 'tpl_gold'),
        silver: send(null, 'tpl_silver'),
        other: { type: 'exit' },
      });

      it('→ a check Lambda with the rules inline, then a Choice on the index it returns', () => {
        // Act
        const asl = compileJourney(definition, OPTIONS);
        // Assess
        expect(asl.States['Check: Gold? / Silver?']).toMatchObject({
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: {
            FunctionName: RESOURCES.checkConditionFunctionArn,
            Payload: {
              stepId: 'b',
              'entry.$': '$.entry',
              branches: [
                { name: 'Gold', rule: { trait: 'tier', op: 'eq', value: 'gold' } },
                { name: 'Silver', rule: { trait: 'tier', op: 'eq', value: 'silver' } },
              ],
            },
          },
          ResultSelector: { 'index.$': '$.Payload.branchIndex' },
          ResultPath: '$.branch.b',
          Next: 'Gold? / Silver?',
        });
        expect(asl.States['Gold? / Silver?']).toEqual({
          Type: 'Choice',
          Comment: 'step b',
          Choices: [
            { Variable: '$.branch.b.index', NumericEquals: 0, Next: 'Send email: tpl_gold' },
            { Variable: '$.branch.b.index', NumericEquals: 1, Next: 'Send email: tpl_silver' },
          ],
          Default: 'Exit journey',
        });
        expect(aslErrors(asl)).toEqual([]);
      });

      it.each<[string, number, string[]]>([
        ['the first rule', 0, ['Check: Gold? / Silver?', 'Gold? / Silver?', 'Send email: tpl_gold', END]],
        ['the second rule', 1, ['Check: Gold? / Silver?', 'Gold? / Silver?', 'Send email: tpl_silver', END]],
        ['no rule (default)', -1, ['Check: Gold? / Silver?', 'Gold? / Silver?', 'Exit journey']],
      ])('follows %s', async (_name, index, visited) => {
        // Act
        const run = await runLocal(compiled(definition), { branches: { b: index } });
        // Assess
        expect(run.visited).toEqual(visited);
        expect(run.status).toBe('succeeded');
      });

      it('retries the check on Lambda.ServiceException and Lambda.TooManyRequestsException', async () => {
        // Act
        const service = await runLocal(compiled(definition), { branches: { b: 1 }, failCheckTimes: { times: 2, error: 'Lambda.ServiceException' } });
        const throttled = await runLocal(compiled(definition), { branches: { b: 1 }, failCheckTimes: { times: 1, error: 'Lambda.TooManyRequestsException' } });
        // Assess
        expect(service.calls['Check: Gold? / Silver?']).toBe(3);
        expect(service.visited.slice(-2)).toEqual(['Send email: tpl_silver', END]);
        expect(throttled.calls['Check: Gold? / Silver?']).toBe(2);
      });

      it('fails the run on an error that is not transient', async () => {
        // Act
        const run = await runLocal(compiled(definition), { failCheckTimes: { times: 1, error: 'Lambda.Unknown' } });
        // Assess
        expect(run.status).toBe('failed');
        expect(run.calls['Check: Gold? / Silver?']).toBe(1);
      });
    });

    describe('split', () => {
      const definition = journey({
        s: {
          type: 'split',
          variants: [
            { name: 'A', percent: 45, next: 'a' },
            { name: 'B', percent: 45, next: 'b' },
            { name: 'Holdout', percent: 10, next: null },
          ],
        },
        a: send(null, 'tpl_a'),
        b: send(null, 'tpl_b'),
      });

      it('→ a Pass drawing States.MathRandom once, then a Choice on cumulative ranges', () => {
        // Act
        const asl = compileJourney(definition, OPTIONS);
        // Assess
        expect(asl.States['Draw: A 45% / B 45% / Holdout 10%']).toEqual({
          Type: 'Pass',
          Comment: 'step s',
          Parameters: { 'draw.$': 'States.MathRandom(0, 10000)' },
          ResultPath: '$.split.s',
          Next: 'Split: A 45% / B 45% / Holdout 10%',
        });
        expect(asl.States['Split: A 45% / B 45% / Holdout 10%']).toEqual({
          Type: 'Choice',
          Comment: 'step s',
          Choices: [
            { Variable: '$.split.s.draw', NumericLessThan: 4500, Next: 'Send email: tpl_a' },
            { Variable: '$.split.s.draw', NumericLessThan: 9000, Next: 'Send email: tpl_b' },
            { Variable: '$.split.s.draw', NumericLessThan: 10000, Next: END },
          ],
          Default: END,
        });
        expect(aslErrors(asl)).toEqual([]);
      });

      it('keeps 0 % variants reachable in the graph with an empty range, and defaults to the last non-zero variant', () => {
        // Prepare
        const zero = journey({
          s: { type: 'split', variants: [{ name: 'A', percent: 100, next: 'a' }, { name: 'Off', percent: 0, next: 'b' }] },
          a: send(null, 'tpl_a'),
          b: send(null, 'tpl_b'),
        });
        // Act
        const asl = compileJourney(zero, OPTIONS);
        // Assess
        expect(asl.States['Split: A 100% / Off 0%']).toEqual({
          Type: 'Choice',
          Comment: 'step s',
          Choices: [
            { Variable: '$.split.s.draw', NumericLessThan: 10000, Next: 'Send email: tpl_a' },
            { Variable: '$.split.s.draw', NumericLessThan: 10000, Next: 'Send email: tpl_b' },
          ],
          Default: 'Send email: tpl_a',
        });
        expect(aslErrors(asl)).toEqual([]);
      });

      it('sends a 100 % variant every time', async () => {
        // Prepare
        const local = new LocalJourney(compiled(journey({ s: { type: 'split', variants: [{ name: 'Off', percent: 0, next: 'b' }, { name: 'All', percent: 100, next: 'a' }] }, a: send(null, 'tpl_a'), b: send(null, 'tpl_b') })));
        // Act
        const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => local.run({}, DEFAULT_INPUT, `exec-${i}`)));
        // Assess
        expect(new Set(runs.map((run) => run.visited.join(' > ')))).toEqual(new Set(['Draw: Off 0% / All 100% > Split: Off 0% / All 100% > Send email: tpl_a > End of journey']));
      });
    });

    it('send → the SQS integration with the message of SPEC (journey, version, execution, user, step, template, channel, entry)', async () => {
      // Prepare
      const definition = journey({ e: { type: 'send', channel: 'sms', template: 'tpl_sms', next: null } });
      // Act
      const result = compiled(definition, { templateNames: { tpl_sms: 'Cart SMS' } });
      const run = await runLocal(result, {}, DEFAULT_INPUT, 'j_cart-1-u_1-1');
      // Assess
      expect(result.asl.States['Send SMS: Cart SMS']).toEqual({
        Type: 'Task',
        Comment: 'step e',
        Resource: 'arn:aws:states:::sqs:sendMessage',
        Parameters: {
          QueueUrl: RESOURCES.sendQueueUrl,
          MessageBody: {
            kind: 'journey',
            journeyId: 'j_cart',
            version: 1,
            stepId: 'e',
            'executionName.$': '$$.Execution.Name',
            'userId.$': '$.userId',
            'profile.$': '$.run.pk',
            templateId: 'tpl_sms',
            channel: 'sms',
            'entry.$': '$.entry',
          },
        },
        ResultPath: null,
        Retry: SQS_RETRY,
        Next: END,
      });
      expect(aslErrors(result.asl)).toEqual([]);
      expect(run.messages).toEqual([
        { kind: 'journey', journeyId: 'j_cart', version: 1, stepId: 'e', executionName: 'j_cart-1-u_1-1', userId: 'u_1', profile: 'USER#u_1', templateId: 'tpl_sms', channel: 'sms', entry: DEFAULT_INPUT.entry },
      ]);
      expect(run.output).toEqual(DEFAULT_INPUT);
    });

    it('exit → a Succeed state of its own, and no shared end when nothing ends with null', async () => {
      // Prepare
      const definition = journey({ w: { type: 'wait', duration: 'PT1M', next: 'x' }, x: { type: 'exit' } });
      // Act
      const result = compiled(definition);
      const run = await runLocal(result);
      // Assess
      expect(result.asl.States).toEqual({
        'Wait 1 minute': { Type: 'Wait', Comment: 'step w', Seconds: 60, Next: 'Exit journey' },
        'Exit journey': { Type: 'Succeed', Comment: 'step x' },
      });
      expect(aslErrors(result.asl)).toEqual([]);
      expect(run).toMatchObject({ status: 'succeeded', visited: ['Wait 1 minute', 'Exit journey'], steps: ['w', 'x'] });
    });

    it('accepts step ids that need bracket paths ($.split[\'2-b\'])', async () => {
      // Prepare
      const definition = journey({
        '2-b': { type: 'split', variants: [{ name: 'A', percent: 50, next: 'u-1' }, { name: 'B', percent: 50, next: 'u-1' }] },
        'u-1': { type: 'wait_until', time: '09:00', timezone: 'user', next: 'c-3' },
        'c-3': { type: 'branch', branches: [{ name: 'x', rule: { trait: 'a', op: 'exists' }, next: null }], default: null },
      });
      // Act
      const result = compiled(definition);
      const run = await runLocal(result, { branches: { 'c-3': 0 } });
      // Assess
      expect(aslErrors(result.asl)).toEqual([]);
      expect(result.asl.States['Draw: A 50% / B 50%']).toMatchObject({ ResultPath: "$.split['2-b']" });
      expect(run.status).toBe('succeeded');
      expect(run.output).toMatchObject({ split: { '2-b': { draw: expect.any(Number) } }, waitUntil: { 'u-1': { timestamp: expect.any(String) } }, branch: { 'c-3': { index: 0 } } });
    });
  });

  describe('when compiling the SPEC example', () => {
    const result = compiled(specExample(), { templateNames: TEMPLATE_NAMES });
    const local = new LocalJourney(result);

    /** Runs until the split draws `variant` (1 in 10 for the holdout: at most 300 tries). */
    async function runToVariant(variant: string, script: RunScript): Promise<Awaited<ReturnType<LocalJourney['run']>>> {
      const target = { A: 'email', B: 'sms', Holdout: null }[variant];
      for (let i = 0; i < 300; i++) {
        const run = await local.run(script, DEFAULT_INPUT, `exec-${variant}-${i}`);
        if (run.steps[3] === target) return run;
      }
      throw new Error(`variant ${variant} never drawn`);
    }

    it('matches the snapshot and is valid ASL', () => {
      // Assess
      expect(result.asl).toMatchSnapshot();
      expect(aslErrors(result.asl)).toEqual([]);
      expect(Object.keys(result.asl.States)).toEqual([
        'Wait 3 days',
        'Check: Still has cart?',
        'Still has cart?',
        'Draw: A 45% / B 45% / Holdout 10%',
        'Split: A 45% / B 45% / Holdout 10%',
        'Exit journey',
        'Send email: Cart reminder',
        'Send SMS: Cart SMS',
        'Hold until Order Completed with same cartId (2 days)',
        "Find next 09:00 (user's time zone)",
        "Wait until 09:00 (user's time zone)",
        'Send email: Last chance',
        END,
      ]);
    });

    it('exits when the cart is gone (default branch)', async () => {
      // Act
      const run = await local.run({ branches: { check: -1 } });
      // Assess
      expect(run.visited).toEqual(['Wait 3 days', 'Check: Still has cart?', 'Still has cart?', 'Exit journey']);
      expect(run.messages).toEqual([]);
    });

    it('A: sends the email and ends when the order arrives', async () => {
      // Act
      const run = await runToVariant('A', { branches: { check: 0 }, holds: { hold: 'event' } });
      // Assess
      expect(run.visited).toEqual([
        'Wait 3 days',
        'Check: Still has cart?',
        'Still has cart?',
        'Draw: A 45% / B 45% / Holdout 10%',
        'Split: A 45% / B 45% / Holdout 10%',
        'Send email: Cart reminder',
        'Hold until Order Completed with same cartId (2 days)',
        END,
      ]);
      expect(run.messages).toMatchObject([{ stepId: 'email', templateId: 'tpl_cart_reminder' }]);
    });

    it('A: sends the email, times out, waits until 09:00 and sends the last chance (the longest path)', async () => {
      // Act
      const run = await runToVariant('A', { branches: { check: 0 }, holds: { hold: 'simulated-timeout' } });
      // Assess
      expect(run.visited).toEqual([
        'Wait 3 days',
        'Check: Still has cart?',
        'Still has cart?',
        'Draw: A 45% / B 45% / Holdout 10%',
        'Split: A 45% / B 45% / Holdout 10%',
        'Send email: Cart reminder',
        'Hold until Order Completed with same cartId (2 days)',
        "Find next 09:00 (user's time zone)",
        "Wait until 09:00 (user's time zone)",
        'Send email: Last chance',
        END,
      ]);
      expect(run.messages).toMatchObject([{ templateId: 'tpl_cart_reminder' }, { templateId: 'tpl_last_chance' }]);
      // 11 states entered = 11 state transitions; Lambda tasks: check, hold, wait_until.
      const lambdas = run.visited.filter((name) => {
        const state = result.asl.States[name];
        return state?.Type === 'Task' && state.Resource.includes(':lambda:');
      });
      expect({ transitions: run.visited.length, lambdas: lambdas.length }).toEqual({ transitions: 11, lambdas: 3 });
    });

    it('B: sends the SMS and ends', async () => {
      // Act
      const run = await runToVariant('B', { branches: { check: 0 } });
      // Assess
      expect(run.visited.slice(3)).toEqual(['Draw: A 45% / B 45% / Holdout 10%', 'Split: A 45% / B 45% / Holdout 10%', 'Send SMS: Cart SMS', END]);
      expect(run.messages).toMatchObject([{ channel: 'sms', templateId: 'tpl_cart_sms' }]);
    });

    it('Holdout: sends nothing', async () => {
      // Act
      const run = await runToVariant('Holdout', { branches: { check: 0 } });
      // Assess
      expect(run.visited.slice(3)).toEqual(['Draw: A 45% / B 45% / Holdout 10%', 'Split: A 45% / B 45% / Holdout 10%', END]);
      expect(run.messages).toEqual([]);
    });

    it('maps every state back to its step', () => {
      // Assess
      expect(result.stepOfState).toMatchObject({
        'Wait 3 days': 'wait_1',
        'Check: Still has cart?': 'check',
        'Still has cart?': 'check',
        'Split: A 45% / B 45% / Holdout 10%': 'split',
        'Exit journey': 'done',
        [END]: null,
      });
      expect(result.entryStateOfStep).toEqual({
        wait_1: 'Wait 3 days',
        check: 'Check: Still has cart?',
        split: 'Draw: A 45% / B 45% / Holdout 10%',
        done: 'Exit journey',
        email: 'Send email: Cart reminder',
        sms: 'Send SMS: Cart SMS',
        hold: 'Hold until Order Completed with same cartId (2 days)',
        reminder: "Find next 09:00 (user's time zone)",
        email2: 'Send email: Last chance',
      });
    });
  });

  describe('when naming states', () => {
    it('numbers repeated names in reading order', () => {
      // Prepare
      const definition = journey({
        w1: { type: 'wait', duration: 'P1D', next: 'e1' },
        e1: send('w2', 'tpl_a'),
        w2: { type: 'wait', duration: 'P1D', next: 'e2' },
        e2: send('w3', 'tpl_a'),
        w3: { type: 'wait', duration: 'P1D', next: 'x1' },
        x1: { type: 'branch', branches: [{ name: 'Again', rule: { trait: 'a', op: 'exists' }, next: 'x2' }], default: 'x2' },
        x2: { type: 'branch', branches: [{ name: 'Again', rule: { trait: 'a', op: 'exists' }, next: null }], default: 'end' },
        end: { type: 'exit' },
      });
      // Act
      const asl = compileJourney(definition, OPTIONS);
      // Assess
      expect(Object.keys(asl.States)).toEqual([
        'Wait 1 day',
        'Send email: tpl_a',
        'Wait 1 day (2)',
        'Send email: tpl_a (2)',
        'Wait 1 day (3)',
        'Check: Again?',
        'Again?',
        'Check: Again? (2)',
        'Again? (2)',
        'Exit journey',
        END,
      ]);
      expect(aslErrors(asl)).toEqual([]);
    });

    it('keeps names within 80 characters, distinct and on one line', () => {
      // Prepare
      const long = `${'Very long template name '.repeat(5)}\nwith a line break`;
      const definition = journey({ a: send('b', 'tpl_1'), b: send(null, 'tpl_2') });
      // Act
      const asl = compileJourney(definition, { ...OPTIONS, templateNames: { tpl_1: long, tpl_2: long } });
      const names = Object.keys(asl.States);
      // Assess
      expect(names.map((name) => Array.from(name).length <= 80)).toEqual([true, true, true]);
      expect(names[0]).not.toBe(names[1]);
      expect(names[0]).toMatch(/^Send email: Very long template name .*…$/);
      expect(names[1]).toMatch(/… \(2\)$/);
      expect(names.some((name) => name.includes('\n'))).toBe(false);
      expect(aslErrors(asl)).toEqual([]);
    });

    it('does not reuse a numbered name that a label already has', () => {
      // Prepare
      const names = new StateNames();
      // Act
      const given = ['Send email: X (2)', 'Send email: X', 'Send email: X'].map((label) => names.allocate(label));
      // Assess
      expect(given).toEqual(['Send email: X (2)', 'Send email: X', 'Send email: X (3)']);
    });

    it('cuts on code points, never inside an emoji', () => {
      // Prepare
      const names = new StateNames(10);
      // Act
      const name = names.allocate('🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉');
      // Assess
      expect(Array.from(name)).toEqual([...Array.from('🎉🎉🎉🎉🎉🎉🎉🎉🎉'), '…']);
    });
  });

  describe('when recording steps (runTableName)', () => {
    const definition = journey({
      w: { type: 'wait', duration: 'P1D', next: 'b' },
      b: { type: 'branch', branches: [{ name: 'VIP', rule: { audience: 'aud_vip' }, next: 's' }], default: null },
      s: { type: 'split', variants: [{ name: 'A', percent: 100, next: 'e' }, { name: 'B', percent: 0, next: null }] },
      e: send(null),
    });
    const result = compiled(definition, { resources: { ...RESOURCES, runTableName: RUN_TABLE } });

    it('records each step on entry, and branches and variants on the way out, on the run item (dynamodb:updateItem)', async () => {
      // Act
      const run = await runLocal(result, { branches: { b: 0 } });
      // Assess
      expect(aslErrors(result.asl)).toEqual([]);
      expect(run.visited).toEqual([
        'Record: Wait 1 day',
        'Wait 1 day',
        'Check: VIP?',
        'VIP?',
        'Record branch: VIP',
        'Draw: A 100% / B 0%',
        'Split: A 100% / B 0%',
        'Record variant: A',
        'Record: Send email: tpl_a',
        'Send email: tpl_a',
        END,
      ]);
      expect(run.payloads['Record branch: VIP']).toEqual({
        TableName: RUN_TABLE,
        Key: { pk: { S: 'USER#u_1' }, sk: { S: 'JRUN#j_cart#exec-1' } },
        UpdateExpression: 'SET currentStep = :step, stepOutcome = :outcome',
        ConditionExpression: 'runStatus = :running',
        ExpressionAttributeValues: { ':step': { S: 'b' }, ':outcome': { S: 'VIP' }, ':running': { S: 'running' } },
      });
      expect(run.payloads['Record variant: A']).toMatchObject({ ExpressionAttributeValues: { ':step': { S: 's' }, ':outcome': { S: 'A' } } });
      expect(run.payloads['Record: Wait 1 day']).toMatchObject({ ExpressionAttributeValues: { ':step': { S: 'w' }, ':outcome': { NULL: true } } });
    });

    it('never fails a run because recording failed, and ends a run found ended elsewhere before its step acts', () => {
      // Assess: every record task sends a failed condition (the run is no longer running) to the
      // shared "Run already ended", and catches everything else and goes on.
      const records = Object.entries(result.asl.States).filter(([name]) => name.startsWith('Record'));
      expect(records.length).toBe(6);
      for (const [, state] of records) {
        expect(state).toMatchObject({
          Type: 'Task',
          Catch: [
            { ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], Next: 'Run already ended' },
            { ErrorEquals: ['States.ALL'], Next: (state as { Next: string }).Next },
          ],
        });
      }
      expect(result.asl.States['Run already ended']).toMatchObject({ Type: 'Succeed' });
      expect(compiled(definition).asl.States['Run already ended']).toBeUndefined();
    });
  });

  describe('when the definition or options are unsound', () => {
    it.each<[string, JourneyDefinition]>([
      ['a next to nowhere', journey({ a: send('nowhere') })],
      ['a cycle', journey({ a: send('b'), b: send('a') })],
      ['an unreachable step', journey({ a: send(null), b: send(null) })],
    ])('refuses %s with a ValidationError naming the step', (_name, definition) => {
      // Act
      const act = (): unknown => compileJourney(definition, OPTIONS);
      // Assess
      expect(act).toThrow(ValidationError);
    });

    it('does not check templates or audiences (that is publishing\'s job)', () => {
      // Act / Assess
      expect(() => compileJourney(journey({ a: send(null, 'tpl_unknown') }), OPTIONS)).not.toThrow();
    });

    it.each<[string, Partial<CompileJourneyOptions>, string]>([
      ['version 0', { version: 0 }, 'version'],
      ['a fractional version', { version: 1.5 }, 'version'],
      ['an empty journey id', { journeyId: '' }, 'journeyId'],
      ['an empty queue URL', { resources: { ...RESOURCES, sendQueueUrl: '' } }, 'resources.sendQueueUrl'],
    ])('refuses %s', (_name, options, path) => {
      // Act
      let caught: unknown;
      try {
        compileJourney(journey({ a: send(null) }), { ...OPTIONS, ...options });
      } catch (error) {
        caught = error;
      }
      // Assess
      expect(caught).toBeInstanceOf(ValidationError);
      expect(caught instanceof ValidationError ? caught.issues?.map((issue) => issue.path) : []).toEqual([path]);
    });
  });

  describe('when the journey is large', () => {
    /** 200 steps: chains of wait → branch → send → split → hold → wait_until ..., every step forward only. */
    function largeJourney(size: number): JourneyDefinition {
      const steps: Record<string, JourneyStep> = {};
      const id = (i: number): string | null => (i < size ? `s${i}` : null);
      for (let i = 0; i < size; i++) {
        switch (i % 6) {
          case 0:
            steps[`s${i}`] = { type: 'wait', duration: 'P1D', next: id(i + 1) };
            break;
          case 1:
            steps[`s${i}`] = { type: 'branch', branches: [{ name: `Rule ${i}`, rule: { trait: 'plan', op: 'eq', value: 'pro' }, next: id(i + 1) }], default: id(i + 2) };
            break;
          case 2:
            steps[`s${i}`] = send(id(i + 1), `tpl_${i % 4}`);
            break;
          case 3:
            steps[`s${i}`] = { type: 'split', variants: [{ name: 'A', percent: 50, next: id(i + 1) }, { name: 'B', percent: 50, next: id(i + 2) }] };
            break;
          case 4:
            steps[`s${i}`] = { type: 'hold_until', event: 'Order Completed', timeout: 'PT12H', next: id(i + 1), timeoutNext: id(i + 2) };
            break;
          default:
            steps[`s${i}`] = { type: 'wait_until', time: '09:00', timezone: 'user', next: id(i + 1) };
        }
      }
      return journey(steps, 's0');
    }

    it('compiles 200 steps (time reported, not asserted) into valid ASL', () => {
      // Prepare
      const definition = largeJourney(200);
      // Act: the first compile (cold code), then the average of 50 more.
      let started = performance.now();
      let asl = compileJourney(definition, OPTIONS);
      const cold = performance.now() - started;
      const rounds = 50;
      started = performance.now();
      for (let i = 0; i < rounds; i++) asl = compileJourney(definition, OPTIONS);
      const warm = (performance.now() - started) / rounds;
      // Assess
      console.info(`compileJourney, 200 steps: first ${cold.toFixed(1)} ms, then ${warm.toFixed(2)} ms per compile (${Object.keys(asl.States).length} states, ${JSON.stringify(asl).length} bytes)`);
      expect(aslErrors(asl)).toEqual([]);
      expect(JSON.stringify(asl).length).toBeLessThan(1_000_000);
    });
  });
});
