package lambdaemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API names, as in aws-lambda-go's lambda/runtime_api_client.go and
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html.
const (
	headerRequestID          = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS         = "Lambda-Runtime-Deadline-Ms"
	headerInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID            = "Lambda-Runtime-Trace-Id"
	headerFunctionErrorType  = "Lambda-Runtime-Function-Error-Type"
	trailerFunctionErrorBody = "Lambda-Runtime-Function-Error-Body"
	headerExtensionID        = "Lambda-Extension-Identifier"
)

func (f *Function) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", f.handleInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", f.handleExtensionRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", f.handleExtensionNext)
	return mux
}

// handleNext is the runtime's long poll: it returns when Invoke offers an
// event. Calling it also completes the previous invocation, so an
// invocation still unanswered at this point is a protocol violation.
func (f *Function) handleNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-f.initFailed:
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "init error already reported")
		return
	default:
	}
	f.mu.Lock()
	if f.firstPoll.IsZero() {
		f.firstPoll = time.Now()
	}
	stale := f.inflight
	f.inflight = nil
	f.mu.Unlock()
	if stale != nil {
		stale.done <- outcome{at: time.Now(), err: fmt.Errorf("lambdaemu: the runtime asked for the next event without answering request %s", stale.id)}
	}

	select {
	case inv := <-f.pending:
		inv.start = time.Now()
		inv.deadline = inv.start.Add(f.timeout)
		f.mu.Lock()
		f.inflight = inv
		f.mu.Unlock()
		close(inv.delivered)

		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set(headerRequestID, inv.id)
		h.Set(headerDeadlineMS, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(headerInvokedFunctionARN, f.arn)
		h.Set(headerTraceID, inv.traceID)
		w.WriteHeader(http.StatusOK)
		// A failed write (the runtime went away) leaves inv unanswered;
		// Invoke then sees the process exit or the deadline pass.
		_, _ = w.Write(inv.event)
	case <-r.Context().Done():
	case <-f.done:
		writeAPIError(w, http.StatusInternalServerError, "ServiceShutdown", "emulator is shutting down")
	}
}

// handleResponse completes an invocation with the function's answer.
func (f *Function) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !f.isInflight(id) {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in progress with id "+id)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize+1))
	if err != nil {
		if inv := f.claim(id); inv != nil {
			inv.done <- outcome{at: time.Now(), err: fmt.Errorf("lambdaemu: reading the response to request %s: %w", id, err)}
		}
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	inv := f.claim(id)
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in progress with id "+id)
		return
	}
	if len(body) > MaxPayloadSize {
		msg := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadSize)
		funcErr := &InvokeError{Type: "Function.ResponseSizeTooLarge", Message: msg}
		inv.done <- outcome{at: time.Now(), payload: mustJSON(funcErr), funcErr: funcErr}
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
		return
	}
	// A response whose body failed mid-stream carries the error in
	// trailers; Lambda turns it into a function error.
	if errType := r.Trailer.Get(headerFunctionErrorType); errType != "" {
		raw, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerFunctionErrorBody))
		funcErr := parseFunctionError(raw, errType)
		inv.done <- outcome{at: time.Now(), payload: mustJSON(funcErr), funcErr: funcErr}
		writeAccepted(w)
		return
	}
	// The answer is recorded before the runtime learns it was accepted, so
	// it is recorded before the runtime could exit; Invoke relies on this.
	inv.done <- outcome{at: time.Now(), payload: body}
	writeAccepted(w)
}

// handleError completes an invocation with a function error.
func (f *Function) handleError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	inv := f.claim(id)
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in progress with id "+id)
		return
	}
	funcErr := parseFunctionError(body, r.Header.Get(headerFunctionErrorType))
	inv.done <- outcome{at: time.Now(), payload: body, funcErr: funcErr}
	writeAccepted(w)
}

// handleInitError records the init failure; the runtime is expected to exit
// next, and Invoke reports ErrInit with the error and the output tail.
func (f *Function) handleInitError(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	initialized := !f.firstPoll.IsZero()
	f.mu.Unlock()
	if initialized {
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "init error after the init phase")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadSize))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	f.initErrOnce.Do(func() {
		f.initErr = parseFunctionError(body, r.Header.Get(headerFunctionErrorType))
		close(f.initFailed)
	})
	writeAccepted(w)
}

// handleExtensionRegister accepts a registration during init. aws-lambda-go
// registers an internal extension for lambda.WithEnableSIGTERM; without one
// it logs a warning and Lambda would never send SIGTERM.
func (f *Function) handleExtensionRegister(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	initialized := !f.firstPoll.IsZero()
	f.mu.Unlock()
	if initialized {
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "extensions register during init only")
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	w.Header().Set(headerExtensionID, newUUID())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName":    f.functionName,
		"functionVersion": f.version,
		"handler":         "bootstrap",
	})
}

// handleExtensionNext blocks until shutdown: the emulator sends no INVOKE
// or SHUTDOWN events, which is all an internal extension registered with no
// events (aws-lambda-go's) ever gets.
func (f *Function) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.done:
		writeAPIError(w, http.StatusInternalServerError, "ServiceShutdown", "emulator is shutting down")
	}
}

func (f *Function) isInflight(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight != nil && f.inflight.id == id
}

// claim takes the in-flight invocation if id names it, so that exactly one
// handler completes it.
func (f *Function) claim(id string) *invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv := f.inflight
	if inv == nil || inv.id != id {
		return nil
	}
	f.inflight = nil
	return inv
}

// parseFunctionError reads an {errorMessage, errorType} document; a body
// that is not one is kept as the message, so nothing the function said is
// lost. The type falls back to the header, then to Lambda's "Unhandled".
func parseFunctionError(body []byte, headerType string) *InvokeError {
	var e InvokeError
	if err := json.Unmarshal(body, &e); err != nil || (e.Type == "" && e.Message == "") {
		e = InvokeError{Message: string(body)}
	}
	if e.Type == "" {
		e.Type = headerType
	}
	if e.Type == "" {
		e.Type = "Unhandled"
	}
	return &e
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeAPIError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(&InvokeError{Type: errType, Message: msg}))
}

func mustJSON(e *InvokeError) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // two strings and a RawMessage from json.Unmarshal cannot fail
	}
	return b
}
