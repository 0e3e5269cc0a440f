package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/emaillink"
	"github.com/gatehouse-auth/gatehouse/mail"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// mailConfig says how gatehouse sends mail to users (address verification, password reset).
type mailConfig struct {
	SMTPURL          string
	SMTPPasswordFile string
	SMTPCAFile       string
	From             string
	Dir              string
	Templates        string
	// Account flows that send mail (recovery.go in authn).
	ResetTTL        time.Duration
	VerifyTTL       time.Duration
	RequireVerified bool
}

// devMailFrom is the sender of the development outbox, used when no SMTP relay is configured.
const devMailFrom = "gatehouse <gatehouse@localhost>"

func (c *config) mailFlags(fs *pflag.FlagSet) {
	m := &c.mail
	fs.StringVar(&m.SMTPURL, "smtp-url", "", "SMTP relay: smtp://user:password@host:587 (STARTTLS, required), smtps://user:password@host:465 (TLS), or smtp://host:port?tls=off (in clear, no credentials: a relay on this machine); when unset, mail goes to the development outbox (--mail-dir, or the log)")
	fs.StringVar(&m.SMTPPasswordFile, "smtp-password-file", "", "file holding the SMTP password (instead of the one in --smtp-url; a trailing newline is ignored)")
	fs.StringVar(&m.SMTPCAFile, "smtp-ca-file", "", "PEM file of the certificate authorities that the SMTP relay's certificate must chain to (default: the system's)")
	fs.StringVar(&m.From, "mail-from", "", `sender of the mail, "Name <address>" or an address (required with --smtp-url; its name is the service name the messages show)`)
	fs.SetAnnotation("mail-from", docsDefault, []string{devMailFrom + " without --smtp-url"})
	fs.StringVar(&m.Dir, "mail-dir", "", "without --smtp-url: write each message to a file in this directory instead of logging it (the log has the body at debug level only)")
	fs.DurationVar(&m.ResetTTL, "reset-link-ttl", emaillink.DefaultResetTTL, "how long a password reset link works (the newest request voids older links)")
	fs.DurationVar(&m.VerifyTTL, "verify-link-ttl", emaillink.DefaultVerifyTTL, "how long an e-mail verification link works")
	fs.BoolVar(&m.RequireVerified, "require-verified-email", false, "refuse sign-in to accounts (admins excepted) until their e-mail address is verified")
	fs.StringVar(&m.Templates, "mail-templates", "", "directory of mail templates replacing the built-in ones file by file (verify.subject.txt, verify.txt, verify.html, reset.subject.txt, reset.txt, reset.html)")
}

// smtpConfig reads --smtp-url and --smtp-password-file; ok is false without --smtp-url.
func (m *mailConfig) smtpConfig() (cfg mail.SMTPConfig, ok bool, err error) {
	if m.SMTPURL == "" {
		if m.SMTPPasswordFile != "" || m.SMTPCAFile != "" {
			return cfg, false, fmt.Errorf("--smtp-password-file and --smtp-ca-file need --smtp-url")
		}
		return cfg, false, nil
	}
	if cfg, err = mail.ParseURL(m.SMTPURL); err != nil {
		return cfg, false, fmt.Errorf("--smtp-url: %w", err)
	}
	if m.SMTPPasswordFile != "" {
		if cfg.Password != "" {
			return cfg, false, fmt.Errorf("--smtp-url has a password and --smtp-password-file gives another: use one")
		}
		b, err := os.ReadFile(m.SMTPPasswordFile)
		if err != nil {
			return cfg, false, fmt.Errorf("--smtp-password-file: %w", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if cfg.TLSConfig, err = m.tlsConfig(); err != nil {
		return cfg, false, err
	}
	return cfg, true, cfg.Validate()
}

func (m *mailConfig) tlsConfig() (*tls.Config, error) {
	if m.SMTPCAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(m.SMTPCAFile)
	if err != nil {
		return nil, fmt.Errorf("--smtp-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--smtp-ca-file %s: no PEM certificate in it", m.SMTPCAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// validateMail checks every mail setting, so that a mistake stops the start rather than the
// first password reset.
func (c *config) validateMail() error {
	if c.mail.ResetTTL < 0 || c.mail.VerifyTTL < 0 {
		return fmt.Errorf("--reset-link-ttl and --verify-link-ttl must be positive")
	}
	if c.mail.ResetTTL > 24*time.Hour {
		return fmt.Errorf("--reset-link-ttl %v: at most 24h (a reset link is a password in a mailbox)", c.mail.ResetTTL)
	}
	_, err := c.newMailer(slog.New(slog.DiscardHandler), false)
	return err
}

// emailLinks returns the single-use e-mail links, kept with the users (PostgreSQL or SQLite);
// their store's expired rows are swept with the others.
func (a *app) emailLinks() *emaillink.Links {
	var st interface {
		gatehouse.EmailLinkStore
		gatehouse.Expirer
	}
	if a.cfg.UserStore == "postgres" {
		st = postgres.NewEmailLinkStore(a.shared.pg)
	} else {
		st = sqlite.NewEmailLinkStore(a.db)
	}
	a.expirers = append(a.expirers, st)
	return emaillink.New(st, emaillink.Config{ResetTTL: a.cfg.mail.ResetTTL, VerifyTTL: a.cfg.mail.VerifyTTL, Now: a.now})
}

// newMailer builds the mailer: SMTP with --smtp-url, else the development outbox. With create
// false it checks the settings without creating the outbox directory.
func (c *config) newMailer(log *slog.Logger, create bool) (gatehouse.Mailer, error) {
	m := &c.mail
	smtpCfg, useSMTP, err := m.smtpConfig()
	if err != nil {
		return nil, err
	}
	from := m.From
	switch {
	case from == "" && useSMTP:
		return nil, fmt.Errorf("--mail-from is required with --smtp-url")
	case from == "":
		from = devMailFrom
	case useSMTP && m.Dir != "":
		return nil, fmt.Errorf("--mail-dir is the development outbox: it does not go with --smtp-url")
	}
	tpl, err := mail.LoadTemplates(m.Templates)
	if err != nil {
		return nil, fmt.Errorf("--mail-templates: %w", err)
	}
	var tr mail.Transport
	switch {
	case useSMTP:
		tr, err = mail.NewSMTP(smtpCfg)
	case create:
		tr, err = mail.NewOutbox(m.Dir, log)
	}
	if err != nil {
		return nil, err
	}
	mailer, err := mail.New(from, tpl, tr)
	if err != nil {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	if create {
		c.logMail(log, smtpCfg, useSMTP)
	}
	return mailer, nil
}

func (c *config) logMail(log *slog.Logger, smtpCfg mail.SMTPConfig, useSMTP bool) {
	switch {
	case useSMTP:
		log.Info("mail goes through an SMTP relay", "relay", smtpCfg.String())
	case c.mail.Dir != "":
		log.Info("no SMTP relay configured (--smtp-url): mail to users is written to the mail directory, not sent", "dir", c.mail.Dir)
	default:
		log.Info("no SMTP relay configured (--smtp-url): mail to users is not sent; its body (with single-use links) is logged at debug level only")
	}
}
