package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
)

// principal asks instance in who the bench's admin is (GET /api/me).
func (b *Runner) principal(ctx context.Context, in *Instance) (gatehouse.Principal, error) {
	cred, err := b.api.login(ctx, in.URL(), KindToken)
	if err != nil {
		return gatehouse.Principal{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", in.URL()+"/api/me", nil)
	if err != nil {
		return gatehouse.Principal{}, err
	}
	cred.set(req)
	resp, err := b.api.c.Do(req)
	if err != nil {
		return gatehouse.Principal{}, err
	}
	defer resp.Body.Close()
	var me struct {
		User gatehouse.Principal `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || me.User.UserID == "" {
		return gatehouse.Principal{}, fmt.Errorf("GET /api/me: %d %v", resp.StatusCode, err)
	}
	return me.User, nil
}

// mint issues n access tokens for the admin of instance in with the instance's own key file,
// as the instance itself would at login (the bench's issuer, gatehouse's audience, 15 minutes).
func (b *Runner) mint(ctx context.Context, in *Instance, m *Mode, n int) ([]string, error) {
	p, err := b.principal(ctx, in)
	if err != nil {
		return nil, err
	}
	ks, err := token.LoadKeySet(filepath.Join(in.Data, "keys.json"), token.KeyOptions{Alg: m.Alg})
	if err != nil {
		return nil, err
	}
	svc, err := token.NewService(ks, token.Config{Issuer: benchIssuer, Audience: "gatehouse", CacheSize: -1})
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	workers := runtime.NumCPU()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && ctx.Err() == nil; i += workers {
				tok, _, err := svc.Issue(p, "", time.Now())
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = tok
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, ctx.Err()
}
