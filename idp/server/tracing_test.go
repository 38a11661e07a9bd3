package server

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store"
)

// handlerRunner is a store.JobRunner that keeps the handlers registered.
type handlerRunner struct {
	store.JobRunner
	handlers map[string]store.JobHandler
}

func (r *handlerRunner) Handle(kind string, h store.JobHandler) { r.handlers[kind] = h }

// TestTracedJobs: each attempt at a job is the root span of a trace of its
// own, and what the handler starts with tracing.Start hangs under it.
func TestTracedJobs(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	inner := &handlerRunner{handlers: map[string]store.JobHandler{}}
	jobs := tracedJobs{JobRunner: inner, tracer: tp.Tracer(tracing.ScopeName)}
	failure := errors.New("gateway down")
	jobs.Handle("notify.send", func(ctx context.Context, j *store.Job) error {
		_, span := tracing.Start(ctx, "POST", trace.SpanKindClient)
		span.End()
		if j.Attempt == 1 {
			return failure
		}
		return nil
	})
	h := inner.handlers["notify.send"]
	if err := h(context.Background(), &store.Job{ID: 7, Kind: "notify.send", Attempt: 1}); !errors.Is(err, failure) {
		t.Fatalf("the wrapped handler returned %v, want the handler's error", err)
	}
	if err := h(context.Background(), &store.Job{ID: 7, Kind: "notify.send", Attempt: 2}); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	for i, attempt := range []int{0, 2} {
		child, job := spans[attempt], spans[attempt+1]
		if job.Name != "job notify.send" || job.SpanKind != trace.SpanKindConsumer || job.Parent.IsValid() {
			t.Errorf("attempt %d: job span %q kind %v parent %v, want a root consumer span", i+1, job.Name, job.SpanKind, job.Parent)
		}
		if child.Parent.SpanID() != job.SpanContext.SpanID() {
			t.Errorf("attempt %d: the handler's span is not under the job's", i+1)
		}
		if failed := job.Status.Code == codes.Error; failed != (i == 0) {
			t.Errorf("attempt %d: error status %v", i+1, failed)
		}
	}
	if spans[1].SpanContext.TraceID() == spans[3].SpanContext.TraceID() {
		t.Error("two attempts share a trace")
	}
}
