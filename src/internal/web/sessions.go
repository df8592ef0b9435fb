package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"
)

// tokenBytes is the size of a link token and of a session cookie: 144
// random bits, 24 characters in the URL.
const tokenBytes = 18

// sessionTTL is how long a phone may use the page after opening the link:
// long enough to find the device and wait for it, short enough that a phone
// left lying around does not keep access.
const sessionTTL = 30 * time.Minute

// keepGone is how long a used, expired or revoked link is remembered, so
// that opening it again says why it no longer works.
const keepGone = time.Hour

// maxSessions bounds the store; the oldest go first.
const maxSessions = 64

type linkState int

const (
	linkFresh linkState = iota
	linkUsed
	linkRevoked
)

type session struct {
	id        string
	tokenHash [32]byte
	created   time.Time
	expires   time.Time // of the link
	state     linkState

	// Set when the link is opened.
	cookieHash  [32]byte
	csrf        string
	sessExpires time.Time
	onboards    map[string]bool
	posts       bucket
}

// store holds the phone sessions. Tokens and cookies are kept only as
// hashes, looked up by hash.
type store struct {
	mu       sync.Mutex
	now      func() time.Time
	byID     map[string]*session
	byToken  map[[32]byte]*session
	byCookie map[[32]byte]*session
}

