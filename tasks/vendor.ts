/**
 * `deno task vendor`: mirrors the remote resources a kubeflow/manifests tree fetches
 * while rendering (git remote bases, files over HTTPS) into a vendor directory once,
 * so that later plans and applies render offline (`kubeflow.vendor`). The checkout is
 * not edited.
 *
 * ```
 * deno task vendor --config kfplan.yaml [--section kubeflow] [--out DIR]
 * deno task vendor --manifests CHECKOUT [--entry example] --out DIR
 *   [--git-mirror PREFIX=URL]... [--http-mirror PREFIX=URL]... [--refresh]
 * ```
 * With `--config`, the tree is the section's `manifests` (and `entry`) and the
 * directory its `vendor` unless `--out` is given.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { minimist, parseYaml as parse } from "../lib/deps.ts";
import {
  type Mirror,
  VendorError,
  vendorTree,
} from "../lib/steps/kubeflow/vendor.ts";

const USAGE =
  "usage: deno task vendor --config kfplan.yaml [--section kubeflow] [--out DIR]\n" +
  "       deno task vendor --manifests CHECKOUT [--entry example] --out DIR\n" +
  "       [--git-mirror PREFIX=URL]... [--http-mirror PREFIX=URL]... [--refresh]";

function mirrors(values: unknown): Mirror[] {
  const list = values === undefined
    ? []
    : Array.isArray(values)
    ? values
    : [values];
  return list.map((v) => {
    const text = String(v);
    const at = text.indexOf("=");
    if (at <= 0) throw new VendorError(`mirror ${text}: expected PREFIX=URL`);
    return { prefix: text.slice(0, at), replacement: text.slice(at + 1) };
  });
}

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = minimist(args, {
    string: [
      "config",
      "section",
      "out",
      "manifests",
      "entry",
      "git-mirror",
      "http-mirror",
    ],
    boolean: ["help", "refresh"],
    default: { section: "kubeflow" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    let root = flags.manifests as string | undefined;
    let entry = flags.entry as string | undefined;
    let out = flags.out as string | undefined;
    if (flags.config) {
      const doc = parse(await Deno.readTextFile(flags.config)) ?? {};
      const section = doc[flags.section as string] ?? {};
      const base = dirname(resolve(flags.config));
      if (!section.manifests) {
        console.error(
          `${flags.config}: ${flags.section}.manifests is not set`,
        );
        return 1;
      }
      root = resolve(base, section.manifests);
      entry ??= section.entry;
      out ??= section.vendor ? resolve(base, section.vendor) : undefined;
    }
    if (!root || !out) {
      console.error(
        `${USAGE}\n(the vendor directory comes from --out or the section's vendor field)`,
      );
      return 1;
    }
    const done = await vendorTree(root, {
      entry,
      out,
      gitMirrors: mirrors(flags["git-mirror"]),
      httpMirrors: mirrors(flags["http-mirror"]),
      refresh: flags.refresh,
    });
    for (const v of done) console.log(`${v.status} ${v.url} -> ${v.path}`);
    console.log(
      done.length === 0
        ? `${root}: no remote resources; nothing to vendor`
        : `${done.length} remote resource(s) in ${out}; set kubeflow.vendor: ${out}`,
    );
    return 0;
  } catch (e) {
    console.error(`vendor: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
