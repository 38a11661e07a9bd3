package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/esia-oidc/idp/store"
)

var _ store.JobStore = (*Store)(nil)

// Jobs are River jobs (github.com/riverqueue/river) of one River kind,
// riverKind, whose arguments carry the store's kind and the caller's
// arguments: one River worker dispatches them to the handlers registered
// by kind, so that kinds are plain strings as the store's contract has
// them, and River's tables stay River's.

// riverKind is the River job kind of every store job.
const riverKind = "idp_job"

// riverArgs are the arguments of a River job: the store's kind and args.
type riverArgs struct {
	JobKind string `json:"kind"`
	Args    []byte `json:"args,omitempty"`
}

// Kind implements river.JobArgs.
func (riverArgs) Kind() string { return riverKind }

// Atomically implements store.Atomic: fn's calls with the context it gets
// run in one PostgreSQL transaction (each write behind a savepoint of its
// own, so that a conflict leaves the transaction usable), committed when fn
// returns nil and rolled back otherwise.
func (s *Store) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	if atomicTx(ctx) != nil {
		return errors.New("postgres: transaction already begun")
	}
	return s.inTx(ctx, "transaction", func(tx pgx.Tx) error {
		return fn(context.WithValue(ctx, atomicKey{}, tx))
	})
}

// EnqueueJob inserts a River job; with a context of Atomically, in its
// transaction.
func (s *Store) EnqueueJob(ctx context.Context, kind string, args []byte, opts store.JobOptions) error {
	const op = "enqueue job"
	if kind == "" {
		return errors.New("postgres: enqueue job: empty kind")
	}
	ins := &river.InsertOpts{MaxAttempts: opts.MaxAttempts}
	if ins.MaxAttempts <= 0 {
		ins.MaxAttempts = int(s.jobMaxAttempts.Load())
	}
	if opts.Delay > 0 {
		ins.ScheduledAt = time.Now().Add(opts.Delay) // River's queue runs on the wall clock
	}
	a := riverArgs{JobKind: kind, Args: args}
	if atomicTx(ctx) == nil {
		if _, err := s.river.Insert(ctx, a, ins); err != nil {
			return mapErr(op, err)
		}
		return nil
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		_, err := s.river.InsertTx(ctx, tx, a, ins)
		return mapErr(op, err)
	})
}

// migrateRiver applies River's own migrations, each in a transaction of
// its own (a later one uses what an earlier one adds to an enum type, which
// PostgreSQL allows only after a commit) under the advisory lock that
// Migrate takes.
func (s *Store) migrateRiver(ctx context.Context) error {
	const op = "migrate river"
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	for {
		applied := 0
		err := s.inTx(ctx, op, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx,
				`SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
				migrateLockClass); err != nil {
				return mapErr(op+": lock", err)
			}
			res, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			if err != nil {
				return mapErr(op, err)
			}
			applied = len(res.Versions)
			return nil
		})
		if err != nil || applied == 0 {
			return err
		}
	}
}

// NewJobRunner returns a River client that works the store's jobs with
// the handlers registered on it: cfg.Workers at once in this process, an
// attempt's context ending after cfg.Timeout, failed attempts tried again
// after cfg.RetryDelay, and a job left running longer than cfg.RescueAfter
// (its process died) tried again by the elected leader among the
// processes.
func (s *Store) NewJobRunner(cfg store.JobConfig) (store.JobRunner, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.jobMaxAttempts.Store(int64(cfg.MaxAttempts))
	r := &runner{log: log, handlers: map[string]store.JobHandler{}}
	workers := river.NewWorkers()
	river.AddWorker[riverArgs](workers, &worker{r: r})
	client, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          retryPolicy{cfg},
		JobTimeout:           cfg.Timeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, 100*time.Millisecond),
		Logger:               log,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: job runner: %w", err)
	}
	r.client = client
	return r, nil
}

// retryPolicy waits JobConfig.RetryDelay after a failed attempt.
type retryPolicy struct{ cfg store.JobConfig }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.cfg.RetryDelay(job.Attempt))
}

type runner struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger

	mu       sync.RWMutex
	handlers map[string]store.JobHandler
}

func (r *runner) Handle(kind string, h store.JobHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[kind] = h
}

func (r *runner) handler(kind string) store.JobHandler {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.handlers[kind]
}

func (r *runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("postgres: start job runner: %w", err)
	}
	return nil
}

// Stop waits for the running jobs until ctx ends, then cancels them.
func (r *runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = r.client.StopAndCancel(cctx)
	return err
}

// worker is the one River worker: it hands each job to the handler of its
// store kind.
type worker struct {
	river.WorkerDefaults[riverArgs]
	r *runner
}

func (w *worker) Work(ctx context.Context, job *river.Job[riverArgs]) error {
	h := w.r.handler(job.Args.JobKind)
	if h == nil {
		return fmt.Errorf("postgres: no handler for job kind %q", job.Args.JobKind)
	}
	err := h(ctx, &store.Job{ID: job.ID, Kind: job.Args.JobKind, Args: job.Args.Args,
		Attempt: job.Attempt, MaxAttempts: job.MaxAttempts})
	if errors.Is(err, store.ErrJobPermanent) {
		w.r.log.WarnContext(ctx, "job failed for good", "job_id", job.ID, "job_kind", job.Args.JobKind, "attempt", job.Attempt, "err", err)
		return river.JobCancel(err)
	}
	return err
}
