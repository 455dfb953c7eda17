/**
 * Container image references in Kubernetes objects: parsing, normalising, and
 * rewriting every image an object set names to a mirror registry.
 *
 * What counts as an image is read from the objects' content, not from where they
 * came from:
 * - any string under a key naming an image (`image`, `queueSidecarImage`,
 *   `cacheImage`, `imageGroupOne.options[]`, ...): container images of every
 *   workload kind (Pods, the pod templates of Deployments, StatefulSets, DaemonSets,
 *   ReplicaSets, Jobs, CronJobs), init and ephemeral containers, and custom
 *   resources that embed containers (KServe ServingRuntimes, Notebooks, ...);
 * - environment variables whose name says image (`V2_DRIVER_IMAGE`,
 *   `VISUALIZATION_SERVER_IMAGE`, `DISPATCHER_IMAGE`, ...) and command-line flags
 *   whose name says image (`--executor-image=`, `--acme-http01-solver-image=`);
 * - split references: a mapping with `repository` (+ `image`, `version`/`tag`, or a
 *   `registry`), as the NVIDIA GPU operator's ClusterPolicy and Helm values write
 *   them, and Istio's `hub` + `tag` with bare `image` names;
 * - ConfigMap values holding JSON or YAML (Jupyter's spawner config, KServe's
 *   `inferenceservice-config`, Katib's config and trial templates, Istio's sidecar
 *   injector values): parsed, searched with the rules above, and rewritten in the
 *   text so the rest of the document stays byte for byte.
 *
 * What looks like an image but cannot be rewritten safely is reported, never
 * silently left: a registry-qualified, tagged reference outside an image field, in
 * text that is neither JSON nor YAML (scripts), or a templated value
 * (`{{ .Values.image }}`, `$(IMAGE)`).
 *
 * Mirror layout: `host` (the default) keeps the source registry's host as the first
 * path component, `docker.io/library/busybox:1.36` ->
 * `mirror.example.com/docker.io/library/busybox:1.36`, as `skopeo sync --scoped`
 * copies and collision-free across registries; `path` drops it,
 * `mirror.example.com/library/busybox:1.36`, as Harbor replication and containerd's
 * registry mirrors lay images out. Tags and digests are kept; an image already on
 * the mirror is left as it is.
 *
 * @module
 */

import { parseYaml as parseYamlText } from "../deps.ts";
import type { KubeObject } from "./types.ts";

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host (with port), `docker.io` for Docker Hub short names. */
  registry: string;
  /** Repository path inside the registry; Docker Hub's official images get `library/`. */
  path: string;
  /** Tag, when the reference has one. */
  tag?: string;
  /** Digest (`sha256:...`), when the reference has one. */
  digest?: string;
}

/** How mirrored names are laid out (see the module docs). */
export type MirrorLayout = "host" | "path";

/** Where images are pulled from instead of their source registries. */
export interface ImageMirror {
  /** The mirror: a registry host with optional port and path prefix, e.g. `registry.example.com:5000/kubeflow`. */
  registry: string;
  /** `host` (default): `<mirror>/<source host>/<path>`; `path`: `<mirror>/<path>`. */
  layout?: MirrorLayout;
}

/** One image reference found in an object. */
export interface ImageUse {
  /** The reference as the object names it (split references composed), e.g. `gcr.io/istio-release/proxyv2:1.26.1`. */
  source: string;
  /** What it becomes on the mirror (equal to `source` when already there). */
  mirror: string;
  /** The object and field, e.g. `Deployment kubeflow/ml-pipeline spec.template.spec.containers[0].image`. */
  where: string;
}

/** Something that looks like an image but is left as it is, and why. */
export interface UnrewritableImage {
  /** The value as found. */
  value: string;
  /** The object and field. */
  where: string;
  /** Why it was not rewritten. */
  reason: string;
}

/** Images found in a set of objects. */
export interface ImageScan {
  /** Every image reference rewritten (or, for {@linkcode findImages}, found). */
  images: ImageUse[];
  /** Image-like values left as they are, with the reason. */
  notRewritable: UnrewritableImage[];
}

