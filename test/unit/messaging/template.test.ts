import { ValidationError } from '../../../shared/errors';
import {
  LruCache,
  MAX_BODY_CHARS,
  TemplateCreateSchema,
  TemplateRenderError,
  TemplateUpdateSchema,
  applyTemplateUpdate,
  compileTemplate,
  renderEmail,
  renderSms,
  type CompiledEmailTemplate,
  type CompiledSmsTemplate,
  type RenderContext,
  type TemplateCreate,
} from '../../../shared/domain/messaging/template';
import { formatPath } from '../../../shared/domain/ingestion/messages';

const UNSUBSCRIBE = 'https://api.example.com/v1/unsubscribe?token=abc.def&x=1';

function ctx(overrides: Partial<RenderContext> = {}): RenderContext {
  return { traits: { firstName: 'Ada' }, userId: 'u1', unsubscribe_url: UNSUBSCRIBE, ...overrides };
}

const MJML = `<mjml>
  <mj-head><mj-title>Hi {{ traits.firstName }}</mj-title></mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ traits.firstName | default: "there" }}! {% if traits.vip %}You are VIP.{% else %}Welcome.{% endif %}</mj-text>
        <mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

function issuesOfSchema(body: unknown): Array<{ path: string; message: string }> {
  const result = TemplateCreateSchema.safeParse(body);
  if (result.success) throw new Error('expected the schema to refuse the body');
  return result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

async function compileEmail(input: Omit<Extract<TemplateCreate, { channel: 'email' }>, 'name' | 'channel'>): Promise<CompiledEmailTemplate> {
  const result = await compileTemplate({ name: 't', channel: 'email', ...input });
  if (!result.ok) throw new Error(`expected the template to compile: ${JSON.stringify(result.issues)}`);
  if (result.template.channel !== 'email') throw new Error('expected an email template');
  return result.template;
}

async function compileSms(body: string): Promise<CompiledSmsTemplate> {
  const result = await compileTemplate({ name: 't', channel: 'sms', body });
  if (!result.ok) throw new Error(`expected the template to compile: ${JSON.stringify(result.issues)}`);
  if (result.template.channel !== 'sms') throw new Error('expected an sms template');
  return result.template;
}

describe('TemplateCreateSchema', () => {
  describe('when the body is valid', () => {
    it.each<[string, unknown]>([
      ['email with html', { name: 'Welcome', channel: 'email', subject: 'Hi', html: '<p>Hi</p>' }],
      ['email with html and text', { name: 'Welcome', channel: 'email', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi' }],
      ['email with mjml', { name: 'Welcome', channel: 'email', subject: 'Hi', mjml: MJML }],
      ['sms', { name: 'Reminder', channel: 'sms', body: 'Hi {{ traits.firstName }}' }],
      ['a 998-character subject', { name: 'n', channel: 'email', subject: 'x'.repeat(998), html: 'h' }],
      ['a 1,600-character sms body', { name: 'n', channel: 'sms', body: 'x'.repeat(1600) }],
    ])('accepts %s', (_label, body) => {
      // Act
      const result = TemplateCreateSchema.safeParse(body);
      // Assess
      expect(result.success).toBe(true);
    });
  });

  describe('when the body is invalid', () => {
    it.each<[string, unknown, string, RegExp]>([
      ['missing subject', { name: 'n', channel: 'email', html: 'h' }, 'subject', /subject is required/],
      ['empty subject', { name: 'n', channel: 'email', subject: '', html: 'h' }, 'subject', /must not be empty/],
      ['a 999-character subject', { name: 'n', channel: 'email', subject: 'x'.repeat(999), html: 'h' }, 'subject', /at most 998/],
      ['both html and mjml', { name: 'n', channel: 'email', subject: 's', html: 'h', mjml: MJML }, 'mjml', /either html or mjml, not both/],
      ['neither html nor mjml', { name: 'n', channel: 'email', subject: 's' }, 'html', /needs html or mjml/],
      ['an sms body over 1,600 characters', { name: 'n', channel: 'sms', body: 'x'.repeat(1601) }, 'body', /at most 1,600/],
      ['an empty sms body', { name: 'n', channel: 'sms', body: '' }, 'body', /must not be empty/],
      ['no channel', { name: 'n', subject: 's', html: 'h' }, 'channel', /"email" or "sms"/],
      ['an unknown channel', { name: 'n', channel: 'push', body: 'b' }, 'channel', /"email" or "sms"/],
      ['no name', { channel: 'sms', body: 'b' }, 'name', /name is required/],
      ['a blank name', { name: '  ', channel: 'sms', body: 'b' }, 'name', /must not be empty/],
      ['an email field on an sms template', { name: 'n', channel: 'sms', body: 'b', subject: 's' }, '', /Unrecognized key: "subject"/],
      ['an unknown key', { name: 'n', channel: 'email', subject: 's', html: 'h', from: 'x' }, '', /Unrecognized key: "from"/],
      ['an html body over the limit', { name: 'n', channel: 'email', subject: 's', html: 'x'.repeat(MAX_BODY_CHARS + 1) }, 'html', /at most 100,000/],
    ])('refuses %s', (_label, body, path, message) => {
      // Act
      const issues = issuesOfSchema(body);
      // Assess
      expect(issues).toEqual(expect.arrayContaining([{ path, message: expect.stringMatching(message) }]));
    });

    it('reports a missing body together with a missing subject', () => {
      // Act
      const issues = issuesOfSchema({ name: 'n', channel: 'email' });
      // Assess
      expect(issues.map((issue) => issue.path).sort()).toEqual(['html', 'subject']);
    });

    it('is named for the OpenAPI document', () => {
      // Assess
      expect(TemplateCreateSchema.meta()).toMatchObject({ id: 'TemplateCreate' });
      expect(TemplateUpdateSchema.meta()).toMatchObject({ id: 'TemplateUpdate' });
    });
  });
});

describe('compileTemplate', () => {
  describe('when every field parses', () => {
    it('keeps an html template as given', async () => {
      // Prepare
      const input: TemplateCreate = { name: 't', channel: 'email', subject: 'Hi {{ traits.firstName }}', html: '<p>{{ userId }}</p>', text: 'Hi' };
      // Act
      const result = await compileTemplate(input);
      // Assess
      expect(result).toEqual({ ok: true, template: { channel: 'email', subject: 'Hi {{ traits.firstName }}', html: '<p>{{ userId }}</p>', text: 'Hi' } });
    });

    it('compiles MJML to responsive html with its Liquid kept as text', async () => {
      // Act
      const template = await compileEmail({ subject: 'Hi', mjml: MJML });
      // Assess
      expect(template.mjml).toBe(MJML);
      expect(template.html).toMatch(/^<!doctype html>/i);
      expect(template.html).toContain('@media only screen and (min-width:480px)');
      expect(template.html).toContain('{{ traits.firstName | default: "there" }}');
      expect(template.html).toContain('{% if traits.vip %}You are VIP.{% else %}Welcome.{% endif %}');
      expect(template.html).toContain('href="{{ unsubscribe_url }}"');
      expect(template.html).not.toContain('<mj-');
    });

    it('accepts Liquid wrapped in <mj-raw> between sections', async () => {
      // Prepare
      const mjml = '<mjml><mj-body><mj-raw>{% if traits.vip %}</mj-raw><mj-section><mj-column><mj-text>VIP</mj-text></mj-column></mj-section><mj-raw>{% endif %}</mj-raw></mj-body></mjml>';
      // Act
      const template = await compileEmail({ subject: 's', mjml });
      // Assess
      expect(template.html).toContain('{% if traits.vip %}');
      expect(template.html).toContain('{% endif %}');
    });

    it('keeps an sms template as given', async () => {
      // Act
      const result = await compileTemplate({ name: 't', channel: 'sms', body: 'Hi {{ traits.firstName | default: "there" }}' });
      // Assess
      expect(result).toEqual({ ok: true, template: { channel: 'sms', body: 'Hi {{ traits.firstName | default: "there" }}' } });
    });

    it('accepts unknown variables (they render empty)', async () => {
      // Act
      const result = await compileTemplate({ name: 't', channel: 'sms', body: '{{ nothing.here }}' });
      // Assess
      expect(result.ok).toBe(true);
    });
  });

  describe('when a field does not parse', () => {
    const MULTILINE_BAD = 'Hello\nthere\n    {% iff traits.vip %}x{% endif %}';
    it.each<[string, TemplateCreate, string, string]>([
      ['an unknown tag in the subject', { name: 't', channel: 'email', subject: 'Hi {% iff x %}', html: 'h' }, 'subject', 'line 1, col 4: tag "iff" not found'],
      ['an unknown tag in html', { name: 't', channel: 'email', subject: 's', html: MULTILINE_BAD }, 'html', 'line 3, col 5: tag "iff" not found'],
      ['an unknown tag in text', { name: 't', channel: 'email', subject: 's', html: 'h', text: MULTILINE_BAD }, 'text', 'line 3, col 5: tag "iff" not found'],
      ['an unknown tag in an sms body', { name: 't', channel: 'sms', body: MULTILINE_BAD }, 'body', 'line 3, col 5: tag "iff" not found'],
      [
        'an unknown tag in mjml',
        { name: 't', channel: 'email', subject: 's', mjml: MJML.replace('{% if traits.vip %}', '{% iff traits.vip %}') },
        'mjml',
        'line 6, col 67: tag "iff" not found',
      ],
      ['an unknown filter', { name: 't', channel: 'email', subject: 's', html: '<p>\n{{ traits.firstName | shout }}</p>' }, 'html', 'line 2, col 1: undefined filter: shout'],
      ['an unclosed output', { name: 't', channel: 'sms', body: 'a\n\n{{ traits.firstName ' }, 'body', 'line 3, col 1: output "{{ traits.firstName " not closed'],
      ['an unclosed block', { name: 't', channel: 'email', subject: 's', html: '<p>\n  {% if traits.vip %}VIP</p>' }, 'html', 'line 2, col 3: tag {% if traits.vip %} not closed'],
      ['an include (no file system)', { name: 't', channel: 'sms', body: '{% include "package.json" %}' }, 'body', 'line 1, col 1: tag "include" not found'],
      ['a render (no file system)', { name: 't', channel: 'sms', body: "{% render 'x' %}" }, 'body', 'line 1, col 1: tag "render" not found'],
    ])('refuses %s, naming the field and the line', async (_label, input, path, message) => {
      // Act
      const result = await compileTemplate(input);
      // Assess
      expect(result).toEqual({ ok: false, issues: [{ path, message }] });
    });

    it('reports every bad field at once', async () => {
      // Act
      const result = await compileTemplate({ name: 't', channel: 'email', subject: '{{ a | nope }}', html: '{% iff %}', text: '{{ x' });
      // Assess
      expect(result.ok).toBe(false);
      expect(!result.ok && result.issues.map((issue) => issue.path)).toEqual(['subject', 'html', 'text']);
    });
  });

  describe('when the MJML is bad', () => {
    it.each<[string, string, RegExp]>([
      ['an unknown element', '<mjml><mj-body><mj-section>\n<mj-colum><mj-text>x</mj-text></mj-colum></mj-section></mj-body></mjml>', /^line 2: Element mj-colum doesn't exist or is not registered$/],
      ['an illegal attribute', '<mjml><mj-body><mj-section><mj-column><mj-text colour="red">x</mj-text></mj-column></mj-section></mj-body></mjml>', /^line 1: Attribute colour is illegal$/],
      ['text that is not MJML', 'Hello {{ traits.firstName }}', /^not valid MJML: /],
      [
        'Liquid between sections, which MJML drops',
        '<mjml><mj-body>\n{% if traits.vip %}<mj-section><mj-column><mj-text>VIP</mj-text></mj-column></mj-section>{% endif %}</mj-body></mjml>',
        /^line 2, col 1: \{% if traits\.vip %\} is outside any MJML content and MJML drops it/,
      ],
    ])('refuses %s with an issue on mjml', async (_label, mjml, message) => {
      // Act
      const result = await compileTemplate({ name: 't', channel: 'email', subject: 's', mjml });
      // Assess
      expect(result.ok).toBe(false);
      expect(!result.ok && result.issues[0]).toEqual({ path: 'mjml', message: expect.stringMatching(message) });
    });
  });
});

describe('renderEmail', () => {
  describe('with an html template', () => {
    it.each<[string, RenderContext, string]>([
      ['a trait', ctx(), 'Hi Ada'],
      ['the default filter when the trait is missing', ctx({ traits: {} }), 'Hi there'],
      ['the default filter when the trait is empty', ctx({ traits: { firstName: '' } }), 'Hi there'],
    ])('renders %s', async (_label, context, expected) => {
      // Prepare
      const template = await compileEmail({ subject: 'Hi {{ traits.firstName | default: "there" }}', html: '<p>Hi {{ traits.firstName | default: "there" }}</p>' });
      // Act
      const rendered = await renderEmail(template, context);
      // Assess
      expect(rendered.subject).toBe(expected);
      expect(rendered.html).toBe(`<p>${expected}</p>`);
    });

    it('exposes userId, the entry event and its properties, and unsubscribe_url', async () => {
      // Prepare
      const template = await compileEmail({
        subject: 'Your {{ entry.properties.item }}',
        html: '<p>{{ userId }} did {{ entry.event }} for {{ entry.properties.total }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
        text: '{{ userId }} {{ entry.properties.item }} {{ unsubscribe_url }}',
      });
      // Act
      const rendered = await renderEmail(template, ctx({ entry: { event: 'Order Completed', properties: { item: 'Tea & Cake', total: 12.5 } } }));
      // Assess
      expect(rendered.subject).toBe('Your Tea & Cake');
      expect(rendered.html).toBe(
        '<p>u1 did Order Completed for 12.5</p><a href="https://api.example.com/v1/unsubscribe?token=abc.def&amp;x=1">Unsubscribe</a>',
      );
      expect(rendered.text).toBe(`u1 Tea & Cake ${UNSUBSCRIBE}`);
    });

    it('renders an absent entry and a null userId as empty', async () => {
      // Prepare
      const template = await compileEmail({ subject: '[{{ entry.event }}][{{ userId }}]', html: '<p>{{ entry.properties.x }}</p>' });
      // Act
      const rendered = await renderEmail(template, ctx({ userId: null }));
      // Assess
      expect(rendered.subject).toBe('[][]');
      expect(rendered.html).toBe('<p></p>');
    });

    it('escapes trait values in the html body but not in the subject or text', async () => {
      // Prepare
      const template = await compileEmail({ subject: 'Hi {{ traits.firstName }}', html: '<p>Hi {{ traits.firstName }}</p>', text: 'Hi {{ traits.firstName }}' });
      const firstName = '<script>alert("x")</script>';
      // Act
      const rendered = await renderEmail(template, ctx({ traits: { firstName } }));
      // Assess
      expect(rendered.html).toBe('<p>Hi &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>');
      expect(rendered.subject).toBe(`Hi ${firstName}`);
      expect(rendered.text).toBe(`Hi ${firstName}`);
    });

    it('escapes echo output too, and lets | raw opt out', async () => {
      // Prepare
      const template = await compileEmail({ subject: 's', html: '{% echo traits.firstName %}|{{ traits.firstName | raw }}' });
      // Act
      const rendered = await renderEmail(template, ctx({ traits: { firstName: '<b>' } }));
      // Assess
      expect(rendered.html).toBe('&lt;b&gt;|<b>');
    });

    it('derives the text part from the rendered html, keeping links as text [url]', async () => {
      // Prepare
      const template = await compileEmail({
        subject: 's',
        html: '<html><head><title>T</title><style>p{color:red}</style></head><body><h1>Hello {{ traits.firstName }}</h1><p>Read <a href="https://example.com/post?a=1&amp;b=2">the post</a>.</p><img src="https://example.com/pixel.gif" alt="pixel"><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>',
      });
      // Act
      const rendered = await renderEmail(template, ctx({ traits: { firstName: '<Ada & Bob>' } }));
      // Assess
      expect(rendered.text).toBe(`HELLO <ADA & BOB>\n\nRead the post [https://example.com/post?a=1&b=2].\n\nUnsubscribe [${UNSUBSCRIBE}]`);
    });

    it.each<[string, string]>([
      ['LF', 'Hi\n{{ traits.firstName }}'],
      ['CRLF', 'Hi \r\n {{ traits.firstName }}'],
      ['a line break inside a trait value', 'Hi {{ traits.lines }}'],
      ['a Unicode line separator', 'Hi\u2028{{ traits.firstName }}'],
    ])('makes the subject a single line (%s)', async (_label, subject) => {
      // Prepare
      const template = await compileEmail({ subject, html: 'h' });
      // Act
      const rendered = await renderEmail(template, ctx({ traits: { firstName: 'Ada', lines: '\r\nAda\n' } }));
      // Assess
      expect(rendered.subject).toBe('Hi Ada');
    });
  });

  describe('with an MJML template', () => {
    it('renders responsive html containing the rendered Liquid values', async () => {
      // Prepare
      const template = await compileEmail({ subject: 'Hi {{ traits.firstName }}', mjml: MJML });
      // Act
      const rendered = await renderEmail(template, ctx({ traits: { firstName: 'Ada <3', vip: true } }));
      // Assess
      expect(rendered.html).toContain('@media only screen');
      expect(rendered.html).toContain('Hello Ada &lt;3! You are VIP.');
      expect(rendered.html).toContain('<title>Hi Ada &lt;3</title>');
      expect(rendered.html).toContain('href="https://api.example.com/v1/unsubscribe?token=abc.def&amp;x=1"');
      expect(rendered.html).not.toMatch(/\{\{|\{%/);
      expect(rendered.text).toContain('Hello Ada <3! You are VIP.');
      expect(rendered.text).toContain(`Unsubscribe [${UNSUBSCRIBE}]`);
    });

    it('takes the else branch and the default', async () => {
      // Prepare
      const template = await compileEmail({ subject: 's', mjml: MJML });
      // Act
      const rendered = await renderEmail(template, ctx({ traits: {} }));
      // Assess
      expect(rendered.html).toContain('Hello there! Welcome.');
    });
  });

  describe('when a render runs away', () => {
    it('stops at the memory budget with a TemplateRenderError naming the field', async () => {
      // Prepare
      const template = await compileEmail({ subject: 's', html: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' });
      // Act
      const render = renderEmail(template, ctx());
      // Assess
      await expect(render).rejects.toBeInstanceOf(TemplateRenderError);
      await expect(render).rejects.toBeInstanceOf(ValidationError);
      await expect(render).rejects.toMatchObject({ statusCode: 400, issues: [{ path: 'html', message: expect.stringMatching(/^line 1, col 1: memory alloc limit exceeded/) }] });
    });
  });
});

describe('renderSms', () => {
  it.each<[string, string, RenderContext, { body: string; segments: number; encoding: string }]>([
    ['a trait with its default', 'Hi {{ traits.firstName | default: "there" }}', ctx({ traits: {} }), { body: 'Hi there', segments: 1, encoding: 'GSM-7' }],
    ['without html escaping', 'Hi {{ traits.firstName }}', ctx({ traits: { firstName: '<b>&' } }), { body: 'Hi <b>&', segments: 1, encoding: 'GSM-7' }],
    ['the unsubscribe url', 'Stop: {{ unsubscribe_url }}', ctx(), { body: `Stop: ${UNSUBSCRIBE}`, segments: 1, encoding: 'GSM-7' }],
    ['an emoji, in UCS-2', 'Hi {{ traits.firstName }} 🎉', ctx(), { body: 'Hi Ada 🎉', segments: 1, encoding: 'UCS-2' }],
    ['a long body over two segments', '{{ traits.long }}', ctx({ traits: { long: 'x'.repeat(200) } }), { body: 'x'.repeat(200), segments: 2, encoding: 'GSM-7' }],
  ])('renders %s', async (_label, body, context, expected) => {
    // Prepare
    const template = await compileSms(body);
    // Act
    const rendered = await renderSms(template, context);
    // Assess
    expect(rendered).toEqual(expected);
  });
});

describe('TemplateUpdateSchema and applyTemplateUpdate', () => {
  const email = { name: 'Welcome', channel: 'email', subject: 'Hi', html: '<p>Hi</p>' } as const;
  const sms = { name: 'Remind', channel: 'sms', body: 'Hi' } as const;

  it.each<[string, unknown, string, RegExp]>([
    ['an empty update', {}, '', /at least one field/],
    ['only the channel', { channel: 'email' }, '', /at least one field/],
    ['html and mjml together', { html: 'a', mjml: 'b' }, 'mjml', /not both/],
    ['sms and email fields together', { body: 'a', subject: 'b' }, 'body', /not both/],
    ['an unknown key', { colour: 'red' }, '', /Unrecognized key/],
  ])('refuses %s', (_label, body, path, message) => {
    // Act
    const result = TemplateUpdateSchema.safeParse(body);
    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }))).toEqual(
      expect.arrayContaining([{ path, message: expect.stringMatching(message) }]),
    );
  });

  it.each<[string, Parameters<typeof applyTemplateUpdate>[0], unknown, TemplateCreate]>([
    ['a new subject', email, { subject: 'Hello' }, { ...email, subject: 'Hello' }],
    ['the same channel echoed back', email, { channel: 'email', name: 'W2' }, { ...email, name: 'W2' }],
    ['a switch from html to mjml', email, { mjml: MJML }, { name: 'Welcome', channel: 'email', subject: 'Hi', mjml: MJML }],
    ['a switch from a stored mjml template to html', { name: 'W', channel: 'email', subject: 'Hi', mjml: MJML, html: '<compiled/>' }, { html: '<p>x</p>' }, { name: 'W', channel: 'email', subject: 'Hi', html: '<p>x</p>' }],
    ['a stored mjml template keeps its source, not its compiled html', { name: 'W', channel: 'email', subject: 'Hi', mjml: MJML, html: '<compiled/>' }, { subject: 'New' }, { name: 'W', channel: 'email', subject: 'New', mjml: MJML }],
    ['text removed with null', { ...email, text: 'Hi' }, { text: null }, email],
    ['a new sms body', sms, { body: 'Hello' }, { ...sms, body: 'Hello' }],
  ])('applies %s', (_label, current, body, expected) => {
    // Prepare
    const update = TemplateUpdateSchema.parse(body);
    // Act
    const result = applyTemplateUpdate(current, update);
    // Assess
    expect(result).toEqual({ ok: true, input: expected });
  });

  it.each<[string, Parameters<typeof applyTemplateUpdate>[0], unknown, string, RegExp]>([
    ['a channel change from email', email, { channel: 'sms', body: 'x' }, 'channel', /channel cannot be changed \(this is an email template\); create a new template instead/],
    ['a channel change from sms', sms, { channel: 'email', subject: 'x' }, 'channel', /channel cannot be changed \(this is an sms template\)/],
    ['an email field on an sms template', sms, { subject: 'x' }, 'subject', /does not apply to sms templates/],
    ['an sms field on an email template', email, { body: 'x' }, 'body', /does not apply to email templates/],
    ['removing the only body', email, { html: null }, 'html', /needs html or mjml/],
  ])('refuses %s', (_label, current, body, path, message) => {
    // Prepare
    const update = TemplateUpdateSchema.parse(body);
    // Act
    const result = applyTemplateUpdate(current, update);
    // Assess
    expect(result).toEqual({ ok: false, issues: [{ path, message: expect.stringMatching(message) }] });
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry beyond its size', () => {
    // Prepare
    const cache = new LruCache<number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    // Act
    cache.set('c', 3);
    // Assess
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.size]).toEqual([1, undefined, 3, 2]);
  });

  it('evicts by total size as well, but keeps the newest entry', () => {
    // Prepare
    const cache = new LruCache<string>(10, 100);
    cache.set('a', 'a', 60);
    // Act
    cache.set('b', 'b', 60);
    cache.set('huge', 'huge', 500);
    // Assess
    expect([cache.get('a'), cache.get('b'), cache.get('huge'), cache.size]).toEqual([undefined, undefined, 'huge', 1]);
  });
});
