import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { JourneyRun } from '../../shared/domain/journey/journey';
import type { Clock, JourneyStore } from '../../shared/ports';
import { closeRun } from '../../shared/services/journeys/run-status';

/**
 * Locally, executions live in memory: a restart (with `ENGAGE_DATA_DIR`) loses the runs in
 * flight while their items still say `running`, holding their re-entry slots and the `active`
 * count. At start, such runs are ended as `failed` ("local engine restarted"), their slots freed
 * and their holds forgotten, so counts and re-entry stay true. Step Functions keeps its
 * executions, so nothing like this exists on AWS.
 */
export async function endRunsLostOnRestart(documents: DynamoDBDocumentClient, tableName: string, deps: { journeys: JourneyStore; clock: Clock }): Promise<number> {
  let ended = 0;
  let start: Record<string, unknown> | undefined;
  const at = deps.clock.now().toISOString();
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'itemType = :type AND runStatus = :running',
        ExpressionAttributeValues: { ':type': 'journeyRun', ':running': 'running' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const pk = String(item.pk);
      const run = item as unknown as JourneyRun;
      if (await closeRun(deps, pk, run, 'failed', at, 'local engine restarted')) ended++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return ended;
}
