package localstack

import (
	"fmt"
	"strings"
)

// QuickStart is the copy-paste guide printed by `make run`.
func QuickStart(s *Stack) string {
	var b strings.Builder
	u := s.URL
	exposure, memory := "", ""
	if s.ddb != nil {
		exposure = "\n               " + dynamoLocalExposure
		memory = "\nDynamoDB Local keeps the table in memory: stopping this program empties it.\n"
	}
	fmt.Fprintf(&b, `
Local stack ready.
  console      %[1]s/   (open it in a browser; sign in as Admin, API user or User without API access)
  gateway      %[1]s   (API Gateway: /api-tokens, /settings; ALB: /v2/serve/*)
  health       %[1]s/healthz
  OpenAPI      %[1]s/openapi.yaml   (the token API's contract)
  OIDC issuer  %[1]s%[2]s   (AUTHORITY; CLIENT_ID=%[3]s)
  DynamoDB     %[4]s   table %[5]s%[7]s
  upstream     %[6]s

Quick start (copy and paste into another shell; it needs curl and jq):

  # 1. a JWT for an admin from the development issuer (valid for an hour)
  JWT=$(curl -sS -X POST %[1]s%[2]s/token -H 'Content-Type: application/json' \
        -d '{"username":"admin","groups":["lisa-admins","lisa-users"]}' | jq -r .id_token)

  # 2. an API token for alice, created by the admin (shown once: keep it)
  ANSWER=$(curl -sS -X POST %[1]s/api-tokens/alice -H "Authorization: Bearer $JWT" \
           -H 'Content-Type: application/json' -d '{"name":"my laptop","groups":["lisa-users","lisa-api-users"]}')
  TOKEN=$(printf '%%s' "$ANSWER" | jq -er '.token // empty') ||
    echo "no token for alice: $(printf '%%s' "$ANSWER" | jq -r '.message // .') (to start over, see below)"

  # 3. use it
  curl -s %[1]s/api-tokens/ -H "Authorization: Bearer $TOKEN" | jq
  curl -s %[1]s/v2/serve/models -H "Authorization: Bearer $TOKEN" | jq
  curl -s %[1]s/v2/serve/chat/completions -H "Api-Key: $TOKEN" -H 'Content-Type: application/json' \
       -d '{"model":"local-echo","messages":[{"role":"user","content":"Hello!"}]}' | jq

To start over (each user holds one token, so step 2 works once), revoke alice's token
and paste the quick start again:

  ID=$(curl -sS '%[1]s/api-tokens/?username=alice' -H "Authorization: Bearer $JWT" | jq -r '.tokens[0].tokenUUID')
  curl -sS -X DELETE %[1]s/api-tokens/$ID -H "Authorization: Bearer $JWT" | jq
%[8]s
Press Ctrl-C to stop everything.
`, u, IssuerPath, s.Config.ClientID, s.DynamoDBEndpoint, s.TableName, valueOr(s.Config.ServeUpstreamURL, "(none)"), exposure, memory)
	return b.String()
}
