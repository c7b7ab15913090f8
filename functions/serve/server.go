package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/serve"
	"github.com/llmgw/apitokens/pkg/usage"
)

// HealthPath answers 200 while the container serves and 503 once it
// drains, for the load balancer's health check. It is outside
// /v2/serve/, so it needs no credential and reaches no upstream.
const HealthPath = "/healthz"

// server is the container mode: the serve handler, streaming, in an HTTP
// server with a health path and a graceful shutdown.
type server struct {
	http     *http.Server
	handler  *serve.Handler
	addr     string
	drain    time.Duration
	logger   *slog.Logger
	draining atomic.Bool
}

// newServer builds the container's server from cfg: the serve handler
// with streaming on, whatever SERVE_MODE says (a server that buffered
// would only add the Lambda's limits without its reasons).
func newServer(cfg config.Config, authn auth.Authenticator, upstreamKey string, store usage.Store, logger *slog.Logger) (*server, error) {
	h, err := serveHandler(cfg, authn, upstreamKey, store, logger, func(sc *serve.Config) { sc.Stream = true })
	if err != nil {
		return nil, err
	}
	s := &server{addr: ":" + strconv.Itoa(cfg.Port), drain: cfg.ServeDrain, logger: logger, handler: h}
	mux := http.NewServeMux()
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if s.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"draining"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.Handle("/", h)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// Request bodies are at most 1 MB: a minute is ample and bounds a
		// client that trickles one.
		ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute,
		// No WriteTimeout: it would cut long streams; the serve handler's
		// idle timeout and the caller's disconnect end stuck answers.
	}
	return s, nil
}

// run serves until ctx ends (SIGTERM, SIGINT), then stops accepting and
// lets calls in flight finish within the drain time; streams still open
// after it are cut. A nil ln listens on the configured port. It returns
// nil after a clean drain.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.addr); err != nil {
			return fmt.Errorf("listen on %s: %w", s.addr, err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	s.logger.Info("serve: listening", slog.String("addr", ln.Addr().String()), slog.Bool("stream", true))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.logger.Info("serve: draining", slog.Duration("drain", s.drain))
	dctx, cancel := context.WithTimeout(context.Background(), s.drain)
	defer cancel()
	if err := s.http.Shutdown(dctx); err != nil {
		_ = s.http.Close()
		s.logger.Warn("serve: drain time over, open calls cut", slog.String("error", err.Error()))
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// The usage of the calls that finished is written beside their
	// answers: wait for it within what is left of the drain time.
	if err := s.handler.WaitRecords(dctx); err != nil {
		s.logger.Warn("serve: drain time over, usage of finished calls may be unrecorded", slog.String("error", err.Error()))
	}
	s.logger.Info("serve: stopped")
	return nil
}
