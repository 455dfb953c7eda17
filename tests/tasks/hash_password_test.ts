import { bcrypt } from "../../lib/deps.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";

const TASK = new URL("../../tasks/hash_password.ts", import.meta.url).pathname;

async function run(
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TASK],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("hash-password hashes a piped password with bcrypt cost 12 and never prints it", async () => {
  const { code, stdout, stderr } = await run("correct horse battery\n");
  assertEquals(code, 0, stderr);
  const hash = stdout.trim();
  assertMatch(hash, /^\$2[aby]\$12\$[./A-Za-z0-9]{53}$/);
  assert(
    bcrypt.compareSync("correct horse battery", hash),
    "hash matches the password without its newline",
  );
  assert(
    !stdout.includes("correct horse") && !stderr.includes("correct horse"),
  );
});

Deno.test("hash-password refuses passwords shorter than 8 characters", async () => {
  const { code, stdout, stderr } = await run("short");
  assertEquals(code, 1);
  assertEquals(stdout, "");
  assertMatch(stderr, /at least 8 characters/);
});
