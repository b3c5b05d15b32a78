/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) after
 * real deployments on a local cloud: the deployments with their step timelines, the group's
 * instances and the version each runs, the images with their pins — and a deployment made while
 * the page is open shows up without a reload. Leaves a screenshot in test-output/dashboard.png.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment } from "../../core/deployment.ts";
import { testApi } from "../api/api-client.ts";
import { type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

const outputDir = fileURLToPath(new URL("../../test-output/", import.meta.url));

let kiln: KilnCloud;
let browser: BrowserContext;
let profileDir: string;
let page: Page;
let dashboardUrl: string;
let released: Deployment;
let broken: Deployment;

beforeAll(async () => {
  kiln = await startKilnCloud();
  const api = await testApi(kiln.cloud);
  dashboardUrl = `${api.url}/#token=${encodeURIComponent(api.token)}`;
  await kiln.bootstrap("web", "hello-service", "1.0.0", 2);
  released = await kiln.waitFor((await kiln.upload("hello-service", "1.1.0", "web")).deploymentId);
  broken = await kiln.waitFor((await kiln.upload("broken-service", "2.0.0", "web")).deploymentId);

  profileDir = await mkdtemp(join(tmpdir(), "kiln-chromium-"));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1440, height: 1000 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
}, 240_000);

afterAll(async () => {
  await browser?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  await kiln?.stop();
});

const rows = () => page.locator("[data-testid=deployment-row]");

describe("the dashboard", () => {
  it("lists the deployments newest first with their step timelines, and keeps the token out of the address", async () => {
    await page.goto(dashboardUrl);
    await rows().nth(2).waitFor();

    expect(await rows().evaluateAll((found) => found.map((row) => row.getAttribute("data-status")))).toEqual([
      "FAILED",
      "SUCCEEDED",
      "SUCCEEDED",
    ]);
    const failedSteps = rows().first().locator(".seg");
    expect(
      await failedSteps.evaluateAll((segments) =>
        segments.map((segment) => segment.getAttribute("data-state")),
      ),
    ).toEqual(["succeeded", "succeeded", "failed", "not-run", "not-run"]);
    expect(new URL(page.url()).hash).not.toContain("token");
  });

  it("shows a failed deployment's error and the step it failed in", async () => {
    await page.locator(`[data-testid=deployment-row][data-id="${broken.id}"]`).click();

    const detail = page.getByTestId("deployment-detail");
    await detail.getByText(broken.id).waitFor();
    await expect
      .poll(() => detail.getByTestId("deployment-error").textContent())
      .toContain("Failed at canary");
    expect(await detail.locator('.line[data-step="canary"]').getAttribute("data-state")).toBe("failed");
    expect(new URL(page.url()).hash).toBe(`#/deployments/${broken.id}`);
  });

  it("shows the group's instances with the version each runs, and the images with their pins", async () => {
    const service = page.locator('[data-testid=service][data-service="web"]');
    const instances = service.getByTestId("instance");
    await expect.poll(() => instances.count()).toBe(2);
    expect(
      await instances.evaluateAll((found) => found.map((row) => row.getAttribute("data-version"))),
    ).toEqual(["1.1.0", "1.1.0"]);

    const pinOf = (imageId: string) =>
      service.locator(`[data-testid=image][data-image="${imageId}"] [data-pin]`);
    expect(await pinOf(released.imageId ?? "").getAttribute("data-pin")).toBe("last-known-good");
    expect(await pinOf(released.previousImageId ?? "").getAttribute("data-pin")).toBe("previous-image");
    expect(
      await service.locator(`[data-testid=image][data-image="${broken.imageId}"]`).textContent(),
    ).toContain("rejected");
  });

  it("shows a deployment made while it is open, step by step, without a reload", async () => {
    const { deploymentId } = await kiln.upload("hello-service", "1.2.0", "web");
    const row = page.locator(`[data-testid=deployment-row][data-id="${deploymentId}"]`);

    await row.waitFor({ timeout: 20_000 });
    await page
      .locator(`[data-testid=deployment-row][data-id="${deploymentId}"][data-status=SUCCEEDED]`)
      .waitFor({ timeout: 60_000 });
    await row.click();
    const steps = page.getByTestId("deployment-detail").locator(".line");
    await expect
      .poll(() => steps.evaluateAll((found) => found.map((line) => line.getAttribute("data-state"))))
      .toEqual(["succeeded", "succeeded", "succeeded", "succeeded", "succeeded"]);
    const instances = page.locator('[data-testid=service][data-service="web"] [data-testid=instance]');
    await expect
      .poll(
        () =>
          instances.evaluateAll((found) => found.map((instance) => instance.getAttribute("data-version"))),
        { timeout: 10_000 },
      )
      .toEqual(["1.2.0", "1.2.0"]);

    await mkdir(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, "dashboard.png"), fullPage: true });
  });

  it("asks for the token when it has none", async () => {
    const fresh = await browser.newPage();
    await fresh.goto(dashboardUrl.replace(/#.*$/, ""));
    // The first page stored the token for this origin: forget it, as a new browser would not have it.
    await fresh.evaluate("localStorage.removeItem('kiln-token')");
    await fresh.reload();

    await fresh.locator("#login").waitFor({ state: "visible" });
    expect(await fresh.locator("#live-text").textContent()).toContain("not updating");
    await fresh.close();
  });
});
