package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"

	"github.com/gatehouse-auth/gatehouse"
)

//go:embed templates/*
var embedded embed.FS

// TemplateData is what a template sees.
type TemplateData struct {
	Name     string // the recipient's display name, or the username
	Username string
	Link     string // the link to open (carries a single-use secret)
	Expires  string // how long the link works, in words ("30 minutes")
	Service  string // the sender's display name, or "gatehouse"
}

// Templates renders each kind of message from three files: <kind>.subject.txt (one line),
// <kind>.txt (the plain-text body) and <kind>.html (the HTML alternative), where kind is
// "verify" or "reset". Text files are text/template, the HTML file html/template (which
// escapes what it inserts).
type Templates struct {
	subject, text map[gatehouse.MailKind]*texttemplate.Template
	html          map[gatehouse.MailKind]*htmltemplate.Template
}

var kinds = []gatehouse.MailKind{gatehouse.MailVerify, gatehouse.MailReset}

// LoadTemplates parses the templates. A file present in dir replaces the embedded one of the
// same name; dir "" means the embedded templates only. Every template is rendered once with
// sample values, so that a mistake shows at start-up rather than when a user needs the mail.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{
		subject: map[gatehouse.MailKind]*texttemplate.Template{},
		text:    map[gatehouse.MailKind]*texttemplate.Template{},
		html:    map[gatehouse.MailKind]*htmltemplate.Template{},
	}
	for _, k := range kinds {
		if err := t.load(dir, k); err != nil {
			return nil, err
		}
	}
	sample := TemplateData{Name: "Ada", Username: "ada", Link: "https://example.com/x?token=t", Expires: "30 minutes", Service: "gatehouse"}
	for _, k := range kinds {
		if _, err := t.render(k, sample); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Templates) load(dir string, k gatehouse.MailKind) error {
	read := func(suffix string) (string, string, error) {
		name := string(k) + suffix
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return name, string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", "", fmt.Errorf("mail templates: %w", err)
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		return name, string(b), err
	}
	var err error
	for _, part := range []struct {
		suffix string
		parse  func(name, src string) error
	}{
		{".subject.txt", func(n, s string) (e error) { t.subject[k], e = parseText(n, s); return }},
		{".txt", func(n, s string) (e error) { t.text[k], e = parseText(n, s); return }},
		{".html", func(n, s string) (e error) {
			t.html[k], e = htmltemplate.New(n).Option("missingkey=error").Parse(s)
			return
		}},
	} {
		name, src, rerr := read(part.suffix)
		if rerr != nil {
			return rerr
		}
		if err = part.parse(name, src); err != nil {
			return fmt.Errorf("mail template %s: %w", name, err)
		}
	}
	return nil
}

func parseText(name, src string) (*texttemplate.Template, error) {
	return texttemplate.New(name).Option("missingkey=error").Parse(src)
}

// render fills the templates of kind k; the message it returns has no sender or recipient.
func (t *Templates) render(k gatehouse.MailKind, d TemplateData) (Message, error) {
	var subj, text, html bytes.Buffer
	if err := t.subject[k].Execute(&subj, d); err != nil {
		return Message{}, fmt.Errorf("mail template %s: %w", k, err)
	}
	if err := t.text[k].Execute(&text, d); err != nil {
		return Message{}, fmt.Errorf("mail template %s: %w", k, err)
	}
	if err := t.html[k].Execute(&html, d); err != nil {
		return Message{}, fmt.Errorf("mail template %s: %w", k, err)
	}
	subject := strings.TrimSpace(subj.String())
	if err := CheckHeader(subject); err != nil {
		return Message{}, fmt.Errorf("mail subject of %s: %w", k, err)
	}
	return Message{Kind: k, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
