import { z } from 'zod';
import {
  DAY_SECONDS,
  durationSeconds,
  JourneyDefinitionSchema,
  parseJourneyDefinition,
  validateJourney,
  waitUntilBoundSeconds,
  type Channel,
  type JourneyDefinition,
  type JourneyValidationContext,
  type JourneyViolation,
  type WaitUntilStep,
} from '../../../shared/domain/journey/definition';
import { findCycles, longestWaitPath, stepTargets } from '../../../shared/domain/journey/graph';
import { specExample } from '../statemachines/fixtures';

const TEMPLATES: Record<string, Channel> = { tpl_cart_reminder: 'email', tpl_cart_sms: 'sms', tpl_last_chance: 'email' };
const AUDIENCES = new Set(['aud_cart', 'aud_vip']);
const CONTEXT: JourneyValidationContext = {
  templateExists: (id, channel) => TEMPLATES[id] === channel,
  audienceExists: (id) => AUDIENCES.has(id),
};

/** The SPEC example as raw JSON (what the API receives). */
function raw(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(specExample()));
}

function issuesOf(input: unknown): Array<{ path: string; message: string }> {
  const result = parseJourneyDefinition(input);
  if (result.ok) throw new Error('expected issues, the definition parsed');
  return result.issues;
}

/** Applies `edit` to a fresh copy of the raw SPEC example. */
function edited(edit: (definition: Record<string, unknown>) => void): Record<string, unknown> {
  const definition = raw();
  edit(definition);
  return definition;
}

function stepsOf(definition: Record<string, unknown>): Record<string, Record<string, unknown>> {
  return JSON.parse(JSON.stringify(definition.steps));
}

function setStep(definition: Record<string, unknown>, id: string, patch: Record<string, unknown>): void {
  const steps = stepsOf(definition);
  steps[id] = { ...steps[id], ...patch };
  definition.steps = steps;
}

