import { compile as compileHtmlToText } from 'html-to-text';
import { Liquid, LiquidError, Tokenizer, TokenKind, filters as liquidFilters, type FilterImplOptions, type Template } from 'liquidjs';
import type mjml2html from 'mjml';
import { z } from 'zod';
import { ValidationError, type ErrorIssue } from '../../errors';
import { formatPath } from '../ingestion/messages';

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

export const MAX_TEMPLATE_NAME_CHARS = 200;
/** RFC 5322 §2.1.1: a header line is at most 998 characters. */
export const MAX_SUBJECT_CHARS = 998;
/** AWS End User Messaging SMS accepts at most 1,600 characters per message (10 concatenated segments). */
export const MAX_SMS_BODY_CHARS = 1600;
/**
 * Per source field (html, mjml, text). Templates are stored in one DynamoDB item (400 KB), with
 * the MJML source and its compiled HTML side by side; Gmail clips messages over 102 KB anyway.
 */
export const MAX_BODY_CHARS = 100_000;
/** Compiled MJML grows about 3–5× over its source; refuse what would not fit the item. */
export const MAX_COMPILED_HTML_CHARS = 200_000;

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

export const CHANNELS = ['email', 'sms'] as const;
export type Channel = (typeof CHANNELS)[number];

const NameSchema = z
  .string({ message: 'name is required and must be a string' })
  .trim()
  .min(1, 'name must not be empty')
  .max(MAX_TEMPLATE_NAME_CHARS, `name must be at most ${MAX_TEMPLATE_NAME_CHARS} characters`);

const SubjectSchema = z
  .string({ message: 'subject is required for email templates and must be a string' })
  .min(1, 'subject must not be empty')
  .max(MAX_SUBJECT_CHARS, `subject must be at most ${MAX_SUBJECT_CHARS} characters`);

function bodyField(field: 'html' | 'mjml' | 'text') {
  return z
    .string({ message: `${field} must be a string` })
    .min(1, `${field} must not be empty`)
    .max(MAX_BODY_CHARS, `${field} must be at most ${MAX_BODY_CHARS.toLocaleString('en-US')} characters`);
}

const SmsBodySchema = z
  .string({ message: 'body is required for sms templates and must be a string' })
  .min(1, 'body must not be empty')
  .max(MAX_SMS_BODY_CHARS, `body must be at most ${MAX_SMS_BODY_CHARS.toLocaleString('en-US')} characters`);

function isObjectPayload(payload: { value: unknown }): boolean {
  return typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value);
}

function requireOneEmailBody(value: { html?: string | null; mjml?: string | null }, ctx: z.RefinementCtx): void {
  const hasHtml = typeof value.html === 'string';
  const hasMjml = typeof value.mjml === 'string';
  if (hasHtml && hasMjml) ctx.addIssue({ code: 'custom', path: ['mjml'], message: 'give either html or mjml, not both' });
}

export const EmailTemplateCreateSchema = z
  .strictObject({
    name: NameSchema,
    channel: z.literal('email'),
    subject: SubjectSchema,
    html: bodyField('html').optional(),
    mjml: bodyField('mjml').optional(),
    text: bodyField('text').optional(),
  })
  // `when`: also report these while other fields are invalid, so one answer lists every problem.
  .refine((value) => value.html === undefined || value.mjml === undefined, {
    path: ['mjml'],
    message: 'give either html or mjml, not both',
    when: isObjectPayload,
  })
  .refine((value) => value.html !== undefined || value.mjml !== undefined, {
    path: ['html'],
    message: 'an email template needs html or mjml',
    when: isObjectPayload,
  });

export const SmsTemplateCreateSchema = z.strictObject({
  name: NameSchema,
  channel: z.literal('sms'),
  body: SmsBodySchema,
});

/** `POST /v1/templates` body. Liquid in every text field; parsed (and MJML compiled) by {@link compileTemplate}. */
export const TemplateCreateSchema = z
  .discriminatedUnion('channel', [EmailTemplateCreateSchema, SmsTemplateCreateSchema], {
    error: 'channel is required and must be "email" or "sms"',
  })
  .meta({ id: 'TemplateCreate' });

export type EmailTemplateCreate = z.infer<typeof EmailTemplateCreateSchema>;
export type SmsTemplateCreate = z.infer<typeof SmsTemplateCreateSchema>;
export type TemplateCreate = z.infer<typeof TemplateCreateSchema>;

const EMAIL_FIELDS = ['subject', 'html', 'mjml', 'text'] as const;

