package http_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/emaillink"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/mail"
	"github.com/gatehouse-auth/gatehouse/memory"
)

// withMail sends the harness's mail through the real go-mail client to a real SMTP server
// started for the test, and keeps e-mail links in memory on the harness clock.
func withMail(t *testing.T, o options, smtpOpts smtptest.Options) (options, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, smtpOpts)
	cfg, err := mail.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.New("Gatehouse <accounts@gatehouse.test>", nil, tr)
	if err != nil {
		t.Fatal(err)
	}
	if o.clock == nil {
		o.clock = newClock()
	}
	links := emaillink.New(memory.NewEmailLinkStore(), emaillink.Config{Now: o.clock.Now})
	prev := o.configure
	o.configure = func(d *authn.Deps, c *ghttp.Config) {
		d.Mailer, d.Links = m, links
		if prev != nil {
			prev(d, c)
		}
	}
	return o, srv
}

var linkToken = regexp.MustCompile(`http://gatehouse\.test/(reset|verify)\?token=([A-Za-z0-9_-]{43})`)

// mailedToken reads the newest message to addr from the SMTP server and returns the token of
// its link to path ("reset" or "verify").
func mailedToken(t *testing.T, srv *smtptest.Server, addr, path string, n int) string {
	t.Helper()
	var msgs []smtptest.Message
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs = msgs[:0]
		for _, m := range srv.Messages() {
			if len(m.To) == 1 && m.To[0] == addr {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(msgs) < n {
		t.Fatalf("%d message(s) to %s, want %d", len(msgs), addr, n)
	}
	text, err := msgs[n-1].Part("text/plain")
	if err != nil {
		t.Fatal(err)
	}
	m := linkToken.FindStringSubmatch(text)
	if m == nil || m[1] != path {
		t.Fatalf("no %s link in:\n%s", path, text)
	}
	return m[2]
}

func TestPasswordResetEndToEnd(t *testing.T) {
	o, srv := withMail(t, options{}, smtptest.Options{})
	h := newHarness(t, o)
	u := h.addUser("gina", gatehouse.RoleUser)
	access, refresh := h.loginToken("gina", testPassword)
	sess := h.loginSession("gina", testPassword)

	r := h.do("POST", "/api/password/forgot", map[string]string{"email": "GINA@example.com"})
	expect(t, r, 202, "")
	tok := mailedToken(t, srv, u.Email, "reset", 1)

	const newPW = "a completely different passphrase"
	expect(t, h.do("POST", "/api/password/reset", map[string]string{"token": tok, "password": newPW}), 204, "")
	// Every credential from before is dead, on its next use.
	expect(t, h.do("GET", "/api/me", nil, bearer(access)...), 401, "invalid_token")
	expect(t, h.do("GET", "/api/me", nil, cookie(sess)...), 401, "session_expired")
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, "invalid_token")
	// The new password works, the old one does not.
	expect(t, h.do("POST", "/api/login", map[string]string{"username": "gina", "password": testPassword}), 401, "invalid_credentials")
	h.loginToken("gina", newPW)
	// The link worked once.
	expect(t, h.do("POST", "/api/password/reset", map[string]string{"token": tok, "password": newPW + " again"}), 401, "invalid_token")
	// Opening the link proved the address.
	if got, _ := h.users.UserByID(context.Background(), u.ID); !got.EmailVerified {
		t.Error("the reset did not mark the address verified")
	}
}

// The answer to a reset request says nothing about the account: same status and body for an
// address with an account, one without, and a disabled account; and the request does not
// wait for the mail (a relay that holds the message does not hold the answer).
func TestForgotPasswordDoesNotEnumerate(t *testing.T) {
	hold := make(chan struct{})
	o, srv := withMail(t, options{}, smtptest.Options{Hold: hold})
	h := newHarness(t, o)
	h.addUser("hank", gatehouse.RoleUser)
	dis := h.addUser("ivy", gatehouse.RoleUser)
	yes := true
	if _, err := h.users.UpdateUser(context.Background(), dis.ID, gatehouse.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, addr := range []string{"hank@example.com", "nobody@example.com", "ivy@example.com"} {
		r := h.do("POST", "/api/password/forgot", map[string]string{"email": addr})
		expect(t, r, 202, "")
		bodies = append(bodies, string(r.raw))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("answers differ:\n%s", bodies)
	}
	close(hold) // the answers came while the relay was still holding the mail
	mailedToken(t, srv, "hank@example.com", "reset", 1)
	h.authn.WaitBackground()
	for _, m := range srv.Messages() {
		if m.To[0] != "hank@example.com" {
			t.Errorf("mail sent to %s", m.To[0])
		}
	}
}

func TestResetLinkAttacks(t *testing.T) {
	o, srv := withMail(t, options{}, smtptest.Options{})
	h := newHarness(t, o)
	u := h.addUser("judy", gatehouse.RoleUser)
	forgot := func(n int) string {
		expect(t, h.do("POST", "/api/password/forgot", map[string]string{"email": u.Email}), 202, "")
		return mailedToken(t, srv, u.Email, "reset", n)
	}
	reset := func(tok, pw string) response {
		return h.do("POST", "/api/password/reset", map[string]string{"token": tok, "password": pw})
	}
	const newPW = "another long enough passphrase"

	// A password the policy refuses is a 400 naming the field, and the link still works.
	first := forgot(1)
	r := reset(first, "short")
	expect(t, r, 400, "bad_request")
	// The newest request voids the older link.
	second := forgot(2)
	expect(t, reset(first, newPW), 401, "invalid_token")
	// Expiry, with the injected clock: 30 minutes by default.
	h.clock.Advance(30*time.Minute + time.Second)
	expect(t, reset(second, newPW), 401, "invalid_token")
	// A disabled account cannot be taken back through a link mailed before.
	third := forgot(3)
	yes := true
	if _, _, err := h.authn.UpdateUser(context.Background(), "", u.ID, authn.UserChange{Disabled: &yes}, authn.Client{}); err != nil {
		t.Fatal(err)
	}
	expect(t, reset(third, newPW), 401, "invalid_token")
	// Forged and malformed tokens.
	for _, tok := range []string{"x", third[:42] + "A", "../../etc/passwd", third + third} {
		expect(t, reset(tok, newPW), 401, "invalid_token")
	}
	expect(t, reset("", newPW), 400, "bad_request")
}
