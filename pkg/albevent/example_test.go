package albevent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/albevent"
)

// An ordinary http.Handler serves ALB target events; in a Lambda main the
// adapted function goes to lambda.Start.
func ExampleHandler() {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	})
	target := albevent.Handler(hello) // lambda.Start(target)

	resp, _ := target(context.Background(), events.ALBTargetGroupRequest{
		HTTPMethod:            "GET",
		Path:                  "/greet",
		QueryStringParameters: map[string]string{"name": "J%C3%BCrgen"}, // as received: still encoded
		Headers:               map[string]string{"host": "alb.example"},
	})
	fmt.Println(resp.StatusCode, resp.Headers["Content-Type"], resp.Body)
	// Output: 200 text/plain hello Jürgen
}

// The local gateway does the ALB's part: HTTP in, event to the target,
// answer back to HTTP.
func ExampleFromHTTPRequest() {
	target := albevent.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.Header.Values("X-Tag"))
	}))
	gateway := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := albevent.FromHTTPRequest(r, true) // a target group with multi-value headers
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		resp, _ := target(r.Context(), e)
		albevent.WriteResponse(w, resp)
	})
	srv := httptest.NewServer(gateway)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Add("X-Tag", "a")
	req.Header.Add("X-Tag", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 GET [a b]
}
