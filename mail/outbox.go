package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Outbox is the development Transport, used when no SMTP relay is configured: it writes each
// message, as the RFC 5322 file a relay would have received, to a directory, or to the log.
//
// Messages carry single-use secrets, so the Outbox never writes a message's body at info level:
// with a directory it logs where the file is; without one it logs the recipient and subject at
// info level and the body at debug level only (run with --log-level debug to read the links).
type Outbox struct {
	dir string
	log *slog.Logger
	now func() time.Time
}

// NewOutbox returns an Outbox writing into dir (created with mode 0700 if missing; "" means
// the log only) and logging to log.
func NewOutbox(dir string, log *slog.Logger) (*Outbox, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("mail directory: %w", err)
		}
	}
	return &Outbox{dir: dir, log: log, now: time.Now}, nil
}

// Deliver writes m to the directory or the log.
func (o *Outbox) Deliver(ctx context.Context, m Message) error {
	msg, err := buildMsg(m)
	if err != nil {
		return err
	}
	if o.dir == "" {
		o.log.InfoContext(ctx, "mail not sent: no SMTP relay is configured (--smtp-url); its body is logged at debug level",
			"kind", string(m.Kind), "to", m.To.Address, "subject", m.Subject)
		o.log.DebugContext(ctx, "mail body", "kind", string(m.Kind), "to", m.To.Address, "text", m.Text)
		return nil
	}
	var b strings.Builder
	if _, err := msg.WriteTo(&b); err != nil {
		return fmt.Errorf("mail: render: %w", err)
	}
	path, err := o.write([]byte(b.String()))
	if err != nil {
		return err
	}
	o.log.InfoContext(ctx, "mail not sent: no SMTP relay is configured (--smtp-url); written to the mail directory",
		"kind", string(m.Kind), "to", m.To.Address, "file", path)
	return nil
}

// write stores one message in a new file, readable by its owner only, named so that the
// files sort in the order they were written.
func (o *Outbox) write(b []byte) (string, error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := fmt.Sprintf("%d-%s.eml", o.now().UnixNano(), hex.EncodeToString(r[:]))
	path := filepath.Join(o.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("mail directory: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", fmt.Errorf("mail directory: %w", err)
	}
	return path, f.Close()
}
