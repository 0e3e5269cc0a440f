package http

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// GET /api/revocations/stream: server-sent events that tell other services (the verify
// package) of every revocation as it happens, so that they can reject revoked tokens without
// asking gatehouse on every request.
//
// The stream opens with a snapshot (every jti revocation still in force, and every not-before
// time recent enough to reject a token that has not expired yet), then an "ready" event, then
// each revocation as the revocation store accepts it, and a "ping" every heartbeat when there
// is nothing else to say. Events are in order: a subscriber that has received an event sent
// at time T knows of every revocation accepted before T. Events:
//
//	event: token       data: {"jti": "...", "until": <Unix ms>}     the access token is denied until then
//	event: not_before  data: {"sub": "...", "not_before": <Unix ms>} the user's tokens issued before then are revoked
//	event: ready       data: {"time": <Unix ms>, "heartbeat_ms": <ms>}
//	event: ping        data: {"time": <Unix ms>}
//
// A subscriber that falls more than streamBuffer events behind is disconnected; it reconnects
// and receives a new snapshot. Callers authenticate like at the introspection endpoint.

// DefaultRevocationHeartbeat is the default interval of the stream's "ping" events.
const DefaultRevocationHeartbeat = 5 * time.Second

const (
	// streamBuffer is how many events a subscriber may lag behind before it is disconnected.
	streamBuffer = 4096
	// streamWriteTimeout bounds every write to a subscriber that stopped reading.
	streamWriteTimeout = 10 * time.Second
	// snapshotSpare is how much older than strictly needed the snapshot's not-before times go.
	snapshotSpare = time.Hour
)

// streamHub lets the server end every open stream at shutdown (http.Server.Shutdown waits for
// active requests, and a stream never ends by itself). The zero value is ready.
type streamHub struct {
	init, closeOnce sync.Once
	done            chan struct{}
}

func (h *streamHub) closing() <-chan struct{} {
	h.init.Do(func() { h.done = make(chan struct{}) })
	return h.done
}

// CloseStreams ends every open revocation stream, and every stream opened later at once.
// NewHTTPServer registers it to run when the server shuts down.
func (s *Server) CloseStreams() {
	s.streams.closing()
	s.streams.closeOnce.Do(func() { close(s.streams.done) })
}

func (s *Server) heartbeat() time.Duration {
	if s.cfg.RevocationHeartbeat > 0 {
		return s.cfg.RevocationHeartbeat
	}
	return DefaultRevocationHeartbeat
}

func (s *Server) handleRevocationStream(w http.ResponseWriter, r *http.Request) {
	caller, e := s.authenticateResourceServer(r)
	if e != nil {
		s.writeStreamAuthError(w, r, e)
		return
	}
	snap, events, cancel, err := s.Authn.FollowRevocations(r.Context(), streamBuffer)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer cancel()
	now, tokens, notBefore := snap.At, snap.Tokens, snap.NotBefore
	sw := newSSEWriter(w)
	// Not-before times older than the access-token lifetime plus the leeway revoke only tokens
	// that have expired; an hour to spare covers verifiers that allow a larger clock skew.
	sw.snapshot(tokens, notBefore, now.Add(-(s.Authn.Tokens().AccessTTL() + s.Authn.Tokens().Leeway() + snapshotSpare)))
	sw.ready(now, s.heartbeat())
	if sw.flush() != nil {
		return
	}
	s.log.InfoContext(r.Context(), "revocation stream opened", "caller", caller.desc, "tokens", len(tokens), "users", len(notBefore))
	defer s.log.InfoContext(r.Context(), "revocation stream closed", "caller", caller.desc)
	s.streamEvents(r, sw, events, caller)
}

// streamEvents forwards events until the client goes, the server shuts down, the subscriber
// falls behind, or the admin token the caller authenticated with expires or is revoked.
func (s *Server) streamEvents(r *http.Request, sw *sseWriter, events <-chan gatehouse.RevocationEvent, caller resourceServer) {
	ticker := time.NewTicker(s.heartbeat())
	defer ticker.Stop()
	var expiry <-chan time.Time
	if caller.token != nil {
		t := time.NewTimer(caller.token.ExpiresAt.Add(s.Authn.Tokens().Leeway()).Sub(s.now()))
		defer t.Stop()
		expiry = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.streams.closing():
			return
		case <-expiry:
			return
		case ev, ok := <-events:
			if !ok {
				return // fell behind: the client reconnects and reloads
			}
			sw.event(ev)
		case <-ticker.C:
			if caller.token != nil && s.Authn.CheckToken(r.Context(), caller.token) != nil {
				return
			}
			sw.ping(s.now())
		}
		if sw.flush() != nil {
			return
		}
	}
}

