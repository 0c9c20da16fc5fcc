// Benchmark: crit decode (plain and --pretty) of a 300k-entry pagemap and a
// 100k-entry files.img, crtool's crit against Debian's Python crit (apt-get
// install criu), in the same run, with identical outputs checked first; and
// against go-criu's crit when GO_CRIT names its binary (go-criu prints
// protojson, another JSON dialect: only the entry counts are compared).
// Timed with -o /dev/null: the decoding, not the disk's write-back of the
// other tools' output. Goals: >= 6x Python crit, >= 2.5x go-criu's crit.
//
//   npm run build && [GO_CRIT=/path/to/go-criu/crit] node bench/crit-decode.mjs [--runs N] [--busy]
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeImage } from "../dist/images/index.js";
import { benchSetup, crit, have, interleaved, out, pairedRatio, root, run } from "./lib.mjs";

const { runs } = benchSetup();
// crtool's crit, run as a program (lib.mjs).
const goCrit = process.env.GO_CRIT;
if (!goCrit) console.log("(GO_CRIT is not set: go-criu's crit is not measured)");

if (!have("crit")) {
  console.error("Debian's crit is not installed (apt-get install criu): nothing to compare against");
  process.exit(1);
}

// 300k pagemap entries in the layout every crit version reads the same way:
// field 2 holds the page count (CRIU < 4.2). Debian's crit 3.17.1 calls that
// field "nr_pages"; CRIU 4.2 renamed it "compat_nr_pages" (crtool uses 4.2's
// schema), so outputs are compared with that one key renamed.
function pagemapImage(n) {
  const entries = [{ message: { pages_id: 1 } }];
  let vaddr = 0x7f1200000000n;
  for (let i = 0; i < n; i++) {
    const pages = 1 + (i % 13);
    entries.push({ message: { vaddr, compat_nr_pages: pages, flags: i % 5 === 0 ? 1 : 4 } });
    vaddr += BigInt(pages + 3) << 12n;
  }
  return encodeImage("PAGEMAP", entries);
}

function filesImage(n) {
  const entries = [];
  for (let i = 1; i <= n; i++) {
    entries.push({
      message: {
        type: 1,
        id: i,
        reg: {
          id: i,
          flags: i % 3 === 0 ? 0o100002 : 0o100000,
          pos: BigInt(i * 4096),
          fown: { uid: 1000, euid: 1000, signum: 0, pid_type: 0, pid: 0 },
          name: `/var/lib/app/data/segment-${String(i).padStart(7, "0")}.dat`,
          size: BigInt(i * 65536),
          mode: 0o100644,
          mnt_id: 27,
        },
      },
    });
  }
  return encodeImage("FILES", entries);
}

const images = [
  { name: "pagemap (300k entries)", file: join(out, "pagemap-300k.img"), make: () => pagemapImage(300_000), normalize: (s) => s.replaceAll('"compat_nr_pages"', '"nr_pages"') },
  { name: "files.img (100k entries)", file: join(out, "files-100k.img"), make: () => filesImage(100_000), normalize: (s) => s },
];

const rows = [];
for (const img of images) {
  writeFileSync(img.file, img.make());
  for (const pretty of [false, true]) {
    const flags = ["decode", ...(pretty ? ["--pretty"] : []), "-i", img.file];
    const ours = run(crit, flags).stdout.toString();
    const theirs = run("crit", flags).stdout.toString();
    if (img.normalize(ours) !== theirs) throw new Error(`${img.name}${pretty ? " --pretty" : ""}: outputs differ`);
    const commands = [
      [crit, [...flags, "-o", "/dev/null"]],
      ["crit", [...flags, "-o", "/dev/null"]],
    ];
    if (goCrit) {
      const go = JSON.parse(run(goCrit, flags).stdout.toString());
      if (go.entries.length !== JSON.parse(ours).entries.length) throw new Error(`${img.name}: go-criu's crit decodes another number of entries`);
      commands.push([goCrit, [...flags, "-o", "/dev/null"]]);
    }
    const [a, b, g] = interleaved(commands, runs);
    rows.push({ image: img.name, mode: pretty ? "--pretty" : "plain", crtool: a, python: b, go: g });
  }
}

const goCols = goCrit ? " go-criu crit (s) | vs go-criu |" : "";
console.log(`| image | mode | crtool crit (s) | Debian crit 3.17.1 (s) | vs Python |${goCols} crtool peak RSS (MB) | Python peak RSS (MB) |`);
console.log(`|---|---|---:|---:|---:|${goCrit ? "---:|---:|" : ""}---:|---:|`);
for (const r of rows) {
  const go = r.go ? ` ${r.go.seconds.toFixed(3)} | ${pairedRatio(r.go, r.crtool).toFixed(2)}× |` : "";
  console.log(`| ${r.image} | ${r.mode} | ${r.crtool.seconds.toFixed(3)} | ${r.python.seconds.toFixed(3)} | ${pairedRatio(r.python, r.crtool).toFixed(1)}× |${go} ${r.crtool.rssMb.toFixed(0)} | ${r.python.rssMb.toFixed(0)} |`);
}
console.log(`\ntimes: medians of ${runs} interleaved rounds after a warm-up; ratios: medians of the rounds' own ratios; outputs checked before timing`);
