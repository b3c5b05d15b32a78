import { describe, expect, it } from "vitest";
import type { ReferenceScan } from "../../../core/ports.ts";
import { collectReferences, type ManagedGroup } from "../../../core/prune/reference-check.ts";

const web: ManagedGroup = { service: "web", groupName: "web", launchTemplateId: "lt-0000000000000web1" };

/** A complete scan of the web group: template versions 1–3 (2 is default), two instances on version 3. */
function scan(overrides: Partial<ReferenceScan> = {}): ReferenceScan {
  return {
    groups: [
      {
        groupName: "web",
        launchTemplates: [{ launchTemplateId: web.launchTemplateId, version: "3" }],
        instanceIds: ["i-1", "i-2"],
      },
    ],
    templateVersions: {
      [web.launchTemplateId]: [
        {
          launchTemplateId: web.launchTemplateId,
          versionNumber: 1,
          isDefault: false,
          imageId: "ami-0000000000000base",
        },
        {
          launchTemplateId: web.launchTemplateId,
          versionNumber: 2,
          isDefault: true,
          imageId: "ami-00000000000000002",
        },
        {
          launchTemplateId: web.launchTemplateId,
          versionNumber: 3,
          isDefault: false,
          imageId: "ami-00000000000000003",
        },
      ],
    },
    instances: [
      { instanceId: "i-1", imageId: "ami-00000000000000003", state: "running" },
      { instanceId: "i-2", imageId: "ami-00000000000000003", state: "pending" },
      { instanceId: "i-9", imageId: "ami-00000000000000009", state: "stopped" },
      { instanceId: "i-8", imageId: "ami-00000000000000008", state: "terminated" },
    ],
    ...overrides,
  };
}

describe("collectReferences", () => {
  it("references the image of every template version and of every instance not terminated", () => {
    const { references, problems } = collectReferences(scan(), [web]);
    expect(problems).toEqual([]);
    expect(new Set(references.map((reference) => reference.imageId))).toEqual(
      new Set([
        "ami-0000000000000base",
        "ami-00000000000000002",
        "ami-00000000000000003",
        "ami-00000000000000009",
      ]),
    );
    expect(references).toContainEqual({
      imageId: "ami-00000000000000002",
      source: `launch template ${web.launchTemplateId} version 2`,
    });
    expect(references).toContainEqual({ imageId: "ami-00000000000000009", source: "instance i-9" });
  });

  it.each([
    ["$Latest", []],
    ["$Default", []],
    ["2", []],
    [
      "7",
      [
        `group "web" of web launches from ${web.launchTemplateId} version 7, which the listing did not return`,
      ],
    ],
  ])("resolves the group's template version %s against the listing", (version, problems) => {
    const groups = [
      {
        groupName: "web",
        launchTemplates: [{ launchTemplateId: web.launchTemplateId, version }],
        instanceIds: [],
      },
    ];
    expect(collectReferences(scan({ groups }), [web]).problems).toEqual(problems);
  });

  it("finds the scan short when a managed group is missing", () => {
    expect(collectReferences(scan({ groups: [] }), [web]).problems).toEqual([
      'group "web" of web was not found',
    ]);
  });

  it("finds the scan short when the group's template versions came back empty", () => {
    expect(
      collectReferences(scan({ templateVersions: { [web.launchTemplateId]: [] } }), [web]).problems,
    ).toEqual([
      `launch template ${web.launchTemplateId} of group "web" of web returned no versions`,
      `launch template ${web.launchTemplateId} registered for web returned no versions`,
    ]);
  });

  it("finds the scan short when a group's instance is missing from the instance listing", () => {
    const instances = scan().instances.filter((instance) => instance.instanceId !== "i-2");
    expect(collectReferences(scan({ instances }), [web]).problems).toEqual([
      'instance i-2 of group "web" of web is missing from the instance listing',
    ]);
  });

  it("accepts a group instance that has terminated since the group listed it", () => {
    const instances = scan().instances.map((instance) =>
      instance.instanceId === "i-2" ? { ...instance, state: "terminated" as const } : instance,
    );
    expect(collectReferences(scan({ instances }), [web]).problems).toEqual([]);
  });

  it("finds the scan short when the current version's image cannot be told", () => {
    const versions = scan().templateVersions[web.launchTemplateId] ?? [];
    const templateVersions = {
      [web.launchTemplateId]: versions.map((v) => (v.versionNumber === 3 ? { ...v, imageId: undefined } : v)),
    };
    expect(collectReferences(scan({ templateVersions }), [web]).problems).toEqual([
      `group "web" of web launches from ${web.launchTemplateId} version 3, whose image (none) cannot be told`,
    ]);
  });

  it("refuses any version whose image comes from an SSM parameter, current or not", () => {
    const versions = scan().templateVersions[web.launchTemplateId] ?? [];
    const templateVersions = {
      [web.launchTemplateId]: versions.map((v) =>
        v.versionNumber === 1 ? { ...v, imageId: "resolve:ssm:/kiln/web/ami" } : v,
      ),
    };
    expect(collectReferences(scan({ templateVersions }), [web]).problems).toEqual([
      `launch template ${web.launchTemplateId} version 1 takes its image from resolve:ssm:/kiln/web/ami, which Kiln cannot resolve`,
    ]);
  });
});
