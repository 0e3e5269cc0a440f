package main

import (
	"os"
	"strings"
	"testing"
)

// TestConfigurationReferenceIsCurrent fails when docs/configuration.md differs from what the
// flags say: run "go generate ./cmd/gatehouse" after changing a flag.
func TestConfigurationReferenceIsCurrent(t *testing.T) {
	want, _, err := run(t, "", "docs", "config")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/configuration.md is out of date with the flags: run go generate ./cmd/gatehouse")
	}
	for _, s := range []string{"## gatehouse serve", "`--session-store`", "`GATEHOUSE_SESSION_STORE`", "## gatehouse user add",
		"GATEHOUSE_ADMIN_PASSWORD", "the number of CPUs"} {
		if !strings.Contains(want, s) {
			t.Errorf("the reference lacks %q", s)
		}
	}
}
