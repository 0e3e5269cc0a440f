package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/apispec"
)

// checkedClient returns an http.Client (10 s timeout, no cookie jar) whose every exchange is
// checked against docs/openapi.yaml: a mismatch fails t.
func checkedClient(t testing.TB) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: apispec.Must(t).Transport(t, nil)}
}
