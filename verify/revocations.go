package verify

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// RevocationConfig makes a Verifier follow gatehouse's revocation stream.
//
// Staleness: gatehouse sends each revocation the moment its revocation store accepts it, in
// order, and a heartbeat every 5 seconds (its default) when there is nothing to say. Having
// heard from the stream at time T, the Verifier knows every revocation made at that gatehouse
// instance before T. It counts its view as fresh while the last message is at most
// MaxStaleness old; a revoked token is therefore accepted for at most MaxStaleness after its
// revocation (plus network latency), and only while the stream is broken. When the view is
// stale, Verify fails with ErrRevocationsStale (503), unless FailOpen is set, in which case it
// keeps accepting tokens on the last known view (they still expire). A Verifier that has not
// yet received the stream's first snapshot is stale.
type RevocationConfig struct {
	// URL of the stream; default: the discovery document's
	// gatehouse_revocation_stream_endpoint (required without discovery).
	URL string
	// ClientID and ClientSecret are gatehouse's --introspection-client-id and
	// --introspection-secret, sent with HTTP Basic.
	ClientID, ClientSecret string
	// Authorize, if set, is called on each stream request instead, for instance to set an
	// admin's bearer token (the stream then ends when that token expires, and is reopened with
	// a new call).
	Authorize func(*http.Request) error
	// MaxStaleness is how long the Verifier trusts its view without news from the stream;
	// default DefaultMaxStaleness (30 s). It must exceed gatehouse's heartbeat interval.
	MaxStaleness time.Duration
	// FailOpen keeps accepting tokens when the view is stale. The default fails closed.
	FailOpen bool
}

// revocationSet is the Verifier's view of gatehouse's revocations.
type revocationSet struct {
	mu        sync.RWMutex
	tokens    map[string]time.Time // jti -> end of the denial
	notBefore map[string]time.Time // user id -> not-before time
	// heard is the Unix nanosecond time of the last message on a stream that had delivered
	// its snapshot; 0 until the first snapshot.
	heard atomic.Int64
}

func newRevocationSet() *revocationSet {
	return &revocationSet{tokens: map[string]time.Time{}, notBefore: map[string]time.Time{}}
}

// revoked applies the server's rule (gatehouse.AccessTokenRevoked) to the set as it is at now.
func (s *revocationSet) revoked(t *gatehouse.Token, now time.Time) bool {
	revoked, _ := gatehouse.AccessTokenRevoked(context.Background(), setAt{s, now}, t) // a setAt never fails
	return revoked
}

// setAt is the set as a gatehouse.RevocationView at a time: a jti is denied until its denial ends.
type setAt struct {
	s   *revocationSet
	now time.Time
}

func (v setAt) TokenRevoked(_ context.Context, jti string) (bool, error) {
	v.s.mu.RLock()
	until, denied := v.s.tokens[jti]
	v.s.mu.RUnlock()
	return denied && v.now.Before(until), nil
}

func (v setAt) NotBefore(_ context.Context, userID string) (time.Time, error) {
	v.s.mu.RLock()
	nb := v.s.notBefore[userID]
	v.s.mu.RUnlock()
	return nb, nil
}

func (s *revocationSet) fresh(now time.Time, maxStale time.Duration) bool {
	h := s.heard.Load()
	return h != 0 && now.UnixNano()-h <= int64(maxStale)
}

func (s *revocationSet) apply(ev gatehouse.RevocationEvent) {
	m := s.tokens
	if ev.Kind == gatehouse.NotBeforeChanged {
		m = s.notBefore
	}
	s.mu.Lock()
	if cur, ok := m[ev.ID]; !ok || ev.Time.After(cur) {
		m[ev.ID] = ev.Time
	}
	s.mu.Unlock()
}

// sweep forgets token denials that have ended.
func (s *revocationSet) sweep(now time.Time) {
	s.mu.Lock()
	for jti, until := range s.tokens {
		if !now.Before(until) {
			delete(s.tokens, jti)
		}
	}
	s.mu.Unlock()
}

// Reconnection backoff of the follower, and how long it waits for the snapshot.
const (
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
	snapshotWait   = 30 * time.Second
	maxEventLine   = 64 << 10
	sweepEvery     = time.Minute
	idleHeartbeats = 3 // heartbeats missed before the connection is deemed dead
)

