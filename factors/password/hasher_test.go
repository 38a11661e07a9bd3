package password

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testParams are cheap so that tests run fast; production uses DefaultParams.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 8}

func newHasher(t *testing.T, p Params, n int, wait time.Duration) *Hasher {
	t.Helper()
	h, err := New(p, n, wait)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	want := Params{Memory: 19456, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
	if p != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", p, want)
	}
	if err := p.validate(); err != nil {
		t.Fatalf("default params invalid: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
		n    int
	}{
		{"zero params", Params{}, 1},
		{"zero time", Params{Memory: 64, Time: 0, Threads: 1, KeyLen: 16, SaltLen: 8}, 1},
		{"zero threads", Params{Memory: 64, Time: 1, Threads: 0, KeyLen: 16, SaltLen: 8}, 1},
		{"memory below 8 per lane", Params{Memory: 15, Time: 1, Threads: 2, KeyLen: 16, SaltLen: 8}, 1},
		{"short key", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 8, SaltLen: 8}, 1},
		{"short salt", Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 4}, 1},
		{"no concurrency", testParams, 0},
	} {
		if _, err := New(tc.p, tc.n, time.Second); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := newHasher(t, testParams, 2, time.Second)
	ctx := context.Background()
	for _, pw := range []string{"correct horse battery staple", "пароль-Пароль-123", "12345678", strings.Repeat("x", 256)} {
		phc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("PHC %q has the wrong prefix", phc)
		}
		if strings.Contains(phc, pw) {
			t.Errorf("PHC contains the password")
		}
		parts := strings.Split(phc, "$")
		salt, err := base64.RawStdEncoding.DecodeString(parts[4])
		if err != nil || len(salt) != 8 {
			t.Errorf("salt %q: %d bytes, %v", parts[4], len(salt), err)
		}
		key, err := base64.RawStdEncoding.DecodeString(parts[5])
		if err != nil || len(key) != 16 {
			t.Errorf("hash %q: %d bytes, %v", parts[5], len(key), err)
		}
		ok, err := h.Verify(ctx, pw, phc)
		if err != nil || !ok {
			t.Errorf("Verify(right password) = %v, %v", ok, err)
		}
		ok, err = h.Verify(ctx, pw+"x", phc)
		if err != nil || ok {
			t.Errorf("Verify(wrong password) = %v, %v", ok, err)
		}
		if h.NeedsRehash(phc) {
			t.Errorf("NeedsRehash of a fresh hash")
		}
	}
	a, _ := h.Hash(ctx, "same password")
	b, _ := h.Hash(ctx, "same password")
	if a == b {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestWrongPassword(t *testing.T) {
	h := newHasher(t, testParams, 1, time.Second)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "Secret-password-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "secret-password-1", "Secret-password-", "Secret-password-1 ", "Secret-password-2"} {
		if ok, err := h.Verify(ctx, pw, phc); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
}

// TestKnownVector verifies a PHC string built by hand from the argon2id test
// vector of golang.org/x/crypto/argon2 (password "password", salt "somesalt",
// m=64, t=1, p=1, 24-byte hash): parameters other than the Hasher's are read
// from the string.
func TestKnownVector(t *testing.T) {
	want, _ := hex.DecodeString("655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb")
	phc := "$argon2id$v=19$m=64,t=1,p=1$" +
		base64.RawStdEncoding.EncodeToString([]byte("somesalt")) + "$" +
		base64.RawStdEncoding.EncodeToString(want)
	h := newHasher(t, Params{Memory: 128, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}, 1, time.Second)
	ok, err := h.Verify(context.Background(), "password", phc)
	if err != nil || !ok {
		t.Fatalf("Verify(known vector) = %v, %v", ok, err)
	}
	if ok, _ := h.Verify(context.Background(), "Password", phc); ok {
		t.Fatal("Verify(known vector, wrong password) = true")
	}
	if !h.NeedsRehash(phc) {
		t.Fatal("NeedsRehash(other params) = false")
	}
}

func TestOtherParamsVerify(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, Params{Memory: 32, Time: 1, Threads: 2, KeyLen: 16, SaltLen: 8}, 1, time.Second)
	phc, err := old.Hash(ctx, "my old password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(phc, "$m=32,t=1,p=2$") {
		t.Fatalf("PHC %q does not carry the old params", phc)
	}
	cur := newHasher(t, Params{Memory: 128, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}, 1, time.Second)
	if ok, err := cur.Verify(ctx, "my old password", phc); err != nil || !ok {
		t.Fatalf("Verify(old params) = %v, %v", ok, err)
	}
	if !cur.NeedsRehash(phc) {
		t.Error("NeedsRehash(old params) = false")
	}
	// Each parameter counts, including the lengths of salt and hash.
	base := Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 8}
	for _, p := range []Params{
		{Memory: 72, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 8},
		{Memory: 64, Time: 2, Threads: 1, KeyLen: 16, SaltLen: 8},
		{Memory: 64, Time: 1, Threads: 2, KeyLen: 16, SaltLen: 8},
		{Memory: 64, Time: 1, Threads: 1, KeyLen: 24, SaltLen: 8},
		{Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 12},
	} {
		phc, err := newHasher(t, p, 1, time.Second).Hash(ctx, "pw")
		if err != nil {
			t.Fatal(err)
		}
		if !newHasher(t, base, 1, time.Second).NeedsRehash(phc) {
			t.Errorf("NeedsRehash(%+v under %+v) = false", p, base)
		}
	}
}

