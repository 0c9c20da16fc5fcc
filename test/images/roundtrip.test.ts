/** encode(decode(image)) must give back the image byte for byte, from plain and pretty JSON. */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { HAVE_FIXTURES, imagePath, imagesOf, scenarios } from "../helpers/fixtures.js";
import { decodeToString, encodeFromString } from "../helpers/decode.js";

describe.skipIf(!HAVE_FIXTURES)("decode → encode round trip", () => {
  for (const scenario of scenarios()) {
    for (const image of imagesOf(scenario).filter((i) => !i.startsWith("pages-"))) {
      it(`${scenario}/${image}`, async () => {
        const bytes = readFileSync(imagePath(scenario, image));
        for (const pretty of [false, true]) {
          const json = await decodeToString(bytes, { pretty });
          // Small chunks exercise the streaming JSON reader's retries.
          expect(Buffer.compare(await encodeFromString(json, 7), bytes)).toBe(0);
          expect(Buffer.compare(await encodeFromString(json), bytes)).toBe(0);
        }
      });
    }
  }
});
