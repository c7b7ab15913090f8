// Package localstack runs the whole system on one machine with no AWS
// account: DynamoDB Local, a gateway that does what API Gateway does for
// /api-tokens and /settings (REQUEST authorizer, policy, proxy events) and what the ALB
// does for /v2/serve/*, a development OIDC issuer and, unless
// SERVE_UPSTREAM_URL is set, a development model upstream. `make run` starts
// it; the end-to-end tests drive it over HTTP.
//
// SERVE_MODE chooses how /v2/serve/* is served, as in AWS: "lambda" (the
// default) puts the ALB's Lambda-target conversion in front of the serve
// handler, with its buffering and 1 MB limits; "container" serves it
// directly over plain HTTP with streaming on, as the container behind an
// ALB does.
package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/llmgw/apitokens/pkg/apigw"
	"github.com/llmgw/apitokens/pkg/authorizer"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/local/devoidc"
	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/routes"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/tokensvc"
	"github.com/llmgw/apitokens/pkg/usage/dynamousage"
	"github.com/llmgw/apitokens/pkg/wire"
)

// Environment variables of the local stack itself (the runtime variables
// are those of pkg/config, with local defaults).
const (
	EnvLocalAddr         = "LOCAL_ADDR"
	EnvDynamoDBLocalPort = "DYNAMODB_LOCAL_PORT"
	EnvDeploymentName    = "DEPLOYMENT_NAME"
)

// Local defaults.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultDynamoDBPort   = 8000
	DefaultDeploymentName = "lisa"
	DefaultClientID       = "lisa-local"
	IssuerPath            = "/dev-oidc"
	// DefaultModelPermissions restricts the development upstream's
	// local-restricted model to admins.
	DefaultModelPermissions = `{"local-restricted": ["lisa-admins"]}`
)

// Options configure a Stack. Zero values take the defaults above; Getenv
// supplies everything else (os.Getenv for `make run`, a map in tests).
type Options struct {
	Getenv func(string) string
	// Progress receives one line per startup step; nil discards.
	Progress io.Writer
	// Logger receives the functions' structured logs; nil discards.
	Logger *slog.Logger
}

// Stack is a running local system.
type Stack struct {
	// URL is the gateway's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// TableName is the token table.
	TableName string
	// AuditTableName is the audit table beside it.
	AuditTableName string
	// UsageTableName is the usage table (schema.UsageTableName), and Usage
	// the store on it that the serve path meters with.
	UsageTableName string
	Usage          *dynamousage.Store
	// DynamoDBEndpoint is where the table lives.
	DynamoDBEndpoint string
	// Config is the runtime configuration the functions were given.
	Config config.Config
	// Issuer is the development OIDC issuer at URL+IssuerPath.
	Issuer *devoidc.Issuer
	// Upstream is the development model upstream, or nil when
	// SERVE_UPSTREAM_URL names a real one.
	Upstream *devupstream.Server
	// WebDir is the folder the console is served from (WEB_DIR).
	WebDir string
	// Reads counts the DynamoDB calls made by the gateway's functions and
	// authorizer, by operation name.
	Reads *dynamotest.Counting

	ready    atomic.Bool
	server   *http.Server
	listener net.Listener
	ddb      *dynamolocal.Instance
	closers  []func() error
	serveErr chan error
}

