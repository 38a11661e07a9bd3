package memory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/esia-oidc/idp/store"
)

var _ store.JobStore = (*Store)(nil)

// ---- transactions ----

type txKey struct{}

// tx is a transaction of Atomically. It holds the store's mutex from
// begin to end, so the store's methods called with its context neither
// lock nor wait; snap is what the durable records were at its start.
type tx struct {
	s    *Store
	snap snapshot
	jobs []*memJob // enqueued, started at commit
	done bool
}

// snapshot is a copy of the records Atomically covers. The values in the
// maps are never changed in place, only replaced, so copying the maps is
// enough.
type snapshot struct {
	accounts    map[string]*store.Account
	identifiers map[identKey]string
	consents    map[consentKey]*store.Consent
	operators   map[string]*store.Operator
	logins      map[string]string
	audit       []*store.AuditEvent
}

func (s *Store) snapshot() snapshot {
	return snapshot{
		accounts:    maps.Clone(s.accounts),
		identifiers: maps.Clone(s.identifiers),
		consents:    maps.Clone(s.consents),
		operators:   maps.Clone(s.operators),
		logins:      maps.Clone(s.logins),
		audit:       slices.Clone(s.audit),
	}
}

func (s *Store) restore(snap snapshot) {
	s.accounts, s.identifiers, s.consents = snap.accounts, snap.identifiers, snap.consents
	s.operators, s.logins, s.audit = snap.operators, snap.logins, snap.audit
}

// txOf returns the live transaction of this store in ctx, or nil.
func (s *Store) txOf(ctx context.Context) *tx {
	t, _ := ctx.Value(txKey{}).(*tx)
	if t == nil || t.s != s || t.done {
		return nil
	}
	return t
}

// lock takes the write lock unless ctx is in a transaction, which holds it
// already, and returns its release.
func (s *Store) lock(ctx context.Context) func() {
	if s.txOf(ctx) != nil {
		return func() {}
	}
	s.mu.Lock()
	return s.mu.Unlock
}

// rlock is lock for readers.
func (s *Store) rlock(ctx context.Context) func() {
	if s.txOf(ctx) != nil {
		return func() {}
	}
	s.mu.RLock()
	return s.mu.RUnlock
}

// Atomically implements store.Atomic: fn runs with the store locked, and
// if it fails the accounts, consents, operators and audit events are put
// back as they were and its jobs dropped. Other callers wait until fn
// returns.
func (s *Store) Atomically(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.txOf(ctx) != nil {
		return errors.New("memory: transaction already begun")
	}
	s.mu.Lock()
	t := &tx{s: s, snap: s.snapshot()}
	defer func() {
		t.done = true
		if err != nil {
			s.restore(t.snap)
			t.jobs = nil
		}
		s.mu.Unlock()
		if err == nil {
			s.jobs.push(t.jobs...)
		}
	}()
	return fn(context.WithValue(ctx, txKey{}, t))
}

// ---- jobs ----

// memJob is a job waiting in the queue or being worked.
type memJob struct {
	store.Job
	runAt time.Time
}

// jobQueue is the in-process queue of a memory store. Jobs are lost when
// the process exits: the memory store keeps nothing across restarts.
type jobQueue struct {
	mu          sync.Mutex
	nextID      int64
	pending     []*memJob     // ordered by runAt
	wake        chan struct{} // closed and replaced when a job is pushed
	maxAttempts int           // default of jobs enqueued without one
}

func newJobQueue() *jobQueue {
	return &jobQueue{wake: make(chan struct{}), maxAttempts: store.DefaultJobConfig().MaxAttempts}
}

// newJob numbers a job; it is not queued yet.
func (q *jobQueue) newJob(kind string, args []byte, opts store.JobOptions) *memJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nextID++
	return &memJob{
		Job: store.Job{ID: q.nextID, Kind: kind, Args: slices.Clone(args),
			MaxAttempts: max(opts.MaxAttempts, 0)},
		runAt: time.Now().Add(opts.Delay),
	}
}

// push queues the jobs and wakes the workers.
func (q *jobQueue) push(jobs ...*memJob) {
	if len(jobs) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		if j.MaxAttempts == 0 {
			j.MaxAttempts = q.maxAttempts
		}
		i, _ := slices.BinarySearchFunc(q.pending, j.runAt, func(x *memJob, t time.Time) int {
			if x.runAt.After(t) {
				return 1
			}
			return -1
		})
		q.pending = slices.Insert(q.pending, i, j)
	}
	close(q.wake)
	q.wake = make(chan struct{})
}

