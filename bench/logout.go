package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/token"
)

// probe is one answer a prober got.
type probe struct {
	sent, got time.Time
	status    int
}

// prober sends GET /api/protected with one credential on one connection, back to back, and
// records every answer until stopped.
type prober struct {
	c      *httpConn
	req    []byte
	mu     sync.Mutex
	probes []probe
	ok     chan struct{} // closed after the third 200
	stop   chan struct{}
	done   chan error
}

func startProber(addr string, cred Cred) (*prober, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	l := Load{Path: "/api/protected"}
	p := &prober{c: &httpConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, req: l.appendRequest(nil, addr, cred.Header()),
		ok: make(chan struct{}), stop: make(chan struct{}), done: make(chan error, 1)}
	go p.run()
	return p, nil
}

func (p *prober) run() {
	oks := 0
	defer p.c.close()
	for {
		select {
		case <-p.stop:
			p.done <- nil
			return
		default:
		}
		t0 := time.Now()
		status, err := p.c.roundTrip(p.req, t0.Add(5*time.Second))
		if err != nil {
			p.done <- err
			return
		}
		p.mu.Lock()
		p.probes = append(p.probes, probe{sent: t0, got: time.Now(), status: status})
		p.mu.Unlock()
		if status == 200 {
			if oks++; oks == 3 {
				close(p.ok)
			}
		} else if oks < 3 {
			p.done <- fmt.Errorf("the credential was refused (%d) before the revocation", status)
			return
		}
	}
}

