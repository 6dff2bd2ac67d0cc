// Package stations is what StreetWatch knows about garbage compression
// stations beyond their cameras. Today that is their weighing records:
// what a record is, which records are acceptable (Check), how they are
// read from a weighbridge's CSV export (ReadCSV), and the small Store a
// database keeps them in, queried per station and time range, and in the
// order they arrived so a reconciler can follow new and late records.
//
// Visits (vehicles the cameras saw unloading) and their reconciliation
// with weighing records come next and belong here too, as pure logic.
//
// This package must never import HTTP, SQL, the pipeline or dispatch: the
// ticket database implements Store, the API and the importer call Check.
package stations
