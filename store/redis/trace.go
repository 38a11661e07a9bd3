package redis

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/esia-oidc/idp/internal/tracing"
)

// traceHook makes a client span of every command and pipeline run within a
// recording span (internal/tracing.Start), named by the command ("GET",
// "EVALSHA", "PIPELINE"). Keys and arguments, which may hold identifiers
// and secrets, are never recorded. Outside a recording span it costs a
// context lookup.
type traceHook struct{}

var _ goredis.Hook = traceHook{}

func (traceHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (traceHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !tracing.Recording(ctx) {
			return next(ctx, cmd)
		}
		op := strings.ToUpper(cmd.Name())
		ctx, span := tracing.Start(ctx, op, trace.SpanKindClient)
		span.SetAttributes(semconv.DBSystemNameRedis, semconv.DBOperationName(op))
		err := next(ctx, cmd)
		endSpan(span, err)
		return err
	}
}

func (traceHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !tracing.Recording(ctx) {
			return next(ctx, cmds)
		}
		ctx, span := tracing.Start(ctx, "PIPELINE", trace.SpanKindClient)
		span.SetAttributes(semconv.DBSystemNameRedis, semconv.DBOperationName("PIPELINE"),
			semconv.DBOperationBatchSize(len(cmds)))
		err := next(ctx, cmds)
		endSpan(span, err)
		return err
	}
}

// endSpan ends span, marking it failed for an error other than a miss.
func endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, goredis.Nil) {
		span.SetAttributes(semconv.ErrorType(err))
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
