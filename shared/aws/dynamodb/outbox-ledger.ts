import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OutboxLedger } from '../../services/outbox';
import { outboxPk } from './keys';

/** Stream records are replayed for at most 24 hours; the ledger keeps them a little longer. */
const KEEP_SECONDS = 2 * 86_400;

export class DynamoOutboxLedger implements OutboxLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async wasPublished(recordId: string): Promise<boolean> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: outboxPk(recordId), sk: 'PUBLISHED' }, ConsistentRead: true }));
    return out.Item !== undefined;
  }

  async markPublished(recordId: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: outboxPk(recordId), sk: 'PUBLISHED', itemType: 'outboxMarker', expiresAt: Math.floor(Date.now() / 1000) + KEEP_SECONDS },
      }),
    );
  }
}
