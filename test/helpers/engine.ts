import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { startLocalEngine, type LocalEngine, type StartOptions } from '../../infra/local/engine';

export const WRITE_KEY = 'test-write-key-0123456789';
export const API_KEY = 'test-api-key-0123456789';

export interface TestEngine extends LocalEngine {
  /** POST to an ingestion route with the write key (Basic auth) unless `auth` says otherwise. */
  ingest(path: string, body: unknown, auth?: 'basic' | 'none' | { basic: string }): Promise<{ status: number; body: unknown }>;
  /** A management API call with the API key unless `apiKey` is given (null: none). */
  api(method: string, path: string, body?: unknown, apiKey?: string | null): Promise<{ status: number; body: any }>;
  /** Every item of the table (raw, unmarshalled), sorted: compare snapshots to prove "nothing changed". */
  snapshot(): Promise<Record<string, unknown>[]>;
}

export async function startTestEngine(options: StartOptions = {}): Promise<TestEngine> {
  const engine = await startLocalEngine({ port: 0, dynamodbPort: 0, sesPort: 0, writeKey: WRITE_KEY, apiKey: API_KEY, ...options });
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const response = await fetch(`${engine.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  };
  return {
    ...engine,
    ingest: (path, body, auth = 'basic') => {
      const key = auth === 'basic' ? WRITE_KEY : auth === 'none' ? undefined : auth.basic;
      return call('POST', path, key === undefined ? {} : { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` }, body);
    },
    api: (method, path, body, apiKey = API_KEY) => call(method, path, apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }, body),
    snapshot: async () => {
      const items: Record<string, unknown>[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await engine.dynamo.rawClient.send(new ScanCommand({ TableName: engine.dynamo.tableName, ExclusiveStartKey: start, ConsistentRead: true }));
        items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
        start = page.LastEvaluatedKey;
      } while (start);
      return items.sort((a, b) => `${String(a.pk)}|${String(a.sk)}`.localeCompare(`${String(b.pk)}|${String(b.sk)}`));
    },
  };
}