// Start brings the stack up and returns once /healthz answers 200.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	step := func(format string, args ...any) { fmt.Fprintf(progress, "==> "+format+"\n", args...) }

	s := &Stack{serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	addr := valueOr(getenv(EnvLocalAddr), DefaultAddr)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (%v): stop what uses it or set %s, e.g. %s=127.0.0.1:8081", addr, err, EnvLocalAddr, EnvLocalAddr)
	}
	s.listener = ln
	s.URL = "http://" + ln.Addr().String()

	// Runtime configuration with local defaults.
	deployment := valueOr(getenv(EnvDeploymentName), DefaultDeploymentName)
	defaults := map[string]string{
		config.EnvTableName:         schema.TableName(deployment),
		config.EnvAuditTableName:    schema.AuditTableName(deployment),
		config.EnvUsageTableName:    schema.UsageTableName(deployment),
		config.EnvAuthority:         s.URL + IssuerPath,
		config.EnvClientID:          DefaultClientID,
		config.EnvAdminGroup:        "lisa-admins",
		config.EnvUserGroup:         "lisa-users",
		config.EnvAPIGroup:          "lisa-api-users",
		config.EnvJWTGroupsProperty: "groups",
	}
	env := func(k string) string { return valueOr(getenv(k), defaults[k]) }
	cfg, err := config.Load(env)
	if err != nil {
		return nil, err
	}
	s.TableName = cfg.TableName
	s.AuditTableName = cfg.AuditTableName
	s.UsageTableName = cfg.UsageTableName

	// DynamoDB Local, unless an endpoint is given.
	s.DynamoDBEndpoint = cfg.DynamoDBEndpoint
	if s.DynamoDBEndpoint == "" {
		port := DefaultDynamoDBPort
		if v := getenv(EnvDynamoDBLocalPort); v != "" {
			if port, err = strconv.Atoi(v); err != nil || port < 0 || port > 65535 {
				return nil, fmt.Errorf("%s=%q is not a port number", EnvDynamoDBLocalPort, v)
			}
		}
		step("starting DynamoDB Local (in memory) on port %d: %s", port, dynamoLocalExposure)
		inst, err := dynamolocal.Start(ctx, dynamolocal.Options{Port: port})
		if errors.Is(err, dynamolocal.ErrPortBusy) {
			return nil, fmt.Errorf("port %d is busy: set %s to a free port, or %s to a DynamoDB already running", port, EnvDynamoDBLocalPort, config.EnvDynamoDBEndpoint)
		}
		if err != nil {
			return nil, err
		}
		s.ddb = inst
		s.DynamoDBEndpoint = inst.Endpoint()
	} else {
		step("using DynamoDB at %s", s.DynamoDBEndpoint)
	}
	cfg.DynamoDBEndpoint = s.DynamoDBEndpoint
	client, err := dynamolocal.NewClient(ctx, s.DynamoDBEndpoint)
	if err != nil {
		return nil, err
	}
	step("ensuring table %s with %s and %s", cfg.TableName, schema.IndexUsername, schema.IndexTokenUUID)
	if err := dynamostore.CreateTable(ctx, client, cfg.TableName); err != nil {
		return nil, fmt.Errorf("create table %s: %w", cfg.TableName, err)
	}
	step("ensuring audit table %s", cfg.AuditTableName)
	if err := dynamostore.CreateAuditTable(ctx, client, cfg.AuditTableName); err != nil {
		return nil, fmt.Errorf("create table %s: %w", cfg.AuditTableName, err)
	}
	step("ensuring usage table %s with %s and %s", cfg.UsageTableName, schema.IndexUsageUsername, schema.IndexUsageMonth)
	if err := dynamousage.CreateTable(ctx, client, cfg.UsageTableName); err != nil {
		return nil, fmt.Errorf("create table %s: %w", cfg.UsageTableName, err)
	}
	s.Reads = dynamotest.NewCounting(client)
	// The production stores, with their production request bound: what the
	// functions do when DynamoDB does not answer is part of what runs here.
	st := dynamostore.New(s.Reads, cfg.TableName, dynamostore.WithAudit(cfg.AuditTableName, cfg.AuditRetention))
	s.Usage = dynamousage.New(s.Reads, cfg.UsageTableName, cfg.UsageRetention)

	// Development OIDC issuer. The console is served from the stack's own
	// origin, so that is where a browser sign-in may return; the sign-in
	// page's preset users are an admin, an API user and a plain user as
	// ADMIN_GROUP, USER_GROUP and API_GROUP define them.
	g := cfg.Groups
	s.Issuer, err = devoidc.New(devoidc.Options{
		IssuerURL:       s.URL + IssuerPath,
		Audience:        cfg.ClientID,
		GroupsClaim:     cfg.JWTGroupsProperty,
		RedirectOrigins: []string{s.URL},
		AdminGroups:     nonEmpty(g.Admin, g.User),
		APIUserGroups:   nonEmpty(g.User, g.API),
		PlainUserGroups: nonEmpty(g.User),
	})
	if err != nil {
		return nil, err
	}

	// The same parts as in AWS: decision core, authorizer, token functions.
	// As in AWS, the authorizer and the token functions decide API-token
	// calls afresh; the serve path caches decisions for the TTL.
	mgmt, err := wire.Core(ctx, cfg, st, wire.FreshReads, logger)
	if err != nil {
		return nil, err
	}
	core, err := wire.Core(ctx, cfg, st, wire.CachedReads, logger)
	if err != nil {
		return nil, err
	}
	// Each function gets a token service of its own, as each is its own
	// Lambda in AWS: a setting that create has cached is not refreshed by a
	// PUT /settings that the settings function served, only by its TTL.
	fresh := wire.FreshCore(cfg, st, logger)
	fns := map[string]ProxyHandler{}
	for name := range apigw.Handlers(nil) {
		opts := []tokensvc.Option{tokensvc.WithLogger(logger)}
		if s.Usage != nil {
			opts = append(opts, tokensvc.WithUsage(s.Usage))
		}
		svc := tokensvc.New(st, apigw.ServiceConfig(cfg), opts...)
		fns[name] = ProxyHandler(apigw.Adapt(apigw.Handlers(svc)[name], fresh, logger))
	}
	gw := &Gateway{Authorizer: authorizer.New(mgmt, logger), Functions: fns, Logger: logger}

	serveHandler, err := s.startServe(ctx, &cfg, core, logger, step)
	if err != nil {
		return nil, err
	}
	s.Config = cfg

	health := func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	s.WebDir = valueOr(getenv(EnvWebDir), defaultWebDir())
	console := consoleHandler(s.WebDir, consoleConfig(cfg, s.URL))
	root := dispatch(gw, serveHandler, s.Issuer, http.HandlerFunc(health), console)
	s.server = &http.Server{Handler: root, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.serveErr <- s.server.Serve(ln) }()
	s.ready.Store(true)
	step("gateway listening on %s", s.URL)
	return s, nil
}