// writeStreamAuthError answers a failed authentication in the API's error format (the stream is
// an /api/ route), keeping the OAuth challenge headers.
func (s *Server) writeStreamAuthError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	code := gatehouse.EINTERNAL
	switch {
	case e.status == http.StatusUnauthorized && e.Code == oauthInvalidToken:
		code = gatehouse.EINVALIDTOKEN
	case e.status == http.StatusUnauthorized && e.Desc == "client authentication required":
		code = gatehouse.ETOKENMISSING
	case e.status == http.StatusUnauthorized:
		code = gatehouse.EINVALIDCREDENTIALS
	case e.status == http.StatusForbidden:
		code = gatehouse.EFORBIDDEN
	case e.status == http.StatusServiceUnavailable:
		code = gatehouse.EUNAVAILABLE
	}
	for _, c := range e.challenge {
		w.Header().Add("WWW-Authenticate", c)
	}
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, StatusOf(code), errorBody{Error: code, Message: e.Desc})
}

// sseWriter writes server-sent events; it remembers the first write error.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	err error
}

// newSSEWriter sends the stream's headers. The connection's read deadline (the server's
// ReadTimeout) is lifted, as nothing more is read from it; writes get their own deadline each
// (send), since the server's WriteTimeout would otherwise cut the stream.
func newSSEWriter(w http.ResponseWriter) *sseWriter {
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	_ = sw.rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h["Cache-Control"] = noStore
	h.Set("X-Accel-Buffering", "no") // no proxy buffering
	w.WriteHeader(http.StatusOK)
	return sw
}

func (sw *sseWriter) snapshot(tokens, notBefore map[string]time.Time, horizon time.Time) {
	for jti, until := range tokens {
		sw.event(gatehouse.RevocationEvent{Kind: gatehouse.RevokedToken, ID: jti, Time: until})
	}
	for sub, nb := range notBefore {
		// An older not-before time only revokes tokens that have expired anyway.
		if nb.After(horizon) {
			sw.event(gatehouse.RevocationEvent{Kind: gatehouse.NotBeforeChanged, ID: sub, Time: nb})
		}
	}
}

func (sw *sseWriter) event(ev gatehouse.RevocationEvent) {
	switch ev.Kind {
	case gatehouse.RevokedToken:
		sw.write("token", "jti", ev.ID, "until", ev.Time)
	case gatehouse.NotBeforeChanged:
		sw.write("not_before", "sub", ev.ID, "not_before", ev.Time)
	}
}

func (sw *sseWriter) ready(now time.Time, heartbeat time.Duration) {
	sw.buf = append(sw.buf, "event: ready\ndata: {\"time\":"...)
	sw.buf = strconv.AppendInt(sw.buf, now.UnixMilli(), 10)
	sw.buf = append(sw.buf, `,"heartbeat_ms":`...)
	sw.buf = strconv.AppendInt(sw.buf, heartbeat.Milliseconds(), 10)
	sw.buf = append(sw.buf, "}\n\n"...)
}

func (sw *sseWriter) ping(now time.Time) {
	sw.buf = append(sw.buf, "event: ping\ndata: {\"time\":"...)
	sw.buf = strconv.AppendInt(sw.buf, now.UnixMilli(), 10)
	sw.buf = append(sw.buf, "}\n\n"...)
}

// write appends `event: name` and `data: {"idKey": id, "timeKey": <Unix ms>}`.
func (sw *sseWriter) write(name, idKey, id, timeKey string, t time.Time) {
	quoted, _ := json.Marshal(id) // a string always marshals; JSON escapes newlines
	sw.buf = append(sw.buf, "event: "+name+"\ndata: {\""+idKey+"\":"...)
	sw.buf = append(sw.buf, quoted...)
	sw.buf = append(sw.buf, ",\""+timeKey+"\":"...)
	sw.buf = strconv.AppendInt(sw.buf, t.UnixMilli(), 10)
	sw.buf = append(sw.buf, "}\n\n"...)
	if len(sw.buf) >= 32<<10 {
		_ = sw.send()
	}
}

// send writes the buffered events, with a deadline so that a reader that stopped cannot hold
// the handler forever.
func (sw *sseWriter) send() error {
	if sw.err != nil || len(sw.buf) == 0 {
		return sw.err
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_, sw.err = sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	return sw.err
}

func (sw *sseWriter) flush() error {
	if err := sw.send(); err != nil {
		return err
	}
	if sw.err = sw.rc.Flush(); sw.err != nil {
		return sw.err
	}
	return nil
}
