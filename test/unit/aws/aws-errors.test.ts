import { describe, expect, it } from "vitest";
import { callAws } from "../../../core/aws/aws-errors.ts";
import { ResourceNotFoundError, TransientAwsError } from "../../../core/errors.ts";
import { sdkError } from "./sdk-error.ts";

function failWith(error: unknown) {
  return () => Promise.reject(error);
}

describe("callAws", () => {
  it("returns what the call returns", async () => {
    expect(await callAws("DescribeImages", async () => ({ Images: [] }))).toEqual({ Images: [] });
  });

  it.each([
    ["Throttling", sdkError("Throttling")],
    ["ThrottlingException", sdkError("ThrottlingException", { retryable: true })],
    ["RequestLimitExceeded", sdkError("RequestLimitExceeded", { status: 503 })],
    ["TooManyRequestsException", sdkError("TooManyRequestsException", { status: 429 })],
    ["ProvisionedThroughputExceededException", sdkError("ProvisionedThroughputExceededException")],
    ["SlowDown", sdkError("SlowDown", { status: 503 })],
    ["InternalError (500)", sdkError("InternalError", { status: 500 })],
    ["ServiceUnavailable (503)", sdkError("ServiceUnavailable", { status: 503 })],
    ["an unnamed 502", sdkError("UnknownError", { status: 502 })],
    ["a dropped connection", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
    ["a request timeout", Object.assign(new Error("timed out"), { name: "TimeoutError" })],
  ])("turns %s into a TransientAwsError naming the call and keeping the cause", async (_case, error) => {
    const outcome = await callAws("RunInstances builder", failWith(error)).catch((caught: unknown) => caught);

    expect(outcome).toBeInstanceOf(TransientAwsError);
    expect((outcome as Error).message).toMatch(/^RunInstances builder: /);
    expect((outcome as Error).cause).toBe(error);
  });

  it.each([
    ["ConditionalCheckFailedException", sdkError("ConditionalCheckFailedException")],
    ["ValidationException", sdkError("ValidationException")],
    ["UnauthorizedOperation (403)", sdkError("UnauthorizedOperation", { status: 403 })],
    ["InvalidAMIName.Duplicate", sdkError("InvalidAMIName.Duplicate")],
    ["a plain programming error", new TypeError("x is not a function")],
  ])("leaves %s as it is", async (_case, error) => {
    const outcome = await callAws("CreateImage", failWith(error)).catch((caught: unknown) => caught);

    expect(outcome).toBe(error);
  });

  it("turns the codes a call names as not-found into ResourceNotFoundError", async () => {
    const error = sdkError("InvalidLaunchTemplateId.NotFound", {
      message: "The specified launch template does not exist",
    });

    const outcome = await callAws("DescribeLaunchTemplates lt-1", failWith(error), [
      "InvalidLaunchTemplateId.NotFound",
    ]).catch((caught: unknown) => caught);

    expect(outcome).toBeInstanceOf(ResourceNotFoundError);
    expect((outcome as Error).message).toBe(
      "DescribeLaunchTemplates lt-1: The specified launch template does not exist",
    );
  });
});
