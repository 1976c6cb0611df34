import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { KeyProvider } from '../../ports';

/** Keys are cached for this long so that a rotated secret is picked up without a redeploy. */
const CACHE_MS = 5 * 60 * 1000;

/** Reads the write key and API key from Secrets Manager, caching them per container. */
export class SecretsManagerKeyProvider implements KeyProvider {
  private readonly cache = new Map<string, { value: string; at: number }>();

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretIds: { writeKey?: string; apiKey?: string; unsubscribeKey?: string },
  ) {}

  writeKey(): Promise<string> {
    return this.read(this.secretIds.writeKey, 'WRITE_KEY_SECRET_ARN');
  }

  apiKey(): Promise<string> {
    return this.read(this.secretIds.apiKey, 'API_KEY_SECRET_ARN');
  }

  unsubscribeKey(): Promise<string> {
    return this.read(this.secretIds.unsubscribeKey, 'UNSUBSCRIBE_KEY_SECRET_ARN');
  }

  private async read(secretId: string | undefined, setting: string): Promise<string> {
    if (!secretId) throw new Error(`${setting} is not set for this function`);
    const hit = this.cache.get(secretId);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!out.SecretString) throw new Error(`secret ${setting} has no string value`);
    this.cache.set(secretId, { value: out.SecretString, at: Date.now() });
    return out.SecretString;
  }
}

/** Fixed keys: the local runtime and tests. */
export class StaticKeyProvider implements KeyProvider {
  constructor(private readonly keys: { writeKey: string; apiKey: string; unsubscribeKey: string }) {}
  writeKey(): Promise<string> {
    return Promise.resolve(this.keys.writeKey);
  }
  apiKey(): Promise<string> {
    return Promise.resolve(this.keys.apiKey);
  }
  unsubscribeKey(): Promise<string> {
    return Promise.resolve(this.keys.unsubscribeKey);
  }
}
