package apigw

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// ProxyHandler is a Lambda handler of API Gateway REST proxy events.
type ProxyHandler = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// WithCORS lets the console at origin (CONSOLE_ORIGIN, e.g.
// https://d111111abcdef8.cloudfront.net) read h's answers: with a proxy
// integration the function's own headers are the answer's headers, so the
// allowed origin has to come from here. Only that one origin is named,
// never "*"; preflight requests are answered by API Gateway itself. An
// empty origin returns h unchanged.
func WithCORS(origin string, h ProxyHandler) ProxyHandler {
	if origin == "" {
		return h
	}
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		resp, err := h(ctx, ev)
		if err != nil {
			return resp, err
		}
		if resp.Headers == nil {
			resp.Headers = map[string]string{}
		}
		resp.Headers["Access-Control-Allow-Origin"] = origin
		resp.Headers["Vary"] = "Origin"
		return resp, nil
	}
}
