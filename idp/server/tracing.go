package server

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store"
)

// openTracing makes the tracer provider when IDP_OTLP_ENDPOINT is set and
// has Close flush and stop it; with no endpoint it leaves s.Tracing nil.
func (s *Server) openTracing(ctx context.Context) error {
	tp, err := tracing.Setup(ctx, tracing.Config{Endpoint: s.cfg.OTLPEndpoint, SampleRatio: s.cfg.OTLPSampleRatio})
	if err != nil || tp == nil {
		return err
	}
	s.Tracing = tp
	s.closes = append(s.closes, func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			s.logger.Warn("traces: flush at stop", "err", err)
		}
	})
	s.logger.Info("traces: exported over OTLP/HTTP", "sample_ratio", s.cfg.OTLPSampleRatio)
	return nil
}

// tracingFlushTimeout bounds the export of the last spans at stop.
const tracingFlushTimeout = 5 * time.Second

// tracerProvider is s.Tracing as the interface httpx.Trace takes: nil
// (tracing off) when there is none.
func (s *Server) tracerProvider() trace.TracerProvider {
	if s.Tracing == nil {
		return nil
	}
	return s.Tracing
}

// tracedJobs starts a root span for each attempt at a job, so that the
// store calls and outbound calls the job makes are traced under it.
type tracedJobs struct {
	store.JobRunner
	tracer trace.Tracer
}

// Handle registers h wrapped in a span named "job <kind>".
func (j tracedJobs) Handle(kind string, h store.JobHandler) {
	name := "job " + kind
	j.JobRunner.Handle(kind, func(ctx context.Context, job *store.Job) error {
		ctx, span := j.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("job.kind", job.Kind),
				attribute.Int64("job.id", job.ID),
				attribute.Int("job.attempt", job.Attempt),
			))
		defer span.End()
		err := h(ctx, job)
		if err != nil {
			span.SetAttributes(semconv.ErrorType(err))
			span.SetStatus(codes.Error, "")
		}
		return err
	})
}
