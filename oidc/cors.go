package oidc

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// corsRefresh is how long the set of allowed browser origins is reused before the client
// store is read again: a newly registered single-page app may wait this long.
const corsRefresh = 30 * time.Second

// maxCORSClients bounds the clients read to build the set.
const maxCORSClients = 10_000

// corsOrigins is the set of origins a browser may call the token and userinfo endpoints from:
// the origins (scheme://host[:port]) of the redirect URIs of the public clients, which run in
// the browser. It is rebuilt from the client store at most every corsRefresh.
type corsOrigins struct {
	clients gatehouse.ClientStore
	now     func() time.Time

	mu      sync.Mutex
	built   time.Time
	origins map[string]bool
}

// allowed reports whether origin may call the endpoints; false when the store cannot tell.
func (c *corsOrigins) allowed(ctx context.Context, origin string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.origins == nil || c.now().Sub(c.built) >= corsRefresh {
		set, err := c.load(ctx)
		if err != nil {
			return false
		}
		c.origins, c.built = set, c.now()
	}
	return c.origins[origin]
}

func (c *corsOrigins) load(ctx context.Context) (map[string]bool, error) {
	set := map[string]bool{}
	after := ""
	for n := 0; n < maxCORSClients; {
		page, err := c.clients.ListClients(ctx, after, 100)
		if err != nil {
			return nil, err
		}
		for _, cl := range page {
			if cl.Public {
				for _, r := range cl.RedirectURIs {
					if o := originOf(r); o != "" {
						set[o] = true
					}
				}
			}
		}
		if len(page) < 100 {
			break
		}
		n += len(page)
		after = page[len(page)-1].ID
	}
	return set, nil
}

// originOf is the Origin header a page at raw sends: scheme://host[:port] of an http(s) URI.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
