import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RateLimiter } from '../../ports';
import { rateBucketPk } from './keys';

/**
 * A fixed-window rate limit shared by every sender: one counter item per scope and second,
 * incremented only while under the limit. Scopes are taken in order; when a later one is full
 * the earlier slots are spent unused (the limit is never exceeded, at worst under-used).
 */
export class DynamoRateLimiter implements RateLimiter {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async tryAcquire(scopes: Array<{ scope: string; perSecond: number }>, now: Date): Promise<boolean> {
    const second = Math.floor(now.getTime() / 1000);
    for (const { scope, perSecond } of scopes) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: rateBucketPk(scope, second), sk: 'RATE' },
            UpdateExpression: 'ADD #used :one SET expiresAt = :expires, itemType = :type',
            ConditionExpression: 'attribute_not_exists(#used) OR #used < :limit',
            ExpressionAttributeNames: { '#used': 'used' },
            ExpressionAttributeValues: { ':one': 1, ':limit': perSecond, ':expires': second + 3600, ':type': 'rateBucket' },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    }
    return true;
  }
}
