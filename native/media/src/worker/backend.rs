//! The worker's socket I/O, one of two: io_uring (`uring`) where the kernel
//! allows it, epoll + recvmmsg + sendto (`sys`) everywhere else. Chosen once
//! per worker at start (`ESBC_IO_BACKEND`: auto, io_uring, epoll).
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use crate::sys::{Epoll, SendBatch};
use crate::uring::Uring;

/// Which I/O a worker runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoBackend {
    IoUring,
    Epoll,
}

impl IoBackend {
    pub fn name(self) -> &'static str {
        match self {
            IoBackend::IoUring => "io_uring",
            IoBackend::Epoll => "epoll",
        }
    }
}

/// What the operator asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoChoice {
    /// io_uring when this kernel and sandbox allow it, else epoll.
    Auto,
    /// io_uring or fail to start (with the reason).
    IoUring,
    Epoll,
}

impl IoChoice {
    /// From ESBC_IO_BACKEND (unset: auto).
    pub fn from_env() -> Result<IoChoice, String> {
        IoChoice::parse(std::env::var("ESBC_IO_BACKEND").ok().as_deref())
    }

    pub fn parse(value: Option<&str>) -> Result<IoChoice, String> {
        match value {
            None | Some("") | Some("auto") => Ok(IoChoice::Auto),
            Some("io_uring") => Ok(IoChoice::IoUring),
            Some("epoll") => Ok(IoChoice::Epoll),
            Some(other) => Err(format!("ESBC_IO_BACKEND={other}: expected auto, io_uring or epoll")),
        }
    }
}

pub(super) const SEND_BATCH: usize = 64;

/// The worker's I/O. Built on the worker thread (an io_uring has a single issuer).
pub(super) enum Backend {
    Epoll { epoll: Epoll, batch: SendBatch },
    Uring(Box<Uring>),
}

impl Backend {
    /// The backend `choice` gives on this machine, and why io_uring was not
    /// used when `Auto` fell back to epoll.
    pub(super) fn open(choice: IoChoice) -> io::Result<(Backend, Option<String>)> {
        let epoll = || -> io::Result<Backend> { Ok(Backend::Epoll { epoll: Epoll::new()?, batch: SendBatch::new(SEND_BATCH) }) };
        match choice {
            IoChoice::Epoll => Ok((epoll()?, None)),
            IoChoice::IoUring => Ok((Backend::Uring(Box::new(Uring::new()?)), None)),
            IoChoice::Auto => match Uring::new() {
                Ok(u) => Ok((Backend::Uring(Box::new(u)), None)),
                Err(e) => Ok((epoll()?, Some(e.to_string()))),
            },
        }
    }

    pub(super) fn kind(&self) -> IoBackend {
        match self {
            Backend::Epoll { .. } => IoBackend::Epoll,
            Backend::Uring(_) => IoBackend::IoUring,
        }
    }

    /// Starts receiving on `fd`; its datagrams come back tagged with `token`
    /// (`connected`: all from the socket's peer, whose address io_uring then
    /// does not report).
    pub(super) fn watch(&mut self, fd: RawFd, token: u64, connected: bool) -> io::Result<()> {
        match self {
            Backend::Epoll { epoll, .. } => epoll.add(fd, token),
            Backend::Uring(u) => {
                u.watch(fd, token, !connected);
                Ok(())
            }
        }
    }

    /// Stops receiving on these sockets (before they are closed).
    pub(super) fn unwatch(&mut self, fds: &[RawFd]) {
        match self {
            Backend::Epoll { epoll, .. } => fds.iter().for_each(|&fd| epoll.remove(fd)),
            Backend::Uring(u) => u.unwatch(fds),
        }
    }

    /// Queues a datagram (dst None: `fd` is connected to its destination).
    #[inline]
    pub(super) fn send(&mut self, fd: RawFd, dst: Option<&SocketAddr>, data: &[u8]) -> bool {
        match (self, dst) {
            (Backend::Epoll { batch, .. }, Some(dst)) => batch.push(fd, dst, data),
            (Backend::Epoll { batch, .. }, None) => batch.push_connected(fd, data),
            (Backend::Uring(u), dst) => u.send(fd, dst, data),
        }
    }

    /// Datagrams the kernel refused after they were queued (running total),
    /// and the errno of the last one.
    pub(super) fn send_errors(&self) -> (u64, i32) {
        match self {
            Backend::Epoll { batch, .. } => (batch.errors, batch.last_error),
            Backend::Uring(u) => (u.send_errors, u.last_send_error),
        }
    }

    /// Hands the queued datagrams to the kernel now (io_uring: at the next
    /// wait, or before any socket is unwatched).
    pub(super) fn flush(&mut self) {
        if let Backend::Epoll { batch, .. } = self {
            batch.flush();
        }
    }
}