// Close stops everything Start started, in reverse order.
func (s *Stack) Close() error {
	var errs []error
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("local stack: shutdown: %w", err))
		}
		cancel()
	} else if s.listener != nil {
		_ = s.listener.Close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ddb != nil {
		if err := s.ddb.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dynamoLocalExposure is said wherever the stack reports the DynamoDB
// Local it started: DynamoDB Local has no option to listen on loopback
// only, so its port is open on every interface of this machine.
const dynamoLocalExposure = "it listens on every interface (0.0.0.0), not only 127.0.0.1: other hosts can reach it unless a firewall stops them; it holds only this stack's data"

// dispatch sends each request to its part by the path exactly as sent.
// http.ServeMux is not used: it answers a path with "." or ".." segments or
// a doubled slash with a 307 redirect to the cleaned path, which keeps the
// method and body, so /api-tokens/../v2/serve/models would reach the serve
// path, which neither API Gateway nor an ALB does. Here such a path stays
// where its prefix puts it, and that part refuses it.
func dispatch(api, serve, issuer, health, console http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/healthz" && r.Method == http.MethodGet:
			health.ServeHTTP(w, r)
		case p == "/openapi.yaml" && r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(apigw.OpenAPI)
		case strings.HasPrefix(p, IssuerPath+"/"):
			issuer.ServeHTTP(w, r)
		case strings.HasPrefix(p, routes.ServePathPrefix):
			serve.ServeHTTP(w, r)
		case routes.InTokenAPI(p):
			api.ServeHTTP(w, r)
		default:
			console.ServeHTTP(w, r)
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// nonEmpty returns the names that are set, in order.
func nonEmpty(names ...string) []string {
	var out []string
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

func valueOr(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
