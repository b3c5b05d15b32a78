import { kilnTag } from "../../core/deploy/tags.ts";
import type { ImageCatalog, ImageInfo } from "../../core/ports.ts";

/** EC2 images in memory: created pending, found by cache key like Ec2ImageCatalog. */
export class FakeImageCatalog implements ImageCatalog {
  private readonly images = new Map<string, ImageInfo>();
  private nextNumber = 1;

  async createFromInstance(request: {
    instanceId: string;
    name: string;
    tags: Record<string, string>;
  }): Promise<string> {
    const existing = [...this.images.values()].find((image) => image.name === request.name);
    if (existing) return existing.imageId;
    return this.add({ name: request.name, state: "pending", tags: request.tags }).imageId;
  }

  async describe(imageId: string): Promise<ImageInfo | undefined> {
    const image = this.images.get(imageId);
    return image ? structuredClone(image) : undefined;
  }

  async findByCacheKey(cacheKey: string): Promise<ImageInfo | undefined> {
    return [...this.images.values()]
      .filter((image) => image.state === "available" && image.tags[kilnTag.cacheKey] === cacheKey)
      .filter((image) => image.tags[kilnTag.imageStatus] !== "rejected")
      .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""))
      .map((image) => structuredClone(image))[0];
  }

  async tag(imageId: string, tags: Record<string, string>): Promise<void> {
    const image = this.images.get(imageId);
    if (image) Object.assign(image.tags, tags);
  }

  setState(imageId: string, state: ImageInfo["state"]): void {
    const image = this.images.get(imageId);
    if (!image) throw new Error(`no image ${imageId}`);
    image.state = state;
  }

  /** Puts an image in place, as if baked earlier. */
  add(image: Partial<ImageInfo> & { name: string }): ImageInfo {
    const imageId = image.imageId ?? `ami-${String(this.nextNumber).padStart(17, "0")}`;
    this.nextNumber += 1;
    const info: ImageInfo = { imageId, state: "available", tags: {}, snapshotIds: [], ...image };
    this.images.set(imageId, info);
    return structuredClone(info);
  }
}
