package bench

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// rawAnswer sends one GET path with the extra header line to addr and returns the answer's
// bytes without its Date line.
func rawAnswer(t *testing.T, addr, path, header string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + header + "Connection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(c)
	sc.Split(bufio.ScanLines)
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte("Date: ")) && !bytes.HasPrefix(sc.Bytes(), []byte("Connection: ")) {
			out.Write(sc.Bytes())
			out.WriteString("\n")
		}
	}
	return out.Bytes()
}

// The same-bytes floor answers exactly what the captured server answered: status line,
// headers and body, byte for byte (the Date excepted).
func TestSameBytesFloorReplaysTheAnswer(t *testing.T) {
	orig := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer abc" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Cache-Control"] = []string{"no-store"}
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"message":"Welcome admin","auth":"token"}` + "\n"))
	}))
	defer orig.Close()
	resp, err := newAPI().capture(context.Background(), orig.URL, "/api/protected", Cred{Kind: KindToken, Secret: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.json")
	if err := writeResponse(file, resp); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResponse(file)
	if err != nil {
		t.Fatal(err)
	}
	floor := httptest.NewServer(SameBytesHandler(back))
	defer floor.Close()
	header := "Authorization: Bearer abc\r\n"
	want := rawAnswer(t, orig.Listener.Addr().String(), "/api/protected", header)
	got := rawAnswer(t, floor.Listener.Addr().String(), "/api/protected", header)
	if !bytes.Equal(got, want) {
		t.Fatalf("same-bytes floor answered\n%s\nthe server answered\n%s", got, want)
	}
}

// A refused capture is an error, not a floor that replays a 401.
func TestCaptureRefusesAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	if _, err := newAPI().capture(context.Background(), srv.URL, "/", Cred{Kind: KindSession, Secret: "x"}); err == nil {
		t.Fatal("a 401 was captured as a floor")
	}
}

// A response file with no HTTP status is refused.
func TestReadResponseRefusesNonsense(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.json")
	if err := writeResponse(file, Response{Status: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadResponse(file); err == nil {
		t.Fatal("status 0 accepted")
	}
}
