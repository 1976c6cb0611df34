import { buildDependencyIndex } from '../../domain/audience/dependencies';
import { compileRule, type CompiledRule } from '../../domain/audience/evaluate';
import type { AudienceDefinition, AudienceStore, Clock } from '../../ports';

export interface CompiledAudience {
  definition: AudienceDefinition;
  compiled: CompiledRule;
}

export interface CatalogSnapshot {
  audiences: ReadonlyMap<string, CompiledAudience>;
  index: ReturnType<typeof buildDependencyIndex>;
}

/**
 * Every audience definition, compiled once and indexed by what can change it, cached per
 * container for `ttlMs`. A definition change seen on the stream invalidates it at once in the
 * container that sees it; others catch up within the TTL, which is why backfills start later
 * than that (see backfill.ts).
 */
export class AudienceCatalog {
  private cached?: { at: number; snapshot: Promise<CatalogSnapshot> };
  private readonly compiledByVersion = new Map<string, { key: string; compiled: CompiledRule }>();

  constructor(
    private readonly store: AudienceStore,
    private readonly clock: Clock,
    readonly ttlMs: number,
    private readonly onInvalid: (audienceId: string, error: unknown) => void = () => undefined,
  ) {}

  current(): Promise<CatalogSnapshot> {
    const now = this.clock.now().getTime();
    if (!this.cached || now - this.cached.at >= this.ttlMs) {
      const snapshot = this.load();
      this.cached = { at: now, snapshot };
      snapshot.catch(() => {
        if (this.cached?.snapshot === snapshot) this.cached = undefined;
      });
    }
    return this.cached.snapshot;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<CatalogSnapshot> {
    const definitions = await this.store.listAll();
    const audiences = new Map<string, CompiledAudience>();
    for (const definition of definitions) {
      // Rules are compiled once per version, not once per refresh.
      const key = `${definition.ruleVersion}`;
      let entry = this.compiledByVersion.get(definition.id);
      if (!entry || entry.key !== key) {
        try {
          entry = { key, compiled: compileRule(definition.rule) };
        } catch (error) {
          // One unreadable definition (a hand-edited item) must not stop every evaluation.
          this.onInvalid(definition.id, error);
          continue;
        }
        this.compiledByVersion.set(definition.id, entry);
      }
      audiences.set(definition.id, { definition, compiled: entry.compiled });
    }
    return { audiences, index: buildDependencyIndex([...audiences.values()].map((a) => ({ id: a.definition.id, rule: a.definition.rule }))) };
  }
}
