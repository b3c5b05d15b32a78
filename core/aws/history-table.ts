/**
 * The one DynamoDB table Kiln keeps: deployments, services, locks and queues, audit records.
 * Its key schema is shared by the SST stack and the local cloud so both create the same table.
 *
 *   pk              sk          item
 *   DEP#<id>        DEP         a deployment (gsi1: its service, newest first; gsi2: all, newest first)
 *   SVC#<name>      CONFIG      a service's registered config
 *   SVC#<name>      STATE       the service's lock, queue head and pinned images
 *   PRUNE#<id>      RUN         a prune run's audit record (gsi2: all runs, newest first)
 */
export const historyTableKeys = {
  partitionKey: "pk",
  sortKey: "sk",
  byService: { name: "byService", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  byTime: { name: "byTime", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
} as const;

/** CreateTable input for the history table (the local cloud uses it; the SST stack mirrors it). */
export function historyTableDefinition(tableName: string) {
  const { partitionKey, sortKey, byService, byTime } = historyTableKeys;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [partitionKey, sortKey, byService.partitionKey, byService.sortKey, byTime.partitionKey, byTime.sortKey].map(
      (AttributeName) => ({ AttributeName, AttributeType: "S" as const }),
    ),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" as const },
      { AttributeName: sortKey, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: [byService, byTime].map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: "HASH" as const },
        { AttributeName: index.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: "ALL" as const },
    })),
  };
}