/** {@linkcode rewriteImages}'s result: the objects with their images on the mirror. */
export interface RewriteImagesResult extends ImageScan {
  /** The objects, copies where something changed, in the input order. */
  objects: KubeObject[];
}

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_RE =
  /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
const DOCKER_HUB = "docker.io";
const DOCKER_HUB_ALIASES = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/** Registries whose untagged references are still taken for images outside image fields. */
const KNOWN_REGISTRIES = [
  "docker.io",
  "gcr.io",
  "ghcr.io",
  "quay.io",
  "registry.k8s.io",
  "k8s.gcr.io",
  "nvcr.io",
  "mcr.microsoft.com",
  "public.ecr.aws",
  "registry.gitlab.com",
];

/**
 * Parses an image reference (`[host[:port]/]path[:tag][@digest]`) the way container
 * runtimes resolve it: a first component with a dot or a port, or `localhost`, is a
 * registry; otherwise the image is on Docker Hub, official images under `library/`.
 * Returns `undefined` for anything that is not a valid reference.
 *
 * @example
 * ```ts
 * parseImageReference("busybox:1.36");
 * // { registry: "docker.io", path: "library/busybox", tag: "1.36" }
 * ```
 */
export function parseImageReference(
  text: string,
): ImageReference | undefined {
  if (text.length === 0 || text.length > 512 || /\s/.test(text)) {
    return undefined;
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return undefined;
  }
  const slash = rest.indexOf("/");
  let registry = DOCKER_HUB;
  let path = rest;
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes(".") || first.includes(":") || first === "localhost" ||
      first.startsWith("[")
    ) {
      if (!DOMAIN_RE.test(first)) return undefined;
      registry = DOCKER_HUB_ALIASES.has(first) ? DOCKER_HUB : first;
      path = rest.slice(slash + 1);
    }
  }
  if (!PATH_RE.test(path)) return undefined;
  if (registry === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  return {
    registry,
    path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/**
 * The fully qualified form of a reference, e.g. `docker.io/library/busybox:1.36`.
 *
 * @example
 * ```ts
 * formatImageReference(parseImageReference("busybox")!); // "docker.io/library/busybox"
 * ```
 */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.path}${
    ref.tag !== undefined ? `:${ref.tag}` : ""
  }${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/**
 * Checks a mirror registry setting: a host (with optional port) and an optional path
 * prefix, no scheme, tag or trailing slash. Returns a message saying what is wrong,
 * or `undefined` when it is valid.
 *
 * @example
 * ```ts
 * mirrorRegistryProblem("https://registry.example.com"); // "... without https:// ..."
 * ```
 */
export function mirrorRegistryProblem(registry: string): string | undefined {
  const example =
    "e.g. registry.example.com:5000 or registry.example.com/mirror";
  if (/^[a-z]+:\/\//i.test(registry)) {
    return `give the registry without a scheme (${example}), not ${registry}`;
  }
  const [host, ...rest] = registry.split("/");
  if (!host || !DOMAIN_RE.test(host)) {
    return `"${host}" is not a registry host (${example})`;
  }
  const prefix = rest.join("/");
  if (rest.length > 0 && !PATH_RE.test(prefix)) {
    return `"${prefix}" is not a repository path prefix (lowercase components separated by /, no tag; ${example})`;
  }
  return undefined;
}

function onMirror(text: string, mirror: ImageMirror): boolean {
  return text.startsWith(`${mirror.registry}/`);
}

function mirroredName(ref: ImageReference, mirror: ImageMirror): string {
  return (mirror.layout ?? "host") === "path"
    ? `${mirror.registry}/${ref.path}`
    : `${mirror.registry}/${ref.registry}/${ref.path}`;
}

/**
 * The mirror's name for an image, keeping its path, tag and digest; an image already
 * on the mirror is returned unchanged. `undefined` when `image` is not a reference.
 *
 * @example
 * ```ts
 * mirrorImage("gcr.io/ml-pipeline/api-server:2.0.0", { registry: "mirror.local:5000" });
 * // "mirror.local:5000/gcr.io/ml-pipeline/api-server:2.0.0"
 * mirrorImage("busybox@sha256:" + "a".repeat(64), { registry: "m.io", layout: "path" });
 * // "m.io/library/busybox@sha256:aaaa..."
 * ```
 */
export function mirrorImage(
  image: string,
  mirror: ImageMirror,
): string | undefined {
  if (onMirror(image, mirror)) return image;
  const ref = parseImageReference(image);
  if (!ref) return undefined;
  return formatImageReference({
    ...ref,
    registry: "",
    path: mirroredName(ref, mirror),
  }).slice(1);
}

/**
 * The mirror's name for a repository prefix such as Istio's `hub`
 * (`gcr.io/istio-release`): images named `<prefix>/<name>` then resolve on the
 * mirror. `undefined` when `prefix` is not a repository name.
 */
export function mirrorRepository(
  prefix: string,
  mirror: ImageMirror,
): string | undefined {
  if (onMirror(`${prefix}/`, mirror) || prefix === mirror.registry) {
    return prefix;
  }
  // A stand-in last component keeps Docker Hub's `library/` rule from firing on
  // a one-component prefix (`rocm` is the user `rocm`, not `library/rocm`).
  const ref = parseImageReference(`${prefix}/x`);
  if (!ref || ref.tag !== undefined || ref.digest !== undefined) {
    return undefined;
  }
  return mirroredName(ref, mirror).replace(/\/x$/, "");
}

function isTemplated(text: string): boolean {
  return /\{\{|\$\(|\$\{|\$[A-Z_]/.test(text);
}

/**
 * True when a string outside any image field is still unmistakably an image: a
 * registry host with a dot or port, a path, and a tag or digest (or a well-known
 * registry); URLs and cluster-internal hosts are not.
 */
export function looksLikeImage(text: string): boolean {
  if (text.includes("://") || isTemplated(text)) return false;
  const ref = parseImageReference(text);
  if (
    !ref ||
    ref.registry === DOCKER_HUB && !/^(?:[\w.-]+\.)?docker\.io\//.test(text)
  ) {
    return false;
  }
  if (
    /\.svc(?:\.|:|$)|cluster\.local|^[^/]*\.(?:org|com|io|net)\/v\d/.test(text)
  ) {
    return KNOWN_REGISTRIES.includes(ref.registry) && ref.tag !== undefined;
  }
  return ref.tag !== undefined || ref.digest !== undefined ||
    KNOWN_REGISTRIES.includes(ref.registry);
}

// Strongly image-shaped tokens in free text (scripts, templates, env files).
const TEXT_IMAGE_RE =
  /(?<![\w./:@-])((?:[a-z0-9-]+\.)+[a-z0-9-]+(?::\d+)?\/[a-z0-9._/-]+(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?)/g;

// `image: busybox:1.28` lines of templates (Istio's injection templates).
const TEXT_IMAGE_ENTRY_RE =
  /^[ \t-]*"?image"?\s*:\s*"?([a-z0-9][\w./:@-]*)"?\s*$/gm;

/** Keys whose values are never images themselves, though their names say image. */
function isImageKey(key: string): boolean {
  return /image/i.test(key) &&
    !/(pull|policy|secrets?|tag|version|digest|sha|labels?|annotations?)$/i
      .test(key);
}

/** The keys of a split reference (see `Walker.splitReference`). */
const SPLIT_KEYS = [
  "repository",
  "image",
  "registry",
  "tag",
  "version",
  "digest",
];

/** Keys below an image key whose strings are images too (Jupyter's `image.value`, `image.options[]`). */
const HINT_CARRIERS =
  /^(value|values|options|default|defaults|images|list|items)$/;

const FLAG_RE = /^(--?[\w.-]*image[\w.-]*)=(.*)$/is;
const FLAG_ONLY_RE = /^--?[\w.-]*image[\w.-]*$/i;

type Json = unknown;
type Path = (string | number)[];

function formatPath(path: Path): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** Istio-style scope: bare image names below a `hub` are `<hub>/<name>:<tag>`. */
interface HubScope {
  hub: string;
  mirroredHub: string;
  tag?: string;
}

/** One search over a JSON value, collecting uses and returning the rewritten value. */
class Walker {
  readonly images: ImageUse[] = [];
  readonly notRewritable: UnrewritableImage[] = [];
  constructor(
    private readonly mirror: ImageMirror | undefined,
    private readonly where: string,
  ) {}

  private at(path: Path): string {
    const p = formatPath(path);
    return p ? `${this.where} ${p}` : this.where;
  }

  private map(image: string): string | undefined {
    if (!this.mirror) return parseImageReference(image) ? image : undefined;
    return mirrorImage(image, this.mirror);
  }

  private mapRepository(prefix: string): string | undefined {
    if (!this.mirror) {
      return parseImageReference(`${prefix}/x`) ? prefix : undefined;
    }
    return mirrorRepository(prefix, this.mirror);
  }

  private skip(value: string, path: Path, reason: string): void {
    const where = this.at(path);
    if (
      !this.notRewritable.some((n) => n.value === value && n.where === where)
    ) {
      this.notRewritable.push({ value, where, reason });
    }
  }

  /** A string in an image field: rewritten when it is a reference. */
  hinted(value: string, path: Path, hub?: HubScope): string {
    if (isTemplated(value)) {
      if (/[a-z0-9]\.[a-z]+\/|\//.test(value.replace(/\{\{.*?\}\}/g, ""))) {
        this.skip(
          value,
          path,
          "templated: the reference is completed at runtime, so only its literal parts could be rewritten",
        );
      }
      return value;
    }
    if (hub && !value.includes("/") && parseImageReference(value)) {
      const source = `${hub.hub}/${value}${
        hub.tag && !value.includes(":") ? `:${hub.tag}` : ""
      }`;
      this.images.push({
        source,
        mirror: `${hub.mirroredHub}/${value}${
          hub.tag && !value.includes(":") ? `:${hub.tag}` : ""
        }`,
        where: this.at(path),
      });
      return value;
    }
    const mapped = this.map(value);
    if (mapped === undefined) return value;
    this.images.push({ source: value, mirror: mapped, where: this.at(path) });
    return mapped;
  }

  /** A string outside image fields: reported when it still looks like an image. */
  unhinted(value: string, path: Path): string {
    const flag = value.match(FLAG_RE);
    if (flag) return `${flag[1]}=${this.hinted(flag[2], path)}`;
    const eq = value.indexOf("=");
    const candidate = eq > 0 && value.startsWith("-")
      ? value.slice(eq + 1)
      : value;
    if (looksLikeImage(candidate)) {
      this.skip(
        candidate,
        path,
        "an image-like value outside any image field (not an `image` key, an *IMAGE* variable or an --*image* flag): left as is; rewrite it by hand if it is an image",
      );
    } else if (candidate.length > 60 && /\s/.test(candidate)) {
      this.text(candidate, path);
    }
    return value;
  }

  /** Free text: every strongly image-shaped token and `image:` entry is reported. */
  text(value: string, path: Path): void {
    const reason =
      "inside text that is neither JSON nor YAML (a script or template): not rewritten, as its syntax is unknown";
    for (const m of value.matchAll(TEXT_IMAGE_RE)) {
      if (looksLikeImage(m[1]) && !this.onMirror(m[1])) {
        this.skip(m[1], path, reason);
      }
    }
    for (const m of value.matchAll(TEXT_IMAGE_ENTRY_RE)) {
      if (parseImageReference(m[1]) && !this.onMirror(m[1])) {
        this.skip(m[1], path, reason);
      }
    }
  }

  private onMirror(text: string): boolean {
    return this.mirror !== undefined && onMirror(text, this.mirror);
  }

  /**
   * Walks a whole document. Istio's values keep `hub` and `tag` in `global` and
   * bare image names beside it (`pilot.image: pilot`), so the first `hub` found
   * scopes the whole document.
   */
  document(value: Json): Json {
    const found = findHub(value);
    const mirroredHub = found && this.mapRepository(found.hub);
    return this.visit(
      value,
      [],
      false,
      found && mirroredHub !== undefined
        ? { ...found, mirroredHub }
        : undefined,
    );
  }

  /** Walks any JSON value; `hinted` when an enclosing key names an image. */
  visit(value: Json, path: Path, hinted: boolean, hub?: HubScope): Json {
    if (typeof value === "string") {
      return hinted
        ? this.hinted(value, path, hub)
        : this.unhinted(value, path);
    }
    if (Array.isArray(value)) return this.visitArray(value, path, hinted, hub);
    if (value && typeof value === "object") {
      return this.visitMapping(
        value as Record<string, Json>,
        path,
        hinted,
        hub,
      );
    }
    return value;
  }

  private visitArray(
    value: Json[],
    path: Path,
    hinted: boolean,
    hub?: HubScope,
  ): Json[] {
    let changed = false;
    const out = value.map((item, i) => {
      let next: Json;
      const previous = value[i - 1];
      if (
        !hinted && typeof item === "string" && typeof previous === "string" &&
        FLAG_ONLY_RE.test(previous)
      ) {
        next = this.hinted(item, [...path, i]);
      } else {
        next = this.visit(item, [...path, i], hinted, hub);
      }
      if (next !== item) changed = true;
      return next;
    });
    return changed ? out : value;
  }

  private visitMapping(
    value: Record<string, Json>,
    path: Path,
    hinted: boolean,
    hub?: HubScope,
  ): Record<string, Json> {
    const out: Record<string, Json> = { ...value };
    const handled = new Set<string>();
    let changed = false;
    const split = this.splitReference(out, path);
    if (split !== undefined) {
      changed = split;
      for (const k of SPLIT_KEYS) handled.add(k);
    }
    let scope = hub;
    if (typeof value.hub === "string" && !isTemplated(value.hub)) {
      const mirroredHub = this.mapRepository(value.hub);
      if (mirroredHub !== undefined) {
        scope = {
          hub: value.hub,
          mirroredHub,
          tag: typeof value.tag === "string" ? value.tag : hub?.tag,
        };
        out.hub = mirroredHub;
        changed ||= mirroredHub !== value.hub;
        handled.add("hub");
        handled.add("tag");
      }
    }
    const envName = typeof value.name === "string" && "value" in value
      ? value.name
      : undefined;
    this.markIncompleteSplits(value);
    if (this.incompleteSplits.has(value)) {
      handled.add("image");
      this.skip(
        value.image as string,
        [...path, "image"],
        "an image without its repository, in an object whose other components name repository/image/version: the operator composes it, so set this component's repository",
      );
    }
    for (const [key, child] of Object.entries(value)) {
      if (handled.has(key)) continue;
      if (path.length === 0 && (key === "metadata" || key === "status")) {
        continue;
      }
      // imagePullPolicy, imagePullSecrets, defaultImageVersion: about images, not images.
      if (/image/i.test(key) && !isImageKey(key)) continue;
      const childHinted = isImageKey(key) ||
        hinted && HINT_CARRIERS.test(key) ||
        key === "value" && envName !== undefined && /image/i.test(envName);
      const next = this.visit(child, [...path, key], childHinted, scope);
      if (next !== child) {
        out[key] = next;
        changed = true;
      }
    }
    return changed ? out : value;
  }

  private readonly incompleteSplits = new WeakSet<object>();

  /**
   * Among sibling components that name `repository` + `image` (a ClusterPolicy),
   * a component with a bare `image` and no repository is incomplete, not a Docker
   * Hub image.
   */
  private markIncompleteSplits(value: Record<string, Json>): void {
    const children = Object.values(value).filter((c) =>
      c !== null && typeof c === "object" && !Array.isArray(c)
    ) as Record<string, Json>[];
    const split = children.some((c) =>
      typeof c.repository === "string" && c.repository &&
      typeof c.image === "string"
    );
    if (!split) return;
    for (const c of children) {
      if (
        (c.repository === undefined || c.repository === "") &&
        typeof c.image === "string" &&
        !c.image.includes("/") && !("name" in c)
      ) {
        this.incompleteSplits.add(c);
      }
    }
  }

  /**
   * `repository` (+ `image`, `registry`, `version`/`tag`/`digest`): the GPU
   * operator's ClusterPolicy and Helm values. Rewrites `repository` (or `registry`)
   * in `out`: true when it changed, false when it is on the mirror already,
   * `undefined` when `out` is not such a reference.
   */
  private splitReference(
    out: Record<string, Json>,
    path: Path,
  ): boolean | undefined {
    const repository = out.repository;
    if (
      typeof repository !== "string" || !repository || isTemplated(repository)
    ) {
      return undefined;
    }
    const image = out.image;
    if (
      image !== undefined &&
      (typeof image !== "string" || image.includes("/") || image.includes(":"))
    ) {
      return undefined;
    }
    const registry = typeof out.registry === "string" && out.registry
      ? out.registry
      : undefined;
    const name = [registry, repository, image].filter(Boolean).join("/");
    const ref = parseImageReference(name);
    if (!ref || ref.tag !== undefined || ref.digest !== undefined) {
      return undefined;
    }
    const tag = ["version", "tag"].map((k) => out[k]).find((v) =>
      typeof v === "string" && TAG_RE.test(v)
    ) as string | undefined;
    const digest = typeof out.digest === "string" ? out.digest : undefined;
    const suffix = `${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
    const mapped = this.map(name);
    if (mapped === undefined) return undefined;
    this.images.push({
      source: `${name}${suffix}`,
      mirror: `${mapped}${suffix}`,
      where: this.at([...path, registry ? "registry" : "repository"]),
    });
    if (mapped === name) return false;
    if (registry) {
      // The chart joins registry/repository: the mirror host goes into registry.
      const host = this.mirror!.registry.split("/")[0];
      out.registry = host;
      const rest = mapped.slice(host.length + 1);
      out.repository = image
        ? rest.replace(new RegExp(`/${escapeRegExp(image)}$`), "")
        : rest;
    } else {
      out.repository = image
        ? mapped.replace(new RegExp(`/${escapeRegExp(image)}$`), "")
        : mapped;
    }
    return true;
  }
}

function findHub(value: Json): { hub: string; tag?: string } | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findHub(item);
      if (found) return found;
    }
    return undefined;
  }
  if (!value || typeof value !== "object") return undefined;
  const mapping = value as Record<string, Json>;
  if (
    typeof mapping.hub === "string" && mapping.hub && !isTemplated(mapping.hub)
  ) {
    return {
      hub: mapping.hub,
      ...(typeof mapping.tag === "string" ? { tag: mapping.tag } : {}),
    };
  }
  for (const child of Object.values(mapping)) {
    const found = findHub(child);
    if (found) return found;
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function describe(object: KubeObject): string {
  const ns = object.metadata?.namespace;
  return `${object.kind} ${ns ? `${ns}/` : ""}${object.metadata?.name}`;
}

/** Parses a ConfigMap value as JSON or YAML; `undefined` when it is neither (or a scalar). */
function parseStructured(text: string): Json | undefined {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
      return JSON.parse(trimmed);
    }
  } catch {
    // YAML flow style, or not structured: try YAML.
  }
  if (!/^\s*[\w"'-][^\n]*:(\s|$)|^\s*-\s/m.test(text)) return undefined;
  try {
    const value = parseYamlText(text, { uniqueKeys: false });
    return value && typeof value === "object" ? value : undefined;
  } catch {
    try {
      const docs = text.split(/^---\s*$/m).map((d) =>
        parseYamlText(d, { uniqueKeys: false })
      ).filter((d) => d && typeof d === "object");
      return docs.length > 0 ? docs : undefined;
    } catch {
      return undefined;
    }
  }
}

function replaceTokens(text: string, pairs: Map<string, string>): string {
  let out = text;
  for (const [from, to] of pairs) {
    if (from === to) continue;
    const re = new RegExp(
      `(^|[\\s"'=:,\\[(])${escapeRegExp(from)}(?=$|[\\s"',\\]})])`,
      "gm",
    );
    out = out.replace(re, (_m, lead: string) => `${lead}${to}`);
  }
  return out;
}

/** ConfigMap `data`: image keys directly, structured values parsed, text scanned. */
function visitConfigMapData(
  walker: Walker,
  data: Record<string, string>,
  where: string,
  mirror: ImageMirror | undefined,
): Record<string, string> {
  let changed = false;
  const out: Record<string, string> = { ...data };
  for (const [key, text] of Object.entries(data)) {
    if (typeof text !== "string" || key === "_example") continue;
    const path: Path = ["data", key];
    if (isImageKey(key) && !/\s/.test(text.trim())) {
      const next = walker.hinted(text.trim(), path);
      if (next !== text.trim()) {
        out[key] = text.replace(text.trim(), next);
        changed = true;
      }
      continue;
    }
    const parsed = parseStructured(text);
    if (parsed === undefined) {
      walker.text(text, path);
      continue;
    }
    // Search the parsed document, then rewrite its text token by token, so the
    // document keeps its comments, order and quoting.
    const inner = new Walker(mirror, `${where} ${formatPath(path)}`);
    inner.document(parsed);
    walker.images.push(...inner.images);
    walker.notRewritable.push(...inner.notRewritable);
    const pairs = new Map<string, string>();
    for (const use of inner.images) {
      if (use.source !== use.mirror) pairs.set(use.source, use.mirror);
    }
    for (const [from, to] of splitPairs(parsed, mirror)) pairs.set(from, to);
    if (pairs.size === 0) continue;
    const next = replaceTokens(text, pairs);
    if (next !== text) {
      out[key] = next;
      changed = true;
    }
  }
  return changed ? out : data;
}

/** Field-level rewrites of split references (hub, repository, registry) in a parsed document. */
function splitPairs(
  parsed: Json,
  mirror: ImageMirror | undefined,
): Map<string, string> {
  const pairs = new Map<string, string>();
  if (!mirror) return pairs;
  const walker = new Walker(mirror, "");
  const rewritten = walker.document(parsed);
  collectFieldChanges(parsed, rewritten, pairs);
  return pairs;
}

function collectFieldChanges(
  before: Json,
  after: Json,
  pairs: Map<string, string>,
): void {
  if (before === after) return;
  if (typeof before === "string" && typeof after === "string") {
    pairs.set(before, after);
    return;
  }
  if (
    before && after && typeof before === "object" && typeof after === "object"
  ) {
    for (const key of Object.keys(before as object)) {
      collectFieldChanges(
        (before as Record<string, Json>)[key],
        (after as Record<string, Json>)[key],
        pairs,
      );
    }
  }
}

function scan(
  objects: readonly KubeObject[],
  mirror: ImageMirror | undefined,
): RewriteImagesResult {
  const images: ImageUse[] = [];
  const notRewritable: UnrewritableImage[] = [];
  const out = objects.map((object) => {
    // CRD schemas describe `image` fields; Secrets are not read.
    if (
      object.kind === "CustomResourceDefinition" || object.kind === "Secret"
    ) {
      return object;
    }
    const where = describe(object);
    const walker = new Walker(mirror, where);
    let next = object;
    if (object.kind === "ConfigMap" && object.apiVersion === "v1") {
      const data = object.data as Record<string, string> | undefined;
      if (data) {
        const rewritten = visitConfigMapData(walker, data, where, mirror);
        if (rewritten !== data) next = { ...object, data: rewritten };
      }
    } else {
      next = walker.document(object) as KubeObject;
    }
    images.push(...walker.images);
    notRewritable.push(...walker.notRewritable);
    return next;
  });
  return { objects: out, images, notRewritable };
}

/**
 * Rewrites every image the objects name to `mirror` (see the module docs for what
 * is recognized). Objects are not modified: changed ones are copies.
 *
 * @example
 * ```ts
 * const { objects, images, notRewritable } = rewriteImages(rendered, {
 *   registry: "registry.example.com/mirror",
 * });
 * for (const i of images) console.log(`${i.source} -> ${i.mirror}`);
 * ```
 */
export function rewriteImages(
  objects: readonly KubeObject[],
  mirror: ImageMirror,
): RewriteImagesResult {
  return scan(objects, mirror);
}

/**
 * Finds every image the objects name, without changing anything (`mirror` of each
 * use equals its `source`).
 *
 * @example
 * ```ts
 * const { images } = findImages(rendered);
 * console.log(new Set(images.map((i) => i.source)).size, "images");
 * ```
 */
export function findImages(objects: readonly KubeObject[]): ImageScan {
  const { images, notRewritable } = scan(objects, undefined);
  return { images, notRewritable };
}

/** {@linkcode rewriteDocument}'s result. */
export interface RewriteDocumentResult extends ImageScan {
  /** The document with its images on the mirror (a copy where something changed). */
  value: unknown;
}

/**
 * Rewrites the images of any JSON document by the same rules as objects, e.g. a
 * Helm chart's values (`image.repository` + `image.tag`, `image: full/ref`).
 *
 * @example
 * ```ts
 * const { value } = rewriteDocument(
 *   { image: { repository: "quay.io/metallb/controller", tag: "v0.15.3" } },
 *   { registry: "mirror.local:5000" },
 * );
 * // { image: { repository: "mirror.local:5000/quay.io/metallb/controller", tag: "v0.15.3" } }
 * ```
 */
export function rewriteDocument(
  value: unknown,
  mirror: ImageMirror,
  where = "values",
): RewriteDocumentResult {
  const walker = new Walker(mirror, where);
  const out = walker.document(value);
  return {
    value: out,
    images: walker.images,
    notRewritable: walker.notRewritable,
  };
}

/** Kinds whose pod spec kfplan attaches pull secrets to, and where it is. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ["spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  ReplicationController: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** {@linkcode attachPullSecret}'s result. */
export interface AttachPullSecretResult {
  /** The objects, copies where a pull secret was added. */
  objects: KubeObject[];
  /** Namespaces whose pods now reference the secret (it must exist there), sorted. */
  namespaces: string[];
}

/**
 * Adds `imagePullSecrets: [{name}]` to the pod spec of every built-in workload
 * (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
 * CronJob), and `imagePullSecrets: [name]` to every component of an NVIDIA
 * ClusterPolicy that names a repository, and says which namespaces need the Secret.
 * Pod specs rather than ServiceAccounts: the `default` ServiceAccount belongs to the
 * API server, and a pod spec holds whichever account the pod runs as.
 *
 * @example
 * ```ts
 * const { objects, namespaces } = attachPullSecret(rendered, "kfplan-registry");
 * ```
 */
export function attachPullSecret(
  objects: readonly KubeObject[],
  name: string,
): AttachPullSecretResult {
  const namespaces = new Set<string>();
  const out = objects.map((object) => {
    const path = POD_SPEC_PATHS[object.kind];
    if (path) {
      const copy = structuredClone(object) as Record<string, Json>;
      let spec: Record<string, Json> | undefined = copy;
      for (const p of path) {
        spec = spec?.[p] as Record<string, Json> | undefined;
      }
      if (!spec || typeof spec !== "object") return object;
      const list = (spec.imagePullSecrets ?? []) as { name?: string }[];
      if (object.metadata?.namespace) namespaces.add(object.metadata.namespace);
      if (list.some((s) => s.name === name)) return object;
      spec.imagePullSecrets = [...list, { name }];
      return copy as unknown as KubeObject;
    }
    if (object.kind === "ClusterPolicy" && object.spec) {
      const copy = structuredClone(object);
      let changed = false;
      for (
        const component of Object.values(copy.spec as Record<string, Json>)
      ) {
        if (
          component && typeof component === "object" &&
          typeof (component as Record<string, Json>).repository === "string"
        ) {
          const c = component as Record<string, Json>;
          const list = (c.imagePullSecrets ?? []) as string[];
          if (!list.includes(name)) {
            c.imagePullSecrets = [...list, name];
            changed = true;
          }
        }
      }
      return changed ? copy : object;
    }
    return object;
  });
  return { objects: out, namespaces: [...namespaces].sort() };
}

/**
 * A `kubernetes.io/dockerconfigjson` Secret holding a registry login.
 *
 * @example
 * ```ts
 * pullSecretObject("kfplan-registry", "kubeflow", '{"auths":{}}');
 * ```
 */
export function pullSecretObject(
  name: string,
  namespace: string,
  dockerConfigJson: string,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      labels: { "app.kubernetes.io/managed-by": "kfplan" },
    },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": base64(dockerConfigJson) },
  };
}

/** Base64 of the UTF-8 bytes of `text` (`btoa` takes Latin-1 only). */
export function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}
