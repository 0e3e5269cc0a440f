package main

import "testing"

func TestInteropConfigurationRefused(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", dir, "--introspection-secret", "too short"},
		{"serve", "--data", dir, "--introspection-client-id", ""},
	} {
		if _, _, err := run(t, "", append(args, fastHash...)...); err == nil {
			t.Errorf("%v started", args)
		}
	}
}
