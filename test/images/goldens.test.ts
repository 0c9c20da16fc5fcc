/**
 * crit 4.2 compatibility: every golden file produced by CRIU 4.2's crit on the
 * shared fixtures must come out of crtool byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, HAVE_FIXTURES, goldenPath, imagePath, imagesOf, scenarios } from "../helpers/fixtures.js";
import { decodeToString } from "../helpers/decode.js";
import { UnknownMagicError } from "../../src/images/errors.js";
import { explore, EXPLORERS } from "../../src/images/explore/explorers.js";
import { readImageMessages } from "../../src/images/read-all.js";
import { setMakeCodeAfter } from "../../src/images/schema/message-type.js";

const golden = (scenario: string, name: string) => readFileSync(goldenPath(scenario, name), "utf8");

// Twice: a small image's messages go through the generic decode and render
// loops (code is made for a type once it has had a few messages), a large
// image's through code made for their types. Each way, for every type.
const MODES = [
  ["the generic loops", Infinity],
  ["code made per message type", 0],
] as const;

for (const [mode, after] of MODES) describe.skipIf(!HAVE_FIXTURES)(`crit 4.2 goldens, ${mode}`, () => {
  let before: number;
  beforeAll(() => {
    before = setMakeCodeAfter(after);
  });
  afterAll(() => {
    setMakeCodeAfter(before);
  });
  for (const scenario of scenarios()) {
    describe(scenario, () => {
      for (const image of imagesOf(scenario)) {
        const bytes = () => readFileSync(imagePath(scenario, image));
        if (image.startsWith("pages-")) {
          it(`${image} is refused as raw data`, async () => {
            await expect(decodeToString(bytes())).rejects.toBeInstanceOf(UnknownMagicError);
          });
          continue;
        }
        const has = (suffix: string) => existsSync(goldenPath(scenario, `${image}.${suffix}`));
        if (has("decode.json")) {
          it(`${image} decode`, async () => {
            expect(await decodeToString(bytes())).toBe(golden(scenario, `${image}.decode.json`));
          });
        }
        if (has("pretty.json")) {
          it(`${image} decode --pretty`, async () => {
            expect(await decodeToString(bytes(), { pretty: true })).toBe(golden(scenario, `${image}.pretty.json`));
          });
        }
        if (has("show-nopl.txt")) {
          it(`${image} show --nopl`, async () => {
            expect((await decodeToString(bytes(), { pretty: true, nopl: true })) + "\n").toBe(golden(scenario, `${image}.show-nopl.txt`));
          });
        }
      }
      for (const what of EXPLORERS) {
        const full = goldenPath(scenario, `x-${what}.txt`);
        const partial = goldenPath(scenario, `x-${what}.partial-stdout.txt`);
        if (!existsSync(full) && !existsSync(partial)) continue;
        it(`x ${what}`, async () => {
          let out = "";
          await explore(what, async (name) => {
            const p = join(FIXTURES, scenario, "images", name);
            return existsSync(p) ? readImageMessages(readFileSync(p), name) : undefined;
          }, (line) => (out += line + "\n"));
          if (existsSync(full)) expect(out).toBe(readFileSync(full, "utf8"));
          // Where crit crashed (a zombie's missing images), what it printed before is our prefix.
          else expect(out.startsWith(readFileSync(partial, "utf8"))).toBe(true);
        });
      }
    });
  }
});
