package browsertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of stopping the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestFindHonoursTheOverride(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh in PATH")
	}
	t.Setenv(EnvVar, sh)
	if got, err := Find(); err != nil || got != sh {
		t.Fatalf("Find with %s=%s: %q, %v", EnvVar, sh, got, err)
	}
	// An override that names nothing is an error, not a silent fall-back to another browser.
	t.Setenv(EnvVar, "/nonexistent/chromium-of-the-test")
	if got, err := Find(); err == nil || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("Find with a missing override: %q, %v", got, err)
	}
}

func TestExeSkipsWithoutChromiumAndFailsUnderCI(t *testing.T) {
	t.Setenv(EnvVar, "/nonexistent/chromium-of-the-test")
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	Exe(r)
	if r.failed != "" || !strings.Contains(r.skipped, "skipping the browser test") {
		t.Fatalf("without CI: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	Exe(r)
	if r.skipped != "" || !strings.Contains(r.failed, "CI is set") {
		t.Fatalf("with CI: skipped %q, failed %q", r.skipped, r.failed)
	}
}

func TestMapDomain(t *testing.T) {
	got := MapDomain("example.test")
	want := "MAP example.test 127.0.0.1 , MAP *.example.test 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
	if got != want {
		t.Fatalf("MapDomain: %q, want %q", got, want)
	}
	if !errors.Is(ErrNotFound, ErrNotFound) || !strings.Contains(ErrNotFound.Error(), "apt-get install chromium") {
		t.Fatal("ErrNotFound does not say how to install chromium")
	}
}

// TestTabsAreSeparateDevices starts the real browser on a mapped domain: a cookie set in one
// tab is not sent by another tab, and a host outside the mapped domain does not resolve.
func TestTabsAreSeparateDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped by -short: starts chromium")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "device", Value: "one", Path: "/"})
		}
		c, _ := r.Cookie("device")
		v := "none"
		if c != nil {
			v = c.Value
		}
		fmt.Fprintf(w, "<p id=v>%s host=%s</p>", v, r.Host)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	var shared Shared
	shared.Options.HostResolverRules = MapDomain("example.test")
	t.Cleanup(shared.Stop)
	browser := shared.Browser(t)
	one, two := Tab(t, browser, 0), Tab(t, browser, 0)
	if _, err := chromedp.RunResponse(one, chromedp.Navigate("http://app.example.test:"+port+"/set")); err != nil {
		t.Fatal(err)
	}
	read := func(tab context.Context) (string, error) {
		if err := chromedp.Do(tab, chromedp.Navigate("http://app.example.test:"+port+"/")); err != nil {
			return "", err
		}
		return chromedp.Run(tab, chromedp.Text(chromedp.CSS("#v"), chromedp.NodeVisible))
	}
	got, err := read(one)
	if err != nil || got != "one host=app.example.test:"+port {
		t.Fatalf("first tab reads %q, %v", got, err)
	}
	got, err = read(two)
	if err != nil || got != "none host=app.example.test:"+port {
		t.Fatalf("second tab reads %q, %v: the cookie leaked between browser contexts", got, err)
	}
	if _, err := chromedp.RunResponse(two, chromedp.Navigate("http://elsewhere.invalid:"+port+"/")); err == nil {
		t.Fatal("a host outside the mapped domain resolved")
	}
}
