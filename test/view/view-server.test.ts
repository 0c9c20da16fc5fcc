/**
 * crtool view's server without a browser: it serves the page and the
 * checkpoint's files (byte ranges exactly as on disk), nothing else, to
 * 127.0.0.1 only; bad arguments are one-line errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST } from "../bpf/harness.js";

const DIR = join(FIXTURES, "bpf-basic", "images");

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(!HAVE_DIST || !HAVE_FIXTURES)("crtool view's server", () => {
  let child: ChildProcess;
  let url = "";

  beforeAll(async () => {
    child = spawn(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), "view", DIR, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    url = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]);
      });
    });
  });

  afterAll(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  });

  it("lists the checkpoint and serves byte ranges of its files as they are on disk", async () => {
    const list = JSON.parse((await get(`${url}api/checkpoint`)).body.toString()) as { files: { name: string; size: number }[] };
    const disk = readFileSync(join(DIR, "bpfmap-data.img"));
    expect(list.files.find((f) => f.name === "bpfmap-data.img")?.size).toBe(disk.length);
    const whole = await get(`${url}files/bpfmap-data.img`);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(disk)).toBe(true);
    const part = await get(`${url}files/bpfmap-data.img`, { Range: "bytes=8-23" });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 8-23/${disk.length}`);
    expect(part.body.equals(disk.subarray(8, 24))).toBe(true);
    const tail = await get(`${url}files/bpfmap-data.img`, { Range: "bytes=-10" });
    expect(tail.body.equals(disk.subarray(disk.length - 10))).toBe(true);
    expect((await get(`${url}files/bpfmap-data.img`, { Range: `bytes=${disk.length}-` })).status).toBe(416);
  });

  it("serves nothing but the page and the checkpoint's own files, and only to 127.0.0.1", async () => {
    const page = await get(url);
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'self'/);
    expect((await get(`${url}files/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await get(`${url}files/nope.img`)).status).toBe(404);
    expect((await get(`${url}api/checkpoint`, { Host: "attacker.example:80" })).status).toBe(421);
  });

  it("answers a malformed URL with 400 and goes on serving", async () => {
    for (const bad of ["files/%ZZ", "%E0%A4%A"]) {
      const r = await get(`${url}${bad}`);
      expect(r.status).toBe(400);
      expect(r.body.toString()).toBe("malformed URL\n");
    }
    expect(child.exitCode).toBeNull();
    expect((await get(`${url}api/checkpoint`)).status).toBe(200);
  });

  it("refuses a missing checkpoint and a bad port with one line", () => {
    const missing = runCli("crtool", ["view", join(FIXTURES, "no-such-dump")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no-such-dump: no such directory or archive/);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    const port = runCli("crtool", ["view", DIR, "--port", "http"]);
    expect(port.status).toBe(1);
    expect(port.stderr).toMatch(/--port/);
  });
});
