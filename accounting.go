package gpumeter

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/big"
	"strconv"
	"time"
)

// Forever is the end, in Unix seconds, of an interval that has not ended
// (an open inventory row, allocation or hold).
const Forever int64 = math.MaxInt64

// Class is what one capacity second was used for (SPEC §5): who held the GPU
// (a public project, a provider project, nobody), and whether it was active;
// or no_data when no sample tells.
type Class string

const (
	PublicActive      Class = "public_active"
	PublicIdle        Class = "public_idle"
	ProviderActive    Class = "provider_active"
	ProviderIdle      Class = "provider_idle"
	UnallocatedActive Class = "unallocated_active"
	UnallocatedIdle   Class = "unallocated_idle"
	NoData            Class = "no_data"
	// ProviderBorrowed is not a class of seconds but the tariff class of the
	// borrowed seconds (provider projects on the government share).
	ProviderBorrowed Class = "provider_borrowed"
)

// Classes are the seven classes in report order; every capacity second is in
// exactly one of them.
var Classes = []Class{PublicActive, PublicIdle, ProviderActive, ProviderIdle, UnallocatedActive, UnallocatedIdle, NoData}

// TariffClasses are the classes a tariff may price.
var TariffClasses = append(append([]Class{}, Classes...), ProviderBorrowed)

// Valid reports whether c is one of the seven classes.
func (c Class) Valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

// Unallocated is the holder kind of a second no project holds.
const Unallocated ProjectKind = ""

// BilledTo says who pays a charge.
type BilledTo string

const (
	BilledToProvider   BilledTo = "provider"
	BilledToGovernment BilledTo = "government"
	BilledToProject    BilledTo = "project"
)

// Valid reports whether b is one of the three payers.
func (b BilledTo) Valid() bool {
	return b == BilledToProvider || b == BilledToGovernment || b == BilledToProject
}

// Metric is the activity metric a second's activity is judged by.
type Metric string

const (
	MetricAuto           Metric = "auto" // the larger of gpu_util and gr_engine_active×100 among those present
	MetricGPUUtil        Metric = "gpu_util"
	MetricGrEngineActive Metric = "gr_engine_active"
	MetricSMActive       Metric = "sm_active"
)

// Valid reports whether m is one of the metrics.
func (m Metric) Valid() bool {
	return m == MetricAuto || m == MetricGPUUtil || m == MetricGrEngineActive || m == MetricSMActive
}

// Seconds are the seven classes of some capacity, in seconds: the unit every
// figure is computed in before it is rounded for display.
type Seconds struct {
	PublicActive, PublicIdle, ProviderActive, ProviderIdle, UnallocatedActive, UnallocatedIdle, NoData int64
}

// Add counts active, idle and no_data seconds held by a project of kind
// (Unallocated for none) into their classes.
func (s *Seconds) Add(kind ProjectKind, active, idle, noData int64) {
	s.NoData += noData
	switch kind {
	case ProjectPublic:
		s.PublicActive += active
		s.PublicIdle += idle
	case ProjectProvider:
		s.ProviderActive += active
		s.ProviderIdle += idle
	default:
		s.UnallocatedActive += active
		s.UnallocatedIdle += idle
	}
}

// Plus adds o to s.
func (s *Seconds) Plus(o Seconds) {
	for _, c := range Classes {
		*s.field(c) += o.Of(c)
	}
}

// Of is the seconds of one class.
func (s Seconds) Of(c Class) int64 {
	if f := s.field(c); f != nil {
		return *f
	}
	return 0
}

func (s *Seconds) field(c Class) *int64 {
	switch c {
	case PublicActive:
		return &s.PublicActive
	case PublicIdle:
		return &s.PublicIdle
	case ProviderActive:
		return &s.ProviderActive
	case ProviderIdle:
		return &s.ProviderIdle
	case UnallocatedActive:
		return &s.UnallocatedActive
	case UnallocatedIdle:
		return &s.UnallocatedIdle
	case NoData:
		return &s.NoData
	}
	return nil
}

