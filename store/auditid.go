package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"
)

// auditSeq orders the IDs this process makes within one microsecond.
var auditSeq atomic.Uint32

// NewAuditID returns an audit event ID for an event at t: 32 lower-case hex
// digits, the microseconds since the Unix epoch (16), a per-process sequence
// (8) and random bits (8). IDs compare as strings in the order of their
// times, and of their making within one process.
func NewAuditID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%016x%08x%s", uint64(t.UnixMicro()), auditSeq.Add(1), hex.EncodeToString(r[:]))
}
