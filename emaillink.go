package gatehouse

import (
	"context"
	"time"
)

// LinkPurpose says what a single-use e-mail link does.
type LinkPurpose string

// The purposes of e-mail links.
const (
	LinkVerify LinkPurpose = "verify" // proves that an address belongs to the user
	LinkReset  LinkPurpose = "reset"  // lets the user choose a new password
)

// Valid reports whether p is a known purpose.
func (p LinkPurpose) Valid() bool { return p == LinkVerify || p == LinkReset }

// EmailLink is a single-use link sent by mail. Its secret lives only in the message; stores
// key the link by Hash (the SHA-256 of the secret).
type EmailLink struct {
	Hash      Hash
	UserID    string
	Purpose   LinkPurpose
	Email     string // the address the link was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
}

// EmailLinkStore keeps single-use e-mail links. Stores may drop links after ExpiresAt.
type EmailLinkStore interface {
	// CreateEmailLink stores l. With replace, it first removes, in the same transaction, every
	// other link of the same user and purpose: the newest request voids the older ones. It
	// returns ErrConflict if the hash exists.
	CreateEmailLink(ctx context.Context, l *EmailLink, replace bool) error
	// ConsumeEmailLink removes and returns the link whose secret hashes to h, if it has
	// purpose p and expires after now; found=false otherwise (and a link of another purpose
	// stays). Of concurrent calls for one link, exactly one finds it.
	ConsumeEmailLink(ctx context.Context, h Hash, p LinkPurpose, now time.Time) (l *EmailLink, found bool, err error)
	// DeleteUserEmailLinks removes every link of the user with purpose p ("" for every
	// purpose) and returns how many there were.
	DeleteUserEmailLinks(ctx context.Context, userID string, p LinkPurpose) (int, error)
}
