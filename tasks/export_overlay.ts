/**
 * `deno task export-overlay --config kfplan.yaml --out DIR [--include-secrets]`:
 * writes the kustomize overlay kfplan generates for the `kubeflow:` section, to keep
 * in Git and build with plain kustomize
 * (`kustomize build --load-restrictor LoadRestrictionsNone DIR`).
 *
 * Two layers, so that the build is exactly what kfplan's Kubeflow step plans:
 * - `DIR/settings/`: the settings overlay kfplan renders with (patches and generator
 *   merges on top of the checkout);
 * - `DIR/kustomization.yaml` and `DIR/post-render/`: what kfplan changes after that
 *   build (external databases and object store, the image mirror, Dex left out for
 *   an external provider, `components`, aggregated ClusterRoles), computed as the
 *   difference between the settings overlay's build and an offline plan of the step
 *   (`post_render_layer.ts`). The exporter builds the result once more and fails,
 *   naming each object, if anything still differs.
 *
 * Secret values (client secrets, cookie secret, connector secrets, database
 * passwords, object store keys, the registry login) go to `DIR/secrets/`, which is
 * written only with `--include-secrets` (mode 0600) and is listed in
 * `DIR/.gitignore` either way.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { minimist } from "../lib/deps.ts";
import { parseYaml as parse, stringifyYaml } from "../lib/deps.ts";
import { OptionsError, validateOptions } from "../lib/engine/options.ts";
import { planSteps } from "../lib/engine/planner.ts";
import type { Step } from "../lib/engine/types.ts";
import { PART_OF_LABEL } from "../lib/kube/inventory.ts";
import type { KubeObject } from "../lib/kube/types.ts";
import {
  imagesSchema,
  stepImages,
  withImageMirror,
} from "../lib/steps/image_mirror.ts";
import {
  type KubeflowOptions,
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
} from "../lib/steps/kubeflow/options.ts";
import { type Overlay, writeOverlay } from "../lib/steps/kubeflow/overlay.ts";
import {
  describeDiff,
  diffObjects,
  type ObjectDiff,
  type PostRenderLayer,
  postRenderLayer,
  withFollowUpPatches,
} from "../lib/steps/kubeflow/post_render_layer.ts";
import {
  type PreparedOverlay,
  prepareOverlay,
} from "../lib/steps/kubeflow/render.ts";
import { vendoredCopy } from "../lib/steps/kubeflow/remote.ts";
import { kubeflowStep } from "../lib/steps/kubeflow/step.ts";
import { kustomizeBuild } from "../lib/tools/kustomize.ts";

const USAGE =
  "usage: deno task export-overlay --config kfplan.yaml --out DIR [--section kubeflow] [--include-secrets]";

/** The settings overlay's directory inside the exported one. */
const SETTINGS = "settings";

/** The config file as read, and where relative paths in it resolve. */
interface Source {
  doc: Record<string, unknown>;
  file: string;
  baseDir: string;
  section: string;
}

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
    const file = resolve(flags.config as string);
    const source: Source = {
      doc: parse(await Deno.readTextFile(file)) ?? {},
      file: flags.config as string,
      // As `deno task plan` resolves them: against the config file's directory.
      baseDir: dirname(file),
      section: flags.section as string,
    };
    const options = validateOptions(
      kubeflowOptionsSchema,
      source.doc[source.section],
      { source: source.file, prefix: [source.section] },
    );
    const prepared = await prepareOverlay(options, {
      source: source.file,
      prefix: [source.section],
      baseDir: source.baseDir,
      excludePatches: true,
    });
    const planned = await plannedObjects(source);
    const out = flags.out as string;
    const includeSecrets = Boolean(flags["include-secrets"]);
    const { layer, residual, summary } = await exported(prepared, planned, {
      options,
      baseDir: source.baseDir,
      out,
    });
    const written = await writeExport(out, prepared.overlay, layer, {
      includeSecrets,
    });
    console.log(
      `kubeflow ${prepared.release.version} overlay written to ${out} (${written} files${
        includeSecrets ? ", secrets included" : ", secrets/ not written"
      }; after the build, as kfplan plans it: ${summary} object(s))`,
    );
    for (const w of prepared.warnings) console.warn(`warning: ${w}`);
    if (residual.length > 0) {
      console.error(
        `export-overlay: kustomize cannot reproduce these edits kfplan makes after the build ` +
          `(settings applied after the build here: ${
            postRenderSettings(source, options).join(", ")
          }); the exported overlay differs from what kfplan applies:\n` +
          residual.map((l) => `  - ${l}`).join("\n"),
      );
      return 1;
    }
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

