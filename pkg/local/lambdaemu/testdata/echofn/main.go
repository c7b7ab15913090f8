// Command echofn is the fixture function of lambdaemu's own tests: a real
// aws-lambda-go function whose behaviour each test selects, through the
// event's "action" for invocations and through ECHOFN_* variables for init.
//
// It lives under testdata so that `go build ./...` and `go vet ./...` skip
// it; lambdaemu.Build compiles it by its explicit path.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// request selects the behaviour; any other event is echoed unchanged.
type request struct {
	Action  string `json:"action"`
	Message string `json:"message"`
	SleepMS int    `json:"sleepMs"`
	Size    int    `json:"size"`
}

// echoError gives the returned error a type name of our own, which
// aws-lambda-go reports as errorType.
type echoError struct{ msg string }

func (e *echoError) Error() string { return e.msg }

// invocations counts handled events, showing that one process served them.
// The runtime calls the handler one event at a time, so no lock is needed.
var invocations int

func handle(ctx context.Context, event json.RawMessage) (any, error) {
	invocations++
	var req request
	_ = json.Unmarshal(event, &req) // not an object: echo it
	switch req.Action {
	case "error":
		return nil, &echoError{msg: req.Message}
	case "panic":
		panic(req.Message)
	case "exit":
		fmt.Fprintln(os.Stderr, "echofn: exiting in the middle of an invocation")
		os.Exit(4)
	case "hang":
		// Ignores ctx on purpose: a stuck handler is what a timeout is for.
		time.Sleep(time.Duration(req.SleepMS) * time.Millisecond)
	case "log":
		log.Printf("echofn: %s", req.Message)
	case "big":
		return strings.Repeat("x", req.Size), nil
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return map[string]any{
			"requestId":   lc.AwsRequestID,
			"functionArn": lc.InvokedFunctionArn,
			"deadlineMs":  deadline.UnixMilli(),
			"invocations": invocations,
			"env":         env,
			"cwd":         must(os.Getwd()),
		}, nil
	case "count":
		return map[string]int{"invocations": invocations}, nil
	}
	return event, nil
}

func main() {
	switch {
	case os.Getenv("ECHOFN_INIT_EXIT") != "":
		fmt.Fprintln(os.Stderr, "echofn: init failed: ECHOFN_INIT_EXIT is set")
		os.Exit(3)
	case os.Getenv("ECHOFN_INIT_ERROR") != "":
		reportInitError("ECHOFN_INIT_ERROR is set")
		os.Exit(1)
	case os.Getenv("ECHOFN_INIT_HANG") != "":
		fmt.Fprintln(os.Stderr, "echofn: hanging in init")
		time.Sleep(time.Hour)
	}
	fmt.Println("echofn: init done")

	var opts []lambda.Option
	if os.Getenv("ECHOFN_IGNORE_SIGTERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		opts = append(opts, lambda.WithEnableSIGTERM(func() {
			fmt.Fprintln(os.Stderr, "echofn: SIGTERM received, shutting down")
			os.Exit(0)
		}))
	}
	lambda.StartWithOptions(handle, opts...)
}

// reportInitError does what a custom runtime does when init fails;
// aws-lambda-go itself just exits, so this exercises the other path.
func reportInitError(msg string) {
	fmt.Fprintln(os.Stderr, "echofn: reporting init error")
	body, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": "Runtime.EchofnInitError"})
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.EchofnInitError")
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echofn: posting init error:", err)
		return
	}
	_ = resp.Body.Close()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
