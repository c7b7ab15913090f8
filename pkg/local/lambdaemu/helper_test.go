//go:build unix

package lambdaemu_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// helperRuntime is a minimal custom runtime written against the Runtime API
// documentation, not aws-lambda-go, so that the emulator is tested on the
// paths aws-lambda-go never takes. The event's "do" selects the behaviour.
func helperRuntime() int {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/"
	for {
		resp, err := http.Get(base + "invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper: next:", err)
			return 1
		}
		event, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "helper: next status", resp.StatusCode)
			return 1
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		respond := base + "invocation/" + id + "/response"

		var req struct{ Do string }
		_ = json.Unmarshal(event, &req)
		switch req.Do {
		case "wrong-id":
			status := post(base+"invocation/not-"+id+"/response", nil, strings.NewReader(`{}`), nil)
			post(respond, nil, strings.NewReader(fmt.Sprintf(`{"wrongIdStatus":%d}`, status)), nil)
		case "raw-error":
			post(base+"invocation/"+id+"/error", http.Header{"Lambda-Runtime-Function-Error-Type": {"Custom.Raw"}},
				strings.NewReader("plain text failure"), nil)
		case "trailer-error":
			body, _ := json.Marshal(map[string]string{"errorMessage": "broke mid-stream", "errorType": "StreamError"})
			trailer := http.Header{
				"Lambda-Runtime-Function-Error-Type": {"StreamError"},
				"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString(body)},
			}
			// A reader of unknown length makes the client send chunked
			// encoding, which trailers need.
			post(respond, nil, io.MultiReader(strings.NewReader("partial")), trailer)
		case "skip":
			// Ask for the next event without answering this one.
		case "late-init-error":
			status := post(base+"init/error", nil, strings.NewReader(`{"errorMessage":"late","errorType":"Late"}`), nil)
			post(respond, nil, strings.NewReader(fmt.Sprintf(`{"initErrorStatus":%d}`, status)), nil)
		default:
			post(respond, nil, bytes.NewReader(event), nil)
		}
	}
}

// post sends body and returns the status code (0 on a transport error).
func post(url string, header http.Header, body io.Reader, trailer http.Header) int {
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		return 0
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Trailer = trailer
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: post:", err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
