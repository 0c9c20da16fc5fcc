/** Building tar archives in memory for tests of archive reading. */
import tar from "tar-stream";

export interface TarMember {
  name: string;
  data: Buffer;
}

/** A tar archive of `members` (plain files, in order). */
export async function tarOf(members: TarMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on("end", () => resolve()));
  for (const m of members) pack.entry({ name: m.name, size: m.data.length }, m.data);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
