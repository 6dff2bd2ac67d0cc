// Package rules turns one camera's tracks into confirmed violations, with
// the semantics in the README's "How a violation is confirmed": garbage piles that
// stay, stalls that stay during enforcement hours, and garbage left behind
// by a person or vehicle that then leaves. One real violation gives one
// event: a confirmed place is not reported again while its object persists,
// and open violations survive restarts through a Store.
//
// It is pure logic on stream time; it never sees pixels and never blocks.
package rules
