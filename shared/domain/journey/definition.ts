import { IANAZone } from 'luxon';
import { z } from 'zod';
import { assertUnreachable, type ErrorIssue } from '../../errors';
import { classifyRule, RuleSchema, type Rule, type WhereClause } from '../audience/rule';
import { parseRuleDuration } from '../audience/time';
import { formatPath } from '../ingestion/messages';
import { findCycles, longestWaitPath, reachableFrom, stepTargets } from './graph';

/**
 * A journey definition (SPEC section 3 "Journeys"): entry, re-entry, exit, goal and a graph
 * of steps keyed by id, each naming the next step (`null` ends the journey). The JSON shape
 * is the SPEC's, the same a visual builder stores. Two layers:
 * - {@link JourneyDefinitionSchema} checks the shape of each part (issues name their path,
 *   `steps.wait_1.duration`);
 * - {@link validateJourney} checks the graph and its references (the publish-time checks),
 *   returning violations as a list (DF `getJourneyConstraintViolations`).
 */

export const MAX_NAME_LENGTH = 255;
/** The name counts give the `default` path of a branch step. */
export const DEFAULT_BRANCH = 'default';
export const MAX_STEPS = 500;
export const MAX_BRANCHES = 20;
export const MAX_VARIANTS = 20;
/** Step ids are used in state data paths and execution history: keep them simple. */
export const STEP_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Standard workflows run for at most a year: waits and timeouts along a path stay within it. */
export const MAX_PATH_DAYS = 365;
export const DAY_SECONDS = 86_400;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

export const STEP_TYPES = ['wait', 'wait_until', 'hold_until', 'branch', 'split', 'send', 'exit'] as const;
export type StepType = (typeof STEP_TYPES)[number];

const DURATION_MESSAGE = 'must be a positive ISO-8601 duration such as P3D or PT12H (whole numbers except seconds)';

const NameSchema = (what: string) =>
  z
    .string({ error: `must be a string (${what})` })
    .trim()
    .min(1, `must not be empty (${what})`)
    .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`);

/** An ISO-8601 duration, kept as written (`P3D`). Months count 30 days and years 365 wherever a length is needed. */
export const DurationSchema = z.string({ error: DURATION_MESSAGE }).refine((value) => parseRuleDuration(value) !== undefined, DURATION_MESSAGE);

/** The longest cooldown or goal window: ten years (beyond, dates leave JavaScript's range soon enough to matter). */
export const MAX_WINDOW_DAYS = 3650;

const WindowSchema = DurationSchema.refine((value) => {
  // A malformed duration is DurationSchema's to report.
  const duration = parseRuleDuration(value);
  return duration === undefined || duration.casualMs <= MAX_WINDOW_DAYS * DAY_SECONDS * 1000;
}, `must be at most ${MAX_WINDOW_DAYS} days`);

/**
 * Step ids that are also names of members every JavaScript object has (`constructor`,
 * `toString`, `__proto__`…): refused, so that a step id can key a plain object anywhere.
 */
export const RESERVED_STEP_IDS: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__']);

/** The id of another step, or `null` to end the journey there. */
const StepRefSchema = z.string({ error: 'must be a step id or null' }).nullable();

const TimeSchema = z.string({ error: 'must be a time "HH:MM"' }).regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time "HH:MM" such as 09:00');

const TimezoneSchema = z
  .string({ error: 'must be "user" or an IANA time zone name' })
  .refine((zone) => zone === 'user' || IANAZone.isValidZone(zone), 'must be "user" (the user\'s timezone trait) or an IANA time zone name such as Europe/Paris');

export const WaitStepSchema = z.strictObject({
  type: z.literal('wait'),
  duration: DurationSchema,
  next: StepRefSchema,
});

export const WaitUntilStepSchema = z.strictObject({
  type: z.literal('wait_until'),
  time: TimeSchema,
  timezone: TimezoneSchema,
  weekdays: z
    .array(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` }))
    .min(1, 'must name at least one weekday (omit it for every day)')
    .refine((days) => new Set(days).size === days.length, 'must not repeat a weekday')
    .optional(),
  next: StepRefSchema,
});