describe('JourneyDefinitionSchema', () => {
  describe('when the definition is valid', () => {
    it('accepts the SPEC example and returns it unchanged', () => {
      // Prepare
      const input = raw();
      // Act
      const result = parseJourneyDefinition(input);
      // Assess
      expect(result).toEqual({ ok: true, definition: input });
    });

    it('accepts an audience entry with onAudienceExit, without reentry (never)', () => {
      // Prepare
      const input = edited((d) => {
        d.entry = { audience: 'aud_cart' };
        d.exit = { onAudienceExit: true };
        delete d.reentry;
        setStep(d, 'hold', { match: undefined });
      });
      // Act
      const result = parseJourneyDefinition(JSON.parse(JSON.stringify(input)));
      // Assess
      expect(result.ok).toBe(true);
    });

    it.each([
      ['after_exit with a cooldown', { mode: 'after_exit', cooldown: 'P7D' }],
      ['after_exit without a cooldown', { mode: 'after_exit' }],
      ['never', { mode: 'never' }],
    ])('accepts reentry %s', (_name, reentry) => {
      // Act
      const result = parseJourneyDefinition(edited((d) => (d.reentry = reentry)));
      // Assess
      expect(result.ok).toBe(true);
    });

    it('accepts wait_until with a fixed zone and weekdays, and calendar durations', () => {
      // Prepare
      const input = edited((d) => {
        setStep(d, 'reminder', { timezone: 'Europe/Paris', weekdays: ['mon', 'fri'] });
        setStep(d, 'wait_1', { duration: 'P1M2DT3H' });
      });
      // Act / Assess
      expect(parseJourneyDefinition(input).ok).toBe(true);
    });
  });

  describe('when the definition is invalid', () => {
    it.each<[string, (d: Record<string, unknown>) => void, string, string]>([
      ['a duration that is not ISO-8601', (d) => setStep(d, 'wait_1', { duration: 'three days' }), 'steps.wait_1.duration', 'ISO-8601 duration'],
      ['a negative duration', (d) => setStep(d, 'wait_1', { duration: 'P-1D' }), 'steps.wait_1.duration', 'ISO-8601 duration'],
      ['a zero duration', (d) => setStep(d, 'wait_1', { duration: 'PT0S' }), 'steps.wait_1.duration', 'positive'],
      ['an unknown step type', (d) => setStep(d, 'wait_1', { type: 'sleep' }), 'steps.wait_1.type', 'must have a type: one of wait, wait_until'],
      ['an unknown key on a step', (d) => setStep(d, 'wait_1', { seconds: 3 }), 'steps.wait_1', 'Unrecognized key'],
      ['a missing next', (d) => setStep(d, 'wait_1', { next: undefined }), 'steps.wait_1.next', 'must be a step id or null'],
      ['a time that is not HH:MM', (d) => setStep(d, 'reminder', { time: '9:00' }), 'steps.reminder.time', 'HH:MM'],
      ['a time past 23:59', (d) => setStep(d, 'reminder', { time: '24:00' }), 'steps.reminder.time', 'HH:MM'],
      ['an unknown time zone', (d) => setStep(d, 'reminder', { timezone: 'Mars/Olympus' }), 'steps.reminder.timezone', 'IANA time zone'],
      ['an unknown weekday', (d) => setStep(d, 'reminder', { weekdays: ['monday'] }), 'steps.reminder.weekdays[0]', 'one of mon, tue'],
      ['a repeated weekday', (d) => setStep(d, 'reminder', { weekdays: ['mon', 'mon'] }), 'steps.reminder.weekdays', 'repeat'],
      ['no weekdays', (d) => setStep(d, 'reminder', { weekdays: [] }), 'steps.reminder.weekdays', 'at least one'],
      ['a fractional percent', (d) => setStep(d, 'split', { variants: [{ name: 'A', percent: 45.5, next: null }, { name: 'B', percent: 54.5, next: null }] }), 'steps.split.variants[0].percent', 'whole number'],
      ['a percent over 100', (d) => setStep(d, 'split', { variants: [{ name: 'A', percent: 120, next: null }, { name: 'B', percent: 0, next: null }] }), 'steps.split.variants[0].percent', '100'],
      ['a single variant', (d) => setStep(d, 'split', { variants: [{ name: 'A', percent: 100, next: null }] }), 'steps.split.variants', 'at least two'],
      ['an unknown channel', (d) => setStep(d, 'email', { channel: 'push' }), 'steps.email.channel', 'one of email, sms'],
      ['an empty template id', (d) => setStep(d, 'email', { template: ' ' }), 'steps.email.template', 'must not be empty'],
      ['an empty match', (d) => setStep(d, 'hold', { match: [] }), 'steps.hold.match', 'at least one'],
      ['a hold without timeoutNext', (d) => setStep(d, 'hold', { timeoutNext: undefined }), 'steps.hold.timeoutNext', 'step id or null'],
      ['no branches', (d) => setStep(d, 'check', { branches: [] }), 'steps.check.branches', 'at least one'],
      ['a bad branch rule', (d) => setStep(d, 'check', { branches: [{ name: 'x', rule: { all: [{ trait: 'plan', op: 'equals', value: 1 }] }, next: null }] }), 'steps.check.branches[0].rule.all[0].op', 'must be one of eq'],
      ['a bad entry where clause', (d) => (d.entry = { event: 'Cart Abandoned', where: [{ property: 'total', op: 'bigger', value: 1 }] }), 'entry.where[0].op', 'must be one of eq'],
      ['a where value that does not fit its op', (d) => (d.entry = { event: 'Cart Abandoned', where: [{ property: 'total', op: 'gt', value: 'lots' }] }), 'entry.where[0].value', 'number'],
      ['an entry with both audience and event', (d) => (d.entry = { audience: 'a', event: 'E' }), 'entry', '{"audience"'],
      ['an entry with neither', (d) => (d.entry = {}), 'entry', '{"audience"'],
      ['an event entry with count', (d) => (d.entry = { event: 'E', count: { op: 'gte', value: 2 } }), 'entry', 'Unrecognized key'],
      ['an empty audience id', (d) => (d.entry = { audience: '' }), 'entry.audience', 'must not be empty'],
      ['every_event with an audience entry', (d) => (d.entry = { audience: 'aud_cart' }), 'reentry.mode', 'every_event needs an event entry'],
      ['onAudienceExit with an event entry', (d) => (d.exit = { onAudienceExit: true }), 'exit.onAudienceExit', 'needs an audience entry'],
      ['an unknown reentry mode', (d) => (d.reentry = { mode: 'always' }), 'reentry.mode', 'one of never, after_exit, every_event'],
      ['a bad cooldown', (d) => (d.reentry = { mode: 'after_exit', cooldown: 'a week' }), 'reentry.cooldown', 'ISO-8601'],
      ['every_event without a key', (d) => (d.reentry = { mode: 'every_event' }), 'reentry.key', 'string'],
      ['a goal without within', (d) => (d.goal = { event: 'Order Completed' }), 'goal.within', 'ISO-8601'],
      ['an empty name', (d) => (d.name = '  '), 'name', 'must not be empty'],
      ['no steps', (d) => (d.steps = {}), 'steps', 'at least one step'],
      ['an unknown top-level key', (d) => (d.trigger = 'x'), '', 'Unrecognized key'],
    ])('reports %s at its path', (_name, edit, path, message) => {
      // Act
      const issues = issuesOf(edited(edit));
      // Assess
      expect(issues).toContainEqual({ path, message: expect.stringContaining(message) });
    });

    it('reports every issue at once, under a base path', () => {
      // Prepare
      const input = edited((d) => {
        setStep(d, 'wait_1', { duration: 'x' });
        setStep(d, 'email', { channel: 'fax' });
      });
      // Act
      const result = parseJourneyDefinition(input, ['definition']);
      // Assess
      expect(result.ok ? [] : result.issues.map((issue) => issue.path)).toEqual(['definition.steps.wait_1.duration', 'definition.steps.email.channel']);
    });

    it('refuses more than 500 steps', () => {
      // Prepare
      const steps: Record<string, unknown> = {};
      for (let i = 0; i < 501; i++) steps[`s${i}`] = { type: 'exit' };
      // Act
      const issues = issuesOf(edited((d) => (d.steps = steps)));
      // Assess
      expect(issues).toEqual([{ path: 'steps', message: 'must have at most 500 steps' }]);
    });
  });

  it('renders as JSON Schema for the OpenAPI document, in input and output mode', () => {
    // Act
    const input = z.toJSONSchema(JourneyDefinitionSchema, { io: 'input' });
    const output = z.toJSONSchema(JourneyDefinitionSchema, { io: 'output' });
    // Assess
    expect(input).toMatchObject({ type: 'object', required: ['name', 'entry', 'start', 'steps'] });
    expect(output).toEqual(input);
  });

  it('can be nested in a request schema and keeps the paths', () => {
    // Prepare
    const input = { definition: edited((d) => setStep(d, 'wait_1', { duration: 'x' })) };
    // Act
    const result = JourneyDefinitionSchema.safeParse(input.definition);
    // Assess
    expect(result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'))).toEqual(['steps.wait_1.duration']);
  });
});

/** A valid definition after `edit` (must still parse: these tests are about the graph). */
function definitionWith(edit: (d: Record<string, unknown>) => void): JourneyDefinition {
  const result = parseJourneyDefinition(edited(edit));
  if (!result.ok) throw new Error(`test definition does not parse: ${JSON.stringify(result.issues)}`);
  return result.definition;
}

describe('validateJourney', () => {
  it('finds nothing wrong with the SPEC example', () => {
    // Act
    const violations = validateJourney(specExample(), CONTEXT);
    // Assess
    expect(violations).toEqual([]);
  });

  describe('when a rule is broken', () => {
    it.each<[string, (d: Record<string, unknown>) => void, JourneyViolation]>([
      [
        'a step id with spaces',
        (d) => {
          const steps = stepsOf(d);
          steps['bad id!'] = steps.done ?? {};
          delete steps.done;
          steps.check = { ...steps.check, default: 'bad id!' };
          d.steps = steps;
        },
        { code: 'invalid_step_id', step: 'bad id!', path: 'steps.bad id!', message: 'step ids must be 1 to 64 letters, digits, "_" or "-"' },
      ],
      [
        'a step id over 64 characters',
        (d) => {
          const long = 'x'.repeat(65);
          const steps = stepsOf(d);
          steps[long] = steps.done ?? {};
          delete steps.done;
          steps.check = { ...steps.check, default: long };
          d.steps = steps;
        },
        { code: 'invalid_step_id', step: 'x'.repeat(65), path: `steps.${'x'.repeat(65)}`, message: 'step ids must be 1 to 64 letters, digits, "_" or "-"' },
      ],
      ['a start that names no step', (d) => (d.start = 'nowhere'), { code: 'missing_step', path: 'start', message: 'names no step: "nowhere"' }],
      ['a next to nowhere', (d) => setStep(d, 'email2', { next: 'nowhere' }), { code: 'missing_step', step: 'email2', path: 'steps.email2.next', message: 'names no step: "nowhere"' }],
      [
        'a default to nowhere',
        (d) => {
          setStep(d, 'check', { default: 'nowhere' });
          const steps = stepsOf(d);
          delete steps.done;
          d.steps = steps;
        },
        { code: 'missing_step', step: 'check', path: 'steps.check.default', message: 'names no step: "nowhere"' },
      ],
      [
        'a timeoutNext to nowhere',
        (d) => {
          setStep(d, 'hold', { timeoutNext: 'nowhere' });
          setStep(d, 'sms', { next: 'reminder' });
        },
        { code: 'missing_step', step: 'hold', path: 'steps.hold.timeoutNext', message: 'names no step: "nowhere"' },
      ],
      [
        'a variant to nowhere',
        (d) => {
          setStep(d, 'split', { variants: [{ name: 'A', percent: 45, next: 'email' }, { name: 'B', percent: 45, next: 'nowhere' }, { name: 'Holdout', percent: 10, next: null }] });
          setStep(d, 'email2', { next: 'sms' });
        },
        { code: 'missing_step', step: 'split', path: 'steps.split.variants[1].next', message: 'names no step: "nowhere"' },
      ],
      [
        'a branch to nowhere',
        (d) => {
          const steps = stepsOf(d);
          steps.check = { ...steps.check, branches: [{ name: 'Still has cart', rule: { audience: 'aud_cart' }, next: 'nowhere' }], default: 'split' };
          delete steps.done;
          d.steps = steps;
        },
        { code: 'missing_step', step: 'check', path: 'steps.check.branches[0].next', message: 'names no step: "nowhere"' },
      ],
      ['an unreachable step', (d) => setStep(d, 'orphan', { type: 'exit' }), { code: 'unreachable_step', step: 'orphan', path: 'steps.orphan', message: 'cannot be reached from the start step "wait_1"' }],
      ['a cycle', (d) => setStep(d, 'email2', { next: 'reminder' }), { code: 'cycle', step: 'reminder', path: 'steps.reminder', message: 'is in a cycle: reminder → email2 → reminder' }],
      ['a step leading to itself', (d) => setStep(d, 'sms', { next: 'sms' }), { code: 'cycle', step: 'sms', path: 'steps.sms', message: 'is in a cycle: sms → sms' }],
      [
        'percents over 100',
        (d) => setStep(d, 'split', { variants: [{ name: 'A', percent: 45, next: 'email' }, { name: 'B', percent: 45, next: 'sms' }, { name: 'Holdout', percent: 20, next: null }] }),
        { code: 'split_percent_sum', step: 'split', path: 'steps.split.variants', message: 'percents must add up to 100, not 110' },
      ],
      [
        'percents under 100',
        (d) => setStep(d, 'split', { variants: [{ name: 'A', percent: 40, next: 'email' }, { name: 'B', percent: 40, next: 'sms' }, { name: 'Holdout', percent: 10, next: null }] }),
        { code: 'split_percent_sum', step: 'split', path: 'steps.split.variants', message: 'percents must add up to 100, not 90' },
      ],
      [
        'two variants with one name',
        (d) => setStep(d, 'split', { variants: [{ name: 'A', percent: 45, next: 'email' }, { name: 'A', percent: 45, next: 'sms' }, { name: 'Holdout', percent: 10, next: null }] }),
        { code: 'duplicate_name', step: 'split', path: 'steps.split.variants[1].name', message: 'another variant of this split is named "A"' },
      ],
      [
        'two branches with one name',
        (d) =>
          setStep(d, 'check', {
            branches: [
              { name: 'Has cart', rule: { audience: 'aud_cart' }, next: 'split' },
              { name: 'Has cart', rule: { audience: 'aud_vip' }, next: 'split' },
            ],
          }),
        { code: 'duplicate_name', step: 'check', path: 'steps.check.branches[1].name', message: 'another branch of this step is named "Has cart"' },
      ],
      ['an unknown template', (d) => setStep(d, 'email2', { template: 'tpl_gone' }), { code: 'unknown_template', step: 'email2', path: 'steps.email2.template', message: 'no email template has the id "tpl_gone"' }],
      ['a template of the other channel', (d) => setStep(d, 'sms', { template: 'tpl_cart_reminder' }), { code: 'unknown_template', step: 'sms', path: 'steps.sms.template', message: 'no SMS template has the id "tpl_cart_reminder"' }],
      [
        'an unknown entry audience',
        (d) => {
          d.entry = { audience: 'aud_gone' };
          d.reentry = { mode: 'never' };
          setStep(d, 'hold', { match: undefined });
        },
        { code: 'unknown_audience', path: 'entry.audience', message: 'no audience has the id "aud_gone"' },
      ],
      [
        'an unknown audience deep in a branch rule',
        (d) => setStep(d, 'check', { branches: [{ name: 'VIP', rule: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { not: { audience: 'aud_gone' } }] }, next: 'split' }] }),
        { code: 'unknown_audience', step: 'check', path: 'steps.check.branches[0].rule.all[1].not.audience', message: 'no audience has the id "aud_gone"' },
      ],
      [
        'match with an audience entry',
        (d) => {
          d.entry = { audience: 'aud_cart' };
          d.reentry = { mode: 'never' };
        },
        { code: 'match_without_event_entry', step: 'hold', path: 'steps.hold.match', message: 'match compares with the entry event: it needs an event entry ({"event": ...})' },
      ],
      [
        'waits over 365 days along a path',
        (d) => {
          setStep(d, 'wait_1', { duration: 'P200D' });
          setStep(d, 'hold', { timeout: 'P200D' });
        },
        {
          code: 'path_too_long',
          step: 'hold',
          path: 'steps.hold',
          message: expect.stringContaining('waits and timeouts add up to 401.08 days along wait_1 → check → split → email → hold → reminder → email2: at most 365 days'),
        },
      ],
    ])('reports %s', (_name, edit, expected) => {
      // Prepare
      const definition = definitionWith(edit);
      // Act
      const violations = validateJourney(definition, CONTEXT);
      // Assess
      expect(violations).toEqual([expected]);
    });

    it('names every step of a longer cycle once, and each violation of a broken graph', () => {
      // Prepare: email2 → wait_1 closes a loop through the whole journey, plus an orphan.
      const definition = definitionWith((d) => {
        setStep(d, 'email2', { next: 'wait_1' });
        setStep(d, 'orphan', { type: 'wait', duration: 'P1D', next: 'nowhere' });
      });
      // Act
      const violations = validateJourney(definition, CONTEXT);
      // Assess
      expect(violations.map((v) => [v.code, v.path, v.message])).toEqual([
        ['missing_step', 'steps.orphan.next', 'names no step: "nowhere"'],
        ['unreachable_step', 'steps.orphan', 'cannot be reached from the start step "wait_1"'],
        ['cycle', 'steps.wait_1', 'is in a cycle: wait_1 → check → split → email → hold → reminder → email2 → wait_1'],
      ]);
    });
  });

  describe('when adding up waits along paths', () => {
    it.each<[string, Record<string, unknown>, boolean]>([
      ['P1Y (365 days) alone', { wait_1: { type: 'wait', duration: 'P1Y', next: null } }, true],
      ['P1Y and one more second', { wait_1: { type: 'wait', duration: 'P1Y', next: 'w2' }, w2: { type: 'wait', duration: 'PT1S', next: null } }, false],
      ['P12M (12 × 30 days) and 5 days', { wait_1: { type: 'wait', duration: 'P12M', next: 'w2' }, w2: { type: 'wait', duration: 'P5D', next: null } }, true],
      ['P363D then a daily wait_until (26 hours)', { wait_1: { type: 'wait', duration: 'P363D', next: 'u' }, u: { type: 'wait_until', time: '09:00', timezone: 'user', next: null } }, true],
      ['P360D then a Mondays-only wait_until (7 days 2 hours)', { wait_1: { type: 'wait', duration: 'P360D', next: 'u' }, u: { type: 'wait_until', time: '09:00', timezone: 'user', weekdays: ['mon'], next: null } }, false],
      [
        'a long hold on one side of a branch only',
        {
          wait_1: { type: 'branch', branches: [{ name: 'x', rule: { audience: 'aud_vip' }, next: 'h' }], default: 'w' },
          h: { type: 'hold_until', event: 'E', timeout: 'P300D', next: 'w', timeoutNext: null },
          w: { type: 'wait', duration: 'P70D', next: null },
        },
        false,
      ],
    ])('%s → accepted: %s', (_name, steps, accepted) => {
      // Prepare
      const definition = definitionWith((d) => {
        d.steps = steps;
        d.start = 'wait_1';
      });
      // Act
      const violations = validateJourney(definition, CONTEXT);
      // Assess
      expect(violations.filter((v) => v.code === 'path_too_long').length === 0).toBe(accepted);
    });
  });
});

