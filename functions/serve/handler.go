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
)

// albHandler is what lambda.Start runs for an ALB target group.
type albHandler = func(context.Context, events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error)

// newHandler builds the ALB target handler: the serve core, configured from
// cfg with the upstream key already resolved, adapted to ALB events.
func newHandler(cfg config.Config, authn auth.Authenticator, upstreamKey string, logger *slog.Logger) (albHandler, error) {
	if err := cfg.Require(config.EnvServeUpstreamURL); err != nil {
		return nil, err
	}
	sc, err := serve.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	sc.UpstreamKey = upstreamKey
	sc.Logger = logger
	sc.RequestID = lambdaRequestID
	h, err := serve.New(sc, authn)
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
