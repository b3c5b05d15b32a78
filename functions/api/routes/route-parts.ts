/** Schemas and helpers several routes share. */
import * as z from "zod";
import { deploymentStatuses } from "../../../core/deployment.ts";
import { serviceNameSchema } from "../../../core/manifest.ts";
import type { Caller } from "../auth.ts";

export const serviceParams = z.object({ name: serviceNameSchema });

export const deploymentParams = z.object({ id: z.string().min(1).max(64) });

/** `status=FAILED,ROLLED_BACK` (API Gateway joins a repeated parameter with commas). */
const statusList = z
  .string()
  .describe(`Comma-separated statuses: ${deploymentStatuses.join(", ")}`)
  .transform((value) =>
    value
      .split(",")
      .map((status) => status.trim())
      .filter((status) => status !== ""),
  )
  .pipe(z.array(z.enum(deploymentStatuses)));

export const pageQuery = z.object({
  status: statusList.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20).describe("Page size, 1–100 (default 20)"),
  cursor: z.string().min(1).max(2048).optional().describe("The `cursor` of the previous page"),
});

/** Who to record as having asked for something (trigger.by allows 256 characters). */
export function requester(caller: Caller | undefined): string | undefined {
  return caller?.id.slice(0, 256);
}