/**
 * Template update body: every field optional; `null` removes an optional email field (`html`,
 * `mjml`, `text`), so a template can move from html to MJML in one update. `channel` may be
 * echoed back but never changed: {@link applyTemplateUpdate} refuses a different channel.
 */
export const TemplateUpdateSchema = z
  .strictObject({
    name: NameSchema.optional(),
    channel: z.enum(CHANNELS, { message: 'channel must be "email" or "sms"' }).optional(),
    subject: SubjectSchema.optional(),
    html: bodyField('html').nullable().optional(),
    mjml: bodyField('mjml').nullable().optional(),
    text: bodyField('text').nullable().optional(),
    body: SmsBodySchema.optional(),
  })
  .superRefine((value, ctx) => {
    requireOneEmailBody(value, ctx);
    const emailFields = EMAIL_FIELDS.filter((field) => value[field] !== undefined);
    if (value.body !== undefined && emailFields.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['body'],
        message: `body is for sms templates and ${emailFields.join(', ')} for email templates: not both`,
      });
    }
    if (value.channel === 'sms' && emailFields.length > 0) {
      ctx.addIssue({ code: 'custom', path: [emailFields[0] ?? 'subject'], message: `${emailFields.join(', ')} do not apply to sms templates` });
    }
    if (value.channel === 'email' && value.body !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'body does not apply to email templates' });
    }
    const changed = Object.entries(value).filter(([key, v]) => key !== 'channel' && v !== undefined);
    if (changed.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'give at least one field to change' });
  })
  .meta({ id: 'TemplateUpdate' });

export type TemplateUpdate = z.infer<typeof TemplateUpdateSchema>;

// ---------------------------------------------------------------------------------------------
// Compiled templates
// ---------------------------------------------------------------------------------------------

export interface CompiledEmailTemplate {
  channel: 'email';
  subject: string;
  /** The HTML that is rendered: as given, or compiled from `mjml` (Liquid kept as text). */
  html: string;
  /** MJML source, when the template was written in MJML. */
  mjml?: string;
  /** Plain-text part; derived from the rendered HTML when absent. */
  text?: string;
}

export interface CompiledSmsTemplate {
  channel: 'sms';
  body: string;
}

/** What a template stores besides its name and id: validated Liquid, MJML compiled to HTML. */
export type CompiledTemplateFields = CompiledEmailTemplate | CompiledSmsTemplate;

export type CompileTemplateResult = { ok: true; template: CompiledTemplateFields } | { ok: false; issues: ErrorIssue[] };

/** A template as stored (compiled) or as created: the shape {@link applyTemplateUpdate} starts from. */
export type TemplateSource = { name: string } & (TemplateCreate | CompiledTemplateFields);

export type ApplyTemplateUpdateResult = { ok: true; input: TemplateCreate } | { ok: false; issues: ErrorIssue[] };

/**
 * Merges a validated update into the current template and validates the result as a create
 * body (exactly one of html and mjml, and so on). The caller then runs {@link compileTemplate}.
 * Returns issues rather than throwing; a changed `channel` is refused.
 */
export function applyTemplateUpdate(current: TemplateSource, update: TemplateUpdate): ApplyTemplateUpdateResult {
  if (update.channel !== undefined && update.channel !== current.channel) {
    return {
      ok: false,
      issues: [
        {
          path: 'channel',
          message: `channel cannot be changed (this is an ${current.channel} template); create a new template instead`,
        },
      ],
    };
  }
  let merged: Record<string, unknown>;
  if (current.channel === 'email') {
    const misplaced = update.body !== undefined ? [{ path: 'body', message: 'body does not apply to email templates' }] : [];
    if (misplaced.length > 0) return { ok: false, issues: misplaced };
    // A stored MJML template also holds its compiled html: the source of truth is the MJML.
    merged = {
      name: current.name,
      channel: 'email',
      subject: current.subject,
      ...(current.mjml !== undefined ? { mjml: current.mjml } : { html: current.html }),
      ...(current.text !== undefined ? { text: current.text } : {}),
    };
    if (update.name !== undefined) merged.name = update.name;
    if (update.subject !== undefined) merged.subject = update.subject;
    for (const field of ['html', 'mjml', 'text'] as const) {
      const value = update[field];
      if (value === null) delete merged[field];
      else if (value !== undefined) merged[field] = value;
    }
    // Switching body kind: giving html drops the stored mjml and vice versa, unless both were given.
    if (typeof update.html === 'string' && update.mjml === undefined) delete merged.mjml;
    if (typeof update.mjml === 'string' && update.html === undefined) delete merged.html;
  } else {
    const misplaced = EMAIL_FIELDS.filter((field) => update[field] !== undefined).map((field) => ({
      path: field,
      message: `${field} does not apply to sms templates`,
    }));
    if (misplaced.length > 0) return { ok: false, issues: misplaced };
    merged = { name: update.name ?? current.name, channel: 'sms', body: update.body ?? current.body };
  }
  const parsed = TemplateCreateSchema.safeParse(merged);
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })) };
  }
  return { ok: true, input: parsed.data };
}

