package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ExpressFiles are the files of an Express peer folder (Options.ExpressPeer): package.json and
// server.mjs are required, server-keyobject.mjs is measured when present. Each server listens
// with "app.listen(5000," (the bench rewrites that to a free port on 127.0.0.1), answers
// POST /api/login {"username":"user","password":"pass"} with {"token": "<HS256 JWT>"}, and
// GET /api/protected with "Authorization: Bearer <token>". docs/bench.md shows such a server.
var ExpressFiles = []string{"package.json", "server.mjs", "server-keyobject.mjs"}

// expressVariants are the servers of the Express folder that the bench measures.
var expressVariants = []struct{ file, label string }{
	{"server.mjs", "Express + jsonwebtoken"},
	{"server-keyobject.mjs", "Express + jsonwebtoken, secret as a KeyObject (one-line variant)"},
}

// peer measures an Express + jsonwebtoken server on /api/protected against gatehouse's
// jwt-hs256 mode (the same algorithm), each run right after the other.
func (b *Runner) peer(ctx context.Context) error {
	pr := &Peer{}
	b.report.Peer = pr
	if why := b.peerUnavailable(); why != "" {
		pr.Unavailable = why
		b.p.note("peer skipped: %s", why)
		return nil
	}
	dir, err := b.installExpress(ctx)
	if err != nil {
		pr.Unavailable = "npm install failed: " + err.Error()
		return nil
	}
	m := findMode("jwt-hs256")
	gh, err := b.startGatehouse(ctx, "peer-gatehouse", m, b.dataDir("peer"), lowCost...)
	if err != nil {
		return err
	}
	creds, err := b.credentials(ctx, gh, m, b.poolSize())
	if err != nil {
		return err
	}
	for _, v := range expressVariants {
		if _, err := os.Stat(filepath.Join(dir, v.file)); err != nil {
			continue // an optional variant the folder does not have
		}
		row, err := b.expressRun(ctx, dir, v.file, v.label, gh, creds)
		if err != nil {
			return fmt.Errorf("%s: %w", v.file, err)
		}
		pr.Rows = append(pr.Rows, row)
	}
	return nil
}

func (b *Runner) peerUnavailable() string {
	switch {
	case b.opts.ExpressPeer == "":
		return "no Express server given (--express-peer)"
	case b.opts.Quick:
		return "not run with --quick"
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	for _, name := range ExpressFiles[:2] {
		if _, err := os.Stat(filepath.Join(b.opts.ExpressPeer, name)); err != nil {
			return "no " + name + " in " + b.opts.ExpressPeer
		}
	}
	return ""
}

// installExpress copies the Express folder into the bench's work directory and runs npm
// install there. The copies listen on a port given in PORT, on 127.0.0.1 only: that line is the
// only change made to the servers' code.
func (b *Runner) installExpress(ctx context.Context) (string, error) {
	dir := filepath.Join(b.work, "express")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for i, name := range ExpressFiles {
		src, err := os.ReadFile(filepath.Join(b.opts.ExpressPeer, name))
		if errors.Is(err, os.ErrNotExist) && i >= 2 {
			continue // optional
		}
		if err != nil {
			return "", err
		}
		if strings.HasSuffix(name, ".mjs") {
			src = bytes.Replace(src, []byte("app.listen(5000,"), []byte(`app.listen(Number(process.env.PORT), "127.0.0.1",`), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o600); err != nil {
			return "", err
		}
	}
	b.p.note("npm install in a temporary copy of %s", b.opts.ExpressPeer)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel", "error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return dir, nil
}

func (b *Runner) expressRun(ctx context.Context, dir, file, label string, gh *Instance, creds []Cred) (PeerRow, error) {
	row := PeerRow{Name: label, Server: file, GatehouseMode: "jwt-hs256"}
	addr, err := freeAddr()
	if err != nil {
		return row, err
	}
	_, port, _ := strings.Cut(addr, ":")
	node, _ := exec.LookPath("node")
	ex, err := b.startAt(ctx, "express-"+file, addr, childEnv("PORT="+port, "NODE_ENV=production"), "", node, filepath.Join(dir, file))
	if err != nil {
		return row, err
	}
	defer ex.Stop()
	tok, err := b.expressToken(ctx, ex.URL())
	if err != nil {
		return row, err
	}
	// The Express server knows one user: both sides are measured with one token.
	peerLoad := Load{Targets: []string{ex.Addr}, Path: "/api/protected", Creds: poolCreds(headers([]Cred{{Kind: KindToken, Secret: tok}}))}
	ghLoad := Load{Targets: []string{gh.Addr}, Path: "/api/protected", Creds: poolCreds(headers(creds[:1]))}
	for _, l := range []Load{peerLoad, ghLoad} {
		l.Duration, l.Conns = min(b.opts.Duration/5, time.Second), b.opts.Connections
		if _, err := l.Run(ctx); err != nil {
			return row, err
		}
	}
	res, pf, err := b.measure(ctx, file, []*Instance{ex}, peerLoad)
	if err != nil {
		return row, err
	}
	if err := res.refusedErr(file); err != nil {
		return row, err
	}
	_, gf, err := b.measure(ctx, "jwt-hs256", []*Instance{gh}, ghLoad)
	if err != nil {
		return row, err
	}
	row.Peer, row.Gatehouse = pf, gf
	if pf.RPS > 0 {
		row.Ratio = gf.RPS / pf.RPS
	}
	b.p.note("%s: %s req/s (p99 %.1f ms); gatehouse jwt-hs256 %s req/s: %.1fx", file, fmtCount(int(pf.RPS)), pf.P99Ms, fmtCount(int(gf.RPS)), row.Ratio)
	return row, nil
}

// expressToken logs in to the Express server as its one user.
func (b *Runner) expressToken(ctx context.Context, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/login", strings.NewReader(`{"username":"user","password":"pass"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.api.c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login: %d %s", resp.StatusCode, body)
	}
	return out.Token, nil
}
