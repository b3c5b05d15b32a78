/** Every port faked in memory, wired the way the functions wire the AWS adapters. */
import { defaultArtifactLimits } from "../../core/artifact-inspection.ts";
import { FakeFleet } from "./fake-fleet.ts";
import { FakeImageCatalog } from "./fake-image-catalog.ts";
import { InMemoryArtifactStore } from "./in-memory-artifact-store.ts";
import { InMemoryDeploymentHistory } from "./in-memory-deployment-history.ts";
import { InMemoryServiceRegistry } from "./in-memory-service-registry.ts";
import { ManualClock } from "./manual-clock.ts";
import { RecordingNotifier } from "./recording-notifier.ts";
import { RecordingWorkflowStarter } from "./recording-workflow-starter.ts";
import { ScriptedHealthProbe } from "./scripted-health-probe.ts";

export const leaseMs = 4 * 60 * 60 * 1000;

export function fakeKiln() {
  const clock = new ManualClock();
  const history = new InMemoryDeploymentHistory(clock);
  const services = new InMemoryServiceRegistry(clock);
  const workflow = new RecordingWorkflowStarter();
  const artifacts = new InMemoryArtifactStore();
  const notifier = new RecordingNotifier();
  const fleet = new FakeFleet();
  const images = new FakeImageCatalog();
  const probe = new ScriptedHealthProbe();
  return {
    clock,
    history,
    services,
    workflow,
    artifacts,
    notifier,
    fleet,
    images,
    probe,
    leaseMs,
    limits: defaultArtifactLimits,
    presignSeconds: 900,
  };
}

export type FakeKiln = ReturnType<typeof fakeKiln>;
