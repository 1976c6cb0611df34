import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProfileRef } from '../../domain/profile/profile';
import type { MessageLog, MessageLogEntry } from '../../ports';
import { messageLookupKey, messageSk, parseProfilePk, profilePk } from './keys';
import { GSI1 } from './table-definition';

/**
 * The message log under the profile (`MSG#<messageId>`; ids are time-ordered, so the profile's
 * messages list newest first), also indexed by message id in GSI1 for delivery feedback.
 */
export class DynamoMessageLog implements MessageLog {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(ref: ProfileRef, entry: MessageLogEntry): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...entry, pk: profilePk(ref), sk: messageSk(entry.id), itemType: 'message', gsi1pk: messageLookupKey(entry.id), gsi1sk: 'MSG' },
      }),
    );
  }

  async find(messageId: string): Promise<{ ref: ProfileRef; entry: MessageLogEntry } | undefined> {
    const out = await this.client.send(
      new QueryCommand({ TableName: this.tableName, IndexName: GSI1.name, KeyConditionExpression: 'gsi1pk = :key', ExpressionAttributeValues: { ':key': messageLookupKey(messageId) } }),
    );
    const item = out.Items?.[0];
    const ref = item ? parseProfilePk(String(item.pk)) : undefined;
    if (!item || !ref) return undefined;
    const { pk: _pk, sk: _sk, itemType: _t, gsi1pk: _g, gsi1sk: _gs, ...entry } = item;
    return { ref, entry: entry as unknown as MessageLogEntry };
  }

  async update(ref: ProfileRef, messageId: string, change: Partial<MessageLogEntry>, onlyIfStatusIn?: Array<MessageLogEntry['status']>): Promise<void> {
    const entries = Object.entries(change).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets = entries.map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      return `#f${i} = :v${i}`;
    });
    // Feedback for an erased profile must not re-create a fragment of it.
    let condition = 'attribute_exists(pk)';
    if (onlyIfStatusIn && onlyIfStatusIn.length > 0) {
      names['#status'] = 'status';
      onlyIfStatusIn.forEach((status, i) => (values[`:s${i}`] = status));
      condition += ` AND #status IN (${onlyIfStatusIn.map((_, i) => `:s${i}`).join(', ')})`;
    }
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: profilePk(ref), sk: messageSk(messageId) },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    ).catch((error: unknown) => {
      if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) throw error;
    });
  }
}
