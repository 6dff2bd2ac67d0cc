// Package violation is StreetWatch's vocabulary of violations: the class
// names the detectors report, the violation types the rules confirm, which
// class can become which type, and the one record of a confirmed
// violation that evidence, tickets and the review page carry.
//
// It is a leaf: it imports only the standard library and geom, so every
// stage can share it without pulling in another stage.
package violation
