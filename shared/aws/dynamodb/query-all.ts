import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';

/**
 * Every item a query matches, page after page (a page stops at 1 MB); with `limit`, stops once
 * that many are read.
 */
export async function queryAll(client: DynamoDBDocumentClient, input: QueryCommandInput, limit = Infinity): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out: QueryCommandOutput = await client.send(
      new QueryCommand({ ...input, ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}), ExclusiveStartKey: start }),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start && items.length < limit);
  return items;
}
