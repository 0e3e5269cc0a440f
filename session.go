package gatehouse

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Session is a stateful login. Its secret id lives only in the client's cookie; stores key the
// session by Hash (the SHA-256 of the secret) and list it by Handle, a public id that can be
// shown and used to revoke it but never to authenticate.
type Session struct {
	Hash       Hash      `json:"-"`
	Handle     string    `json:"id"`
	User       Principal `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the absolute expiry, fixed at creation. The idle expiry is LastSeenAt plus
	// the manager's idle timeout.
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	// AMR is how the user signed in (zero for a session stored before it was recorded).
	AMR AuthMethods `json:"-"`
}

// MaxUserAgent is the longest user agent, in bytes, that gatehouse keeps (with a session, in an
// audit event).
const MaxUserAgent = 256

// CleanUserAgent returns ua fit to keep and to log: every control character and every byte of
// invalid UTF-8 replaced by replacement (a hostile header cannot forge log lines), then cut to
// MaxUserAgent bytes at a character boundary, as a copy that does not hold on to a longer header.
func CleanUserAgent(ua string, replacement rune) string {
	ua = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return replacement
		}
		return r
	}, ua)
	if len(ua) <= MaxUserAgent {
		return ua
	}
	cut := MaxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return strings.Clone(ua[:cut])
}

// SessionStore keeps sessions. "Not found" is not a failure: Find reports it with found=false.
// Stores may drop sessions after ExpiresAt; the session manager enforces every timeout itself.
type SessionStore interface {
	// CreateSession stores s.
	CreateSession(ctx context.Context, s *Session) error
	// FindSession returns the session whose secret hashes to h.
	FindSession(ctx context.Context, h Hash) (s *Session, found bool, err error)
	// TouchSession sets LastSeenAt of an existing session. It never creates one: touching a
	// session that was deleted meanwhile reports found=false and stores nothing.
	TouchSession(ctx context.Context, h Hash, lastSeen time.Time) (found bool, err error)
	// DeleteSession removes the session whose secret hashes to h; found=false if none.
	DeleteSession(ctx context.Context, h Hash) (found bool, err error)
	// DeleteSessionByHandle removes the session with that handle if it belongs to userID, and
	// returns its hash; found=false if there is none (or it is someone else's).
	DeleteSessionByHandle(ctx context.Context, userID, handle string) (h Hash, found bool, err error)
	// SessionByHandle returns the session with that handle, whoever owns it (for admins).
	SessionByHandle(ctx context.Context, handle string) (s *Session, found bool, err error)
	// ListSessions returns the user's sessions, oldest first, expired ones included or not.
	ListSessions(ctx context.Context, userID string) ([]*Session, error)
	// DeleteUserSessions removes every session of the user and returns their hashes.
	DeleteUserSessions(ctx context.Context, userID string) ([]Hash, error)
}

// Expirer is an optional capability of stores that keep expired records until told to drop
// them: DeleteExpired removes what expired before now and returns how many.
type Expirer interface {
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// SessionTouch is one last-seen time of a batch written by a SessionBatchToucher.
type SessionTouch struct {
	Hash     Hash
	LastSeen time.Time
}

// SessionBatchToucher is an optional SessionStore capability: TouchSessions writes many
// last-seen times at once (SQLite: in one transaction), as TouchSession would one by one. A
// session that is gone is skipped, never created. For writers that batch touches off the
// request path (session.Options.TouchDelay).
type SessionBatchToucher interface {
	TouchSessions(ctx context.Context, ts []SessionTouch) error
}

// SessionCounter is an optional SessionStore capability: the number of stored sessions (expired
// ones that were not swept yet included), for metrics.
type SessionCounter interface {
	CountSessions(ctx context.Context) (int, error)
}

// Clone returns a copy of s that shares no memory with it: the groups are copied too (a
// session without groups costs no allocation for them).
func (s *Session) Clone() *Session {
	c := *s
	c.User.Groups = slices.Clone(c.User.Groups)
	return &c
}
