/** Locating the CRIU 4.2 fixtures (test/fixtures/criu-4.2, see its README.md). */
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** CRTOOL_FIXTURES, or the repository's own copy. */
export const FIXTURES = process.env.CRTOOL_FIXTURES ?? resolve(REPO_ROOT, "test", "fixtures", "criu-4.2");

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