export const HoldUntilStepSchema = z.strictObject({
  type: z.literal('hold_until'),
  event: NameSchema('an event name'),
  /** Properties of the awaited event that must equal the entry event's (`["cartId"]`). */
  match: z
    .array(NameSchema('a property name'))
    .min(1, 'must name at least one property (omit it to accept any event)')
    .max(10, 'must name at most 10 properties')
    .refine((keys) => new Set(keys).size === keys.length, 'must not repeat a property')
    .optional(),
  timeout: DurationSchema,
  next: StepRefSchema,
  timeoutNext: StepRefSchema,
});

export const BranchStepSchema = z.strictObject({
  type: z.literal('branch'),
  branches: z
    .array(
      z.strictObject({
        name: NameSchema('a branch name')
          .max(100, 'must be at most 100 characters')
          .refine((name) => name !== DEFAULT_BRANCH, `"${DEFAULT_BRANCH}" names the default path (in counts and events): choose another branch name`),
        rule: RuleSchema,
        next: StepRefSchema,
      }),
    )
    .min(1, 'must have at least one branch')
    .max(MAX_BRANCHES, `must have at most ${MAX_BRANCHES} branches`),
  default: StepRefSchema,
});

export const SplitStepSchema = z.strictObject({
  type: z.literal('split'),
  variants: z
    .array(
      z.strictObject({
        name: NameSchema('a variant name').max(100, 'must be at most 100 characters'),
        percent: z.number({ error: 'must be a whole number from 0 to 100' }).int('must be a whole number from 0 to 100').min(0).max(100),
        next: StepRefSchema,
      }),
    )
    .min(2, 'must have at least two variants')
    .max(MAX_VARIANTS, `must have at most ${MAX_VARIANTS} variants`),
});

export const SendStepSchema = z.strictObject({
  type: z.literal('send'),
  channel: z.enum(CHANNELS, { error: `must be one of ${CHANNELS.join(', ')}` }),
  template: NameSchema('a template id'),
  next: StepRefSchema,
});

export const ExitStepSchema = z.strictObject({ type: z.literal('exit') });

export const StepSchema = z.discriminatedUnion(
  'type',
  [WaitStepSchema, WaitUntilStepSchema, HoldUntilStepSchema, BranchStepSchema, SplitStepSchema, SendStepSchema, ExitStepSchema],
  { error: `must have a type: one of ${STEP_TYPES.join(', ')}` },
);

export type WaitStep = z.infer<typeof WaitStepSchema>;
export type WaitUntilStep = z.infer<typeof WaitUntilStepSchema>;
export type HoldUntilStep = z.infer<typeof HoldUntilStepSchema>;
export type BranchStep = z.infer<typeof BranchStepSchema>;
export type SplitStep = z.infer<typeof SplitStepSchema>;
export type SendStep = z.infer<typeof SendStepSchema>;
export type ExitStep = z.infer<typeof ExitStepSchema>;
export type JourneyStep = z.infer<typeof StepSchema>;

/** Entered when the user joins an audience. */
export interface AudienceEntry {
  audience: string;
}
/** Entered when the user performs an event (optionally only events matching `where`, as in the rule language). */
export interface EventEntry {
  event: string;
  where?: WhereClause[];
}
export type JourneyEntry = AudienceEntry | EventEntry;

const AudienceEntrySchema = z.strictObject({ audience: NameSchema('an audience id') });
const EventEntryShapeSchema = z.strictObject({ event: NameSchema('an event name'), where: z.array(z.unknown()).optional() });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `{"audience": id}` or `{"event": name, "where": [...]}`. Dispatched on the key present, so
 * an error names the bad field (`entry.where[0].op`) rather than a union failure at `entry`.
 * Where clauses are checked by the rule language itself (an entry is an event rule without
 * `count` and `within`). Typed like {@link RuleSchema}: validation lives in a refinement, and
 * a valid value passes through unchanged (strict objects: it has no other keys).
 */
