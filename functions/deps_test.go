package functions_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/llmgw/apitokens/"

// Packages that exist only to run and test without AWS, or only as test
// support of a production package. No Lambda may link them.
var localOnly = []string{
	module + "pkg/local/",
	module + "pkg/store/memstore",
	module + "pkg/store/storetest",
	module + "pkg/store/dynamostore/dynamotest",
	module + "pkg/internal/syncbuf",
	module + "pkg/internal/testclock",
}

// What each Lambda must not link beyond that: the authorizer and serve
// binaries need neither the token service nor its API Gateway adapter.
var notFor = map[string][]string{
	"./authorizer":      {module + "pkg/tokensvc", module + "pkg/apigw"},
	"./functions/serve": {module + "pkg/tokensvc", module + "pkg/apigw"},
}

func TestLambdasLinkNoLocalOnlyCode(t *testing.T) {
	mains := []string{"./authorizer", "./functions/create", "./functions/list", "./functions/get", "./functions/delete", "./functions/settings", "./functions/serve"}
	for _, m := range mains {
		t.Run(m, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", m)
			cmd.Dir = ".."
			cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", m, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %d packages", m, len(deps))
			}
			banned := append(append([]string{}, localOnly...), notFor[m]...)
			for _, d := range deps {
				for _, b := range banned {
					if d == b || strings.HasPrefix(d, b) && (strings.HasSuffix(b, "/") || strings.HasPrefix(d, b+"/")) {
						t.Errorf("%s links %s", m, d)
					}
				}
			}
		})
	}
}
