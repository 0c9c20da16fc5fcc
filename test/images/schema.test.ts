/** The schema: committed tables match proto/, and every image type resolves. */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { MAGICS, type MagicName } from "../../src/images/magic.js";
import { imageKind } from "../../src/images/kinds.js";
import { MESSAGE_TABLES } from "../../src/images/schema/tables.js";
import { messageType } from "../../src/images/schema/message-type.js";
import { fromMessage } from "../../src/images/index.js";
import { FdTypesValues, FileEntrySchema, FownEntrySchema } from "../../src/images/schema/types.js";

describe("schema", () => {
  it("src/images/schema/tables.ts and types.ts are what proto/ compiles to", () => {
    const out = mkdtempSync(join(tmpdir(), "crtool-schema-"));
    execFileSync(process.execPath, [join(REPO_ROOT, "scripts/gen-schema.mjs"), "proto", out], { cwd: REPO_ROOT, stdio: "pipe" });
    try {
      for (const f of ["tables.ts", "types.ts"]) {
        expect(readFileSync(join(out, f), "utf8"), `${f} is stale: run npm run gen:proto`).toBe(readFileSync(join(REPO_ROOT, "src/images/schema", f), "utf8"));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it("every message compiles and every reference resolves", () => {
    for (const name of Object.keys(MESSAGE_TABLES)) {
      const t = messageType(name);
      for (const f of t.fields) if (f.kind === "message") expect(f.message!.name).toBe(f.ref);
    }
  });

  it("every image magic has its entry types", () => {
    const notProtobuf = new Set<MagicName>(["KDAT", "IMG_COMMON", "IMG_SERVICE"]);
    for (const magic of Object.keys(MAGICS) as MagicName[]) {
      if (notProtobuf.has(magic)) {
        expect(() => imageKind(magic)).toThrow(/cannot be decoded/);
        continue;
      }
      const kind = imageKind(magic);
      expect(kind.entryType(0, undefined).name).toBeTruthy();
      expect(kind.entryType(1, {}).name).toBeTruthy();
    }
  });
});

describe("typed message handles", () => {
  it("read an entry as its message's interface, and refuse one that lacks a required field", () => {
    const entry = fromMessage(FileEntrySchema, { type: FdTypesValues.REG, id: 4 });
    expect(entry.id).toBe(4);
    expect(() => fromMessage(FownEntrySchema, { uid: 0 })).toThrow("a fown_entry needs field euid");
  });
});
