/**
 * Certificates for the test control plane, made with the `openssl` CLI: one CA, the
 * API server's serving certificate, an admin client certificate in `system:masters`,
 * a front-proxy client certificate (aggregated APIs) and the service-account key pair.
 * EC P-256 keys keep generation fast on a busy machine.
 *
 * @module
 */

/** Paths of the generated PKI files. */
export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  frontProxyCert: string;
  frontProxyKey: string;
  saKey: string;
  saPub: string;
}

/** Runs the `openssl` CLI in `cwd`; an error names the command and its stderr. */
export async function openssl(args: string[], cwd: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, cwd, stdin: "null" })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "the test control plane needs the openssl CLI to make certificates (apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/**
 * Makes an EC P-256 key `<dir>/<name>.key` and a signing request `<dir>/<name>.csr`
 * for `subject` (an openssl `-subj`, e.g. `/CN=x/O=y`).
 */
export async function newKeyAndCsr(
  dir: string,
  name: string,
  subject: string,
): Promise<void> {
  await openssl([
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ], dir);
}

/** Options for {@linkcode issueCert}. */
export interface IssueCertOptions {
  /** Subject CN. */
  commonName: string;
  /** Subject O (Kubernetes group), e.g. `system:masters`. */
  organization?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: ("server" | "client")[];
}

/**
 * Issues a key and certificate signed by the CA in `pki`, written as
 * `<dir>/<name>.{crt,key}`; returns the paths.
 */
export async function issueCert(
  pki: Pick<ClusterPki, "caCert" | "caKey">,
  target: { dir: string; name: string },
  options: IssueCertOptions,
): Promise<{ cert: string; key: string }> {
  const { dir, name } = target;
  const subject = `/CN=${options.commonName}${
    options.organization ? `/O=${options.organization}` : ""
  }`;
  const sans = [
    ...(options.dnsNames ?? []).map((d) => `DNS:${d}`),
    ...(options.ipAddresses ?? []).map((ip) => `IP:${ip}`),
  ];
  const eku = options.usage.map((u) =>
    u === "server" ? "serverAuth" : "clientAuth"
  );
  const ext = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${eku.join(",")}`,
    ...(sans.length ? [`subjectAltName=${sans.join(",")}`] : []),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext + "\n");
  await newKeyAndCsr(dir, name, subject);
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    pki.caCert,
    "-CAkey",
    pki.caKey,
    // Random serials: parallel issuers would race on a shared serial file.
    "-set_serial",
    "0x" +
    Array.from(
      crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(""),
    "-days",
    "365",
    "-sha256",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ], dir);
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}

/**
 * Creates a self-signed CA (`<dir>/ca.crt`, `<dir>/ca.key`), e.g. for a test webhook
 * server whose `caBundle` is this certificate.
 */
export async function generateCa(
  dir: string,
  options: { commonName?: string } = {},
): Promise<Pick<ClusterPki, "caCert" | "caKey">> {
  await Deno.mkdir(dir, { recursive: true });
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "365",
    "-subj",
    `/CN=${options.commonName ?? "kfplan-test-ca"}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ], dir);
  return { caCert: `${dir}/ca.crt`, caKey: `${dir}/ca.key` };
}

/** Options for {@linkcode generatePki}. */
export interface GeneratePkiOptions {
  /** More IP addresses the API server's certificate is valid for. */
  ipAddresses?: string[];
}

/** Creates a fresh CA, serving, client and service-account keys in `dir`. */
export async function generatePki(
  dir: string,
  options: GeneratePkiOptions = {},
): Promise<ClusterPki> {
  const ca = await generateCa(dir);
  const [server, admin, frontProxy] = await Promise.all([
    issueCert(ca, { dir, name: "apiserver" }, {
      commonName: "kube-apiserver",
      dnsNames: [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      ipAddresses: ["127.0.0.1", "10.96.0.1", ...(options.ipAddresses ?? [])],
      usage: ["server", "client"],
    }),
    issueCert(ca, { dir, name: "admin" }, {
      commonName: "kfplan-admin",
      organization: "system:masters",
      usage: ["client"],
    }),
    issueCert(ca, { dir, name: "front-proxy-client" }, {
      commonName: "front-proxy-client",
      usage: ["client"],
    }),
  ]);
  await openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-out",
    "sa.key",
  ], dir);
  await openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  return {
    dir,
    ...ca,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    frontProxyCert: frontProxy.cert,
    frontProxyKey: frontProxy.key,
    saKey: `${dir}/sa.key`,
    saPub: `${dir}/sa.pub`,
  };
}
