/**
 * The one DynamoDB table Kiln keeps: deployments, services, locks and queues, audit records.
 * Its key schema is shared by the SST stack and the local cloud so both create the same table.
 *
 *   pk              sk          item                                   byService (gsi1)        byKind (gsi2)
 *   DEP#<id>        DEP         a deployment                           SVC#<name> / <time>#<id> DEP / <time>#<id>
 *   SVC#<name>      CONFIG      a service's registered config          –                       SERVICE / <name>
 *   SVC#<name>      STATE       the service's lock, queue, pinned images –                     –
 *   PRUNE#<id>      RUN         a prune run's audit record             –                       PRUNE / <time>#<id>
 *   WATCH#<res>     WATCH       a deployment paused until <res> changes –                      –
 *
 * byService lists one service's deployments newest first; byKind lists every item of a kind
 * (recent deployments across services, all services, prune runs). Deployments are a few per
 * service per day, so one byKind partition per kind stays far below DynamoDB's partition limits.
 */
/** Items with this attribute (epoch seconds) expire by DynamoDB's time to live: watchers do. */
export const historyTableTtlAttribute = "expiresAt";

export const historyTableKeys = {
  partitionKey: "pk",
  sortKey: "sk",
  byService: { name: "byService", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  byKind: { name: "byKind", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
} as const;

/** CreateTable input for the history table (the local cloud uses it; the SST stack mirrors it). */
export function historyTableDefinition(tableName: string) {
  const { partitionKey, sortKey, byService, byKind } = historyTableKeys;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [
      partitionKey,
      sortKey,
      byService.partitionKey,
      byService.sortKey,
      byKind.partitionKey,
      byKind.sortKey,
    ].map((AttributeName) => ({ AttributeName, AttributeType: "S" as const })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" as const },
      { AttributeName: sortKey, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: [byService, byKind].map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: "HASH" as const },
        { AttributeName: index.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: "ALL" as const },
    })),
  };
}
