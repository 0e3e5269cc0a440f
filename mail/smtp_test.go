package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/mail"
)

func TestParseURL(t *testing.T) {
	good := []struct {
		url        string
		host       string
		port       int
		sec        mail.Security
		user, pass string
	}{
		{"smtp://user:pa%40ss@mail.example.com", "mail.example.com", 587, mail.StartTLS, "user", "pa@ss"},
		{"smtp://user:pass@mail.example.com:2525", "mail.example.com", 2525, mail.StartTLS, "user", "pass"},
		{"smtps://mail.example.com", "mail.example.com", 465, mail.ImplicitTLS, "", ""},
		{"smtps://u:p@[::1]:4650", "::1", 4650, mail.ImplicitTLS, "u", "p"},
		{"smtp://127.0.0.1:1025?tls=off", "127.0.0.1", 1025, mail.NoTLS, "", ""},
		{"smtp://relay/", "relay", 587, mail.StartTLS, "", ""},
	}
	for _, c := range good {
		got, err := mail.ParseURL(c.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.url, err)
			continue
		}
		if got.Host != c.host || got.Port != c.port || got.Security != c.sec || got.Username != c.user || got.Password != c.pass {
			t.Errorf("ParseURL(%q) = %+v", c.url, got)
		}
	}
	bad := []string{
		"http://mail.example.com",
		"mail.example.com:587",
		"smtp://",
		"smtp://user:s3cretpw@host?tls=off",    // credentials in clear
		"smtps://host?tls=off",                 // contradiction
		"smtp://host?tls=on",                   // only off is a value
		"smtp://host?starttls=false",           // unknown parameter
		"smtp://host:99999",                    // port
		"smtp://host:0",                        // port
		"smtp://host/path",                     // path
		"smtp://:s3cretpw@host",                // password without user
		"smtp://user:s3cretpw@host:587%zz?x=1", // unparsable
	}
	for _, u := range bad {
		_, err := mail.ParseURL(u)
		if !errors.Is(err, mail.ErrSMTPURL) {
			t.Errorf("ParseURL(%q) = %v, want an ErrSMTPURL", u, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("ParseURL(%q): the error repeats the password: %v", u, err)
		}
	}
}

func TestSMTPConfigStringHidesPassword(t *testing.T) {
	c, err := mail.ParseURL("smtp://user:s3cretpw@host")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "s3cretpw") || !strings.Contains(s, "host:587") {
		t.Fatalf("String() = %q", s)
	}
}

// mailerFor returns a Mailer sending to srv through the real go-mail client.
func mailerFor(t *testing.T, srv *smtptest.Server) *mail.Mailer {
	t.Helper()
	cfg, err := mail.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = srv.ClientTLSConfig()
	cfg.Timeout = 5 * time.Second
	return newMailer(t, cfg)
}

func newMailer(t *testing.T, cfg mail.SMTPConfig) *mail.Mailer {
	t.Helper()
	tr, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.New("Example Accounts <accounts@example.com>", nil, tr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func resetMail(to string) gatehouse.Mail {
	return gatehouse.Mail{
		Kind: gatehouse.MailReset, To: to, ToName: "Ada Lovelace", Username: "ada",
		Link: "https://id.example.com/reset?token=Tok_en-123&x=<y>", Expires: 30 * time.Minute,
	}
}

func TestSendInEveryMode(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    smtptest.Options
		wantTLS bool
	}{
		{"clear", smtptest.Options{Mode: smtptest.Plain}, false},
		{"starttls", smtptest.Options{Mode: smtptest.StartTLS, Username: "relay", Password: "p@ss word"}, true},
		{"implicit-tls", smtptest.Options{Mode: smtptest.ImplicitTLS, Username: "relay", Password: "pw"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, c.opts)
			if err := mailerFor(t, srv).Send(context.Background(), resetMail("ada@example.org")); err != nil {
				t.Fatal(err)
			}
			msg := srv.Wait(t, 1, 5*time.Second)[0]
			if msg.TLS != c.wantTLS || msg.AuthUser != c.opts.Username {
				t.Errorf("TLS = %v, user = %q; want %v, %q", msg.TLS, msg.AuthUser, c.wantTLS, c.opts.Username)
			}
			checkResetMessage(t, msg)
		})
	}
}

func checkResetMessage(t *testing.T, msg smtptest.Message) {
	t.Helper()
	if msg.From != "accounts@example.com" || len(msg.To) != 1 || msg.To[0] != "ada@example.org" {
		t.Errorf("envelope from %q to %q", msg.From, msg.To)
	}
	if got := msg.Header("Subject"); got != "Reset your Example Accounts password" {
		t.Errorf("Subject = %q", got)
	}
	if got := msg.Header("To"); !strings.Contains(got, "Ada Lovelace") || !strings.Contains(got, "<ada@example.org>") {
		t.Errorf("To = %q", got)
	}
	if msg.Header("Message-Id") == "" || msg.Header("Date") == "" {
		t.Errorf("no Message-ID or Date: %s", msg.Data)
	}
	text, err := msg.Part("text/plain")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "https://id.example.com/reset?token=Tok_en-123&x=<y>") || !strings.Contains(text, "30 minutes") {
		t.Errorf("text body:\n%s", text)
	}
	html, err := msg.Part("text/html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, `href="https://id.example.com/reset?token=Tok_en-123&amp;x=%3cy%3e"`) {
		t.Errorf("HTML body does not carry the escaped link:\n%s", html)
	}
}

