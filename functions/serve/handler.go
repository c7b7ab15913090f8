package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/llmgw/apitokens/pkg/albevent"
	"github.com/llmgw/apitokens/pkg/auth"
	"github.com/llmgw/apitokens/pkg/config"
	"github.com/llmgw/apitokens/pkg/serve"
	"github.com/llmgw/apitokens/pkg/usage"
)

// albHandler is what lambda.Start runs for an ALB target group.
type albHandler = func(context.Context, events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error)

// serveHandler builds the serve handler both transports run: configured
// from cfg with the upstream key already resolved and the usage store (nil
// for none) already opened; edit adjusts what the transport decides
// (request ids in Lambda, streaming in the container).
func serveHandler(cfg config.Config, authn auth.Authenticator, upstreamKey string, store usage.Store, logger *slog.Logger, edit func(*serve.Config)) (*serve.Handler, error) {
	if err := cfg.Require(config.EnvServeUpstreamURL); err != nil {
		return nil, err
	}
	if err := checkUsage(cfg, store); err != nil {
		return nil, err
	}
	sc, err := serve.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	sc.UpstreamKey = upstreamKey
	sc.Usage = store
	sc.Logger = logger
	edit(&sc)
	return serve.New(sc, authn)
}

// newHandler builds the ALB target handler: the serve handler adapted to
// ALB events.
func newHandler(cfg config.Config, authn auth.Authenticator, upstreamKey string, store usage.Store, logger *slog.Logger) (albHandler, error) {
	h, err := serveHandler(cfg, authn, upstreamKey, store, logger, func(sc *serve.Config) { sc.RequestID = lambdaRequestID })
	if err != nil {
		return nil, err
	}
	return albevent.Handler(h), nil
}

// lambdaRequestID names a request by its Lambda request id, which is also
// on the function's START/END/REPORT log lines; "" outside Lambda.
func lambdaRequestID(r *http.Request) string {
	if lc, ok := lambdacontext.FromContext(r.Context()); ok {
		return lc.AwsRequestID
	}
	return ""
}