// ---------------------------------------------------------------------------------------------
// Liquid engine
// ---------------------------------------------------------------------------------------------

type FilterHandler = Extract<FilterImplOptions, (...args: never[]) => unknown>;
type FilterThis = ThisParameterType<FilterHandler>;

/** Present in a render's `globals` when output goes into an HTML body. A symbol: templates cannot see or set it. */
const HTML_OUTPUT = Symbol('engage.htmlOutput');

const builtinEscape = liquidFilters['escape'];
if (typeof builtinEscape !== 'function') throw new Error('liquidjs no longer exports the escape filter as a function');
const htmlEscape: FilterHandler = builtinEscape;
const passThrough: FilterHandler = (value) => value;

/**
 * liquidjs applies `outputEscape` at parse time, to the engine as a whole. One engine (and one
 * parse cache) serves HTML bodies and plain fields alike, so the escape decides per render:
 * it escapes only when the render was started for an HTML body. `| raw` as the last filter
 * opts out, as liquidjs documents.
 */
function escapeHtmlBodies(this: FilterThis, value: unknown): string {
  const escape = HTML_OUTPUT in this.context.globals ? htmlEscape : passThrough;
  return escape.call(this, value);
}

/** Budgets for one `render()`: wall time (ms) and allocation units (string lengths, range sizes). */
export const RENDER_LIMIT_MS = 1_000;
export const RENDER_MEMORY_LIMIT = 10_000_000;
const PARSE_LIMIT_CHARS = 1_000_000;

const engine = new Liquid({
  strictFilters: true,
  strictVariables: false,
  ownPropertyOnly: true,
  outputEscape: escapeHtmlBodies,
  // No file system: templates are data, never paths. include/render/layout are removed below.
  templates: {},
  relativeReference: false,
  dynamicPartials: false,
  // Lambda runs in UTC; a laptop may not. Dates render the same in both.
  timezoneOffset: 0,
  parseLimit: PARSE_LIMIT_CHARS,
  renderLimit: RENDER_LIMIT_MS,
  memoryLimit: RENDER_MEMORY_LIMIT,
});
// These tags read other templates from the file system (the default root is the working
// directory, i.e. the deployed code): a template refers to nothing outside itself.
for (const tag of ['include', 'render', 'layout']) delete engine.tags[tag];

const HTML_RENDER_OPTIONS = { globals: { [HTML_OUTPUT]: true } };
const PLAIN_RENDER_OPTIONS = {};

/**
 * A bounded least-recently-used map. The sender renders the same few templates for many
 * recipients, so parsed Liquid is kept by template content; the bound is on both entries and
 * characters (a parsed template holds its source).
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; size: number }>();
  private totalSize = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxTotalSize = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, size = 0): void {
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.totalSize -= previous.size;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, size });
    this.totalSize += size;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.totalSize <= this.maxTotalSize) break;
      if (oldest === key) break;
      this.entries.delete(oldest);
      this.totalSize -= entry.size;
    }
  }

  clear(): void {
    this.entries.clear();
    this.totalSize = 0;
  }
}

export const TEMPLATE_CACHE_ENTRIES = 500;
const TEMPLATE_CACHE_CHARS = 20_000_000;
const parseCache = new LruCache<Template[]>(TEMPLATE_CACHE_ENTRIES, TEMPLATE_CACHE_CHARS);

/** Parses Liquid through the cache; throws liquidjs errors for a template that does not parse. */
function parseLiquid(source: string): Template[] {
  const cached = parseCache.get(source);
  if (cached !== undefined) return cached;
  const parsed = engine.parse(source);
  parseCache.set(source, parsed, source.length);
  return parsed;
}

interface LiquidErrorDescription {
  line?: number;
  col?: number;
  reason: string;
  /** The Liquid markup the error points at. */
  markup?: string;
}

