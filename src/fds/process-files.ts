/**
 * What a kind may need to know about the dump beyond its own entry: the
 * files.img entries of a type, and which file ids the restored process's
 * fd table holds (ids-PID.img names its fdinfo-N.img). A pipe uses both to
 * decide which of its entries take the ends pipe(2) made, and when an end
 * nobody in this process takes can be closed.
 */
import type { RestoreContext } from "../contract/restore-context.js";
import type { ImageMessage } from "../images/wire/message.js";

/** files.img entries of fd type `type` (a number of FD_TYPE_NUMBERS), in image order. */
export async function filesOfType(ctx: RestoreContext, type: number): Promise<ImageMessage[]> {
  const files = (await ctx.loadImage("files.img")) ?? [];
  return files.map((e) => e.message).filter((m) => m.type === type);
}

/**
 * The file ids in the restored process's fd table, or undefined when the
 * dump has no ids/fdinfo images for it (then every file of the dump counts).
 */
export function processFileIds(ctx: RestoreContext): Promise<ReadonlySet<number> | undefined> {
  return ctx.once("process-file-ids", async () => {
    const ids = await ctx.loadImage(`ids-${ctx.pid}.img`);
    const filesId = ids?.[0]?.message.files_id;
    if (typeof filesId !== "number") return undefined;
    const table = await ctx.loadImage(`fdinfo-${filesId}.img`);
    return table ? new Set(table.map((e) => e.message.id as number)) : undefined;
  });
}
