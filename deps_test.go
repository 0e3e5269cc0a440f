package gatehouse_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gatehouse-auth/gatehouse"

// layers says which of the module's own packages each package may import. The root package
// holds the domain; adapters import only the root (and their drivers), never each other;
// services never import an adapter; the use cases (authn) import the root and the logic
// packages, never a transport; the transports (http, web) import the use cases and no adapter;
// only cmd/ wires everything.
var layers = map[string][]string{
	"":                      {},
	"argon2":                {""},
	"account":               {""},
	"blocklist":             {},
	"session":               {"", "internal/shardmap"},
	"refresh":               {""},
	"token":                 {"", "internal/shardmap"},
	"revocation":            {"", "internal/shardmap"},
	"memory":                {"", "internal/shardmap"},
	"sqlite":                {"", "internal/schema"},
	"redis":                 {""},
	"postgres":              {"", "internal/schema"},
	"authn":                 {"", "account", "emaillink", "session", "refresh", "token", "mfa"},
	"http":                  {"", "account", "authn", "mfa", "token", "docs", "internal/httpauth"},
	"web":                   {"", "access", "account", "authn", "emaillink", "http"},
	"verify":                {"", "token", "internal/httpauth"},
	"access":                {""},
	"forwardauth":           {"", "access", "internal/shardmap"},
	"oidc":                  {"", "authn", "http", "refresh", "token"},
	"mail":                  {""},
	"emaillink":             {""},
	"internal/storetest":    {"", "internal/testkit"},
	"internal/smtptest":     {},
	"internal/testkit":      {},
	"internal/schema":       {},
	"internal/shardmap":     {},
	"internal/heapfloor":    {},
	"internal/httpauth":     {""},
	"internal/fuzzhttp":     {"internal/testkit"},
	"internal/redistest":    {"", "internal/testkit"},
	"internal/apispec":      {"docs"},
	"docs":                  {},
	"bench":                 {"", "token"},
	"mfa":                   {""},
	"internal/webauthntest": {},
	"internal/browsertest":  {},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "examples/") || strings.HasPrefix(rel, "scripts/") {
			continue
		}
		allowed, ok := layers[rel]
		if !ok {
			t.Errorf("package %q has no entry in the dependency rule (deps_test.go): add one", rel)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			checkImport(t, rel, imp, allowed)
		}
	}
	if seen < 5 {
		t.Fatalf("checked only %d packages; go list output looks wrong", seen)
	}
}

func checkImport(t *testing.T, from, imp string, allowed []string) {
	t.Helper()
	if !strings.HasPrefix(imp, module) {
		if from == "" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			t.Errorf("root package imports %s: the domain package uses the standard library only", imp)
		}
		return
	}
	target := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
	for _, a := range allowed {
		if a == target {
			return
		}
	}
	t.Errorf("%q imports %q: not allowed by the dependency rule", from, target)
}
