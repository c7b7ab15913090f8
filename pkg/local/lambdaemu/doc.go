// Package lambdaemu runs a real Lambda `bootstrap` binary the way the
// provided.al2023 runtime does, and invokes it with events.
//
// The AWS Lambda Runtime Interface Emulator cannot be obtained on our build
// machines, yet end-to-end tests must prove that every built binary starts and
// answers a fixture event, and benchmarks need the cold start (process start
// to first answered invocation). This package is the smallest faithful stand-in:
// a loopback HTTP server that speaks the Lambda Runtime API (version
// 2018-06-01) to one child process, one invocation at a time, exactly like one
// Lambda execution environment.
//
// What is emulated, and why:
//
//   - GET  /2018-06-01/runtime/invocation/next long-polls until Invoke offers an
//     event, then answers with the event and the Lambda-Runtime-* headers
//     (request id, deadline, invoked function ARN, trace id). aws-lambda-go
//     derives the handler's context deadline and lambdacontext from them.
//   - POST /2018-06-01/runtime/invocation/{id}/response and .../error complete
//     the invocation. A response streamed with the
//     Lambda-Runtime-Function-Error-Type trailer (aws-lambda-go does that when
//     an io.Reader response fails mid-way) is a function error, as in Lambda.
//   - POST /2018-06-01/runtime/init/error records an init failure.
//   - The Extensions API register and event/next calls are accepted (next
//     blocks until shutdown), because lambda.WithEnableSIGTERM registers an
//     internal extension to get SIGTERM before SIGKILL; Close then does the
//     same: SIGTERM, a grace period, SIGKILL.
//   - Payloads over Lambda's synchronous limit (MaxPayloadSize) are refused,
//     so a function that would fail in AWS fails here too.
//   - The child gets a minimal Lambda-like environment and not the test
//     process's environment, so host credentials, proxies or AWS_PROFILE
//     cannot leak in and make a test pass that would fail in AWS.
//
// What is deliberately not emulated: Lambda restarts a broken execution
// environment (after a timeout, a panic, an init error or an exit) on the next
// invocation; here the Function stays dead and every later Invoke returns an
// error, because a test wants to see the first failure, not a silent restart.
// Start a new Function instead. Response streaming framing, client context,
// Cognito identity, X-Ray and the Telemetry API are not emulated.
//
// Every wait is bounded: the init phase by Options.InitTimeout, an invocation
// by Options.Timeout, shutdown by Options.ShutdownGrace, and all of them by
// the caller's context and by the child process exiting.
package lambdaemu
