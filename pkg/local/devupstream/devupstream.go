// Package devupstream is a small OpenAI-compatible model server for the
// local stack and tests: the stand-in for LiteLLM, vLLM or Ollama behind the
// serve function. Its models answer by echoing the last user message, so a
// test can tell exactly what went through; it records every request it
// receives (notably the Authorization header, to prove that the caller's
// token never reaches it) and has knobs to be slow, fail or answer large.
//
// Everything OpenAI-compatible lives under BasePath ("/v1"), so the serve
// function is pointed at it with SERVE_UPSTREAM_URL=http://<host>/v1. The
// test endpoints live under ControlPath ("/_dev/"), outside BasePath, so
// the serve function, which maps /v2/serve/<rest> to
// SERVE_UPSTREAM_URL/<rest>, can never reach them.
package devupstream

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Paths.
const (
	BasePath    = "/v1"
	ControlPath = "/_dev/"
)

// Models offered.
const (
	ModelEcho       = "local-echo"
	ModelRestricted = "local-restricted"
)

// DefaultModelPermissions is the MODEL_PERMISSIONS the local stack uses
// with this upstream: local-restricted for admins only, local-echo open.
const DefaultModelPermissions = `{"local-restricted": ["lisa-admins"]}`

// maxRecords bounds the request log, so a long-running local stack does not
// grow without limit.
const maxRecords = 1000

// Options configure a Server.
type Options struct {
	// APIKey, if set, must arrive as "Authorization: Bearer <APIKey>";
	// anything else is answered 401, as a real upstream would.
	APIKey string
	// Now is the clock for "created" fields; time.Now if nil.
	Now func() time.Time
}

// Knobs change how the server answers, for tests of failure handling.
// The zero value is a well-behaved server.
type Knobs struct {
	// Delay holds every /v1 answer back this long (or until the client
	// gives up).
	Delay time.Duration `json:"delay"`
	// FailStatus, if non-zero, is the status of every /v1 answer, with an
	// OpenAI-shaped error body.
	FailStatus int `json:"failStatus"`
	// PadBytes adds this many "x" characters to every completion's text,
	// to produce answers of a chosen size.
	PadBytes int `json:"padBytes"`
}