export const JourneyEntrySchema = z
  .unknown()
  .superRefine((value, ctx) => {
    const forward = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): void => {
      for (const issue of issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    };
    if (!isObject(value) || (Object.hasOwn(value, 'audience') === Object.hasOwn(value, 'event'))) {
      ctx.addIssue({ code: 'custom', message: 'must be {"audience": "<audience id>"} or {"event": "<event name>", "where": [...]}' });
      return;
    }
    if (Object.hasOwn(value, 'audience')) {
      const parsed = AudienceEntrySchema.safeParse(value);
      if (!parsed.success) forward(parsed.error.issues);
      return;
    }
    const shape = EventEntryShapeSchema.safeParse(value);
    if (!shape.success) {
      forward(shape.error.issues);
      return;
    }
    const rule = RuleSchema.safeParse(value);
    if (!rule.success) forward(rule.error.issues);
  })
  .meta({
    id: 'JourneyEntry',
    description: 'How users enter: {"audience": "<audience id>"} (on joining the audience) or {"event": "<event name>", "where": [conditions as in the rule language]}.',
    examples: [{ audience: 'aud_123' }, { event: 'Cart Abandoned', where: [{ property: 'total', op: 'gte', value: 50 }] }],
  }) as unknown as z.ZodType<JourneyEntry, unknown>;

export const ReentrySchema = z.discriminatedUnion(
  'mode',
  [
    z.strictObject({ mode: z.literal('never') }),
    z.strictObject({ mode: z.literal('after_exit'), cooldown: WindowSchema.optional() }),
    z.strictObject({ mode: z.literal('every_event'), key: NameSchema('an entry event property') }),
  ],
  { error: 'must have a mode: one of never, after_exit, every_event' },
);
export type Reentry = z.infer<typeof ReentrySchema>;

export const JourneyDefinitionSchema = z
  .strictObject({
    name: NameSchema('the journey name'),
    entry: JourneyEntrySchema,
    /** Absent means `{"mode": "never"}`. */
    reentry: ReentrySchema.optional(),
    exit: z.strictObject({ onAudienceExit: z.boolean().optional(), event: NameSchema('an event name').optional() }).optional(),
    goal: z.strictObject({ event: NameSchema('an event name'), within: WindowSchema }).optional(),
    start: z.string({ error: 'must be the id of the first step' }),
    steps: z
      .record(z.string(), StepSchema)
      .refine((steps) => Object.keys(steps).length >= 1, 'must have at least one step')
      .refine((steps) => Object.keys(steps).length <= MAX_STEPS, `must have at most ${MAX_STEPS} steps`),
  })
  .superRefine((definition, ctx) => {
    for (const id of Object.keys(definition.steps)) {
      if (RESERVED_STEP_IDS.has(id)) ctx.addIssue({ code: 'custom', path: ['steps', id], message: 'is reserved (a member of every JavaScript object): choose another step id' });
    }
    const byEvent = isObject(definition.entry) && Object.hasOwn(definition.entry, 'event');
    if (definition.reentry?.mode === 'every_event' && !byEvent) {
      ctx.addIssue({ code: 'custom', path: ['reentry', 'mode'], message: 'every_event needs an event entry ({"event": ...}): runs are keyed by an entry event property' });
    }
    if (definition.exit?.onAudienceExit === true && byEvent) {
      ctx.addIssue({ code: 'custom', path: ['exit', 'onAudienceExit'], message: 'onAudienceExit needs an audience entry ({"audience": ...})' });
    }
  });

export type JourneyDefinition = z.infer<typeof JourneyDefinitionSchema>;

