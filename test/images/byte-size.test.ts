/** Sizes as the CLIs and the page print them. */
import { describe, expect, it } from "vitest";
import { byteSize } from "../../src/images/text/byte-size.js";

describe("byteSize", () => {
  it("prints bytes whole, then binary units with one decimal, up to TiB", () => {
    expect(byteSize(0)).toBe("0 B");
    expect(byteSize(1023)).toBe("1023 B");
    expect(byteSize(1024)).toBe("1.0 KiB");
    expect(byteSize(12_345_678)).toBe("11.8 MiB");
    expect(byteSize(2 ** 30)).toBe("1.0 GiB");
    expect(byteSize(3 * 2 ** 40)).toBe("3.0 TiB");
    expect(byteSize(2 ** 50)).toBe("1024.0 TiB");
  });
});
