package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/llmgw/apitokens/pkg/albevent"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/serve"
	"github.com/llmgw/apitokens/pkg/usage/dynamousage"
)

// startServe builds what the ALB fronts: in lambda mode the serve handler
// behind the ALB event conversion, in container mode (SERVE_MODE) the
// handler itself, streaming. Without SERVE_UPSTREAM_URL it first starts the
// development upstream on its own loopback port, with a random key of its
// own, so that the proxying is real HTTP and the key swap is observable.
func (s *Stack) startServe(ctx context.Context, cfg *config.Config, core auth.Authenticator, logger *slog.Logger, step func(string, ...any)) (http.Handler, error) {
	if cfg.ServeUpstreamURL == "" {
		var k [16]byte
		if _, err := rand.Read(k[:]); err != nil {
			return nil, err
		}
		key := "dev-upstream-" + hex.EncodeToString(k[:])
		up := devupstream.New(devupstream.Options{APIKey: key})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("development upstream: %w", err)
		}
		srv := &http.Server{Handler: up, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		s.closers = append(s.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				return fmt.Errorf("development upstream: shutdown: %w", err)
			}
			return nil
		})
		s.Upstream = up
		cfg.ServeUpstreamURL = "http://" + ln.Addr().String() + devupstream.BasePath
		cfg.ServeUpstreamKey = key
		if cfg.ModelPermissions == "" {
			cfg.ModelPermissions = devupstream.DefaultModelPermissions
		}
		step("development model upstream on %s (models %s, %s)", cfg.ServeUpstreamURL, devupstream.ModelEcho, devupstream.ModelRestricted)
	}
	sc, err := serve.FromConfig(*cfg)
	if err != nil {
		return nil, err
	}
	sc.Logger = logger
	meter(&sc, s.Usage, *cfg)
	h, err := serve.New(sc, core)
	if err != nil {
		return nil, err
	}
	// Runs before the development upstream's shutdown (closers run in
	// reverse): the usage writes still running after their answers end
	// first, then the connections to the upstream are let go.
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := h.WaitRecords(ctx)
		h.CloseIdleConnections()
		if err != nil {
			return fmt.Errorf("serve: usage writes still running: %w", err)
		}
		return nil
	})
	if cfg.ServeMode == config.ServeModeContainer {
		step("serve path in container mode: streaming, no ALB event conversion")
		return h, nil
	}
	lambdaHandler := albevent.Handler(h)
	// What the ALB does: HTTP request -> target event -> Lambda -> answer.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Multi-value mode, as the CDK app configures the target group:
		// a repeated header reaches the function as it was sent.
		ev, err := albevent.FromHTTPRequest(r, true)
		if errors.Is(err, albevent.ErrRequestTooLarge) {
			http.Error(w, "413 Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, "400 Bad Request", http.StatusBadRequest)
			return
		}
		resp, err := lambdaHandler(r.Context(), ev)
		if err != nil {
			http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
			return
		}
		albevent.WriteResponse(w, resp)
	}), nil
}

// meter gives the serve handler the usage store and the limits, prices
// and metering switches of cfg (LIMITS_FAIL_OPEN, USAGE_TRACKING), as the
// serve main does in AWS. u is nil when there is no usage table: then the
// handler gets no store at all (a nil *dynamousage.Store in a usage.Store
// would be a non-nil interface).
func meter(sc *serve.Config, u *dynamousage.Store, cfg config.Config) {
	if u != nil {
		sc.Usage = u
	}
	sc.Limits, sc.Prices = cfg.Limits, cfg.Prices
	sc.LimitsFailOpen, sc.UsageTracking = cfg.LimitsFailOpen, cfg.UsageTracking
}
