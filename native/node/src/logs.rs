//! The engine's `log` records (media workers, SRTP set-up) into the
//! process's own log: the logger queues them on a bounded channel, never
//! blocking the thread that logs (a full queue drops and counts), and the
//! event forwarder hands them to JavaScript with the engine's events.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::types::LogRecordJs;

const CAPACITY: usize = 1024;

static QUEUE: OnceLock<(Sender<LogRecordJs>, Receiver<LogRecordJs>)> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

struct QueueLogger;

impl log::Log for QueueLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "error",
            log::Level::Warn => "warn",
            _ => "info",
        };
        let line = LogRecordJs { level: level.into(), target: record.target().into(), message: record.args().to_string() };
        if let Some((tx, _)) = QUEUE.get() {
            if let Err(TrySendError::Full(_)) = tx.try_send(line) {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once per process) and returns the queue's receiving end.
pub fn install() -> Receiver<LogRecordJs> {
    let (_, rx) = QUEUE.get_or_init(|| {
        // Another logger already installed (an embedding application's) keeps its place.
        if log::set_logger(&QueueLogger).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
        crossbeam_channel::bounded(CAPACITY)
    });
    rx.clone()
}

/// Records lost to a full queue since the process started.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}
