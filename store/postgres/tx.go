package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/esia-oidc/idp/store"
)

var _ store.Transactional = (*Store)(nil)

// A grant operation is one or more statements sent in one round trip (see
// run and hold). In a transaction begun by BeginTX they go on the
// transaction's connection; the transaction is begun by its first
// statement, in the same round trip, and the writes that nobody waits for
// (a new grant, a family's revocation) are held back and sent with the
// next statement or with COMMIT. A refresh's rotation is then two round
// trips: BEGIN with the UPDATE that rotates the token, and the INSERT of
// the new token with COMMIT.

// stmt is one SQL statement of an operation and what to do with its answer.
type stmt struct {
	op   string // names the operation in errors
	sql  string
	args []any
	// row, if set, reads the answer's single row; exec, if set, checks
	// the command tag. Each returns the operation's error, mapped to the
	// store's sentinels.
	row  func(pgx.Row) error
	exec func(pgconn.CommandTag) error
}

// outcome marks an error that a statement's callback has already mapped.
type outcome struct{ error }

func (o outcome) Unwrap() error { return o.error }

// queue adds the statement to b.
func (st *stmt) queue(b *pgx.Batch) {
	q := b.Queue(st.sql, st.args...)
	q.Fn = func(br pgx.BatchResults) error {
		if st.row != nil {
			if err := st.row(br.QueryRow()); err != nil {
				return outcome{err}
			}
			return nil
		}
		tag, err := br.Exec()
		if err != nil {
			return outcome{mapErr(st.op, err)}
		}
		if st.exec != nil {
			if err := st.exec(tag); err != nil {
				return outcome{err}
			}
		}
		return nil
	}
}

// sendBatch sends b on conn and returns the first statement's error.
func sendBatch(ctx context.Context, conn interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, b *pgx.Batch) error {
	err := conn.SendBatch(ctx, b).Close()
	var o outcome
	if errors.As(err, &o) {
		return o.error
	}
	if err != nil {
		return mapErr("batch", err)
	}
	return nil
}

// run sends the statements in one round trip and hands each its answer: in
// the transaction of ctx, if there is one (after its BEGIN and the writes
// it held back, if not yet sent), else on a pooled connection, several
// statements in an implicit transaction of their own. The first error is
// returned; the statements after a failed one are not run.
func (s *Store) run(ctx context.Context, stmts ...*stmt) error {
	if t, ok := ctx.Value(txKey{}).(*tx); ok {
		return t.run(ctx, s, stmts)
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		st.queue(b)
	}
	return sendBatch(ctx, s.pool, b)
}

// hold runs writes whose caller needs no answer but success: in a
// transaction they wait for its next statement or its commit, and their
// error comes back from that call (and fails the transaction); outside
// one, they run now.
func (s *Store) hold(ctx context.Context, stmts ...*stmt) error {
	if t, ok := ctx.Value(txKey{}).(*tx); ok {
		if t.done {
			return errTxDone
		}
		t.held = append(t.held, stmts...)
		return nil
	}
	return s.run(ctx, stmts...)
}

type txKey struct{}

// tx is a transaction that BeginTX put in a context. It is used by one
// goroutine at a time, as a pgx.Tx is.
type tx struct {
	conn *pgxpool.Conn // nil until the first round trip
	held []*stmt       // writes not yet sent
	done bool          // committed or rolled back
}

var errTxDone = errors.New("postgres: transaction already committed or rolled back")

// run sends the held writes and stmts, preceded by BEGIN the first time.
func (t *tx) run(ctx context.Context, s *Store, stmts []*stmt) error {
	if t.done {
		return errTxDone
	}
	b := &pgx.Batch{}
	if t.conn == nil {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return mapErr("begin", err)
		}
		t.conn = c
		b.Queue("begin")
	}
	for _, st := range t.held {
		st.queue(b)
	}
	t.held = nil
	for _, st := range stmts {
		st.queue(b)
	}
	return sendBatch(ctx, t.conn, b)
}

// BeginTX implements store.Transactional: the grant operations called with
// the returned context run in one transaction until Commit or Rollback.
// Nothing is sent yet: BEGIN goes with the first statement, and writes are
// held back as run and hold say, so a transaction costs no round trip of
// its own.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*tx); ok {
		return nil, errors.New("postgres: transaction already begun")
	}
	return context.WithValue(ctx, txKey{}, &tx{}), nil
}

// Commit implements store.Transactional: the held writes and COMMIT in one
// round trip. When a held write fails, nothing of the transaction is
// written and its error is returned.
func (s *Store) Commit(ctx context.Context) error {
	t, ok := ctx.Value(txKey{}).(*tx)
	if !ok {
		return errors.New("postgres: commit without a transaction")
	}
	if t.done {
		return errTxDone
	}
	t.done = true
	if t.conn == nil {
		// Never begun: the held writes alone, in an implicit transaction.
		if len(t.held) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		for _, st := range t.held {
			st.queue(b)
		}
		t.held = nil
		return sendBatch(ctx, s.pool, b)
	}
	defer t.release(ctx)
	b := &pgx.Batch{}
	for _, st := range t.held {
		st.queue(b)
	}
	t.held = nil
	(&stmt{op: "commit", sql: "commit", exec: func(tag pgconn.CommandTag) error {
		// A transaction that failed earlier answers COMMIT with ROLLBACK.
		if tag.String() == "ROLLBACK" {
			return fmt.Errorf("postgres: commit: %w: %w", store.ErrUnavailable, pgx.ErrTxCommitRollback)
		}
		return nil
	}}).queue(b)
	return sendBatch(ctx, t.conn, b)
}

// Rollback implements store.Transactional. The held writes are dropped.
func (s *Store) Rollback(ctx context.Context) error {
	t, ok := ctx.Value(txKey{}).(*tx)
	if !ok {
		return errors.New("postgres: rollback without a transaction")
	}
	if t.done {
		return nil
	}
	t.done = true
	t.held = nil
	if t.conn == nil {
		return nil
	}
	err := t.release(ctx)
	if err != nil {
		return fmt.Errorf("postgres: rollback: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// release ends whatever transaction is still open on the connection and
// gives the connection back to the pool.
func (t *tx) release(ctx context.Context) error {
	c := t.conn
	t.conn = nil
	defer c.Release() // the pool drops a connection left in a transaction
	if c.Conn().IsClosed() || c.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := c.Exec(context.WithoutCancel(ctx), "rollback")
	return err
}
