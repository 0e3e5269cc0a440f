// Package browsertest finds and starts Debian's headless chromium for the module's chromedp
// browser tests, so that every package starts it the same way.
//
// Without chromium a test skips with a message that says how to install it; when the CI
// variable is set it fails instead, so that a CI run never passes by skipping the browser.
// GATEHOUSE_CHROMIUM names another binary (an absolute path or a name looked up in PATH).
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvVar names the environment variable that overrides where chromium is found.
const EnvVar = "GATEHOUSE_CHROMIUM"

// LocalOnly is the default host resolver rule: every host name fails to resolve, so the
// browser reaches only addresses given as 127.0.0.1 and nothing leaves the machine.
const LocalOnly = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"

// DefaultTimeout bounds a browser started by Start and a tab opened by Tab when the caller
// gives no timeout.
const DefaultTimeout = 2 * time.Minute

// ErrNotFound is returned by Find when no chromium binary is installed.
var ErrNotFound = errors.New("chromium is not installed (apt-get install chromium, or set " + EnvVar + ")")

// candidates are the names tried after GATEHOUSE_CHROMIUM, in order.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser"}

// Find returns the path of the chromium binary: GATEHOUSE_CHROMIUM when set (an error if it
// names nothing runnable, rather than silently taking another browser), else Debian's
// /usr/bin/chromium, else chromium or chromium-browser in PATH. It returns ErrNotFound when
// there is none.
func Find() (string, error) {
	if name := os.Getenv(EnvVar); name != "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvVar, name, err)
		}
		return p, nil
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// Exe returns the chromium binary, or skips the test when there is none; with CI set it fails
// the test instead.
func Exe(tb testing.TB) string {
	tb.Helper()
	p, err := Find()
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("the browser test needs chromium and CI is set, so this fails: %v", err)
		return ""
	}
	tb.Skipf("skipping the browser test: %v", err)
	return ""
}

// Options adjust the browser that Start and Launch run. The zero value is a headless browser
// that reaches only 127.0.0.1.
type Options struct {
	// HostResolverRules is chromium's --host-resolver-rules; empty means LocalOnly. MapDomain
	// builds the rules of a test that browses subdomains.
	HostResolverRules string
	// Timeout bounds the browser context returned by Start; zero means DefaultTimeout.
	Timeout time.Duration
}

// MapDomain returns host resolver rules that send domain and all its subdomains to 127.0.0.1
// and nothing else anywhere.
func MapDomain(domain string) string {
	return "MAP " + domain + " 127.0.0.1 , MAP *." + domain + " 127.0.0.1 , " + LocalOnly
}

// allocatorOptions are chromium's flags: headless (chromedp's defaults), a profile of its own,
// no sandbox (tests run as root in CI), and none of the background traffic a desktop browser
// makes on its own.
func allocatorOptions(exe, profile string, o Options) []chromedp.ExecAllocatorOption {
	rules := o.HostResolverRules
	if rules == "" {
		rules = LocalOnly
	}
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", rules),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater,HttpsUpgrades"),
	)
}

// Launch starts chromium at exe with a fresh profile and returns its browser context and the
// function that stops it and removes the profile. It is for a browser shared by a package's
// tests (see Shared); a single test uses Start.
func Launch(exe string, o Options) (context.Context, func(), error) {
	profile, err := os.MkdirTemp("", "gatehouse-chromium-")
	if err != nil {
		return nil, nil, err
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocatorOptions(exe, profile, o)...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	stop := func() { cancelBrowser(); cancelAlloc(); os.RemoveAll(profile) }
	if err := chromedp.Do(browser); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting chromium %s: %w", exe, err)
	}
	return browser, stop, nil
}

// Start starts a headless chromium for one test (skipping or failing as Exe does when there
// is none) and stops it when the test ends. The returned context is the browser's first tab,
// bounded by o.Timeout.
func Start(tb testing.TB, o Options) context.Context {
	tb.Helper()
	browser, stop, err := Launch(Exe(tb), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return bounded(tb, browser, o.Timeout)
}

// Tab opens a tab in a browser context of its own (its own cookies and storage, like another
// device) in browser, closed when the test ends and bounded by timeout (zero means
// DefaultTimeout).
func Tab(tb testing.TB, browser context.Context, timeout time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb.Cleanup(cancel)
	return bounded(tb, ctx, timeout)
}

func bounded(tb testing.TB, ctx context.Context, timeout time.Duration) context.Context {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	tb.Cleanup(cancel)
	return ctx
}

// Shared is one chromium for all the browser tests of a package, started by the first test
// that asks for it; each test then works in tabs of its own (Tab), so nothing leaks between
// tests. The package's TestMain calls Stop after m.Run. The zero value is ready to use.
type Shared struct {
	// Options are read once, when the browser starts.
	Options Options

	once    sync.Once
	browser context.Context
	stop    func()
	err     error
}

// Browser returns the shared browser context, starting chromium at the first call (skipping
// or failing as Exe does when there is none).
func (s *Shared) Browser(tb testing.TB) context.Context {
	tb.Helper()
	exe := Exe(tb)
	s.once.Do(func() { s.browser, s.stop, s.err = Launch(exe, s.Options) })
	if s.err != nil {
		tb.Fatal(s.err)
	}
	return s.browser
}

// Stop stops the shared chromium, if it was started.
func (s *Shared) Stop() {
	if s.stop != nil {
		s.stop()
	}
}