func TestMalformedPHC(t *testing.T) {
	h := newHasher(t, testParams, 1, time.Second)
	ctx := context.Background()
	good, err := h.Hash(ctx, "password")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, hash := parts[4], parts[5]
	join := func(p ...string) string { return strings.Join(p, "$") }
	for _, tc := range []struct{ name, phc string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", join("", "argon2i", "v=19", "m=64,t=1,p=1", salt, hash)},
		{"old version", join("", "argon2id", "v=16", "m=64,t=1,p=1", salt, hash)},
		{"no version", join("", "argon2id", "m=64,t=1,p=1", salt, hash)},
		{"missing leading $", join("argon2id", "v=19", "m=64,t=1,p=1", salt, hash)},
		{"extra field", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, hash, "x")},
		{"params out of order", join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, hash)},
		{"missing param", join("", "argon2id", "v=19", "m=64,t=1", salt, hash)},
		{"extra param", join("", "argon2id", "v=19", "m=64,t=1,p=1,k=2", salt, hash)},
		{"non-numeric", join("", "argon2id", "v=19", "m=abc,t=1,p=1", salt, hash)},
		{"signed", join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, hash)},
		{"leading zero", join("", "argon2id", "v=19", "m=064,t=1,p=1", salt, hash)},
		{"zero time", join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, hash)},
		{"zero threads", join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, hash)},
		{"threads overflow", join("", "argon2id", "v=19", "m=64,t=1,p=256", salt, hash)},
		{"memory overflow", join("", "argon2id", "v=19", "m=4294967296,t=1,p=1", salt, hash)},
		{"huge memory", join("", "argon2id", "v=19", "m=4294967295,t=1,p=1", salt, hash)},
		{"huge time", join("", "argon2id", "v=19", "m=64,t=100000,p=1", salt, hash)},
		{"padded salt", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt+"=", hash)},
		{"line break in salt", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt[:4]+"\r\n"+salt[4:], hash)},
		{"line break in hash", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, hash[:4]+"\n"+hash[4:])},
		{"bad salt", join("", "argon2id", "v=19", "m=64,t=1,p=1", "!!!!", hash)},
		{"short salt", join("", "argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", hash)},
		{"bad hash", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "*")},
		{"short hash", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "AAAA")},
		{"empty hash", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, "password", tc.phc)
			if ok || !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify = %v, %v; want false, ErrMalformed", ok, err)
			}
			if tc.phc != "" && err != nil && strings.Contains(err.Error(), tc.phc) {
				t.Errorf("error %q quotes the stored hash", err)
			}
			if !h.NeedsRehash(tc.phc) {
				t.Error("NeedsRehash(malformed) = false")
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newHasher(t, testParams, 1, time.Second)
	if h.dummy == nil || h.dummy.params != testParams {
		t.Fatalf("dummy hash not made with the current params: %+v", h.dummy)
	}
	for _, pw := range []string{"", "password", "anything at all"} {
		ok, err := h.VerifyDummy(context.Background(), pw)
		if ok || err != nil {
			t.Errorf("VerifyDummy(%q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	// It takes a slot like a real verification, so it is bounded the same way.
	h.sem <- struct{}{}
	defer h.release()
	if _, err := h.VerifyDummy(context.Background(), "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("VerifyDummy when saturated: %v, want ErrBusy", err)
	}
}

func TestBusyWhenSaturated(t *testing.T) {
	const wait = 100 * time.Millisecond
	h := newHasher(t, testParams, 2, wait)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "password")
	if err != nil {
		t.Fatal(err)
	}
	// Take every slot, as two long hashes in flight would.
	h.sem <- struct{}{}
	h.sem <- struct{}{}

	start := time.Now()
	_, err = h.Hash(ctx, "password")
	elapsed := time.Since(start)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash when saturated: %v, want ErrBusy", err)
	}
	if elapsed < wait {
		t.Errorf("ErrBusy after %v, before the queue wait of %v", elapsed, wait)
	}
	if elapsed > wait+2*time.Second {
		t.Errorf("ErrBusy after %v, long after the queue wait of %v", elapsed, wait)
	}
	if ok, err := h.Verify(ctx, "password", phc); ok || !errors.Is(err, ErrBusy) {
		t.Errorf("Verify when saturated = %v, %v; want false, ErrBusy", ok, err)
	}

	// A context that ends first also gives ErrBusy, wrapping the context error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	h2 := newHasher(t, testParams, 1, time.Hour)
	h2.sem <- struct{}{}
	start = time.Now()
	_, err = h2.Hash(cctx, "password")
	if !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context: %v, want ErrBusy and context.Canceled", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("a cancelled context did not end the wait")
	}

	// A slot freed within the wait is taken: the slot is freed only once
	// Verify is seen waiting for it.
	h4 := newHasher(t, testParams, 1, time.Minute)
	h4.sem <- struct{}{}
	released := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for h4.waiting.Load() == 0 {
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		waited := h4.waiting.Load() == 1
		h4.release()
		released <- waited
	}()
	if ok, err := h4.Verify(ctx, "password", phc); err != nil || !ok {
		t.Errorf("Verify after a slot was freed = %v, %v", ok, err)
	}
	if !<-released {
		t.Error("Verify was not seen waiting for the slot within 30 s")
	}
}

