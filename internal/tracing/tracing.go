// Package tracing holds the provider's OpenTelemetry traces: the tracer
// provider that exports spans over OTLP/HTTP when an endpoint is
// configured, the start of child spans for what a request calls (the
// stores, password hashing, outbound HTTP), and the W3C trace-context
// propagator.
//
// Only the server starts root spans (one per HTTP request, one per
// background job), with the provider that Setup makes. Everything below
// starts its spans with Start, which takes the provider of the span in the
// context: with tracing off, or a trace not sampled, no span there is
// recording and Start costs one context lookup. No global provider is set;
// main routes the SDK's own errors to the log (SetErrorLogger).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every span of the provider.
const ScopeName = "github.com/esia-oidc/idp"

// ServiceName is the service.name of the provider's spans, unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise.
const ServiceName = "idp"

// TracesPath is appended to the endpoint's path, as the OTLP exporters do
// with OTEL_EXPORTER_OTLP_ENDPOINT.
const TracesPath = "/v1/traces"

// Propagator reads and writes the W3C traceparent and tracestate headers.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Config says where spans go.
type Config struct {
	// Endpoint is the base URL of an OTLP/HTTP receiver, such as
	// http://collector:4318; spans are POSTed to its path + TracesPath.
	Endpoint string
	// SampleRatio is the share of new traces that are recorded (0 to 1).
	// A trace continued from a trusted proxy's traceparent follows its
	// parent's decision.
	SampleRatio float64
}

// CheckEndpoint returns what is wrong with an OTLP endpoint, or nil; its
// error never repeats the URL.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return errors.New("must be an absolute http(s) URL such as http://collector:4318")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http or https URL")
	case u.User != nil:
		return errors.New("must not hold a user or password (set OTEL_EXPORTER_OTLP_HEADERS)")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// TracesURL returns the URL that spans are POSTed to for the endpoint.
func TracesURL(endpoint string) (string, error) {
	if err := CheckEndpoint(endpoint); err != nil {
		return "", err
	}
	u, _ := url.Parse(endpoint)
	u.Path = strings.TrimRight(u.Path, "/") + TracesPath
	u.RawPath = ""
	return u.String(), nil
}

// Setup returns a tracer provider that samples parent-based with
// cfg.SampleRatio for new traces and exports in batches to cfg.Endpoint,
// or nil when no endpoint is set: then nothing is recorded or exported.
// The exporter also reads the OTEL_EXPORTER_OTLP_* variables that the
// endpoint does not settle (headers, timeout, certificates, compression).
// Shut the provider down at exit: that flushes the spans not yet sent.
func Setup(ctx context.Context, cfg Config) (*sdktrace.TracerProvider, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is not within 0 to 1", cfg.SampleRatio)
	}
	target, err := TracesURL(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing: the endpoint %w", err)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(target))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	), nil
}

// noSpan is what Start returns when it starts nothing: a span that records
// nothing and whose End does nothing.
var noSpan = trace.SpanFromContext(context.Background())

// Start starts a child span of the recording span in ctx, with that span's
// tracer provider, and returns the context carrying it. When ctx holds no
// recording span (tracing off, a trace not sampled, work outside a request
// or a job) it starts nothing and returns ctx and a span whose methods do
// nothing. Set attributes on the span under span.IsRecording(), so that
// they cost nothing when it records nothing.
func Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noSpan
	}
	return parent.TracerProvider().Tracer(ScopeName).Start(ctx, name, trace.WithSpanKind(kind))
}

// Recording reports whether Start would start a span in ctx.
func Recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// SetErrorLogger sends the OpenTelemetry SDK's own errors (an export that
// failed, spans dropped) to logger as warnings, instead of the standard log
// package. The SDK keeps one handler for the process, so main sets it once.
func SetErrorLogger(logger *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("traces: " + err.Error())
	}))
}
