package forwardauth

import (
	"hash/maphash"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/shardmap"
)

// DefaultAssertionCacheSize bounds the number of signed assertions a Handler keeps for reuse.
const DefaultAssertionCacheSize = 100_000

// assertionShards is the number of shards of the assertion cache.
const assertionShards = 32

// assertionCache keeps the assertion signed for a credential and an app, so that a user's
// requests to one app within Config.AssertionReuse are answered without signing again:
// signing is the most expensive step of an allowed check (an EdDSA signature, about 50 µs),
// and every proxied request asks. BenchmarkAllowWithAssertion measures it.
//
// The key is a keyed hash (hash/maphash, a seed of the process's own) of the credential and the
// app, so no secret is kept in memory. An entry is used only while it is fresh and only for the
// same app and the same identity it was signed for: a changed role, name or group list, or
// the rare hash collision, signs a new one. Revocation needs nothing here: the credential is
// authenticated before the cache is consulted.
type assertionCache struct {
	seed     maphash.Seed
	shards   *shardmap.Map[uint64, assertionEntry]
	perShard int
	reuse    time.Duration
}

// assertionEntry is one signed assertion and what it was signed for.
type assertionEntry struct {
	scheme, host string
	id           Identity
	jwt          string
	until        time.Time
}

func newAssertionCache(reuse time.Duration, size int) *assertionCache {
	if size <= 0 {
		size = DefaultAssertionCacheSize
	}
	return &assertionCache{
		seed:     maphash.MakeSeed(),
		shards:   shardmap.New[uint64, assertionEntry](assertionShards, func(k uint64) uint64 { return k }),
		perShard: max(size/assertionShards, 1),
		reuse:    reuse,
	}
}

// key hashes the credential and the app (scheme and host as the proxy sent them).
func (c *assertionCache) key(cred Credential, o *original) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	if cred.Bearer != "" {
		h.WriteString("b\x00")
		h.WriteString(cred.Bearer)
	} else {
		h.WriteString("s\x00")
		h.WriteString(cred.Session)
	}
	h.WriteByte(0)
	h.WriteString(o.scheme)
	h.WriteByte(0)
	h.WriteString(o.host)
	return h.Sum64()
}

// get returns the assertion kept for k if it is fresh at now and was signed for o's app and
// for an identity equal to id.
func (c *assertionCache) get(k uint64, o *original, id *Identity, now time.Time) (string, bool) {
	e, ok := c.shards.Get(k)
	if !ok || !now.Before(e.until) || e.scheme != o.scheme || e.host != o.host || !sameIdentity(&e.id, id) {
		return "", false
	}
	return e.jwt, true
}

// put keeps jwt for k until now plus the reuse time, evicting expired entries (or, if none
// is, an arbitrary one) from a full shard.
func (c *assertionCache) put(k uint64, o *original, id *Identity, jwt string, now time.Time) {
	e := assertionEntry{scheme: o.scheme, host: o.host, id: *id, jwt: jwt, until: now.Add(c.reuse)}
	e.id.Groups = slices.Clone(id.Groups)
	s := c.shards.Of(k)
	s.Lock()
	defer s.Unlock()
	if _, ok := s.M[k]; !ok && len(s.M) >= c.perShard {
		evictAssertions(s.M, now)
	}
	s.M[k] = e
}

// evictAssertions drops the expired entries among a sample of m, or one sampled entry if
// none is expired, so that an insert into a full shard costs a bounded time.
func evictAssertions(m map[uint64]assertionEntry, now time.Time) {
	const sample = 8
	seen, dropped := 0, 0
	var victim uint64
	for k, e := range m {
		if !now.Before(e.until) {
			delete(m, k)
			dropped++
		}
		victim = k
		if seen++; seen >= sample {
			break
		}
	}
	if dropped == 0 {
		delete(m, victim)
	}
}

// sameIdentity reports whether a and b name the same user with the same attributes.
func sameIdentity(a, b *Identity) bool {
	return a.UserID == b.UserID && a.Username == b.Username && a.Name == b.Name && a.Email == b.Email &&
		a.Role == b.Role && slices.Equal(a.Groups, b.Groups)
}

// assertion returns the signed assertion of id for o's app: the cached one when fresh, else a
// new one from the Asserter (kept for reuse).
func (h *Handler) assertion(cred Credential, o *original, id *Identity) (string, error) {
	now := h.now()
	if h.assertions == nil {
		return h.cfg.Assertions.Assert(id, o.origin(), now)
	}
	k := h.assertions.key(cred, o)
	if jwt, ok := h.assertions.get(k, o, id, now); ok {
		return jwt, nil
	}
	jwt, err := h.cfg.Assertions.Assert(id, o.origin(), now)
	if err != nil {
		return "", err
	}
	h.assertions.put(k, o, id, jwt, now)
	return jwt, nil
}