// Total is the capacity the classes make up (SPEC §5's conservation law).
func (s Seconds) Total() int64 {
	var t int64
	for _, c := range Classes {
		t += s.Of(c)
	}
	return t
}

// Active is the seconds of the three active classes.
func (s Seconds) Active() int64 { return s.PublicActive + s.ProviderActive + s.UnallocatedActive }

// Idle is the seconds of the three idle classes.
func (s Seconds) Idle() int64 { return s.PublicIdle + s.ProviderIdle + s.UnallocatedIdle }

// Hours turns seconds into GPU-hours rounded half up to 3 decimals.
func Hours(seconds int64) float64 { return float64(divRound(seconds*1000, 3600)) / 1000 }

// KRW is round_half_up(seconds / 3600 × rate), computed exactly: the rate is
// taken as the decimal it is written as, not as a binary float.
func KRW(seconds int64, rate float64) int64 { return priced(rate, seconds, 3600) }

// divRound is n/d rounded half up, halves away from zero for a negative n.
func divRound(n, d int64) int64 {
	if n < 0 {
		return -divRound(-n, d)
	}
	return (n + d/2) / d
}

// priced is round_half_up(rate × n/d) in whole won, exactly: the rate is
// taken as the decimal it is written as.
func priced(rate float64, n, d int64) int64 {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(rate, 'f', -1, 64))
	if !ok {
		return 0
	}
	x := new(big.Rat).Mul(r, new(big.Rat).SetFrac64(n, d))
	x.Add(x, big.NewRat(1, 2))
	return new(big.Int).Quo(x.Num(), x.Denom()).Int64() // floor for x >= 0
}

// EnergyMJ is energy in millijoules per class (SPEC §5 "Energy"): the same
// sums as Seconds, of another quantity.
type EnergyMJ = Seconds

// KWh turns millijoules into kWh rounded half up to 3 decimals (whole Wh).
func KWh(mJ int64) float64 { return float64(divRound(mJ, 3_600_000)) / 1000 }

// KRWForEnergy is round_half_up(mJ / 3.6e9 × rate) in whole won.
func KRWForEnergy(mJ int64, rate float64) int64 { return priced(rate, mJ, 3_600_000_000) }

// Round3 rounds a figure already in hours or percent half up to 3
// decimals, as every figure is shown: a sum of rounded figures, or a ratio.
func Round3(x float64) float64 { return math.Floor(x*1000+0.5) / 1000 }

// Pct is part/whole in percent, rounded half up to 3 decimals; 0 of nothing.
func Pct(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64((part*100000+whole/2)/whole) / 1000
}

// Attribution counts covered seconds by the namespace their samples carry
// (SPEC §5's attribution audit): matched + foreign + unknown + unlabeled =
// covered capacity seconds.
type Attribution struct {
	Matched, Foreign, Unknown, Unlabeled int64
}

// Plus adds o to a.
func (a *Attribution) Plus(o Attribution) {
	a.Matched += o.Matched
	a.Foreign += o.Foreign
	a.Unknown += o.Unknown
	a.Unlabeled += o.Unlabeled
}

// Total is every covered second counted.
func (a Attribution) Total() int64 { return a.Matched + a.Foreign + a.Unknown + a.Unlabeled }

// Reasons a sample on its way in is refused and never stored (SPEC §9);
// refusals are counted by provider and reason and shown in the month's data
// quality.
const (
	RefusedForeignGPU = "foreign_gpu" // in the inventory at that time, of another provider
	RefusedUnknownGPU = "unknown_gpu" // in no inventory row valid at that time
	// A time the store cannot hold (before 1970, after 2105).
	RefusedBadTimestamp = "bad_timestamp"
	// Pushed older than server.max_push_age, or more than five minutes
	// ahead: a push reports what was just seen, never history.
	RefusedTooOld = "too_old"
	RefusedTooNew = "too_new"
	// Another value for a GPU and second already stored: a stored sample is
	// evidence, never replaced (a re-sent identical sample is no refusal).
	RefusedConflict = "conflict"
)