describe('wait_until bounds', () => {
  const step = (weekdays?: WaitUntilStep['weekdays']): WaitUntilStep => ({ type: 'wait_until', time: '09:00', timezone: 'user', ...(weekdays === undefined ? {} : { weekdays }), next: null });

  it.each<[string, WaitUntilStep['weekdays'], number]>([
    ['every day (no weekdays)', undefined, 1],
    ['all seven weekdays', ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], 1],
    ['Mondays only', ['mon'], 7],
    ['Monday and Thursday (Thursday → Monday is the longest gap)', ['thu', 'mon'], 4],
    ['weekdays only (Friday → Monday)', ['mon', 'tue', 'wed', 'thu', 'fri'], 3],
  ])('%s: the longest gap in days plus 2 hours', (_name, weekdays, gapDays) => {
    // Act
    const bound = waitUntilBoundSeconds(step(weekdays));
    // Assess
    expect(bound).toBe(gapDays * DAY_SECONDS + 7200);
  });
});

describe('durationSeconds', () => {
  it.each([
    ['P3D', 259_200],
    ['PT1H30M', 5_400],
    ['P1W', 604_800],
    ['P1M', 2_592_000],
    ['P1Y', 31_536_000],
    ['PT0.5S', 1],
  ])('%s is %i seconds (months 30 days, years 365, rounded up)', (iso, seconds) => {
    expect(durationSeconds(iso)).toBe(seconds);
  });
});

