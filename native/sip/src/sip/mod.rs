//! RFC 3261 message layer: model, parser, header helpers.
pub mod headers;
pub mod message;
pub mod params;
pub mod parse;
pub mod uri;

pub use message::{Header, SipMessage, StartLine};
