package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/redact"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

//go:embed openapi.json
var openAPI []byte

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Who may call what (SPEC §8).
var (
	readers    = []string{config.RoleNIPA, config.RoleProvider}
	flagRoles  = []string{config.RoleNIPA, config.RoleProvider, config.RolePortal}
	everyone   = []string{config.RoleNIPA, config.RoleProvider, config.RolePortal, config.RoleIngest}
	ackRoles   = []string{config.RoleNIPA, config.RolePortal}
	nipaOnly   = []string{config.RoleNIPA}
	ingestOnly = []string{config.RoleIngest}
	retryAfter = 5 * time.Second
)

// api answers the reads of SPEC §8.1 from ledgers built in the background,
// and takes the portal's acknowledgements.
type api struct {
	Store   store.Store
	Config  config.Config
	Log     *zap.Logger
	version string
	months  *months
	ackMu   sync.Mutex // one acknowledgement at a time, so that a repeat is seen as one
}

// apiError is an answer that is not the thing asked for: a status and a
// short message that carries nothing of the server's insides.
type apiError struct {
	status int
	msg    string
}

func (e apiError) Error() string { return e.msg }

// with lets the principals of roles call h: no or an unknown principal is
// 401, a known one of another role 403. h's apiError becomes its status,
// any other error a 500 that says no more.
func (s *gate) with(roles []string, h func(http.ResponseWriter, *http.Request, config.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.principals.fromRequest(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gpumeter"`)
			writeError(w, apiError{http.StatusUnauthorized, "a token is needed: Authorization: Bearer TOKEN, or log in"})
			return
		}
		setPrincipal(r, p)
		if !slices.Contains(roles, p.Role) {
			writeError(w, apiError{http.StatusForbidden, "role " + p.Role + " may not see this"})
			return
		}
		if err := h(w, r, p); err != nil {
			var ae apiError
			if !errors.As(err, &ae) {
				s.Log.Error("request failed", zap.String("path", r.URL.Path), zap.String("principal", p.Name),
					zap.String("error", redact.Secrets(err.Error())))
				ae = apiError{http.StatusInternalServerError, "internal error"}
			}
			writeError(w, ae)
		}
	})
}

func writeError(w http.ResponseWriter, e apiError) {
	if e.status == http.StatusAccepted { // not built yet: say when to ask again
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"error": e.msg})
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// scope is the provider a caller's answer covers: a provider principal its
// own (asking for another is 403, never a filtered answer), the others every
// provider or the one ?provider= names.
func (s *api) scope(r *http.Request, p config.Principal) (string, error) {
	asked := r.URL.Query().Get("provider")
	if p.Role == config.RoleProvider || p.Role == config.RoleIngest {
		if asked != "" && asked != p.Provider {
			return "", apiError{http.StatusForbidden, "principal " + p.Name + " sees provider " + p.Provider + " only"}
		}
		return p.Provider, nil
	}
	if _, ok := s.Config.Providers[asked]; asked != "" && !ok {
		return "", apiError{http.StatusBadRequest, fmt.Sprintf("provider %q is not configured", asked)}
	}
	return asked, nil
}

// ledger is the ledger of a month, which must have begun, in the caller's
// scope; or an apiError: 400 for a malformed month, 202 while the month is
// first built.
func (s *api) ledger(r *http.Request, p config.Principal, month string) (*ledger.Ledger, string, error) {
	if !monthPattern.MatchString(month) {
		return nil, "", apiError{http.StatusBadRequest, fmt.Sprintf("month %q: want YYYY-MM", month)}
	}
	if _, _, err := ledger.Period(month, s.Config.Location(), time.Now()); err != nil {
		return nil, "", apiError{http.StatusBadRequest, err.Error()}
	}
	provider, err := s.scope(r, p)
	if err != nil {
		return nil, "", err
	}
	l, ready, err := s.months.get(month, provider)
	if err != nil {
		return nil, "", err
	}
	if !ready {
		return nil, "", apiError{http.StatusAccepted, "month " + month + " is being built: ask again shortly"}
	}
	return l, provider, nil
}

