// Package mail sends gatehouse's messages to users (address verification, password reset):
// it renders them from templates (embedded, or overridden from a directory) and hands them to
// a Transport, either an SMTP relay (github.com/wneessen/go-mail) or, for development, an
// Outbox that writes them to a directory or the log.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.Mailer = (*Mailer)(nil)

// ErrHeaderInjection means a value bound for a header (a name, an address, a subject) holds a
// line break or another control character, which could add headers or recipients.
var ErrHeaderInjection = errors.New("mail: a header value contains a line break or a control character")

// ErrBadAddress means an address is not one plain e-mail address.
var ErrBadAddress = errors.New("mail: not a single e-mail address")

// Message is a rendered message, ready for a Transport.
type Message struct {
	Kind    gatehouse.MailKind
	From    netmail.Address
	To      netmail.Address
	Subject string
	Text    string // the plain-text body
	HTML    string // the HTML alternative; may be empty
}

// Transport delivers rendered messages.
type Transport interface {
	Deliver(ctx context.Context, m Message) error
}

// Mailer is a gatehouse.Mailer: it renders a gatehouse.Mail with its Templates and hands it to
// its Transport.
type Mailer struct {
	from    netmail.Address
	service string
	tpl     *Templates
	tr      Transport
}

// New returns a Mailer that sends from the address from ("Name <address>" or a bare address).
// The display name of from, or "gatehouse" without one, is the service name the templates
// show. tpl nil means the embedded templates.
func New(from string, tpl *Templates, tr Transport) (*Mailer, error) {
	addr, err := ParseFrom(from)
	if err != nil {
		return nil, err
	}
	if tpl == nil {
		if tpl, err = LoadTemplates(""); err != nil {
			return nil, err
		}
	}
	service := addr.Name
	if service == "" {
		service = "gatehouse"
	}
	return &Mailer{from: *addr, service: service, tpl: tpl, tr: tr}, nil
}

// ParseFrom parses a sender ("Name <address>" or a bare address) and refuses control
// characters in it.
func ParseFrom(from string) (*netmail.Address, error) {
	if err := CheckHeader(from); err != nil {
		return nil, fmt.Errorf("mail from: %w", err)
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, ErrBadAddress)
	}
	return addr, nil
}

// Send renders m and delivers it. It returns an error wrapping ErrHeaderInjection or
// ErrBadAddress, without sending anything, when the recipient's name or address could not
// be put into headers safely.
func (ml *Mailer) Send(ctx context.Context, m gatehouse.Mail) error {
	if !m.Kind.Valid() {
		return fmt.Errorf("mail: unknown kind of message %q", m.Kind)
	}
	if m.Link == "" {
		return errors.New("mail: the message has no link")
	}
	to, err := Recipient(m.ToName, m.To)
	if err != nil {
		return err
	}
	msg, err := ml.tpl.render(m.Kind, TemplateData{
		Name: displayName(m), Username: m.Username, Link: m.Link,
		Expires: HumanDuration(m.Expires), Service: ml.service,
	})
	if err != nil {
		return err
	}
	msg.From, msg.To = ml.from, to
	return ml.tr.Deliver(ctx, msg)
}

func displayName(m gatehouse.Mail) string {
	if m.ToName != "" {
		return m.ToName
	}
	return m.Username
}

// Recipient checks a recipient's display name and address and returns them as an address. The
// address must be one plain address (no display name, no list, no group).
func Recipient(name, address string) (netmail.Address, error) {
	if err := CheckHeader(name); err != nil {
		return netmail.Address{}, fmt.Errorf("recipient name: %w", err)
	}
	if err := CheckHeader(address); err != nil {
		return netmail.Address{}, fmt.Errorf("recipient address: %w", err)
	}
	a, err := netmail.ParseAddress(address)
	if err != nil || a.Name != "" || a.Address != address {
		return netmail.Address{}, fmt.Errorf("recipient address: %w", ErrBadAddress)
	}
	return netmail.Address{Name: name, Address: address}, nil
}

// CheckHeader returns ErrHeaderInjection if v holds a line break or another control character
// (tab excepted).
func CheckHeader(v string) error {
	for _, r := range v {
		if (r < 0x20 && r != '\t') || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ErrHeaderInjection
		}
	}
	return nil
}

// HumanDuration writes d the way a message says it: "24 hours", "30 minutes", "1 hour 30
// minutes". Durations under a minute are written as "1 minute".
func HumanDuration(d time.Duration) string {
	mins := int(d.Round(time.Minute) / time.Minute)
	mins = max(mins, 1)
	h, m := mins/60, mins%60
	var parts []string
	if h > 0 {
		parts = append(parts, plural(h, "hour"))
	}
	if m > 0 {
		parts = append(parts, plural(m, "minute"))
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
