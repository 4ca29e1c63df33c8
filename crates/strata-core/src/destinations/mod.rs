//! Destinations: where transitions go after a run commits, and the schedule
//! that runs the project.
//!
//! A run never talks to a receiver inside its transaction. It writes outbox
//! rows next to its transitions (see [`crate::state`]); [`deliver`] then
//! sends what is due and records each attempt. That split is what makes
//! delivery at-least-once: a crash after a send and before the row is marked
//! only causes a resend, which the receiver drops by its idempotency key.
//!
//! Three kinds:
//! - `webhook`: one JSON body per batch of transitions, signed per the
//!   Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature` over `id.timestamp.body`; or, with `signature =
//!   "strata-v0"`, the older replayable `X-Strata-Signature` over the body)
//!   with a secret read from an environment variable at send time; every transition
//!   carries its own idempotency key; failures back off exponentially with
//!   jitter and become dead letters after `max_attempts`.
//! - `file`: CSV or NDJSON of each run's transitions and full memberships,
//!   written atomically, for a CRM's bulk import.
//! - `digest`: per account owner, the accounts of theirs that moved, as a
//!   Slack-compatible webhook message or a Markdown file.
//!
//! **Invariants**: secrets (webhook secrets, URLs given by `url_env`) are
//! read from the environment when sending and never stored, logged or put in
//! an error; a destination is named in messages by its name, never its URL.
mod deliver;

pub use crate::project::destination::*;
pub use deliver::{
    DeliveryReport, DestinationReport, deliver, sign, standard_webhooks_key,
    standard_webhooks_signature, webhook_body, webhook_id,
};
