/**
 * Local Amazon SES for the local runtime and the tests: `aws-ses-v2-local` in process (its
 * programmatic API, an Express server), driven through a real SESv2Client so that the production
 * `SesMailer` runs unchanged against it. Its web page (the `endpoint` itself) shows every mail.
 *
 * What aws-ses-v2-local does not emulate, and what this wrapper adds or leaves out:
 * - It accepts any sender and recipient (no identities, no sandbox, no quotas, no throttling),
 *   sends no events (no configuration-set event destinations: no delivery, bounce, complaint,
 *   open or click), and ignores `ConfigurationSetName`.
 * - It does not keep `EmailTags`. The `client` returned here records each SendEmail's tags and
 *   configuration set by MessageId (a middleware), and `store()` joins them to the stored mail;
 *   mail sent through another client has no `tags`.
 * - It keeps custom headers only for Simple content with `Headers` (what SesMailer sends).
 * - Its errors are 400/404 bodies without an error type, which the SDK surfaces as untyped errors.
 * - Its mailbox is one per process (a module-level store): only one local SES runs at a time here.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import startSesServer from 'aws-ses-v2-local';

export interface StoredMailTag {
  name: string;
  value: string;
}

/** A mail as aws-ses-v2-local stores it (`GET /store`), plus the tags this wrapper recorded. */
export interface StoredMail {
  messageId: string;
  from: string;
  replyTo: string[];
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { html?: string; text?: string };
  /** Custom headers (Simple content with Headers only). */
  headers: Array<{ name: string; value: string }>;
  /** Epoch seconds. */
  at: number;
  /** EmailTags of the SendEmail request, when it was sent through this `client`. */
  tags?: StoredMailTag[];
  /** ConfigurationSetName of the SendEmail request, when sent through this `client` with one. */
  configurationSetName?: string;
}

export interface LocalSes {
  /** http://127.0.0.1:<port>: the SES endpoint, and the web inbox at `/`. */
  endpoint: string;
  port: number;
  /** SESv2 client pointed at the local SES (dummy credentials, us-east-1). */
  client: SESv2Client;
  /** Every mail sent since start (or the last clear), oldest first. */
  store(): Promise<StoredMail[]>;
  /** Empties the mailbox (and the recorded tags). */
  clear(): Promise<void>;
  /** Stops the server (open connections included) and destroys the client. */
  close(): Promise<void>;
}

export interface StartLocalSesOptions {
  /** 0 = a random free port. */
  port: number;
  /** Default 127.0.0.1 (aws-ses-v2-local's own default listens on every interface). */
  host?: string;
  /** Default us-east-1. */
  region?: string;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

let running = false;

/**
 * Starts aws-ses-v2-local in process.
 * Rejects with `port <n> is already in use (set ENGAGE_SES_PORT)` when the port is taken.
 * @example
 * const ses = await startLocalSes({ port: Number(process.env.ENGAGE_SES_PORT ?? 8005) });
 * const mailer = new SesMailer(ses.client);
 */
export async function startLocalSes(options: StartLocalSesOptions): Promise<LocalSes> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) throw new RangeError(`invalid SES port ${options.port}`);
  // Probe first: aws-ses-v2-local resolves even when listen fails (Express passes the error to its callback).
  if (options.port !== 0) await assertPortFree(host, options.port);
  if (running) throw new Error('a local SES is already running in this process (aws-ses-v2-local keeps one mailbox per process)');
  running = true;
  let server: Server;
  try {
    server = await startSesServer({ host, port: options.port });
    if (!server.listening) {
      server.close();
      throw portInUse(options.port);
    }
  } catch (error) {
    running = false;
    throw error;
  }
  const address: AddressInfo | string | null = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const client = new SESv2Client({ endpoint, region, credentials: LOCAL_CREDENTIALS });
  const recorded = new Map<string, { tags: StoredMailTag[]; configurationSetName?: string }>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'SendEmailCommand') {
        const messageId = readString(result.output, 'MessageId');
        if (messageId !== undefined) recorded.set(messageId, readRequestExtras(args.input));
      }
      return result;
    },
    { step: 'initialize', name: 'engageLocalSesTagRecorder' },
  );

  const store = async (): Promise<StoredMail[]> => {
    const response = await request(host, port, 'GET', '/store');
    if (response.status !== 200) throw new Error(`local SES: GET /store answered ${response.status}`);
    const body: unknown = JSON.parse(response.body);
    const emails = typeof body === 'object' && body !== null && 'emails' in body && Array.isArray(body.emails) ? (body.emails as unknown[]) : [];
    return emails.map((raw) => toStoredMail(raw, recorded));
  };

  const clear = async (): Promise<void> => {
    const response = await request(host, port, 'POST', '/clear-store');
    if (response.status !== 200) throw new Error(`local SES: POST /clear-store answered ${response.status}`);
    recorded.clear();
  };

  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    client.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    running = false;
  };

  return {
    endpoint,
    port,
    client,
    store,
    clear,
    close: () => {
      closed ??= close();
      return closed;
    },
  };
}

