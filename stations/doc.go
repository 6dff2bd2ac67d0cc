// Package stations is what StreetWatch knows about garbage compression
// stations beyond their cameras: their weighing records (what a record
// is, which records are acceptable (Check), how they are read from a
// weighbridge's CSV export (ReadCSV), and the small Store a database
// keeps them in, queried per station and time range, and in the order
// they arrived so a reconciler can follow new and late records), and the
// visits their cameras saw (Visit, VisitStore, queried per station and
// time range). Finding visits in a camera's tracks is confirm/visits'.
//
// Reconciling visits with weighing records comes next and belongs here
// too, as pure logic.
//
// This package must never import HTTP, SQL, the pipeline or dispatch: the
// ticket database implements Store, the API and the importer call Check.
package stations
