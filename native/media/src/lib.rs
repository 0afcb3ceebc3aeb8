//! esbc media engine.
//!
//! The protocol core is sans-IO (str0m/quinn style): `dtls`, `srtp`, `packet`,
//! `leg` and `pipeline` take datagrams and a clock and hand back datagrams,
//! events and timeouts. `worker` owns sockets and threads, doing its I/O with
//! `uring` (io_uring) or `sys` (epoll); `engine` is the control surface the
//! Node addon wraps.

pub mod connected;
pub mod dtls;
pub mod engine;
pub mod fingerprint;
pub mod ice;
pub mod identity;
pub mod leg;
pub mod music;
pub mod packet;
pub mod pipeline;
pub mod ports;
pub mod srtp;
mod srtp_kernel;
pub mod stats;
pub mod stun;
pub mod sys;
pub mod uring;
pub mod versions;
pub mod worker;

pub use versions::{versions, Versions};
