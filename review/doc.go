// Package review is the web page enforcement and sanitation staff use to
// triage cases, and the gate in front of StreetWatch's whole HTTP server.
//
// Pages (server-rendered html/template, assets embedded, no CDN or web
// fonts: the city network is offline): sign-in, the queue of tickets with
// filters and counts per status, the case page (evidence clip with the
// moment of the act marked, snapshots, details, audit history, actions)
// and the cameras page. Text comes from message catalogs, Simplified
// Chinese by default and English on request (?lang=en, remembered in a
// cookie).
//
// Security: local users from config with bcrypt hashes and roles
// (viewer, reviewer, admin); sessions in HttpOnly, SameSite=Lax cookies
// (Secure behind TLS); a CSRF token on every state-changing request;
// rate-limited sign-in. Sessions and the sign-in limits are kept in an
// AuthStore (Server.Auth: the ticket database, shared by every node, so
// a restart signs nobody out and a guesser has one budget for all
// nodes; without one, memory); a session holds only while this node's
// users give the credentials it was made under, and a failing store
// lets nobody in. Server.Handler wraps the rest of the HTTP server
// (the JSON API, evidence links, /metrics, /debug/) so that every request
// except /healthz (and /metrics when public) needs a signed-in user, and
// the API sees that user's name as the actor of every change.
//
// The package builds on the dispatch Service's Go API (through Tickets)
// and an evidence Store; it must never import the pipeline, never log a
// password, hash, session or CSRF token, and never let a change reach the
// ticket store under any name but the signed-in user's.
package review
