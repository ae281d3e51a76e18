//! Lines for standard output that survive a closed pipe: `edge bench … | head -1` or
//! `train archs | true` close the pipe while the program still prints, and `println!`
//! panics there. A closed pipe means the reader has all it wanted, so the program ends at
//! once with status 0; any other write error ends it with one line and status 1.

use std::io::{IsTerminal, Write};

/// Logs of both binaries on standard error, at `info` unless `RUST_LOG` says otherwise,
/// coloured only on a terminal (standard output carries the results).
pub fn logs_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // A log reader that has gone (a closed pipe, a supervisor that died) loses the lines
        // and nothing else: tracing-subscriber's report of the failed write is an eprintln!,
        // which panics on that closed stderr, and killed the thread that logged, such as the
        // one that stops the run on SIGTERM.
        .log_internal_errors(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// Writes one line to standard output (see the module); used through [`crate::say!`].
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: writing to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` for the binaries' results: a closed pipe ends the program quietly
/// ([`out::line`](crate::out::line)).
#[macro_export]
macro_rules! say {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}
