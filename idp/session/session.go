// Package session keeps citizens' single sign-on sessions: the cookie that
// names one, its record in the ephemeral store, an index per account (so
// that a citizen can list their sessions and end them) and the clients each
// session signed in to (what back-channel logout tells).
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// CookieName is the base name of the session cookie (see web.Cookies).
const CookieName = "idp_session"

// Store is what sessions are kept in: entries for the records, sets for the
// indexes.
type Store interface {
	store.Entries
	store.Sets
}

// Session is one SSO session. It is stored as JSON under "sso:" and the hex
// SHA-256 of its cookie, so that a copy of the store holds no live cookie.
type Session struct {
	ID        string    `json:"sid"` // public id: the ID token's sid
	AccountID string    `json:"account_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// UserAgent is the browser's User-Agent at login (at most 256 bytes)
	// and Place its network, approximately (an IPv4 /24 or an IPv6 /48),
	// for the citizen's list of sessions: never the full address.
	UserAgent string `json:"ua,omitempty"`
	Place     string `json:"place,omitempty"`
	// LastUsed is when the session was last seen in use, to within
	// TouchEvery (List fills it; the record does not hold it).
	LastUsed time.Time `json:"-"`

	ref string // the record's key suffix: hex SHA-256 of the cookie
}

// Manager starts, finds, lists and ends sessions. It is safe for concurrent
// use.
type Manager struct {
	store    Store
	cookies  web.Cookies
	lifetime time.Duration
	now      store.Clock
	onEnd    EndHook
	clientIP func(*http.Request) netip.Addr

	touchMu sync.Mutex
	touched map[string]time.Time // sid → when this process last wrote its use
}

// TouchEvery is how often a session's last use is written: at most once
// per interval by each process, whatever the number of requests (so the
// security page's "last use" is exact to within it, at the cost of a
// write per session and interval, and no read on the way).
const TouchEvery = 5 * time.Minute

// maxTouched bounds the sessions a process remembers writing the use of;
// past it the memory is cleared (sessions in use are written again once).
const maxTouched = 50_000

// SetClientIP sets how the client's address is read (behind trusted
// proxies); a session records its network, approximately. Call it before
// the Manager is used.
func (m *Manager) SetClientIP(f func(*http.Request) netip.Addr) { m.clientIP = f }

// Place is the approximate network of an address, what a session records
// and the pages show: its /24 (IPv4) or /48 (IPv6), or "".
func Place(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	bits := 48
	if a.Unmap().Is4() {
		a, bits = a.Unmap(), 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// EndHook is told of a session that ended, with the clients it signed the
// citizen in to (read before its records went; none when it signed in to
// none, or when they could not be read). It runs on the request that ended
// the session, so it must be quick: the provider revokes the session's
// grants and enqueues a back-channel logout job per client.
type EndHook func(ctx context.Context, s *Session, clients []string)

// OnEnd sets the hook told of every session that ends: logout (End), a new
// login in the same browser (Start ends the previous session) and EndByID
// (the security page, an operator, account deletion). A session that merely
// expires is not told. Call it before the Manager is used.
func (m *Manager) OnEnd(h EndHook) { m.onEnd = h }

// New returns a Manager whose sessions last lifetime (not extended by use).
func New(st Store, cookies web.Cookies, lifetime time.Duration, now store.Clock) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{store: st, cookies: cookies, lifetime: lifetime, now: now, touched: map[string]time.Time{}}
}

// maxCookie bounds a cookie value worth looking up.
const maxCookie = 64

func recordKey(ref string) string        { return "sso:" + ref }
func accountKey(accountID string) string { return "account-sessions:" + accountID }
func clientsKey(sid string) string       { return "session-clients:" + sid }
func usedKey(sid string) string          { return "session-used:" + sid }
func refOf(cookie string) string         { h := sha256.Sum256([]byte(cookie)); return hex.EncodeToString(h[:]) }
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
func (m *Manager) cookie(r *http.Request) string { return m.cookies.Get(r, CookieName) }

// HasCookie reports whether the request carries a session cookie at all
// (a cross-site POST does not: the cookie is SameSite=Lax).
func (m *Manager) HasCookie(r *http.Request) bool { return m.cookie(r) != "" }

// Current returns the browser's live session, or nil when it has none,
// and records its use (see TouchEvery).
func (m *Manager) Current(r *http.Request) (*Session, error) {
	c := m.cookie(r)
	if c == "" || len(c) > maxCookie {
		return nil, nil
	}
	s, err := m.load(r.Context(), refOf(c))
	if s != nil {
		m.touch(r.Context(), s)
	}
	return s, err
}

// touch records that s is in use now, unless this process did so less
// than TouchEvery ago. The use is an entry of its own beside the record,
// written blind: rewriting the record could undo a concurrent Raise. A
// failed write only leaves the last use older than it is.
func (m *Manager) touch(ctx context.Context, s *Session) {
	now := m.now().UTC()
	if !m.remember(s.ID, now) {
		return
	}
	ttl := s.ExpiresAt.Sub(now)
	if ttl <= 0 {
		return
	}
	_ = m.store.PutEntry(ctx, usedKey(s.ID), []byte(strconv.FormatInt(now.Unix(), 10)), ttl)
}

// remember notes that the use of session sid is written at now, and
// reports whether it is due (not written by this process within
// TouchEvery).
func (m *Manager) remember(sid string, now time.Time) bool {
	m.touchMu.Lock()
	defer m.touchMu.Unlock()
	if last, ok := m.touched[sid]; ok && now.Sub(last) < TouchEvery && !now.Before(last) {
		return false
	}
	if len(m.touched) >= maxTouched {
		clear(m.touched)
	}
	m.touched[sid] = now
	return true
}

// lastUsed reads when the session was last used: the use written by any
// process, else its authentication.
func (m *Manager) lastUsed(ctx context.Context, s *Session) (time.Time, error) {
	b, err := m.store.GetEntry(ctx, usedKey(s.ID))
	if errors.Is(err, store.ErrNotFound) {
		return s.AuthTime, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return s.AuthTime, nil
	}
	if t := time.Unix(sec, 0).UTC(); t.After(s.AuthTime) {
		return t, nil
	}
	return s.AuthTime, nil
}

func (m *Manager) load(ctx context.Context, ref string) (*Session, error) {
	b, err := m.store.GetEntry(ctx, recordKey(ref))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, nil // not a session this version can read: none
	}
	s.ref = ref
	return &s, nil
}

// Start starts a session for the account with a new cookie (a new value at
// every login, so that a cookie fixed before the login is worthless), and
// ends the browser's previous one.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, accountID string, amr []string) (*Session, error) {
	ctx := r.Context()
	if _, err := m.End(w, r); err != nil {
		return nil, err
	}
	now := m.now().UTC()
	s := &Session{
		ID: randomString(24), AccountID: accountID, AuthTime: now, AMR: amr,
		CreatedAt: now, ExpiresAt: now.Add(m.lifetime),
		UserAgent: truncate(r.UserAgent(), 256),
	}
	if m.clientIP != nil {
		s.Place = Place(m.clientIP(r))
	}
	cookie := randomString(24)
	s.ref = refOf(cookie)
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if err := m.store.PutEntry(ctx, recordKey(s.ref), b, m.lifetime); err != nil {
		return nil, err
	}
	if err := m.store.AddToSet(ctx, accountKey(accountID), s.ref, s.ExpiresAt); err != nil {
		return nil, err
	}
	m.cookies.Set(w, CookieName, cookie, int(m.lifetime.Seconds()))
	m.remember(s.ID, now) // its auth time is its last use
	return s, nil
}

// End ends the browser's session, if its request carried a cookie: the
// record, its place in the account's index and the cookie go. It returns
// the session that ended (nil when there was none). A request without the
// cookie changes nothing, not even the cookie.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) (*Session, error) {
	c := m.cookie(r)
	if c == "" {
		return nil, nil
	}
	m.cookies.Delete(w, CookieName)
	if len(c) > maxCookie {
		return nil, nil
	}
	s, err := m.load(r.Context(), refOf(c))
	if err != nil || s == nil {
		return nil, err
	}
	return s, m.remove(r.Context(), s)
}

// remove deletes the session's records and tells the end hook. The
// clients are read first: once the record is gone nothing names them. A
// failure to read them does not keep the session alive; it is returned
// after the session ended.
func (m *Manager) remove(ctx context.Context, s *Session) error {
	clients, cerr := m.Clients(ctx, s.ID)
	if cerr != nil {
		cerr = fmt.Errorf("session: read the clients of an ended session: %w", cerr)
	}
	if err := m.store.DeleteEntry(ctx, recordKey(s.ref)); err != nil {
		return err
	}
	// The last use expires with the session; its deletion is tidiness.
	_ = m.store.DeleteEntry(ctx, usedKey(s.ID))
	if err := m.store.RemoveFromSet(ctx, accountKey(s.AccountID), s.ref); err != nil {
		return err
	}
	for _, c := range clients {
		if err := m.store.RemoveFromSet(ctx, clientsKey(s.ID), c); err != nil {
			return err
		}
	}
	// Told even without clients: a session may hold grants whose client
	// was not recorded (AddClient failed), and they must end with it.
	if m.onEnd != nil {
		m.onEnd(ctx, s, clients)
	}
	return cerr
}

// List returns the account's live sessions, oldest first.
func (m *Manager) List(ctx context.Context, accountID string) ([]*Session, error) {
	refs, err := m.store.SetMembers(ctx, accountKey(accountID))
	if err != nil {
		return nil, err
	}
	var out []*Session
	for _, ref := range refs {
		s, err := m.load(ctx, ref)
		if err != nil {
			return nil, err
		}
		if s == nil || s.AccountID != accountID {
			// Ended or expired meanwhile: tidy the index.
			if err := m.store.RemoveFromSet(ctx, accountKey(accountID), ref); err != nil {
				return nil, err
			}
			continue
		}
		if s.LastUsed, err = m.lastUsed(ctx, s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Session) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Raise records a further authentication in the session s (a second
// factor after the password): the methods amr join its methods and its
// auth time becomes now; the session keeps its id, cookie and clients. It
// returns the raised session, or ErrNoSession when s ended meanwhile (it
// is not brought back).
func (m *Manager) Raise(ctx context.Context, s *Session, amr ...string) (*Session, error) {
	now := m.now().UTC()
	ttl := s.ExpiresAt.Sub(now)
	if ttl <= 0 {
		return nil, ErrNoSession
	}
	r := *s
	r.AMR = slices.Clone(s.AMR)
	for _, a := range amr {
		if !slices.Contains(r.AMR, a) {
			r.AMR = append(r.AMR, a)
		}
	}
	r.AuthTime = now
	b, err := json.Marshal(&r)
	if err != nil {
		return nil, err
	}
	if err := m.store.ReplaceEntry(ctx, recordKey(s.ref), b, ttl); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoSession
		}
		return nil, err
	}
	return &r, nil
}

// ErrNoSession: the account has no live session with that id.
var ErrNoSession = errors.New("session: no such session")

// EndByID ends one of the account's sessions by its public id (the security
// page's "end this session"); the browser that holds it is logged out at
// its next request. It returns the session that ended.
func (m *Manager) EndByID(ctx context.Context, accountID, sid string) (*Session, error) {
	all, err := m.List(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if s.ID == sid {
			return s, m.remove(ctx, s)
		}
	}
	return nil, ErrNoSession
}

// AddClient records that the session sid signed the citizen in to the
// client; the record lasts as long as a session can.
func (m *Manager) AddClient(ctx context.Context, sid, clientID string) error {
	if err := m.store.AddToSet(ctx, clientsKey(sid), clientID, m.now().Add(m.lifetime)); err != nil {
		return fmt.Errorf("session: record client: %w", err)
	}
	return nil
}

// Clients returns the clients the session signed in to, sorted.
func (m *Manager) Clients(ctx context.Context, sid string) ([]string, error) {
	return m.store.SetMembers(ctx, clientsKey(sid))
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
