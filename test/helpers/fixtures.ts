/** Locating the shared CRIU 4.2 fixtures (outside the repository). */
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** CRTOOL_FIXTURES, or ../shared/fixtures/criu-4.2 beside the repository. */
export const FIXTURES = process.env.CRTOOL_FIXTURES ?? resolve(REPO_ROOT, "..", "shared", "fixtures", "criu-4.2");

export const HAVE_FIXTURES = existsSync(FIXTURES);
if (!HAVE_FIXTURES) console.warn(`skipping fixture tests: ${FIXTURES} not found (set CRTOOL_FIXTURES)`);

export function scenarios(): string[] {
  if (!HAVE_FIXTURES) return [];
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(FIXTURES, d.name, "images")))
    .map((d) => d.name)
    .sort();
}

export function imagesOf(scenario: string): string[] {
  return readdirSync(join(FIXTURES, scenario, "images")).sort();
}

export function imagePath(scenario: string, image: string): string {
  return join(FIXTURES, scenario, "images", image);
}

export function goldenPath(scenario: string, file: string): string {
  return join(FIXTURES, scenario, "golden", file);
}
