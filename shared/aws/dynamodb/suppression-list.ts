import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SuppressionList } from '../../ports';
import { suppressionPk } from './keys';

/** Addresses are stored hashed: the list must outlive erasure without keeping contact details. */
function hashAddress(address: string): string {
  return createHash('sha256').update(address.trim().toLowerCase()).digest('hex');
}

export class DynamoSuppressionList implements SuppressionList {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async isSuppressed(channel: 'email' | 'sms', address: string): Promise<boolean> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: suppressionPk(channel, hashAddress(address)), sk: 'SUPPRESS' } }));
    return out.Item !== undefined;
  }

  async suppress(channel: 'email' | 'sms', address: string, reason: string, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: suppressionPk(channel, hashAddress(address)), sk: 'SUPPRESS', itemType: 'suppression', channel, reason, at } }),
    );
  }
}