func (s *api) report(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	file := r.PathValue("file")
	month, format, _ := strings.Cut(file, ".")
	if format != "json" && format != "xlsx" {
		return apiError{http.StatusNotFound, "reports are YYYY-MM.json and YYYY-MM.xlsx"}
	}
	l, provider, err := s.ledger(r, p, month)
	if err != nil {
		return err
	}
	if format == "json" {
		return writeJSON(w, reports.JSON(l))
	}
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "ko"
	}
	if lang != "ko" && lang != "en" {
		return apiError{http.StatusBadRequest, fmt.Sprintf("lang %q: want ko or en", lang)}
	}
	var buf bytes.Buffer
	if err := reports.WriteWorkbook(&buf, l, reports.WorkbookOptions{Lang: lang, Version: s.version,
		Config: publish.ConfigText(s.Config, provider), Provider: provider}); err != nil {
		return err
	}
	name := "nipa-" + month
	if provider != "" {
		name = provider + "-" + month
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
	_, err = w.Write(buf.Bytes())
	return err
}

// Limit is one provider's usage against its limits, as the API gives it.
type Limit struct {
	Provider   string              `json:"provider"`
	Checks     []LimitCheck        `json:"checks"`
	Violations []reports.Violation `json:"violations"`
}

// LimitCheck is one figure against its limit; limit is null where there is none.
type LimitCheck struct {
	Item   string   `json:"item"`
	Usage  float64  `json:"usage"`
	Limit  *float64 `json:"limit"`
	Status string   `json:"status"` // ok, over, no_cap, or "" for a figure without a limit
}

func (s *api) limits(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	l, _, err := s.ledger(r, p, r.URL.Query().Get("month"))
	if err != nil {
		return err
	}
	rep := reports.JSON(l)
	out := []Limit{}
	for i, lp := range l.Providers {
		lim := Limit{Provider: lp.ID, Checks: []LimitCheck{}, Violations: rep.Providers[i].Violations}
		for _, c := range lp.Checks {
			lc := LimitCheck{Item: string(c.Item), Usage: c.Usage}
			if c.HasLimit {
				v := c.Limit
				lc.Limit, lc.Status = &v, string(c.Status())
			}
			lim.Checks = append(lim.Checks, lc)
		}
		out = append(out, lim)
	}
	return writeJSON(w, out)
}

// Flag is an idle flag as the API gives it: SPEC §6's with its status and
// where it stands with the portal.
type Flag struct {
	gpumeter.IdleFlag
	Status       gpumeter.FlagStatus `json:"status"`
	FlaggedAt    string              `json:"flagged_at"`
	SeenAt       string              `json:"seen_at"`
	ClosedAt     string              `json:"closed_at,omitempty"`
	AckedAt      string              `json:"acked_at,omitempty"`
	AllocationID string              `json:"allocation_id,omitempty"`
	Note         string              `json:"note,omitempty"`
}

func flagView(t gpumeter.TrackedFlag, acks []gpumeter.Ack) Flag {
	f := Flag{IdleFlag: t.IdleFlag, Status: t.Status(acks), FlaggedAt: t.FlaggedAt.Format(time.RFC3339), SeenAt: t.SeenAt.Format(time.RFC3339)}
	if !t.Open() {
		f.ClosedAt = t.ClosedAt.Format(time.RFC3339)
	}
	if len(acks) > 0 {
		last := acks[len(acks)-1]
		f.AckedAt, f.AllocationID, f.Note = last.At.Format(time.RFC3339), last.AllocationID, last.Note
	}
	return f
}

var flagStatuses = []gpumeter.FlagStatus{gpumeter.FlagOpen, gpumeter.FlagReallocated, gpumeter.FlagDeclined, gpumeter.FlagClosed}

// idle lists the flags of the latest hourly evaluation that are not closed,
// or with ?status= those of one status; it reads what the evaluations
// recorded and evaluates nothing.
func (s *api) idle(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	provider, err := s.scope(r, p)
	if err != nil {
		return err
	}
	status := gpumeter.FlagStatus(r.URL.Query().Get("status"))
	if status != "" && !slices.Contains(flagStatuses, status) {
		return apiError{http.StatusBadRequest, fmt.Sprintf("status %q: want open, reallocated, declined or closed", status)}
	}
	flags, err := s.trackedFlags(r, store.FlagFilter{Provider: provider, Open: status != gpumeter.FlagClosed, Closed: status == gpumeter.FlagClosed})
	if err != nil {
		return err
	}
	if status != "" {
		flags = slices.DeleteFunc(flags, func(f Flag) bool { return f.Status != status })
	}
	return writeJSON(w, flags)
}

