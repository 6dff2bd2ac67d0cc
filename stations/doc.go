// Package stations is what StreetWatch knows about garbage compression
// stations beyond their cameras: their weighing records (what a record
// is, which records are acceptable (Check), how they are read from a
// weighbridge's CSV export (ReadCSV), and the small Store a database
// keeps them in, queried per station and time range, and in the order
// they arrived so a reconciler can follow new and late records), and the
// visits their cameras saw (Visit, VisitStore, queried per station and
// time range). Finding visits in a camera's tracks is confirm/visits'.
//
// Reconcile matches a station's visits with its weighing records one to
// one within a Window, and says which visits went unweighed and which
// records no vehicle explains while the cameras watched. It is pure:
// whoever runs it reads visits and records from the store, runs it again
// when late ones come in, and acts on what changed (dispatch.Reconciler,
// which makes tickets of it).
//
// This package must never import HTTP, SQL, the pipeline or dispatch: the
// ticket database implements Store, the API and the importer call Check.
package stations
