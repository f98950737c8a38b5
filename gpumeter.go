// Package gpumeter holds the domain types shared by the collector, the store,
// the accounting and the reports: what a GPU, a project, an allocation and a
// sample are, exactly as SPEC §3 defines them.
package gpumeter

import "time"

// Share says whose capacity a GPU is: the government's (assigned by the portal)
// or the provider's own.
type Share string

const (
	ShareGovernment Share = "government"
	SharePrivate    Share = "private"
)

// Valid reports whether s is one of the two shares.
func (s Share) Valid() bool { return s == ShareGovernment || s == SharePrivate }

// ProjectKind says who a project serves: a public portal user or the provider itself.
type ProjectKind string

const (
	ProjectPublic   ProjectKind = "public"
	ProjectProvider ProjectKind = "provider"
)

// Valid reports whether k is one of the two project kinds.
func (k ProjectKind) Valid() bool { return k == ProjectPublic || k == ProjectProvider }

// InventoryRow is one validity interval of one GPU. A GPU is capacity only while
// one of its rows is valid; rows of one GPU never overlap.
type InventoryRow struct {
	GPUUUID   string
	Provider  string
	Site      string
	Node      string
	GPUIndex  uint16
	Model     string
	Share     Share
	ValidFrom time.Time
	ValidTo   *time.Time // nil: open
}

// Project is a portal user's project or a provider's own work.
type Project struct {
	ID        string
	Name      string
	Kind      ProjectKind
	Provider  string
	Namespace string // Kubernetes namespace seen in DCGM labels; may be empty
}

// Allocation gives a project one GPU, or every GPU of a node, for [Start, End).
type Allocation struct {
	ID        string
	ProjectID string
	GPUUUID   string // exactly one of GPUUUID and Node is set
	Node      string
	Start     time.Time
	End       *time.Time // nil: open
}

// Sample is one GPU's metrics at one second. Nil fields are missing values,
// which are not zero: a second whose activity metric is missing is no_data.
type Sample struct {
	TS             time.Time
	GPUUUID        string
	Hostname       string
	GPUUtil        *float64 // 0–100
	GrEngineActive *float64 // 0–1
	SMActive       *float64 // 0–1
	FBUsedMiB      *uint64
	FBFreeMiB      *uint64
	PowerW         *float64
	EnergyMJ       *uint64 // counter; resets when the driver reloads
	Namespace      string
	Pod            string
}

// Overlaps reports whether the half-open intervals [aFrom, aTo) and [bFrom, bTo)
// share a second; a nil end is open.
func Overlaps(aFrom time.Time, aTo *time.Time, bFrom time.Time, bTo *time.Time) bool {
	return (aTo == nil || bFrom.Before(*aTo)) && (bTo == nil || aFrom.Before(*bTo))
}
