/**
 * `deno task export-overlay --config kfplan.yaml --out DIR [--include-secrets]`:
 * writes the kustomize overlay kfplan generates for the `kubeflow:` section, to keep
 * in Git and build with plain kustomize
 * (`kustomize build --load-restrictor LoadRestrictionsNone DIR`).
 *
 * Secret values (client secrets, cookie secret, connector secrets) go to
 * `DIR/secrets/*.env`, which are written only with `--include-secrets` (mode 0600)
 * and are listed in `DIR/.gitignore` either way.
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { parseYaml as parse } from "../lib/deps.ts";
import { OptionsError, validateOptions } from "../lib/engine/options.ts";
import { kubeflowOptionsSchema } from "../lib/steps/kubeflow/options.ts";
import { prepareOverlay } from "../lib/steps/kubeflow/render.ts";
import { writeOverlay } from "../lib/steps/kubeflow/overlay.ts";

const USAGE =
  "usage: deno task export-overlay --config kfplan.yaml --out DIR [--section kubeflow] [--include-secrets]";

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = minimist(args, {
    string: ["config", "out", "section"],
    boolean: ["include-secrets", "help"],
    default: { section: "kubeflow" },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (!flags.config || !flags.out) {
    console.error(USAGE);
    return 1;
  }
  try {
    const doc = parse(await Deno.readTextFile(flags.config)) ?? {};
    const section = flags.section as string;
    const options = validateOptions(kubeflowOptionsSchema, doc[section], {
      source: flags.config,
      prefix: [section],
    });
    const prepared = await prepareOverlay(options, {
      source: flags.config,
      prefix: [section],
      excludePatches: true,
    });
    const out = flags.out as string;
    await Deno.mkdir(out, { recursive: true });
    const written = await writeOverlay(out, prepared.overlay, {
      includeSecrets: flags["include-secrets"],
    });
    await Deno.writeTextFile(
      `${out}/.gitignore`,
      "# secret values, written by kfplan at render time\nsecrets/*.env\n",
    );
    await Deno.mkdir(`${out}/secrets`, { recursive: true });
    await Deno.writeTextFile(
      `${out}/secrets/README.md`,
      "These env files hold secret values (client secrets, cookie secret, connector secrets).\n" +
        "kfplan writes them into a private temp directory at render time; `export-overlay\n" +
        "--include-secrets` writes them here (mode 0600). Never commit them.\n\n" +
        Object.keys(prepared.overlay.secretFiles).map((f) =>
          `- ${f.replace(/^secrets\//, "")}: ${
            prepared.overlay.secretFiles[f].split("\n").filter(Boolean).map((
              l,
            ) => l.split("=")[0]).join(", ")
          }`
        ).join("\n") + "\n",
    );
    console.log(
      `kubeflow ${prepared.release.version} overlay written to ${out} (${written.length} files${
        flags["include-secrets"]
          ? ", secrets included"
          : ", secrets/*.env not written"
      })`,
    );
    for (const w of prepared.warnings) console.warn(`warning: ${w}`);
    return 0;
  } catch (e) {
    console.error(
      e instanceof OptionsError
        ? e.message
        : `export-overlay: ${(e as Error).message}`,
    );
    return 1;
  }
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
