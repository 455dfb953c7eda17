import { assertEquals } from "../_assert.ts";
import {
  checkpointDirFor,
  displayPath,
  openCluster,
  parallelismFor,
} from "../../lib/cli/session.ts";
import { parseArgs } from "../../lib/cli/args.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { ConnectOptions } from "../../lib/kube/types.ts";

const spec = {
  strings: ["checkpoint", "parallelism", "context"],
  booleans: [],
};

Deno.test("the checkpoint lives next to the config unless --checkpoint says otherwise", () => {
  const composition = {
    steps: [],
    config: { path: "k.yaml", digest: "d", dir: "/srv/kf" },
  };
  assertEquals(
    checkpointDirFor(parseArgs([], spec), composition),
    "/srv/kf/.kfplan",
  );
  assertEquals(
    checkpointDirFor(parseArgs(["--checkpoint", "/tmp/cp"], spec), composition),
    "/tmp/cp",
  );
  assertEquals(checkpointDirFor(parseArgs([], spec), { steps: [] }), ".kfplan");
});

Deno.test("--parallelism wins over the config", () => {
  assertEquals(
    parallelismFor(parseArgs(["--parallelism", "2"], spec), {
      steps: [],
      parallelism: 8,
    }),
    2,
  );
  assertEquals(
    parallelismFor(parseArgs([], spec), { steps: [], parallelism: 8 }),
    8,
  );
});

Deno.test("paths below the working directory are shown relative", () => {
  assertEquals(
    displayPath(`${Deno.cwd()}/examples/kfplan.yaml`),
    "examples/kfplan.yaml",
  );
  assertEquals(displayPath("/elsewhere/kfplan.yaml"), "/elsewhere/kfplan.yaml");
});

Deno.test("--context wins over cluster.context, and retries are reported", async () => {
  const seen: ConnectOptions[] = [];
  const io = capturedIO();
  const connect = (o: ConnectOptions) => {
    seen.push(o);
    o.onRetry?.({
      operation: "GET /version",
      attempt: 2,
      status: 503,
      delayMs: 400,
      message: "unavailable",
    });
    return Promise.resolve({ offline: "x" });
  };
  await openCluster(parseArgs(["--context", "prod"], spec), {
    steps: [],
    context: "dev",
  }, { io, connect });
  await openCluster(parseArgs([], spec), { steps: [], context: "dev" }, {
    io,
    connect,
  });
  assertEquals(seen.map((o) => o.context), ["prod", "dev"]);
  assertEquals(
    io.stderr().split("\n")[0],
    "retrying GET /version (attempt 2, HTTP 503) in 400 ms: unavailable",
  );
});
