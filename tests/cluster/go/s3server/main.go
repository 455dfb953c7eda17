// Command s3server is the S3-compatible server kfplan's tests check buckets
// against: gofakes3's S3 protocol over an in-memory store, behind AWS Signature
// Version 4 verification (gofakes3 accepts any signature, so a wrong secret key
// would go unnoticed without it). It listens on loopback and prints its address.
//
//	s3server -listen 127.0.0.1:0 -identity AKID:SECRET -identity RO:SECRET:ro -bucket mlpipeline
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// identity is one access key the server knows; readOnly ones may only read.
type identity struct {
	secret   string
	readOnly bool
}

type identities map[string]identity

func (ids identities) String() string { return fmt.Sprint(len(ids)) }

func (ids identities) Set(v string) error {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("identity is ACCESS_KEY:SECRET_KEY[:ro], got %q", v)
	}
	ids[parts[0]] = identity{secret: parts[1], readOnly: len(parts) == 3 && parts[2] == "ro"}
	return nil
}

type buckets []string

func (b *buckets) String() string     { return strings.Join(*b, ",") }
func (b *buckets) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	ids := identities{}
	var initial buckets
	flag.Var(ids, "identity", "ACCESS_KEY:SECRET_KEY[:ro] (repeatable)")
	flag.Var(&initial, "bucket", "bucket to create at start (repeatable)")
	flag.Parse()
	if len(ids) == 0 {
		log.Fatal("s3server: give at least one -identity")
	}
	backend := s3mem.New()
	for _, b := range initial {
		if err := backend.CreateBucket(b); err != nil {
			log.Fatalf("s3server: bucket %s: %v", b, err)
		}
	}
	faker := gofakes3.New(backend, gofakes3.WithIntegrityCheck(true))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, verified(ids, faker.Server())))
}

func fail(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: message})
}

// verified accepts only requests signed (AWS4-HMAC-SHA256, Authorization header)
// with a known key pair, and writes only from keys that are not read-only.
func verified(ids identities, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		const algo = "AWS4-HMAC-SHA256 "
		if !strings.HasPrefix(auth, algo) {
			fail(w, "AccessDenied", "anonymous access is not allowed")
			return
		}
		fields := map[string]string{}
		for _, f := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			fields[k] = v
		}
		scope := strings.SplitN(fields["Credential"], "/", 2)
		if len(scope) != 2 {
			fail(w, "AuthorizationHeaderMalformed", "no Credential")
			return
		}
		id, ok := ids[scope[0]]
		if !ok {
			fail(w, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
			return
		}
		want := signature(r, id.secret, scope[1], fields["SignedHeaders"])
		if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
			fail(w, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
			return
		}
		if id.readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			fail(w, "AccessDenied", "Access Denied")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// encode is SigV4's URI encoding: every byte but unreserved characters as %XX.
func encode(s string, keepSlash bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// signature computes the request's SigV4 signature as the client should have.
func signature(r *http.Request, secret, scope, signedHeaders string) string {
	query, _ := url.ParseQuery(r.URL.RawQuery)
	var pairs []string
	for k, vs := range query {
		for _, v := range vs {
			pairs = append(pairs, encode(k, false)+"="+encode(v, false))
		}
	}
	sort.Strings(pairs)
	var headers strings.Builder
	for _, h := range strings.Split(signedHeaders, ";") {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{
		r.Method, encode(path, true), strings.Join(pairs, "&"),
		headers.String(), signedHeaders, r.Header.Get("X-Amz-Content-Sha256"),
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + r.Header.Get("X-Amz-Date") + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secret)
	for _, part := range strings.Split(scope, "/") {
		key = hmacSHA256(key, part)
	}
	return hex.EncodeToString(hmacSHA256(key, toSign))
}
