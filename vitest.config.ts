import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Kernel tests create BPF maps and processes; keep files sequential so
    // root-only tests do not race each other for map ids or pids.
    fileParallelism: false,
  },
});
