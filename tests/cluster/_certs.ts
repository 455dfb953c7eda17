/**
 * Certificates via the `openssl` CLI, moved to `sim/_certs.ts` (exported by
 * `sim/harness.ts`).
 *
 * @module
 */

export {
  type ClusterPki,
  generateCa,
  generatePki,
  issueCert,
  type IssueCertOptions,
} from "../../sim/harness.ts";
