package main

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

func writeTempFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The mail flags, as an operator gives them, reach a real relay: STARTTLS with a private CA
// and the password from a file.
func TestMailFlagsReachTheRelay(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Username: "relay", Password: "pass word"})
	u, _ := url.Parse(srv.URL())
	u.User = url.User("relay")
	cfg := &config{mail: mailConfig{
		SMTPURL:          u.String(),
		SMTPPasswordFile: writeTempFile(t, "password", []byte("pass word\n")),
		SMTPCAFile:       writeTempFile(t, "ca.pem", srv.CertPEM()),
		From:             "Acme Accounts <accounts@acme.test>",
	}}
	if err := cfg.validateMail(); err != nil {
		t.Fatal(err)
	}
	m, err := cfg.newMailer(slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), gatehouse.Mail{Kind: gatehouse.MailVerify, To: "ada@acme.test", Username: "ada",
		Link: "https://id.acme.test/verify?token=abc", Expires: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	msg := srv.WaitFor(t, "ada@acme.test", 5*time.Second)
	if !msg.TLS || msg.AuthUser != "relay" || msg.Header("Subject") != "Confirm your e-mail address for Acme Accounts" {
		t.Fatalf("TLS %v, user %q, subject %q", msg.TLS, msg.AuthUser, msg.Header("Subject"))
	}
}

func TestMailFlagsAreChecked(t *testing.T) {
	pw := writeTempFile(t, "pw", []byte("secret"))
	notPEM := writeTempFile(t, "ca.pem", []byte("not a certificate"))
	badTpl := t.TempDir()
	if err := os.WriteFile(filepath.Join(badTpl, "reset.txt"), []byte("{{.Nope}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m    mailConfig
		want string
	}{
		{mailConfig{SMTPURL: "smtp://relay.test"}, "--mail-from is required"},
		{mailConfig{SMTPURL: "http://relay.test", From: "a@b.test"}, "--smtp-url"},
		{mailConfig{SMTPURL: "smtp://u:hunter2x@relay.test?tls=off", From: "a@b.test"}, "in clear"},
		{mailConfig{SMTPURL: "smtp://u:p@relay.test", SMTPPasswordFile: pw, From: "a@b.test"}, "use one"},
		{mailConfig{SMTPURL: "smtp://u@relay.test", SMTPPasswordFile: "/nonexistent/pw", From: "a@b.test"}, "--smtp-password-file"},
		{mailConfig{SMTPURL: "smtp://relay.test", SMTPCAFile: notPEM, From: "a@b.test"}, "no PEM certificate"},
		{mailConfig{SMTPPasswordFile: pw}, "need --smtp-url"},
		{mailConfig{SMTPURL: "smtp://relay.test", From: "a@b.test", Dir: t.TempDir()}, "--mail-dir"},
		{mailConfig{From: "not an address"}, "--mail-from"},
		{mailConfig{From: "a@b.test\r\nBcc: x@y.test"}, "--mail-from"},
		{mailConfig{Templates: badTpl}, "--mail-templates"},
	} {
		cfg := &config{mail: c.m}
		err := cfg.validateMail()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want one mentioning %q", c.m, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2x") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
	ok := &config{mail: mailConfig{Dir: filepath.Join(t.TempDir(), "outbox")}}
	if err := ok.validateMail(); err != nil {
		t.Fatalf("the development outbox: %v", err)
	}
}
