//! esbc-sip: an embedded SIP engine speaking the drachtio control protocol.
pub mod config;
pub mod dialog;
pub mod drachtio;
pub mod engine;
pub mod ids;
pub mod limits;
pub mod logging;
pub mod metrics;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod sip;
#[cfg(feature = "runtime")]
pub mod transport;
pub mod txn;
#[cfg(feature = "runtime")]
pub mod ws;
