/** Registering a service's deployment target, checked against the cloud before it is stored. */
import { describeIssues, InvalidInputError, ServiceConfigError } from "./errors.ts";
import type { ScalingGroups, ServiceRegistry } from "./ports.ts";
import { type ServiceConfig, serviceConfigSchema } from "./service-config.ts";

export interface RegisterServiceDeps {
  services: ServiceRegistry;
  groups: Pick<ScalingGroups, "describeGroup">;
}

/** Validates a config, checks its group uses the named launch template, and stores it. */
export async function registerService(deps: RegisterServiceDeps, input: unknown): Promise<ServiceConfig> {
  const parsed = serviceConfigSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError("service config", describeIssues(parsed.error.issues));
  const config = parsed.data;
  const group = await deps.groups.describeGroup(config.group.name);
  if (group.launchTemplateId !== config.group.launchTemplateId) {
    throw new ServiceConfigError(
      `group "${group.name}" uses launch template ${group.launchTemplateId}, not ${config.group.launchTemplateId}`,
    );
  }
  await deps.services.putConfig(config);
  return config;
}
