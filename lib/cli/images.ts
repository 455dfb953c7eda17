/**
 * `deno task images`: every image the configuration deploys, as `source -> mirror`
 * lines for copying them into the mirror with one's own tools (skopeo, crane), or
 * as JSON with `--json`. Images that look like images but are left as they are
 * (inside scripts, templated) follow as `# not rewritable:` lines.
 *
 * The list comes from the plan itself: every step is planned offline without the
 * mirror and the rewriter runs over each step's planned objects, so it names
 * exactly what `plan` and `apply` rewrite.
 *
 * @module
 */

import { planSteps } from "../engine/planner.ts";
import {
  findImages,
  formatImageReference,
  type ImageMirror,
  type ImageScan,
  type MirrorLayout,
  parseImageReference,
  rewriteImages,
} from "../kube/images.ts";
import { loadConfig, type LoadedConfig } from "../config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import { fail, ioOf, start } from "./_common.ts";
import type { CliIO } from "./io.ts";

/** Usage text of `images`. */
export const IMAGES_USAGE = `Usage: deno task images [options]

Lists every container image the configuration deploys, one per line as
"source -> mirror" (images.registry of the configuration), followed by
"# not rewritable:" lines for image-like values kfplan leaves as they are.
Plans offline: no cluster is contacted.

Options:
  --config FILE   configuration (default ./kfplan.yaml, else examples/kfplan.yaml)
  --json          print a JSON document instead
  --help          this text
`;

/** One image of the listing. */
export interface ListedImage {
  /** Fully qualified source, e.g. `docker.io/library/mysql:8.0.29`. */
  source: string;
  /** Its name on the mirror; absent without `images.registry`. */
  mirror?: string;
  /** Ids of the steps that deploy it. */
  steps: string[];
}

/** An image-like value left as it is. */
export interface ListedUnrewritable {
  /** The value as found. */
  value: string;
  /** The object and field. */
  where: string;
  /** Why it is not rewritten. */
  reason: string;
  /** The step whose objects hold it. */
  step: string;
}

/** What {@linkcode listImages} returns (and `--json` prints). */
export interface ImageListing {
  /** The mirror (`images.registry`), when configured. */
  registry?: string;
  /** The mirror layout. */
  layout: MirrorLayout;
  /** Every image, sorted by source. */
  images: ListedImage[];
  /** Image-like values left as they are. */
  notRewritable: ListedUnrewritable[];
}

/** Options for {@linkcode listImages}. */
export interface ListImagesOptions {
  /** Environment for `{ env }` secrets; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Scratch directory for renders; default a new temp dir. */
  workDir?: string;
}

/**
 * Plans the configuration offline, without its mirror, and lists every image its
 * steps deploy with the mirror's name for it.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/load.ts";
 * const listing = await listImages(await loadConfig("examples/kfplan-mirror.yaml"));
 * console.log(listing.images.length);
 * ```
 */
export async function listImages(
  loaded: LoadedConfig,
  options: ListImagesOptions = {},
): Promise<ImageListing> {
  const settings = loaded.config.images;
  const { images: _mirror, ...rest } = loaded.config;
  const steps = stepsFromConfig({ ...loaded, config: rest }, {
    env: options.env,
  });
  const { document, plans } = await planSteps(steps, {
    offlineReason: "deno task images plans offline",
    workDir: options.workDir,
  });
  const failed = document.steps.filter((s) => s.error);
  if (failed.length > 0) {
    throw new Error(
      `could not plan ${
        failed.map((s) => `${s.id} (${s.error})`).join(", ")
      }, so its images are unknown`,
    );
  }
  const mirror: ImageMirror | undefined = settings
    ? { registry: settings.registry, layout: settings.layout }
    : undefined;
  const bySource = new Map<string, ListedImage>();
  const notRewritable: ListedUnrewritable[] = [];
  for (const step of steps) {
    const desired = plans.get(step.id)?.desired ?? [];
    const scan: ImageScan = mirror
      ? rewriteImages(desired, mirror)
      : findImages(desired);
    for (const use of scan.images) {
      const ref = parseImageReference(use.source);
      const source = ref ? formatImageReference(ref) : use.source;
      const entry = bySource.get(source) ??
        { source, ...(mirror ? { mirror: use.mirror } : {}), steps: [] };
      if (!entry.steps.includes(step.id)) entry.steps.push(step.id);
      bySource.set(source, entry);
    }
    notRewritable.push(
      ...scan.notRewritable.map((n) => ({ ...n, step: step.id })),
    );
  }
  return {
    ...(settings ? { registry: settings.registry } : {}),
    layout: settings?.layout ?? "host",
    images: [...bySource.values()].sort((a, b) =>
      a.source < b.source ? -1 : a.source > b.source ? 1 : 0
    ),
    notRewritable,
  };
}

/** The human listing: `source -> mirror` lines, then `# not rewritable:` lines. */
export function formatImageListing(listing: ImageListing): string {
  const lines = listing.images.map((i) =>
    i.mirror ? `${i.source} -> ${i.mirror}` : i.source
  );
  for (const n of listing.notRewritable) {
    lines.push(
      `# not rewritable: ${n.value} (step ${n.step}, ${n.where}): ${n.reason}`,
    );
  }
  return lines.map((l) => `${l}\n`).join("");
}

/** Options for {@linkcode imagesCommand}. */
export interface ImagesCommandOptions extends ListImagesOptions {
  /** Where output goes; default the process's stdout/stderr. */
  io?: CliIO;
}

/**
 * Runs `images` with the given arguments; resolves the exit code (0, or 1 on error).
 *
 * @example
 * ```ts
 * Deno.exit(await imagesCommand(["--config", "examples/kfplan-mirror.yaml"]));
 * ```
 */
export async function imagesCommand(
  argv: string[],
  options: ImagesCommandOptions = {},
): Promise<number> {
  const io = ioOf(options);
  const args = start(
    argv,
    { strings: ["config"], booleans: ["json"] },
    IMAGES_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  try {
    const loaded = await loadConfig(args.config);
    const listing = await listImages(loaded, options);
    if (args.json) {
      io.out(`${JSON.stringify(listing, null, 2)}\n`);
      return 0;
    }
    io.out(formatImageListing(listing));
    io.err(
      `${listing.images.length} images${
        listing.registry
          ? ` -> ${listing.registry} (layout ${listing.layout})`
          : ` (no images.registry in ${loaded.path}: sources only)`
      }; ${listing.notRewritable.length} not rewritable\n`,
    );
    return 0;
  } catch (error) {
    return fail(io, error);
  }
}