// trackedFlags reads the recorded flags with their acknowledgements; 202
// until the first evaluation is recorded.
func (s *api) trackedFlags(r *http.Request, f store.FlagFilter) ([]Flag, error) {
	if _, ok, err := store.LastIdleEvaluation(r.Context(), s.Store); err != nil || !ok {
		if err == nil {
			err = apiError{http.StatusAccepted, "idle flags are being evaluated for the first time: ask again shortly"}
		}
		return nil, err
	}
	tracked, err := store.TrackedFlags(r.Context(), s.Store, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(tracked))
	for i, t := range tracked {
		ids[i] = t.FlagID
	}
	acks, err := store.Acks(r.Context(), s.Store, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Flag, len(tracked))
	for i, t := range tracked {
		out[i] = flagView(t, acks[t.FlagID])
	}
	return out, nil
}

// AckRequest is the body of POST /api/v1/idle/{flag_id}/ack.
type AckRequest struct {
	Action       gpumeter.FlagStatus `json:"action"`
	AllocationID string              `json:"allocation_id"`
	Note         string              `json:"note"`
}

var flagIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ack records the portal's acknowledgement of a flag; the same one again
// changes nothing.
func (s *api) ack(w http.ResponseWriter, r *http.Request, p config.Principal) error {
	id := r.PathValue("flag_id")
	if !flagIDPattern.MatchString(id) {
		return apiError{http.StatusNotFound, "no idle flag " + strconv.Quote(id)}
	}
	var req AckRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return apiError{http.StatusBadRequest, `want {"action":"reallocated"|"declined","allocation_id":"…","note":"…"}`}
	}
	if req.Action != gpumeter.FlagReallocated && req.Action != gpumeter.FlagDeclined {
		return apiError{http.StatusBadRequest, fmt.Sprintf("action %q: want reallocated or declined", req.Action)}
	}
	if err := checkText("allocation_id", req.AllocationID, 256, false); err != nil {
		return err
	}
	if err := checkText("note", req.Note, 2048, true); err != nil {
		return err
	}
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	tracked, err := store.TrackedFlags(r.Context(), s.Store, store.FlagFilter{ID: id})
	if err != nil {
		return err
	}
	if len(tracked) == 0 {
		return apiError{http.StatusNotFound, "no idle flag " + id}
	}
	acks, err := store.Acks(r.Context(), s.Store, []string{id})
	if err != nil {
		return err
	}
	history := acks[id]
	if n := len(history); n > 0 {
		last := history[n-1]
		if last.Action == req.Action && last.AllocationID == req.AllocationID && last.Note == req.Note {
			return writeJSON(w, flagView(tracked[0], history))
		}
	}
	a := gpumeter.Ack{FlagID: id, Action: req.Action, AllocationID: req.AllocationID, Note: req.Note, Principal: p.Name, At: time.Now().UTC()}
	if err := store.RecordAck(r.Context(), s.Store, a); err != nil {
		return err
	}
	s.Log.Info("idle flag acknowledged", zap.String("flag_id", id), zap.String("action", string(a.Action)),
		zap.String("allocation_id", a.AllocationID), zap.String("principal", p.Name))
	s.months.stale()
	a.At = a.At.Truncate(time.Second) // as the store keeps it
	return writeJSON(w, flagView(tracked[0], append(history, a)))
}

// checkText refuses what no person typed: invalid UTF-8, control characters
// (line breaks allowed in multiline text), more than max bytes.
func checkText(field, v string, max int, multiline bool) error {
	if len(v) > max {
		return apiError{http.StatusBadRequest, fmt.Sprintf("%s: longer than %d bytes", field, max)}
	}
	if !utf8.ValidString(v) {
		return apiError{http.StatusBadRequest, field + ": not UTF-8"}
	}
	for _, c := range v {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\t' || c == '\r')) {
			return apiError{http.StatusBadRequest, fmt.Sprintf("%s: control character %U", field, c)}
		}
	}
	return nil
}
