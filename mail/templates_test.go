package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/mail"
)

func TestTemplatesFromADirectoryReplaceTheEmbeddedOnes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "reset.subject.txt", "{{.Service}}: new password for {{.Username}}\n")
	write(t, dir, "reset.html", `<p>Go to <a href="{{.Link}}">{{.Link}}</a>, {{.Name}}</p>`)
	tpl, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	cfg, _ := mail.ParseURL(srv.URL())
	tr, _ := mail.NewSMTP(cfg)
	m, err := mail.New("Accounts <a@example.com>", tpl, tr)
	if err != nil {
		t.Fatal(err)
	}
	ml := resetMail("ada@example.org")
	ml.ToName = "<b>Ada</b>"
	if err := m.Send(context.Background(), ml); err != nil {
		t.Fatal(err)
	}
	msg := srv.Wait(t, 1, 5*time.Second)[0]
	if got := msg.Header("Subject"); got != "Accounts: new password for ada" {
		t.Errorf("Subject = %q", got)
	}
	html, _ := msg.Part("text/html")
	if !strings.Contains(html, "&lt;b&gt;Ada&lt;/b&gt;") || strings.Contains(html, "<b>Ada") {
		t.Errorf("the HTML template does not escape the name: %s", html)
	}
	text, _ := msg.Part("text/plain")
	if !strings.Contains(text, "someone (we hope you) asked") {
		t.Errorf("the embedded text template was not kept: %s", text)
	}
}

func TestBadTemplatesFailAtLoad(t *testing.T) {
	for name, src := range map[string]string{
		"verify.txt":         "{{.Nope}}",
		"reset.html":         "{{if}}",
		"reset.subject.txt":  "{{.Link",
		"verify.subject.txt": "line one\nline two {{.Name}}", // a subject on two lines
	} {
		dir := t.TempDir()
		write(t, dir, name, src)
		if _, err := mail.LoadTemplates(dir); err == nil {
			t.Errorf("%s = %q loaded", name, src)
		}
	}
	if _, err := mail.LoadTemplates(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("a missing directory should leave the embedded templates: %v", err)
	}
}

func write(t *testing.T, dir, name, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The development outbox writes the message to a private file, and logs where it is, never
// the link.
func TestOutboxWritesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ob, err := mail.NewOutbox(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mail.New("a@example.com", nil, ob)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := m.Send(context.Background(), resetMail("ada@example.org")); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v)", fi.Mode(), err)
	}
	b, _ := os.ReadFile(files[0])
	text, err := smtptest.Message{Data: b}.Part("text/plain")
	if err != nil || !strings.Contains(text, "token=Tok_en-123") {
		t.Fatalf("file body %q (%v)", text, err)
	}
	if strings.Contains(logs.String(), "Tok_en-123") {
		t.Fatalf("the log holds the link's token:\n%s", logs.String())
	}
}

// Without a directory the body goes to the log at debug level only.
func TestOutboxLogsTheBodyAtDebugOnly(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		var logs bytes.Buffer
		ob, err := mail.NewOutbox("", slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level})))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := mail.New("a@example.com", nil, ob)
		if err := m.Send(context.Background(), resetMail("ada@example.org")); err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(logs.String(), "Tok_en-123")
		if has != (level == slog.LevelDebug) {
			t.Errorf("level %v: token in the log = %v:\n%s", level, has, logs.String())
		}
		if !strings.Contains(logs.String(), "no SMTP relay") {
			t.Errorf("level %v: the log does not say the mail was not sent:\n%s", level, logs.String())
		}
	}
}
