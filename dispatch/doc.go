// Package dispatch turns confirmed violations into tickets (工单) and
// delivers them to the city's work-order system.
//
// A ticket is stored once per violation (the violation id is the dedup
// key, so handing the same violation over twice after a crash gives the
// same ticket), reviewed by staff unless its type is configured for
// auto-dispatch, and, once confirmed, pushed through a transactional
// outbox: the outbox row is written in the same database transaction as
// the confirmation, and a sender loop (Service.Run) POSTs it to the
// webhook of the ticket's district, signed, with the ticket id as
// Idempotency-Key ("<id>/<district>" once it was moved to another district
// after it was queued), retrying with backoff until it is accepted or too
// old (dispatch_failed). Evidence links in it are absolute (PublicURL).
// Each attempt is made under a lease on its outbox row (ClaimOutbox), so
// the senders of several nodes sharing a database never attempt one
// ticket at once; a sender that dies mid-attempt leaves its claim to
// expire, and the ticket is then sent again under the same key.
//
// The pieces:
//
//   - Store is the ticket database; SQLite (OpenSQLite) is the embedded
//     default, PostgreSQL (OpenPostgres, a postgres:// dispatch.database)
//     the one several nodes share. Both run the same queries (sqlStore)
//     on schemas migrated by goose from migrations/<dialect>/.
//   - Service is the stage the pipeline builds: CreateTicket, Transition,
//     Run (the sender), Handler (the JSON API under /api/v1/).
//   - api/openapi.yaml documents the API and the webhook payload.
//   - The same database keeps garbage stations' weighing records
//     (stations.Store): POST /api/v1/weighings takes them from weighing
//     sources, each authenticated by its own token or HMAC signature
//     (internal/signature, the webhook's scheme), not by a reviewer.
//   - It keeps the stations' visits too (stations.VisitStore, Visits):
//     the pipeline stores each visit a station camera saw, and where its
//     evidence is. Visits are not tickets: nothing is reviewed or pushed.
//   - Reconciler matches each station's visits with its weighing records
//     (stations.Reconcile) and makes the station cases of it:
//     unweighed_unload and weighing_without_visit tickets, reviewed and
//     dispatched like the others; it judges a record only where the
//     camera watch record (Service.Watching, fed by the pipeline's
//     heartbeats) shows the station's cameras watched. A record's case
//     shows the bay clip the pipeline cut when the record arrived
//     (Service.OnWeighing, then PutCaseEvidence at the bundle's hand-off).
//
// This package must never lose or duplicate a ticket or a weighing record,
// never log or return the webhook secret, a weighing source's
// credential or the database's password, and never import the pipeline or evidence packages: it
// receives plain TicketInput values and an EvidenceURL function.
package dispatch
