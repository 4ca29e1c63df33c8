//! Measures: what each segment is worth, in revenue and in customer sentiment.
//!
//! The pipeline resolves every account's inputs elsewhere (MRR of the as-of
//! month and of the month 12 months before it, the account's NPS answers) and
//! hands them to this module as plain vectors indexed by account position. The
//! code here is pure arithmetic over those vectors, so it needs no query
//! engine, never reads the clock and gives byte-identical results for the same
//! inputs. The exact definitions (ARR, NRR, GRR, logo churn, NPS) are the ones
//! of "Definitions used throughout" in the data contract.
//!
//! - [`economics`] aggregates revenue and NPS per segment, for the accounts no
//!   segment claimed and for the whole base.
//! - [`nps`] windows and deduplicates raw NPS answers and counts promoters,
//!   passives and detractors.
//! - [`matrix`] crosses two or three segmentations, with support load.
//! - [`cohorts`] measures logo and revenue retention of signup-month cohorts.
//! - [`persona`] describes each segment's typical account.
//! - [`quality`] tests every segment (cohesion, revenue concentration,
//!   detectability at signup) and measures the NRR spread of the base.
//!
//! ```
//! use strata_core::measures::{segment_economics, AccountRevenue};
//!
//! let revenue = [
//!     AccountRevenue { mrr_now: 120.0, mrr_12m_ago: 100.0 },
//!     AccountRevenue { mrr_now: 0.0, mrr_12m_ago: 50.0 },
//! ];
//! let membership = [Some(0), Some(0)];
//! let economics = segment_economics(&revenue, &[], &membership, 1).unwrap();
//! // 120 now out of 150 twelve months ago.
//! assert_eq!(economics.segments[0].nrr, Some(0.8));
//! assert_eq!(economics.segments[0].logo_churn, Some(0.5));
//! ```
pub mod cohorts;
pub mod economics;
pub mod matrix;
pub mod nps;
pub mod persona;
pub mod quality;

pub use economics::{AccountRevenue, Economics, SegmentationEconomics, segment_economics};
pub use nps::{NpsAnswer, NpsCounts, nps_window, window_bounds_micros};

/// Inputs to the measures that do not fit together.
///
/// Every variant means the pipeline built inconsistent vectors, so converting
/// one into [`crate::Error`] yields [`crate::Error::Internal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// `revenue` and `membership` must both hold one entry per account.
    #[error(
        "revenue has {n_revenue} accounts but membership has {n_membership}; \
         both must hold one entry per account"
    )]
    LengthMismatch {
        /// Entries in `revenue`.
        n_revenue: usize,
        /// Entries in `membership`.
        n_membership: usize,
    },
    /// An account was assigned to a segment the segmentation does not have.
    #[error(
        "account {account_idx} is assigned to segment {segment_idx} but the segmentation \
         has only {n_segments} segments ({n_bad_accounts} accounts affected in all)"
    )]
    SegmentOutOfRange {
        /// The first offending account.
        account_idx: usize,
        /// The segment index it was given.
        segment_idx: usize,
        /// How many segments the segmentation has.
        n_segments: usize,
        /// How many accounts have an out-of-range segment index.
        n_bad_accounts: usize,
    },
    /// An NPS answer points at an account that does not exist.
    #[error(
        "NPS answer {answer_idx} belongs to account {account_idx} but there are only \
         {n_accounts} accounts ({n_bad_answers} answers affected in all)"
    )]
    NpsAccountOutOfRange {
        /// Position of the first offending answer.
        answer_idx: usize,
        /// The account index it carries.
        account_idx: usize,
        /// How many accounts there are.
        n_accounts: usize,
        /// How many answers carry an out-of-range account index.
        n_bad_answers: usize,
    },
}

impl From<MeasureError> for crate::Error {
    fn from(error: MeasureError) -> Self {
        // The pipeline builds these vectors itself from validated data, so a
        // mismatch is a bug in strata rather than a problem with the user's data.
        crate::Error::Internal(error.to_string())
    }
}