/** A parsed definition, or every issue found with its path (`steps.wait_1.duration`). */
export type ParseJourneyResult = { ok: true; definition: JourneyDefinition } | { ok: false; issues: ErrorIssue[] };

/**
 * Checks the shape of a definition (not its graph: see {@link validateJourney}).
 *
 * @example
 * const result = parseJourneyDefinition(body);
 * if (!result.ok) throw new ValidationError('invalid journey', result.issues);
 */
export function parseJourneyDefinition(input: unknown, basePath: ReadonlyArray<PropertyKey> = []): ParseJourneyResult {
  // `__proto__` as a key of parsed JSON is an own property that zod's record drops silently.
  const steps = isObject(input) ? input.steps : undefined;
  if (isObject(steps) && Object.hasOwn(steps, '__proto__')) {
    return { ok: false, issues: [{ path: formatPath([...basePath, 'steps', '__proto__']), message: 'is reserved (a member of every JavaScript object): choose another step id' }] };
  }
  const parsed = JourneyDefinitionSchema.safeParse(input);
  if (parsed.success) return { ok: true, definition: parsed.data };
  return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: formatPath([...basePath, ...issue.path]), message: issue.message })) };
}

export function isEventEntry(entry: JourneyEntry): entry is EventEntry {
  return 'event' in entry;
}

/**
 * Length of an ISO-8601 duration in whole seconds, rounded up, with luxon's casual lengths
 * (a month is 30 days, a year 365). Step Functions has no calendar arithmetic in JSONPath, so
 * a `P1M` wait is a `Wait` of 30 days; the same length counts towards {@link MAX_PATH_DAYS}.
 *
 * @example
 * durationSeconds('P3D') === 259_200;
 * durationSeconds('P1M') === 2_592_000;
 */
export function durationSeconds(iso: string): number {
  const duration = parseRuleDuration(iso);
  if (duration === undefined) throw new Error(`not an ISO-8601 duration: ${iso}`);
  return Math.ceil(duration.casualMs / 1000);
}

/**
 * Slack added to each `wait_until` bound for daylight-saving shifts: the next 09:00 can be
 * 25 hours away on the night clocks go back, and Antarctica/Troll shifts by two hours.
 */
export const WAIT_UNTIL_DST_SLACK_SECONDS = 2 * 3600;

/**
 * The longest a `wait_until` step can wait, in seconds: the largest gap between allowed
 * weekdays (1 day when every day is allowed, 7 days for a single weekday) plus
 * {@link WAIT_UNTIL_DST_SLACK_SECONDS}. The next occurrence of a wall-clock time on an
 * allowed day is always strictly closer than that.
 */
export function waitUntilBoundSeconds(step: WaitUntilStep): number {
  const allowed = [...new Set((step.weekdays ?? WEEKDAYS).map((day) => WEEKDAYS.indexOf(day)))].sort((a, b) => a - b);
  let gapDays = 0;
  allowed.forEach((day, i) => {
    const following = allowed[(i + 1) % allowed.length] ?? day;
    const gap = (following - day + 7) % 7;
    gapDays = Math.max(gapDays, gap === 0 ? 7 : gap);
  });
  return gapDays * DAY_SECONDS + WAIT_UNTIL_DST_SLACK_SECONDS;
}

/** The longest a step can keep a run there (0 for steps that do not wait). */
export function stepMaxSeconds(step: JourneyStep): number {
  switch (step.type) {
    case 'wait':
      return durationSeconds(step.duration);
    case 'hold_until':
      // The event may arrive at the last second: both exits count the whole timeout.
      return durationSeconds(step.timeout);
    case 'wait_until':
      return waitUntilBoundSeconds(step);
    case 'branch':
    case 'split':
    case 'send':
    case 'exit':
      return 0;
    default:
      return assertUnreachable(step);
  }
}

