package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nipa-gpu/gpumeter/config"
)

// SessionCookie carries a session that POST /login began.
const SessionCookie = "gpumeter_session"

// sessionLife is how long a session lasts after its login.
const sessionLife = 12 * time.Hour

// principals knows who may call: the configured principals by the SHA-256 of
// their tokens, and the sessions begun by logging in.
type principals struct {
	list []config.Principal
	sums [][]byte // list[i]'s token_sha256, decoded

	mu       sync.Mutex
	sessions map[string]session
	now      func() time.Time
}

type session struct {
	p       config.Principal
	expires time.Time
}

func newPrincipals(list []config.Principal) *principals {
	ps := &principals{list: list, sessions: map[string]session{}, now: time.Now}
	for _, p := range list {
		sum, _ := hex.DecodeString(p.TokenSHA256) // config.Validate checked the form
		ps.sums = append(ps.sums, sum)
	}
	return ps
}

// byToken finds the principal a token belongs to. Every stored hash is
// compared, in constant time, whatever matches first.
func (ps *principals) byToken(token string) (config.Principal, bool) {
	if token == "" {
		return config.Principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, s := range ps.sums {
		if subtle.ConstantTimeCompare(sum[:], s) == 1 {
			found = i
		}
	}
	if found < 0 {
		return config.Principal{}, false
	}
	return ps.list[found], true
}

// fromRequest finds the caller: a bearer token, else a live session.
func (ps *principals) fromRequest(r *http.Request) (config.Principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return config.Principal{}, false
		}
		return ps.byToken(strings.TrimSpace(token))
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return config.Principal{}, false
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s, ok := ps.sessions[c.Value]
	if !ok || !ps.now().Before(s.expires) {
		delete(ps.sessions, c.Value)
		return config.Principal{}, false
	}
	return s.p, true
}

// begin starts a session for p and returns its id.
func (ps *principals) begin(p config.Principal) string {
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.now()
	for k, s := range ps.sessions { // the expired ones go as new ones come
		if !now.Before(s.expires) {
			delete(ps.sessions, k)
		}
	}
	ps.sessions[id] = session{p: p, expires: now.Add(sessionLife)}
	return id
}

// end ends a session.
func (ps *principals) end(id string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.sessions, id)
}

// NewToken makes a token with 32 random bytes and the hash to configure.
func NewToken() (token, sha string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = "gpm_" + hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}