function toStoredMail(raw: unknown, recorded: ReadonlyMap<string, { tags: StoredMailTag[]; configurationSetName?: string }>): StoredMail {
  const mail = isRecord(raw) ? raw : {};
  const destination = isRecord(mail.destination) ? mail.destination : {};
  const body = isRecord(mail.body) ? mail.body : {};
  const messageId = typeof mail.messageId === 'string' ? mail.messageId : '';
  const stored: StoredMail = {
    messageId,
    from: typeof mail.from === 'string' ? mail.from : '',
    replyTo: stringArray(mail.replyTo),
    destination: { to: stringArray(destination.to), cc: stringArray(destination.cc), bcc: stringArray(destination.bcc) },
    subject: typeof mail.subject === 'string' ? mail.subject : '',
    body: {
      ...(typeof body.html === 'string' ? { html: body.html } : {}),
      ...(typeof body.text === 'string' ? { text: body.text } : {}),
    },
    headers: Array.isArray(mail.headers)
      ? (mail.headers as unknown[]).flatMap((h) => (isRecord(h) && typeof h.name === 'string' && typeof h.value === 'string' ? [{ name: h.name, value: h.value }] : []))
      : [],
    at: typeof mail.at === 'number' ? mail.at : 0,
  };
  const extras = recorded.get(messageId);
  if (extras !== undefined) {
    stored.tags = extras.tags;
    if (extras.configurationSetName !== undefined) stored.configurationSetName = extras.configurationSetName;
  }
  return stored;
}

function readRequestExtras(input: unknown): { tags: StoredMailTag[]; configurationSetName?: string } {
  const tags: StoredMailTag[] = [];
  if (isRecord(input) && Array.isArray(input.EmailTags)) {
    for (const tag of input.EmailTags as unknown[]) {
      if (isRecord(tag) && typeof tag.Name === 'string' && typeof tag.Value === 'string') tags.push({ name: tag.Name, value: tag.Value });
    }
  }
  const configurationSetName = readString(input, 'ConfigurationSetName');
  return configurationSetName === undefined ? { tags } : { tags, configurationSetName };
}

function readString(value: unknown, key: string): string | undefined {
  if (!isRecord(value)) return undefined;
  const field = value[key];
  return typeof field === 'string' ? field : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? (value as unknown[]).filter((v): v is string => typeof v === 'string') : [];
}

/** One request without keep-alive: no pooled socket outlives close(), or reaches a later server on the same port. */
function request(host: string, port: number, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method, path, agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function portInUse(port: number): Error {
  return new Error(`port ${port} is already in use (set ENGAGE_SES_PORT)`);
}

async function assertPortFree(host: string, port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? portInUse(port) : error));
    probe.listen(port, host, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