/** What the publish-time checks can find. */
export type JourneyViolationCode =
  | 'invalid_step_id'
  | 'missing_step'
  | 'unreachable_step'
  | 'cycle'
  | 'split_percent_sum'
  | 'duplicate_name'
  | 'unknown_template'
  | 'unknown_audience'
  | 'match_without_event_entry'
  | 'path_too_long';

/** One reason a journey cannot be published. `step` names the step when there is one. */
export interface JourneyViolation {
  code: JourneyViolationCode;
  step?: string;
  path: string;
  message: string;
}

/** What validation needs to know about the rest of the workspace. */
export interface JourneyValidationContext {
  /** Whether a template with this id exists and is for this channel. */
  templateExists(id: string, channel: Channel): boolean;
  audienceExists(id: string): boolean;
}

/** Every `{"audience": id}` node of a rule, with its path under `basePath`. */
function audienceRefs(rule: Rule, basePath: PropertyKey[]): Array<{ audience: string; path: PropertyKey[] }> {
  const found: Array<{ audience: string; path: PropertyKey[] }> = [];
  const stack: Array<{ rule: Rule; path: PropertyKey[] }> = [{ rule, path: basePath }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const node = classifyRule(top.rule);
    const at = top.path;
    switch (node.kind) {
      case 'all':
        node.rule.all.forEach((child, i) => stack.push({ rule: child, path: [...at, 'all', i] }));
        break;
      case 'any':
        node.rule.any.forEach((child, i) => stack.push({ rule: child, path: [...at, 'any', i] }));
        break;
      case 'not':
        stack.push({ rule: node.rule.not, path: [...at, 'not'] });
        break;
      case 'audience':
        found.push({ audience: node.rule.audience, path: [...at, 'audience'] });
        break;
      case 'trait':
      case 'event':
        break;
      default:
        assertUnreachable(node);
    }
  }
  return found.sort((a, b) => formatPath(a.path).localeCompare(formatPath(b.path)));
}

function days(seconds: number): string {
  const value = Math.round((seconds / DAY_SECONDS) * 100) / 100;
  return `${value} day${value === 1 ? '' : 's'}`;
}

/**
 * The publish-time checks of SPEC section 3, as a list (empty when the journey can be
 * published): step ids (`[A-Za-z0-9_-]{1,64}`); `start`, every `next`, `default`,
 * `timeoutNext` and branch/variant `next` name a step; every step is reachable from `start`;
 * no cycles (each named by its steps); split percents add up to 100; branch and variant
 * names are unique within their step; templates exist for their channel; audiences exist
 * (the entry audience and `{"audience"}` nodes of branch rules); `hold_until.match` only with
 * an event entry; and waits and timeouts add up to at most {@link MAX_PATH_DAYS} days along
 * every path (wait durations, hold timeouts, and {@link waitUntilBoundSeconds} per
 * `wait_until`). Run it on a definition accepted by {@link JourneyDefinitionSchema}.
 *
 * @example
 * const violations = validateJourney(definition, { templateExists, audienceExists });
 * if (violations.length > 0) throw new ValidationError('journey cannot be published', violations);
 */
