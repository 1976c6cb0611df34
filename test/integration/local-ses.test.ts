import { createServer } from 'node:net';
import { SesMailer } from '../../shared/aws/ses/mailer';
import { PermanentSendError, type EmailMessage } from '../../shared/ports';
import { startLocalSes, type LocalSes } from '../../infra/local/ses';

function email(overrides: Partial<EmailMessage> = {}): EmailMessage {
  return {
    to: 'ada@example.com',
    from: 'Engage <news@engage.example>',
    subject: 'Spring sale',
    html: '<p>Hello Ada</p>',
    text: 'Hello Ada',
    headers: [
      { name: 'List-Unsubscribe', value: '<http://127.0.0.1:3000/v1/unsubscribe?token=abc>' },
      { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
    ],
    tags: { broadcastId: 'b-1', 'message.id': 'm:1' },
    ...overrides,
  };
}

describe('local SES (aws-ses-v2-local)', () => {
  let ses: LocalSes;

  beforeAll(async () => {
    ses = await startLocalSes({ port: 0 });
  });

  afterEach(async () => {
    await ses.clear();
  });

  afterAll(async () => {
    await ses.close();
  });

  describe('when the production SesMailer sends through it', () => {
    it('stores the mail with its body, headers, tags and configuration set', async () => {
      // Prepare
      const mailer = new SesMailer(ses.client, { configurationSetName: 'engage-local' });

      // Act
      const receipt = await mailer.sendEmail(email());
      const stored = await ses.store();

      // Assess
      expect(receipt.providerMessageId).toMatch(/^ses-\d+$/);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toEqual({
        messageId: receipt.providerMessageId,
        from: 'Engage <news@engage.example>',
        replyTo: [],
        destination: { to: ['ada@example.com'], cc: [], bcc: [] },
        subject: 'Spring sale',
        body: { html: '<p>Hello Ada</p>', text: 'Hello Ada' },
        headers: [
          { name: 'List-Unsubscribe', value: '<http://127.0.0.1:3000/v1/unsubscribe?token=abc>' },
          { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
        ],
        at: expect.any(Number),
        tags: [
          { name: 'broadcastId', value: 'b-1' },
          { name: 'message_id', value: 'm_1' },
        ],
        configurationSetName: 'engage-local',
      });
    });

    it('keeps every mail in order until cleared', async () => {
      // Prepare
      const mailer = new SesMailer(ses.client);

      // Act
      await mailer.sendEmail(email({ to: 'one@example.com' }));
      await mailer.sendEmail(email({ to: 'two@example.com', tags: {} }));
      const before = await ses.store();
      await ses.clear();
      const after = await ses.store();

      // Assess
      expect(before.map((m) => m.destination.to[0])).toEqual(['one@example.com', 'two@example.com']);
      expect(before[1]?.tags).toEqual([]);
      expect(before[1]).not.toHaveProperty('configurationSetName');
      expect(after).toEqual([]);
    });

    it('surfaces its untyped 400 answers as transient errors (it has no SES error types)', async () => {
      // Prepare
      const mailer = new SesMailer(ses.client);

      // Act
      const sending = mailer.sendEmail(email({ subject: '' }));

      // Assess
      await expect(sending).rejects.toMatchObject({ name: 'Unknown', message: 'SES SendEmail failed: Unknown (HTTP 400)' });
      await expect(sending).rejects.not.toBeInstanceOf(PermanentSendError);
      expect(await ses.store()).toEqual([]);
    });
  });

  describe('when the port is taken', () => {
    it('rejects with a message naming the port and the setting', async () => {
      // Prepare
      const blocker = createServer();
      const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));

      // Act
      const starting = startLocalSes({ port });

      // Assess
      await expect(starting).rejects.toThrow(`port ${port} is already in use (set ENGAGE_SES_PORT)`);
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    });

    it('says so for the port of the running local SES too', async () => {
      // Prepare
      const { port } = ses;

      // Act
      const starting = startLocalSes({ port });

      // Assess
      await expect(starting).rejects.toThrow(`port ${port} is already in use (set ENGAGE_SES_PORT)`);
    });
  });

  describe('when closed', () => {
    it('frees its port and can be started again on it', async () => {
      // Prepare
      await ses.close();
      const { port } = ses;

      // Act
      const again = await startLocalSes({ port });
      ses = again;
      await new SesMailer(again.client).sendEmail(email());

      // Assess
      expect(again.endpoint).toBe(`http://127.0.0.1:${port}`);
      expect(await again.store()).toHaveLength(1);
    });
  });
});