// ViolationKind names a breach of a provider's limits (SPEC §5).
type ViolationKind string

const (
	BorrowTooLong        ViolationKind = "borrow_too_long"
	BorrowOverMonthlyCap ViolationKind = "borrow_over_monthly_cap"
	UnallocatedUse       ViolationKind = "unallocated_use"
	// AttributionMismatch: a provider's own namespace seen on a government
	// GPU that a public project, or nobody, held (SPEC §5).
	AttributionMismatch ViolationKind = "attribution_mismatch"
)

// FlagKind is the kind of an idle flag (SPEC §5).
type FlagKind string

const (
	FlagUnallocatedIdle FlagKind = "unallocated_idle"
	FlagAllocatedIdle   FlagKind = "allocated_idle"
)

// Recommendation is what the portal should do about an idle flag.
type Recommendation string

const (
	Offer   Recommendation = "offer"   // unallocated idle: offer to applicants, or lend for a limited period
	Reclaim Recommendation = "reclaim" // allocated idle: take back from the project
)

// Recommendation is what a flag of kind k recommends.
func (k FlagKind) Recommendation() Recommendation {
	if k == FlagAllocatedIdle {
		return Reclaim
	}
	return Offer
}

// IdleFlag is idle government capacity at the time of evaluation, as the JSON
// contract (SPEC §6 idle_flags) writes it.
type IdleFlag struct {
	FlagID         string         `json:"flag_id"`
	Kind           FlagKind       `json:"kind"`
	Provider       string         `json:"provider"`
	Node           string         `json:"node"`
	GPUUUID        string         `json:"gpu_uuid"`
	ProjectID      string         `json:"project_id"`
	Since          string         `json:"since"` // RFC 3339, UTC
	Hours          float64        `json:"hours"`
	ActivePct      float64        `json:"active_pct"`
	CoveragePct    float64        `json:"coverage_pct"`
	Recommendation Recommendation `json:"recommendation"`
}

// FlagStatus is where an idle flag stands with the portal (SPEC §8.1).
type FlagStatus string

const (
	FlagOpen        FlagStatus = "open"
	FlagReallocated FlagStatus = "reallocated" // acknowledged: the portal reallocated the GPU
	FlagDeclined    FlagStatus = "declined"    // acknowledged: the portal will not
	FlagClosed      FlagStatus = "closed"      // the GPU is no longer idle; wins over an acknowledgement
)

// TrackedFlag is an idle flag as the service keeps it across evaluations:
// its id and since stay while it stays open.
type TrackedFlag struct {
	IdleFlag
	FlaggedAt time.Time // the evaluation that first found it
	SeenAt    time.Time // the latest evaluation that found it
	ClosedAt  time.Time // the first evaluation that no longer found it; zero while open
}

// Open says whether the GPU was still idle at the latest evaluation.
func (f TrackedFlag) Open() bool { return f.ClosedAt.IsZero() }

// Ack is the portal's acknowledgement of an idle flag.
type Ack struct {
	FlagID       string
	Action       FlagStatus // FlagReallocated or FlagDeclined
	AllocationID string     // the portal's own id, as given
	Note         string
	Principal    string // the name of who acknowledged
	At           time.Time
}

// Status is a flag's status given its acknowledgements, oldest first.
func (f TrackedFlag) Status(acks []Ack) FlagStatus {
	switch {
	case !f.Open():
		return FlagClosed
	case len(acks) > 0:
		return acks[len(acks)-1].Action
	}
	return FlagOpen
}

// FlagID is the first 16 hex digits of SHA-256 of gpu_uuid|kind|since (UTC,
// RFC 3339): the same idle stretch gets the same id on every run.
func FlagID(gpu string, kind FlagKind, since time.Time) string {
	sum := sha256.Sum256([]byte(gpu + "|" + string(kind) + "|" + since.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(sum[:])[:16]
}