function describeLiquidError(error: unknown): LiquidErrorDescription {
  if (LiquidError.is(error)) {
    const [line, col] = error.token.getPosition();
    // liquidjs appends ", line:3, col:5" (and ", file:…") to its messages; we say it up front.
    const reason = error.message.replace(/(, file:[^,]*)?, line:\d+, col:\d+$/, '');
    return { line, col, reason, markup: error.token.getText() };
  }
  return { reason: error instanceof Error ? error.message : String(error) };
}

function formatLiquidError({ line, col, reason }: LiquidErrorDescription): string {
  if (line === undefined) return reason;
  return col === undefined ? `line ${line}: ${reason}` : `line ${line}, col ${col}: ${reason}`;
}

function checkLiquid(path: string, source: string): ErrorIssue | undefined {
  try {
    parseLiquid(source);
    return undefined;
  } catch (error) {
    return { path, message: formatLiquidError(describeLiquidError(error)) };
  }
}

/** 1-based line and column of a character offset. */
function positionOf(source: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf('\n'); i !== -1 && i < offset; i = source.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

const collapseWhitespace = (value: string): string => value.replace(/\s+/g, ' ');

/**
 * MJML keeps text it understands (content of `<mj-text>`, `<mj-button>`, `<mj-raw>`…, attribute
 * values) and silently drops text anywhere else, e.g. `{% if %}` between two `<mj-section>`s.
 * A dropped tag would change what the template means, so every Liquid tag and output of the
 * source must appear in the compiled HTML.
 */
function droppedLiquid(mjmlSource: string, compiledHtml: string): ErrorIssue[] {
  const haystack = collapseWhitespace(compiledHtml);
  const issues: ErrorIssue[] = [];
  const seen = new Set<string>();
  for (const token of new Tokenizer(mjmlSource).readTopLevelTokens()) {
    if (token.kind !== TokenKind.Tag && token.kind !== TokenKind.Output) continue;
    const markup = token.getText();
    if (seen.has(markup) || haystack.includes(collapseWhitespace(markup))) continue;
    seen.add(markup);
    const [line, col] = token.getPosition();
    issues.push({
      path: 'mjml',
      message:
        `line ${line}, col ${col}: ${markup} is outside any MJML content and MJML drops it; ` +
        'put Liquid inside <mj-text>, <mj-button> or an attribute value, or wrap it in <mj-raw>',
    });
  }
  return issues;
}

async function compileMjml(source: string): Promise<{ ok: true; html: string } | { ok: false; issues: ErrorIssue[] }> {
  let result: Awaited<ReturnType<typeof mjml2html>>;
  try {
    // Loaded on first use: requiring mjml takes about 240 ms, which the sender (render only) should not pay at cold start.
    const { default: compile } = await import('mjml');
    result = await compile(source, {
      // Soft: collect every validation error (strict throws on the first batch as one string).
      validationLevel: 'soft',
      // Never read the file system; mjml 5 defaults to this already.
      ignoreIncludes: true,
      minify: false,
      beautify: false,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, issues: [{ path: 'mjml', message: `not valid MJML: ${reason}` }] };
  }
  if (result.errors.length > 0) {
    return {
      ok: false,
      issues: result.errors.map((error) => ({ path: 'mjml', message: `line ${error.line}: ${error.message.trim()}` })),
    };
  }
  return { ok: true, html: result.html };
}

/** Validates MJML+Liquid and returns the HTML to render, or issues that point into the MJML source. */
async function compileMjmlTemplate(source: string): Promise<{ ok: true; html: string } | { ok: false; issues: ErrorIssue[] }> {
  const liquidIssue = checkLiquid('mjml', source);
  const compiled = await compileMjml(source);
  if (liquidIssue !== undefined) return { ok: false, issues: [liquidIssue, ...(compiled.ok ? [] : compiled.issues)] };
  if (!compiled.ok) return compiled;
  const dropped = droppedLiquid(source, compiled.html);
  if (dropped.length > 0) return { ok: false, issues: dropped };
  try {
    parseLiquid(compiled.html);
  } catch (error) {
    // Positions in the compiled HTML mean nothing to the author: point at the same markup in the source.
    const description = describeLiquidError(error);
    const offset = description.markup === undefined ? -1 : source.indexOf(description.markup);
    const where = offset === -1 ? {} : positionOf(source, offset);
    return {
      ok: false,
      issues: [{ path: 'mjml', message: `${formatLiquidError({ ...description, ...where })} (in the HTML compiled from MJML)` }],
    };
  }
  if (compiled.html.length > MAX_COMPILED_HTML_CHARS) {
    return {
      ok: false,
      issues: [
        {
          path: 'mjml',
          message: `compiles to ${compiled.html.length.toLocaleString('en-US')} characters of HTML; at most ${MAX_COMPILED_HTML_CHARS.toLocaleString('en-US')}`,
        },
      ],
    };
  }
  return { ok: true, html: compiled.html };
}

/**
 * Validates a template at save time: every Liquid field must parse (unknown tags and unknown
 * filters are errors; unknown variables are not, they render empty), and MJML is compiled to
 * responsive HTML with its Liquid kept as text. Issue paths name the field; messages name the
 * line, e.g. `{path: 'html', message: 'line 3, col 5: tag "iff" not found'}`.
 *
 * Asynchronous because mjml 5's compiler is.
 *
 * @example
 * const result = await compileTemplate({ name: 'welcome', channel: 'email', subject: 'Hi {{ traits.firstName }}', html: '<p>Hello</p>' });
 * if (!result.ok) throw new ValidationError('Template does not parse', result.issues);
 */
export async function compileTemplate(input: TemplateCreate): Promise<CompileTemplateResult> {
  if (input.channel === 'sms') {
    const issue = checkLiquid('body', input.body);
    return issue === undefined ? { ok: true, template: { channel: 'sms', body: input.body } } : { ok: false, issues: [issue] };
  }
  const issues: ErrorIssue[] = [];
  const subjectIssue = checkLiquid('subject', input.subject);
  if (subjectIssue !== undefined) issues.push(subjectIssue);
  let html: string | undefined;
  if (input.mjml !== undefined) {
    const compiled = await compileMjmlTemplate(input.mjml);
    if (compiled.ok) html = compiled.html;
    else issues.push(...compiled.issues);
  } else if (input.html !== undefined) {
    const htmlIssue = checkLiquid('html', input.html);
    if (htmlIssue === undefined) html = input.html;
    else issues.push(htmlIssue);
  }
  if (input.text !== undefined) {
    const textIssue = checkLiquid('text', input.text);
    if (textIssue !== undefined) issues.push(textIssue);
  }
  if (issues.length > 0 || html === undefined) {
    return { ok: false, issues: issues.length > 0 ? issues : [{ path: 'html', message: 'an email template needs html or mjml' }] };
  }
  return {
    ok: true,
    template: {
      channel: 'email',
      subject: input.subject,
      html,
      ...(input.mjml !== undefined ? { mjml: input.mjml } : {}),
      ...(input.text !== undefined ? { text: input.text } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** What a template can refer to. */
export interface RenderContext {
  traits: Record<string, unknown>;
  userId: string | null;
  /**
   * How the user entered the journey, for journey sends: the entry event (`{event, messageId,
   * properties, timestamp}`), the audience (`{audience, enteredAt}`) or `{manual: true}`.
   */
  entry?: Record<string, unknown>;
  /** The journey of a journey send. */
  journeyId?: string;
  unsubscribe_url: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface RenderedSms {
  body: string;
  segments: number;
  encoding: SmsEncoding;
}

/** A stored template failed to render (time or memory budget exceeded, a filter refused its input). */
export class TemplateRenderError extends ValidationError {
  constructor(issues: ErrorIssue[], options?: ErrorOptions) {
    super(`Template could not be rendered: ${issues[0]?.path ?? ''}: ${issues[0]?.message ?? ''}`, issues, options);
    this.name = 'TemplateRenderError';
  }
}

function scopeOf(ctx: RenderContext): Record<string, unknown> {
  // Only these names; nothing else the caller's object may carry.
  return { traits: ctx.traits, userId: ctx.userId, entry: ctx.entry, journeyId: ctx.journeyId, unsubscribe_url: ctx.unsubscribe_url };
}

function renderField(path: string, source: string, scope: Record<string, unknown>, html: boolean): string {
  try {
    const rendered: unknown = engine.renderSync(parseLiquid(source), scope, html ? HTML_RENDER_OPTIONS : PLAIN_RENDER_OPTIONS);
    return typeof rendered === 'string' ? rendered : String(rendered);
  } catch (error) {
    throw new TemplateRenderError([{ path, message: formatLiquidError(describeLiquidError(error)) }], { cause: error });
  }
}

const htmlToText = compileHtmlToText({
  // Keep lines as authored; SES encodes long lines itself.
  wordwrap: false,
  selectors: [
    // Links become `text [url]` (html-to-text's default anchor format).
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'skip' },
    // Preheaders (MJML's <mj-preview>) are hidden in the HTML; they are not part of the text.
    { selector: '[style*="display:none"]', format: 'skip' },
    // Email HTML uses tables for layout, not data: read them as blocks, not as text grids.
    { selector: 'table', format: 'block' },
    { selector: 'tr', format: 'block' },
    { selector: 'td', format: 'block' },
    { selector: 'th', format: 'block' },
  ],
});

/** One line, as a header must be: CR and LF (and Unicode line separators) become a space. */
function singleLine(value: string): string {
  return value.replace(/[^\S\r\n\u2028\u2029]*[\r\n\u2028\u2029]+\s*/g, ' ').trim();
}

/**
 * Renders an email for one recipient. Output in the HTML body is HTML-escaped (`| raw` opts
 * out); subject and text are not. The subject is made single-line; the text part, when the
 * template has none, is derived from the rendered HTML. Throws {@link TemplateRenderError}.
 */
export async function renderEmail(template: CompiledEmailTemplate, ctx: RenderContext): Promise<RenderedEmail> {
  const scope = scopeOf(ctx);
  const subject = singleLine(renderField('subject', template.subject, scope, false));
  const html = renderField(template.mjml !== undefined ? 'mjml' : 'html', template.html, scope, true);
  const text = template.text !== undefined ? renderField('text', template.text, scope, false) : htmlToText(html);
  return { subject, html, text };
}

/** Renders an SMS for one recipient and counts its segments. Throws {@link TemplateRenderError}. */
export async function renderSms(template: CompiledSmsTemplate, ctx: RenderContext): Promise<RenderedSms> {
  const body = renderField('body', template.body, scopeOf(ctx), false);
  const { segments, encoding } = smsSegments(body);
  return { body, segments, encoding };
}

// ---------------------------------------------------------------------------------------------
// SMS segments
// ---------------------------------------------------------------------------------------------

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SmsSegmentInfo {
  segments: number;
  encoding: SmsEncoding;
  /** Units counted against the limits: GSM-7 septets (extension characters count 2) or UTF-16 code units. */
  characters: number;
}

/** GSM 03.38 basic character set (3GPP TS 23.038), without the escape code 0x1B: 127 characters. */
export const GSM7_BASIC_CHARACTERS =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** GSM 03.38 extension table: each is sent as escape + character, two septets. */
export const GSM7_EXTENSION_CHARACTERS = '\f^{}\\[~]|€';

const GSM7_BASIC = new Set(GSM7_BASIC_CHARACTERS);
const GSM7_EXTENSION = new Set(GSM7_EXTENSION_CHARACTERS);

const LIMITS: Record<SmsEncoding, { single: number; perPart: number }> = {
  // A concatenated message gives 6 or 7 septets (3 UTF-16 units) of each part to its header (UDH).
  'GSM-7': { single: 160, perPart: 153 },
  'UCS-2': { single: 70, perPart: 67 },
};

/**
 * How many SMS segments a body takes. GSM-7 when every character is in the GSM 03.38 basic
 * set or extension table (extension characters take two septets), otherwise UCS-2 counted in
 * UTF-16 code units (an emoji takes two). A character (escape sequence or surrogate pair) is
 * never split between two parts, as handsets and carriers do. An empty body is 0 segments.
 *
 * @example
 * smsSegments('Hi €5 off'); // { segments: 1, encoding: 'GSM-7', characters: 10 }
 */
export function smsSegments(body: string): SmsSegmentInfo {
  if (body.length === 0) return { segments: 0, encoding: 'GSM-7', characters: 0 };
  const characters = Array.from(body);
  let encoding: SmsEncoding = 'GSM-7';
  const costs: number[] = [];
  for (const character of characters) {
    if (GSM7_BASIC.has(character)) costs.push(1);
    else if (GSM7_EXTENSION.has(character)) costs.push(2);
    else {
      encoding = 'UCS-2';
      break;
    }
  }
  if (encoding === 'UCS-2') {
    costs.length = 0;
    for (const character of characters) costs.push(character.length);
  }
  const total = costs.reduce((sum, cost) => sum + cost, 0);
  const { single, perPart } = LIMITS[encoding];
  if (total <= single) return { segments: 1, encoding, characters: total };
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > perPart) {
      segments++;
      used = cost;
    } else {
      used += cost;
    }
  }
  return { segments, encoding, characters: total };
}