func newStore(now func() time.Time) *store {
	return &store{now: now, byID: map[string]*session{}, byToken: map[[32]byte]*session{}, byCookie: map[[32]byte]*session{}}
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on Linux ≥ 3.17; a router without
		// randomness must not hand out guessable links.
		panic("web: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("web: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func hash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// shortHash names a token in logs without revealing it.
func shortHash(h [32]byte) string { return hex.EncodeToString(h[:4]) }

// mint creates a session and returns it with its token, the one time the
// token exists in clear.
func (s *store) mint(ttl time.Duration) (*session, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	now := s.now()
	token := random(tokenBytes)
	se := &session{id: "ph-" + randomHex(6), tokenHash: hash(token), created: now, expires: now.Add(ttl)}
	s.byID[se.id] = se
	s.byToken[se.tokenHash] = se
	return se, token
}

// openResult is what opening a link gave.
type openResult int

const (
	openOK openResult = iota
	openUnknown
	openExpired
	openUsed
	openUsedHere // used by this very browser, whose session is still valid
	openRevoked
)

// open consumes a link: the first caller gets a session cookie; cookie is
// the caller's current one, if any, to tell its own reuse apart.
func (s *store) open(token, cookie string) (*session, string, openResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	se, res := s.state(token, cookie)
	if res != openOK {
		return se, "", res
	}
	now := s.now()
	c := random(tokenBytes + 14)
	se.state = linkUsed
	se.cookieHash = hash(c)
	se.csrf = random(tokenBytes)
	se.sessExpires = now.Add(sessionTTL)
	se.onboards = map[string]bool{}
	se.posts = bucket{burst: postBurst, every: postEvery}
	s.byCookie[se.cookieHash] = se
	return se, c, openOK
}

// peek is what opening the link would give, without opening it: link
// previewers send HEAD, and only the browser that gets the page may use
// the link up.
func (s *store) peek(token, cookie string) openResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, res := s.state(token, cookie)
	return res
}

// state says what a link is worth now; s.mu is held.
func (s *store) state(token, cookie string) (*session, openResult) {
	now := s.now()
	se, ok := s.byToken[hash(token)]
	switch {
	case !ok:
		return nil, openUnknown
	case se.state == linkRevoked:
		return se, openRevoked
	case se.state == linkUsed:
		if cookie != "" && subtle.ConstantTimeCompare(hashSlice(cookie), se.cookieHash[:]) == 1 && now.Before(se.sessExpires) {
			return se, openUsedHere
		}
		return se, openUsed
	case !now.Before(se.expires):
		return se, openExpired
	}
	return se, openOK
}

func hashSlice(s string) []byte { h := hash(s); return h[:] }

// sessionState is what a cookie is worth.
type sessionState int

const (
	sessNone sessionState = iota
	sessValid
	sessExpired
	sessRevoked
)

// lookup returns the session a cookie belongs to.
func (s *store) lookup(cookie string) (*session, sessionState) {
	if cookie == "" {
		return nil, sessNone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byCookie[hash(cookie)]
	switch {
	case !ok:
		return nil, sessNone
	case se.state == linkRevoked:
		return nil, sessRevoked
	case !s.now().Before(se.sessExpires):
		return nil, sessExpired
	}
	return se, sessValid
}

// revoke ends a session by its id; it reports whether it existed.
func (s *store) revoke(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byID[id]
	if ok {
		se.state = linkRevoked
		se.csrf = ""
	}
	return ok
}

// withSession runs fn with the store locked, for a session's mutable parts.
func (s *store) withSession(fn func(now time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.now())
}

// purge forgets sessions long gone and, over the bound, the oldest.
func (s *store) purge() {
	now := s.now()
	for id, se := range s.byID {
		end := se.expires
		if se.sessExpires.After(end) {
			end = se.sessExpires
		}
		if now.Sub(end) > keepGone {
			s.drop(id, se)
		}
	}
	for len(s.byID) >= maxSessions {
		var oldest *session
		for _, se := range s.byID {
			if oldest == nil || se.created.Before(oldest.created) {
				oldest = se
			}
		}
		s.drop(oldest.id, oldest)
	}
}

func (s *store) drop(id string, se *session) {
	delete(s.byID, id)
	delete(s.byToken, se.tokenHash)
	if se.state != linkFresh {
		delete(s.byCookie, se.cookieHash)
	}
}

// bucket is a token bucket: burst requests at once, then one per every.
// The zero time means full.
type bucket struct {
	burst  int
	every  time.Duration
	tokens float64
	at     time.Time
}

func (b *bucket) refill(now time.Time) {
	if b.at.IsZero() {
		b.tokens, b.at = float64(b.burst), now
	}
	b.tokens += float64(now.Sub(b.at)) / float64(b.every)
	if b.tokens > float64(b.burst) {
		b.tokens = float64(b.burst)
	}
	b.at = now
}

func (b *bucket) allow(now time.Time) (bool, time.Duration) {
	b.refill(now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(b.every))
	}
	b.tokens--
	return true, 0
}

// Rates. Every request from one address draws on its bucket; links that do
// not work draw on a much smaller one, so guessing is slow on top of
// hopeless; a session may start a few onboardings, not a flood.
const (
	ipBurst   = 60
	ipEvery   = 500 * time.Millisecond
	badBurst  = 10
	badEvery  = 30 * time.Second
	postBurst = 6
	postEvery = 20 * time.Second
	maxIPs    = 1024
)

// limiter keeps one bucket per client (clientKey: an IPv4 address or an
// IPv6 /64) and kind, for maxIPs clients at most.
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	burst   int
	every   time.Duration
	buckets map[string]*bucket
}

func newLimiter(now func() time.Time, burst int, every time.Duration) *limiter {
	return &limiter{now: now, burst: burst, every: every, buckets: map[string]*bucket{}}
}

func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxIPs {
			l.makeRoom(now)
		}
		b = &bucket{burst: l.burst, every: l.every}
		l.buckets[key] = b
	}
	return b.allow(now)
}

// makeRoom forgets full buckets, which carry no information, or else the
// fullest one, which carries the least: a new client's first try never
// waits for strangers' entries to drain (1100 addresses must not lock a
// new phone out). A client forgotten so starts again with a full bucket,
// as a new one does.
func (l *limiter) makeRoom(now time.Time) {
	var fullest string
	most := -1.0
	for k, b := range l.buckets {
		b.refill(now)
		if b.tokens >= float64(b.burst) {
			delete(l.buckets, k)
			continue
		}
		if b.tokens > most {
			fullest, most = k, b.tokens
		}
	}
	if len(l.buckets) >= maxIPs {
		delete(l.buckets, fullest)
	}
}
