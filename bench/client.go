package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cookieName is gatehouse's default session cookie name (the instances run with the default).
const cookieName = "gatehouse_session"

// Cred is one client credential: a session cookie value or an access token.
type Cred struct {
	Kind   Kind
	Secret string
	// Home is the index of the instance that created it.
	Home int
}

// Header returns the request header line that carries the credential.
func (c Cred) Header() []byte {
	if c.Kind == KindSession {
		return []byte("Cookie: " + cookieName + "=" + c.Secret + "\r\n")
	}
	return []byte("Authorization: Bearer " + c.Secret + "\r\n")
}

func (c Cred) set(req *http.Request) {
	if c.Kind == KindSession {
		req.Header.Set("Cookie", cookieName+"="+c.Secret)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.Secret)
	}
}

func headers(creds []Cred) [][]byte {
	out := make([][]byte, len(creds))
	for i, c := range creds {
		out[i] = c.Header()
	}
	return out
}

// api is a small HTTP client for the control requests of the bench (logins, logouts, metrics).
type api struct{ c *http.Client }

func newAPI() *api {
	t := &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	return &api{c: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// login signs in as the bench's admin in the given mode ("session" or "token") and returns the
// credential.
func (a *api) login(ctx context.Context, base string, kind Kind) (Cred, error) {
	body := fmt.Sprintf(`{"username":"admin","password":%q,"mode":%q}`, benchPassword, string(kind))
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/login", strings.NewReader(body))
	if err != nil {
		return Cred{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-bench")
	resp, err := a.c.Do(req)
	if err != nil {
		return Cred{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return Cred{}, fmt.Errorf("login: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if kind == KindSession {
		for _, c := range resp.Cookies() {
			if c.Name == cookieName {
				return Cred{Kind: KindSession, Secret: c.Value}, nil
			}
		}
		return Cred{}, fmt.Errorf("login: no %s cookie in the answer", cookieName)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return Cred{}, fmt.Errorf("login: no access token in the answer")
	}
	return Cred{Kind: KindToken, Secret: tok.AccessToken}, nil
}

// loginMany makes n logins with conc concurrent clients and returns the credentials, calling
// progress now and then.
func (a *api) loginMany(ctx context.Context, base string, kind Kind, n, conc int, progress func(done int)) ([]Cred, error) {
	out := make([]Cred, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := a.login(ctx, base, kind)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				out[i] = c
				if progress != nil && i%1000 == 999 {
					progress(i + 1)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, ctx.Err()
}

// do sends a request with credential c and returns the status code.
func (a *api) do(ctx context.Context, method, url string, c Cred) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, err
	}
	c.set(req)
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// get fetches url and returns its body.
func (a *api) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return b, err
}

// metrics scrapes a Prometheus text page and returns the samples without labels.
func (a *api) metrics(ctx context.Context, base string) (map[string]float64, error) {
	b, err := a.get(ctx, base+"/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// check verifies that every credential in creds is accepted by base (a sample of at most
// 20), so that a measurement never runs on broken credentials.
func (a *api) check(ctx context.Context, base string, creds []Cred) error {
	step := max(len(creds)/20, 1)
	for i := 0; i < len(creds); i += step {
		code, err := a.do(ctx, "GET", base+"/api/protected", creds[i])
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("bench: a fresh %s credential got %d from %s", creds[i].Kind, code, base)
		}
	}
	return nil
}
