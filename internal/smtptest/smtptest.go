// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) inside a test, on
// 127.0.0.1 and a free port, in clear, with STARTTLS or with TLS from the first byte, and keeps
// the messages it receives so that the test can read them back.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mode is how the server protects its connections.
type Mode int

// The modes of the server.
const (
	// Plain speaks in clear and does not offer STARTTLS.
	Plain Mode = iota
	// StartTLS offers STARTTLS with the server's test certificate.
	StartTLS
	// ImplicitTLS speaks TLS from the first byte.
	ImplicitTLS
)

// Options configure a Server.
type Options struct {
	Mode Mode
	// Username and Password, if set, are the only credentials accepted (AUTH PLAIN, offered
	// only over TLS), and a message is accepted only after them.
	Username, Password string
	// Reject, if set, is the error the server answers to every RCPT TO (a relay that refuses
	// mail).
	Reject *smtp.SMTPError
	// Hold, if set, makes the server read each message only once Hold is closed (a slow
	// relay): a test can check that a request does not wait for the mail.
	Hold <-chan struct{}
}

// Message is one message the server received.
type Message struct {
	From     string
	To       []string
	Data     []byte // the message as received (RFC 5322)
	TLS      bool   // whether the connection was protected by TLS when the message came
	AuthUser string // the user name the client authenticated as, if any
}

// Server is a running SMTP server; Start stops it when the test ends.
type Server struct {
	Host string // "127.0.0.1"
	Port int
	opts Options
	pool *x509.CertPool
	der  []byte // the server's certificate
	srv  *smtp.Server

	mu      sync.Mutex
	msgs    []Message
	arrived chan struct{} // closed and replaced whenever a message arrives
}

// Start starts a server for the length of tb.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	cert, pool, err := testCertificate()
	if err != nil {
		tb.Fatalf("smtptest: certificate: %v", err)
	}
	s := &Server{Host: "127.0.0.1", opts: opts, pool: pool, der: cert.Certificate[0], arrived: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "smtptest.localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // connections cut by the tests' clients are expected
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if opts.Mode == StartTLS {
		s.srv.TLSConfig = tlsConf
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	if opts.Mode == ImplicitTLS {
		s.srv.TLSConfig = tlsConf
		ln = tls.NewListener(ln, tlsConf)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() { defer close(done); _ = s.srv.Serve(ln) }()
	tb.Cleanup(func() {
		// Close the listener too: Close alone misses it when Serve has not registered it yet.
		ln.Close()
		s.srv.Close()
		<-done
	})
	return s
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL returns the SMTP URL of the server in gatehouse's --smtp-url form, with the credentials
// of the Options.
func (s *Server) URL() string {
	userinfo := ""
	if s.opts.Username != "" {
		userinfo = url.UserPassword(s.opts.Username, s.opts.Password).String() + "@"
	}
	switch s.opts.Mode {
	case StartTLS:
		return "smtp://" + userinfo + s.Addr()
	case ImplicitTLS:
		return "smtps://" + userinfo + s.Addr()
	}
	return "smtp://" + userinfo + s.Addr() + "?tls=off"
}

// RootCAs returns a pool holding the certificate the server presents (for 127.0.0.1 and
// localhost).
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// CertPEM returns the server's (self-signed) certificate in PEM, as a CA file for clients.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.der})
}

// ClientTLSConfig returns a TLS configuration that trusts the server's certificate.
func (s *Server) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns once the server holds at least n messages, or fails tb after timeout.
func (s *Server) Wait(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, arrived := append([]Message(nil), s.msgs...), s.arrived
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-arrived:
		case <-deadline.C:
			tb.Fatalf("smtptest: %d message(s) after %v, want %d", len(msgs), timeout, n)
		}
	}
}

// WaitFor returns the first message received for addr, waiting for one if there is none yet;
// it fails tb after timeout.
func (s *Server) WaitFor(tb testing.TB, addr string, timeout time.Duration) Message {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range s.Messages() {
			for _, to := range m.To {
				if to == addr {
					return m
				}
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("smtptest: no message to %s after %v", addr, timeout)
		}
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-time.After(time.Until(deadline)):
		}
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one SMTP connection.
type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || se.s.opts.Username == "" {
		return nil, smtp.ErrAuthUnsupported
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return errors.New("invalid credentials")
		}
		se.user = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && se.user == "" {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.s.opts.Reject != nil {
		return se.s.opts.Reject
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	if se.s.opts.Hold != nil {
		<-se.s.opts.Hold
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := se.conn.TLSConnectionState()
	se.s.add(Message{From: se.from, To: append([]string(nil), se.to...), Data: b, TLS: isTLS, AuthUser: se.user})
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// testCertificate makes a self-signed ECDSA certificate for 127.0.0.1 and localhost, valid
// for a day around now.
func testCertificate() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(23 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