describe('graph walks', () => {
  it('lists a step\'s targets with their paths', () => {
    // Act
    const targets = stepTargets(specExample().steps.check ?? { type: 'exit' });
    // Assess
    expect(targets).toEqual([
      { path: ['branches', 0, 'next'], target: 'split' },
      { path: ['default'], target: 'done' },
    ]);
  });

  it('finds no cycle in the SPEC example and the longest wait along it', () => {
    // Prepare
    const { steps } = specExample();
    // Act
    const cycles = findCycles(steps);
    const longest = longestWaitPath('wait_1', steps, (step) => (step.type === 'wait' ? durationSeconds(step.duration) : step.type === 'hold_until' ? durationSeconds(step.timeout) : 0));
    // Assess
    expect(cycles).toEqual([]);
    expect(longest).toEqual({ seconds: 5 * DAY_SECONDS, path: ['wait_1', 'check', 'split', 'email', 'hold', 'reminder', 'email2'] });
  });

  it('walks a 10,000-step chain without recursion', () => {
    // Prepare
    const steps: JourneyDefinition['steps'] = {};
    for (let i = 0; i < 10_000; i++) steps[`s${i}`] = { type: 'wait', duration: 'PT1M', next: i === 9_999 ? 's0' : `s${i + 1}` };
    // Act
    const cycles = findCycles(steps);
    // Assess
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(10_001);
  });
});
