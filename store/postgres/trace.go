package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/esia-oidc/idp/internal/tracing"
)

// tracer makes a client span of every query and batch run within a
// recording span (internal/tracing.Start): named by the statement's first
// word, with the SQL text (placeholders only: the arguments, which may be
// secrets, are never recorded). Outside a recording span it costs a
// context lookup.
type tracer struct{}

var (
	_ pgx.QueryTracer = tracer{}
	_ pgx.BatchTracer = tracer{}
)

type spanKey struct{}

// maxQueryText bounds the SQL text kept on a span.
const maxQueryText = 2048

func (tracer) start(ctx context.Context, name string, attrs ...attribute.KeyValue) context.Context {
	ctx, span := tracing.Start(ctx, name, trace.SpanKindClient)
	if !span.IsRecording() {
		return ctx
	}
	span.SetAttributes(semconv.DBSystemNamePostgreSQL)
	span.SetAttributes(attrs...)
	return context.WithValue(ctx, spanKey{}, span)
}

func (tracer) end(ctx context.Context, err error) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if err != nil && !isNoRows(err) {
		span.SetAttributes(semconv.ErrorType(err))
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

func (t tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !tracing.Recording(ctx) {
		return ctx
	}
	op := operation(data.SQL)
	return t.start(ctx, op, semconv.DBOperationName(op), semconv.DBQueryText(queryText(data.SQL)))
}

func (t tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	t.end(ctx, data.Err)
}

func (t tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !tracing.Recording(ctx) {
		return ctx
	}
	return t.start(ctx, "BATCH", semconv.DBOperationName("BATCH"), semconv.DBOperationBatchSize(data.Batch.Len()))
}

func (tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (t tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	t.end(ctx, data.Err)
}

// operation returns the first word of a statement in upper case ("SELECT",
// "INSERT", "WITH", "BEGIN"), after any leading "--" comment lines, or
// "SQL".
func operation(sql string) string {
	for {
		sql = strings.TrimLeft(sql, " \t\r\n(")
		if !strings.HasPrefix(sql, "--") { // sqlc's "-- name: ..." lines
			break
		}
		_, rest, ok := strings.Cut(sql, "\n")
		if !ok {
			return "SQL"
		}
		sql = rest
	}
	end := strings.IndexAny(sql, " \t\r\n(;")
	if end < 0 {
		end = len(sql)
	}
	if end == 0 || end > 16 {
		return "SQL"
	}
	return strings.ToUpper(sql[:end])
}

func queryText(sql string) string {
	if len(sql) <= maxQueryText {
		return sql
	}
	return strings.ToValidUTF8(sql[:maxQueryText], "")
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
