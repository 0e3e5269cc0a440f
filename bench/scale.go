package bench

import (
	"context"
	"fmt"
)

// cluster is k instances of one mode with the credentials each one issued.
type cluster struct {
	m     *Mode
	ins   []*Instance
	creds [][]Cred // by home instance
}

// startCluster starts k instances of m, each with its own data directory; token instances
// share the first one's signing keys. Each instance issues per credentials for session modes;
// token modes log in on the first instance only (a token is valid on every instance).
func (b *Runner) startCluster(ctx context.Context, m *Mode, k, per int) (*cluster, error) {
	c := &cluster{m: m}
	for i := range k {
		dir := b.dataDir(fmt.Sprintf("%s-%d", m.Name, i))
		if i > 0 {
			if err := shareKeys(c.ins[0].Data, dir); err != nil {
				return nil, err
			}
		}
		in, err := b.startGatehouse(ctx, fmt.Sprintf("%s-%d", m.Name, i), m, dir, lowCost...)
		if err != nil {
			return nil, err
		}
		c.ins = append(c.ins, in)
	}
	if err := b.prepareRevocations(ctx, c.ins[0], b.revokedCount(m)); err != nil {
		return nil, err
	}
	for i, in := range c.ins {
		if m.Kind == KindToken && i > 0 {
			c.creds = append(c.creds, nil)
			continue
		}
		creds, err := b.credentials(ctx, in, m, per)
		if err != nil {
			return nil, err
		}
		for j := range creds {
			creds[j].Home = i
		}
		c.creds = append(c.creds, creds)
	}
	return c, nil
}

func (c *cluster) addrs() []string {
	out := make([]string, len(c.ins))
	for i, in := range c.ins {
		out[i] = in.Addr
	}
	return out
}

// all returns every credential of the cluster.
func (c *cluster) all() []Cred {
	var out []Cred
	for _, cs := range c.creds {
		out = append(out, cs...)
	}
	return out
}

// sticky gives each connection the credentials of the instance it starts on (session
// affinity); token clusters give every connection every token.
func (c *cluster) sticky() func(conn, target int) [][]byte {
	if c.m.Kind == KindToken {
		return poolCreds(headers(c.all()))
	}
	byHome := make([][][]byte, len(c.creds))
	for i, cs := range c.creds {
		byHome[i] = headers(cs)
	}
	return func(_, target int) [][]byte { return byHome[target] }
}

// scalability measures 1, 2 and 3 instances of each mode behind the bench's client-side round
// robin, with and without session affinity.
func (b *Runner) scalability(ctx context.Context) error {
	for _, m := range b.modes {
		for k := 1; k <= 3; k++ {
			c, err := b.startCluster(ctx, m, k, max(b.poolSize()/k, 10))
			if err != nil {
				return fmt.Errorf("%s with %d instances: %w", m.Name, k, err)
			}
			balancings := []string{"sticky"}
			if k > 1 && m.Kind == KindSession {
				balancings = append(balancings, "non-sticky")
			}
			if m.Kind == KindToken {
				balancings = []string{"any instance"}
			}
			for _, bal := range balancings {
				if err := b.scaleRun(ctx, c, bal); err != nil {
					return fmt.Errorf("%s with %d instances: %w", m.Name, k, err)
				}
			}
			b.stopAll()
		}
	}
	return nil
}

func (b *Runner) scaleRun(ctx context.Context, c *cluster, balancing string) error {
	l := Load{Targets: c.addrs(), Path: "/api/protected", Creds: c.sticky(), Duration: b.opts.Duration / 2}
	if balancing == "non-sticky" {
		// Any request may land on any instance: every connection uses every instance's sessions.
		l.Creds = poolCreds(headers(c.all()))
	}
	warm := l
	warm.Duration, warm.Conns = min(l.Duration/5, 1e9), b.opts.Connections
	if _, err := warm.Run(ctx); err != nil {
		return err
	}
	label := fmt.Sprintf("%s x%d %s", c.m.Name, len(c.ins), balancing)
	res, f, err := b.measure(ctx, label, c.ins, l)
	if err != nil {
		return err
	}
	row := ScaleRow{Mode: c.m.Name, Kind: c.m.Kind, Instances: len(c.ins), Balancing: balancing, LoadFigures: f,
		Rejected: res.Requests - res.OK - res.Errors, Errors: res.Errors}
	if res.Requests > 0 {
		row.FailureRate = float64(res.Failed()) / float64(res.Requests)
	}
	if balancing == "non-sticky" && !c.m.Shared {
		row.Note = fmt.Sprintf("a session is known only to the instance that created it: expect %d of %d requests refused", len(c.ins)-1, len(c.ins))
	}
	// Answers served per second, accepted or not, show the capacity even when most are 401s.
	row.AnsweredRPS = float64(res.Requests-res.Errors) / res.Elapsed.Seconds()
	b.report.Scale = append(b.report.Scale, row)
	b.p.note("%s: %s req/s accepted, %.1f%% refused", label, fmtCount(int(f.RPS)), 100*row.FailureRate)
	return nil
}
