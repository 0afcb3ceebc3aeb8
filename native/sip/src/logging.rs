//! One JSON object per line on stderr: {"ts","level","msg", ...fields}.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(2);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

pub fn set_level(s: &str) {
    let l = match s {
        "error" => Level::Error,
        "warn" => Level::Warn,
        "debug" | "trace" => Level::Debug,
        _ => Level::Info,
    };
    LEVEL.store(l as u8, Ordering::Relaxed);
}

pub fn enabled(l: Level) -> bool {
    (l as u8) <= LEVEL.load(Ordering::Relaxed)
}

pub fn log(l: Level, msg: &str, fields: serde_json::Value) {
    if !enabled(l) {
        return;
    }
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let mut obj = serde_json::json!({ "ts": ts as u64, "level": l.name(), "msg": msg });
    if let (Some(o), serde_json::Value::Object(f)) = (obj.as_object_mut(), fields) {
        for (k, v) in f {
            o.insert(k, v);
        }
    }
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{obj}");
}

#[macro_export]
macro_rules! jlog {
    ($lvl:ident, $msg:expr) => { $crate::logging::log($crate::logging::Level::$lvl, $msg, serde_json::json!({})) };
    ($lvl:ident, $msg:expr, $($t:tt)+) => {
        if $crate::logging::enabled($crate::logging::Level::$lvl) {
            $crate::logging::log($crate::logging::Level::$lvl, $msg, serde_json::json!({ $($t)+ }))
        }
    };
}