export function validateJourney(definition: JourneyDefinition, context: JourneyValidationContext): JourneyViolation[] {
  const violations: JourneyViolation[] = [];
  const add = (code: JourneyViolationCode, path: PropertyKey[], message: string, step?: string): void => {
    violations.push(step === undefined ? { code, path: formatPath(path), message } : { code, step, path: formatPath(path), message });
  };
  const steps = definition.steps;
  const ids = Object.keys(steps);
  const has = (id: string): boolean => Object.hasOwn(steps, id);

  for (const id of ids) {
    if (!STEP_ID_PATTERN.test(id)) add('invalid_step_id', ['steps', id], 'step ids must be 1 to 64 letters, digits, "_" or "-"', id);
  }

  if (!has(definition.start)) add('missing_step', ['start'], `names no step: "${definition.start}"`);
  for (const id of ids) {
    const step = steps[id];
    if (step === undefined) continue;
    for (const { path, target } of stepTargets(step)) {
      if (target !== null && !has(target)) add('missing_step', ['steps', id, ...path], `names no step: "${target}"`, id);
    }
  }

  if (has(definition.start)) {
    const reachable = reachableFrom(definition.start, steps);
    for (const id of ids) {
      if (!reachable.has(id)) add('unreachable_step', ['steps', id], `cannot be reached from the start step "${definition.start}"`, id);
    }
  }

  const cycles = findCycles(steps);
  for (const cycle of cycles) {
    const first = cycle[0] ?? '';
    add('cycle', ['steps', first], `is in a cycle: ${cycle.join(' → ')}`, first);
  }

  for (const id of ids) {
    const step = steps[id];
    if (step === undefined) continue;
    switch (step.type) {
      case 'split': {
        const total = step.variants.reduce((sum, variant) => sum + variant.percent, 0);
        if (total !== 100) add('split_percent_sum', ['steps', id, 'variants'], `percents must add up to 100, not ${total}`, id);
        if (!step.variants.some((variant) => variant.percent > 0)) add('split_percent_sum', ['steps', id, 'variants'], 'at least one variant needs a percent above 0', id);
        const seen = new Set<string>();
        step.variants.forEach((variant, i) => {
          if (seen.has(variant.name)) add('duplicate_name', ['steps', id, 'variants', i, 'name'], `another variant of this split is named "${variant.name}"`, id);
          seen.add(variant.name);
        });
        break;
      }
      case 'branch': {
        const seen = new Set<string>();
        step.branches.forEach((branch, i) => {
          if (seen.has(branch.name)) add('duplicate_name', ['steps', id, 'branches', i, 'name'], `another branch of this step is named "${branch.name}"`, id);
          seen.add(branch.name);
          for (const ref of audienceRefs(branch.rule, ['steps', id, 'branches', i, 'rule'])) {
            if (!context.audienceExists(ref.audience)) add('unknown_audience', ref.path, `no audience has the id "${ref.audience}"`, id);
          }
        });
        break;
      }
      case 'send':
        if (!context.templateExists(step.template, step.channel)) {
          add('unknown_template', ['steps', id, 'template'], `no ${step.channel === 'sms' ? 'SMS' : 'email'} template has the id "${step.template}"`, id);
        }
        break;
      case 'hold_until':
        if (step.match !== undefined && !isEventEntry(definition.entry)) {
          add('match_without_event_entry', ['steps', id, 'match'], 'match compares with the entry event: it needs an event entry ({"event": ...})', id);
        }
        break;
      case 'wait':
      case 'wait_until':
      case 'exit':
        break;
      default:
        assertUnreachable(step);
    }
  }

  if (!isEventEntry(definition.entry) && !context.audienceExists(definition.entry.audience)) {
    add('unknown_audience', ['entry', 'audience'], `no audience has the id "${definition.entry.audience}"`);
  }

  if (cycles.length === 0 && has(definition.start)) {
    const longest = longestWaitPath(definition.start, steps, stepMaxSeconds);
    const limit = MAX_PATH_DAYS * DAY_SECONDS;
    if (longest.seconds > limit) {
      // Name the step at which the running total passes the limit.
      let total = 0;
      let culprit = longest.path[longest.path.length - 1] ?? definition.start;
      for (const id of longest.path) {
        const step = steps[id];
        total += step === undefined ? 0 : stepMaxSeconds(step);
        if (total > limit) {
          culprit = id;
          break;
        }
      }
      add(
        'path_too_long',
        ['steps', culprit],
        `waits and timeouts add up to ${days(longest.seconds)} along ${longest.path.join(' → ')}: at most ${MAX_PATH_DAYS} days (months count 30 days, years 365, each wait_until as long as it can wait)`,
        culprit,
      );
    }
  }
  return violations;
}
