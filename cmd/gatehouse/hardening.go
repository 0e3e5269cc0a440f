package main

import (
	"fmt"
	"net/netip"

	"github.com/spf13/pflag"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/memory"
)

// hardeningConfig is the configuration of brute-force and abuse limits.
type hardeningConfig struct {
	TrustedProxies string
	LoginThrottle  bool
	ThrottleKeys   int

	proxies []netip.Prefix // parsed TrustedProxies
}

// hardeningFlags are the flags of throttling and client addresses, a block of their own.
func (c *config) hardeningFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.hardening.TrustedProxies, "trusted-proxies", "", "comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-For is believed (rightmost untrusted address is the client); default none: the TCP peer is the client")
	fs.BoolVar(&c.hardening.LoginThrottle, "login-throttle", true, "throttle failed logins per account, per account and address, and per address, and failed credentials per address (429 with Retry-After)")
	fs.IntVar(&c.hardening.ThrottleKeys, "throttle-max-keys", memory.DefaultThrottleKeys, "most accounts and addresses the in-process throttle remembers (bounds its memory)")
}

func (c *config) validateHardening() error {
	p, err := ghttp.ParseTrustedProxies(c.hardening.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies %q: %w", c.hardening.TrustedProxies, err)
	}
	c.hardening.proxies = p
	if c.hardening.ThrottleKeys < 1 {
		return fmt.Errorf("--throttle-max-keys must be at least 1")
	}
	return nil
}

// throttle returns the configured throttle, or nil when throttling is off.
func (a *app) throttle() *memory.Throttle {
	if !a.cfg.hardening.LoginThrottle {
		return nil
	}
	return memory.NewThrottle(memory.ThrottleOptions{Now: a.now, MaxKeys: a.cfg.hardening.ThrottleKeys})
}
