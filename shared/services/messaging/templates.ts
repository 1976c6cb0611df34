import { randomBytes } from 'node:crypto';
import {
  applyTemplateUpdate,
  compileTemplate,
  renderEmail,
  renderSms,
  type TemplateCreate,
  type TemplateUpdate,
} from '../../domain/messaging/template';
import { ConcurrentUpdateError, ConflictError, NotFoundError, ValidationError, type ErrorIssue } from '../../errors';
import type { Clock, ProfileStore, StoredTemplate, TemplateStore } from '../../ports';
import { findProfile } from '../profiles';

export interface TemplateDeps {
  templates: TemplateStore;
  profiles: ProfileStore;
  clock: Clock;
}

function refuse(issues: ErrorIssue[]): never {
  const first = issues[0];
  throw new ValidationError(first ? `${first.path}: ${first.message}` : 'invalid template', issues);
}

export function templateView(t: StoredTemplate): Record<string, unknown> {
  const { version: _v, usedBy, ...rest } = t;
  return { ...rest, usedBy: Object.keys(usedBy) };
}

/** Validates (Liquid parses, MJML compiles) and stores a template; a bad one is a 400 naming the line. */
export async function createTemplate(deps: TemplateDeps, input: TemplateCreate): Promise<Record<string, unknown>> {
  const compiled = await compileTemplate(input);
  if (!compiled.ok) refuse(compiled.issues);
  const now = deps.clock.now().toISOString();
  const template: StoredTemplate = {
    id: `tpl_${randomBytes(8).toString('hex')}`,
    name: input.name,
    ...compiled.template,
    usedBy: {},
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
  await deps.templates.create(template);
  return templateView({ ...template, version: 1 });
}

export async function getTemplate(deps: TemplateDeps, id: string): Promise<StoredTemplate> {
  const template = await deps.templates.get(id);
  if (!template) throw new NotFoundError(`template ${id} not found`);
  return template;
}

export async function updateTemplate(deps: TemplateDeps, id: string, update: TemplateUpdate): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const current = await getTemplate(deps, id);
    const source =
      current.channel === 'email'
        ? { name: current.name, channel: 'email' as const, subject: current.subject ?? '', html: current.html ?? '', ...(current.mjml ? { mjml: current.mjml } : {}), ...(current.text ? { text: current.text } : {}) }
        : { name: current.name, channel: 'sms' as const, body: current.body ?? '' };
    const merged = applyTemplateUpdate(source, update);
    if (!merged.ok) refuse(merged.issues);
    const compiled = await compileTemplate(merged.input);
    if (!compiled.ok) refuse(compiled.issues);
    const next: StoredTemplate = {
      id,
      name: merged.input.name,
      ...compiled.template,
      usedBy: current.usedBy,
      createdAt: current.createdAt,
      updatedAt: deps.clock.now().toISOString(),
      version: current.version,
    };
    try {
      return templateView(await deps.templates.save(next));
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt >= 4) throw error;
    }
  }
}

/** Refused (409) while a scheduled or sending broadcast uses the template. */
export async function deleteTemplate(deps: TemplateDeps, id: string): Promise<void> {
  const template = await getTemplate(deps, id);
  const users = Object.entries(template.usedBy).map(([user, kind]) => `${kind} ${user}`);
  if (users.length > 0) throw new ConflictError(`template ${id} is in use by ${users.join(', ')}`);
  await deps.templates.delete(id);
}

/** Renders for a stored profile (`userId`) or for given traits; nothing is sent or stored. */
export async function renderTemplate(
  deps: TemplateDeps,
  id: string,
  input: { userId?: string; traits?: Record<string, unknown>; entry?: { event?: string; properties?: Record<string, unknown> } },
  publicApiUrl: string,
): Promise<Record<string, unknown>> {
  const template = await getTemplate(deps, id);
  let traits = input.traits ?? {};
  let userId: string | null = null;
  if (input.userId !== undefined) {
    const { ref, profile } = await findProfile(deps.profiles, input.userId);
    traits = profile.traits;
    userId = ref.kind === 'user' ? ref.id : null;
  }
  // A preview link: it opens the unsubscribe page, which refuses it (a preview unsubscribes nobody).
  const context = { traits, userId, unsubscribe_url: `${publicApiUrl}/v1/unsubscribe?token=preview`, ...(input.entry ? { entry: input.entry } : {}) };
  if (template.channel === 'email') {
    return { ...(await renderEmail({ channel: 'email', subject: template.subject ?? '', html: template.html ?? '', ...(template.text ? { text: template.text } : {}) }, context)) };
  }
  return { ...(await renderSms({ channel: 'sms', body: template.body ?? '' }, context)) };
}
