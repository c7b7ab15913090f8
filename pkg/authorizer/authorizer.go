// Package authorizer adapts the decision core to an API Gateway Lambda
// REQUEST authorizer: headers in, an IAM policy with the principal in its
// context out. The local gateway runs this same handler.
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/apierr"
	"github.com/llmgw/apitokens/pkg/auth"
)

// ErrUnauthorized is the exact error API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// Handler is the Lambda handler of the REQUEST authorizer.
type Handler func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// New returns the authorizer handler. A refusal is ErrUnauthorized (401);
// any other failure is a different error, which API Gateway answers with
// 500: the authorizer fails closed and never allows on an error.
func New(a auth.Authenticator, logger *slog.Logger) Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		log := logger.With(slog.String("requestId", ev.RequestContext.RequestID), slog.String("methodArn", ev.MethodArn))
		resource, err := wildcardResource(ev.MethodArn)
		if err != nil {
			log.ErrorContext(ctx, "authorizer: bad event", slog.String("error", err.Error()))
			return events.APIGatewayCustomAuthorizerResponse{}, err
		}
		p, err := a.Authenticate(ctx, auth.EventHeaders(ev.Headers, ev.MultiValueHeaders))
		if err != nil {
			if apierr.KindOf(err) == apierr.Unauthenticated {
				return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
			}
			log.ErrorContext(ctx, "authorizer: failing closed", slog.String("reason", apierr.CodeOf(err)))
			return events.APIGatewayCustomAuthorizerResponse{}, fmt.Errorf("authorizer unavailable: %s", apierr.Message(err))
		}
		log.InfoContext(ctx, "authorizer: allow", slog.String("username", p.Username),
			slog.String("authType", string(p.AuthType)), slog.String("tokenUUID", p.TokenUUID))
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: p.Username,
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: "2012-10-17",
				Statement: []events.IAMPolicyStatement{{
					Action:   []string{"execute-api:Invoke"},
					Effect:   "Allow",
					Resource: []string{resource},
				}},
			},
			Context: p.Context(),
		}, nil
	}
}

// wildcardResource widens a method ARN
// (arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH) to every method
// of the stage, so a cached Allow is valid for any route the caller uses
// next. Each route's function still applies its own rules.
func wildcardResource(methodArn string) (string, error) {
	parts := strings.SplitN(methodArn, "/", 3)
	if len(parts) < 3 || !strings.HasPrefix(parts[0], "arn:") || parts[1] == "" {
		return "", fmt.Errorf("authorizer: unexpected methodArn %q", methodArn)
	}
	return parts[0] + "/" + parts[1] + "/*", nil
}
