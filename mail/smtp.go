package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Security is how an SMTP connection is protected.
type Security int

// The kinds of connection security. There is no opportunistic mode: STARTTLS, once asked for,
// is required, so that an attacker on the path cannot strip it.
const (
	// StartTLS connects in clear and requires the server to upgrade with STARTTLS (smtp://,
	// port 587 by default).
	StartTLS Security = iota
	// ImplicitTLS speaks TLS from the first byte (smtps://, port 465 by default).
	ImplicitTLS
	// NoTLS sends in clear (smtp://host:port?tls=off): only for a relay on the same machine or
	// a test server. It refuses credentials.
	NoTLS
)

func (s Security) String() string {
	switch s {
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "tls"
	case NoTLS:
		return "none"
	}
	return "unknown"
}

// DefaultTimeout bounds connecting to the relay and each exchange with it.
const DefaultTimeout = 15 * time.Second

// SMTPConfig says how to reach an SMTP relay.
type SMTPConfig struct {
	Host     string
	Port     int
	Security Security
	Username string
	Password string
	// TLSConfig, if set, replaces the default TLS settings (system roots, ServerName = Host,
	// TLS 1.2 at least), for example to trust a private CA.
	TLSConfig *tls.Config
	Timeout   time.Duration // zero means DefaultTimeout
}

// String describes the relay without its password.
func (c SMTPConfig) String() string {
	user := ""
	if c.Username != "" {
		user = " as " + c.Username
	}
	return fmt.Sprintf("%s (%s)%s", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.Security, user)
}

// ErrSMTPURL means an SMTP URL could not be used. Its messages never repeat the password.
var ErrSMTPURL = errors.New("smtp url")

// ParseURL reads an SMTP URL:
//
//	smtp://user:password@host:587   STARTTLS, required (port 587 by default)
//	smtps://user:password@host:465  TLS from the first byte (port 465 by default)
//	smtp://host:1025?tls=off        in clear, without credentials: local relays and tests only
//
// User name and password are percent-decoded. Any other scheme or query parameter is an error.
func ParseURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("%w: cannot parse it (check the escaping of the password)", ErrSMTPURL)
	}
	var c SMTPConfig
	switch u.Scheme {
	case "smtp":
		c.Security, c.Port = StartTLS, 587
	case "smtps":
		c.Security, c.Port = ImplicitTLS, 465
	default:
		return SMTPConfig{}, fmt.Errorf("%w: scheme %q: must be smtp or smtps", ErrSMTPURL, u.Scheme)
	}
	if err := c.readQuery(u); err != nil {
		return SMTPConfig{}, err
	}
	if err := c.readHost(u); err != nil {
		return SMTPConfig{}, err
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, c.Validate()
}

func (c *SMTPConfig) readQuery(u *url.URL) error {
	for k, v := range u.Query() {
		if k != "tls" {
			return fmt.Errorf("%w: unknown parameter %q (only tls=off is known)", ErrSMTPURL, k)
		}
		if len(v) != 1 || v[0] != "off" {
			return fmt.Errorf("%w: tls must be off when given (STARTTLS is the default of smtp://)", ErrSMTPURL)
		}
		if c.Security == ImplicitTLS {
			return fmt.Errorf("%w: smtps:// with tls=off contradicts itself", ErrSMTPURL)
		}
		c.Security = NoTLS
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: an SMTP URL has no path", ErrSMTPURL)
	}
	return nil
}

func (c *SMTPConfig) readHost(u *url.URL) error {
	c.Host = u.Hostname()
	if c.Host == "" {
		return fmt.Errorf("%w: no host", ErrSMTPURL)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: port %q", ErrSMTPURL, p)
		}
		c.Port = n
	}
	return nil
}

// Validate checks the settings: a host and a port, and no credentials over a connection in
// clear.
func (c SMTPConfig) Validate() error {
	switch {
	case c.Host == "":
		return fmt.Errorf("%w: no host", ErrSMTPURL)
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("%w: port %d", ErrSMTPURL, c.Port)
	case c.Security == NoTLS && (c.Username != "" || c.Password != ""):
		return fmt.Errorf("%w: tls=off with a user name or password would send them in clear", ErrSMTPURL)
	case c.Password != "" && c.Username == "":
		return fmt.Errorf("%w: a password without a user name", ErrSMTPURL)
	}
	return nil
}

// SMTP is a Transport that hands messages to an SMTP relay, one connection per message.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP returns an SMTP transport; it checks cfg but does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &SMTP{cfg: cfg}, nil
}

// Deliver sends m. It fails, sending nothing, when the security the configuration asks for
// cannot be had (a server that does not offer STARTTLS, a certificate that does not verify).
func (s *SMTP) Deliver(ctx context.Context, m Message) error {
	msg, err := buildMsg(m)
	if err != nil {
		return err
	}
	client, err := gomail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send through %s: %w", s.cfg, err)
	}
	return nil
}

func (s *SMTP) options() []gomail.Option {
	tc := s.cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc = tc.Clone()
		tc.ServerName = s.cfg.Host
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout), gomail.WithTLSConfig(tc)}
	switch s.cfg.Security {
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return opts
}

// buildMsg turns m into a go-mail message: a plain-text body with an HTML alternative, a Date
// and a Message-ID. The header values were checked by the Mailer; they are checked again here
// because a Transport may be used on its own.
func buildMsg(m Message) (*gomail.Msg, error) {
	for _, v := range []string{m.From.Name, m.From.Address, m.To.Name, m.To.Address, m.Subject} {
		if err := CheckHeader(v); err != nil {
			return nil, err
		}
	}
	msg := gomail.NewMsg()
	// The *Address forms keep the name as a value (quoted or encoded when written), where the
	// string forms would parse "name <address>" again, and a name holding quotes and commas
	// could then read as another address.
	from, to := m.From, m.To
	msg.FromMailAddress(&from)
	msg.ToMailAddress(&to)
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
