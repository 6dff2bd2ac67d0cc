package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/streetwatch/streetwatch/stations"
	"github.com/streetwatch/streetwatch/violation"
)

// Station is a garbage compression station: vehicles unload there and are
// weighed on its weighbridge.
//
//	stations:
//	  - {id: baiyun-07, name: 白云区第七压缩站}
//	weighing:
//	  timezone: Asia/Shanghai            # local times in CSV imports (default: review.timezone)
//	  sources:
//	    - id: weighbridge-07             # one weighbridge's software
//	      stations: [baiyun-07]          # it may post for these (empty: any station)
//	      token: ${WEIGHBRIDGE07_TOKEN}  # Authorization: Bearer ...
//	    - id: city-scales
//	      hmac_secret: ${CITY_SCALES_SECRET}  # signed like the outgoing webhook
//
// Weighing records are POSTed to /api/v1/weighings by a source, or
// imported from CSV with `streetwatch import-weighings`.
type Station struct {
	// ID names the station in weighing records, metrics and reports.
	ID string `yaml:"id"`
	// Name is a short name for people (default: the id).
	Name string `yaml:"name"`
}

// StationCamera makes a camera a station's: a vehicle that stops in the
// unloading bay for at least min_stop is one visit (arrival, stop,
// departure, vehicle class, best picture, clip), stored in the ticket
// database for reconciliation with the station's weighing records.
//
//	cameras:
//	  - id: station-07
//	    station:
//	      id: baiyun-07                    # a station from stations
//	      bay: [[0.3, 0.6], [0.6, 0.6], [0.6, 0.95], [0.3, 0.95]]
//	      entrance: [[0.9, 0.5], [1, 0.5], [1, 1], [0.9, 1]]   # optional
//	      min_stop: 10s
//	      leave_after: 5s
//	      vehicle_classes: [vehicle]
type StationCamera struct {
	// ID is the station's (from stations).
	ID string `yaml:"id"`
	// Bay is the unloading bay, in native pixels or normalised 0..1; a
	// vehicle is in it by its bottom centre, as in zones.
	Bay Polygon `yaml:"bay"`
	// Entrance (optional): a vehicle's arrival is when it was first seen
	// there, else when it was first seen at all.
	Entrance Polygon `yaml:"entrance"`
	// MinStop is how long a vehicle must stand in the bay (default 10s).
	MinStop Duration `yaml:"min_stop"`
	// LeaveAfter is how long a vehicle must be away from the bay before
	// its visit ends (default 5s); one back sooner is on the same visit.
	LeaveAfter Duration `yaml:"leave_after"`
	// VehicleClasses are the model classes that make visits (default
	// [vehicle]); each must be a class of a model the camera runs.
	VehicleClasses []string `yaml:"vehicle_classes"`
}

// Station camera defaults and bounds.
const (
	DefaultMinStop    = 10 * time.Second
	DefaultLeaveAfter = 5 * time.Second
	// maxStationWait bounds min_stop and leave_after: a camera's video
	// history must reach back over a whole visit.
	maxStationWait = 30 * time.Minute
)

// Weighing configures where weighing records come from.
type Weighing struct {
	// Timezone of local times ("2006-01-02 15:04:05") in imported CSV
	// files (default: review.timezone, itself Asia/Shanghai by default).
	Timezone string           `yaml:"timezone"`
	Sources  []WeighingSource `yaml:"sources"`
	// Reconcile says how visits are matched with weighing records.
	Reconcile Reconcile `yaml:"reconcile"`
}

// Reconcile configures the matching of stations' visits with their
// weighing records (stations.Reconcile) and the cases made of it.
//
//	weighing:
//	  reconcile:
//	    before: 2m          # a record may be weighed this long before arrival
//	    after: 10m          # ... or this long after departure
//	    max_visit: 30m      # the longest visit
//	    interval: 1m        # how often to reconcile
//	    lookback: 48h       # how far back each pass looks (late records)
//	    load_limits: {tricycle: 500, vehicle: 8000}   # max net kg per class
type Reconcile struct {
	Before   Duration `yaml:"before"`
	After    Duration `yaml:"after"`
	MaxVisit Duration `yaml:"max_visit"`
	Interval Duration `yaml:"interval"`
	Lookback Duration `yaml:"lookback"`
	// LoadLimits are the most net kg a vehicle of each class can carry; a
	// matched record over it is flagged. A class not listed has no limit.
	LoadLimits map[string]float64 `yaml:"load_limits"`
}

// Window is the matching window of the config.
func (r Reconcile) Window() stations.Window {
	return stations.Window{Before: r.Before.D(), After: r.After.D(), MaxVisit: r.MaxVisit.D()}
}

