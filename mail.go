package gatehouse

import (
	"context"
	"time"
)

// MailKind says which message a Mail is, and so which template renders it.
type MailKind string

// The messages gatehouse sends.
const (
	// MailVerify asks the recipient to confirm that the address is theirs.
	MailVerify MailKind = "verify"
	// MailReset carries a link to choose a new password.
	MailReset MailKind = "reset"
)

// Valid reports whether k is a kind of message gatehouse knows.
func (k MailKind) Valid() bool { return k == MailVerify || k == MailReset }

// Mail is one message to a user. Link carries a secret (a single-use token): it must never be
// logged.
type Mail struct {
	Kind     MailKind
	To       string        // the recipient's address
	ToName   string        // the recipient's display name, may be empty
	Username string        // the account the message is about
	Link     string        // the link the message asks the recipient to open
	Expires  time.Duration // how long the link works
}

// Mailer sends mail to users. Send returns once the message has been handed to the mail system
// (an SMTP relay, or the development outbox); an error means it was not.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}