// take removes and returns the first due job; otherwise nil, how long
// until the next one is due (or maxWait), and the channel that tells of a
// new job.
func (q *jobQueue) take(maxWait time.Duration) (*memJob, time.Duration, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	if len(q.pending) > 0 && !q.pending[0].runAt.After(now) {
		j := q.pending[0]
		q.pending = q.pending[1:]
		return j, 0, nil
	}
	wait := maxWait
	if len(q.pending) > 0 {
		wait = min(wait, q.pending[0].runAt.Sub(now))
	}
	return nil, wait, q.wake
}

// EnqueueJob queues the job in this process; in a transaction of
// Atomically, when it commits.
func (s *Store) EnqueueJob(ctx context.Context, kind string, args []byte, opts store.JobOptions) error {
	if kind == "" {
		return errors.New("memory: enqueue job: empty kind")
	}
	j := s.jobs.newJob(kind, args, opts)
	if t := s.txOf(ctx); t != nil {
		t.jobs = append(t.jobs, j)
		return nil
	}
	s.jobs.push(j)
	return nil
}

// NewJobRunner returns a runner that works this store's jobs in goroutines
// of this process, with the retry rules of cfg. Jobs do not survive the
// process. A store has one queue: several runners share it.
func (s *Store) NewJobRunner(cfg store.JobConfig) (store.JobRunner, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	s.jobs.mu.Lock()
	s.jobs.maxAttempts = cfg.MaxAttempts
	s.jobs.mu.Unlock()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &runner{q: s.jobs, cfg: cfg, log: log, handlers: map[string]store.JobHandler{}}, nil
}

type runner struct {
	q   *jobQueue
	cfg store.JobConfig
	log *slog.Logger

	mu       sync.RWMutex
	handlers map[string]store.JobHandler
	started  bool
	stop     context.CancelFunc // ends the taking of jobs
	cancel   context.CancelFunc // ends the running jobs
	done     sync.WaitGroup
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("memory: job runner already started")
	}
	r.started = true
	jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	loopCtx, stop := context.WithCancel(ctx)
	r.stop, r.cancel = stop, cancel
	for range r.cfg.Workers {
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			r.work(loopCtx, jobCtx)
		}()
	}
	return nil
}

func (r *runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	stop, cancel := r.stop, r.cancel
	r.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	finished := make(chan struct{})
	go func() { r.done.Wait(); close(finished) }()
	select {
	case <-finished:
		cancel()
		return nil
	case <-ctx.Done():
		cancel()
		<-finished
		return ctx.Err()
	}
}

// work takes due jobs until loopCtx ends; jobs run under jobCtx.
func (r *runner) work(loopCtx, jobCtx context.Context) {
	for loopCtx.Err() == nil {
		j, wait, wake := r.q.take(r.cfg.PollInterval)
		if j == nil {
			t := time.NewTimer(wait)
			select {
			case <-loopCtx.Done():
			case <-wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		r.run(jobCtx, j)
	}
}

// run makes one attempt at j and queues it again when it is to be retried.
func (r *runner) run(ctx context.Context, j *memJob) {
	j.Attempt++
	log := r.log.With("job_id", j.ID, "job_kind", j.Kind, "attempt", j.Attempt)
	err := r.attempt(ctx, j)
	switch {
	case err == nil:
		return
	case errors.Is(err, store.ErrJobPermanent):
		log.Warn("job failed for good", "err", err)
	case j.Attempt >= j.MaxAttempts:
		log.Warn("job failed its last attempt", "err", err)
	default:
		delay := r.cfg.RetryDelay(j.Attempt)
		log.Info("job failed; tried again later", "err", err, "retry_in", delay)
		j.runAt = time.Now().Add(delay)
		r.q.push(j)
	}
}

func (r *runner) attempt(ctx context.Context, j *memJob) (err error) {
	h := r.handler(j.Kind)
	if h == nil {
		return fmt.Errorf("memory: no handler for job kind %q", j.Kind)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("memory: job handler panicked: %v", p)
		}
	}()
	job := j.Job
	job.Args = slices.Clone(j.Args)
	return h(ctx, &job)
}
