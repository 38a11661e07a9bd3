package main

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/keys"
)

// rawRates are this machine's rates of the operations that bound the
// server's: signing a typical access token, and one argon2id hash at the
// server's parameters.
type rawRates struct {
	RS256, ES256 float64 // signatures per second
	Argon2       float64 // hashes per second
	Params       config.Argon2
	Parallel     int
}

// measureRaw measures the raw rates in this process, over GOMAXPROCS
// goroutines, for d each.
func measureRaw(ctx context.Context, d time.Duration, p config.Argon2) (rawRates, error) {
	r := rawRates{Params: p, Parallel: runtime.GOMAXPROCS(0)}
	var err error
	if r.RS256, err = keys.RawSignRate(keys.RS256, d, r.Parallel); err != nil {
		return r, err
	}
	if r.ES256, err = keys.RawSignRate(keys.ES256, d, r.Parallel); err != nil {
		return r, err
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	r.Argon2 = rawArgon2Rate(p, d, r.Parallel)
	return r, nil
}

// rawArgon2Rate measures argon2id hashes per second with the parameters,
// from parallel goroutines for about d: what a login costs the server at
// best.
func rawArgon2Rate(p config.Argon2, d time.Duration, parallel int) float64 {
	// The server hashes with password.DefaultParams() but for these three.
	def := password.DefaultParams()
	salt := make([]byte, def.SaltLen)
	rand.Read(salt)
	password := []byte("correct horse battery staple")
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range max(parallel, 1) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, def.KeyLen)
				total.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// errNoRate: a raw rate came out as zero, so no ratio can be formed.
var errNoRate = errors.New("a raw rate measured zero")

func (r rawRates) check() error {
	if r.RS256 <= 0 || r.ES256 <= 0 || r.Argon2 <= 0 {
		return errNoRate
	}
	return nil
}

// max returns the higher of each rate.
func (r rawRates) max(o rawRates) rawRates {
	r.RS256 = max(r.RS256, o.RS256)
	r.ES256 = max(r.ES256, o.ES256)
	r.Argon2 = max(r.Argon2, o.Argon2)
	return r
}
