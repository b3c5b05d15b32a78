import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { SfnWorkflowStarter } from "../../../core/aws/sfn-workflow-starter.ts";
import { TransientAwsError } from "../../../core/errors.ts";
import { clientConfig, sdkError } from "./sdk-error.ts";

const stateMachineArn = "arn:aws:states:eu-west-1:123456789012:stateMachine:kiln-deploy";
const deploymentId = "d-0123456789abcdefghijklmn";

describe("SfnWorkflowStarter", () => {
  const sfn = new SFNClient(clientConfig);
  const mock = mockClient(sfn);
  const starter = new SfnWorkflowStarter(stateMachineArn, sfn);

  beforeEach(() => {
    mock.reset();
  });

  it("starts an execution named by the deployment id, with the input as JSON", async () => {
    mock.on(StartExecutionCommand).resolves({ executionArn: "arn:x", startDate: new Date() });

    await starter.start(deploymentId, { deploymentId, service: "hello-service" });

    expect(mock.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn,
      name: deploymentId,
      input: JSON.stringify({ deploymentId, service: "hello-service" }),
    });
  });

  it("treats an execution that already exists as started", async () => {
    mock
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: "Execution Already Exists", $metadata: {} }));

    await expect(starter.start(deploymentId, {})).resolves.toBeUndefined();
  });

  it("turns throttling into a TransientAwsError", async () => {
    mock.on(StartExecutionCommand).rejects(sdkError("ThrottlingException", { status: 400, retryable: true }));

    await expect(starter.start(deploymentId, {})).rejects.toThrow(TransientAwsError);
  });

  it("stops the deployment's execution by its ARN with the cause", async () => {
    mock.on(StopExecutionCommand).resolves({ stopDate: new Date() });

    const stopped = await starter.stop(deploymentId, "cancelled by ana");

    expect(stopped).toBe(true);
    expect(mock.commandCalls(StopExecutionCommand)[0]?.args[0].input).toEqual({
      executionArn: `arn:aws:states:eu-west-1:123456789012:execution:kiln-deploy:${deploymentId}`,
      error: "DeploymentCancelled",
      cause: "cancelled by ana",
    });
  });

  it("answers false when there is no execution to stop", async () => {
    mock
      .on(StopExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: "Execution Does Not Exist", $metadata: {} }));

    expect(await starter.stop(deploymentId, "cancelled")).toBe(false);
  });
});
