package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	addr, stop := startServe(t)
	for _, args := range [][]string{{"--addr", addr}, {"--addr", addr, "--ready"}} {
		out, _, err := run(t, "", append([]string{"healthcheck"}, args...)...)
		if err != nil || !strings.Contains(out, "200 OK") {
			t.Fatalf("healthcheck %v: %q %v", args, out, err)
		}
	}
	// An unspecified host is this machine.
	_, port, _ := net.SplitHostPort(addr)
	if _, _, err := run(t, "", "healthcheck", "--addr", "0.0.0.0:"+port); err != nil {
		t.Fatalf("healthcheck on 0.0.0.0: %v", err)
	}
	stop()
	if _, _, err := run(t, "", "healthcheck", "--addr", addr, "--timeout", "1s"); !errors.Is(err, errUnhealthy) {
		t.Fatalf("healthcheck of a stopped server: %v", err)
	}
}

func TestHealthcheckFailsOnAnythingBut200(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusNotFound, http.StatusFound} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", status) // a redirect is not followed into a 200 either
		}))
		_, _, err := run(t, "", "healthcheck", "--addr", strings.TrimPrefix(srv.URL, "http://"))
		srv.Close()
		if !errors.Is(err, errUnhealthy) {
			t.Errorf("status %d: %v", status, err)
		}
	}
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsSrv.Close()
	if _, _, err := run(t, "", "healthcheck", "--addr", strings.TrimPrefix(tlsSrv.URL, "https://"), "--tls-cert", "cert.pem"); err != nil {
		t.Errorf("HTTPS probe: %v", err)
	}
	for _, args := range [][]string{{"--addr", "no port"}, {"--timeout", "0s"}} {
		if _, _, err := run(t, "", append([]string{"healthcheck"}, args...)...); err == nil || errors.Is(err, errUnhealthy) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
