/** Parameter schemas that several Auto Scaling actions share. */
import * as z from "zod";
import type { LaunchTemplateRequest } from "./ec2-fleet.ts";

export const groupNameParam = z.string().min(1).max(255);

/** A LaunchTemplateSpecification: exactly one of id or name, as AWS requires. */
export const launchTemplateParam = z
  .object({
    LaunchTemplateId: z.string().min(1).optional(),
    LaunchTemplateName: z.string().min(1).optional(),
    Version: z.string().min(1).optional(),
  })
  .refine(
    (template) => (template.LaunchTemplateId === undefined) !== (template.LaunchTemplateName === undefined),
    {
      message: "Valid requests must contain either LaunchTemplateId or LaunchTemplateName",
    },
  );

/** The launch template a parsed LaunchTemplateSpecification names. */
export function templateRequest(param: z.infer<typeof launchTemplateParam>): LaunchTemplateRequest {
  return { id: param.LaunchTemplateId, name: param.LaunchTemplateName, version: param.Version };
}
