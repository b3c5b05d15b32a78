/**
 * The DynamoDB document client, kept apart from the other clients: @aws-sdk/lib-dynamodb does not
 * declare itself free of import side effects, so a bundle importing it keeps it, and the DynamoDB
 * client, whether it is called or not. clients.ts re-exports it; a function that never calls it
 * bundles neither.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

let client: DynamoDBDocumentClient | undefined;

export function documentClient(): DynamoDBDocumentClient {
  client ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return client;
}
