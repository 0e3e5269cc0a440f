package http

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	auth     *prometheus.CounterVec
	logins   *prometheus.CounterVec

	authTokenOK, authSessionOK prometheus.Counter
}

// NewMetrics registers gatehouse's metrics, plus the Go and process collectors, in reg (a new
// registry when nil).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_auth_decisions_total", Help: "Authentication decisions on protected routes by mode (session, token, none) and outcome (ok or an error code).",
		}, []string{"mode", "outcome"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_logins_total", Help: "Login attempts by outcome (ok or an error code).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.auth, m.logins)
	m.authTokenOK = m.auth.WithLabelValues(gatehouse.AuthToken, "ok")
	m.authSessionOK = m.auth.WithLabelValues(gatehouse.AuthSession, "ok")
	return m
}

// GaugeFunc registers a gauge whose value f computes at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// statusRecorder remembers the status code a handler writes.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var recorderPool = sync.Pool{New: func() any { return new(statusRecorder) }}

// instrument counts the requests that h answers, by route and status. Counters are looked up
// once per (route, code) pair and kept, so the hot path does no label hashing.
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
	var byCode sync.Map // int -> prometheus.Counter
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorderPool.Get().(*statusRecorder)
		rec.ResponseWriter, rec.code = w, 0
		h.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		rec.ResponseWriter = nil
		recorderPool.Put(rec)
		c, ok := byCode.Load(code)
		if !ok {
			c, _ = byCode.LoadOrStore(code, m.requests.WithLabelValues(route, strconv.Itoa(code)))
		}
		c.(prometheus.Counter).Inc()
	})
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return gatehouse.ErrorCode(err)
}

// authDecision counts one authentication decision. Successes, the hot path, use counters
// resolved once.
func (m *Metrics) authDecision(r *http.Request, err error) {
	if err == nil {
		if _, ok := r.Header["Authorization"]; ok {
			m.authTokenOK.Inc()
		} else {
			m.authSessionOK.Inc()
		}
		return
	}
	mode := "none"
	if _, ok := r.Header["Authorization"]; ok {
		mode = gatehouse.AuthToken
	} else if _, ok := r.Header["Cookie"]; ok {
		mode = gatehouse.AuthSession
	}
	m.auth.WithLabelValues(mode, outcome(err)).Inc()
}

// Login counts one checked login by its outcome; give it to authn.Hooks.Login.
func (m *Metrics) Login(err error) { m.logins.WithLabelValues(outcome(err)).Inc() }
