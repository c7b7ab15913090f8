package apigw

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the token API (openapi.yaml):
// every route of routes.APITokens, its parameters, bodies and answers.
// The package's tests drive the real handlers and hold every answer
// against it, so it cannot drift from the code unnoticed; the local stack
// serves it at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
