/**
 * crtool view's server: the page (dist/view) and the checkpoint's files,
 * nothing else, on 127.0.0.1 only. Files are served with HTTP Range so the
 * page reads a large image in the pieces it shows; the decoding happens in
 * the page. Requests naming another host (DNS rebinding) are refused.
 */
import { spawn } from "node:child_process";
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IoError } from "../images/errors.js";

export interface ServedCheckpoint {
  title: string;
  /** The directory of images (a dump directory, or an archive unpacked). */
  dir: string;
}

const STATIC: Record<string, [string, string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
};

const HEADERS = {
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/** The page's files: next to the bundled CLI (dist/cli → dist/view) or the library's modules (dist/io → dist/view). */
export function viewAssetsDir(from: string): string {
  for (const rel of ["../view/", "../../view/"]) {
    const dir = fileURLToPath(new URL(rel, from));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  throw new IoError("the page of crtool view is not built (npm run build makes dist/view)");
}

function listFiles(dir: string): { name: string; size: number }[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => ({ name: e.name, size: statSync(join(dir, e.name)).size }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** [start, end] (inclusive) of a single-range "bytes=" header, "invalid", or undefined for the whole file. */
function parseRange(header: string | undefined, size: number): [number, number] | "invalid" | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return "invalid";
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? "invalid" : [start, end];
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...HEADERS, "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function serveFile(req: IncomingMessage, res: ServerResponse, path: string, type: string): void {
  const size = statSync(path).size;
  const range = parseRange(req.headers.range, size);
  if (range === "invalid") {
    res.writeHead(416, { ...HEADERS, "Content-Range": `bytes */${size}` });
    res.end();
    return;
  }
  const [start, end] = range ?? [0, size - 1];
  const headers: Record<string, string | number> = { ...HEADERS, "Content-Type": type, "Accept-Ranges": "bytes", "Content-Length": size === 0 ? 0 : end - start + 1 };
  if (range) headers["Content-Range"] = `bytes ${start}-${end}/${size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === "HEAD" || size === 0) {
    res.end();
    return;
  }
  createReadStream(path, { start, end })
    .on("error", () => res.destroy())
    .pipe(res);
}

/** Starts serving; resolves with the server and its URL once it listens. */
export async function startViewServer(checkpoint: ServedCheckpoint | undefined, assets: string, port: number): Promise<{ server: Server; url: string }> {
  const files = checkpoint ? listFiles(checkpoint.dir) : [];
  const names = new Set(files.map((f) => f.name));
  let origin = "";
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const host = req.headers.host ?? "";
    if (host !== origin && host !== origin.replace("127.0.0.1", "localhost")) return send(res, 421, "text/plain", "this server answers for 127.0.0.1 only\n");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      return send(res, 400, "text/plain", "malformed URL\n");
    }
    const asset = STATIC[path];
    if (asset) return serveFile(req, res, join(assets, asset[0]), asset[1]);
    if (path === "/api/checkpoint") {
      if (!checkpoint) return send(res, 404, "text/plain", "no checkpoint: drop one onto the page\n");
      return send(res, 200, "application/json", JSON.stringify({ title: checkpoint.title, files }));
    }
    const m = /^\/files\/([^/]+)$/.exec(path);
    if (m && checkpoint && names.has(m[1])) return serveFile(req, res, join(checkpoint.dir, m[1]), "application/octet-stream");
    send(res, 404, "text/plain", "not found\n");
  };
  // One request's failure (a file gone since the listing) is that request's answer: the server keeps serving.
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (res.headersSent) res.destroy();
      else send(res, 500, "text/plain", `${(e as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new IoError(`cannot listen on 127.0.0.1:${port}: ${e.code === "EADDRINUSE" ? "the port is in use" : e.message}`)));
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  origin = `127.0.0.1:${bound}`;
  return { server, url: `http://${origin}/` };
}

/** Opens `url` in the desktop's browser (xdg-open); `failed` is called when there is none. */
export function openInBrowser(url: string, failed: () => void): void {
  const opener = spawn("xdg-open", [url], { stdio: "ignore", detached: true });
  opener.on("error", failed);
  opener.unref();
}
