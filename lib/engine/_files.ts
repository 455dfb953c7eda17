/**
 * Crash-safe local file writes for the engine's state (checkpoints, saved plans, the
 * local digest key).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/**
 * Writes `text` to `path` atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory (so the rename itself survives a crash).
 */
export async function writeFileAtomic(
  path: string,
  text: string,
): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  const file = await Deno.open(tmp, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  try {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) {
      written += await file.write(bytes.subarray(written));
    }
    await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  }
}

/**
 * Creates `path` with `text` only when it does not exist yet, atomically (a complete
 * temp file hard-linked into place). Resolves false when another writer was first.
 */
export async function createExclusive(
  path: string,
  text: string,
): Promise<boolean> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}
