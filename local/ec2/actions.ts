/** The EC2 actions the emulator answers, by name. */
import type { ActionHandler } from "./context.ts";
import { createImage, deregisterImage, describeImages } from "./images.ts";
import {
  describeInstanceStatus,
  describeInstances,
  getConsoleOutput,
  startInstances,
  stopInstances,
  terminateInstances,
} from "./instances.ts";
import {
  createLaunchTemplate,
  createLaunchTemplateVersion,
  deleteLaunchTemplate,
  describeLaunchTemplates,
  describeLaunchTemplateVersions,
  modifyLaunchTemplate,
} from "./launch-templates.ts";
import { runInstances } from "./run-instances.ts";
import { deleteSnapshot, describeSnapshots } from "./snapshots.ts";
import { createTags, deleteTags, describeTags } from "./tags.ts";
import { describeVolumes } from "./volumes.ts";

export const actions: Record<string, ActionHandler> = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  DescribeInstanceStatus: describeInstanceStatus,
  StartInstances: startInstances,
  StopInstances: stopInstances,
  TerminateInstances: terminateInstances,
  GetConsoleOutput: getConsoleOutput,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
  CreateImage: createImage,
  DescribeImages: describeImages,
  DeregisterImage: deregisterImage,
  DescribeSnapshots: describeSnapshots,
  DeleteSnapshot: deleteSnapshot,
  DescribeVolumes: describeVolumes,
  CreateLaunchTemplate: createLaunchTemplate,
  CreateLaunchTemplateVersion: createLaunchTemplateVersion,
  DescribeLaunchTemplates: describeLaunchTemplates,
  DescribeLaunchTemplateVersions: describeLaunchTemplateVersions,
  ModifyLaunchTemplate: modifyLaunchTemplate,
  DeleteLaunchTemplate: deleteLaunchTemplate,
};
