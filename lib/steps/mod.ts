/**
 * The shipped steps, one module per capability. Each exports a factory
 * (`xxxStep(options, { source, prefix, baseDir })`), its zod options schema and its
 * step id.
 *
 * @module
 */

export * from "./storage.ts";
export * from "./metallb.ts";
export * from "./helm_release.ts";
export * from "./nvidia_toolkit.ts";
export * from "./gpu_operator.ts";
export * from "./time_slicing.ts";
export * from "./amd_gpu.ts";
export * from "./users.ts";
export * from "./kubeflow/mod.ts";
export * from "./probe.ts";
