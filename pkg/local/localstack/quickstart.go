package localstack

import (
	"fmt"
	"strings"
)

// QuickStart is the copy-paste guide printed by `make run`.
func QuickStart(s *Stack) string {
	var b strings.Builder
	u := s.URL
	exposure := ""
	if s.ddb != nil {
		exposure = "\n               " + dynamoLocalExposure
	}
	fmt.Fprintf(&b, `
Local stack ready.
  gateway      %[1]s   (API Gateway: /api-tokens, /settings; ALB: /v2/serve/*)
  health       %[1]s/healthz
  OpenAPI      %[1]s/openapi.yaml   (the token API's contract)
  OIDC issuer  %[1]s%[2]s   (AUTHORITY; CLIENT_ID=%[3]s)
  DynamoDB     %[4]s   table %[5]s%[7]s
  upstream     %[6]s

Quick start (copy and paste into another shell):

  # 1. a JWT for an admin from the development issuer
  JWT=$(curl -s -X POST %[1]s%[2]s/token -H 'Content-Type: application/json' \
        -d '{"username":"admin","groups":["lisa-admins","lisa-users"]}' | jq -r .id_token)

  # 2. an API token for alice, created by the admin (shown once: keep it)
  TOKEN=$(curl -s -X POST %[1]s/api-tokens/alice -H "Authorization: Bearer $JWT" \
          -H 'Content-Type: application/json' -d '{"name":"my laptop","groups":["lisa-users","lisa-api-users"]}' | jq -r .token)

  # 3. use it
  curl -s %[1]s/api-tokens/ -H "Authorization: Bearer $TOKEN" | jq
  curl -s %[1]s/v2/serve/models -H "Authorization: Bearer $TOKEN" | jq
  curl -s %[1]s/v2/serve/chat/completions -H "Api-Key: $TOKEN" -H 'Content-Type: application/json' \
       -d '{"model":"local-echo","messages":[{"role":"user","content":"Hello!"}]}' | jq

Press Ctrl-C to stop everything.
`, u, IssuerPath, s.Config.ClientID, s.DynamoDBEndpoint, s.TableName, valueOr(s.Config.ServeUpstreamURL, "(none)"), exposure)
	return b.String()
}
