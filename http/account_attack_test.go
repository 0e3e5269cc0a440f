package http_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// gatedUsers is the real user store whose address lookups wait until gate is closed: a store
// as slow as one likes, to show what an answer waits for.
type gatedUsers struct {
	gatehouse.UserStore
	gate chan struct{}
}

func (g gatedUsers) UserByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	<-g.gate
	return g.UserStore.UserByEmail(ctx, email)
}

// TestForgotPasswordTimingDoesNotDependOnTheAccount: the answer to a reset request never waits
// for the address lookup (nor for the mail): with the lookup held, the answers for an address
// with an account, one without and a disabled account's all come back, identical, so their
// timing cannot tell them apart. The lookup then goes on, and only the live account gets mail.
func TestForgotPasswordTimingDoesNotDependOnTheAccount(t *testing.T) {
	gate := make(chan struct{})
	o, srv := withMail(t, options{}, smtptest.Options{})
	prev := o.configure
	o.configure = func(d *authn.Deps, c *ghttp.Config) {
		prev(d, c)
		d.Users = gatedUsers{UserStore: d.Users, gate: gate}
	}
	h := newHarness(t, o)
	h.addUser("kai", gatehouse.RoleUser)
	off := h.addUser("lou", gatehouse.RoleUser)
	yes := true
	if _, err := h.users.UpdateUser(context.Background(), off.ID, gatehouse.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	answers := make(chan response, 3)
	for _, addr := range []string{"kai@example.com", "nobody@example.com", "lou@example.com"} {
		go func() { answers <- h.do("POST", "/api/password/forgot", map[string]string{"email": addr}) }()
	}
	var first string
	for i := range 3 {
		select {
		case r := <-answers:
			expect(t, r, 202, "")
			if i == 0 {
				first = r.raw
			} else if r.raw != first {
				t.Fatalf("answers differ: %s / %s", first, r.raw)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a reset request waited for the address lookup")
		}
	}
	close(gate)
	mailedToken(t, srv, "kai@example.com", "reset", 1)
	h.authn.WaitBackground()
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails, want 1 (to the live account only)", n)
	}
}

// TestRegistrationMailHeaderInjection: a name or an address built to add headers or recipients
// to the verification mail is refused at registration, through the API and the page, and no
// mail leaves; a display name full of quotes and commas is sent encoded to the one address.
func TestRegistrationMailHeaderInjection(t *testing.T) {
	o, srv := withMail(t, options{registration: true}, smtptest.Options{})
	h := newHarness(t, o)
	const pw = "a registration passphrase"
	for i, c := range []struct{ name, email string }{
		{"Eve\r\nBcc: victim@example.net", "eve1@example.com"},
		{"Eve\nBcc: victim@example.net", "eve2@example.com"},
		{"Eve", "eve3@example.com\r\nBcc: victim@example.net"},
		{"Eve", "eve4@example.com, victim@example.net"},
		{"Eve", "Victim <victim@example.net>"},
	} {
		body := map[string]string{"username": "eve" + string(rune('a'+i)), "password": pw, "name": c.name, "email": c.email}
		expect(t, h.do("POST", "/api/register", body), 400, "bad_request")
		form := url.Values{"username": {body["username"]}, "password": {pw}, "confirm_password": {pw}, "name": {c.name}, "email": {c.email}}
		expectPage(t, h.browser("page").post("/register", form), 400)
	}
	expect(t, h.do("POST", "/api/register", map[string]string{"username": "quoted", "password": pw,
		"name": `Eve" <eve@example.net>, "Mallory`, "email": "quoted@example.com"}), 201, "")
	mailedToken(t, srv, "quoted@example.com", "verify", 1)
	h.authn.WaitBackground()
	for _, m := range srv.Messages() {
		if len(m.To) != 1 || m.To[0] != "quoted@example.com" {
			t.Fatalf("a mail went to %q", m.To)
		}
	}
}
