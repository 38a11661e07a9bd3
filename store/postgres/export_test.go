package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// QueryForTest returns the single int column of every row of sql.
func QueryForTest(ctx context.Context, s *Store, sql string) ([]int, error) {
	rows, err := s.pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// CurrentSchemaForTest returns current_schema() of a pooled connection.
func CurrentSchemaForTest(ctx context.Context, s *Store) (string, error) {
	var schema string
	err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema)
	return schema, err
}