// A relay reached with smtp:// must upgrade with STARTTLS: one that does not offer it (or an
// attacker who strips the offer) gets nothing, not the message in clear.
func TestStartTLSIsRequired(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Plain})
	cfg, err := mail.ParseURL("smtp://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	err = newMailer(t, cfg).Send(context.Background(), resetMail("ada@example.org"))
	if err == nil {
		t.Fatal("sent without STARTTLS")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("the server got %d message(s) in clear", n)
	}
}

func TestUntrustedCertificateIsRefused(t *testing.T) {
	for _, mode := range []smtptest.Mode{smtptest.StartTLS, smtptest.ImplicitTLS} {
		srv := smtptest.Start(t, smtptest.Options{Mode: mode, Username: "relay", Password: "pw"})
		cfg, err := mail.ParseURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Timeout = 5 * time.Second // the system roots do not hold the test certificate
		if err := newMailer(t, cfg).Send(context.Background(), resetMail("ada@example.org")); err == nil {
			t.Errorf("mode %d: sent to a server whose certificate does not verify", mode)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("mode %d: the server got %d message(s)", mode, n)
		}
	}
}

func TestWrongPasswordIsRefused(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Username: "relay", Password: "right"})
	cfg, err := mail.ParseURL("smtp://relay:wrong@" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = srv.ClientTLSConfig()
	err = newMailer(t, cfg).Send(context.Background(), resetMail("ada@example.org"))
	if err == nil || len(srv.Messages()) != 0 {
		t.Fatalf("err = %v, messages = %d", err, len(srv.Messages()))
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error repeats the password: %v", err)
	}
}

func TestRelayRefusalIsAnError(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Reject: &smtp.SMTPError{Code: 550, Message: "no such user"}})
	if err := mailerFor(t, srv).Send(context.Background(), resetMail("ada@example.org")); err == nil {
		t.Fatal("a refused recipient is not an error")
	}
}

// Names and addresses come from users: a line break in them must not add a header or a
// recipient, whether it is refused here or by the store's validation before.
func TestHeaderInjectionIsRefused(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Plain})
	m := mailerFor(t, srv)
	for _, c := range []struct{ name, addr string }{
		{"Ada\r\nBcc: victim@example.net", "ada@example.org"},
		{"Ada\nBcc: victim@example.net", "ada@example.org"},
		{"Ada\rX: y", "ada@example.org"},
		{"Ada\x00", "ada@example.org"},
		{"Ada\u2028", "ada@example.org"},
		{"Ada", "ada@example.org\r\nBcc: victim@example.net"},
		{"Ada", "ada@example.org\nBcc: victim@example.net"},
	} {
		ml := resetMail(c.addr)
		ml.ToName = c.name
		if err := m.Send(context.Background(), ml); !errors.Is(err, mail.ErrHeaderInjection) {
			t.Errorf("name %q addr %q: err = %v, want ErrHeaderInjection", c.name, c.addr, err)
		}
	}
	for _, addr := range []string{"ada@example.org, victim@example.net", "Victim <victim@example.net>", "group: a@b.c;", "not an address", ""} {
		if err := m.Send(context.Background(), resetMail(addr)); !errors.Is(err, mail.ErrBadAddress) {
			t.Errorf("addr %q: err = %v, want ErrBadAddress", addr, err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d message(s) sent", n)
	}
}

// Quotes, commas and angle brackets in a display name are encoded, never read as more
// addresses.
func TestDisplayNameIsEncoded(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Plain})
	ml := resetMail("ada@example.org")
	ml.ToName = `Eve" <eve@example.net>, "Mallory`
	if err := mailerFor(t, srv).Send(context.Background(), ml); err != nil {
		t.Fatal(err)
	}
	msg := srv.Wait(t, 1, 5*time.Second)[0]
	if len(msg.To) != 1 || msg.To[0] != "ada@example.org" {
		t.Fatalf("envelope recipients %q", msg.To)
	}
	to := msg.Headers("To")
	if len(to) != 1 {
		t.Fatalf("To headers %q", to)
	}
	list, err := parseAddressList(to[0])
	if err != nil || len(list) != 1 || list[0].Address != "ada@example.org" {
		t.Fatalf("To %q parses as %v (%v)", to[0], list, err)
	}
}

func TestNewRefusesABadSender(t *testing.T) {
	for _, from := range []string{"", "not an address", "a@b.c\r\nBcc: x@y.z", "a@b.c, d@e.f"} {
		if _, err := mail.New(from, nil, nil); err == nil {
			t.Errorf("New(%q) accepted", from)
		}
	}
}

func TestSendRefusesAMessageWithoutLinkOrKind(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	m := mailerFor(t, srv)
	ml := resetMail("ada@example.org")
	ml.Link = ""
	if err := m.Send(context.Background(), ml); err == nil {
		t.Error("a message without a link was sent")
	}
	ml = resetMail("ada@example.org")
	ml.Kind = "welcome"
	if err := m.Send(context.Background(), ml); err == nil {
		t.Error("a message of an unknown kind was sent")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", 24 * time.Hour: "24 hours", time.Hour: "1 hour",
		90 * time.Minute: "1 hour 30 minutes", time.Second: "1 minute", 61 * time.Minute: "1 hour 1 minute",
	} {
		if got := mail.HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