// Record is what the server saw of one request. It includes the
// Authorization header as received: this is a development server and
// recording it is its purpose.
type Record struct {
	Seq           int       `json:"seq"` // increases by one per request, never reset
	Time          time.Time `json:"time"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	RawQuery      string    `json:"rawQuery,omitempty"`
	Authorization string    `json:"authorization"`
	APIKey        string    `json:"apiKey,omitempty"` // the Api-Key header, if any
	Cookie        string    `json:"cookie,omitempty"`
	ContentType   string    `json:"contentType,omitempty"`
	Model         string    `json:"model,omitempty"`
	Stream        bool      `json:"stream,omitempty"`
	Status        int       `json:"status"`
	// Canceled: the caller went away (its request context ended) before
	// the server had finished answering.
	Canceled bool `json:"canceled,omitempty"`
	// Events counts the content events of a paced stream sent so far;
	// LastEvent is when the last of them was sent (time.Now, whatever
	// Options.Now says, so that tests can compare it with their own
	// clock).
	Events    int       `json:"events,omitempty"`
	LastEvent time.Time `json:"lastEvent,omitzero"`
}

// Server is the development upstream; it is an http.Handler and safe for
// concurrent use.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	knobs   Knobs
	records []Record
	total   int // requests since the last Reset
	seq     int // requests ever; numbers the records
	ids     int // completion ids handed out
}

// New returns a server with the given options.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET "+BasePath+"/models", s.models)
	s.mux.HandleFunc("GET "+BasePath+"/models/{id...}", s.model)
	s.mux.HandleFunc("POST "+BasePath+"/chat/completions", s.chat)
	s.mux.HandleFunc("POST "+BasePath+"/completions", s.completions)
	s.mux.HandleFunc("POST "+BasePath+"/embeddings", s.embeddings)
	s.mux.HandleFunc("GET "+ControlPath+"requests", s.getRequests)
	s.mux.HandleFunc("POST "+ControlPath+"reset", s.postReset)
	s.mux.HandleFunc("GET "+ControlPath+"knobs", s.getKnobs)
	s.mux.HandleFunc("PUT "+ControlPath+"knobs", s.putKnobs)
	return s
}

// ServeHTTP answers OpenAI-compatible calls under BasePath and the control
// endpoints under ControlPath:
//
//	GET  /_dev/requests  {"count": n, "requests": [Record...]} (the last 1000)
//	POST /_dev/reset     forget requests, reset knobs
//	GET  /_dev/knobs     the current Knobs
//	PUT  /_dev/knobs     set Knobs; delay as a Go duration string ("2s") or nanoseconds
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, BasePath+"/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	rw := &statusWriter{ResponseWriter: w}
	seq := s.record(r)
	r = r.WithContext(context.WithValue(r.Context(), seqKey{}, seq))
	defer func() { s.finish(seq, rw.status, r.Context().Err() != nil) }()

	k := s.Knobs()
	if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		writeError(rw, http.StatusUnauthorized, "authentication_error", "invalid_api_key", "the development upstream requires its own API key")
		return
	}
	if k.Delay > 0 {
		t := time.NewTimer(k.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if k.FailStatus != 0 {
		writeError(rw, k.FailStatus, "api_error", "dev_failure", "the development upstream was told to fail")
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		writeError(rw, http.StatusNotFound, "invalid_request_error", "unknown_url", "unknown path "+r.URL.Path)
		return
	}
	s.mux.ServeHTTP(rw, r) // sets the path values that Handler does not
}

// Knobs returns the current knobs.
func (s *Server) Knobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.knobs
}

// SetKnobs replaces the knobs.
func (s *Server) SetKnobs(k Knobs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.knobs = k
}

// Requests returns the recorded requests, oldest first (at most the last
// 1000).
func (s *Server) Requests() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// Count returns how many requests reached BasePath since the last Reset,
// including those no longer kept in Requests.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Reset forgets the recorded requests and restores the default knobs.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records, s.total, s.knobs = nil, 0, Knobs{}
}

// record notes r (peeking at a JSON body for its model and stream flag) and
// returns its sequence number for setStatus.
func (s *Server) record(r *http.Request) int {
	rec := Record{
		Time:          s.opts.Now(),
		Method:        r.Method,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		APIKey:        r.Header.Get("Api-Key"),
		Cookie:        r.Header.Get("Cookie"),
		ContentType:   r.Header.Get("Content-Type"),
	}
	if r.Method == http.MethodPost {
		if body, err := peekBody(r); err == nil {
			var b struct {
				Model  string `json:"model"`
				Stream bool   `json:"stream"`
			}
			if json.Unmarshal(body, &b) == nil {
				rec.Model, rec.Stream = b.Model, b.Stream
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.seq++
	rec.Seq = s.seq
	if len(s.records) == maxRecords {
		s.records = slices.Delete(s.records, 0, 1)
	}
	s.records = append(s.records, rec)
	return rec.Seq
}

// seqKey is the context key of a request's record number.
type seqKey struct{}

func requestSeq(r *http.Request) int { n, _ := r.Context().Value(seqKey{}).(int); return n }

// finish completes the record numbered seq, if it is still kept.
func (s *Server) finish(seq, status int, canceled bool) {
	s.update(seq, func(rec *Record) { rec.Status, rec.Canceled = status, canceled })
}

// noteEvent counts one paced event of the record numbered seq.
func (s *Server) noteEvent(seq int) {
	now := time.Now()
	s.update(seq, func(rec *Record) { rec.Events++; rec.LastEvent = now })
}

func (s *Server) update(seq int, f func(*Record)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.records) - 1; i >= 0; i-- {
		if s.records[i].Seq == seq {
			f(&s.records[i])
			return
		}
	}
}

func (s *Server) getRequests(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	body := struct {
		Count    int      `json:"count"`
		Requests []Record `json:"requests"`
	}{s.total, slices.Clone(s.records)}
	s.mu.Unlock()
	if body.Requests == nil {
		body.Requests = []Record{}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) postReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getKnobs(w http.ResponseWriter, _ *http.Request) {
	k := s.Knobs()
	writeJSON(w, http.StatusOK, knobsJSON{Delay: k.Delay.String(), FailStatus: k.FailStatus, PadBytes: k.PadBytes})
}

// knobsJSON is Knobs on the wire, with the delay as a duration string.
type knobsJSON struct {
	Delay      any `json:"delay"`
	FailStatus int `json:"failStatus"`
	PadBytes   int `json:"padBytes"`
}

func (s *Server) putKnobs(w http.ResponseWriter, r *http.Request) {
	var in knobsJSON
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "knobs: "+err.Error())
		return
	}
	var k Knobs
	switch d := in.Delay.(type) {
	case nil:
	case string:
		v, err := time.ParseDuration(d)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_delay", "knobs: delay: "+err.Error())
			return
		}
		k.Delay = v
	case float64:
		k.Delay = time.Duration(d)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_delay", "knobs: delay must be a duration string or nanoseconds")
		return
	}
	if in.FailStatus != 0 && (in.FailStatus < 400 || in.FailStatus > 599) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_fail_status", "knobs: failStatus must be 0 or 400-599")
		return
	}
	if in.PadBytes < 0 || in.PadBytes > 16<<20 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_pad", "knobs: padBytes must be 0 to 16 MiB")
		return
	}
	k.FailStatus, k.PadBytes = in.FailStatus, in.PadBytes
	s.SetKnobs(k)
	s.getKnobs(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (to flush and,
// for fail:<n>, to hijack it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streamed answers go out chunk by chunk when the underlying
// writer can flush.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