// Reconciliation defaults (the window's are stations.DefaultWindow).
const (
	DefaultReconcileInterval = time.Minute
	DefaultReconcileLookback = 48 * time.Hour
)

func (r *Reconcile) defaults() {
	w := stations.DefaultWindow
	if r.Before == 0 {
		r.Before = Duration(w.Before)
	}
	if r.After == 0 {
		r.After = Duration(w.After)
	}
	if r.MaxVisit == 0 {
		r.MaxVisit = Duration(w.MaxVisit)
	}
	if r.Interval == 0 {
		r.Interval = Duration(DefaultReconcileInterval)
	}
	if r.Lookback == 0 {
		r.Lookback = Duration(DefaultReconcileLookback)
	}
}

func (r Reconcile) validate(bad func(path, format string, args ...any)) {
	const p = "weighing.reconcile"
	if r.Before < 0 {
		bad(p+".before", "must not be negative (got %s)", r.Before.D())
	}
	if r.After < 0 {
		bad(p+".after", "must not be negative (got %s)", r.After.D())
	}
	if r.MaxVisit <= 0 || r.MaxVisit.D() > 24*time.Hour {
		bad(p+".max_visit", "must be between 0 and 24h (got %s)", r.MaxVisit.D())
	}
	if d := r.Interval.D(); d < time.Second || d > time.Hour {
		bad(p+".interval", "must be between 1s and 1h (got %s)", d)
	}
	// A pass must look back over at least one whole window, or a visit
	// could settle unseen between two passes.
	if span := r.Before.D() + r.After.D() + r.MaxVisit.D(); r.Lookback.D() < span+r.Interval.D() {
		bad(p+".lookback", "must be at least before + after + max_visit + interval (%s; got %s)", span+r.Interval.D(), r.Lookback.D())
	}
	for _, class := range sortedKeys(r.LoadLimits) {
		if kg := r.LoadLimits[class]; !(kg > 0) || kg > stations.MaxKG {
			bad(p+".load_limits."+class, "must be between 0 and %d kg (got %g)", stations.MaxKG, kg)
		}
	}
}

// WeighingSource is a client allowed to post weighing records: one
// credential, either a bearer token or an HMAC secret (the scheme of the
// outgoing webhook's signature). Both are ${VAR}-expanded, never logged
// nor shown.
type WeighingSource struct {
	// ID is stored with each record: record ids are unique per source.
	ID string `yaml:"id"`
	// Stations the source may post for (ids from stations); empty: any.
	Stations []string `yaml:"stations"`
	// Token is sent as "Authorization: Bearer <token>".
	Token string `yaml:"token"`
	// HMACSecret keys X-StreetWatch-Signature over X-StreetWatch-Timestamp
	// and the body; the source names itself in X-StreetWatch-Source.
	HMACSecret string `yaml:"hmac_secret"`
}

// String hides the credential (configs get logged and printed).
func (s WeighingSource) String() string {
	kind := "token"
	if s.HMACSecret != "" {
		kind = "hmac"
	}
	return fmt.Sprintf("weighing source %s (%s, stations %v)", s.ID, kind, s.Stations)
}

// MayPost reports whether the source may post records for station.
func (s WeighingSource) MayPost(station string) bool {
	if len(s.Stations) == 0 {
		return true
	}
	for _, id := range s.Stations {
		if id == station {
			return true
		}
	}
	return false
}

// Station returns the configured station with id.
func (c *Config) Station(id string) (Station, bool) {
	for _, st := range c.Stations {
		if st.ID == id {
			return st, true
		}
	}
	return Station{}, false
}

// ValidID reports whether s is a valid id (of a camera, station or
// source): 1-64 lowercase letters, digits, '_' or '-'.
func ValidID(s string) bool { return idRE.MatchString(s) }

// UnknownStation is the station label of metrics that cannot name a
// configured station; no station may use it.
const UnknownStation = "unknown"

// ImportSource is the source id of records imported from files unless
// another is given; no configured source may use it.
const ImportSource = "import"

// minCredentialLen is the shortest token or HMAC secret accepted.
const minCredentialLen = 16

// defaultsStations fills the stations' and weighing's defaults and expands
// ${VAR} in the credentials. It runs after defaultsReview.
func (c *Config) defaultsStations() {
	for i := range c.Stations {
		if c.Stations[i].Name == "" {
			c.Stations[i].Name = c.Stations[i].ID
		}
	}
	if c.Weighing.Timezone == "" {
		c.Weighing.Timezone = c.Review.Timezone
	}
	c.Weighing.Reconcile.defaults()
	for i := range c.Weighing.Sources {
		src := &c.Weighing.Sources[i]
		src.Token, src.HMACSecret = expandVars(src.Token), expandVars(src.HMACSecret)
	}
	for i := range c.Cameras {
		sc := c.Cameras[i].Station
		if sc == nil {
			continue
		}
		if sc.MinStop == 0 {
			sc.MinStop = Duration(DefaultMinStop)
		}
		if sc.LeaveAfter == 0 {
			sc.LeaveAfter = Duration(DefaultLeaveAfter)
		}
		if len(sc.VehicleClasses) == 0 {
			sc.VehicleClasses = []string{violation.ClassVehicle}
		}
	}
}

