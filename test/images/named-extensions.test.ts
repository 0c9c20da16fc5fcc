/**
 * crtool's own fields on CRIU's messages (proto/crtool-ext.proto): crit
 * shows them as crit 4.2 would ("$unknown"), crtool's decode and show by
 * name, and both forms encode back to the same bytes.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeImage, type ImageMessage } from "../../src/images/index.js";
import { setExtFields } from "../../src/images/ext-fields.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST } from "../bpf/harness.js";

const work = mkdtempSync(join(tmpdir(), "crtool-named-ext-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

async function filesImage(): Promise<string> {
  const bpf: ImageMessage = { id: 1, flags: 2, pos: 0n, fown, map_type: 1, key_size: 4, value_size: 8, map_id: 7, max_entries: 16, map_flags: 0, memlock: 4096n, frozen: false, map_name: "flows", ifindex: 0 };
  setExtFields("bpfmap_file_entry", bpf, { btf_id: 62, pin_path: "/sys/fs/bpf/app/flows", event_stream: undefined });
  const ext: ImageMessage = { id: 2, fown };
  setExtFields("ext_file_entry", ext, { kind: "bpf-prog" });
  const path = join(work, "files.img");
  writeFileSync(path, await encodeImage("FILES", [{ message: { type: 19, id: 1, bpf } }, { message: { type: 16, id: 2, ext } }]));
  return path;
}

describe.skipIf(!HAVE_DIST)("crtool's extension fields", () => {
  it("crit shows them under $unknown; crtool decode and show by name; both encode back byte for byte", async () => {
    const img = await filesImage();
    const crit = JSON.parse(runCli("crit", ["decode", "-i", img]).stdout.toString()) as { entries: Record<string, Record<string, unknown>>[] };
    expect(crit.entries[0].bpf.$unknown).toEqual(expect.any(String));
    expect(crit.entries[0].bpf.pin_path).toBeUndefined();
    expect(crit.entries[1].ext.$unknown).toEqual(expect.any(String));

    const ours = JSON.parse(runCli("crtool", ["decode", "-i", img]).stdout.toString()) as { entries: Record<string, Record<string, unknown>>[] };
    expect(ours.entries[0].bpf).toMatchObject({ map_name: "flows", btf_id: 62, pin_path: "/sys/fs/bpf/app/flows" });
    expect(ours.entries[0].bpf.$unknown).toBeUndefined();
    expect(ours.entries[1].ext).toEqual({ id: 2, fown, kind: "bpf-prog" });
    const shown = runCli("crtool", ["show", img]).stdout.toString();
    expect(shown).toContain('"pin_path": "/sys/fs/bpf/app/flows"');

    const bytes = (await import("node:fs")).readFileSync(img);
    for (const [bin, args] of [["crit", ["decode", "-i", img]], ["crtool", ["decode", "-i", img]], ["crtool", ["decode", "--pretty", "-i", img]], ["crtool", ["show", img]]] as const) {
      const json = runCli(bin, [...args]).stdout;
      const back = runCli("crtool", ["encode"], json);
      expect(back.status, `${bin} ${args.join(" ")}: ${back.stderr}`).toBe(0);
      expect(Buffer.compare(back.stdout, bytes), `${bin} ${args.join(" ")}`).toBe(0);
    }
  });
});
