package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// serverPackages are the module's own packages the server binary may link.
var serverPackages = []string{
	"", "access", "account", "argon2", "authn", "blocklist", "forwardauth", "docs", "emaillink", "http", "mail", "memory", "mfa", "postgres", "redis",
	"refresh", "revocation", "session", "sqlite", "token", "web", "cmd/gatehouse", "internal/schema",
	"internal/shardmap", "internal/httpauth", "internal/heapfloor", "oidc",
}

// serverModules are the other modules the server binary may link: what serving needs. The
// benchmark (charts, fonts, PDF) and the shop demo live in their own commands
// (cmd/gatehouse-bench, cmd/gatehouse-shop); adding a module here makes every cold
// "go run ./cmd/gatehouse serve" download and build it, so measure before you do.
var serverModules = []string{
	"github.com/beorn7/perks", "github.com/cespare/xxhash/v2", "github.com/dustin/go-humanize",
	"github.com/golang-jwt/jwt/v5", "github.com/google/uuid", "github.com/jackc/pgpassfile",
	"github.com/jackc/pgservicefile", "github.com/jackc/pgx/v5", "github.com/jackc/puddle/v2",
	"github.com/munnerz/goautoneg", "github.com/prometheus/client_golang",
	"github.com/prometheus/client_model", "github.com/prometheus/common",
	"github.com/prometheus/procfs", "github.com/redis/rueidis", "github.com/remyoudompheng/bigfft",
	"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/wneessen/go-mail", "golang.org/x/crypto", "golang.org/x/sync",
	"golang.org/x/crypto/x509roots/fallback", "golang.org/x/sys", "golang.org/x/text", "google.golang.org/protobuf", "modernc.org/libc",
	"modernc.org/mathutil", "modernc.org/memory", "modernc.org/sqlite",
	// The configuration file's parser (configfile.go): pure Go with no dependencies of its own,
	// already in the module graph (testify's); it adds 0.5 MB (1%) to the binary.
	"go.yaml.in/yaml/v3",
	// Second factors (mfa.go): TOTP (pquerna/otp, which brings boombuler/barcode) and WebAuthn
	// (go-webauthn and what it needs to decode authenticator data and attestations). Together
	// they add 3.5 MB (7%) to the binary: 48.6 MB before, 52.1 MB after (go build ./cmd/gatehouse).
	"github.com/pquerna/otp", "github.com/boombuler/barcode",
	"github.com/go-webauthn/webauthn", "github.com/go-webauthn/x", "github.com/fxamacker/cbor/v2",
	"github.com/x448/float16", "github.com/go-viper/mapstructure/v2", "github.com/google/go-tpm",
	"github.com/tinylib/msgp", "github.com/philhofer/fwd",
	// The OpenID Provider (package oidc) is built on zitadel/oidc's op package, which brings
	// go-jose, chi, gorilla/securecookie, rs/cors, OpenTelemetry's API and a few small modules:
	// together 2.8 MB (5%) more binary (52.7 to 55.5 MB, Go 1.26.8, linux/amd64).
	"github.com/zitadel/oidc/v3", "github.com/zitadel/schema", "github.com/go-jose/go-jose/v4",
	"github.com/go-chi/chi/v5", "github.com/gorilla/securecookie", "github.com/rs/cors",
	"github.com/bmatcuk/doublestar/v4", "github.com/muhlemmer/gu", "github.com/muhlemmer/httpforwarded",
	"github.com/go-logr/logr", "github.com/go-logr/stdr", "go.opentelemetry.io/auto/sdk",
	"go.opentelemetry.io/otel", "go.opentelemetry.io/otel/metric", "go.opentelemetry.io/otel/trace",
	"golang.org/x/oauth2",
}

// TestServerBinaryDependencies keeps the server binary lean: every package it links is one of
// the module's serving packages, the standard library, or in a module of serverModules.
func TestServerBinaryDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/gatehouse-auth/gatehouse"
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pkg, mod, _ := strings.Cut(sc.Text(), " ")
		switch {
		case mod == "":
			// the standard library
		case mod == self:
			seen++
			rel := strings.TrimPrefix(strings.TrimPrefix(pkg, self), "/")
			if !slices.Contains(serverPackages, rel) {
				t.Errorf("the server binary links %s: only serving packages belong in it (deps_test.go)", pkg)
			}
		case !slices.Contains(serverModules, mod):
			t.Errorf("the server binary links %s from module %s, which is not in serverModules (deps_test.go)", pkg, mod)
		}
	}
	if seen < 5 {
		t.Fatalf("only %d of the module's packages listed; go list output looks wrong:\n%s", seen, out)
	}
}