func TestCancelledContextIsNotHashed(t *testing.T) {
	h := newHasher(t, testParams, 4, time.Second)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(cctx, "password"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context and free slots: %v", err)
	}
}

func TestNoWaitFailsAtOnce(t *testing.T) {
	h := newHasher(t, testParams, 1, 0)
	h.sem <- struct{}{}
	if _, err := h.Hash(context.Background(), "password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with no queue wait when saturated: %v, want ErrBusy", err)
	}
	h.release()
	if _, err := h.Hash(context.Background(), "password"); err != nil {
		t.Fatalf("Hash with a free slot: %v", err)
	}
}

func TestConcurrentHashesReleaseSlots(t *testing.T) {
	h := newHasher(t, testParams, 2, 10*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			phc, err := h.Hash(context.Background(), "pw")
			if err == nil {
				var ok bool
				ok, err = h.Verify(context.Background(), "pw", phc)
				if err == nil && !ok {
					err = errors.New("Verify = false")
				}
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	shed := 0
	for err := range errs {
		if errors.Is(err, ErrBusy) {
			shed++ // the bounded queue refuses the excess
			continue
		}
		t.Error(err)
	}
	if shed == 16 {
		t.Error("every caller was refused")
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("%d slots still taken after every hash returned", n)
	}
}

func BenchmarkHash(b *testing.B) {
	h, err := New(DefaultParams(), 1, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQueueIsBounded: once queuePerSlot callers per slot wait, the next is
// refused at once instead of queueing (a flood is shed).
func TestQueueIsBounded(t *testing.T) {
	h := newHasher(t, testParams, 1, time.Hour)
	ctx := context.Background()
	h.sem <- struct{}{} // the only slot is busy
	waiter := make(chan error, queuePerSlot)
	for range queuePerSlot {
		go func() {
			_, err := h.Hash(ctx, "password")
			waiter <- err
		}()
	}
	for h.waiting.Load() != queuePerSlot {
		runtime.Gosched()
	}
	// With an hour of queue wait, only the bound can make this return.
	if _, err := h.Hash(ctx, "password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with a full queue: %v, want ErrBusy", err)
	}
	h.release()
	for range queuePerSlot {
		if err := <-waiter; err != nil {
			t.Errorf("a queued caller: %v", err)
		}
	}
	if n := h.waiting.Load(); n != 0 {
		t.Errorf("waiting = %d after the queue drained", n)
	}
}
