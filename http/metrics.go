package http

import (
	"net/http"
	"sync"
	"time"

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
	// durations are request durations by route pattern and credential kind (observe.go);
	// loginDurations, the password checks of logins by outcome.
	durations      *prometheus.HistogramVec
	loginDurations *prometheus.HistogramVec

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
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request durations by route pattern and the kind of credential the request carried (none, cookie, bearer, basic).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "auth"}),
		loginDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_login_duration_seconds", Help: "Durations of the password checks of logins (hashing and its queue included) by outcome (ok or an error code).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.auth, m.logins, m.durations, m.loginDurations)
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

// statusRecorder remembers the status code a handler writes, and who the request
// authenticated as.
type statusRecorder struct {
	http.ResponseWriter
	code int
	user string // the authenticated user's id, for the access log (noteUser)
	cred int    // the kind of credential that authenticated, or credUnknown (noteUser)
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

// recorderPool: BenchmarkAuthenticate allocates one more time per request (24 B) without it.
var recorderPool = sync.Pool{New: func() any { return new(statusRecorder) }}

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

// Login counts one checked login by its outcome, and records how long its password check
// took; give it to authn.Hooks.Login.
func (m *Metrics) Login(err error, took time.Duration) {
	o := outcome(err)
	m.logins.WithLabelValues(o).Inc()
	m.loginDurations.WithLabelValues(o).Observe(took.Seconds())
}