// validateStations checks stations and weighing. Messages never quote a
// credential, only its length or the variable it should come from.
func (c *Config) validateStations(bad func(path, format string, args ...any)) {
	stations := map[string]int{}
	for i, st := range c.Stations {
		p := fmt.Sprintf("stations[%d]", i)
		checkID(bad, "stations", i, st.ID, stations, map[string]string{
			UnknownStation: "metrics count records for stations not configured under it"})
		if len([]rune(st.Name)) > 64 || strings.ContainsFunc(st.Name, unicode.IsControl) {
			bad(p+".name", "must be at most 64 characters, without control characters")
		}
	}
	if _, err := time.LoadLocation(c.Weighing.Timezone); err != nil {
		bad("weighing.timezone", "unknown time zone %q", c.Weighing.Timezone)
	}
	c.Weighing.Reconcile.validate(bad)
	if len(c.Weighing.Sources) > 0 && len(c.Stations) == 0 {
		bad("weighing.sources", "needs at least one station in stations")
	}
	sources := map[string]int{}
	tokens := map[string]int{}
	for i, src := range c.Weighing.Sources {
		p := fmt.Sprintf("weighing.sources[%d]", i)
		checkID(bad, "weighing.sources", i, src.ID, sources, map[string]string{
			ImportSource: "it names records imported from files"})
		for j, st := range src.Stations {
			if _, ok := stations[st]; !ok {
				bad(fmt.Sprintf("%s.stations[%d]", p, j), "no station %q in stations", st)
			}
		}
		switch {
		case src.Token == "" && src.HMACSecret == "":
			bad(p, "needs a credential: token or hmac_secret (use ${VAR} to keep it out of the file)")
		case src.Token != "" && src.HMACSecret != "":
			bad(p, "token and hmac_secret: give one credential, not both")
		case src.Token != "":
			checkCredential(p+".token", src.Token, bad)
			if j, dup := tokens[src.Token]; dup {
				bad(p+".token", "the same token as weighing.sources[%d]: each source needs its own", j)
			}
			tokens[src.Token] = i
		default:
			checkCredential(p+".hmac_secret", src.HMACSecret, bad)
		}
	}
}

// validateStationCameras checks the cameras' station blocks (whether
// their vehicle classes are the models' is checked where the models are
// loaded: pipeline.CheckModels).
func (c *Config) validateStationCameras(bad func(path, format string, args ...any)) {
	for i, cam := range c.Cameras {
		sc := cam.Station
		if sc == nil {
			continue
		}
		p := fmt.Sprintf("cameras[%d].station", i)
		switch _, ok := c.Station(sc.ID); {
		case sc.ID == "":
			bad(p+".id", "required (a station from stations)")
		case !ok:
			bad(p+".id", "no station %q in stations", sc.ID)
		}
		if len(sc.Bay) < 3 {
			bad(p+".bay", "needs at least 3 points (got %d)", len(sc.Bay))
		}
		if len(sc.Entrance) > 0 && len(sc.Entrance) < 3 {
			bad(p+".entrance", "needs at least 3 points (got %d)", len(sc.Entrance))
		}
		if d := sc.MinStop.D(); d < time.Second || d > maxStationWait {
			bad(p+".min_stop", "must be between 1s and %s (got %s)", maxStationWait, d)
		}
		if d := sc.LeaveAfter.D(); d < time.Second || d > maxStationWait {
			bad(p+".leave_after", "must be between 1s and %s (got %s)", maxStationWait, d)
		}
		for j, class := range sc.VehicleClasses {
			if class == "" || slices.Contains(sc.VehicleClasses[:j], class) {
				bad(fmt.Sprintf("%s.vehicle_classes[%d]", p, j), "must be a class name, each once (got %q)", class)
			}
		}
		if len(c.Detectors.Models) == 0 {
			bad(p, "needs a model that detects vehicles (detectors.models is empty)")
		}
	}
}

func checkCredential(path, v string, bad func(path, format string, args ...any)) {
	switch {
	case strings.Contains(v, "${"):
		bad(path, "environment variable %s is not set", varName(v))
	case len(v) < minCredentialLen:
		bad(path, "must be at least %d characters (got %d)", minCredentialLen, len(v))
	case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		bad(path, "must not contain spaces or control characters")
	}
}
