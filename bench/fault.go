package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// faultTolerance runs each mode on three instances behind the client-side round robin with
// session affinity and failover, kills one instance (SIGKILL) a third of the way through, and
// counts the requests that failed and the sessions that were lost.
func (b *Runner) faultTolerance(ctx context.Context) error {
	for _, m := range b.modes {
		if err := b.faultRun(ctx, m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		b.stopAll()
	}
	return nil
}

func (b *Runner) faultRun(ctx context.Context, m *Mode) error {
	c, err := b.startCluster(ctx, m, 3, max(b.poolSize()/3, 10))
	if err != nil {
		return err
	}
	victim := c.ins[2]
	d := b.opts.Duration
	l := Load{Targets: c.addrs(), Path: "/api/protected", Creds: c.sticky(), Duration: d, Failover: true, Timeout: time.Second}
	killAt := d / 3
	killed := make(chan time.Time, 1)
	go func() {
		select {
		case <-time.After(killAt):
			victim.Kill()
			killed <- time.Now()
		case <-ctx.Done():
		}
	}()
	res, f, err := b.measure(ctx, m.Name+" kill 1 of 3", c.ins[:2], l)
	if err != nil {
		return err
	}
	select {
	case <-killed:
	case <-ctx.Done():
		return ctx.Err()
	}
	row := FaultRow{Mode: m.Name, Kind: m.Kind, Instances: 3, KilledAtS: killAt.Seconds(), LoadFigures: f,
		Errors: res.Errors, Rejected: res.Requests - res.OK - res.Errors}
	for i, s := range res.Timeline {
		if time.Duration(i)*Slot < killAt {
			row.RejectedBefore += s.Rejected
		}
	}
	// Sessions that lived on the killed instance, tried on a survivor, then on the restarted
	// instance.
	if m.Kind == KindSession {
		homed := c.creds[2]
		row.SessionsOnKilled = len(homed)
		lost, err := b.rejected(ctx, c.ins[0], homed)
		if err != nil {
			return err
		}
		row.LostSessions = lost
		restarted, err := b.startGatehouse(ctx, victim.Name+"-restarted", m, victim.Data, lowCost...)
		if err != nil {
			return err
		}
		gone, err := b.rejected(ctx, restarted, homed)
		if err != nil {
			return err
		}
		row.RecoveredAfterRestart = len(homed) - gone
	} else {
		lost, err := b.rejected(ctx, c.ins[0], c.creds[0])
		if err != nil {
			return err
		}
		row.LostSessions = lost
	}
	row.Note = faultNote(m, row)
	b.report.Fault = append(b.report.Fault, row)
	b.p.note("%s: %d requests failed without an answer, %d refused after the kill; %d of %d sessions of the killed instance lost, %d back after its restart",
		m.Name, row.Errors, row.Rejected-row.RejectedBefore, row.LostSessions, row.SessionsOnKilled, row.RecoveredAfterRestart)
	return nil
}

func faultNote(m *Mode, r FaultRow) string {
	switch {
	case m.Kind == KindToken:
		return "tokens carry the user: the survivors accept every token; only requests in flight on the killed instance failed"
	case m.Shared:
		return "the store is shared: the survivors know every session"
	case m.Store == "memory":
		return "the killed instance's sessions were in its memory: they are gone for good (its users must log in again)"
	case m.Store == "sqlite":
		return "each instance has its own SQLite file (a single-node store): the survivors do not know the killed instance's sessions; they come back when it restarts on its file"
	}
	return ""
}

// rejected counts the credentials in creds that in refuses.
func (b *Runner) rejected(ctx context.Context, in *Instance, creds []Cred) (int, error) {
	n := 0
	for _, c := range creds {
		code, err := b.api.do(ctx, "GET", in.URL()+"/api/protected", c)
		if err != nil {
			return 0, err
		}
		if code != http.StatusOK {
			n++
		}
	}
	return n, nil
}