// finish stops the prober once it has seen a rejection after t, or at deadline; it returns the
// probes.
func (p *prober) finish(after time.Time, deadline time.Time) ([]probe, error) {
	for time.Now().Before(deadline) {
		if rejectedAfter(p.probesSnapshot(), after) {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	close(p.stop)
	err := <-p.done
	return p.probes, err
}

func (p *prober) probesSnapshot() []probe {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probes[:len(p.probes):len(p.probes)]
}

func rejectedAfter(ps []probe, t time.Time) bool {
	for i := len(ps) - 1; i >= 0 && ps[i].got.After(t); i-- {
		if ps[i].status != 200 {
			return true
		}
	}
	return false
}

// revocationTrial logs in on origin, probes the credential on observer, revokes it on origin
// (POST /api/logout) and returns the time from sending the revocation to the observer's first
// rejection (-1 if none before limit) and the number of probes sent after the revocation was
// acknowledged that were still accepted.
func (b *Runner) revocationTrial(ctx context.Context, origin, observer *Instance, kind Kind, limit time.Duration) (time.Duration, int, error) {
	cred, err := b.api.login(ctx, origin.URL(), kind)
	if err != nil {
		return 0, 0, err
	}
	p, err := startProber(observer.Addr, cred)
	if err != nil {
		return 0, 0, err
	}
	select {
	case <-p.ok:
	case err := <-p.done:
		return 0, 0, err
	case <-time.After(5 * time.Second):
		close(p.stop)
		return 0, 0, fmt.Errorf("the prober got no answer")
	}
	t0 := time.Now()
	code, err := b.api.do(ctx, "POST", origin.URL()+"/api/logout", cred)
	ack := time.Now()
	if err != nil || code != 204 {
		close(p.stop)
		return 0, 0, fmt.Errorf("logout: %d %v", code, err)
	}
	probes, err := p.finish(t0, t0.Add(limit))
	if err != nil {
		return 0, 0, err
	}
	delay := time.Duration(-1)
	late := 0
	for _, pr := range probes {
		if pr.status == 200 && pr.sent.After(ack) {
			late++
		}
		if pr.status != 200 && pr.got.After(t0) && delay < 0 {
			delay = pr.got.Sub(t0)
		}
	}
	return delay, late, nil
}

func (b *Runner) trials() int {
	if b.opts.Quick {
		return 10
	}
	return 200
}

// logoutControl measures, per mode, how long a revoked session or token stays usable: on the
// instance that revoked it, on another instance, and for tokens at a verifier that has only
// the public keys (a plain JWT, as most stateless set-ups verify it).
func (b *Runner) logoutControl(ctx context.Context) error {
	limit := 2 * time.Second
	if b.opts.Quick {
		limit = 300 * time.Millisecond
	}
	for _, m := range b.modes {
		a, err := b.startGatehouse(ctx, m.Name+"-a", m, b.dataDir(m.Name+"-a"), lowCost...)
		if err != nil {
			return err
		}
		if err := b.prepareRevocations(ctx, a, b.revokedCount(m)); err != nil {
			return err
		}
		row, err := b.revocationRow(ctx, m, a, a, "same instance", b.trials(), limit)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		b.report.Logout = append(b.report.Logout, row)
		if err := b.crossInstance(ctx, m, a, limit); err != nil {
			return fmt.Errorf("%s across instances: %w", m.Name, err)
		}
		if m.Kind == KindToken {
			row, err := b.jwksOnly(ctx, m, a)
			if err != nil {
				return fmt.Errorf("%s with the public keys only: %w", m.Name, err)
			}
			b.report.Logout = append(b.report.Logout, row)
		}
		b.stopAll()
	}
	return nil
}

func (b *Runner) revocationRow(ctx context.Context, m *Mode, origin, observer *Instance, scope string, trials int, limit time.Duration) (LogoutRow, error) {
	row := LogoutRow{Mode: m.Name, Kind: m.Kind, Scope: scope, Trials: trials}
	var delays []time.Duration
	for range trials {
		d, late, err := b.revocationTrial(ctx, origin, observer, m.Kind, limit)
		if err != nil {
			return row, err
		}
		row.AcceptedAfterAck += late
		if d < 0 {
			row.NeverRejected++
			continue
		}
		delays = append(delays, d)
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	if len(delays) > 0 {
		row.P50Ms = ms(delays[len(delays)/2])
		row.P99Ms = ms(delays[min(len(delays)-1, len(delays)*99/100)])
		row.MaxMs = ms(delays[len(delays)-1])
	}
	switch {
	case row.NeverRejected == 0:
		row.Outcome = "rejected"
	case row.NeverRejected == trials:
		row.Outcome = "until expiry"
		row.Note = fmt.Sprintf("still accepted %s after the revocation in every trial", limit)
	default:
		row.Outcome = "partly"
		row.Note = fmt.Sprintf("%d of %d trials still accepted after %s", row.NeverRejected, trials, limit)
	}
	b.p.note("%s, %s: %s, p50 %.3f ms, p99 %.3f ms, %d accepted after the logout answered", m.Name, scope, row.Outcome, row.P50Ms, row.P99Ms, row.AcceptedAfterAck)
	return row, nil
}

// crossInstance revokes on one instance and watches another. Instances of a mode that does
// not share its store each have their own data directory; token instances share the signing
// keys (as any deployment of several instances must).
func (b *Runner) crossInstance(ctx context.Context, m *Mode, a *Instance, limit time.Duration) error {
	dir := b.dataDir(m.Name + "-b")
	if err := shareKeys(a.Data, dir); err != nil {
		return err
	}
	other, err := b.startGatehouse(ctx, m.Name+"-b", m, dir, lowCost...)
	if err != nil {
		return err
	}
	if m.Kind == KindSession && !m.Shared {
		cred, err := b.api.login(ctx, a.URL(), KindSession)
		if err != nil {
			return err
		}
		code, err := b.api.do(ctx, "GET", other.URL()+"/api/protected", cred)
		if err != nil {
			return err
		}
		b.report.Logout = append(b.report.Logout, LogoutRow{Mode: m.Name, Kind: m.Kind, Scope: "another instance",
			Outcome: "not applicable", Note: fmt.Sprintf("each instance keeps its own sessions: another instance answers %d to a session it did not create, before any logout", code)})
		return nil
	}
	trials := b.trials()
	if !m.Shared {
		trials = 3 // each trial lasts the whole limit when nothing propagates
	}
	row, err := b.revocationRow(ctx, m, a, other, "another instance", trials, limit)
	if err != nil {
		return err
	}
	if !m.Shared && row.Outcome == "until expiry" {
		row.Note += "; in this mode each instance keeps its revocations in its own SQLite file, so the token stays valid elsewhere until it expires (15 min); with the shared stores (--session-store redis --user-store postgres) another instance refuses it on its next request (BENCHMARKS.md, \"Several instances\")"
	}
	b.report.Logout = append(b.report.Logout, row)
	return nil
}

// shareKeys copies the signing keys of data directory from into to, so that an instance started
// on to verifies the tokens of the instance on from.
func shareKeys(from, to string) error {
	b, err := os.ReadFile(filepath.Join(from, "keys.json"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(to, "keys.json"), b, 0o600)
}

// jwksOnly revokes a token and then verifies it the way a plain stateless set-up does: with
// the public keys (the JWKS) and nothing else.
func (b *Runner) jwksOnly(ctx context.Context, m *Mode, in *Instance) (LogoutRow, error) {
	row := LogoutRow{Mode: m.Name, Kind: m.Kind, Scope: "verifier with the public keys only", Trials: 1}
	cred, err := b.api.login(ctx, in.URL(), KindToken)
	if err != nil {
		return row, err
	}
	if code, err := b.api.do(ctx, "POST", in.URL()+"/api/logout", cred); err != nil || code != 204 {
		return row, fmt.Errorf("logout: %d %v", code, err)
	}
	if m.Alg == "HS256" {
		// The HMAC secret is not published: a verifier needs the secret itself.
		ks, err := token.LoadKeySet(filepath.Join(in.Data, "keys.json"), token.KeyOptions{Alg: m.Alg})
		if err != nil {
			return row, err
		}
		return b.verifyRevoked(row, ks, m.Alg, cred.Secret)
	}
	jwks, err := b.api.get(ctx, in.URL()+"/.well-known/jwks.json")
	if err != nil {
		return row, err
	}
	ks, err := token.ParseJWKS(jwks, nil)
	if err != nil {
		return row, err
	}
	return b.verifyRevoked(row, ks, m.Alg, cred.Secret)
}

func (b *Runner) verifyRevoked(row LogoutRow, ks *token.KeySet, alg, raw string) (LogoutRow, error) {
	svc, err := token.NewService(ks, token.Config{Issuer: benchIssuer, Audience: "gatehouse", Algorithms: []string{alg}, CacheSize: -1})
	if err != nil {
		return row, err
	}
	t, err := svc.Verify(raw)
	if err != nil {
		row.Outcome = "rejected"
		row.Note = "the verifier refused the revoked token: " + err.Error()
		return row, nil
	}
	row.NeverRejected = 1
	row.Outcome = "until expiry"
	row.Note = fmt.Sprintf("the revoked token still verifies; it expires %s after issue", t.ExpiresAt.Sub(t.IssuedAt).Round(time.Second))
	b.p.note("%s, public keys only: the revoked token still verifies (until expiry)", row.Mode)
	return row, nil
}
