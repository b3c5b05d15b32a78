/** What operators read about services: their config and state, their images, their instances. */

import { UnknownServiceError } from "../errors.ts";
import type { DeploymentHistory, GroupInstances, ServiceImages, ServiceRegistry } from "../ports.ts";
import type { ServiceConfig } from "../service-config.ts";
import {
  imageViews,
  instancesView,
  type ServiceImagesView,
  type ServiceInstancesView,
  type ServiceView,
} from "./views.ts";

export interface OverviewDeps {
  services: Pick<ServiceRegistry, "getConfig" | "listConfigs" | "getState">;
  history: Pick<DeploymentHistory, "listByService">;
}

async function serviceView(deps: OverviewDeps, config: ServiceConfig): Promise<ServiceView> {
  const [state, latest] = await Promise.all([
    deps.services.getState(config.name),
    deps.history.listByService(config.name, { limit: 1 }),
  ]);
  const last = latest.items[0];
  return {
    name: config.name,
    config,
    lock: {
      activeDeploymentId: state.activeDeploymentId,
      leaseExpiresAt: state.leaseExpiresAt,
      queuedDeploymentId: state.queuedDeploymentId,
    },
    pins: { lastKnownGood: state.lastKnownGood, previousImage: state.previousImage },
    lastDeployment: last
      ? {
          id: last.id,
          version: last.version,
          status: last.status,
          requestedAt: last.requestedAt,
          endedAt: last.endedAt,
        }
      : undefined,
  };
}

async function requireConfig(
  deps: { services: Pick<ServiceRegistry, "getConfig"> },
  name: string,
): Promise<ServiceConfig> {
  const config = await deps.services.getConfig(name);
  if (!config) throw new UnknownServiceError(`service "${name}" is not registered`);
  return config;
}

/** Every registered service with its lock, pins and latest deployment, by name. */
export async function listServices(deps: OverviewDeps): Promise<ServiceView[]> {
  const configs = (await deps.services.listConfigs()).sort((a, b) => a.name.localeCompare(b.name));
  return Promise.all(configs.map((config) => serviceView(deps, config)));
}

/** One service; UnknownServiceError when it is not registered. */
export async function describeService(deps: OverviewDeps, name: string): Promise<ServiceView> {
  return serviceView(deps, await requireConfig(deps, name));
}

/** A service's images, newest first, with their pins. */
export async function listServiceImages(
  deps: { services: Pick<ServiceRegistry, "getConfig" | "getState">; images: ServiceImages },
  name: string,
): Promise<ServiceImagesView> {
  await requireConfig(deps, name);
  const [images, state] = await Promise.all([deps.images.list(name), deps.services.getState(name)]);
  return { service: name, images: imageViews(images, state) };
}

/** The instances of a service's group and the version each runs. */
export async function listServiceInstances(
  deps: { services: Pick<ServiceRegistry, "getConfig">; groups: GroupInstances; images: ServiceImages },
  name: string,
): Promise<ServiceInstancesView> {
  const config = await requireConfig(deps, name);
  const [group, images] = await Promise.all([
    deps.groups.snapshot(config.group.name),
    deps.images.list(name),
  ]);
  return instancesView(name, group, images);
}