/** The settings this configuration has that kfplan applies after `kustomize build`. */
function postRenderSettings(source: Source, o: KubeflowOptions): string[] {
  const s = source.section;
  return [
    ...(o.pipelines?.database ? [`${s}.pipelines.database`] : []),
    ...(o.pipelines?.objectStore ? [`${s}.pipelines.objectStore`] : []),
    ...(o.katib?.database ? [`${s}.katib.database`] : []),
    ...(source.doc.images ? ["images"] : []),
    ...(o.identity.provider === "oidc" ? [`${s}.identity`] : []),
    ...(o.components.exclude.length > 0 ? [`${s}.components`] : []),
    ...(o.exclude.length > 0 ? [`${s}.exclude`] : []),
    "aggregated ClusterRoles (rules left to the aggregation controller)",
  ];
}

/**
 * The desired objects of an offline plan of the Kubeflow step, as `deno task plan`
 * makes it (image mirror included), without the inventory label the engine adds.
 */
async function plannedObjects(source: Source): Promise<KubeObject[]> {
  let step: Step = kubeflowStep(
    source.doc[source.section] as KubeflowOptionsInput,
    {
      source: source.file,
      prefix: [source.section],
      baseDir: source.baseDir,
    },
  ) as unknown as Step;
  if (source.doc.images !== undefined) {
    const images = validateOptions(imagesSchema, source.doc.images, {
      source: source.file,
      prefix: ["images"],
    });
    step = withImageMirror(
      step,
      stepImages(images, { baseDir: source.baseDir, source: source.file }),
    );
  }
  const workDir = await Deno.makeTempDir({ prefix: "kfplan-export-" });
  try {
    const { document, plans } = await planSteps([step], {
      offlineReason: "export-overlay plans offline",
      workDir,
    });
    const entry = document.steps.find((s) => s.id === step.id);
    if (entry?.error) throw new Error(`planning ${step.id}: ${entry.error}`);
    const plan = plans.get(step.id);
    const unset = plan?.warnings.filter((w) => /placeholder/.test(w)) ?? [];
    if (unset.length > 0) {
      // The overlay would carry placeholders where kfplan applies secrets.
      throw new Error(unset.join("; "));
    }
    return (plan?.desired ?? []).map(withoutPartOf);
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

/** The object without the engine's ApplySet label (kfplan's inventory, not the manifests'). */
function withoutPartOf(o: KubeObject): KubeObject {
  const labels = o.metadata.labels;
  if (!labels || !(PART_OF_LABEL in labels)) return o;
  const { [PART_OF_LABEL]: _, ...rest } = labels;
  const { labels: _l, ...metadata } = o.metadata;
  return {
    ...o,
    metadata: Object.keys(rest).length > 0
      ? { ...metadata, labels: rest }
      : metadata,
  } as KubeObject;
}

/** The settings overlay as it lives in `DIR/settings`, its secrets in `DIR/secrets`. */
function settingsOverlay(overlay: Overlay): Overlay {
  const up = (p: string) => `../${p}`;
  const generators = (overlay.kustomization.secretGenerator ?? []) as Record<
    string,
    unknown
  >[];
  return {
    ...overlay,
    kustomization: {
      ...overlay.kustomization,
      secretGenerator: generators.map((g) => ({
        ...g,
        ...(g.envs ? { envs: (g.envs as string[]).map(up) } : {}),
        ...(g.files
          ? {
            files: (g.files as string[]).map((f) =>
              f.includes("=")
                ? f.replace(/=(.*)$/, (_m, p: string) => `=${up(p)}`)
                : up(f)
            ),
          }
          : {}),
      })),
    },
    secretFiles: Object.fromEntries(
      Object.entries(overlay.secretFiles).map(([p, c]) => [up(p), c]),
    ),
  };
}

/** Options for {@linkcode exported}. */
interface ExportedOptions {
  options: KubeflowOptions;
  baseDir: string;
  out: string;
}

/**
 * Builds the settings overlay in a private staging directory (secrets included,
 * the checkout's remote bases taken from `vendor` when set), computes the final
 * layer from the difference to `planned`, and builds both to find what is left.
 */
async function exported(
  prepared: PreparedOverlay,
  planned: KubeObject[],
  o: ExportedOptions,
): Promise<{ layer: PostRenderLayer; residual: string[]; summary: string }> {
  const staging = await Deno.makeTempDir({ prefix: "kfplan-export-" });
  await Deno.chmod(staging, 0o700);
  try {
    let overlay = prepared.overlay;
    if (o.options.vendor && prepared.remotes.length > 0) {
      const copy = await vendoredCopy(prepared.root, prepared.entry, {
        vendorDir: resolve(o.baseDir, o.options.vendor),
        remotes: prepared.remotes,
        into: staging,
      });
      overlay = { ...overlay, entry: copy.entry };
    }
    const dir = `${staging}/out`;
    await writeOverlay(`${dir}/${SETTINGS}`, settingsOverlay(overlay), {
      includeSecrets: true,
    });
    const base = await kustomizeBuild(`${dir}/${SETTINGS}`, {
      loadRestrictorNone: true,
    });
    const first = diffObjects(base, planned);
    let layer = postRenderLayer(first, { resources: [SETTINGS] });
    let left: ObjectDiff | undefined;
    // Build, and patch what kustomize's own reference fixing changed; a second
    // round that still leaves differences has found something it cannot express.
    for (let round = 0; round < 2; round++) {
      await writeLayer(dir, layer, { includeSecrets: true });
      const built = await kustomizeBuild(dir, { loadRestrictorNone: true });
      left = diffObjects(built, planned);
      if (
        round > 0 || left.changed.length === 0 || left.added.length > 0 ||
        left.removed.length > 0
      ) break;
      layer = withFollowUpPatches(layer, left);
    }
    return {
      layer,
      residual: left ? describeDiff(left) : [],
      summary:
        `${first.removed.length} deleted, ${first.added.length} added, ` +
        `${first.changed.length} changed`,
    };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** Writes the final layer's files under `dir` (secret files with mode 0600). */
async function writeLayer(
  dir: string,
  layer: PostRenderLayer,
  options: { includeSecrets: boolean },
): Promise<number> {
  const write = async (path: string, data: Uint8Array, secret: boolean) => {
    const full = `${dir}/${path}`;
    await Deno.mkdir(dirname(full), {
      recursive: true,
      mode: secret ? 0o700 : 0o755,
    });
    await Deno.writeFile(full, data, { mode: secret ? 0o600 : 0o644 });
  };
  const text = (s: string) => new TextEncoder().encode(s);
  await write(
    "kustomization.yaml",
    text(
      "# Generated by kfplan: the settings overlay (settings/), then what kfplan changes\n" +
        "# after building it (post-render/), so the build is what kfplan applies.\n" +
        "# Build with: kustomize build --load-restrictor LoadRestrictionsNone .\n" +
        stringifyYaml(layer.kustomization, { lineWidth: 0 }),
    ),
    false,
  );
  let n = 1;
  for (const [p, c] of Object.entries(layer.files)) {
    await write(p, text(c), false);
    n++;
  }
  if (options.includeSecrets) {
    for (const [p, c] of Object.entries(layer.secretFiles)) {
      await write(p, c, true);
      n++;
    }
  }
  return n;
}

/** Writes both layers, `.gitignore` and the secrets README into `out`; returns the file count. */
async function writeExport(
  out: string,
  overlay: Overlay,
  layer: PostRenderLayer,
  options: { includeSecrets: boolean },
): Promise<number> {
  await Deno.mkdir(out, { recursive: true });
  // Files of an earlier export that this one may not write again.
  for (const stale of ["post-render", SETTINGS]) {
    await Deno.remove(`${out}/${stale}`, { recursive: true }).catch(() => {});
  }
  const settings = await writeOverlay(
    `${out}/${SETTINGS}`,
    settingsOverlay(overlay),
    options,
  );
  const n = await writeLayer(out, layer, options);
  await Deno.writeTextFile(
    `${out}/.gitignore`,
    "# secret values, written by kfplan at render time\nsecrets/*\n!secrets/README.md\n",
  );
  await Deno.mkdir(`${out}/secrets`, { recursive: true });
  const keys = new Map<string, string[]>();
  for (const [f, content] of Object.entries(overlay.secretFiles)) {
    keys.set(
      f.replace(/^secrets\//, ""),
      f.endsWith(".env")
        ? content.split("\n").filter(Boolean).map((l) => l.split("=")[0])
        : [f.replace(/^.*\//, "")],
    );
  }
  for (const f of Object.keys(layer.secretFiles)) {
    const d = f.replace(/^secrets\//, "").replace(/\/[^/]*$/, "/");
    keys.set(d, [...(keys.get(d) ?? []), f.replace(/^.*\//, "")]);
  }
  await Deno.writeTextFile(
    `${out}/secrets/README.md`,
    "These files hold secret values (client secrets, cookie secret, connector secrets,\n" +
      "database passwords, object store keys, registry logins). kfplan writes them into a\n" +
      "private temp directory at render time; `export-overlay --include-secrets` writes\n" +
      "them here (mode 0600). Never commit them.\n\n" +
      [...keys].map(([f, k]) => `- ${f}: ${k.join(", ")}`).join("\n") + "\n",
  );
  return settings.length + n + 2;
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