// follower keeps one revocation stream open, reconnecting as needed.
type follower struct {
	url       string
	cfg       RevocationConfig
	client    *http.Client
	set       *revocationSet
	log       *slog.Logger
	now       func() time.Time
	lastSweep time.Time
}

func newFollower(v *Verifier, url string) *follower {
	// The stream is long-lived: the client's overall timeout would cut it.
	client := *v.cfg.HTTPClient
	client.Timeout = 0
	return &follower{url: url, cfg: *v.cfg.Revocations, client: &client, set: v.rev, log: v.log, now: v.cfg.Now}
}

func (f *follower) run(ctx context.Context) {
	backoff := minBackoff
	for {
		synced, err := f.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("verify: gatehouse revocation stream interrupted; reconnecting", "url", f.url, "err", err)
		if synced {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// follow reads one connection of the stream until it ends; synced reports whether it
// delivered its snapshot.
func (f *follower) follow(ctx context.Context) (synced bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := f.open(ctx)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	// The watchdog ends a connection that has gone quiet (a dead peer sends no error).
	watchdog := time.AfterFunc(snapshotWait, cancel)
	defer watchdog.Stop()
	idle := snapshotWait
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), maxEventLine)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if name == "" && data == "" {
				continue
			}
			hb, err := f.dispatch(name, data, synced)
			if err != nil {
				return synced, err
			}
			if name == "ready" {
				synced, idle = true, max(idleHeartbeats*hb, time.Second)
				if hb >= f.cfg.MaxStaleness {
					f.log.Warn("verify: MaxStaleness is shorter than gatehouse's heartbeat: the view will go stale between heartbeats",
						"max_staleness", f.cfg.MaxStaleness, "heartbeat", hb)
				}
			}
			if synced {
				f.set.heard.Store(f.now().UnixNano())
				watchdog.Reset(idle)
			}
			name, data = "", ""
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	if err := sc.Err(); err != nil {
		return synced, err
	}
	return synced, io.ErrUnexpectedEOF
}

func (f *follower) open(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", f.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	switch {
	case f.cfg.Authorize != nil:
		if err := f.cfg.Authorize(req); err != nil {
			return nil, err
		}
	case f.cfg.ClientSecret != "":
		req.SetBasicAuth(f.cfg.ClientID, f.cfg.ClientSecret)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// streamEvent is the data of every event the stream sends.
type streamEvent struct {
	JTI         string `json:"jti"`
	Until       int64  `json:"until"`
	Sub         string `json:"sub"`
	NotBefore   int64  `json:"not_before"`
	HeartbeatMS int64  `json:"heartbeat_ms"`
}

var errBadEvent = errors.New("malformed revocation event")

// dispatch applies one event and returns the stream's heartbeat interval for "ready".
// Unknown events are ignored, so that gatehouse can add some.
func (f *follower) dispatch(name, data string, synced bool) (time.Duration, error) {
	var ev streamEvent
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return 0, fmt.Errorf("%w %q: %v", errBadEvent, name, err)
	}
	switch name {
	case "token":
		if ev.JTI == "" || ev.Until <= 0 {
			return 0, fmt.Errorf("%w: token event without jti or until", errBadEvent)
		}
		f.set.apply(gatehouse.RevocationEvent{Kind: gatehouse.RevokedToken, ID: ev.JTI, Time: time.UnixMilli(ev.Until)})
	case "not_before":
		if ev.Sub == "" || ev.NotBefore <= 0 {
			return 0, fmt.Errorf("%w: not_before event without sub or not_before", errBadEvent)
		}
		f.set.apply(gatehouse.RevocationEvent{Kind: gatehouse.NotBeforeChanged, ID: ev.Sub, Time: time.UnixMilli(ev.NotBefore)})
	case "ready":
		if ev.HeartbeatMS <= 0 {
			return 0, fmt.Errorf("%w: ready event without heartbeat_ms", errBadEvent)
		}
		return time.Duration(ev.HeartbeatMS) * time.Millisecond, nil
	case "ping":
		if now := f.now(); synced && now.Sub(f.lastSweep) >= sweepEvery {
			f.set.sweep(now)
			f.lastSweep = now
		}
	}
	return 0, nil
}
