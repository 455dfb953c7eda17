/**
 * kfplan's third-party dependencies, pinned here and nowhere else.
 *
 * Every module imports them through this file with a relative path, never through
 * bare specifiers: a script in another project that imports kfplan's `mod.ts` (by
 * path, `file://` or an https URL) has its own import map, not kfplan's, so a bare
 * `"zod"` would not resolve there. Why each library was chosen is in the README.
 *
 * @module
 */

export { z } from "npm:zod@4.6.7";
export {
  parse as parseYaml,
  parseAllDocuments,
  parseDocument,
  stringify as stringifyYaml,
} from "npm:yaml@2.9.1";
export { default as bcrypt } from "npm:bcryptjs@3.0.3";
export { KubeConfig } from "npm:@kubernetes/client-node@2.0.1";
export { default as minimist } from "npm:minimist@1.2.8";
export { parse as parseToml } from "npm:smol-toml@1.9.1";
export { default as ipaddr } from "npm:ipaddr.js@2.5.0";
export { default as mysql } from "npm:mysql2@3.24.5/promise";
export { AwsClient } from "npm:aws4fetch@1.0.20";
