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

// ExecForTest runs sql with args on a pooled connection.
func ExecForTest(ctx context.Context, s *Store, sql string, args ...any) error {
	_, err := s.pool.Exec(ctx, sql, args...)
	return err
}

// JobStateForTest returns the River state and attempt count of the job with id.
func JobStateForTest(ctx context.Context, s *Store, id int64) (state string, attempt int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE id = $1`, id).Scan(&state, &attempt)
	return state, attempt, err
}

// MigrationVersionsForTest lists the versions of the embedded migrations,
// in order.
func MigrationVersionsForTest() ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.version
	}
	return out, nil
}
